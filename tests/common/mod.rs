//! Helpers shared by the integration tests: run the real `redflag` binary, with stdin and arguments.

#![allow(dead_code)] // each test file uses a different subset

pub mod screenshot;

use std::path::PathBuf;

use assert_cmd::Command;

/// The real binary, isolated from the developer's own setup: no config file, no LLM endpoint, and a database in a
/// per-process temporary directory (tests that need their own set REDFLAG_DB and REDFLAG_CONFIG again).
pub fn redflag() -> Command {
    let mut cmd = Command::cargo_bin("redflag").expect("the redflag binary is built by cargo test");
    let home = isolated_home();
    cmd.env_remove("REDFLAG_RULES")
        .env("NO_COLOR", "1")
        .env("REDFLAG_CONFIG", home.join("config.toml"))
        .env("REDFLAG_DB", home.join("redflag.db"));
    for var in ["OPENAI_API_KEY", "REDFLAG_LLM_BASE_URL", "REDFLAG_LLM_MODEL", "REDFLAG_ESCALATE", "REDFLAG_MODEL"] {
        cmd.env_remove(var);
    }
    cmd
}

fn isolated_home() -> PathBuf {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("redflag-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        std::fs::write(dir.join("config.toml"), "").expect("empty config file");
        dir
    })
    .clone()
}

/// ../shared/data (never committed), or `None` after saying on stderr that the calling test is skipped.
pub fn shared_data() -> Option<PathBuf> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if data.join("DATA.md").is_file() {
        return Some(data);
    }
    eprintln!("skipped: {} not found (the shared data set is needed for this test)", data.display());
    None
}

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

/// Run `redflag check --json` on stdin and parse the analysis.
pub fn check_json(stdin: impl Into<Vec<u8>>) -> serde_json::Value {
    let out = redflag().args(["check", "--json", "-"]).write_stdin(stdin).assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

pub fn flag_ids(analysis: &serde_json::Value) -> Vec<String> {
    analysis["flags"]
        .as_array()
        .expect("flags is an array")
        .iter()
        .map(|f| f["id"].as_str().expect("flag id").to_string())
        .collect()
}
