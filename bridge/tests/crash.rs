//! Crash safety (issue #5): kill the real bridge with SIGKILL while 200 messages are queued, restart it on the same
//! database, and check every message is answered, and answered once.
//!
//! The fake Twilio takes each reply at once but answers only after a delay, like a real API round trip, so the
//! kill lands with sends in flight and most messages still queued. A send in flight at the kill is exactly the
//! window the design leaves (`queue/mod.rs`): Twilio created the message, the bridge died before recording its
//! SID, so after the restart it sends that part again. Twilio's Messages API has no idempotency key to close it.
//! The test therefore asserts: every message answered; none answered twice except ones in flight at the kill
//! (at most one per worker); all other messages exactly once.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::bridge::{Bridge, post_signed_at, settings};
use common::fake_twilio::{Failure, FakeTwilio};

const MESSAGES: usize = 200;
/// The fake's answer delay, and the bridge's worker count in `common::bridge::settings`.
const DELAY: Duration = Duration::from_millis(60);
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_200_queued_loses_nothing_and_answers_once() {
    let twilio = FakeTwilio::start();
    twilio.fail_next(10_000, Failure::Slow(DELAY));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = settings(&twilio, "");
    let mut bridge = Bridge::start_in(dir.path(), &config);

    let senders: Vec<String> = (0..MESSAGES).map(|i| format!("whatsapp:+1415555{i:04}")).collect();
    let posts: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, from)| {
            let form = Bridge::inbound(&format!("SM{i:032x}"), from, "Earn $300/day rating hotels, pay a deposit");
            let base = bridge.base.clone();
            tokio::spawn(async move { post_signed_at(&base, "/webhooks/twilio", &form).await.status() })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.expect("task"), 200, "every webhook acknowledged");
    }

    // Let some replies go out, then crash mid-flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while twilio.sent().len() < 20 {
        assert!(Instant::now() < deadline, "no replies before the kill; log:\n{}", bridge.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_at = Instant::now();
    bridge.kill();
    let before = twilio.sent().len();
    // Taken by the fake but not yet answered when the bridge died: the documented window.
    let in_flight: std::collections::HashSet<String> = twilio
        .sent()
        .iter()
        .filter(|r| r.at + DELAY + Duration::from_millis(5) > killed_at)
        .filter_map(|r| r.to().map(str::to_string))
        .collect();
    assert!(in_flight.len() <= WORKERS, "at most one send in flight per worker: {in_flight:?}");
    assert!(before < MESSAGES, "the kill must land with messages still queued ({before} answered)");

    let restarted = Bridge::start_in(dir.path(), &config);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answered: std::collections::HashSet<String> =
            twilio.sent().iter().filter_map(|r| r.to().map(str::to_string)).collect();
        if answered.len() == MESSAGES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {MESSAGES} answered after the restart; log:\n{}",
            answered.len(),
            restarted.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a duplicate the chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for r in twilio.sent() {
        *per_user.entry(r.to().expect("a recipient").to_string()).or_default() += 1;
    }
    let twice: Vec<_> = per_user.iter().filter(|(_, n)| **n > 1).collect();
    let outside_window: Vec<_> = twice.iter().filter(|(to, _)| !in_flight.contains(*to)).collect();
    assert!(outside_window.is_empty(), "answered more than once outside the crash window: {outside_window:?}");
    assert!(twice.iter().all(|(_, n)| **n == 2), "at most one extra reply: {twice:?}");
    assert_eq!(per_user.len(), MESSAGES);
    let q = restarted.queue();
    use redflag_bridge::queue::Queue;
    assert_eq!(q.depth(i64::MAX / 2).expect("depth").pending, 0, "nothing left in the queue");
    eprintln!(
        "answered before the kill: {before}; in flight at the kill: {}; answered twice: {}",
        in_flight.len(),
        twice.len()
    );
}
