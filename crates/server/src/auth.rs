//! Passwords, tokens, the bearer-token extractor, and login throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::store::{Session, TokenHash};

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so that the
/// answer takes as long as for a real user.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// A new bearer token: 256 random bits, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The session of the request's bearer token; 401 without a valid one.
pub struct Authenticated {
    pub session: Session,
    pub token: TokenHash,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_hash(bearer(parts).ok_or(ApiError::Unauthenticated)?);
        let session = state
            .store
            .session(&token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Authenticated { session, token })
    }
}

/// Counts failed logins per username and per client address; past the limit
/// within the window, further attempts answer 429 until the window passes.
///
/// An attempt is counted as a failure before its password is checked
/// ([`LoginThrottle::begin`]), in the same lock as the limit check, so that
/// concurrent attempts cannot all pass the check before any failure counts.
pub struct LoginThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// A login attempt counted by [`LoginThrottle::begin`]. Dropped without
/// [`Attempt::failed`] or [`Attempt::succeeded`] (the request ended before
/// the password was checked), it is uncounted again.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<String>,
    settled: bool,
}

impl LoginThrottle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{}", username.to_lowercase())];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an attempt as failed unless a key is over its limit:
    /// `Err(seconds)` until the window passes.
    pub fn begin(&self, username: &str, ip: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        let mut failures = self.lock();
        let now = Instant::now();
        failures.retain(|_, (_, start)| now.duration_since(*start) < self.window);
        let keys = Self::keys(username, ip);
        for key in &keys {
            if let Some((count, start)) = failures.get(key) {
                // The address limit is looser: several people may share one.
                let limit = if key.starts_with("ip:") {
                    self.limit.saturating_mul(4)
                } else {
                    self.limit
                };
                if *count >= limit {
                    let left = self.window.saturating_sub(now.duration_since(*start));
                    return Err(left.as_secs().max(1));
                }
            }
        }
        for key in &keys {
            let entry = failures.entry(key.clone()).or_insert((0, now));
            entry.0 = entry.0.saturating_add(1);
        }
        Ok(Attempt {
            throttle: self,
            keys,
            settled: false,
        })
    }

    /// Takes back one counted attempt of each key.
    fn uncount(&self, keys: &[String]) {
        let mut failures = self.lock();
        for key in keys {
            if let Some(entry) = failures.get_mut(key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }
}

impl Attempt<'_> {
    /// The password was wrong: the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The password was right: the username's failures are forgiven, and
    /// this attempt does not count against the address.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.uncount(&self.keys[1..]);
        self.throttle.lock().remove(&self.keys[0]);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.uncount(&self.keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("Correct horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_256_bits_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .expect("base64");
        assert_eq!(raw.len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn throttle_blocks_after_the_limit_and_resets_on_success() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            t.begin("Alice", None).expect("under the limit").failed();
        }
        assert!(
            t.begin("alice", None).is_err(),
            "usernames are throttled case-insensitively"
        );
        t.begin("bob", None).expect("another user").succeeded();
        t.lock().remove("user:alice");
        t.begin("alice", None).expect("after a reset").succeeded();
        t.begin("alice", None)
            .expect("a success counts nothing")
            .failed();
    }

    #[test]
    fn attempts_are_counted_before_they_end() {
        let t = LoginThrottle::new(2, Duration::from_secs(60));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let first = t.begin("alice", ip).expect("first");
        let second = t.begin("alice", ip).expect("second");
        assert!(
            t.begin("alice", ip).is_err(),
            "two attempts in flight fill the limit"
        );
        // One that ends before its password is checked is not counted.
        drop(second);
        first.succeeded();
        for _ in 0..2 {
            t.begin("alice", ip).expect("forgiven").failed();
        }
        assert!(t.begin("alice", ip).is_err());
        assert!(
            t.begin("bob", ip).is_ok(),
            "the address is still under its limit"
        );
    }
}
