//! Measurements for issue #18, not checks: how long and how many bytes and requests `redflag sync` takes for
//! 100,000 indicators from empty and for a 1,000-indicator delta, against the real bridge binary on loopback.
//! Ignored by default; run with
//! `cargo test --workspace --release --test sync_measure -- --ignored --nocapture`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use common::bridge::{Bridge, settings};
use common::fake_twilio::FakeTwilio;
use redflag::sync::indicators::IndicatorKind;
use redflag_bridge::hub::{Hub, Source, SqliteHub};

fn add(bridge: &Bridge, from: usize, n: usize) {
    let q = redflag_bridge::queue::SqliteQueue::open(&bridge.db()).expect("the bridge's file");
    let hub = SqliteHub::on(Arc::clone(q.db())).expect("hub");
    for i in from..from + n {
        let kind = if i % 2 == 0 { IndicatorKind::Phone } else { IndicatorKind::Domain };
        let value = if i % 2 == 0 { format!("+1415{:07}", i) } else { format!("scam-{i}.example.com") };
        hub.observe(kind, &value, Source::Operator, 1_700_000_000).expect("observe");
    }
}

fn sync(cli: &Path, home: &Path, args: &[&str]) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new(cli)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("REDFLAG_DB", home.join("device.db"))
        .output()
        .expect("run redflag");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (started.elapsed().as_secs_f64(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
#[ignore = "a measurement; run it on purpose"]
fn measure_sync() {
    let cli = Path::new(env!("CARGO_BIN_EXE_redflag-bridge")).with_file_name("redflag");
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let added = bridge.command(&["devices", "add", "m", "--json"]);
    let token: serde_json::Value = serde_json::from_slice(&added.stdout).expect("json");
    let token = token["token"].as_str().expect("token").to_string();
    let home = tempfile::tempdir().expect("tempdir");
    sync(&cli, home.path(), &["sync", "pair", &bridge.base, &token]);

    let started = Instant::now();
    add(&bridge, 0, 100_000);
    eprintln!("hub: 100,000 indicators observed in {:.1} s", started.elapsed().as_secs_f64());
    let (secs, out) = sync(&cli, home.path(), &["sync"]);
    eprintln!("from empty: {secs:.2} s — {}", out.trim());
    add(&bridge, 100_000, 1_000);
    let (secs, out) = sync(&cli, home.path(), &["sync"]);
    eprintln!("1,000-indicator delta: {secs:.2} s — {}", out.trim());
    let (secs, out) = sync(&cli, home.path(), &["sync"]);
    eprintln!("nothing new: {secs:.2} s — {}", out.trim());
}
