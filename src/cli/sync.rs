//! `redflag sync`: pair with a Redflag hub, send the reports waiting in the outbox, pull the scam indicators it
//! publishes, show where sync stands. Exit codes (a contract): 0 synced, 1 the hub could not be reached (the
//! indicators synced before stay in use, reports stay queued), 2 refused (bad signature, revoked device, a page
//! for another hub) or a usage error. `redflag report ID scam|legit` queues a report and sends it if it can.

use std::io::Write;

use anyhow::Context;
use redflag::store::Store;
use redflag::sync::client;
use redflag::sync::report::{self, ReportLabel};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    action: Option<SyncAction>,
    /// Print the hub, the last sync and how many indicators are held; contact nobody.
    #[arg(long)]
    status: bool,
}

#[derive(Debug, clap::Subcommand)]
enum SyncAction {
    /// Pair this machine with a hub, with the token its operator gave you; prints the hub's key fingerprint to
    /// compare with the operator's.
    Pair {
        /// The hub's base URL, e.g. https://hub.example.org
        url: String,
        /// The pairing token from `redflag-bridge devices add`; `-` reads it from standard input, which keeps it out
        /// of the shell's history and the process list.
        token: String,
        /// The hub's key fingerprint as the operator gave it: pairing is refused when the hub's key differs.
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
    },
}

pub fn run(store: &dyn Store, args: SyncArgs) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    if args.status {
        return status(store, &mut out);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for the hub")?;
    let http = client::http_client()?;
    match args.action {
        Some(SyncAction::Pair { url, token, fingerprint }) => {
            let token = if token == "-" {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("cannot read the token from standard input")?;
                line.trim().to_string()
            } else {
                token
            };
            let key = runtime.block_on(client::pair(&http, store, &url, &token, fingerprint.as_deref()))?;
            writeln!(out, "Paired with the hub at {}.", url.trim_end_matches('/'))?;
            writeln!(out, "Its key fingerprint is {}: check that the operator sees the same.", key.fingerprint)?;
            let report = runtime.block_on(client::sync(&http, store))?;
            writeln!(out, "Synced {} indicators.", report.indicators)?;
            if let Some(version) = report.new_rules {
                writeln!(out, "Took the hub's rules {version}.")?;
            }
        }
        None => {
            let report = runtime.block_on(client::sync(&http, store))?;
            writeln!(
                out,
                "Synced: {} new or updated, {} removed, {} held ({} requests, {} bytes).",
                report.added, report.removed, report.indicators, report.requests, report.bytes
            )?;
            if report.reports_sent > 0 {
                writeln!(out, "Sent {} report(s).", report.reports_sent)?;
            }
            if report.reports_refused > 0 {
                writeln!(out, "The hub refused {} report(s) as malformed; they were dropped.", report.reports_refused)?;
            }
            if let Some(version) = report.new_rules {
                writeln!(out, "Took the hub's rules {version}.")?;
            }
        }
    }
    Ok(())
}

fn status(store: &dyn Store, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(link) = store.hub_link()? else {
        writeln!(out, "Not paired with a hub. Run `redflag sync pair HUB_URL TOKEN` to start.")?;
        return Ok(());
    };
    writeln!(out, "hub:          {}", link.url)?;
    writeln!(out, "fingerprint:  {}", link.key.fingerprint)?;
    let last = link.last_sync.map_or_else(|| "never".to_string(), redflag::time::utc);
    writeln!(out, "last sync:    {last}")?;
    writeln!(out, "indicators:   {}", store.indicator_count()?)?;
    let rules = store.synced_rules()?.map_or_else(|| "none (the built-in rules)".to_string(), |(v, _)| v);
    writeln!(out, "hub's rules:  {rules}")?;
    writeln!(out, "reports:      {} waiting to be sent", store.reports_waiting()?)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The check's id, as `redflag history` lists it.
    id: i64,
    /// What it really was: `scam` or `legit`.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(["scam", "legit"]))]
    label: String,
}

/// Queue the report, then try to send it (with anything else waiting). A hub out of reach is not a failure: the
/// report waits for the next `redflag sync`.
pub fn report(store: &dyn Store, args: ReportArgs) -> anyhow::Result<()> {
    let label: ReportLabel = args.label.parse().map_err(anyhow::Error::msg)?;
    let queued = report::queue(store, args.id, label, redflag::time::unix_now())?;
    let mut out = anstream::stdout().lock();
    let what = match label {
        ReportLabel::Scam => "a scam",
        ReportLabel::Legit => "not a scam",
    };
    writeln!(
        out,
        "Reporting check {} as {what}: its redacted text, Redflag's verdict and {} digest(s) of the numbers and links it held.",
        args.id,
        queued.report.indicators.len()
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for the hub")?;
    let http = client::http_client()?;
    match runtime.block_on(client::push_reports(&http, store)) {
        Ok(pushed) if pushed.reports_refused > 0 => {
            anyhow::bail!("the hub refused the report as malformed, so it was dropped; please report this as a bug")
        }
        Ok(pushed) if pushed.reports_waiting == 0 => writeln!(out, "Sent.")?,
        Ok(pushed) => {
            writeln!(out, "Sent {}; {} still waiting for the next sync.", pushed.reports_sent, pushed.reports_waiting)?
        }
        Err(e) if e.is_unreachable() => {
            writeln!(out, "Queued: the hub could not be reached, so it goes at the next `redflag sync`.")?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Whether `e` is the hub being out of reach, which exits 1 rather than 2.
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<client::SyncError>().is_some_and(client::SyncError::is_unreachable))
}
