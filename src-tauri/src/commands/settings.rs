//! The settings page: read, save, and the API key (kept in the keyring or the private file, never in the config
//! file and never sent back to the page). Every change reloads the app's configuration at once.

use secrecy::SecretString;
use tauri::State;

use super::blocking;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::state::Desktop;

#[tauri::command]
pub fn settings_get(state: State<'_, Desktop>) -> Settings {
    state.settings()
}

#[tauri::command]
pub async fn settings_save(state: State<'_, Desktop>, settings: Settings) -> Result<Settings> {
    let _saving = state.saving.lock().await;
    let paths = state.paths.clone();
    blocking(move || settings.save(&paths)).await?;
    reloaded(&state)
}

#[tauri::command]
pub async fn api_key_set(state: State<'_, Desktop>, key: String) -> Result<Settings> {
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(Error::Input("paste the API key alone, without spaces".into()));
    }
    let _saving = state.saving.lock().await;
    state.secrets.set(&SecretString::from(key.to_string()))?;
    reloaded(&state)
}

#[tauri::command]
pub async fn api_key_clear(state: State<'_, Desktop>) -> Result<Settings> {
    let _saving = state.saving.lock().await;
    state.secrets.clear()?;
    reloaded(&state)
}

/// Apply what was saved, and give a switched-off endpoint another chance: saving is how the person says they fixed
/// it.
fn reloaded(state: &Desktop) -> Result<Settings> {
    state.reload()?;
    state.retry_escalation();
    Ok(state.settings())
}
