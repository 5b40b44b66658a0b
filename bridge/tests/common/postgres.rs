//! A throw-away PostgreSQL cluster for the tests that need a real server: `initdb` in a temporary directory, started
//! with `pg_ctl` on a free loopback port, one per test process, and a fresh database per test.
//!
//! Run as root (CI, this machine), the cluster runs as the `postgres` user through `runuser` (PostgreSQL refuses
//! to run as root). It is removed when the test process ends however it ends: a watchdog shell started beside it
//! waits for the end of a pipe only the test process holds, then stops the cluster and deletes its directory.
//! Nothing here is skipped when PostgreSQL is missing: the tests fail and say to run `scripts/setup.sh`.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
    /// The server options `pg_ctl start` was given, to start it again the same way.
    options: String,
    /// Holds the watchdog's stdin open while this process lives.
    _watchdog: Mutex<Child>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The process's cluster, started on first use, tuned for tests: no `fsync`, no full-page writes, asynchronous
/// commits by default (a machine crash would lose it, which does not matter for a throw-away cluster; the bridge's
/// own connections commit synchronously anyway).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start(Mode::Fast))
}

/// How the process's cluster runs.
enum Mode<'a> {
    Fast,
    Durable,
    /// Serving TLS with this certificate and key too (plain connections still work, for the tests' own).
    Tls {
        cert: &'a Path,
        key: &'a Path,
    },
}

/// A new database on a cluster as durable as a real one (`fsync` and full-page writes on; the bridge's connections
/// commit synchronously), for benchmarks. The process's first call decides which cluster it gets.
pub fn durable_database() -> String {
    CLUSTER.get_or_init(|| Cluster::start(Mode::Durable)).create_database()
}

/// A new database on a cluster that also serves TLS with `cert` and `key` (PEM). The process's first call decides
/// which cluster it gets.
pub fn tls_database(cert: &Path, key: &Path) -> String {
    CLUSTER.get_or_init(|| Cluster::start(Mode::Tls { cert, key })).create_database()
}

/// A new, empty database on the process's cluster: its URL.
pub fn fresh_database() -> String {
    cluster().create_database()
}

impl Cluster {
    fn start(mode: Mode<'_>) -> Cluster {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!(
            "redflag-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for the cluster");
        let as_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
        if as_root {
            let (uid, gid) = postgres_user();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("hand the cluster's directory to postgres");
        }
        let data = dir.join("data");
        run(
            as_root,
            &bin.join("initdb"),
            &["-D", path(&data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
        );
        let port = free_port();
        let extra = match mode {
            Mode::Fast => "-c fsync=off -c full_page_writes=off".to_string(),
            Mode::Durable => String::new(),
            Mode::Tls { cert, key } => {
                // PostgreSQL reads them as its own user and refuses a key others can read.
                let (server_cert, server_key) = (dir.join("server.pem"), dir.join("server.key"));
                std::fs::copy(cert, &server_cert).expect("copy the certificate");
                std::fs::copy(key, &server_key).expect("copy the key");
                std::fs::set_permissions(&server_key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .expect("key permissions");
                if as_root {
                    let (uid, gid) = postgres_user();
                    for f in [&server_cert, &server_key] {
                        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("hand the file to postgres");
                    }
                }
                format!(
                    "-c fsync=off -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    path(&server_cert),
                    path(&server_key)
                )
            }
        };
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c synchronous_commit=off {extra} -c max_connections=300",
            path(&dir)
        );
        let log = dir.join("server.log");
        run(
            as_root,
            &bin.join("pg_ctl"),
            &["-D", path(&data), "-o", &options, "-l", path(&log), "-w", "-t", "60", "start"],
        );
        // The watchdog: when this process ends, its end of the pipe closes, `cat` returns, and the cluster goes.
        let pg_ctl = bin.join("pg_ctl");
        let stop = if as_root {
            format!("runuser -u postgres -- {} -D {} -m immediate stop", path(&pg_ctl), path(&data))
        } else {
            format!("{} -D {} -m immediate stop", path(&pg_ctl), path(&data))
        };
        let mut watchdog = Command::new("setsid")
            .args(["sh", "-c", &format!("cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf {}", path(&dir))])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the cluster's watchdog");
        // Something written proves the pipe is open; nothing more is ever sent.
        watchdog.stdin.as_mut().map(|s| s.write_all(b"\n")).transpose().expect("the watchdog's pipe");
        Cluster { port, dir, bin, as_root, options, _watchdog: Mutex::new(watchdog) }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn create_database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
        let admin_url = self.url("postgres");
        let statement = format!("CREATE DATABASE {name}");
        // On a thread of its own: the synchronous client cannot run on an async test's runtime thread.
        std::thread::spawn(move || {
            let mut admin =
                postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect to the test cluster");
            admin.batch_execute(&statement).expect("create a test database");
        })
        .join()
        .expect("creating a test database");
        self.url(&name)
    }

    /// Stop the server at once, as a crash or a failover would (every connection is cut). A test that does this
    /// must be alone in its process: every test of the process shares the cluster.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        run(self.as_root, &self.bin.join("pg_ctl"), &["-D", path(&data), "-m", "immediate", "-w", "stop"]);
    }

    /// Start it again after [`Cluster::stop`], on the same port, with the same data.
    pub fn restart(&self) {
        let (data, log) = (self.dir.join("data"), self.dir.join("server.log"));
        run(
            self.as_root,
            &self.bin.join("pg_ctl"),
            &["-D", path(&data), "-o", &self.options, "-l", path(&log), "-w", "-t", "60", "start"],
        );
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// `REDFLAG_PG_BIN`, or the newest Debian server package's binaries, or `initdb` on the PATH.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REDFLAG_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists());
    on_path.expect("PostgreSQL's server programs (initdb, pg_ctl) are not installed: run scripts/setup.sh")
}

fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres")).then(|| (fields[2].parse().ok(), fields[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .expect("no `postgres` user to run the test cluster as root: run scripts/setup.sh (installs postgresql)")
}

fn run(as_root: bool, program: &Path, args: &[&str]) {
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = command.args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}
