//! `redflag sync`: pair with a Redflag hub, pull the scam indicators it publishes, show where sync stands. Exit
//! codes (a contract): 0 synced, 1 the hub could not be reached (the indicators synced before stay in use), 2
//! refused (bad signature, revoked device, a page for another hub) or a usage error.

use std::io::Write;

use anyhow::Context;
use redflag::store::Store;
use redflag::sync::client;

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
            let report = runtime.block_on(client::pull(&http, store))?;
            writeln!(out, "Synced {} indicators.", report.indicators)?;
            if let Some(version) = report.new_rules {
                writeln!(out, "Took the hub's rules {version}.")?;
            }
        }
        None => {
            let report = runtime.block_on(client::pull(&http, store))?;
            writeln!(
                out,
                "Synced: {} new or updated, {} removed, {} held ({} requests, {} bytes).",
                report.added, report.removed, report.indicators, report.requests, report.bytes
            )?;
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
    Ok(())
}

/// Whether `e` is the hub being out of reach, which exits 1 rather than 2.
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<client::SyncError>().is_some_and(client::SyncError::is_unreachable))
}
