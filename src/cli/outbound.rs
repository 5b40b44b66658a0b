//! `redflag check --show-outbound` and `redflag config show`: what would leave the machine, and the settings that
//! decide it. Both print and send nothing.

use std::io::Write;

use redflag::Analysis;
use redflag::config::Config;

/// Print the request the LLM tier would send for this analysis: where, the redacted text, the body, the estimate.
pub fn show(config: &Config, analysis: &Analysis) -> anyhow::Result<()> {
    let redflag::check::Preview { outbound, would_send } = redflag::check::preview(config, analysis)?;
    let mut out = std::io::stdout().lock();
    let would = if !config.llm_configured {
        "no: no LLM endpoint is configured".to_string()
    } else if would_send {
        format!("yes (policy {:?}, local verdict: {})", config.policy, analysis.label.words()).to_lowercase()
    } else {
        format!("no (policy {:?}, local verdict: {})", config.policy, analysis.label.words()).to_lowercase()
    };
    writeln!(out, "Would be sent: {would}")?;
    writeln!(out, "POST {}", outbound.url)?;
    let hidden: Vec<String> =
        outbound.redacted.counts().iter().map(|(k, n)| format!("{n} {k:?}").to_lowercase()).collect();
    writeln!(
        out,
        "Redacted: {}{}",
        if hidden.is_empty() { "nothing".to_string() } else { hidden.join(", ") },
        if outbound.truncated { " (text cut to the first 12 KB)" } else { "" }
    )?;
    writeln!(out, "Estimated cost at most: ${:.5}", outbound.estimate_usd)?;
    writeln!(out, "\n--- text sent ---\n{}\n--- request body ---", outbound.redacted.text)?;
    serde_json::to_writer_pretty(&mut out, &outbound.body)?;
    writeln!(out)?;
    Ok(())
}

pub fn config_show(config: &Config) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (key, value) in config.describe() {
        writeln!(out, "{key:<32} {value}")?;
    }
    let db = super::escalation::db_path(config).map_or_else(|e| format!("unknown ({e})"), |p| p.display().to_string());
    writeln!(out, "{:<32} {db}", "database")?;
    Ok(())
}
