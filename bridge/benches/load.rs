//! Load benchmark for the real `redflag-bridge` server on loopback: signed Twilio webhooks acknowledged per second
//! with durable enqueue, and acknowledgement latency at a fixed 1,000 requests/s.
//!
//! Design. The bench starts the release binary exactly as a deployment would (cleared environment, a settings file,
//! its own SQLite file in a temporary directory, port 0) with mock Twilio replies and limits out of the way, so
//! what is measured is the webhook path: signature check, one durable `INSERT`, empty TwiML. The workers still
//! claim, coalesce and analyse every message in the background, as in production, and compete for the same cores;
//! the table shows their CPU share (read from `/proc` on Linux). Every webhook is built and signed before any
//! clock starts. Two kinds of phase, each run against `/healthz` first (the no-enqueue baseline), then webhooks:
//!
//! - closed loop: `LOAD_N` requests (20,000) with `LOAD_CONCURRENCY` (64) in flight; the acknowledgement rate.
//! - open loop: `LOAD_RATE` requests/s (1,000) for `LOAD_SECS` (10 s), each sent at its scheduled time whatever
//!   the earlier ones are doing, and its latency counted from that time, so a stall shows up in the percentiles
//!   instead of silently slowing the generator (coordinated omission).
//!
//! After each webhook phase the SQLite file is read to check that every acknowledged `MessageSid` is in
//! `bridge_jobs`, then the bench waits (at most `LOAD_DRAIN_SECS`) for the workers to finish the backlog, which
//! gives their analysis rate. The process exits non-zero if any webhook failed or went missing.
//!
//! Run: `cargo bench --workspace --bench load`. Without `--bench` (`cargo test --benches`, or `--test`) it does a
//! smoke run instead: 200 requests, then 100 requests/s for 1 s. The `LOAD_*` variables apply to both, and
//! `LOAD_SETTINGS` is appended to the bridge's settings file to try other worker settings, e.g.
//! `LOAD_SETTINGS=$'[workers]\ncount = 8'`. `LOAD_DATA_KEY=1` encrypts the SQLite file (a fixed test key), to
//! measure what encryption at rest costs beside a plain run.
//!
//! Several nodes (issue #19): `LOAD_POSTGRES=1` starts a throw-away PostgreSQL cluster (as the tests do, but with
//! `fsync` on: every acknowledged webhook is on disk, as the bridge commits synchronously) and runs the bridge on it, `LOAD_DATABASE_URL=postgres://…` uses an existing database, and `LOAD_NODES=N` starts N
//! bridges on it, the requests spread over them round-robin as a proxy would. The table then has a `db` column, the
//! CPU share of the PostgreSQL server's processes, so the numbers can be read for a machine with more cores.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redflag_bridge::queue::{BridgeStore, PgQueue, SqliteQueue, bridge_db};
use redflag_bridge::settings::DataKey;
use redflag_bridge::twilio::signature;

const PUBLIC_URL: &str = "https://bridge.example.test";
const WEBHOOK_PATH: &str = "/webhooks/twilio";
const AUTH_TOKEN: &str = "bench-token";
const ACCOUNT_SID: &str = "AC5f0c1a2b3d4e5f60718293a4b5c6d7e8";
const OUR_NUMBER: &str = "whatsapp:+14155238886";
/// Distinct senders; with 20,000 messages each sends about twenty, which the workers coalesce per sender.
const SENDERS: u32 = 1000;
#[allow(dead_code)] // the cluster helper is shared with the tests, which use all of it
#[path = "../tests/common/postgres.rs"]
mod pg_cluster;

/// `/proc` reports CPU time in USER_HZ ticks, which Linux fixes at 100 on every architecture it exports.
const TICKS_PER_SECOND: f64 = 100.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        // libtest's `--list` (`cargo test --benches -- --list`): there are no named tests to list.
        return ExitCode::SUCCESS;
    }
    // Like criterion: cargo passes `--bench` only from `cargo bench`; anything else is a test-mode run.
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let plan = Plan::from_env(full);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    if runtime.block_on(run(&plan)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[derive(Debug, Clone)]
struct Plan {
    mode: &'static str,
    n: usize,
    concurrency: usize,
    rate: u64,
    secs: u64,
    drain_cap: Duration,
}

impl Plan {
    fn from_env(full: bool) -> Plan {
        let (mode, n, rate, secs, drain) =
            if full { ("full", 20_000, 1_000, 10, 300) } else { ("smoke", 200, 100, 1, 30) };
        let plan = Plan {
            mode,
            n: env_or("LOAD_N", n),
            concurrency: env_or("LOAD_CONCURRENCY", 64),
            rate: env_or("LOAD_RATE", rate),
            secs: env_or("LOAD_SECS", secs),
            drain_cap: Duration::from_secs(env_or("LOAD_DRAIN_SECS", drain)),
        };
        assert!(
            plan.n > 0 && plan.concurrency > 0 && plan.rate > 0 && plan.secs > 0,
            "LOAD_N, LOAD_CONCURRENCY, LOAD_RATE and LOAD_SECS must be at least 1"
        );
        plan
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

async fn run(plan: &Plan) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "redflag-bridge load benchmark ({} run): {cores} cores (available_parallelism), {} {}; the bridge and this \
         load generator share them",
        plan.mode,
        std::env::consts::OS,
        std::env::consts::ARCH,
    );
    println!(
        "closed loop: {} requests, {} in flight; open loop: {} requests/s for {} s; HTTP/1.1 keep-alive on loopback",
        plan.n, plan.concurrency, plan.rate, plan.secs
    );

    let database_url = match std::env::var("LOAD_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("LOAD_POSTGRES").is_ok_and(|v| v == "1") => Some(pg_cluster::durable_database()),
        Err(_) => None,
    };
    let node_count: usize = env_or("LOAD_NODES", 1);
    assert!(node_count >= 1 && (node_count == 1 || database_url.is_some()), "LOAD_NODES > 1 needs PostgreSQL");
    let mut vars: Vec<(&str, &str)> = database_url.iter().map(|u| ("REDFLAG_DATABASE_URL", u.as_str())).collect();
    // `LOAD_DATA_KEY=1`: the SQLite file encrypted (issue #20), to compare with the plain file side by side.
    let data_key = std::env::var("LOAD_DATA_KEY").is_ok_and(|v| v == "1").then(|| "5a".repeat(32));
    vars.extend(data_key.iter().map(|k| ("REDFLAG_DATA_KEY", k.as_str())));
    let file_key = data_key
        .as_deref()
        .map(|k| DataKey(redflag_bridge::pseudonym::parse_key(k).expect("the bench's key")).file_key());
    let nodes: Vec<Bridge> = (0..node_count).map(|_| Bridge::start(&vars)).collect();
    let store: Arc<dyn BridgeStore> = match &database_url {
        Some(url) => {
            let url = url.clone();
            Arc::new(
                tokio::task::spawn_blocking(move || PgQueue::connect(&url))
                    .await
                    .expect("connect")
                    .expect("open the bridges' queue"),
            )
        }
        None => Arc::new(
            SqliteQueue::on(bridge_db(&nodes[0].db(), file_key.as_ref()).expect("open the bridge's file"))
                .expect("open the bridge's queue"),
        ),
    };
    let durable_in = match &database_url {
        Some(url) => Durability::Postgres(url.clone()),
        None => Durability::Sqlite(nodes[0].db(), file_key.clone()),
    };
    println!(
        "store: {}; {node_count} node(s), requests spread round-robin",
        match (&database_url, &file_key) {
            (Some(_), _) => "PostgreSQL",
            (None, Some(_)) => "SQLite, encrypted (SQLCipher)",
            (None, None) => "SQLite",
        }
    );
    let pids = Pids { bridges: nodes.iter().map(Bridge::pid).collect(), database: database_url.is_some() };
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let client = reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        // Below the bridge's header-read timeout (30 s), which also closes a keep-alive connection left idle that
        // long: a drain phase can last that long, and reusing such a connection just as the server closes it fails
        // the request (hyper's IncompleteMessage), as any HTTP client would see with a shorter server timeout.
        .pool_idle_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let healthz = |n| Arc::new(Load::Healthz { urls: bases.iter().map(|b| format!("{b}/healthz")).collect(), n });
    let webhooks = |seed, n| {
        Arc::new(Load::Webhooks {
            urls: bases.iter().map(|b| format!("{b}{WEBHOOK_PATH}")).collect(),
            hooks: build(seed, n),
        })
    };

    // Open the pool's connections before anything is timed, so the first phase does not pay for them.
    closed_loop(&client, healthz(plan.concurrency * 4), plan.concurrency).await;

    let mut rows = Vec::new();
    let mut ok = true;
    let closed = format!("closed loop, {} in flight", plan.concurrency);
    let open = format!("open loop, {}/s for {} s", plan.rate, plan.secs);

    let load = healthz(plan.n);
    let (result, usage) = measure(&pids, cores, closed_loop(&client, Arc::clone(&load), plan.concurrency)).await;
    rows.push(report(format!("healthz, {closed}"), &load, &result, usage, None));

    let load = webhooks(1, plan.n);
    let (result, usage) = measure(&pids, cores, closed_loop(&client, Arc::clone(&load), plan.concurrency)).await;
    let durable = check_durable(&durable_in, &load, &result.acked).await;
    ok &= result.failures == 0 && durable.found == result.sent;
    rows.push(report(format!("webhook, {closed}"), &load, &result, usage, Some(durable)));
    rows.push(drain(&store, &pids, cores, plan.drain_cap).await);

    let load = healthz(to_usize(plan.rate * plan.secs));
    let (result, usage) = measure(&pids, cores, open_loop(&client, Arc::clone(&load), plan.rate)).await;
    rows.push(report(format!("healthz, {open}"), &load, &result, usage, None));

    let load = webhooks(2, to_usize(plan.rate * plan.secs));
    let (result, usage) = measure(&pids, cores, open_loop(&client, Arc::clone(&load), plan.rate)).await;
    let durable = check_durable(&durable_in, &load, &result.acked).await;
    ok &= result.failures == 0 && durable.found == result.sent;
    rows.push(report(format!("webhook, {open}"), &load, &result, usage, Some(durable)));
    rows.push(drain(&store, &pids, cores, plan.drain_cap).await);

    print_table(&rows);
    if !ok {
        println!("FAILED: some webhooks were not acknowledged with 200 or are missing from bridge_jobs (see above)");
        for node in &nodes {
            println!("a bridge's log:\n{}", node.log());
        }
    }
    ok
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).expect("a request count that fits in memory")
}

/// The real binary, configured like the integration tests' harness (tests/common/bridge.rs) but with production
/// worker settings, no Twilio account (replies are logged, not sent) and limits too high to matter.
#[derive(Debug)]
struct Bridge {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Bridge {
    fn start(vars: &[(&str, &str)]) -> Bridge {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("bridge.toml");
        let settings = format!(
            r#"
environment = "development"
public_url = "{PUBLIC_URL}"

[twilio]
auth_token = "{AUTH_TOKEN}"

[limits]
rate_per_minute = 1000000
rate_burst = 1000000
daily_quota = 1000000

{extra}
"#,
            extra = std::env::var("LOAD_SETTINGS").unwrap_or_default(),
        );
        std::fs::write(&config, settings).expect("write the settings");
        let log = std::fs::File::create(dir.path().join("bridge.log")).expect("create the log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
            .args(["--config", config.to_str().expect("utf-8 path"), "serve"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("REDFLAG_DB", dir.path().join("redflag.db"))
            .env("REDFLAG_BRIDGE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
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
        let Ok(base) = rx.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!("the bridge did not start; its log:\n{}", read_log(dir.path()));
        };
        Bridge { child, base, dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("redflag.db")
    }

    fn log(&self) -> String {
        read_log(self.dir.path())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("bridge.log")).unwrap_or_default()
}

/// One inbound WhatsApp message, encoded and signed ahead of time.
#[derive(Debug)]
struct Webhook {
    sid: String,
    body: String,
    signature: String,
    idempotency: String,
}

#[derive(Debug)]
enum Load {
    /// Request `i` goes to `urls[i % urls.len()]`: one URL per node, round-robin like a proxy.
    Healthz {
        urls: Vec<String>,
        n: usize,
    },
    Webhooks {
        urls: Vec<String>,
        hooks: Vec<Webhook>,
    },
}

impl Load {
    fn len(&self) -> usize {
        match self {
            Load::Healthz { n, .. } => *n,
            Load::Webhooks { hooks, .. } => hooks.len(),
        }
    }

    /// Send request `i`; `Ok` only for a 200.
    async fn fire(&self, client: &reqwest::Client, i: usize) -> Result<(), String> {
        let request = match self {
            Load::Healthz { urls, .. } => client.get(&urls[i % urls.len()]),
            Load::Webhooks { urls, hooks } => {
                let hook = &hooks[i];
                client
                    .post(&urls[i % urls.len()])
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("user-agent", "TwilioProxy/1.1")
                    .header("x-twilio-signature", &hook.signature)
                    .header("i-twilio-idempotency-token", &hook.idempotency)
                    .body(hook.body.clone())
            }
        };
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        // Read the body even when it is not needed: only then does the connection go back to the pool.
        let body = response.bytes().await.map_err(|e| format!("{e:?}"))?;
        if status == reqwest::StatusCode::OK {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
        }
    }
}

/// `n` distinct webhooks from a seeded generator: random `MessageSid`s (as Twilio's are, so inserts land all over
/// the unique index rather than at its end), ~1,000 senders, ~300-character job messages.
fn build(seed: u64, n: usize) -> Vec<Webhook> {
    const MESSAGES: [&str; 4] = [
        "Hello {name}, I am Sarah from TalentBridge Recruiting. Your CV was shortlisted for a remote Data Entry \
         Assistant role: $45/hour, 2-3 hours a day, no experience needed, paid weekly. Training is done on Telegram. \
         To secure your slot today send your full name, age and email to our HR manager. Reply YES to start. Ref {ref}",
        "Hi {name}! Amazon Partner Team here. We need online product reviewers, earn $300-$800 daily from your phone. \
         Complete simple tasks, get commission instantly. A small deposit of 100 USDT unlocks the premium tasks and \
         is refunded with your first salary. Limited places, contact our mentor now on WhatsApp. Code {ref}",
        "Dear {name}, thank you for applying to the Junior Accountant position (job {ref}) at Northwind Logistics. \
         We would like to invite you to a 30-minute video interview next Tuesday or Wednesday between 10:00 and \
         15:00. Please reply with a time that suits you. Kind regards, Maria Lopez, People Team, Northwind.",
        "{name}, congratulations, you are hired as a Remote Personal Assistant! Before you start we will send you a \
         cheque of $2,450 to buy your home-office equipment from our approved vendor. Deposit it and send the \
         balance by Zelle today so the vendor can ship. Your onboarding number is {ref}. Welcome aboard!",
    ];
    const NAMES: [&str; 8] = ["Alex", "Priya", "Chen", "Fatima", "John", "Olga", "Kwame", "Lucia"];
    let mut rng = fastrand::Rng::with_seed(seed);
    let url = format!("{PUBLIC_URL}{WEBHOOK_PATH}");
    (0..n)
        .map(|i| {
            let sid = format!("SM{:016x}{:016x}", rng.u64(..), rng.u64(..));
            let number = format!("1415555{:04}", rng.u32(..SENDERS));
            let name = NAMES[rng.usize(..NAMES.len())];
            let text = MESSAGES[i % MESSAGES.len()]
                .replace("{name}", name)
                .replace("{ref}", &format!("{}-{i}", rng.u32(1000..10_000)));
            let params: Vec<(String, String)> = [
                ("SmsMessageSid", sid.as_str()),
                ("NumMedia", "0"),
                ("ProfileName", name),
                ("MessageType", "text"),
                ("SmsSid", sid.as_str()),
                ("WaId", number.as_str()),
                ("SmsStatus", "received"),
                ("Body", text.as_str()),
                ("To", OUR_NUMBER),
                ("NumSegments", "1"),
                ("ReferralNumMedia", "0"),
                ("MessageSid", sid.as_str()),
                ("AccountSid", ACCOUNT_SID),
                ("From", &format!("whatsapp:+{number}")),
                ("ApiVersion", "2010-04-01"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            let signature = signature::sign(AUTH_TOKEN, &url, &params);
            let idempotency = format!("{:016x}{:016x}-{i}", rng.u64(..), rng.u64(..));
            Webhook { sid, body, signature, idempotency }
        })
        .collect()
}

/// What one phase saw.
#[derive(Debug, Default)]
struct Outcome {
    sent: usize,
    /// Requests answered 200, by index into the load.
    acked: Vec<usize>,
    /// Latency of each acknowledged request.
    latencies: Vec<Duration>,
    failures: usize,
    first_failure: Option<String>,
    /// From the first request's start (scheduled start, open loop) to the last response.
    elapsed: Duration,
    /// Open loop only: how late the generator sent each request, its own timing error.
    dispatch_lag: Vec<Duration>,
}

impl Outcome {
    fn record(&mut self, i: usize, latency: Duration, result: Result<(), String>) {
        self.sent += 1;
        match result {
            Ok(()) => {
                self.acked.push(i);
                self.latencies.push(latency);
            }
            Err(e) => {
                self.failures += 1;
                self.first_failure.get_or_insert(e);
            }
        }
    }
}

/// `concurrency` tasks each send their next request as soon as the previous one is answered: the most the server
/// acknowledges per second with that many requests in flight.
async fn closed_loop(client: &reqwest::Client, load: Arc<Load>, concurrency: usize) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, load, next) = (client.clone(), Arc::clone(&load), Arc::clone(&next));
        tasks.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load.len() {
                    return seen;
                }
                let start = Instant::now();
                let result = load.fire(&client, i).await;
                seen.push((i, start.elapsed(), result));
            }
        });
    }
    let mut outcome = Outcome::default();
    while let Some(seen) = tasks.join_next().await {
        for (i, latency, result) in seen.expect("a load task") {
            outcome.record(i, latency, result);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Request `i` is due at `t0 + i / rate` and is sent then, however many earlier ones are still waiting; its
/// latency runs from that due time. The schedule runs on a thread of its own with `std::thread::sleep` (tens of
/// microseconds of error on Linux) rather than tokio's 1 ms timer, which at 1,000/s would add up to a millisecond
/// of our own lateness to every request.
async fn open_loop(client: &reqwest::Client, load: Arc<Load>, rate: u64) -> Outcome {
    let runtime = tokio::runtime::Handle::current();
    let client = client.clone();
    let total = load.len();
    let t0 = Instant::now() + Duration::from_millis(20);
    let generator = std::thread::spawn(move || {
        let mut handles = Vec::with_capacity(total);
        let mut lags = Vec::with_capacity(total);
        for i in 0..total {
            let due = t0 + Duration::from_nanos(i as u64 * 1_000_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            lags.push(due.elapsed());
            let (client, load) = (client.clone(), Arc::clone(&load));
            handles.push(runtime.spawn(async move {
                let result = load.fire(&client, i).await;
                (i, due, due.elapsed(), result)
            }));
        }
        (handles, lags)
    });
    let (handles, lags) = tokio::task::spawn_blocking(move || generator.join().expect("the request generator"))
        .await
        .expect("wait for the request generator");
    let mut outcome = Outcome { dispatch_lag: lags, ..Outcome::default() };
    for handle in handles {
        let (i, due, latency, result) = handle.await.expect("a request task");
        outcome.elapsed = outcome.elapsed.max((due + latency).duration_since(t0));
        outcome.record(i, latency, result);
    }
    outcome
}

/// The processes whose CPU the table shows: the bridges, and PostgreSQL's server processes when it is the store.
#[derive(Debug)]
struct Pids {
    bridges: Vec<u32>,
    database: bool,
}

/// CPU seconds used so far by the bridges, by their analysis threads alone, by the database server and by this
/// benchmark.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes {
    bridge: f64,
    analysis: f64,
    database: f64,
    bench: f64,
}

impl CpuTimes {
    /// `None` where `/proc` is missing (not Linux): the table then shows no CPU columns.
    fn sample(pids: &Pids) -> Option<CpuTimes> {
        let (_, bench) = proc_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let mut times = CpuTimes { bench, ..CpuTimes::default() };
        for pid in &pids.bridges {
            times.bridge += proc_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?.1;
            // The engine names its threads `analysis-N`; everything else (HTTP, the store's writes on the blocking
            // pool, the workers' own queue updates) runs on tokio's threads, which cannot be told apart by name.
            for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
                let Ok(text) = std::fs::read_to_string(task.path().join("stat")) else { continue };
                if let Some((name, seconds)) = proc_stat(&text)
                    && name.starts_with("analysis-")
                {
                    times.analysis += seconds;
                }
            }
        }
        if pids.database {
            // Every PostgreSQL server process on the machine (the postmaster and the bridges' backends): the bench
            // machine runs no other.
            for entry in std::fs::read_dir("/proc").ok()?.flatten() {
                let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
                if let Some(("postgres", seconds)) = proc_stat(&text) {
                    times.database += seconds;
                }
            }
        }
        Some(times)
    }
}

/// The name and user + system CPU seconds in a `/proc/.../stat` line (proc(5) fields 2, 14 and 15). The name is
/// in parentheses and may itself contain spaces or `)`, so fields are counted from the last `)`.
fn proc_stat(text: &str) -> Option<(&str, f64)> {
    let (head, rest) = text.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) as f64 / TICKS_PER_SECOND))
}

/// CPU used during a phase, as a share of the whole machine (100% = every core busy for the whole phase).
#[derive(Debug, Clone, Copy)]
struct Usage {
    bridge: f64,
    analysis: f64,
    database: f64,
    bench: f64,
}

impl Usage {
    fn between(before: Option<CpuTimes>, after: Option<CpuTimes>, wall: Duration, cores: usize) -> Option<Usage> {
        // `/proc` counts in 10 ms ticks: over a shorter phase the shares would be mostly rounding.
        if wall < Duration::from_millis(500) {
            return None;
        }
        let (before, after) = (before?, after?);
        let machine = wall.as_secs_f64() * cores as f64;
        let share = |a: f64, b: f64| 100.0 * (a - b).max(0.0) / machine;
        Some(Usage {
            bridge: share(after.bridge, before.bridge),
            analysis: share(after.analysis, before.analysis),
            database: share(after.database, before.database),
            bench: share(after.bench, before.bench),
        })
    }
}

async fn measure(pids: &Pids, cores: usize, phase: impl Future<Output = Outcome>) -> (Outcome, Option<Usage>) {
    let before = CpuTimes::sample(pids);
    let started = Instant::now();
    let outcome = phase.await;
    let usage = Usage::between(before, CpuTimes::sample(pids), started.elapsed(), cores);
    (outcome, usage)
}

/// How many of the acknowledged webhooks are in `bridge_jobs`, read straight from the file the bridge writes.
#[derive(Debug, Clone, Copy)]
struct Durable {
    found: usize,
    rows: usize,
}

/// Where the bridges keep their queue.
enum Durability {
    Sqlite(PathBuf, Option<redflag::store::db::FileKey>),
    Postgres(String),
}

async fn check_durable(db: &Durability, load: &Load, acked: &[usize]) -> Durable {
    let Load::Webhooks { hooks, .. } = load else { unreachable!("only webhooks are enqueued") };
    let keys: HashSet<String> = match db {
        Durability::Sqlite(path, key) => {
            let db = bridge_db(path, key.as_ref()).expect("open the bridge's database");
            let conn = db.conn();
            let mut stmt = conn.prepare("SELECT dedupe_key FROM bridge_jobs").expect("query bridge_jobs");
            stmt.query_map([], |r| r.get(0))
                .expect("read bridge_jobs")
                .collect::<Result<_, _>>()
                .expect("read a dedupe key")
        }
        Durability::Postgres(url) => {
            let url = url.clone();
            // The synchronous client drives a runtime of its own: off the async threads.
            tokio::task::spawn_blocking(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to PostgreSQL");
                let rows = client.query("SELECT dedupe_key FROM bridge_jobs", &[]).expect("read bridge_jobs");
                rows.iter().map(|r| r.get::<_, String>(0)).collect()
            })
            .await
            .expect("read the queue")
        }
    };
    let found = acked.iter().filter(|&&i| keys.contains(&format!("twilio:{}", hooks[i].sid))).count();
    Durable { found, rows: keys.len() }
}

/// Wait until the workers have finished every message (or `cap` runs out), and how fast they went.
async fn drain(store: &Arc<dyn BridgeStore>, pids: &Pids, cores: usize, cap: Duration) -> Row {
    let pending = || {
        let store = Arc::clone(store);
        async move {
            let depth = tokio::task::spawn_blocking(move || store.depth(now_ms())).await.expect("read the depth");
            to_usize(depth.expect("read the queue depth").pending)
        }
    };
    let before = CpuTimes::sample(pids);
    let started = Instant::now();
    let first = pending().await;
    let mut left = first;
    while left > 0 && started.elapsed() < cap {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = pending().await;
    }
    let wall = started.elapsed();
    let usage = Usage::between(before, CpuTimes::sample(pids), wall, cores);
    let done = first - left;
    let rate = done as f64 / wall.as_secs_f64();
    let end = if left == 0 { "queue empty".to_string() } else { format!("{left} still pending after {cap:?}") };
    println!(
        "background: the workers finished {done} of {first} queued messages in {:.1} s ({rate:.0}/s, including each \
         sender's coalescing quiet time, 1.5 s by default); {end}",
        wall.as_secs_f64(),
    );
    Row {
        name: "  then: workers drain the backlog".into(),
        sent: first,
        ok: done,
        rate,
        latency: None,
        usage,
        durable: None,
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("a plausible date")
}

#[derive(Debug)]
struct Row {
    name: String,
    sent: usize,
    ok: usize,
    rate: f64,
    /// p50, p90, p99, max.
    latency: Option<[Duration; 4]>,
    usage: Option<Usage>,
    durable: Option<Durable>,
}

/// Print a phase's one-line summary (and its first failure, if any) and turn it into a table row.
fn report(name: String, load: &Load, outcome: &Outcome, usage: Option<Usage>, durable: Option<Durable>) -> Row {
    let mut sorted = outcome.latencies.clone();
    sorted.sort_unstable();
    let latency = (!sorted.is_empty()).then(|| {
        [percentile(&sorted, 0.50), percentile(&sorted, 0.90), percentile(&sorted, 0.99), sorted[sorted.len() - 1]]
    });
    let rate = outcome.acked.len() as f64 / outcome.elapsed.as_secs_f64();
    let mut line = format!(
        "{name}: {}/{} answered 200 in {:.2} s = {rate:.0} req/s",
        outcome.acked.len(),
        load.len(),
        outcome.elapsed.as_secs_f64()
    );
    if let Some([p50, _, p99, max]) = latency {
        line += &format!("; latency p50 {} ms, p99 {} ms, max {} ms", ms(p50), ms(p99), ms(max));
    }
    if let Some(d) = durable {
        line += &format!("; {}/{} in bridge_jobs ({} rows in all)", d.found, outcome.acked.len(), d.rows);
    }
    if !outcome.dispatch_lag.is_empty() {
        let mut lag = outcome.dispatch_lag.clone();
        lag.sort_unstable();
        line += &format!("; generator lateness p99 {} ms", ms(percentile(&lag, 0.99)));
    }
    println!("{line}");
    if let Some(e) = &outcome.first_failure {
        println!("  {} failed; the first: {e}", outcome.failures);
    }
    Row { name, sent: load.len(), ok: outcome.acked.len(), rate, latency, usage, durable }
}

/// Nearest-rank percentile of a sorted, non-empty slice.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<40} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>5} {:>7} {:>9}",
        "phase",
        "sent",
        "200",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "bridge",
        "analysis",
        "db",
        "bench",
        "durable"
    );
    for row in rows {
        let [p50, p90, p99, max] =
            row.latency.map_or_else(|| [String::new(), String::new(), String::new(), String::new()], |l| l.map(ms));
        let pct = |f: fn(&Usage) -> f64| row.usage.map_or_else(|| "-".to_string(), |u| format!("{:.0}%", f(&u)));
        let durable = row.durable.map_or_else(String::new, |d| format!("{}/{}", d.found, row.ok));
        println!(
            "{:<40} {:>7} {:>7} {:>8.0} {p50:>8} {p90:>8} {p99:>8} {max:>8} {:>7} {:>9} {:>5} {:>7} {durable:>9}",
            row.name,
            row.sent,
            row.ok,
            row.rate,
            pct(|u| u.bridge),
            pct(|u| u.analysis),
            pct(|u| u.database),
            pct(|u| u.bench),
        );
    }
    println!(
        "CPU columns: share of all cores during the phase (bridge = the server processes, analysis = their model/rule \
         threads, db = PostgreSQL's processes, bench = this generator). Drain rows count messages the workers \
         finished, not requests."
    );
}
