//! Small shared helpers every room uses the same way: a lock that survives a panic
//! elsewhere, and the content hash behind entity tags and "saved without changes".

use std::sync::{Mutex, MutexGuard};

/// Lock `mutex`, ignoring poisoning: a poisoned lock only means another thread panicked
/// mid-update, and every map guarded this way stays usable (at worst one entry is stale),
/// so one bad request must not take the server down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fast 64-bit hash of `bytes`, for entity tags and for noticing a save that did not change
/// a file. Not cryptographic, and only stable within one process (nothing persists it).
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}
