//! The composition root: the only place that knows every room. It builds the request path
//! (`http`), the module graph (`modules`), the planner (`plan`), the HMR channel (`hub`) and
//! the watcher (`watch`), and wires them: what `http` served goes to `plan` (and a `prune`
//! to the hub), watched changes go through `plan` to the hub. [`Server`](crate::Server) runs
//! the result on its own listener; build tools that already run hyper mount it into theirs.

use crate::css::Stylesheets;
use crate::events::{Event, Events, FileChange};
use crate::hmr::{Audience, Hub};
use crate::http::{Body, Served, ServedLog, Site};
use crate::modules::Modules;
use crate::packages::Packages;
use crate::plan::Plan;
use crate::protocol::{InvalidateMessage, Payload};
use crate::watch::{Change, ChangeKind, ChangeSet, WatchOptions, Watcher};
use crate::{Config, Error};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long open WebSockets get to say goodbye on shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// hotserve's request handler plus its background stages. Cheap to clone; the stages stop
/// when the last clone is dropped (or at [`shutdown`](HotService::shutdown)).
///
/// Mount it in your own hyper server (serve connections with upgrades enabled, so the HMR
/// WebSocket works):
///
/// ```no_run
/// # async fn demo() -> Result<(), hotserve::Error> {
/// use hyper::service::service_fn;
/// let hot = hotserve::HotService::new(hotserve::Config::new("dist")).await?;
/// let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
///     let hot = hot.clone();
///     async move { Ok::<_, std::convert::Infallible>(hot.handle(req).await) }
/// });
/// # let _ = service; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HotService {
    shared: Arc<Shared>,
}

struct Shared {
    rooms: Rooms,
    stages: Stages,
    polling: bool,
}

/// The rooms the stages beside the request path work with.
#[derive(Clone)]
struct Rooms {
    site: Arc<Site>,
    hub: Hub,
    plan: Arc<Plan>,
    modules: Arc<Modules>,
    /// Which `.env.[mode]` files `import.meta.env` reads.
    mode: String,
    /// Polled for installs (with the `node` feature only); told of tsconfig changes.
    packages: Arc<Packages>,
}

/// The seam from the request path to the planner: what was served is recorded, and modules
/// a served module stopped importing are pruned in the browsers.
#[derive(Debug)]
struct ToPlanner {
    plan: Arc<Plan>,
    hub: Hub,
}

impl ServedLog for ToPlanner {
    fn served(&self, served: Served) {
        if served.listing {
            self.plan.record_listing(&served.path, &served.url);
        } else {
            self.plan.record_served(
                &served.path,
                &served.url,
                served.module,
                &served.etag,
                served.body.as_deref(),
            );
        }
        if let Some(err) = served.error {
            // One line for the terminal, the overlay for the browsers.
            tracing::error!("{}", err.message);
            self.hub.send(Payload::Error { err });
        }
        if !served.pruned.is_empty() {
            self.hub.send(Payload::Prune {
                paths: served.pruned,
            });
        }
    }
}

impl std::fmt::Debug for HotService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotService")
            .field("root", &self.shared.rooms.site.root())
            .field("polling", &self.shared.polling)
            .finish_non_exhaustive()
    }
}

impl HotService {
    /// Check the config, start watching the root (unless turned off) and the stages that
    /// turn changes into payloads. Must be called inside a tokio runtime.
    pub async fn new(config: Config) -> Result<Self, Error> {
        let root = check_root(&config.root)?;
        crate::modules::env::check_mode(&config.mode)
            .map_err(|bad| Error::BadMode(bad.to_string()))?;
        let token = config.token.clone().unwrap_or_else(random_token);
        let hub = Hub::with_keepalive(config.keepalive);
        let modules = Arc::new(Modules::new(&root, config.transforms.clone()));
        let styles = Arc::new(Stylesheets::default());
        modules.set_env(load_env(&root, &config.mode));
        let reload_on = crate::plan::reload_globs(&config.reload_on)?;
        let plan = Plan::new(root.clone(), modules.clone(), styles.clone());
        let plan = Arc::new(plan.reload_on(reload_on));
        let log = Arc::new(ToPlanner {
            plan: plan.clone(),
            hub: hub.clone(),
        });
        let packages = Arc::new(Packages::new(&root, config.unbundled.clone()));
        #[cfg(feature = "bundle")]
        {
            let hub = hub.clone();
            packages.on_prebundle_notice(move |notice| prebundled(&hub, notice));
            // The crawl reads modules as the browser will get them; the compiled output is
            // cached, so the first requests for them cost a lookup.
            let compiler = modules.clone();
            packages.start_prebundle(Box::new(move |path, source| {
                let output = compiler.compile(path, "", source.as_bytes()).ok()??;
                (output.kind == crate::modules::transform::OutputKind::Js)
                    .then(|| output.code.clone())
            }));
        }
        let rooms_of_modules = (packages.clone(), modules.clone(), styles);
        let site = Arc::new(Site::new(
            &config,
            root,
            token,
            hub.clone(),
            rooms_of_modules,
            log,
        )?);
        let watcher = start_watcher(&config, site.root()).await?;
        let polling = watcher.as_ref().is_some_and(|(w, _)| w.is_polling());
        let rooms = Rooms {
            site,
            hub,
            plan,
            modules,
            mode: config.mode.clone(),
            packages,
        };
        let stages = spawn_stages(&rooms, watcher);
        Ok(HotService {
            shared: Arc::new(Shared {
                rooms,
                stages,
                polling,
            }),
        })
    }

    /// Answer one request: the HMR upgrade, the client, a file, or (in proxy mode) the
    /// backend's answer. Any request body type works (`Incoming`, axum's `Body`, `String`);
    /// it is read only when the request is forwarded.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.shared.rooms.site.clone().handle(req).await
    }

    /// The HMR channel: send payloads (reloads, errors, custom events) to every browser.
    pub fn hub(&self) -> &Hub {
        &self.shared.rooms.hub
    }

    /// Subscribe to events: file changes, payloads sent, clients and their messages.
    pub fn events(&self) -> Events {
        self.shared.rooms.hub.events()
    }

    /// The secret browsers present to open the HMR socket (embedded in the served client).
    pub fn token(&self) -> &str {
        self.shared.rooms.site.token()
    }

    /// The canonical folder being served.
    pub fn root(&self) -> &Path {
        self.shared.rooms.site.root()
    }

    /// Tell the served client where the server listens, for its direct-address fallback.
    pub(crate) fn bound_to(&self, addr: std::net::SocketAddr) {
        self.shared.rooms.site.bound_to(addr);
    }

    /// Whether the watcher polls (asked for, or the native watcher could not start).
    pub fn is_polling(&self) -> bool {
        self.shared.polling
    }

    /// Tell the server that these files changed, as the watcher would: for build tools that
    /// write their own output with watching turned off. Paths are absolute or relative to the
    /// root; a path that no longer exists counts as removed. The same plan applies (a
    /// stylesheet becomes a `css-update`, a module follows the module graph, a page reloads).
    /// Returns the payloads sent.
    pub async fn notify_changed<P: AsRef<Path>>(
        &self,
        paths: impl IntoIterator<Item = P>,
    ) -> Vec<Payload> {
        let root = self.shared.rooms.site.root();
        let changes = paths
            .into_iter()
            .map(|p| {
                let path = absolute_under(root, p.as_ref());
                let kind = if path.exists() {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Removed
                };
                Change { path, kind }
            })
            .collect();
        apply_changes(&self.shared.rooms, changes, false, Instant::now()).await
    }

    /// Close every HMR socket with 1001 (going away) and stop the stages. Requests that are
    /// still answered afterwards are served, but nothing is watched any more.
    pub async fn shutdown(&self) {
        self.shared.stages.abort();
        self.shared.rooms.site.close_tunnels();
        self.shared.rooms.hub.close_all(CLOSE_GRACE).await;
    }
}

/// The future of one answer, shared by the hyper and tower `Service` impls.
type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<B> hyper::service::Service<Request<B>> for HotService
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<B>) -> Self::Future {
        let site = self.shared.rooms.site.clone();
        Box::pin(async move { Ok(site.handle(req).await) })
    }
}

#[cfg(feature = "tower")]
impl<B> tower_service::Service<Request<B>> for HotService
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        hyper::service::Service::call(&*self, req)
    }
}

/// `p` as an absolute path under the canonical `root` (resolving symlinks in its folder,
/// since the root is canonical and the watcher reports canonical paths too).
fn absolute_under(root: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    };
    if let Ok(real) = joined.canonicalize() {
        return real;
    }
    match (joined.parent(), joined.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|parent| parent.join(name))
            .unwrap_or(joined),
        _ => joined,
    }
}

/// The shared change pipeline: report, forget cached copies, plan, send. `overflowed`:
/// events were lost; `first_event`: when the first change was seen, for the log.
async fn apply_changes(
    rooms: &Rooms,
    changes: Vec<Change>,
    overflowed: bool,
    first_event: Instant,
) -> Vec<Payload> {
    let Rooms {
        site,
        hub,
        plan,
        modules,
        mode,
        packages,
    } = rooms;
    let reported: Vec<FileChange> = changes
        .iter()
        .map(|c| FileChange {
            url: crate::plan::url_path(site.root(), &c.path).unwrap_or_else(|| "/".into()),
            path: c.path.clone(),
            kind: c.kind,
        })
        .collect();
    let env_changed = reported
        .iter()
        .any(|c| crate::modules::env::is_env_file(&c.url));
    if !reported.is_empty() {
        hub.emit(Event::FilesChanged { changes: reported });
    }
    site.forget(changes.iter().map(|c| c.path.as_path()));
    for change in &changes {
        // A tsconfig or package.json: compile options are read again on the next compile.
        modules.file_changed(&change.path);
        if crate::modules::transform::changes_compile_options(&change.path) {
            // Its `paths` and `baseUrl` too.
            packages.config_changed();
        }
    }
    if env_changed {
        // Before the plan's reload goes out, so the reloaded pages get the new values.
        let root = site.root().to_path_buf();
        let mode = mode.clone();
        if let Ok(env) = tokio::task::spawn_blocking(move || load_env(&root, &mode)).await {
            modules.set_env(env);
        }
    }
    let plan = plan.clone();
    let planned = tokio::task::spawn_blocking(move || plan.plan(&changes, overflowed)).await;
    let outcome = match planned {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::warn!(%err, "planning a change failed; reloading all pages");
            crate::plan::Outcome {
                payloads: vec![Payload::full_reload_all()],
                in_place: None,
                reason: None,
            }
        }
    };
    let reason = outcome.reason.as_ref();
    let Some(in_place) = outcome.in_place else {
        send_explained(hub, &outcome.payloads, reason, Audience::All);
        for payload in &outcome.payloads {
            tracing::info!(
                "{} ({:.1?})",
                crate::plan::describe_why(payload, reason),
                first_event.elapsed()
            );
        }
        return outcome.payloads;
    };
    // hotserve's client swaps in place; clients that did not say they can (Vite's) get
    // what they always got.
    let rich_clients = send_explained(hub, &in_place.payloads, reason, Audience::InPlace);
    let plain_clients = send_explained(hub, &outcome.payloads, reason, Audience::Plain);
    let took = first_event.elapsed();
    if in_place.updates.is_empty() {
        for payload in &in_place.payloads {
            let line = crate::plan::describe_why(payload, reason);
            tracing::info!("{line} ({took:.1?})");
        }
    } else {
        let swapped: Vec<String> = in_place.updates.iter().map(|u| u.to_string()).collect();
        tracing::info!(
            "updated in place: {} ({rich_clients} clients) ({took:.1?})",
            swapped.join(", ")
        );
        hub.emit(Event::UpdatedInPlace {
            updates: in_place.updates,
            clients: rich_clients,
            reloaded: plain_clients,
        });
    }
    if plain_clients > 0 {
        for payload in &outcome.payloads {
            tracing::info!(
                "{} for {plain_clients} clients without in-place updates",
                crate::plan::describe_why(payload, reason)
            );
        }
    }
    let mut sent = in_place.payloads;
    sent.extend(outcome.payloads);
    sent
}

/// Send `payloads` to `audience`, each `full-reload` preceded by the `custom` payload that
/// says why (see [`crate::plan::Reason`]); returns how many clients the last one reached.
fn send_explained(
    hub: &Hub,
    payloads: &[Payload],
    reason: Option<&crate::plan::Reason>,
    audience: Audience,
) -> usize {
    let mut clients = 0;
    for payload in payloads {
        if let (Payload::FullReload { .. }, Some(reason)) = (payload, reason) {
            hub.send_to(reason.payload(), audience);
        }
        clients = hub.send_to(payload.clone(), audience);
    }
    clients
}

/// `import.meta.env` for `mode` from the `.env` files in `root` and the process environment
/// (its `VITE_` variables only).
fn load_env(root: &Path, mode: &str) -> crate::modules::env::Env {
    crate::modules::env::Env::load(
        root,
        mode,
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )
}

/// Start watching the root.
async fn start_watcher(
    config: &Config,
    root: &Path,
) -> Result<Option<(Watcher, mpsc::Receiver<ChangeSet>)>, Error> {
    if !config.watch {
        return Ok(None);
    }
    let options = WatchOptions::new(root.to_path_buf())
        .poll(config.poll)
        .settle(config.debounce)
        .ignore_globs(config.ignore.iter().cloned());
    Ok(Some(Watcher::start(options)?))
}

/// The tasks beside the request handler: watched changes -> plan -> hub, and
/// `hot.invalidate()` from clients -> plan -> hub. Aborted on shutdown or drop.
struct Stages(Vec<tokio::task::JoinHandle<()>>);

impl Stages {
    fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Drop for Stages {
    fn drop(&mut self) {
        self.abort();
    }
}

fn spawn_stages(rooms: &Rooms, watcher: Option<(Watcher, mpsc::Receiver<ChangeSet>)>) -> Stages {
    let mut tasks = Vec::new();
    #[cfg(feature = "node")]
    if watcher.is_some() {
        tasks.push(tokio::spawn(watch_packages(rooms.clone())));
    }
    if let Some((watcher, mut changes)) = watcher {
        let rooms = rooms.clone();
        tasks.push(tokio::spawn(async move {
            // The watcher lives as long as this task; dropping it stops watching.
            let _watcher = watcher;
            while let Some(set) = changes.recv().await {
                apply_changes(&rooms, set.changes, set.overflowed, set.first_event).await;
            }
        }));
    }
    if let Some(mut invalidations) = rooms.hub.take_invalidations() {
        let rooms = rooms.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(message) = invalidations.recv().await {
                invalidate(&rooms, &message);
            }
        }));
    }
    Stages(tasks)
}

/// How often the lockfiles and install markers are checked (a `stat` each).
#[cfg(feature = "node")]
const PACKAGES_POLL: Duration = Duration::from_millis(300);

/// Installs, upgrades and removals of packages: new versions in the package URLs and a full
/// reload, so no page keeps running code that is no longer installed. The watcher does not
/// see them (it ignores `node_modules`, and a workspace's lockfile may sit above the root).
#[cfg(feature = "node")]
async fn watch_packages(rooms: Rooms) {
    let mut ticks = tokio::time::interval(PACKAGES_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let packages = rooms.packages.clone();
        let Ok(Some(changed)) = tokio::task::spawn_blocking(move || packages.refresh()).await
        else {
            continue;
        };
        let root = rooms.site.root();
        let shown = changed.strip_prefix(root).unwrap_or(&changed);
        let reason = crate::plan::Reason::Packages {
            file: shown.display().to_string(),
        };
        tracing::info!("page reload (all pages): {}", reason.message());
        let reload = Payload::FullReload {
            path: Some("*".into()),
            triggered_by: Some(changed.display().to_string()),
        };
        send_explained(&rooms.hub, &[reload], Some(&reason), Audience::All);
    }
}

/// A pre-bundle build finished: one terminal line, the event, and a reload when pages hold
/// chunks of the build it replaces.
#[cfg(feature = "bundle")]
fn prebundled(hub: &Hub, notice: crate::packages::prebundle::Notice) {
    use crate::packages::prebundle::Notice;
    let Notice::Bundled {
        entries,
        reused,
        took,
        reload,
        failed,
    } = notice;
    if !entries.is_empty() {
        let how = if reused {
            "read back from the cache"
        } else {
            "bundled"
        };
        tracing::info!("dependencies {how}: {} ({took:.1?})", entries.join(", "));
    }
    if entries.is_empty() && failed.is_empty() {
        // Nothing to pre-bundle: no event, so subscribers see only real builds.
        return;
    }
    if reload {
        let reason = crate::plan::Reason::NewDependencies {
            entries: entries.clone(),
        };
        let reload = Payload::full_reload_all();
        tracing::info!("{}", crate::plan::describe_why(&reload, Some(&reason)));
        send_explained(hub, &[reload], Some(&reason), Audience::All);
    }
    hub.emit(Event::DepsBundled {
        entries,
        reused,
        millis: took.as_millis() as u64,
        failed: failed.into_iter().map(|(name, _)| name).collect(),
    });
}

fn invalidate(rooms: &Rooms, message: &InvalidateMessage) {
    if let Some((payload, reason)) = rooms.plan.invalidate(message) {
        // The module's own words first (Fast Refresh says which export stopped it).
        let because = match &message.message {
            Some(text) if !text.is_empty() => format!("{}: {text}", message.path),
            _ => message.path.clone(),
        };
        tracing::info!(
            "{} (invalidated by {because})",
            crate::plan::describe_why(&payload, reason.as_ref()),
        );
        send_explained(&rooms.hub, &[payload], reason.as_ref(), Audience::All);
    }
}

/// 9 random bytes as 12 base64url characters, as Vite makes its token.
fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 9];
    if let Err(err) = getrandom::fill(&mut bytes) {
        // Without randomness the token would be guessable; fall back to time and address
        // entropy rather than refusing to start, and say so.
        tracing::warn!(%err, "no OS randomness for the HMR token; using a weaker source");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ (&bytes as *const _ as usize as u128);
        bytes.copy_from_slice(&seed.to_le_bytes()[..9]);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_root(root: &Path) -> Result<std::path::PathBuf, Error> {
    let meta = match std::fs::metadata(root) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(Error::RootMissing(root.to_path_buf()));
        }
        Err(source) => {
            return Err(Error::RootUnreadable {
                path: root.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        return Err(Error::RootNotDir(root.to_path_buf()));
    }
    let canonical = std::fs::canonicalize(root).map_err(|source| Error::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    std::fs::read_dir(&canonical).map_err(|source| Error::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    Ok(canonical)
}
