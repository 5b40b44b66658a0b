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
    let paths = state.paths.clone();
    blocking(move || settings.save(&paths)).await?;
    state.reload()?;
    Ok(state.settings())
}

#[tauri::command]
pub async fn api_key_set(state: State<'_, Desktop>, key: String) -> Result<Settings> {
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(Error::Input("paste the API key alone, without spaces".into()));
    }
    state.secrets.set(&SecretString::from(key.to_string()))?;
    state.reload()?;
    Ok(state.settings())
}

#[tauri::command]
pub async fn api_key_clear(state: State<'_, Desktop>) -> Result<Settings> {
    state.secrets.clear()?;
    state.reload()?;
    Ok(state.settings())
}
