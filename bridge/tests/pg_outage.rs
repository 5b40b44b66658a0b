//! PostgreSQL going away under a running node (issue #19): while it is down, webhooks are refused with 503 (so
//! Twilio keeps them) and `/readyz` says so; when it is back, the node carries on by itself, and what it had
//! acknowledged before is answered. Alone in its test binary, because it stops the process's shared cluster.

mod common;

use std::time::{Duration, Instant};

use common::bridge::{Bridge, post_signed_at, settings};
use common::fake_twilio::FakeTwilio;

fn form(i: u32) -> Vec<(String, String)> {
    Bridge::inbound(&format!("SM{i:032x}"), &format!("whatsapp:+1415555{i:04}"), "Pay a 50 USDT deposit to start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_refuses_webhooks_and_the_node_recovers() {
    let twilio = FakeTwilio::start();
    let url = common::postgres::fresh_database();
    let node = Bridge::start_node(&settings(&twilio, ""), &[("REDFLAG_DATABASE_URL", &url)]);
    assert_eq!(post_signed_at(&node.base, "/webhooks/twilio", &form(1)).await.status(), 200);

    let cluster = common::postgres::cluster();
    tokio::task::spawn_blocking(|| common::postgres::cluster().stop()).await.expect("stop");
    let refused = post_signed_at(&node.base, "/webhooks/twilio", &form(2)).await.status();
    assert_eq!(refused, 503, "not acknowledged while nothing can be written; log:\n{}", node.log());
    let ready = reqwest::get(format!("{}/readyz", node.base)).await.expect("readyz").status();
    assert_eq!(ready, 503, "not ready while the database is down");

    tokio::task::spawn_blocking(|| common::postgres::cluster().restart()).await.expect("restart");
    // Twilio retries the refused webhook; the node takes it once the pool has a connection again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = post_signed_at(&node.base, "/webhooks/twilio", &form(2)).await.status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} a minute after the database came back; log:\n{}\n{}",
            node.log(),
            cluster.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Both messages answered: the one acknowledged before the outage, and the retried one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answered: std::collections::HashSet<String> =
            twilio.sent().iter().filter_map(|r| r.to().map(str::to_string)).collect();
        if answered.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "answered {answered:?}; log:\n{}", node.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
