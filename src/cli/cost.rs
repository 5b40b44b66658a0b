//! `redflag cost`: what the LLM tier has spent, by day, model and user, from the spend ledger, with today's and
//! this month's totals against the configured caps.

use std::io::Write;

use redflag::config::Config;
use redflag::store::Store;

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// Only the last N days.
    #[arg(long, default_value_t = 31)]
    days: u32,
    /// The rows as JSON lines.
    #[arg(long)]
    json: bool,
}

pub fn run(store: &dyn Store, config: &Config, args: CostArgs) -> anyhow::Result<()> {
    let now = redflag::time::unix_now();
    let rows = store.spend_report(Some(now - i64::from(args.days) * 86_400))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for r in &rows {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let spent = store.spent(None, now)?;
    let cap = |c: Option<f64>| c.map_or("no cap".to_string(), |c| format!("cap ${c:.2}"));
    writeln!(
        out,
        "Today: ${:.4} ({})   This month: ${:.4} ({})",
        spent.day_usd,
        cap(config.budget.daily_usd),
        spent.month_usd,
        cap(config.budget.monthly_usd)
    )?;
    if rows.is_empty() {
        writeln!(out, "No LLM calls in the last {} days.", args.days)?;
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<10}  {:<16} {:<14} {:>6} {:>6} {:>9} {:>8} {:>8} {:>10}",
        "day", "model", "user", "calls", "failed", "prompt", "cached", "output", "cost"
    )?;
    let mut total = 0.0;
    for r in &rows {
        total += r.cost_usd;
        writeln!(
            out,
            "{:<10}  {:<16} {:<14} {:>6} {:>6} {:>9} {:>8} {:>8} {:>10}",
            r.day,
            r.model,
            r.user_id.as_deref().unwrap_or("local"),
            r.calls,
            r.failed,
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
            format!("${:.4}", r.cost_usd)
        )?;
    }
    writeln!(out, "Total over {} days: ${total:.4}", args.days)?;
    Ok(())
}
