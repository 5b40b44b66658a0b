//! Where the app's secrets are kept: the LLM API key and the hub's pairing token. The OS keyring when one answers
//! (Secret Service on Linux, Keychain, Windows Credential Manager, through the keyring crate), otherwise a file
//! beside the config that only this user can read. The choice is made once at start-up by asking the keyring, and
//! the settings page says which it is; every secret then lives in the same place, each under its own name.
//!
//! `REDFLAG_SECRET_STORE=file` forces the file: on a desktop without a keyring daemon, asking the Secret Service
//! can start a D-Bus auto-launch, and tests must never touch the developer's real keyring.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

const SERVICE: &str = "org.redflag.desktop";
const ACCOUNT: &str = "llm-api-key";
const HUB_TOKEN: &str = "hub-token";

/// Where the secrets live.
#[derive(Debug, Clone)]
enum Backend {
    Keyring,
    /// Private files, each named after its secret, beside the config.
    Files,
}

/// One secret: the API key ([`SecretStore::detect`]) or another kept beside it ([`SecretStore::hub_token`]).
#[derive(Debug)]
pub struct SecretStore {
    backend: Backend,
    /// The keyring entry's account, and the file's name.
    account: &'static str,
    file: PathBuf,
    /// What it is, for messages: "API key".
    what: &'static str,
}

impl SecretStore {
    /// The API key's store: the keyring if it answers a read, else `file`.
    pub fn detect(file: PathBuf, forced: Option<&str>) -> SecretStore {
        let backend = if forced == Some("file") {
            Backend::Files
        } else {
            match keyring::Entry::new(SERVICE, ACCOUNT).and_then(|e| e.get_password()) {
                Ok(_) | Err(keyring::Error::NoEntry) => Backend::Keyring,
                Err(e) => {
                    tracing::info!("no usable OS keyring ({e}); secrets are kept in private files");
                    Backend::Files
                }
            }
        };
        SecretStore { backend, account: ACCOUNT, file, what: "API key" }
    }

    /// The hub's pairing token, kept where the API key is (its file beside the key's).
    pub fn hub_token(&self) -> SecretStore {
        let file = self.file.with_file_name(HUB_TOKEN);
        SecretStore { backend: self.backend.clone(), account: HUB_TOKEN, file, what: "hub pairing token" }
    }

    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Keyring => "keyring",
            Backend::Files => "file",
        }
    }

    /// One sentence for the settings page.
    pub fn describe(&self) -> String {
        match self.backend {
            Backend::Keyring => format!("Your {} is kept in the system keyring.", self.what),
            Backend::Files => format!(
                "No system keyring is available, so your {} is kept in {}, readable only by you.",
                self.what,
                self.file.display()
            ),
        }
    }

    pub fn get(&self) -> Result<Option<SecretString>> {
        let what = self.what;
        match &self.backend {
            Backend::Keyring => match keyring::Entry::new(SERVICE, self.account).and_then(|e| e.get_password()) {
                Ok(key) => Ok(Some(SecretString::from(key))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(Error::Config(format!("the {what} cannot be read from the keyring: {e}"))),
            },
            Backend::Files => match std::fs::read_to_string(&self.file) {
                Ok(s) if s.trim().is_empty() => Ok(None),
                Ok(s) => Ok(Some(SecretString::from(s.trim().to_string()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Config(format!("the {what} file {} cannot be read: {e}", self.file.display()))),
            },
        }
    }

    pub fn set(&self, key: &SecretString) -> Result<()> {
        let what = self.what;
        match &self.backend {
            Backend::Keyring => keyring::Entry::new(SERVICE, self.account)
                .and_then(|e| e.set_password(key.expose_secret()))
                .map_err(|e| Error::Config(format!("the {what} cannot be saved in the keyring: {e}"))),
            Backend::Files => write_private(&self.file, key.expose_secret())
                .map_err(|e| Error::Config(format!("the {what} cannot be saved to {}: {e}", self.file.display()))),
        }
    }

    pub fn clear(&self) -> Result<()> {
        let what = self.what;
        match &self.backend {
            Backend::Keyring => match keyring::Entry::new(SERVICE, self.account).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(Error::Config(format!("the {what} cannot be removed from the keyring: {e}"))),
            },
            Backend::Files => match std::fs::remove_file(&self.file) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Config(format!("the {what} file {} cannot be removed: {e}", self.file.display()))),
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
        // The hub's token lives beside the key, under its own name, just as private.
        let token = store.hub_token();
        assert_eq!(token.kind(), "file");
        token.set(&SecretString::from("rfd_abc")).expect("saves");
        assert_eq!(token.get().expect("reads").expect("a token").expose_secret(), "rfd_abc");
        assert_eq!(store.get().expect("reads").expect("the key").expose_secret(), "sk-test-123", "each its own");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sub/hub-token")).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().expect("removes");
        assert!(store.get().expect("reads").is_none());
        assert!(token.get().expect("reads").is_some(), "removing the key leaves the token");
        store.clear().expect("removing twice is fine");
    }
}
