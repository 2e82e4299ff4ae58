//! Pseudonymisation: the secret key and the keyed HMAC that turns identifiers into person keys.
//!
//! The key is special: it comes from an environment variable (never a config file), is never
//! printed (`Debug` shows only a fingerprint), and is wiped from memory when dropped. Without a
//! key a run refuses to start, except in demo mode, which uses [`PseudonymisationKey::demo`] and
//! says so loudly; the manifest records which kind of key was used.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Minimum key length in bytes: an HMAC-SHA256 key shorter than the hash gives less security.
pub const MIN_KEY_BYTES: usize = 32;

/// The fixed development key used only in demo mode. Public by design: data keyed with it is
/// not protected, which is why demo mode is announced and recorded in the manifest.
const DEMO_KEY: &[u8] = b"sendlake-demo-key-NOT-SECRET-do-not-use-with-real-data";

/// Where the key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// An environment variable (production).
    Environment,
    /// The fixed, public development key (demo mode only).
    Demo,
}

/// Why a key could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The variable is not set.
    #[error(
        "the pseudonymisation key is not set: set the environment variable {0} to a secret of at least {MIN_KEY_BYTES} bytes (or run with --demo on synthetic data)"
    )]
    Missing(String),
    /// The variable is set but too short.
    #[error(
        "the pseudonymisation key in {0} is too short: it must be at least {MIN_KEY_BYTES} bytes"
    )]
    TooShort(String),
}

/// The secret HMAC key.
pub struct PseudonymisationKey {
    bytes: Zeroizing<Vec<u8>>,
    source: KeySource,
}

impl std::fmt::Debug for PseudonymisationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PseudonymisationKey")
            .field("source", &self.source)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PseudonymisationKey {
    /// Reads the key from environment variable `var`.
    ///
    /// # Errors
    /// If the variable is missing, empty or shorter than [`MIN_KEY_BYTES`].
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        match std::env::var_os(var) {
            None => Err(KeyError::Missing(var.to_owned())),
            Some(v) if v.is_empty() => Err(KeyError::Missing(var.to_owned())),
            Some(v) => Self::from_bytes(v.as_encoded_bytes().to_vec())
                .ok_or_else(|| KeyError::TooShort(var.to_owned())),
        }
    }

    /// A key from raw bytes (tests, or a secret store); `None` if shorter than [`MIN_KEY_BYTES`].
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        let bytes = Zeroizing::new(bytes);
        (bytes.len() >= MIN_KEY_BYTES).then_some(Self {
            bytes,
            source: KeySource::Environment,
        })
    }

    /// The fixed, public development key for demo runs on synthetic data.
    pub fn demo() -> Self {
        Self {
            bytes: Zeroizing::new(DEMO_KEY.to_vec()),
            source: KeySource::Demo,
        }
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// A short, non-reversible fingerprint (first 12 hex chars of SHA-256 over a fixed label
    /// keyed with the key), so manifests show when the key changed without revealing it.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"sendlake key fingerprint v1");
        hex::encode(&mac.finalize().into_bytes()[..6])
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an empty-keyed MAC
        // type-wise only to avoid a panic path.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
        }
    }

    /// HMAC-SHA256 of `domain` and `value`, hex encoded (64 chars). The domain separates
    /// identifier kinds, so a UPN and a ULN that happen to share digits never collide.
    pub fn pseudonym(&self, domain: &str, value: &str) -> String {
        let mut mac = self.mac();
        mac.update(domain.as_bytes());
        mac.update(b"\x1f");
        mac.update(value.as_bytes());
        hex_lower(&mac.finalize().into_bytes())
    }
}

/// Lower-case hex, as `hex::encode` writes it. By table and byte: `hex::encode` goes through
/// a `char` iterator, which cost more than the hash itself for a 32-byte digest.
fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// A non-keyed digest for derived keys that are already pseudonymous (request keys).
pub fn digest_hex(parts: &[&str], hex_chars: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\x1f");
    }
    let mut out = hex_lower(&hasher.finalize());
    out.truncate(hex_chars);
    out
}

/// Normalises a free-text identity component for the fallback key: trimmed, inner whitespace
/// collapsed, upper-cased (Unicode-aware), so `  zoë  smith` and `ZOË SMITH` agree.
pub fn normalise_text(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_domain_separated_and_keyed() {
        let k1 = PseudonymisationKey::from_bytes(vec![7; 32]).unwrap();
        let k2 = PseudonymisationKey::from_bytes(vec![8; 32]).unwrap();
        let a = k1.pseudonym("upn", "T919123456789");
        assert_eq!(a, k1.pseudonym("upn", "T919123456789"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, k1.pseudonym("uln", "T919123456789"));
        assert_ne!(a, k2.pseudonym("upn", "T919123456789"));
        assert!(PseudonymisationKey::from_bytes(vec![1; 31]).is_none());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = PseudonymisationKey::from_bytes(b"super-secret-key-material-0123456789".to_vec())
            .unwrap();
        let shown = format!("{k:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains(&k.fingerprint()));
        assert_ne!(k.fingerprint(), PseudonymisationKey::demo().fingerprint());
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_lower(&bytes), hex::encode(&bytes));
        assert_eq!(digest_hex(&["a", "b"], 7).len(), 7);
    }

    #[test]
    fn text_normalisation() {
        assert_eq!(normalise_text("  zoë \t smith "), "ZOË SMITH");
    }
}
