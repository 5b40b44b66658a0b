//! The hub's Ed25519 signing key: created once, kept in a file readable by the bridge's user only, beside the
//! database (`REDFLAG_HUB_KEY` to put it elsewhere). Devices pin its public key when they pair, so losing the file
//! means every device pairs again; back it up with the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::{Signer, SigningKey};
use redflag::sync::feed::{self, HubKey};

/// The hub's key pair.
pub struct HubSigner {
    key: SigningKey,
    public: HubKey,
}

impl std::fmt::Debug for HubSigner {
    // Never the secret half.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSigner").field("fingerprint", &self.public.fingerprint).finish_non_exhaustive()
    }
}

impl HubSigner {
    /// The key in `path`, created (mode 0600) if there is none.
    pub fn load_or_create(path: &Path) -> anyhow::Result<HubSigner> {
        let seed: [u8; 32] = match std::fs::read(path) {
            Ok(bytes) => bytes.try_into().map_err(|_| {
                anyhow::anyhow!(
                    "the hub key file {} is not 32 bytes; restore it from a backup, or move it away to create a new key (every device then pairs again)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(e) => return Err(e).with_context(|| format!("cannot read the hub key file {}", path.display())),
        };
        Ok(HubSigner::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> HubSigner {
        let key = SigningKey::from_bytes(seed);
        let public = feed::hub_key(&key.verifying_key().to_bytes());
        HubSigner { key, public }
    }

    pub fn public(&self) -> &HubKey {
        &self.public
    }

    /// The signature of `body`, as it travels in [`feed::SIGNATURE_HEADER`].
    pub fn sign(&self, body: &[u8]) -> String {
        feed::encode_signature(&self.key.sign(body).to_bytes())
    }
}

/// Where the key lives by default: beside the database.
pub fn default_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".hub-key");
    db.with_file_name(name)
}

fn create(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Written whole to a private temporary file, then linked into place: a second process starting at the same
    // moment either finds no key or a whole one, and the first link wins (the loser reads the winner's key).
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| file.write_all(&seed).and_then(|()| file.sync_all()));
    written.with_context(|| format!("cannot write the hub key file {}", temp.display()))?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created the hub's signing key");
            Ok(seed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            bytes.try_into().map_err(|_| anyhow::anyhow!("the hub key file {} is not 32 bytes", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create the hub key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_signs_what_devices_verify() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = default_path(&dir.path().join("redflag.db"));
        let first = HubSigner::load_or_create(&path).expect("created");
        let again = HubSigner::load_or_create(&path).expect("loaded");
        assert_eq!(first.public(), again.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let body = b"page";
        assert_eq!(feed::verify(first.public(), body, &first.sign(body)), Ok(()));
        assert!(!format!("{first:?}").contains("key:"), "the secret is not printed");
        std::fs::write(&path, b"short").expect("corrupt");
        assert!(HubSigner::load_or_create(&path).is_err());
    }
}
