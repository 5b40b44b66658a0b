//! Content hashes: the LLM cache's key, the history's input hash, the bridge's API-key and unreplyable-sender
//! digests. One function so every caller hashes the same bytes the same way.

use sha2::{Digest, Sha256};

/// SHA-256 of a text, as lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(super::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
