//! The monitoring shipped in `bridge/deploy/` (issue #20): the Prometheus alerting rules pass `promtool check
//! rules` and their unit tests (`promtool test rules`: each alert fires on the traffic it is for, and not on healthy
//! traffic), and every metric the rules and the Grafana dashboard read is one the bridge exports, so a renamed
//! metric cannot silently blind an alert.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn promtool(args: &[&str]) -> String {
    let out =
        Command::new("promtool").args(args).current_dir(deploy().join("prometheus")).output().unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}); scripts/setup.sh installs it (Debian's prometheus package)")
        });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The bridge's metric names in `text`, without a histogram's `_bucket`/`_sum`/`_count` suffix.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.match_indices("redflag_bridge_")
        .map(|(at, _)| {
            let name: String = text[at..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|base| redflag_bridge::metrics::ALL.contains(base))
                .map_or(name.clone(), str::to_string)
        })
        .collect()
}

#[test]
fn the_alerting_rules_are_valid_and_each_alert_fires_on_its_traffic() {
    let checked = promtool(&["check", "rules", "redflag-bridge.rules.yml"]);
    assert!(checked.contains("SUCCESS: 8 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "redflag-bridge.rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // Every alert of the rules file has a test that expects it to fire.
    let rules = std::fs::read_to_string(deploy().join("prometheus/redflag-bridge.rules.yml")).expect("rules");
    let tests = std::fs::read_to_string(deploy().join("prometheus/redflag-bridge.rules.test.yml")).expect("tests");
    for line in rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")) {
        let fires = tests
            .split("alertname: ")
            .skip(1)
            .any(|case| case.starts_with(line) && case.lines().nth(1).is_some_and(|l| !l.contains("exp_alerts: []")));
        assert!(fires, "no test expects {line} to fire");
    }
}

#[test]
fn the_rules_and_the_dashboard_read_only_metrics_the_bridge_exports() {
    let rules = std::fs::read_to_string(deploy().join("prometheus/redflag-bridge.rules.yml")).expect("rules");
    let dashboard = std::fs::read_to_string(deploy().join("grafana/redflag-bridge.json")).expect("dashboard");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let panels = parsed["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "overview panels");
    let exprs: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().expect("every target has a query"))
        .collect();
    let used: BTreeSet<String> = metric_names(&rules).into_iter().chain(metric_names(&exprs.join("\n"))).collect();
    let unknown: Vec<&String> = used.iter().filter(|m| !redflag_bridge::metrics::ALL.contains(&m.as_str())).collect();
    assert!(unknown.is_empty(), "not exported by the bridge: {unknown:?}");
    for wanted in ["redflag_bridge_reply_latency_seconds", "redflag_bridge_ready", "redflag_bridge_verdicts_total"] {
        assert!(used.contains(wanted), "{wanted} is neither alerted on nor shown");
    }
}
