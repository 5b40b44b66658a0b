//! Two small pieces the routes, the workers and the CLI share: a SQLite call run off the async runtime, and the
//! millisecond clock the queue keeps its times in. They lived in `worker`, so every route imported the worker.

/// Run `f` (a SQLite call) on the blocking pool.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| anyhow::anyhow!("a database task failed: {e}"))
}

/// Now, in the Unix milliseconds the queue stores.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
