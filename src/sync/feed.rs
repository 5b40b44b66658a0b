//! The hub's feed as it travels: pages of indicator changes, signed with the hub's Ed25519 key, and the cursor
//! that says how far a device has read. The hub writes these types (`redflag-bridge`), devices read them
//! ([`super::client`]); one definition keeps the two in step.
//!
//! A page's signature covers the exact bytes of its body and travels in [`SIGNATURE_HEADER`]; a device verifies
//! the bytes against the key it pinned at pairing before it parses anything. A cursor names the hub it came from
//! (its key's fingerprint), so a cursor from another hub is refused by both sides instead of silently skipping or
//! replaying changes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::indicators::IndicatorKind;

/// The response header that carries a page's signature (base64 of the 64-byte Ed25519 signature).
pub const SIGNATURE_HEADER: &str = "x-redflag-signature";
/// Changes per page: about 150 bytes each, so a page stays under a megabyte.
pub const PAGE_SIZE: usize = 5_000;

/// The hub's public key as a device pins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubKey {
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// [`fingerprint`] of that key, for a person to compare with what the operator was shown.
    pub fingerprint: String,
}

/// One published indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// [`super::indicators::digest`] of the value.
    pub hash: String,
    pub kind: IndicatorKind,
    pub count: u32,
    pub last_seen: i64,
}

/// The changes after one cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorPage {
    /// The fingerprint of the key that signs the page.
    pub hub: String,
    /// The cursor this page continues from.
    pub cursor: String,
    /// The cursor after this page.
    pub next: String,
    /// Whether more changes follow `next`.
    pub more: bool,
    pub adds: Vec<Published>,
    /// Digests no longer published (removed or allowed by the operator).
    pub removes: Vec<String>,
}

/// The rules file an operator publishes, as it travels (signed like a page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// The fingerprint of the key that signs it.
    pub hub: String,
    /// The rules file's own `version` (`2026.12.05.5`).
    pub version: String,
    /// The rules file, TOML, as `models/rules.toml`.
    pub rules: String,
}

/// Rules versions in order: dot-separated numbers compared as numbers (`2026.12.10.1` after `2026.12.5.9`), then as
/// text where a part is not a number.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u64>().map_err(|_| p.to_string())).collect::<Vec<_>>();
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x, y) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
            (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// How far a device has read one hub's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor<'a> {
    pub hub: &'a str,
    pub seq: i64,
}

impl<'a> Cursor<'a> {
    /// The start of `hub`'s feed.
    pub fn start(hub: &'a str) -> Self {
        Cursor { hub, seq: 0 }
    }

    /// `fingerprint.seq`; `None` when it is not a cursor.
    pub fn parse(s: &'a str) -> Option<Self> {
        let (hub, seq) = s.rsplit_once('.')?;
        let seq = seq.parse().ok().filter(|n: &i64| *n >= 0)?;
        (!hub.is_empty()).then_some(Cursor { hub, seq })
    }
}

impl std::fmt::Display for Cursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.hub, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("the hub's public key is not a base64 Ed25519 key")]
    Key,
    #[error("the page's signature is missing or malformed")]
    MalformedSignature,
    #[error("the page's signature does not match the hub's key: it was changed on the way or signed by another hub")]
    BadSignature,
}

/// The fingerprint of an Ed25519 public key: the first 16 bytes of its SHA-256, hex in groups of four.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(public_key);
    let hex: Vec<String> = digest[..16].chunks(2).map(|c| format!("{:02x}{:02x}", c[0], c[1])).collect();
    hex.join("-")
}

/// The key and fingerprint a device pins, from the key's bytes.
pub fn hub_key(public_key: &[u8; 32]) -> HubKey {
    HubKey { public_key: BASE64.encode(public_key), fingerprint: fingerprint(public_key) }
}

/// The 32 bytes of a pinned key.
pub fn key_bytes(key: &HubKey) -> Result<[u8; 32], FeedError> {
    let bytes = BASE64.decode(key.public_key.trim()).map_err(|_| FeedError::Key)?;
    bytes.try_into().map_err(|_| FeedError::Key)
}

/// Check that `signature` (base64, from [`SIGNATURE_HEADER`]) signs exactly `body` with `key`.
pub fn verify(key: &HubKey, body: &[u8], signature: &str) -> Result<(), FeedError> {
    let key = VerifyingKey::from_bytes(&key_bytes(key)?).map_err(|_| FeedError::Key)?;
    let raw = BASE64.decode(signature.trim()).map_err(|_| FeedError::MalformedSignature)?;
    let raw: [u8; 64] = raw.try_into().map_err(|_| FeedError::MalformedSignature)?;
    // Strict verification refuses the malleable and small-order forms a lax verifier would accept.
    key.verify_strict(body, &Signature::from_bytes(&raw)).map_err(|_| FeedError::BadSignature)
}

/// Base64 of a signature, as it travels in [`SIGNATURE_HEADER`].
pub fn encode_signature(signature: &[u8; 64]) -> String {
    BASE64.encode(signature)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let signer = SigningKey::from_bytes(&[7u8; 32]);
        let key = hub_key(&signer.verifying_key().to_bytes());
        let body = br#"{"hub":"x","adds":[]}"#;
        let signature = encode_signature(&signer.sign(body).to_bytes());
        assert_eq!(verify(&key, body, &signature), Ok(()));
        assert_eq!(verify(&key, br#"{"hub":"x","adds":[1]}"#, &signature), Err(FeedError::BadSignature));
        assert_eq!(verify(&key, body, "not base64!"), Err(FeedError::MalformedSignature));
        let other = hub_key(&SigningKey::from_bytes(&[8u8; 32]).verifying_key().to_bytes());
        assert_eq!(verify(&other, body, &signature), Err(FeedError::BadSignature));
    }

    #[test]
    fn rules_versions_compare_as_numbers() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        assert_eq!(version_order("2026.12.10.1", "2026.12.5.9"), Greater);
        assert_eq!(version_order("2026.12.05.5", "2026.12.5.5"), Equal);
        assert_eq!(version_order("2026.12.05", "2026.12.05.1"), Less);
    }

    #[test]
    fn cursors_name_their_hub() {
        let fp = fingerprint(&[1u8; 32]);
        let c = Cursor { hub: &fp, seq: 42 }.to_string();
        assert_eq!(Cursor::parse(&c), Some(Cursor { hub: &fp, seq: 42 }));
        assert_eq!(Cursor::parse("nonsense"), None);
        assert_eq!(Cursor::parse("abc.-1"), None);
        assert_eq!(fp.len(), 39, "16 bytes in eight groups of four hex digits: {fp}");
    }
}
