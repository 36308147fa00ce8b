//! The command both windows may call: showing the recovery key.

use gardener_core::copies::key::{Key, Shown};

use super::{IpcError, blocking, context};

/// The recovery key that copies off the machine are encrypted to (made now
/// if there is none), for the person to save somewhere else: shown only
/// when they ask for it.
#[tauri::command]
pub async fn recovery_key() -> Result<Shown, IpcError> {
    blocking("reading the key", || {
        let (key, created) = Key::load_or_create(&context()?)?;
        Ok(key.shown(created)?)
    })
    .await
}
