//! Compiled modules by content: an unchanged file costs a hash and a lookup, and memory
//! stays bounded however many versions of however many files go through.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

/// The key of one compilation: 128 bits of hash over everything the output depends on (path,
/// options, source), so a collision is not a practical concern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key(u64, u64);

impl Key {
    /// The key for compiling `source` with `inputs` (the path and the options).
    pub(crate) fn of(inputs: &impl Hash, source: &str) -> Key {
        let half = |salt: u8| {
            let mut hasher = DefaultHasher::new();
            salt.hash(&mut hasher);
            inputs.hash(&mut hasher);
            source.hash(&mut hasher);
            hasher.finish()
        };
        Key(half(0), half(1))
    }
}

/// A map from [`Key`] to shared values, bounded by the total size of the values; when full,
/// the least recently used half of the budget is dropped.
#[derive(Debug)]
pub(crate) struct Cache<V> {
    inner: Mutex<Inner<V>>,
    budget: usize,
}

#[derive(Debug)]
struct Inner<V> {
    entries: HashMap<Key, Slot<V>>,
    size: usize,
    clock: u64,
}

#[derive(Debug)]
struct Slot<V> {
    value: Arc<V>,
    size: usize,
    used: u64,
}

impl<V> Cache<V> {
    /// A cache holding at most `budget` bytes of values (as their owners count them).
    pub(crate) fn new(budget: usize) -> Self {
        Cache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                size: 0,
                clock: 0,
            }),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock cannot leave the map inconsistent (every update
        // is a single insert or remove), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn get(&self, key: Key) -> Option<Arc<V>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.entries.get_mut(&key)?;
        slot.used = now;
        Some(slot.value.clone())
    }

    /// Stores `value` (of `size` bytes). A value larger than the whole budget is not kept.
    pub(crate) fn insert(&self, key: Key, value: Arc<V>, size: usize) {
        if size > self.budget {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(old) = inner.entries.insert(key, Slot { value, size, used }) {
            inner.size -= old.size;
        }
        inner.size += size;
        if inner.size > self.budget {
            inner.evict_down_to(self.budget / 2);
        }
    }

    /// How many values are stored.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

impl<V> Inner<V> {
    /// Drops the least recently used entries until the total is at most `target`. Sorting
    /// once per eviction (rather than keeping an ordered list per access) keeps lookups cheap;
    /// halving the budget makes evictions rare.
    fn evict_down_to(&mut self, target: usize) {
        let mut by_age: Vec<(u64, Key, usize)> = self
            .entries
            .iter()
            .map(|(key, slot)| (slot.used, *key, slot.size))
            .collect();
        by_age.sort_unstable_by_key(|(used, _, _)| *used);
        for (_, key, size) in by_age {
            if self.size <= target {
                break;
            }
            self.entries.remove(&key);
            self.size -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_when_source_or_inputs_differ() {
        let a = Key::of(&"a.ts", "let x = 1");
        assert_eq!(a, Key::of(&"a.ts", "let x = 1"));
        assert_ne!(a, Key::of(&"a.ts", "let x = 2"));
        assert_ne!(a, Key::of(&"b.ts", "let x = 1"));
        assert_ne!(a, Key::of(&("a.ts", true), "let x = 1"));
    }

    #[test]
    fn a_full_cache_drops_the_least_recently_used_first() {
        let cache = Cache::new(100);
        let key = |n: u8| Key::of(&n, "");
        for n in 0..5 {
            cache.insert(key(n), Arc::new(n), 20);
        }
        assert_eq!(cache.len(), 5);
        assert!(
            cache.get(key(0)).is_some(),
            "0 is now the most recently used"
        );
        cache.insert(key(5), Arc::new(5), 20);
        // Over budget (120 > 100): down to at most 50, oldest first.
        let kept: Vec<u8> = (0..6).filter(|n| cache.get(key(*n)).is_some()).collect();
        assert_eq!(kept, vec![0, 5]);
    }

    #[test]
    fn a_value_larger_than_the_budget_is_not_kept() {
        let cache = Cache::new(10);
        cache.insert(Key::of(&1, ""), Arc::new(()), 11);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn replacing_a_value_counts_its_size_once() {
        let cache = Cache::new(100);
        let key = Key::of(&1, "");
        for _ in 0..10 {
            cache.insert(key, Arc::new(()), 60);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.get(key).is_some());
    }
}
