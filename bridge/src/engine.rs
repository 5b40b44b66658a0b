//! The analysis engine: the core's check service ([`Checker`]: rules + local model loaded once, escalation, the
//! redacted history) with its local tiers on threads of its own and the metrics around it.
//!
//! The model is CPU-bound for about a millisecond per message, so it never runs on a tokio worker: requests go
//! over a bounded channel to a few dedicated threads and come back on a oneshot (TEI's `BackendThread` shape).
//! The bound gives back-pressure: when every thread is busy and the channel is full, callers wait instead of
//! piling up memory. Escalation is network-bound and async, so it runs on the runtime afterwards. An image (a
//! screenshot someone forwarded) is read on the same threads: OCR is CPU-bound too, a second or so per phone
//! screenshot, and Tesseract keeps one engine per thread.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use redflag::check::{CheckFor, Checker};
use redflag::{Analysis, Input};

use crate::hub::Hub;
use tokio::sync::oneshot;

/// What to analyse: a text, or an image to read first, with the words sent beside it (a caption).
#[derive(Debug)]
pub enum Content {
    Text(Input),
    Image { bytes: Vec<u8>, caption: String },
}

impl From<Input> for Content {
    fn from(input: Input) -> Self {
        Content::Text(input)
    }
}

type Request = (Content, oneshot::Sender<Result<Analysis, EngineError>>);

#[derive(Debug)]
pub struct Engine {
    tx: SyncSender<Request>,
    checker: Arc<Checker>,
    threads: usize,
    /// Where the scams this bridge judges publish their values for paired devices.
    hub: Option<Arc<dyn Hub>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot analyse this text: {0}")]
    Input(String),
    #[error("the analysis threads have stopped; restart redflag-bridge")]
    Stopped,
    /// The analysis panicked: a bug. The caller leaves the message to be retried and, if it keeps failing, reviewed.
    #[error("the analysis failed unexpectedly (a bug); see the logs")]
    Crashed,
}

impl Engine {
    /// Start `threads` analysis threads (0: one per core) sharing the checker's loaded analyzer.
    pub fn start(checker: Checker, threads: usize) -> Self {
        let threads = if threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { threads };
        let (tx, rx) = sync_channel::<Request>(threads * 4);
        let rx = Arc::new(Mutex::new(rx));
        let checker = Arc::new(checker);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let checker = Arc::clone(&checker);
            // A thread that cannot be spawned leaves the others serving; with none, `analyze` reports Stopped.
            let spawned = std::thread::Builder::new().name(format!("analysis-{i}")).spawn(move || serve(&checker, &rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an analysis thread");
            }
        }
        Engine { tx, checker, threads, hub: None }
    }

    /// Publish the values of the scams judged here to this hub.
    pub fn with_hub(mut self, hub: Arc<dyn Hub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// The check service the analysis threads use, for housekeeping that belongs to it (retention).
    pub fn checker(&self) -> &Arc<Checker> {
        &self.checker
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn escalates(&self) -> bool {
        self.checker.escalates()
    }

    /// Analyse `input` locally, then ask the LLM if the policy wants it; record the result in the history.
    /// `user` is who the history and the spend ledger record the check for (a sender's pseudonym, an API key's
    /// name); `address` is a messaging sender's own address, read only by the hub so that their number is never
    /// published as a scammer's.
    pub async fn analyze(
        &self,
        content: impl Into<Content>,
        channel: &str,
        user: Option<&str>,
        address: Option<&str>,
    ) -> Result<Analysis, EngineError> {
        let started = Instant::now();
        let (reply, rx) = oneshot::channel();
        let (tx, content) = (self.tx.clone(), content.into());
        // `send` blocks while the channel is full: that wait belongs on the blocking pool, not a runtime worker.
        tokio::task::spawn_blocking(move || tx.send((content, reply)))
            .await
            .map_err(|_| EngineError::Stopped)?
            .map_err(|_| EngineError::Stopped)?;
        let mut analysis = rx.await.map_err(|_| EngineError::Stopped)??;
        metrics::histogram!(crate::metrics::ANALYSIS_SECONDS, "tier" => "local")
            .record(started.elapsed().as_secs_f64());

        if self.checker.escalate(&mut analysis, user).await {
            let status = analysis.escalation.status.map_or("none", |s| s.name());
            metrics::counter!(crate::metrics::ESCALATIONS, "status" => status).increment(1);
            if let Some(cost) = analysis.llm.as_ref().map(|o| o.cost_usd) {
                metrics::counter!(crate::metrics::LLM_COST_MICRO_USD).increment((cost * 1e6).round() as u64);
            }
        }
        metrics::histogram!(crate::metrics::ANALYSIS_SECONDS, "tier" => "total")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(crate::metrics::VERDICTS, "channel" => channel.to_string(), "label" => analysis.label.name())
            .increment(1);

        // Recording and publishing write to SQLite: on the blocking pool, not a runtime worker.
        let hub = self.hub.clone().filter(|_| analysis.label == redflag::Label::Scam);
        if self.checker.records() || hub.is_some() {
            let (checker, stored) = (Arc::clone(&self.checker), analysis.clone());
            let (channel, user, address) = (channel.to_string(), user.map(str::to_string), address.map(str::to_string));
            let recorded = tokio::task::spawn_blocking(move || {
                checker.record(&stored, CheckFor { channel: &channel, user: user.as_deref() });
                if let Some(hub) = hub {
                    let now = redflag::time::unix_now();
                    if let Err(e) =
                        crate::hub::publish_judged_scam(&*hub, &stored, address.as_deref(), user.as_deref(), now)
                    {
                        tracing::warn!(error = %e, "the scam's values were not published to the hub");
                    }
                }
            })
            .await;
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "history task failed");
            }
        }
        Ok(analysis)
    }
}

fn serve(checker: &Checker, rx: &Mutex<Receiver<Request>>) {
    loop {
        // Hold the lock only to take one request, so the threads share the work.
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((content, reply)) = next else { return };
        // A panic in the analysis (a bug on some odd input) must not kill this thread for good: the message is
        // retried and, if it keeps failing, goes to review through the queue's attempt limit.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyze(checker, &content))) {
            Ok(r) => r.map_err(|e| EngineError::Input(e.to_string())),
            Err(_) => Err(EngineError::Crashed),
        };
        // The caller may have gone (request timed out); nothing to do then.
        let _ = reply.send(result);
    }
}

/// One piece of content through the check service. An image is read, and its text is checked with the caption
/// after it (so the evidence found in the image keeps its place in the recognised text); the bytes are dropped
/// when this returns.
fn analyze(checker: &Checker, content: &Content) -> redflag::Result<Analysis> {
    match content {
        Content::Text(input) => checker.analyze(input),
        Content::Image { bytes, caption } => {
            let check = |read: &Input| match (read, caption.trim()) {
                (Input::Text(text), caption) if !caption.is_empty() => {
                    checker.analyze(&Input::text(format!("{text}\n\n{caption}")))
                }
                _ => checker.analyze(read),
            };
            redflag::ocr::analyze_image(&redflag::ocr::Tesseract, bytes, check).map(|(analysis, _)| analysis)
        }
    }
}
