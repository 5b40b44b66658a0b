//! TLS to PostgreSQL (issue #19): with `sslmode=require` the bridge verifies the server against the system's CA
//! store (here `SSL_CERT_FILE`, which rustls-native-certs reads, holding a CA made for the test), every connection
//! it keeps is encrypted, and a server whose certificate it cannot verify is refused with a clear error. Alone in its
//! binary, because its cluster serves TLS.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::bridge::{Bridge, settings};
use common::fake_twilio::FakeTwilio;

/// A CA, and a certificate for 127.0.0.1 signed by it, made with the openssl command line.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl (scripts/setup.sh)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]
            .into_iter()
            .chain(["-subj", "/CN=Redflag test CA"])
            .collect::<Vec<_>>(),
    );
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName = IP:127.0.0.1, DNS:localhost\n").expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

#[test]
fn tls_to_postgres_is_verified_and_every_connection_encrypted() {
    let certs = tempfile::tempdir().expect("temp dir");
    certificates(certs.path());
    let url = common::postgres::tls_database(&certs.path().join("server.pem"), &certs.path().join("server.key"));
    let tls_url = format!("{url}?sslmode=require");
    let twilio = FakeTwilio::start();

    // Not trusted: the test CA is not in the store.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bridge.toml");
    std::fs::write(&config, settings(&twilio, "")).expect("settings");
    let out = Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .args(["--config", config.to_str().expect("utf-8"), "keys", "list"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("REDFLAG_DB", dir.path().join("redflag.db"))
        .env("REDFLAG_DATABASE_URL", &tls_url)
        .env("SSL_CERT_FILE", "/dev/null")
        .output()
        .expect("run the bridge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "refused: {stderr}");
    assert!(stderr.contains("cannot connect to PostgreSQL") && stderr.contains("certificate"), "{stderr}");

    // Trusted: a node serves on TLS only.
    let ca = certs.path().join("ca.pem");
    let node = Bridge::start_node(
        &settings(&twilio, ""),
        &[("REDFLAG_DATABASE_URL", tls_url.as_str()), ("SSL_CERT_FILE", ca.to_str().expect("utf-8"))],
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect as the admin");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (connections, encrypted) = loop {
        let row = admin
            .query_one(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a
                 JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = 'redflag-bridge'",
                &[],
            )
            .expect("read the server's connections");
        let (n, ssl): (i64, i64) = (row.get(0), row.get(1));
        if n >= 2 || Instant::now() > deadline {
            break (n, ssl);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(connections >= 2, "the node keeps its pool and its listener open ({connections}); log:\n{}", node.log());
    assert_eq!(encrypted, connections, "every connection of the node is encrypted");
}
