//! The commands the page invokes, grouped by area. Each is a thin adapter: take the arguments, call the core or
//! the state, map errors to [`crate::Error`]. Work that can take more than a few milliseconds (analysis, file
//! extraction, SQLite, the LLM) runs off the main thread: blocking work on Tauri's blocking pool, the LLM on the
//! async runtime.

pub mod ai;
pub mod analyze;
pub mod history;
pub mod settings;
pub mod sync;

use crate::error::{Error, Result};

/// Run blocking work (analysis, SQLite, PDF parsing) on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| Error::Internal(format!("a worker failed: {e}")))?
}
