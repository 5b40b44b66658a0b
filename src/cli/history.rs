//! `redflag history`: the checks this user made, from the shared database (the desktop app shows the same list).
//! Only redacted text is stored, so listing and exporting never show the contacts or numbers that were pasted.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use redflag::store::{HistoryEntry, HistoryQuery, Owner, Store};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    /// The checks made for this user id (`check --user`, a bridge sender) instead of the local user's.
    #[arg(long, global = true, conflicts_with = "all")]
    user: Option<String>,
    /// Everyone's checks, the local user's and every user id's (an operator reading a bridge's database).
    #[arg(long, global = true)]
    all: bool,
}

impl HistoryArgs {
    /// Whose checks: the local user's unless `--user` or `--all` says otherwise, so a database shared with a bridge
    /// does not show (or clear) its senders' checks by default.
    fn owner(&self) -> Owner {
        match (&self.user, self.all) {
            (_, true) => Owner::Anyone,
            (Some(user), false) => Owner::User(user.clone()),
            (None, false) => Owner::Local,
        }
    }
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// List checks, newest first (the default).
    List {
        /// Only checks whose redacted text contains this, or with this label or flag id.
        #[arg(long, short)]
        search: Option<String>,
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one check in full, as JSON.
    Show { id: i64 },
    /// Delete one check.
    Delete { id: i64 },
    /// Delete every check.
    Clear {
        /// Confirm: without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Export every check as one JSON array (to a file, or standard output).
    Export {
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub fn run(store: &dyn Store, args: HistoryArgs) -> anyhow::Result<()> {
    let owner = args.owner();
    let command = args.command.unwrap_or(HistoryCommand::List { search: None, limit: 20, json: false });
    let mut out = std::io::stdout().lock();
    match command {
        HistoryCommand::List { search, limit, json } => {
            let entries = store.history_list(&HistoryQuery { search, limit, owner: owner.clone(), offset: 0 })?;
            if json {
                for e in &entries {
                    serde_json::to_writer(&mut out, e)?;
                    writeln!(out)?;
                }
            } else if entries.is_empty() {
                writeln!(out, "No checks in the history.")?;
            } else {
                for e in &entries {
                    writeln!(out, "{}", line(e))?;
                }
            }
        }
        HistoryCommand::Show { id } => {
            let entry =
                store.history_get(id, &owner)?.with_context(|| format!("no check with id {id} in the history"))?;
            serde_json::to_writer_pretty(&mut out, &entry)?;
            writeln!(out)?;
        }
        HistoryCommand::Delete { id } => {
            anyhow::ensure!(store.history_delete(id, &owner)?, "no check with id {id} in the history");
            writeln!(out, "Deleted check {id}.")?;
        }
        HistoryCommand::Clear { yes } => {
            anyhow::ensure!(
                yes,
                "this deletes every check in the history; run `redflag history clear --yes` to confirm"
            );
            let n = store.history_clear(&owner)?;
            writeln!(out, "Deleted {n} checks.")?;
        }
        HistoryCommand::Export { out: path } => {
            let entries = store.history_list(&HistoryQuery { owner, ..HistoryQuery::default() })?;
            match path {
                Some(path) => {
                    let file =
                        std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
                    serde_json::to_writer_pretty(std::io::BufWriter::new(file), &entries)?;
                    writeln!(out, "Exported {} checks to {}.", entries.len(), path.display())?;
                }
                None => {
                    serde_json::to_writer_pretty(&mut out, &entries)?;
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(())
}

/// One line per check: id, when, verdict, score, and the start of the redacted text.
fn line(e: &HistoryEntry) -> String {
    let preview: String = e.redacted_text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(60).collect();
    format!(
        "{:>5}  {}  {:<17} {:>3.0}%  {}",
        e.id,
        redflag::time::utc(e.created_at),
        e.label.words(),
        e.score * 100.0,
        preview
    )
}
