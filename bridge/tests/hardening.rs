//! Issue #20, hardening, on the real `redflag-bridge` binary: connections that never finish their headers are
//! closed, the connection limit keeps the rest waiting instead of exhausting the process, and a stalled client
//! cannot keep a stopping bridge alive; readiness proves the database takes a write.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::bridge::{Bridge, settings};
use common::fake_twilio::FakeTwilio;

/// A connection that sends half of a request's headers and then nothing.
fn stalled(bridge: &Bridge) -> TcpStream {
    let addr = bridge.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\nX-Slow: ").expect("half a request");
    s
}

/// `GET /healthz` on a fresh connection; the status line, or `None` if nothing came back within `wait`.
fn healthz(bridge: &Bridge, wait: Duration) -> Option<String> {
    let addr = bridge.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).expect("timeout");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n").expect("request");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string())
}

#[test]
fn a_connection_that_never_finishes_its_headers_is_closed() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[limits]\nheader_read_timeout_secs = 1\n"));
    let silent = TcpStream::connect(bridge.base.trim_start_matches("http://")).expect("connect");
    for (what, mut s) in [("half a request", stalled(&bridge)), ("nothing at all", silent)] {
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let started = Instant::now();
        let mut buf = [0u8; 256];
        // The server gives up: an empty read (closed) or a 408, never silence until our own timeout.
        let n = s.read(&mut buf).unwrap_or(usize::MAX);
        assert!(n != usize::MAX, "{what}: the connection was still open after 10 s");
        assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), "{what}: {:?}", &buf[..n]);
        assert!(started.elapsed() < Duration::from_secs(5), "{what}: closed after {:?}", started.elapsed());
    }
}

#[test]
fn past_the_connection_limit_a_client_waits_its_turn_and_is_then_served() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[limits]\nheader_read_timeout_secs = 3\nmax_connections = 4\n"));
    assert_eq!(healthz(&bridge, Duration::from_secs(5)).as_deref(), Some("HTTP/1.1 200 OK"));
    let hogs: Vec<TcpStream> = (0..4).map(|_| stalled(&bridge)).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(healthz(&bridge, Duration::from_millis(800)), None, "four stalled connections fill the limit");
    // Once the stalled ones time out, the waiting client gets its answer.
    assert_eq!(healthz(&bridge, Duration::from_secs(10)).as_deref(), Some("HTTP/1.1 200 OK"));
    drop(hogs);
}

#[test]
fn a_stalled_client_does_not_keep_a_stopping_bridge_alive() {
    let twilio = FakeTwilio::start();
    let mut bridge = Bridge::start(&settings(&twilio, "[limits]\nheader_read_timeout_secs = 120\n"));
    let _hog = stalled(&bridge);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert!(bridge.terminate().success());
    assert!(started.elapsed() < Duration::from_secs(15), "stopped after {:?}", started.elapsed());
}

#[test]
fn readiness_fails_while_the_database_takes_no_writes() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let ready = |wait| {
        let addr = bridge.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(wait)).expect("timeout");
        s.write_all(b"GET /readyz HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n").expect("request");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    };
    assert!(ready(Duration::from_secs(10)).starts_with("HTTP/1.1 200"));
    // Another process holds the write lock (as a disk that refuses writes would): reads still work, writes do not.
    let other = rusqlite::Connection::open(bridge.db()).expect("open the bridge's file");
    other.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
    let answer = ready(Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("\"database\":\"unavailable\""), "{answer}");
    // The alerting rules read the same answer from the metrics, and count the webhooks refused meanwhile.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let metrics = || {
        rt.block_on(async {
            reqwest::get(format!("{}/metrics", bridge.base)).await.expect("metrics").text().await.expect("text")
        })
    };
    assert!(metrics().contains("redflag_bridge_ready 0"), "{}", metrics());
    let form = Bridge::inbound("SM00000000000000000000000000000077", "whatsapp:+14155550123", "hello");
    let refused = rt.block_on(bridge.post_signed("/webhooks/twilio", &form));
    assert_eq!(refused.status(), 503, "Twilio is asked to retry");
    assert!(metrics().contains(r#"redflag_bridge_webhooks_total{channel="whatsapp",outcome="unavailable"} 1"#));
    other.execute_batch("ROLLBACK").expect("release");
    assert!(ready(Duration::from_secs(10)).starts_with("HTTP/1.1 200"));
    // The background gauge task may have started its own probe while the lock was held and finish it after
    // /readyz answered, so the gauge is awaited, not read once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !metrics().contains("redflag_bridge_ready 1") {
        assert!(std::time::Instant::now() < deadline, "{}", metrics());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `REDFLAG_METRICS_TOKEN` puts `/metrics` behind a bearer token (issue #20): without it or with another, 401
/// and nothing of the page; with it, the page.
#[test]
fn metrics_can_be_kept_behind_a_token() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start_node(&settings(&twilio, ""), &[("REDFLAG_METRICS_TOKEN", "scrape-me-9f2c")]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let get = |auth: Option<&str>| {
        rt.block_on(async {
            let mut request = reqwest::Client::new().get(format!("{}/metrics", bridge.base));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let r = request.send().await.expect("metrics");
            (r.status().as_u16(), r.text().await.expect("text"))
        })
    };
    for refused in [None, Some("Bearer wrong"), Some("Basic c2NyYXBlLW1lLTlmMmM=")] {
        let (status, body) = get(refused);
        assert_eq!(status, 401, "{refused:?}");
        assert!(!body.contains("redflag_bridge_") && body.contains("REDFLAG_METRICS_TOKEN"), "{body}");
    }
    let (status, body) = get(Some("bearer scrape-me-9f2c"));
    assert_eq!(status, 200);
    // Set at start-up, unlike the readiness gauge (first probed some seconds later).
    assert!(body.contains(r#"redflag_bridge_sending_paused{provider="twilio"} 0"#), "{body}");
}
