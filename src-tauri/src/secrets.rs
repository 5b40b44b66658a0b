//! Where the LLM API key is kept: the OS keyring when one answers (Secret Service on Linux, Keychain, Windows
//! Credential Manager, through the keyring crate), otherwise a file beside the config that only this user can
//! read. The choice is made once at start-up by asking the keyring, and the settings page says which it is.
//!
//! `REDFLAG_SECRET_STORE=file` forces the file: on a desktop without a keyring daemon, asking the Secret Service
//! can start a D-Bus auto-launch, and tests must never touch the developer's real keyring.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

const SERVICE: &str = "org.redflag.desktop";
const ACCOUNT: &str = "llm-api-key";

#[derive(Debug)]
pub enum SecretStore {
    Keyring,
    File(PathBuf),
}

impl SecretStore {
    /// The keyring if it answers a read, else `file`.
    pub fn detect(file: PathBuf, forced: Option<&str>) -> SecretStore {
        if forced == Some("file") {
            return SecretStore::File(file);
        }
        match keyring::Entry::new(SERVICE, ACCOUNT).and_then(|e| e.get_password()) {
            Ok(_) | Err(keyring::Error::NoEntry) => SecretStore::Keyring,
            Err(e) => {
                tracing::info!("no usable OS keyring ({e}); the API key is kept in a private file");
                SecretStore::File(file)
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SecretStore::Keyring => "keyring",
            SecretStore::File(_) => "file",
        }
    }

    /// One sentence for the settings page.
    pub fn describe(&self) -> String {
        match self {
            SecretStore::Keyring => "Your API key is kept in the system keyring.".into(),
            SecretStore::File(p) => format!(
                "No system keyring is available, so your API key is kept in {}, readable only by you.",
                p.display()
            ),
        }
    }

    pub fn get(&self) -> Result<Option<SecretString>> {
        match self {
            SecretStore::Keyring => match keyring::Entry::new(SERVICE, ACCOUNT).and_then(|e| e.get_password()) {
                Ok(key) => Ok(Some(SecretString::from(key))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(Error::Config(format!("the API key cannot be read from the keyring: {e}"))),
            },
            SecretStore::File(p) => match std::fs::read_to_string(p) {
                Ok(s) if s.trim().is_empty() => Ok(None),
                Ok(s) => Ok(Some(SecretString::from(s.trim().to_string()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Config(format!("the API key file {} cannot be read: {e}", p.display()))),
            },
        }
    }

    pub fn set(&self, key: &SecretString) -> Result<()> {
        match self {
            SecretStore::Keyring => keyring::Entry::new(SERVICE, ACCOUNT)
                .and_then(|e| e.set_password(key.expose_secret()))
                .map_err(|e| Error::Config(format!("the API key cannot be saved in the keyring: {e}"))),
            SecretStore::File(p) => write_private(p, key.expose_secret())
                .map_err(|e| Error::Config(format!("the API key cannot be saved to {}: {e}", p.display()))),
        }
    }

    pub fn clear(&self) -> Result<()> {
        match self {
            SecretStore::Keyring => match keyring::Entry::new(SERVICE, ACCOUNT).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(Error::Config(format!("the API key cannot be removed from the keyring: {e}"))),
            },
            SecretStore::File(p) => match std::fs::remove_file(p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Config(format!("the API key file {} cannot be removed: {e}", p.display()))),
            },
        }
    }
}

/// Write `text` to a file created with mode 0600 (on Unix) so no other user can read it, even for a moment.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut f = options.open(path)?;
        // A file created earlier with wider permissions is narrowed too.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut f = options.open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trip_is_private() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SecretStore::detect(dir.path().join("sub/api-key"), Some("file"));
        assert_eq!(store.kind(), "file");
        assert!(store.get().expect("reads").is_none());
        store.set(&SecretString::from("sk-test-123")).expect("saves");
        assert_eq!(store.get().expect("reads").expect("a key").expose_secret(), "sk-test-123");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sub/api-key")).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().expect("removes");
        assert!(store.get().expect("reads").is_none());
        store.clear().expect("removing twice is fine");
    }
}
