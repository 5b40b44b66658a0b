//! Runs the real `redflag-bridge` binary for a test: an isolated settings file, database and environment (the
//! process environment is cleared, so a developer's TWILIO_* or OPENAI_API_KEY can never leak in), a free port
//! read from the "listening on" line, and the fakes as its Twilio and Telegram.
//!
//! The bridge signs nothing itself in these tests: the test plays Twilio and signs each webhook with the fake's
//! auth token over the configured *public* URL (`https://bridge.example.test`), while posting to the loopback
//! port, exactly like a deployment behind ngrok or a TLS proxy.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fake_twilio::{self, FakeTwilio};

pub const PUBLIC_URL: &str = "https://bridge.example.test";
pub const OUR_NUMBER: &str = "whatsapp:+14155238886";

/// A running bridge. Killed (SIGKILL) on drop if still running.
#[derive(Debug)]
pub struct Bridge {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    /// Removed on drop unless the test owns the directory (restarts).
    _temp: Option<tempfile::TempDir>,
}

/// Settings for the test bridge: fast coalescing, short leases and retries, pointed at the fake Twilio.
pub fn settings(twilio: &FakeTwilio, extra: &str) -> String {
    format!(
        r#"
environment = "development"
public_url = "{PUBLIC_URL}"

[twilio]
account_sid = "{sid}"
auth_token = "{token}"
from = "{OUR_NUMBER}"
api_base = "{base}"
status_callbacks = false

[workers]
count = 4
analysis_threads = 2
lease_secs = 2
coalesce_quiet_ms = 150
coalesce_max_ms = 2000
retry_base_ms = 100
max_attempts = 4

{extra}
"#,
        sid = fake_twilio::ACCOUNT_SID,
        token = fake_twilio::AUTH_TOKEN,
        base = twilio.base_url(),
    )
}

impl Bridge {
    /// Start a bridge with its own new directory.
    pub fn start(settings: &str) -> Bridge {
        let temp = tempfile::tempdir().expect("a temp dir");
        let mut bridge = Bridge::start_in(temp.path(), settings);
        bridge._temp = Some(temp);
        bridge
    }

    /// Start a bridge with its own new directory and more environment variables (a node of several).
    pub fn start_node(settings: &str, vars: &[(&str, &str)]) -> Bridge {
        let temp = tempfile::tempdir().expect("a temp dir");
        let mut bridge = Bridge::start_with(temp.path(), settings, vars);
        bridge._temp = Some(temp);
        bridge
    }

    /// Start a bridge on the database in `dir` (a restart after a crash).
    pub fn start_in(dir: &Path, settings: &str) -> Bridge {
        Bridge::start_with(dir, settings, &[])
    }

    /// Start a bridge in `dir` with more environment variables (`REDFLAG_DATABASE_URL` for a node of several).
    pub fn start_with(dir: &Path, settings: &str, vars: &[(&str, &str)]) -> Bridge {
        let config = dir.join("bridge.toml");
        std::fs::write(&config, settings).expect("write the settings");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join("bridge.log")).expect("open the log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
            .args(["--config", config.to_str().expect("utf-8 path"), "serve"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("REDFLAG_DB", dir.join("redflag.db"))
            .env("REDFLAG_BRIDGE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn redflag-bridge");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("redflag-bridge listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the bridge did not start; its log:\n{}", read_log(dir));
            }
        };
        Bridge { child: Some(child), base, dir: dir.to_path_buf(), _temp: None }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("redflag.db")
    }

    pub fn log(&self) -> String {
        read_log(&self.dir)
    }

    /// SIGKILL: no shutdown code runs, as in a crash or an OOM kill.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the bridge");
            child.wait().expect("reap the bridge");
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running bridge");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the bridge did not stop within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run another `redflag-bridge` command (keys, jobs) against the same settings and database.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
            .arg("--config")
            .arg(self.dir.join("bridge.toml"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("REDFLAG_DB", self.db())
            .output()
            .expect("run redflag-bridge")
    }

    /// The form Twilio posts for an inbound message.
    pub fn inbound(sid: &str, from: &str, body: &str) -> Vec<(String, String)> {
        let to = if from.starts_with("whatsapp:") { OUR_NUMBER } else { "+14155238886" };
        redflag_bridge::twilio::inbound_form(sid, fake_twilio::ACCOUNT_SID, from, to, body)
    }

    /// Post a form to `path`, signed as Twilio signs it (over the public URL).
    pub async fn post_signed(&self, path: &str, params: &[(String, String)]) -> reqwest::Response {
        post_signed_at(&self.base, path, params).await
    }

    pub async fn post_form(
        &self,
        path: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> reqwest::Response {
        post_form_at(&self.base, path, params, signature).await
    }

    /// The `/metrics` page once it shows every line in `needles`. A reply's counters move after the provider
    /// has answered the send, so a test that saw the send at the fake must wait for them, not read at once.
    pub async fn metrics_showing(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("{}/metrics", self.base);
            let page = reqwest::get(url).await.expect("metrics").text().await.expect("text");
            if needles.iter().all(|n| page.contains(n)) {
                return page;
            }
            let missing: Vec<_> = needles.iter().filter(|n| !page.contains(**n)).collect();
            assert!(Instant::now() < deadline, "missing {missing:?} after 10 s:\n{page}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn queue(&self) -> redflag_bridge::queue::SqliteQueue {
        redflag_bridge::queue::SqliteQueue::open(&self.db()).expect("open the bridge's queue")
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill();
    }
}

/// [`Bridge::post_signed`] for a spawned task, which cannot borrow the bridge.
pub async fn post_signed_at(base: &str, path: &str, params: &[(String, String)]) -> reqwest::Response {
    let signature = fake_twilio::sign(fake_twilio::AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), params);
    post_form_at(base, path, params, Some(&signature)).await
}

pub async fn post_form_at(
    base: &str,
    path: &str,
    params: &[(String, String)],
    signature: Option<&str>,
) -> reqwest::Response {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(s) = signature {
        req = req.header("x-twilio-signature", s);
    }
    req.send().await.expect("the bridge answers")
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("bridge.log")).unwrap_or_default()
}

/// Poll `f` until it returns `Some`, for up to `timeout`.
pub async fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
