//! Locking the app's few shared values: a thread that panicked while holding
//! one leaves the value as it was, which is still the best there is.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// `m`, locked; a poisoned lock is taken over rather than passed on as a panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
