//! Helpers shared by the integration tests: run the real `redflag` binary, with stdin and arguments.

#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

use assert_cmd::Command;

pub fn redflag() -> Command {
    let mut cmd = Command::cargo_bin("redflag").expect("the redflag binary is built by cargo test");
    cmd.env_remove("REDFLAG_RULES").env("NO_COLOR", "1");
    cmd
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
