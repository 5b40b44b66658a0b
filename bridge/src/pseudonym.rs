//! Keyed pseudonyms for senders: what the bridge keeps about a person once they are gone from it.
//!
//! "Delete my data" erases a sender's messages and history, but the day's quota count, the LLM spend that counts
//! against their budget and the core's history of their checks are kept under a pseudonym instead of the address
//! (issue #20, finding 1: erasing used to restart both limits). A pseudonym is HMAC-SHA256 of the address
//! (`whatsapp:+14155550100`, `telegram:123`) under a key derived from the data key, cut to 128 bits: stable, so the
//! limits still apply to the same sender, and not reversible without the key.
//!
//! Phone numbers are few enough to try them all, so a pseudonym protects only while its key is kept apart from the
//! database: `REDFLAG_DATA_KEY` (64 hex characters) or `data_key_file`. Without one, the bridge generates a key and
//! keeps it in its database, where every node of a deployment finds the same one, and says at start-up that the
//! pseudonyms are then only as private as the database file. On SQLite, `data-key encrypt` keeps the generated
//! key's pseudonyms (now inside the encrypted file) and `data-key rotate` the old key's ([`Pseudonyms::pin`]);
//! on PostgreSQL, setting a key later changes every pseudonym once: limits counted under the old ones restart
//! that day.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::queue::{QueueError, Users};

/// The name of the generated key in the database.
const STORED_KEY: &str = "pseudonym-key";
/// The name of the configured data key's pseudonym key, kept when the data key is rotated (only ever in an
/// encrypted file: see [`Pseudonyms::pin`]).
const PINNED_KEY: &str = "pseudonym-key-pinned";

/// Where the key came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    Database,
}

#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
    pub source: KeySource,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonyms").field("source", &self.source).finish_non_exhaustive()
    }
}

impl Pseudonyms {
    /// From the configured data key, or else the key stored in the database (generated and stored on first use;
    /// a node that races another for it reads the winner's).
    pub fn load(data_key: Option<&[u8; 32]>, store: &dyn Users) -> Result<Self, QueueError> {
        if let Some(key) = data_key {
            let key = match store.secret(PINNED_KEY)? {
                Some(pinned) => parse_key(&pinned).map_err(|e| QueueError::Secret(format!("the pinned key: {e}")))?,
                None => derive(key),
            };
            return Ok(Pseudonyms { key, source: KeySource::Configured });
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| QueueError::Secret(format!("the system's random source: {e}")))?;
        let stored = store.stored_secret(STORED_KEY, &hex(&fresh))?;
        let key = parse_key(&stored).map_err(|e| QueueError::Secret(format!("the stored key: {e}")))?;
        Ok(Pseudonyms { key: derive(&key), source: KeySource::Database })
    }

    /// Keep the pseudonyms `data_key` gives when the data key is replaced by another: every sender's quota, spend
    /// and history stay under the name they have, and erasing them still finds it. Stored in the database, which
    /// is only done for the SQLite file, encrypted with the data key ([`crate::at_rest::rotate`]): in a plain
    /// database the stored key would make every pseudonym reversible by whoever reads it.
    pub fn pin(data_key: &[u8; 32], store: &dyn Users) -> Result<(), QueueError> {
        let current = Pseudonyms::load(Some(data_key), store)?;
        store.stored_secret(PINNED_KEY, &hex(&current.key))?;
        Ok(())
    }

    /// When a plain file is first encrypted: keep the pseudonyms its generated key gave (if it has one), which
    /// the data key would otherwise replace. The generated key is then inside the encrypted file, as a pinned key
    /// is. Returns whether there was one.
    pub fn adopt_generated(store: &dyn Users) -> Result<bool, QueueError> {
        let Some(stored) = store.secret(STORED_KEY)? else {
            return Ok(false);
        };
        let key = parse_key(&stored).map_err(|e| QueueError::Secret(format!("the stored key: {e}")))?;
        store.stored_secret(PINNED_KEY, &hex(&derive(&key)))?;
        Ok(true)
    }

    /// The pseudonym of a sender's address: `p:` and 32 hex characters.
    pub fn of(&self, address: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(address.as_bytes());
        format!("p:{}", hex(&mac.finalize().into_bytes()[..16]))
    }
}

/// The pseudonym key, derived from the data key so that the same secret can serve other purposes (encryption at
/// rest) without one use leaking into another.
fn derive(data_key: &[u8; 32]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(data_key).expect("HMAC takes a key of any length");
    mac.update(b"redflag-bridge sender pseudonyms v1");
    mac.finalize().into_bytes().into()
}

/// A 32-byte key written as 64 hex characters (surrounding whitespace ignored, as a key file ends in a newline).
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "expected 64 hex characters (a 32-byte key), got {} characters; generate one with: openssl rand -hex 32",
            text.chars().count()
        ));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(byte: u8) -> Pseudonyms {
        Pseudonyms { key: derive(&[byte; 32]), source: KeySource::Configured }
    }

    #[test]
    fn a_pseudonym_is_stable_per_key_and_does_not_show_the_address() {
        let (a, b) = (configured(1), configured(2));
        let p = a.of("whatsapp:+14155550100");
        assert_eq!(p, a.of("whatsapp:+14155550100"));
        assert_ne!(p, a.of("whatsapp:+14155550101"));
        assert_ne!(p, b.of("whatsapp:+14155550100"), "another key, another pseudonym");
        assert!(p.starts_with("p:") && p.len() == 34, "{p}");
        assert!(!p.contains("4155550100"));
    }

    #[test]
    fn keys_are_64_hex_characters() {
        let key = parse_key(&format!("{}\n", "ab".repeat(32))).expect("a key file's newline is fine");
        assert_eq!(key, [0xab; 32]);
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33)] {
            let e = parse_key(bad).expect_err("rejected");
            assert!(e.contains("openssl rand -hex 32"), "{e}");
        }
    }
}
