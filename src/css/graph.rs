//! Which served stylesheet pulls in which file, through `@import` or `url(...)`.

use super::{Reference, resolve};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The stylesheets served so far and what each pulls in, plus the last hot-update time of
/// every file a stylesheet references (to rewrite references with `?t=`).
#[derive(Clone, Debug, Default)]
pub struct StyleGraph {
    /// Served stylesheet -> what it pulls in.
    sheets: BTreeMap<String, Sheet>,
    /// File (stylesheet, image, font) -> the stylesheets that pull it in directly.
    users: BTreeMap<String, BTreeSet<String>>,
    /// File -> timestamp of the last update that swapped it.
    updated: HashMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Sheet {
    imports: BTreeSet<String>,
    urls: BTreeSet<String>,
}

/// A stylesheet that must be swapped because of a change, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pull {
    /// The stylesheet to swap.
    pub sheet: String,
    /// The file it pulls in on the way to the change (the changed file itself, or a sheet
    /// between the two).
    pub via: String,
    /// Whether it pulls `via` in with `@import` (else with `url()`).
    pub import: bool,
}

impl StyleGraph {
    /// An empty graph.
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what the stylesheet just served at `url` pulls in, replacing what an earlier
    /// version of it did.
    pub fn record(&mut self, url: &str, references: &[Reference]) {
        let mut sheet = Sheet::default();
        for reference in references {
            let Some(target) = resolve(url, &reference.value) else {
                continue;
            };
            if reference.is_import() {
                sheet.imports.insert(target);
            } else {
                sheet.urls.insert(target);
            }
        }
        let old = self.sheets.insert(url.to_owned(), sheet.clone());
        if let Some(old) = old {
            for target in old.imports.iter().chain(&old.urls) {
                if let Some(users) = self.users.get_mut(target) {
                    users.remove(url);
                    if users.is_empty() {
                        self.users.remove(target);
                    }
                }
            }
        }
        for target in sheet.imports.iter().chain(&sheet.urls) {
            self.users
                .entry(target.clone())
                .or_default()
                .insert(url.to_owned());
        }
    }

    /// Whether a stylesheet was served at `url`.
    #[cfg(test)]
    pub fn is_sheet(&self, url: &str) -> bool {
        self.sheets.contains_key(url)
    }

    /// Whether some served stylesheet pulls in `url` directly.
    #[cfg(test)]
    pub fn is_pulled_in(&self, url: &str) -> bool {
        self.users.contains_key(url)
    }

    /// The stylesheets `sheet` imports, in URL order.
    #[cfg(test)]
    pub fn imports(&self, sheet: &str) -> impl Iterator<Item = &str> {
        self.sheets
            .get(sheet)
            .into_iter()
            .flat_map(|s| s.imports.iter().map(String::as_str))
    }

    /// Every stylesheet that pulls in `changed`, directly or through a chain of imports,
    /// nearest first; each once, even in a cycle. Empty when no served sheet does.
    pub fn pulled_in_by(&self, changed: &str) -> Vec<Pull> {
        let mut seen = BTreeSet::from([changed.to_owned()]);
        let mut queue = VecDeque::from([changed.to_owned()]);
        let mut pulls = Vec::new();
        while let Some(current) = queue.pop_front() {
            for user in self.users.get(&current).into_iter().flatten() {
                if !seen.insert(user.clone()) {
                    continue;
                }
                let import = self
                    .sheets
                    .get(user)
                    .is_some_and(|s| s.imports.contains(&current));
                pulls.push(Pull {
                    sheet: user.clone(),
                    via: current.clone(),
                    import,
                });
                queue.push_back(user.clone());
            }
        }
        pulls
    }

    /// Notes that `urls` were swapped by the update at `timestamp`: stylesheets served from
    /// now on reference them with `?t=<timestamp>`, so the browser fetches every sheet on
    /// the chain anew instead of reusing the copy it has.
    pub fn mark_updated<'a>(&mut self, urls: impl IntoIterator<Item = &'a str>, timestamp: u64) {
        for url in urls {
            self.updated.insert(url.to_owned(), timestamp);
        }
    }

    /// The timestamp of the last update that swapped `url`.
    pub fn last_update(&self, url: &str) -> Option<u64> {
        self.updated.get(url).copied()
    }

    /// Forgets what the stylesheet at `url` pulled in (it was deleted). Sheets that pull it
    /// in keep their edge to it, so that it coming back swaps them again.
    pub fn remove(&mut self, url: &str) {
        self.record(url, &[]);
        self.sheets.remove(url);
    }
}
