//! `redflag sync` refusing what it must refuse (issue #18): the real binary against a fake hub on loopback that
//! signs its pages with a hub key of its own and can misbehave on purpose: tamper with a page after signing it,
//! sign with another hub's key, replay an older page, hang mid-sync. Every refusal exits 2 and leaves the device's
//! state as it was; a sync killed mid-way resumes to the same state as an uninterrupted one. (The real hub is
//! tested against the real CLI in bridge/tests/sync.rs.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ed25519_dalek::{Signer, SigningKey};
use redflag::sync::feed::{self, Cursor, IndicatorPage, Published, SIGNATURE_HEADER};
use redflag::sync::indicators::{IndicatorKind, digest};

/// How the fake hub answers a feed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honest,
    /// Change the body after signing it.
    Tamper,
    /// Sign with a key the device never pinned.
    OtherKey,
    /// Answer any cursor with the first page again.
    Replay,
    /// Hang on the second page until the process is killed.
    HangOnSecond,
}

struct Hub {
    /// The rules version the bundle route serves (`None`: no bundle).
    bundle: Mutex<Option<String>>,
    key: SigningKey,
    other: SigningKey,
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    /// Three pages of two phone numbers each.
    pages: usize,
}

fn number(i: usize) -> String {
    format!("+1415555{:04}", 1000 + i)
}

impl Hub {
    fn fingerprint(&self) -> String {
        feed::fingerprint(&self.key.verifying_key().to_bytes())
    }

    fn page(&self, seq: i64) -> IndicatorPage {
        let fp = self.fingerprint();
        let adds = (0..2)
            .map(|j| {
                let value = number(seq as usize * 2 + j);
                Published {
                    hash: digest(IndicatorKind::Phone, &value),
                    kind: IndicatorKind::Phone,
                    count: 3,
                    last_seen: 0,
                }
            })
            .collect();
        IndicatorPage {
            hub: fp.clone(),
            cursor: Cursor { hub: &fp, seq }.to_string(),
            next: Cursor { hub: &fp, seq: seq + 1 }.to_string(),
            more: (seq as usize) + 1 < self.pages,
            adds,
            removes: Vec::new(),
        }
    }
}

#[derive(serde::Deserialize)]
struct Q {
    cursor: Option<String>,
}

/// The built-in rules as `version`.
fn rules_as(version: &str) -> String {
    let builtin = include_str!("../models/rules.toml");
    let line = builtin.lines().find(|l| l.starts_with("version = ")).expect("a version line");
    builtin.replacen(line, &format!("version = \"{version}\""), 1)
}

async fn bundle(State(hub): State<Arc<Hub>>) -> Response {
    let Some(version) = hub.bundle.lock().expect("bundle").clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let b = feed::Bundle { hub: hub.fingerprint(), version: version.clone(), rules: rules_as(&version) };
    let body = serde_json::to_vec(&b).expect("json");
    let signature = feed::encode_signature(&hub.key.sign(&body).to_bytes());
    let tamper = *hub.mode.lock().expect("mode") == Mode::Tamper;
    let body = if tamper {
        String::from_utf8(body).expect("utf-8").replacen("weight = 0.6", "weight = 0.1", 1).into_bytes()
    } else {
        body
    };
    (StatusCode::OK, [(SIGNATURE_HEADER, signature)], body).into_response()
}

async fn key(State(hub): State<Arc<Hub>>) -> Response {
    axum::Json(feed::hub_key(&hub.key.verifying_key().to_bytes())).into_response()
}

async fn indicators(State(hub): State<Arc<Hub>>, Query(q): Query<Q>) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    let mode = *hub.mode.lock().expect("mode");
    let seq = q.cursor.as_deref().and_then(Cursor::parse).map_or(0, |c| c.seq);
    if mode == Mode::HangOnSecond && seq == 1 {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let page = if mode == Mode::Replay { hub.page(0) } else { hub.page(seq) };
    let body = serde_json::to_vec(&page).expect("json");
    let signer = if mode == Mode::OtherKey { &hub.other } else { &hub.key };
    let signature = feed::encode_signature(&signer.sign(&body).to_bytes());
    let body = if mode == Mode::Tamper {
        String::from_utf8(body).expect("utf-8").replace("\"count\":3", "\"count\":9").into_bytes()
    } else {
        body
    };
    (StatusCode::OK, [(SIGNATURE_HEADER, signature)], body).into_response()
}

/// Start the fake hub on a thread of its own; its base URL.
fn start(hub: Arc<Hub>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new()
        .route("/v1/sync/key", get(key))
        .route("/v1/sync/indicators", get(indicators))
        .route("/v1/sync/bundle", get(bundle))
        .with_state(hub);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    format!("http://127.0.0.1:{port}")
}

fn hub(pages: usize) -> Arc<Hub> {
    Arc::new(Hub {
        bundle: Mutex::new(None),
        key: SigningKey::from_bytes(&[11; 32]),
        other: SigningKey::from_bytes(&[12; 32]),
        mode: Mutex::new(Mode::Honest),
        requests: AtomicUsize::new(0),
        pages,
    })
}

struct Device {
    dir: tempfile::TempDir,
}

impl Device {
    fn new() -> Device {
        Device { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = common::redflag();
        cmd.env("REDFLAG_DB", self.dir.path().join("device.db")).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().expect("run redflag")
    }

    /// The status lines, which say the cursor's effect: indicators held and the last sync.
    fn status(&self) -> String {
        let out = self.run(&["sync", "--status"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_tampered_foreign_or_replayed_page_is_refused_and_nothing_changes() {
    let hub = hub(2);
    let url = start(Arc::clone(&hub));
    let d = Device::new();
    // Given the operator's fingerprint, another key is refused before anything is stored.
    let wrong = d.run(&["sync", "pair", &url, "token", "--fingerprint", "0000-1111-2222-3333-4444-5555-6666-7777"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(d.status().starts_with("Not paired"), "{}", d.status());
    let spaced = hub.fingerprint().replace('-', " ").to_uppercase();
    let paired = d.run(&["sync", "pair", &url, "token", "--fingerprint", &spaced]);
    assert!(paired.status.success(), "{}", stderr(&paired));
    assert!(String::from_utf8_lossy(&paired.stdout).contains(&hub.fingerprint()));
    let synced = d.status();
    assert!(synced.contains("indicators:   4"), "{synced}");

    for (mode, says) in [(Mode::Tamper, "signature"), (Mode::OtherKey, "signature"), (Mode::Replay, "cursor")] {
        *hub.mode.lock().expect("mode") = mode;
        let out = d.run(&["sync"]);
        assert_eq!(out.status.code(), Some(2), "{mode:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{mode:?}: {}", stderr(&out));
        assert_eq!(d.status().replace(char::is_numeric, ""), synced.replace(char::is_numeric, ""));
        assert!(d.status().contains("indicators:   4"), "{mode:?} changed nothing");
    }
}

#[test]
fn a_sync_killed_midway_resumes_to_the_same_state() {
    // Uninterrupted, for comparison.
    let calm = hub(3);
    let calm_url = start(Arc::clone(&calm));
    let reference = Device::new();
    assert!(reference.run(&["sync", "pair", &calm_url, "token"]).status.success());

    let hub = hub(3);
    let url = start(Arc::clone(&hub));
    let d = Device::new();
    // Pair without the first sync's pages: hang before the second page, then kill the process.
    *hub.mode.lock().expect("mode") = Mode::HangOnSecond;
    std::fs::write(d.dir.path().join("config.toml"), "").expect("an empty config");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("redflag"))
        .args(["sync", "pair", &url, "token"])
        .env("REDFLAG_DB", d.dir.path().join("device.db"))
        .env("REDFLAG_CONFIG", d.dir.path().join("config.toml"))
        .env_remove("OPENAI_API_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub.requests.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the sync never reached its second page");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(d.status().contains("indicators:   2"), "the first whole page was kept: {}", d.status());

    *hub.mode.lock().expect("mode") = Mode::Honest;
    let resumed = d.run(&["sync"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(d.status().contains("indicators:   6"));
    assert!(reference.status().contains("indicators:   6"));
    // Same indicators: the same number is flagged on both devices.
    let check = |dev: &Device| {
        let out = dev
            .cmd(&["check", "--offline", "--json", "-"])
            .write_stdin(format!("Text {} now", number(4)))
            .output()
            .expect("check");
        let a: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        a["flags"].as_array().expect("flags").iter().any(|f| f["id"] == "reported-indicator")
    };
    assert!(check(&d) && check(&reference));
}

#[test]
fn an_older_or_tampered_rules_bundle_is_refused_and_the_held_one_stays() {
    let hub = hub(1);
    let url = start(Arc::clone(&hub));
    let d = Device::new();
    *hub.bundle.lock().expect("bundle") = Some("2099.1.1.2".into());
    let paired = d.run(&["sync", "pair", &url, "token"]);
    assert!(paired.status.success(), "{}", stderr(&paired));
    assert!(d.status().contains("hub's rules:  2099.1.1.2"), "{}", d.status());

    *hub.bundle.lock().expect("bundle") = Some("2099.1.1.1".into());
    let replayed = d.run(&["sync"]);
    assert_eq!(replayed.status.code(), Some(2), "{}", stderr(&replayed));
    assert!(stderr(&replayed).contains("older"), "{}", stderr(&replayed));
    assert!(d.status().contains("hub's rules:  2099.1.1.2"));

    *hub.bundle.lock().expect("bundle") = Some("2099.1.1.3".into());
    *hub.mode.lock().expect("mode") = Mode::Tamper;
    let tampered = d.run(&["sync"]);
    assert_eq!(tampered.status.code(), Some(2), "{}", stderr(&tampered));
    assert!(d.status().contains("hub's rules:  2099.1.1.2"));

    // The check uses the held bundle: its version is the one reported.
    let out = d.cmd(&["check", "--offline", "--json", "-"]).write_stdin("Hello there").output().expect("check");
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(a["versions"]["rules"], "2099.1.1.2");
}

#[test]
fn a_report_needs_a_paired_hub_and_a_check_of_this_machines() {
    let d = Device::new();
    let unpaired = d.run(&["report", "1", "scam"]);
    assert_eq!(unpaired.status.code(), Some(2));
    assert!(stderr(&unpaired).contains("redflag sync pair"), "says how: {}", stderr(&unpaired));
    let url = start(hub(1));
    assert!(d.run(&["sync", "pair", &url, "token"]).status.success());
    let missing = d.run(&["report", "99", "scam"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("redflag history"), "{}", stderr(&missing));
    assert!(d.status().contains("0 waiting"), "nothing was queued");
    // This hub takes no reports (404): the report waits, and syncing the feed is not held up by it.
    let checked = d.cmd(&["check", "-"]).write_stdin("Pay the $50 training fee on WhatsApp +1 415 555 0166").output();
    assert!(checked.expect("check").status.success());
    let queued = d.run(&["report", "1", "scam"]);
    assert!(queued.status.success(), "{}", stderr(&queued));
    let synced = d.run(&["sync"]);
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert!(d.status().contains("1 waiting"), "{}", d.status());
}

/// A pairing the desktop app made on this machine keeps its token in the system keyring, not in the database: the
/// command line says so (exit 2) instead of sending no token and reporting a revoked one.
#[test]
fn a_pairing_whose_token_is_in_the_desktops_keyring_says_so() {
    use redflag::store::{SqliteStore, SyncState};
    let d = Device::new();
    let url = start(hub(1));
    assert!(d.run(&["sync", "pair", &url, "token"]).status.success());
    let db = SqliteStore::open(&d.dir.path().join("device.db")).expect("the database");
    let link = db.hub_link().expect("read").expect("paired");
    // What the desktop stores: the pairing without its token.
    db.pair_hub(&redflag::store::HubLink { token: String::new(), ..link }).expect("pair");
    let out = d.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("desktop app") && stderr(&out).contains("keyring"), "{}", stderr(&out));
}
