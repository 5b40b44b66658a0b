//! The command line: `serve`, `simulate` (a correctly signed webhook to a running bridge, to see the whole loop
//! locally), `keys` (API keys for `/v1/analyze`), `jobs` (the queue, including the manual-review list), and the
//! hub's `devices` (pairing tokens for desktops), `indicators` (what the hub publishes) and `reports` (what
//! people reported from their devices, for review), `users` (export or erase one sender's data), `admins` (the
//! operator console's accounts) and `audit` (the log every operator command that changes something, or reads a
//! person's data, writes to).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use redflag::sync::indicators::IndicatorKind;
use redflag::sync::report::ReportLabel;

use secrecy::SecretString;

use redflag::store::db::FileKey;
use redflag::store::pg::PgStore;
use redflag::store::{SqliteStore, Store};

use crate::audit::{AuditEntry, cli_actor};
use crate::hub::{Hub, HubSigner, Observed, PgHub, Source, SqliteHub};
use crate::pseudonym::Pseudonyms;
use crate::queue::{BridgeStore, PgQueue, Settle, SqliteQueue, State};
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
    /// Pair desktops with this hub: each gets a token, shown once, and the hub's key fingerprint.
    Devices {
        #[command(subcommand)]
        action: DevicesAction,
    },
    /// Curate the scam indicators this hub publishes to paired devices.
    Indicators {
        #[command(subcommand)]
        action: IndicatorsAction,
    },
    /// Review what people reported from their devices ("scam" / "not a scam"), newest first.
    Reports {
        #[command(subcommand)]
        action: ReportsAction,
    },
    /// Publish a rules file to paired devices, signed; its `version` must be newer than the one published.
    Bundle {
        #[command(subcommand)]
        action: BundleAction,
    },
    /// Move this bridge's data from its SQLite file (REDFLAG_DB) to an empty PostgreSQL database, to run it on
    /// several nodes; stop the bridge first. The hub moves too (copy its key file to every node).
    MigrateStore {
        /// The PostgreSQL database, postgres://USER:PASSWORD@HOST:5432/DATABASE.
        #[arg(long, value_name = "URL")]
        to: SecretString,
    },
    /// One sender's data: print it as JSON, or erase it (as their own "delete my data" would).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Accounts of the operator console (/admin): each gets a password, shown once.
    Admins {
        #[command(subcommand)]
        action: AdminsAction,
    },
    /// The audit log, newest first: operator commands and erasures, with who, what and on what.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The data key that encrypts this bridge's SQLite file: encrypt a plain file once, or rotate to a new key.
    /// Stop the bridge first.
    DataKey {
        #[command(subcommand)]
        action: DataKeyAction,
    },
    /// Copy the bridge's SQLite file, consistently, while it runs: into a new file PATH, encrypted with the same
    /// data key (or plain, as the file is).
    Backup { path: PathBuf },
    /// List queued messages (newest first), e.g. `jobs --state review` for the manual-review list; `jobs requeue`
    /// and `jobs resolve` settle messages in review.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsAction>,
        #[arg(long, value_parser = ["received", "analysing", "replying", "done", "failed", "review"])]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// One message for the person reviewing it: its state, reason, text, stored reply and events. Recorded in the
    /// audit log (it shows a person's message).
    Show { id: i64 },
    /// Try messages in review (or failed) again once their cause is fixed: a stored reply is sent again, a
    /// message without one is analysed again.
    Requeue {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
    },
    /// Answer a message in review (or failed) with TEXT written by you: it replaces the stored reply and is sent.
    Reply { id: i64, text: String },
    /// Close messages in review (or failed): done, their text and reply forgotten.
    Resolve {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
        /// Why, for the event log and the audit log (no personal data: it is kept).
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminsAction {
    /// Create an account; its password is printed once and stored only as a hash.
    Add {
        name: String,
        /// `operator` (the default) reads messages, settles them, exports and erases senders' data and manages
        /// API keys; `viewer` sees the overview, the review list without text, key names and the audit log.
        #[arg(long, default_value = "operator", value_parser = ["viewer", "operator"])]
        role: String,
        /// Print `{"admin": ..., "role": ..., "password": ...}`.
        #[arg(long)]
        json: bool,
    },
    List,
    /// A new password (forgotten, or to unlock after failed logins); the account's sessions end.
    Reset {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove an account; its sessions end.
    Remove {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataKeyAction {
    /// Encrypt the plain file (REDFLAG_DB) with the configured data key (REDFLAG_DATA_KEY or data_key_file).
    Encrypt,
    /// Re-encrypt the file from the configured data key to a new one; senders keep their pseudonyms.
    Rotate {
        /// A file holding the new key (64 hex characters); or set REDFLAG_NEW_DATA_KEY.
        #[arg(long, value_name = "PATH")]
        new_key_file: Option<PathBuf>,
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

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Print what is kept about ADDRESS as JSON: messages, checks, today's quota count, LLM spend.
    Export {
        /// `whatsapp:+14155550123`, `sms:+...`, `telegram:CHAT_ID`, or `+14155550123` for its WhatsApp and SMS
        /// addresses both.
        address: String,
    },
    /// Erase what is kept about ADDRESS; the quota count and spend stay under the sender's pseudonym.
    Erase { address: String },
}

#[derive(Debug, Subcommand)]
pub enum DevicesAction {
    /// Pair a device: prints its token once (stored only as a hash) and the hub's key fingerprint.
    Add {
        name: String,
        /// Print `{"device": ..., "token": ..., "fingerprint": ...}`.
        #[arg(long)]
        json: bool,
    },
    List,
    /// Revoke the device: its token gets 401 from now on.
    Revoke {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleAction {
    /// Publish RULES (the format of models/rules.toml); it must compile and carry a newer `version`.
    Publish { rules: PathBuf },
    /// The version published now.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum ReportsAction {
    /// The reports, newest first, each with the digests it carried and how many devices reported each in a scam.
    List {
        #[arg(long, value_parser = ["scam", "legit"])]
        label: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndicatorsAction {
    /// Publish a value (or count one more sighting of it).
    Add {
        #[arg(value_parser = ["phone", "domain", "email", "wallet", "handle"])]
        kind: String,
        value: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop publishing a value (or `sha256:HEX`, as `list` shows one known only from reports); devices drop it at
    /// their next sync.
    Remove {
        #[arg(value_parser = ["phone", "domain", "email", "wallet", "handle"])]
        kind: String,
        value: String,
    },
    /// Never publish a value (a brand's real domain, a bank's number; or `sha256:HEX`), whatever is reported.
    Allow {
        #[arg(value_parser = ["phone", "domain", "email", "wallet", "handle"])]
        kind: String,
        value: String,
    },
    /// The indicators, most recently seen first.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = match cli.command {
        Command::Keys { .. }
        | Command::Admins { .. }
        | Command::Users { .. }
        | Command::Audit { .. }
        | Command::Jobs { .. }
        | Command::Devices { .. }
        | Command::Indicators { .. }
        | Command::Reports { .. }
        | Command::Bundle { .. }
        | Command::MigrateStore { .. }
        | Command::DataKey { .. }
        | Command::Backup { .. } => Settings::load_for_admin(cli.config.as_deref())?,
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
        Command::Users { action } => users(&settings, action),
        Command::Admins { action } => admins(&settings, action),
        Command::Audit { limit, json } => audit(&settings, limit, json),
        Command::Jobs { action: Some(JobsAction::Show { id }), .. } => show_job(&settings, id),
        Command::Jobs { action: Some(JobsAction::Requeue { ids }), .. } => {
            settle(&settings, &ids, Settle::Requeue, None)
        }
        Command::Jobs { action: Some(JobsAction::Reply { id, text }), .. } => {
            let parts = crate::review::reply(&*open(&settings)?, &cli_actor(), id, &text, now_ms())?;
            println!("{id}\treplying\t{parts} part(s)");
            Ok(())
        }
        Command::Jobs { action: Some(JobsAction::Resolve { ids, note }), .. } => {
            settle(&settings, &ids, Settle::Resolve, note.as_deref())
        }
        Command::Jobs { action: None, state, limit } => jobs(&settings, state.as_deref().and_then(State::parse), limit),
        Command::MigrateStore { to } => migrate_store(&settings, &to),
        Command::Backup { path } => {
            let key = settings.file_key();
            crate::queue::bridge_db(&settings.db, key.as_ref())?.backup(&path, key.as_ref())?;
            audited(
                &*open(&settings)?,
                AuditEntry::new(cli_actor(), "data.backup").target(path.display().to_string()),
            )?;
            eprintln!(
                "{} written ({}); restore it with the bridge stopped, and keep the data key apart from it",
                path.display(),
                if key.is_some() { "encrypted with the data key" } else { "plain: there is no data key" }
            );
            Ok(())
        }
        Command::DataKey { action } => {
            let done = match action {
                DataKeyAction::Encrypt => crate::at_rest::encrypt(&settings)?,
                DataKeyAction::Rotate { new_key_file } => {
                    crate::at_rest::rotate(&settings, &new_data_key(new_key_file.as_deref())?)?
                }
            };
            eprintln!("{done}");
            Ok(())
        }
        Command::Devices { action } => devices(&settings, action),
        Command::Indicators { action } => indicators(&settings, action),
        Command::Bundle { action } => bundle(&settings, action),
        Command::Reports { action: ReportsAction::List { label, limit, json } } => {
            reports(&settings, label.as_deref(), limit, json)
        }
    }
}

fn reports(settings: &Settings, label: Option<&str>, limit: usize, json: bool) -> anyhow::Result<()> {
    let label = label.map(str::parse::<ReportLabel>).transpose().map_err(anyhow::Error::msg)?;
    let threshold = settings.hub.report_threshold;
    let mut out = std::io::stdout().lock();
    for r in hub(settings)?.reports(label, limit)? {
        if json {
            serde_json::to_writer(&mut out, &r)?;
            writeln!(out)?;
            continue;
        }
        let text: String = r.text.chars().take(160).collect::<String>().replace('\n', " ");
        writeln!(
            out,
            "#{}\t{}\t{}\tfrom {}\tRedflag said {} ({:.0}%)\t{}",
            r.id,
            redflag::time::utc(r.received_at),
            r.label.as_str(),
            r.device,
            r.verdict,
            r.score * 100.0,
            text
        )?;
        for v in &r.indicators {
            let state = if v.published { "published" } else { "not published" };
            writeln!(
                out,
                "\t{} {}{}\treported in scams by {} of {threshold} devices needed\t{state}",
                v.kind.as_str(),
                crate::hub::DIGEST_PREFIX,
                v.hash,
                v.devices
            )?;
        }
    }
    Ok(())
}

fn bundle(settings: &Settings, action: BundleAction) -> anyhow::Result<()> {
    let hub = hub(settings)?;
    match action {
        BundleAction::Publish { rules } => {
            let text = std::fs::read_to_string(&rules).with_context(|| format!("cannot read {}", rules.display()))?;
            // Devices would refuse a file that does not compile; refuse it here, where it can be fixed.
            let parsed = redflag::RuleSet::from_toml(&text, &rules.display().to_string())?;
            let version = parsed.version().to_string();
            if let Some((published, _)) = hub.bundle()? {
                let order = redflag::sync::feed::version_order(&version, &published);
                anyhow::ensure!(
                    order == std::cmp::Ordering::Greater,
                    "{} has version {version}, not newer than the published {published}: devices refuse an older \
                     or equal bundle; raise `version` in the file",
                    rules.display()
                );
            }
            hub.publish_bundle(&version, &text, redflag::time::unix_now())?;
            audited_hub(settings, AuditEntry::new(cli_actor(), "bundle.publish").target(&version))?;
            println!("published rules {version}; devices take it at their next sync");
        }
        BundleAction::Show => match hub.bundle()? {
            Some((version, _)) => println!("{version}"),
            None => println!("no rules bundle published"),
        },
    }
    Ok(())
}

/// The hub where `serve` keeps it: in PostgreSQL when the bridge runs on several nodes, else in the file.
fn hub(settings: &Settings) -> anyhow::Result<Box<dyn Hub>> {
    Ok(match &settings.database_url {
        Some(url) => {
            let queue = PgQueue::connect(secrecy::ExposeSecret::expose_secret(url))?;
            Box::new(PgHub::on(std::sync::Arc::clone(queue.pg())))
        }
        None => Box::new(SqliteHub::on(crate::queue::bridge_db(&settings.db, settings.file_key().as_ref())?)?),
    })
}

fn devices(settings: &Settings, action: DevicesAction) -> anyhow::Result<()> {
    let hub = hub(settings)?;
    match action {
        DevicesAction::Add { name, json } => {
            let signer = HubSigner::load_or_create(&settings.hub_key)?;
            let token = format!("rfd_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            hub.add_device(&name, &redflag::hash::sha256_hex(&token), now_ms())?;
            audited_hub(settings, AuditEntry::new(cli_actor(), "device.pair").target(&name))?;
            let fingerprint = &signer.public().fingerprint;
            if json {
                println!("{}", serde_json::json!({ "device": name, "token": token, "fingerprint": fingerprint }));
            } else {
                println!("{token}");
                eprintln!(
                    "Device {name:?} paired. Its token is shown only this once: give it to the person, who runs \
                     `redflag sync pair HUB_URL TOKEN`. The hub's key fingerprint, to compare: {fingerprint}"
                );
            }
        }
        DevicesAction::List => {
            for d in hub.devices()? {
                let state = if d.revoked_at_ms.is_some() { "revoked" } else { "active" };
                let seen = d.last_seen_ms.map_or_else(|| "never".to_string(), |ms| redflag::time::utc(ms / 1000));
                println!(
                    "{}\t{state}\tcreated {}\tlast sync {seen}",
                    d.name,
                    redflag::time::utc(d.created_at_ms / 1000)
                );
            }
        }
        DevicesAction::Revoke { name } => {
            if !hub.revoke_device(&name, now_ms())? {
                anyhow::bail!("no active device named {name:?}; see `redflag-bridge devices list`");
            }
            audited_hub(settings, AuditEntry::new(cli_actor(), "device.revoke").target(&name))?;
            println!("revoked device {name:?}");
        }
    }
    Ok(())
}

fn indicators(settings: &Settings, action: IndicatorsAction) -> anyhow::Result<()> {
    let hub = hub(settings)?;
    let now = redflag::time::unix_now();
    match action {
        IndicatorsAction::Add { kind, value, json } => {
            let kind: IndicatorKind = kind.parse()?;
            let observed = hub.observe(kind, &value, Source::Operator, now)?;
            let normalised = redflag::sync::indicators::normalise(kind, &value)?;
            if let Observed::Published { .. } = observed {
                let target = format!("{} {normalised}", kind.as_str());
                audited_hub(settings, AuditEntry::new(cli_actor(), "indicator.publish").target(target))?;
            }
            match observed {
                Observed::Published { count } if json => println!(
                    "{}",
                    serde_json::json!({ "kind": kind.as_str(), "value": normalised, "count": count, "published": true })
                ),
                Observed::Published { count } => {
                    println!("published {} {normalised} (seen {count} times)", kind.as_str())
                }
                Observed::Allowed => anyhow::bail!(
                    "{} {normalised} is on the allowlist or a host many people share (a mail provider, a link \
                     shortener, a chat app, a big platform), so it is never published",
                    kind.as_str()
                ),
                // An operator's word needs no second sender.
                // `observe` publishes at once; only `sighted` waits for more senders.
                Observed::Pending { .. } => anyhow::bail!("the hub did not publish the value; this is a bug"),
            }
        }
        IndicatorsAction::Remove { kind, value } => {
            let kind: IndicatorKind = kind.parse()?;
            if !hub.remove(kind, &value)? {
                anyhow::bail!("{} {value:?} is not published; see `redflag-bridge indicators list`", kind.as_str());
            }
            let target = format!("{} {value}", kind.as_str());
            audited_hub(settings, AuditEntry::new(cli_actor(), "indicator.remove").target(target))?;
            println!("removed; devices drop it at their next sync");
        }
        IndicatorsAction::Allow { kind, value } => {
            let kind: IndicatorKind = kind.parse()?;
            hub.allow(kind, &value, now)?;
            let target = format!("{} {value}", kind.as_str());
            audited_hub(settings, AuditEntry::new(cli_actor(), "indicator.allow").target(target))?;
            println!("allowed; it is never published, and devices that had it drop it at their next sync");
        }
        IndicatorsAction::List { limit } => {
            for i in hub.indicators(limit)? {
                let state = if i.published { "published" } else { "withdrawn" };
                // A value known only from reports is named by its digest, which `remove` and `allow` accept.
                let value =
                    if i.value.is_empty() { format!("{}{}", crate::hub::DIGEST_PREFIX, i.hash) } else { i.value };
                println!(
                    "{}\t{}\t{state}\tseen {}\tlast {}\t{}",
                    i.kind.as_str(),
                    value,
                    i.count,
                    redflag::time::utc(i.last_seen),
                    i.source
                );
            }
        }
    }
    Ok(())
}

/// The key `data-key rotate` moves to: from `--new-key-file`, else `REDFLAG_NEW_DATA_KEY`.
fn new_data_key(file: Option<&std::path::Path>) -> anyhow::Result<crate::settings::DataKey> {
    let (text, from) = match file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the new key file {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            std::env::var("REDFLAG_NEW_DATA_KEY").map_err(|_| {
                anyhow::anyhow!(
                    "no new key: pass --new-key-file PATH or set REDFLAG_NEW_DATA_KEY (generate one with: openssl \
                     rand -hex 32)"
                )
            })?,
            "REDFLAG_NEW_DATA_KEY".to_string(),
        ),
    };
    let key = crate::pseudonym::parse_key(&text).map_err(|e| anyhow::anyhow!("{from}: {e}"))?;
    Ok(crate::settings::DataKey(key))
}

fn migrate_store(settings: &Settings, to: &SecretString) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let url = to.expose_secret();
    if !settings.db.exists() {
        anyhow::bail!(
            "there is no SQLite database at {} to move; set REDFLAG_DB to the bridge's file",
            settings.db.display()
        );
    }
    let copied = crate::migrate::to_postgres(&settings.db, settings.file_key().as_ref(), url)?;
    let mut out = std::io::stdout().lock();
    for (table, rows) in &copied {
        writeln!(out, "{table}\t{rows}")?;
    }
    eprintln!(
        "copied into PostgreSQL; start every node with REDFLAG_DATABASE_URL set. The hub (devices, indicators, \
         reports) stays in {}.",
        settings.db.display()
    );
    Ok(())
}

/// The store `keys` and `jobs` work on: PostgreSQL when the bridge runs on several nodes, else the SQLite file.
fn open(settings: &Settings) -> anyhow::Result<Box<dyn BridgeStore>> {
    open_with(settings, settings.file_key().as_ref())
}

/// [`open`] with the file's key given: `data-key` opens the file under the key it has just written.
pub(crate) fn open_with(settings: &Settings, key: Option<&FileKey>) -> anyhow::Result<Box<dyn BridgeStore>> {
    Ok(match &settings.database_url {
        Some(url) => Box::new(PgQueue::connect(secrecy::ExposeSecret::expose_secret(url))?),
        None => Box::new(SqliteQueue::on(crate::queue::bridge_db(&settings.db, key)?)?),
    })
}

/// Both stores, as `serve` opens them: the bridge's and the core's (history, spend), in PostgreSQL or the file.
fn open_both(settings: &Settings) -> anyhow::Result<(Box<dyn BridgeStore>, Box<dyn Store>)> {
    Ok(match &settings.database_url {
        Some(url) => {
            let queue = PgQueue::connect(secrecy::ExposeSecret::expose_secret(url))?;
            let core = PgStore::on(std::sync::Arc::clone(queue.pg()))?;
            (Box::new(queue), Box::new(core))
        }
        None => {
            let db = crate::queue::bridge_db(&settings.db, settings.file_key().as_ref())?;
            (Box::new(SqliteQueue::on(std::sync::Arc::clone(&db))?), Box::new(SqliteStore::on(db)?))
        }
    })
}

/// Record an operator command in the audit log; the command's effect stands either way, so a failure to record
/// it is reported, not hidden.
fn audited(q: &dyn BridgeStore, entry: AuditEntry) -> anyhow::Result<()> {
    q.audit(now_ms(), &entry).context("the command took effect, but the audit log could not record it")
}

/// [`audited`] for the hub's commands, which otherwise need no other store.
fn audited_hub(settings: &Settings, entry: AuditEntry) -> anyhow::Result<()> {
    audited(&*open(settings)?, entry)
}

fn users(settings: &Settings, action: UsersAction) -> anyhow::Result<()> {
    let (q, core) = open_both(settings)?;
    let pseudonyms = Pseudonyms::load(settings.data_key.as_ref().map(|k| &k.0), &*q)?;
    let address = match &action {
        UsersAction::Export { address } | UsersAction::Erase { address } => address,
    };
    let addresses = crate::privacy::addresses(address).map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    for address in &addresses {
        let pseudonym = pseudonyms.of(address);
        match action {
            UsersAction::Export { .. } => {
                let export = crate::privacy::export(&*q, &*core, &pseudonyms, address, now_ms())?;
                audited(&*q, AuditEntry::new(cli_actor(), "user.export").target(pseudonym))?;
                serde_json::to_writer_pretty(&mut out, &export)?;
                writeln!(out)?;
            }
            UsersAction::Erase { .. } => {
                let removed = crate::privacy::erase(&*q, &*core, &pseudonyms, address, None)?;
                let entry =
                    AuditEntry::new(cli_actor(), "user.erase").target(pseudonym).detail(format!("{removed} records"));
                audited(&*q, entry)?;
                writeln!(out, "{address}	erased {removed} records")?;
            }
        }
    }
    Ok(())
}

fn admins(settings: &Settings, action: AdminsAction) -> anyhow::Result<()> {
    use crate::admin::{self, Role};
    let q = open(settings)?;
    let print = |name: &str, role: &str, password: &str, json: bool| {
        if json {
            println!("{}", serde_json::json!({ "admin": name, "role": role, "password": password }));
        } else {
            println!("{password}");
            eprintln!(
                "Console account {name:?} ({role}). The password is shown only this once; log in at \
                 https://YOUR-BRIDGE/admin"
            );
        }
    };
    match action {
        AdminsAction::Add { name, role, json } => {
            let role = Role::parse(&role).unwrap_or(Role::Operator);
            let password = admin::create(&*q, &cli_actor(), &name, role, now_ms())?;
            print(&name, role.as_str(), &password, json);
        }
        AdminsAction::Reset { name, json } => {
            let password = admin::reset(&*q, &cli_actor(), &name, now_ms())?;
            let role = q.admin(&name)?.map(|a| a.role).unwrap_or_default();
            print(&name, &role, &password, json);
        }
        AdminsAction::Remove { name } => {
            admin::remove(&*q, &cli_actor(), &name, now_ms())?;
            println!("removed {name:?}; its sessions have ended");
        }
        AdminsAction::List => {
            let now = now_ms();
            for a in q.admins()? {
                let state = match a.locked_until_ms {
                    Some(until) if until > now => format!("locked until {}", redflag::time::utc(until / 1000)),
                    _ => "active".to_string(),
                };
                println!("{}\t{}\t{state}\tcreated {}", a.name, a.role, redflag::time::utc(a.created_at_ms / 1000));
            }
        }
    }
    Ok(())
}

fn audit(settings: &Settings, limit: usize, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for r in open(settings)?.audit_log(limit)? {
        if json {
            serde_json::to_writer(&mut out, &r)?;
            writeln!(out)?;
        } else {
            let at = redflag::time::utc(r.at / 1000);
            let (target, detail) = (r.target.unwrap_or_default(), r.detail.unwrap_or_default());
            writeln!(out, "{at}	{}	{}	{target}	{detail}", r.actor, r.action)?;
        }
    }
    Ok(())
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
            audited(&*q, AuditEntry::new(cli_actor(), "key.create").target(&name))?;
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
            audited(&*q, AuditEntry::new(cli_actor(), "key.revoke").target(&name).detail(format!("{n} keys")))?;
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

fn show_job(settings: &Settings, id: i64) -> anyhow::Result<()> {
    let q = open(settings)?;
    let Some(item) = crate::review::show(&*q, &cli_actor(), id, now_ms())? else {
        anyhow::bail!("no message {id}; see `redflag-bridge jobs --state review` for the ids");
    };
    let (job, mut out) = (&item.job, std::io::stdout().lock());
    writeln!(
        out,
        "id\t{id}\nchannel\t{}\nstate\t{}\nattempts\t{}",
        job.channel.as_str(),
        job.state.as_str(),
        job.attempts
    )?;
    writeln!(out, "received\t{}\nreason\t{}", job.received_at_ms / 1000, item.reason.as_deref().unwrap_or_default())?;
    writeln!(out, "reply to\t{}", job.reply_to.as_deref().unwrap_or("(cannot be replied to)"))?;
    writeln!(out, "text\n{}", job.body)?;
    if let Some(reply) = &job.reply {
        writeln!(out, "reply ({} of {} parts sent)\n{}", job.sent_parts, reply.parts.len(), reply.parts.join("\n"))?;
    }
    let events: Vec<&str> = item.events.iter().map(|s| s.as_str()).collect();
    writeln!(out, "events\t{}", events.join(" -> "))?;
    Ok(())
}

/// `jobs requeue` / `jobs resolve`: ids not in review or failed are named and make the command fail, after the
/// others were settled.
fn settle(settings: &Settings, ids: &[i64], how: Settle, note: Option<&str>) -> anyhow::Result<()> {
    let settled = crate::review::settle(&*open(settings)?, &cli_actor(), ids, how, note, now_ms())?;
    for (id, state) in &settled.moved {
        println!("{id}\t{}", state.as_str());
    }
    if !settled.skipped.is_empty() {
        let skipped: Vec<String> = settled.skipped.iter().map(i64::to_string).collect();
        anyhow::bail!(
            "not in review or failed, left as they are: {} (see `redflag-bridge jobs --state review`)",
            skipped.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
