//! The HTTP listener: the router on hyper directly, because `axum::serve` sets no timer, so hyper's header-read
//! timeout never runs, and has no connection limit. A security review held 400 connections open for minutes by
//! sending half a request's headers, stopped `/healthz` answering at 1,100 of them, and kept the process alive 40 s
//! after SIGTERM with one. Here:
//!
//! - a connection that has not sent complete headers within `[limits] header_read_timeout_secs` (30 s) is closed,
//!   including one that sends nothing and a kept-alive one waiting for its next request. HTTP/1.1 only (Twilio,
//!   Telegram and proxies speak it): telling HTTP/1 from HTTP/2 first reads bytes with no timer at all, so an
//!   HTTP/2-capable server is held open by clients that say nothing (hyperium/hyper#3756);
//! - at most `[limits] max_connections` are served at once; the next waits in the kernel's accept queue, costing
//!   no file descriptor, until one closes;
//! - on shutdown the listener closes, requests in flight finish, and whatever is still open after [`DRAIN`] is
//!   dropped, so a stalled client cannot hold the process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long requests in flight get to finish after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serve `router` on `listener` until `shutdown` completes, then drain.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to free instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let builder = Arc::clone(&builder);
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            // A client that goes away mid-request is its business, not an error of ours.
            let _ = watcher.watch(connection).await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open {} s after the shutdown signal were dropped", DRAIN.as_secs());
    }
}
