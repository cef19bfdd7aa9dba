//! Password hashing and secret tokens for staff logins and citizen tickets.
//!
//! Is: argon2id password hashes (PHC strings with a random salt) and random bearer tokens
//! of which only a SHA-256 is ever stored. Is not: sessions or users (the store keeps
//! those) nor rate limiting (the HTTP layer's job).
//!
//! Invariants: randomness comes from the operating system (getrandom) and a failure to
//! get it is an error (or, for tokens, a panic), never a weaker fallback; a password check never panics on a
//! malformed stored hash, it just fails.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Bytes of randomness in a token: 256 bits, far beyond guessing.
const TOKEN_BYTES: usize = 32;
/// The salt length the PHC string format recommends.
const SALT_BYTES: usize = 16;

/// Hashes `password` with argon2id (the crate's defaults, which follow the OWASP
/// recommendation) and a fresh random salt; returns the PHC string to store.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|_| AuthError::Random)?;
    let hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// A hash of a random password nobody knows, to verify against when there is no account,
/// so that sign-in takes as long whether or not the account exists.
pub fn decoy_phc() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let (secret, _) = new_secret_token();
        hash_password(&secret).unwrap_or_default()
    })
}

/// Whether `password` matches the PHC string `phc`. The parameters come from `phc`, so
/// hashes made with older settings keep working. argon2 compares the digests in constant
/// time. A malformed `phc` is simply a mismatch.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A new random token: the string for the client (32 random bytes, base64url without
/// padding) and its SHA-256, which is all the server stores.
///
/// # Panics
/// If the operating system cannot supply randomness. That leaves no safe way to issue a
/// credential, and on the platforms we run on it does not happen once the system is up.
pub fn new_secret_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; TOKEN_BYTES];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("operating system random number generator failed");
    let token = base64::prelude::BASE64_URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// A random password for a generated account (the demo's): 128 bits, 22 characters of
/// base64url, shown to the operator once.
///
/// # Panics
/// If the operating system cannot supply randomness, as [`new_secret_token`].
pub fn random_password() -> String {
    let mut bytes = [0u8; 16];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("operating system random number generator failed");
    base64::prelude::BASE64_URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token string as the client presents it. No salt is needed: tokens are
/// random and long, unlike passwords.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_hash_matches_no_password() {
        let d = decoy_phc();
        assert!(d.starts_with("$argon2id$"));
        assert!(!verify_password("", d) && !verify_password("correct horse battery", d));
        assert_eq!(d, decoy_phc(), "made once");
    }

    #[test]
    fn password_round_trip_and_wrong_password() {
        let phc = hash_password("सही घोड़ा battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("सही घोड़ा battery staple", &phc));
        assert!(!verify_password("सही घोड़ा battery stapler", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn same_password_gets_a_different_salt() {
        let a = hash_password("pw").unwrap();
        let b = hash_password("pw").unwrap();
        assert_ne!(a, b);
        assert!(verify_password("pw", &a) && verify_password("pw", &b));
    }

    #[test]
    fn malformed_hash_is_a_mismatch_not_a_panic() {
        assert!(!verify_password("pw", ""));
        assert!(!verify_password("pw", "$argon2id$garbage"));
        assert!(!verify_password("pw", "plaintext"));
    }

    #[test]
    fn tokens_are_distinct_urlsafe_and_hash_to_what_is_stored() {
        let (t1, h1) = new_secret_token();
        let (t2, h2) = new_secret_token();
        assert_ne!(t1, t2);
        assert_ne!(h1, h2);
        assert_eq!(t1.len(), 43, "32 bytes in unpadded base64");
        assert!(t1
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(hash_token(&t1), h1);
        assert_eq!(hash_token(&t2), h2);
    }

    #[test]
    fn random_passwords_are_long_and_distinct() {
        let (a, b) = (random_password(), random_password());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
    }

    #[test]
    fn token_hash_is_sha256_of_the_string() {
        // SHA-256("abc"), the FIPS 180-2 example.
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let got: String = hash_token("abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }
}
