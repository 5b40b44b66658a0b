//! The data key's two operator commands: encrypt an existing plain file, and rotate to a new key.
//!
//! The bridge's SQLite file is encrypted as a whole with a key derived from the data key
//! ([`crate::settings::DataKey::file_key`], SQLCipher underneath: [`redflag::store::db::cipher`]). A bridge that
//! ran before it had a key has a plain file, which it refuses to open with one; `data-key encrypt` converts it
//! once. `data-key rotate` re-encrypts the file under a new key. The senders' pseudonyms are derived from the data
//! key too, so the rotation first pins the old pseudonym key inside the file (encrypted with it): quotas, spend,
//! history and erasure keep finding everyone under the name they had.
//!
//! Both rewrite the file beside the original and rename it over; the bridge must be stopped meanwhile.

use anyhow::{Context, bail};

use redflag::store::db::{FileState, file_state, reencrypt};

use crate::audit::{AuditEntry, cli_actor};
use crate::pseudonym::Pseudonyms;
use crate::queue::{SqliteQueue, bridge_db};
use crate::settings::{DataKey, Settings};
use crate::tasks::now_ms;

const STOP_FIRST: &str = "Stop every bridge process using the file first: one still running would keep writing to \
                          the file this replaces.";

/// Encrypt the bridge's plain SQLite file with the configured data key.
pub fn encrypt(settings: &Settings) -> anyhow::Result<String> {
    let data_key = settings.data_key.as_ref().context(
        "no data key to encrypt with: set REDFLAG_DATA_KEY to 64 hex characters (openssl rand -hex 32) or \
         data_key_file to a file holding them, then run this again",
    )?;
    let path = &settings.db;
    match file_state(path)? {
        FileState::New => {
            return Ok(format!(
                "{} does not exist yet; the bridge creates it encrypted when it starts with this key",
                path.display()
            ));
        }
        FileState::Encrypted => {
            // Already encrypted: with this key, or another, as opening it says.
            bridge_db(path, Some(&data_key.file_key()))?;
            return Ok(format!("{} is already encrypted with this data key; nothing to do", path.display()));
        }
        FileState::Plain => {}
    }
    reencrypt(path, None, Some(&data_key.file_key())).with_context(|| STOP_FIRST.to_string())?;
    if settings.database_url.is_none() {
        // The senders keep the names the file's generated key gave them (on PostgreSQL they live there).
        Pseudonyms::adopt_generated(&SqliteQueue::on(bridge_db(path, Some(&data_key.file_key()))?)?)?;
    }
    record(settings, data_key, "data_key.encrypt")?;
    Ok(format!(
        "{} is encrypted with the data key; the bridge now needs that key to start. Backups made before are still \
         in plain text: replace them.",
        path.display()
    ))
}

/// Re-encrypt the bridge's file from the configured data key to `new`, keeping every sender's pseudonym.
pub fn rotate(settings: &Settings, new: &DataKey) -> anyhow::Result<String> {
    let old = settings.data_key.as_ref().context(
        "no current data key: set REDFLAG_DATA_KEY or data_key_file to the key the file is encrypted with (to \
         encrypt a plain file for the first time, use `data-key encrypt`)",
    )?;
    if settings.database_url.is_some() {
        bail!(
            "rotating the data key is not supported when the bridge's data is in PostgreSQL: the key names every \
             sender there (their pseudonyms), and keeping those names across a rotation needs the old name key \
             kept where only the new data key can read it, which the shared database is not"
        );
    }
    if old.0 == new.0 {
        bail!("the new data key is the current one; generate another with: openssl rand -hex 32");
    }
    let path = &settings.db;
    if file_state(path)? != FileState::Encrypted {
        bail!("{} is not encrypted; encrypt it with `data-key encrypt` first, then rotate", path.display());
    }
    {
        let store = SqliteQueue::on(bridge_db(path, Some(&old.file_key()))?)?;
        Pseudonyms::pin(&old.0, &store)?;
    }
    reencrypt(path, Some(&old.file_key()), Some(&new.file_key())).with_context(|| STOP_FIRST.to_string())?;
    record(settings, new, "data_key.rotate")?;
    Ok(format!(
        "{} is encrypted with the new data key. Set REDFLAG_DATA_KEY (or data_key_file) to it before starting the \
         bridge: the old key no longer opens the file, but backups made before still need the old one.",
        path.display()
    ))
}

/// The audit entry, where the bridge's audit log is: PostgreSQL if the bridge runs there, else the file just
/// rewritten (opened with the key it now has).
fn record(settings: &Settings, key: &DataKey, action: &'static str) -> anyhow::Result<()> {
    crate::cli::open_with(settings, Some(&key.file_key()))?
        .audit(now_ms(), &AuditEntry::new(cli_actor(), action).target(settings.db.display().to_string()))
        .context("the file was rewritten, but the audit log could not record it")
}
