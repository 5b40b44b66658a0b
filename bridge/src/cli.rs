//! The command line: `serve`, `simulate` (a correctly signed webhook to a running bridge, to see the whole loop
//! locally), `keys` (API keys for `/v1/analyze`) and `jobs` (the queue, including the manual-review list).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::queue::{ApiKeys, Queue, SqliteQueue, State};
use crate::settings::Settings;
use crate::tasks::now_ms;
use crate::twilio::signature::sign;

#[derive(Debug, Parser)]
#[command(
    name = "redflag-bridge",
    version,
    about = "Answers WhatsApp, SMS and Telegram messages with Redflag's verdict."
)]
pub struct Cli {
    /// Settings file (TOML); environment variables override it.
    #[arg(long, global = true, env = "REDFLAG_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Post a signed Twilio webhook with TEXT to the running bridge, as if someone had sent it on WhatsApp.
    Simulate {
        text: String,
        /// The pretend sender.
        #[arg(long, default_value = "whatsapp:+14155550123")]
        from: String,
        /// The bridge's base URL (default: http:// plus REDFLAG_BRIDGE_ADDR).
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage API keys for /v1/analyze.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// List queued messages (newest first), e.g. `jobs --state review` for the manual-review list.
    Jobs {
        #[arg(long, value_parser = ["received", "analysing", "replying", "done", "failed", "review"])]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; it is printed once and stored only as a hash.
    Add {
        name: String,
    },
    List,
    /// Revoke every active key with this name.
    Revoke {
        name: String,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = match cli.command {
        Command::Keys { .. } | Command::Jobs { .. } => Settings::load_for_admin(cli.config.as_deref())?,
        _ => Settings::load(cli.config.as_deref())?,
    };
    match cli.command {
        Command::Serve => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(crate::server::serve(settings)),
        Command::Simulate { text, from, url } => simulate(&settings, &text, &from, url.as_deref()),
        Command::Keys { action } => keys(&settings, action),
        Command::Jobs { state, limit } => jobs(&settings, state.as_deref().and_then(State::parse), limit),
    }
}

fn open(settings: &Settings) -> anyhow::Result<SqliteQueue> {
    Ok(SqliteQueue::open(&settings.db)?)
}

fn simulate(settings: &Settings, text: &str, from: &str, url: Option<&str>) -> anyhow::Result<()> {
    let target = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let mut addr = settings.addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    // Twilio signs the URL it calls, which is the public URL when one is configured.
    let signed_base = settings.public_url.clone().unwrap_or_else(|| target.clone());
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let to = settings.twilio.from.clone().unwrap_or_else(|| "whatsapp:+14155238886".into());
    let account = settings.twilio.account_sid.as_deref().unwrap_or("ACsimulated");
    let params = crate::twilio::inbound_form(&sid, account, from, &to, text);
    let signature = sign(&settings.signing_token(), &format!("{signed_base}/webhooks/twilio"), &params);
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{target}/webhooks/twilio"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(body)
            .send()
            .await
            .map(|r| r.status())
    });
    let status =
        status.with_context(|| format!("cannot reach the bridge at {target}; is `redflag-bridge serve` running?"))?;
    if !status.is_success() {
        anyhow::bail!("the bridge answered {status}; see its log (a 403 means the signing token or public URL differ)");
    }
    println!("queued {sid} from {from}; the reply appears in the bridge's log (mock mode) or on the phone");
    Ok(())
}

fn keys(settings: &Settings, action: KeysAction) -> anyhow::Result<()> {
    let q = open(settings)?;
    match action {
        KeysAction::Add { name } => {
            let key = format!("rfk_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            q.add_key(&name, &redflag::hash::sha256_hex(&key), now_ms())?;
            println!("{key}");
            eprintln!("API key {name:?} created. It is shown only this once; store it now.");
        }
        KeysAction::List => {
            for (name, created, revoked) in q.list_keys()? {
                let state = if revoked.is_some() { "revoked" } else { "active" };
                println!("{name}\t{state}\tcreated {}", created / 1000);
            }
        }
        KeysAction::Revoke { name } => {
            let n = q.revoke_key(&name, now_ms())?;
            if n == 0 {
                anyhow::bail!("no active key named {name:?}; see `redflag-bridge keys list`");
            }
            println!("revoked {n} key(s) named {name:?}");
        }
    }
    Ok(())
}

fn jobs(settings: &Settings, state: Option<State>, limit: usize) -> anyhow::Result<()> {
    let q = open(settings)?;
    for j in q.jobs(state, limit)? {
        println!(
            "{}\t{}\t{}\tattempts={}\treceived={}\t{}",
            j.id,
            j.channel.as_str(),
            j.state.as_str(),
            j.attempts,
            j.received_at_ms / 1000,
            j.reason.unwrap_or_default()
        );
    }
    Ok(())
}
