//! Personal data at rest (issue #20), on the real binary: with a data key the bridge's SQLite file (and its WAL)
//! holds no phone number and no message body anyone can read without the key; a plain file from before is
//! encrypted once with `data-key encrypt`; `data-key rotate` moves to a new key and every sender keeps their
//! pseudonym; production refuses to start without a key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::bridge::{Bridge, eventually, settings};
use common::fake_twilio::{Failure, FakeTwilio};
use redflag::store::db::FileKey;
use redflag_bridge::queue::{Queue, SqliteQueue, State, bridge_db};
use redflag_bridge::settings::DataKey;

const USER: &str = "whatsapp:+14155550123";
const NUMBER: &str = "4155550123";
/// Its reply is refused for good, so its body stays in the file, in review.
const REVIEWED: &str = "+14155550177";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a $50 registration fee to start. Contact us on WhatsApp.";
/// A word no table, index or log line would have except through the message.
const MARKER: &str = "Quillbrook";
const WAIT: Duration = Duration::from_secs(30);

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The database file and its WAL as bytes: what a copied disk, a backup or `strings` would see.
fn on_disk(db: &Path) -> String {
    let mut bytes = std::fs::read(db).expect("the database file");
    bytes.extend(std::fs::read(format!("{}-wal", db.display())).unwrap_or_default());
    String::from_utf8_lossy(&bytes).into_owned()
}

fn write_key(dir: &Path, name: &str, byte: u8) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", format!("{byte:02x}").repeat(32))).expect("write the key file");
    path
}

/// The file key of the data key in `key_file`, as the bridge derives it.
fn file_key(key_file: &Path) -> FileKey {
    let text = std::fs::read_to_string(key_file).expect("the key file");
    DataKey(redflag_bridge::pseudonym::parse_key(&text).expect("a key")).file_key()
}

/// The bridge's queue, opened as the bridge opens it: with the file key of the data key in `key_file`.
fn queue(bridge: &Bridge, key_file: Option<&Path>) -> SqliteQueue {
    let key = key_file.map(file_key);
    SqliteQueue::on(bridge_db(&bridge.db(), key.as_ref()).expect("open the bridge's file")).expect("its queue")
}

/// The test settings with a data key file (top-level keys go before the tables).
fn keyed(twilio: &FakeTwilio, key_file: &Path) -> String {
    format!("data_key_file = {:?}\n{}", key_file, settings(twilio, ""))
}

/// A scam from `USER`, answered, and a message from `REVIEWED`, whose reply is refused for good: the file then
/// holds a history entry, a done job and a job in review with its body.
async fn converse(bridge: &Bridge, twilio: &FakeTwilio, key_file: Option<&Path>) {
    twilio.fail_to(REVIEWED, Failure::invalid_number());
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000001", USER, SCAM)).await;
    let review = format!("Package handler wanted at {MARKER} depot, send your ID photo and bank login to start");
    bridge
        .post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000002", REVIEWED, &review))
        .await;
    let q = queue(bridge, key_file);
    eventually(WAIT, || (q.jobs(Some(State::Review), 10).expect("jobs").len() == 1).then_some(()))
        .await
        .expect("review");
    eventually(WAIT, || (q.jobs(Some(State::Done), 10).expect("jobs").len() == 1).then_some(())).await.expect("done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_data_key_the_file_holds_no_number_and_no_body_in_the_clear() {
    let twilio = FakeTwilio::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = write_key(dir.path(), "data.key", 0x5a);
    let mut bridge = Bridge::start_in(dir.path(), &keyed(&twilio, &key));
    converse(&bridge, &twilio, Some(&key)).await;
    assert!(twilio.sent().iter().any(|m| m.body().is_some_and(|b| b.contains("Likely scam"))), "answered");

    // A backup taken while it runs is encrypted the same way.
    let backup = dir.path().join("backup.db");
    let taken = bridge.command(&["backup", backup.to_str().expect("utf-8")]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    let copy = SqliteQueue::on(bridge_db(&backup, Some(&file_key(&key))).expect("open the backup")).expect("queue");
    assert_eq!(copy.jobs(Some(State::Review), 10).expect("jobs").len(), 1, "the backup holds the data");

    // While it runs, and after it stopped (the WAL checkpointed into the file); and the backup.
    for moment in ["running", "stopped"] {
        let mut disk = on_disk(&bridge.db());
        disk.push_str(&on_disk(&backup));
        for needle in [NUMBER, MARKER, "rate hotels", "whatsapp:+"] {
            assert!(!disk.contains(needle), "{needle:?} readable in the file ({moment})");
        }
        if moment == "running" {
            assert!(bridge.terminate().success());
        }
    }
    // Plain SQLite (the sqlite3 shell, a backup tool) cannot read it; the bridge's own commands can, with the key.
    let raw = rusqlite::Connection::open(bridge.db()).expect("open");
    assert!(raw.query_row("SELECT count(*) FROM bridge_jobs", [], |r| r.get::<_, i64>(0)).is_err());
    assert!(stdout(&bridge.command(&["jobs", "--state", "review"])).contains("21211"), "the commands read it");
    let kept = stdout(&bridge.command(&["users", "export", REVIEWED]));
    assert!(kept.contains(MARKER), "and the message in review is there for the operator, with the key: {kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_file_is_encrypted_once_and_a_rotated_key_keeps_every_pseudonym() {
    let twilio = FakeTwilio::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = settings(&twilio, "");
    let mut bridge = Bridge::start_in(dir.path(), &plain);
    converse(&bridge, &twilio, None).await;
    assert!(bridge.terminate().success());
    // Without a key the file is plain: the very check the encrypted file passes fails here.
    let disk = on_disk(&bridge.db());
    assert!(disk.contains(NUMBER) && disk.contains(MARKER), "a plain file shows both");
    let pseudonym = export(&bridge)["pseudonym"].as_str().expect("pseudonym").to_string();

    // A key set on a plain file is refused, by the commands and by the server, with what to run.
    let old = write_key(dir.path(), "old.key", 0x11);
    std::fs::write(dir.path().join("bridge.toml"), keyed(&twilio, &old)).expect("settings with a key");
    let refused = bridge.command(&["jobs"]);
    assert!(!refused.status.success() && stderr(&refused).contains("data-key encrypt"), "{}", stderr(&refused));
    let served = serve_until_exit(dir.path());
    assert!(!served.status.success() && stderr(&served).contains("data-key encrypt"), "{}", stderr(&served));

    let encrypted = bridge.command(&["data-key", "encrypt"]);
    assert!(encrypted.status.success(), "{}", stderr(&encrypted));
    let disk = on_disk(&bridge.db());
    assert!(!disk.contains(NUMBER) && !disk.contains(MARKER), "encrypted in place");
    assert_eq!(export(&bridge)["pseudonym"], pseudonym.as_str(), "the same sender, the same pseudonym");
    let again = bridge.command(&["data-key", "encrypt"]);
    assert!(again.status.success() && stderr(&again).contains("already encrypted"), "{}", stderr(&again));

    // Rotation: the old key no longer opens the file, the new one does, and nobody's pseudonym changed.
    let new = write_key(dir.path(), "new.key", 0x22);
    let rotated = bridge.command(&["data-key", "rotate", "--new-key-file", new.to_str().expect("utf-8")]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let stale = bridge.command(&["jobs"]);
    assert!(!stale.status.success() && stderr(&stale).contains("cannot be read with this key"), "{}", stderr(&stale));
    std::fs::write(dir.path().join("bridge.toml"), keyed(&twilio, &new)).expect("settings with the new key");
    let after = export(&bridge);
    assert_eq!(after["pseudonym"], pseudonym.as_str(), "rotation keeps the pseudonym");
    assert_eq!(after["checks"].as_array().expect("checks").len(), 1, "and the history under it");

    // The bridge serves on the new key, and a new message from the same sender counts under the same name.
    let bridge = Bridge::start_in(dir.path(), &keyed(&twilio, &new));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000003", USER, SCAM)).await;
    let q = queue(&bridge, Some(&new));
    eventually(WAIT, || (q.jobs(Some(State::Done), 10).expect("jobs").len() == 2).then_some(())).await.expect("done");
    assert_eq!(export(&bridge)["checks"].as_array().expect("checks").len(), 2, "both checks under one pseudonym");

    let audit = stdout(&bridge.command(&["audit", "--json"]));
    assert!(audit.contains("data_key.encrypt") && audit.contains("data_key.rotate"), "{audit}");
    // The settings file changed between the two starts (the key was added): the start says so, by name only.
    let change = audit.lines().find(|l| l.contains("config.change")).expect("the settings change is audited");
    assert!(change.contains("bridge.toml") && !change.contains("data_key_file"), "{change}");
}

#[test]
fn production_refuses_to_start_without_a_data_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .arg("serve")
        .env_clear()
        .env("HOME", dir.path())
        .env("REDFLAG_ENV", "production")
        .env("REDFLAG_DB", dir.path().join("r.db"))
        .env("TWILIO_AUTH_TOKEN", "a-real-token")
        .env("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
        .env("TWILIO_FROM", "whatsapp:+14155238886")
        .env("REDFLAG_PUBLIC_URL", "https://bridge.example.com")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("REDFLAG_DATA_KEY"), "{}", stderr(&out));
    assert!(!dir.path().join("r.db").exists(), "nothing written before the refusal");
}

/// `users export` of `USER`, as JSON.
fn export(bridge: &Bridge) -> serde_json::Value {
    serde_json::from_str(&stdout(&bridge.command(&["users", "export", USER]))).expect("JSON")
}

/// `serve` on the settings in `dir`, expected to refuse at once; killed after 30 s if it does not.
fn serve_until_exit(dir: &Path) -> Output {
    let log = dir.join("refused.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .arg("--config")
        .arg(dir.join("bridge.toml"))
        .arg("serve")
        .env_clear()
        .env("HOME", dir)
        .env("REDFLAG_DB", dir.join("redflag.db"))
        .env("REDFLAG_BRIDGE_ADDR", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("the log"))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            break child.wait().expect("reap");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: Vec::new(), stderr: std::fs::read(&log).unwrap_or_default() }
}
