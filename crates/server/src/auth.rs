//! Passwords, tokens, the bearer-token extractor, and login throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
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
    verify_password_in(&mut Vec::new(), password, hash)
}

/// The largest Argon2 memory a stored hash may ask for (256 MiB), so a
/// hand-made hash cannot make a login allocate without bound.
const MAX_ARGON2_BLOCKS: usize = 256 * 1024;

/// [`verify_password`] with Argon2's working memory in `blocks`, which is
/// grown as needed and kept for the next check.
fn verify_password_in(blocks: &mut Vec<argon2::Block>, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let needed = params.block_count();
    if needed > MAX_ARGON2_BLOCKS {
        return false;
    }
    if blocks.len() < needed {
        blocks.resize(needed, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..needed])
        .is_ok()
        // `Output` compares in constant time.
        && argon2::password_hash::Output::new(&out).is_ok_and(|got| got == expected)
}

/// A check waiting for a [`PasswordChecker`] thread.
struct Check {
    password: String,
    /// `None`: the user does not exist; the decoy is checked instead.
    hash: Option<String>,
    reply: tokio::sync::oneshot::Sender<bool>,
    /// Held until the check is done, even if the login gave up waiting.
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Password checks on a fixed set of threads, each reusing its Argon2
/// memory (about 19 MiB): however many logins come, the server holds at
/// most that much per thread. Checks on tokio's blocking pool would each
/// allocate anew on whichever of its many threads, and the allocator keeps
/// that memory per thread.
pub struct PasswordChecker {
    jobs: std::sync::mpsc::Sender<Check>,
}

impl PasswordChecker {
    /// `threads` checking threads; they end when the checker is dropped.
    pub fn new(threads: usize) -> std::io::Result<PasswordChecker> {
        let (jobs, queue) = std::sync::mpsc::channel::<Check>();
        let queue = std::sync::Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || {
                    let mut blocks = Vec::new();
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        let Ok(check) = next else { return };
                        let hash = check.hash.as_deref().unwrap_or_else(|| decoy_hash());
                        let ok = verify_password_in(&mut blocks, &check.password, hash);
                        let _ = check.reply.send(ok);
                    }
                })?;
        }
        Ok(PasswordChecker { jobs })
    }

    /// Whether `password` matches `hash` (`None`: check the decoy and fail).
    /// `permit` is released when the check is done.
    pub async fn check(
        &self,
        password: String,
        hash: Option<String>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<bool, ApiError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Check {
                password,
                hash,
                reply,
                _permit: permit,
            })
            .map_err(|_| ApiError::Internal)?;
        let ok = answer.await.map_err(|_| ApiError::Internal)?;
        Ok(ok)
    }
}

/// A hash to verify against when the user does not exist, so that the
/// answer takes as long as for a real user.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// What [`valid_username`] asks of a name, for people.
pub const USERNAME_RULE: &str = "a username is 1 to 64 letters, digits, '.', '-' or '_'";

/// Whether `name` may be a username.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
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
        authenticate(parts, state, token).await
    }
}

/// The session of `token` (the hash of a bearer token or console cookie):
/// its device must be neither revoked nor idle past the session lifetime.
async fn authenticate(
    parts: &Parts,
    state: &AppState,
    token: TokenHash,
) -> Result<Authenticated, ApiError> {
    let device = state
        .store
        .token_device(&token)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let idle = idle_for(&device.last_seen);
    if device.wipe {
        // The audit line: what the device still held, when it says.
        let unsent = parts
            .headers
            .get(UNSENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        tracing::warn!(username = %device.username, device_id = %device.id, unsent_edits = ?unsent, "told a device to wipe its data");
    }
    check_device(&device, idle, state.limits.session_lifetime)?;
    // A contact moves the session's end on; noted once a minute at most
    // (more often only for sessions shorter than a few minutes).
    if idle > TOUCH_EVERY.min(state.limits.session_lifetime / 4) {
        let ip = crate::api::client_ip(&parts.extensions).map(|ip| ip.to_string());
        if let Err(e) = state.store.touch_session(&token, ip).await {
            tracing::warn!(error = %e, "cannot note a device's contact");
        }
    }
    Ok(Authenticated {
        session: device.session(),
        token,
    })
}

/// The console's session cookie: the token, `HttpOnly`, `SameSite=Strict`.
pub const CONSOLE_COOKIE: &str = "ferry_console";

/// The header the console sends with every request; a request that
/// authenticates with the cookie alone, without it, is refused (CSRF: no
/// other site can make a browser send a custom header without CORS, which
/// this server never allows).
pub const CSRF_HEADER: &str = "x-ferry-csrf";

/// The console cookie's token, when the request carries one.
pub fn console_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == CONSOLE_COOKIE)
        .map(|(_, token)| token)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The `Set-Cookie` value that starts (`Some(token)`) or ends a console
/// session. `secure`: the server speaks HTTPS.
pub fn console_set_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{CONSOLE_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{CONSOLE_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// An administrator's request: a bearer token, or the console's cookie
/// with [`CSRF_HEADER`], of an enabled user whose role is `admin`. 401
/// without a valid session, 403 for anyone else.
pub struct Admin {
    pub session: Session,
    pub token: TokenHash,
    pub ip: Option<String>,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = match bearer(parts) {
            Some(t) => t,
            None => {
                let t = console_cookie(parts).ok_or(ApiError::Unauthenticated)?;
                if !parts.headers.contains_key(CSRF_HEADER) {
                    return Err(ApiError::Csrf(format!(
                        "a request signed in by the console's cookie must carry the {CSRF_HEADER} header"
                    )));
                }
                t
            }
        };
        let auth = authenticate(parts, state, token_hash(token)).await?;
        let user = state.store.user_by_name(&auth.session.username).await?;
        if !user.is_some_and(|u| u.role == ferry_protocol::admin::Role::Admin && !u.disabled) {
            return Err(ApiError::Forbidden(
                "this needs an administrator's account (ferry-server user role NAME admin)".into(),
            ));
        }
        Ok(Admin {
            session: auth.session,
            token: auth.token,
            ip: crate::api::client_ip(&parts.extensions).map(|ip| ip.to_string()),
        })
    }
}

/// How many edits a device holds unsent, as it says (`DESIGN.md`, "Devices").
pub const UNSENT_HEADER: &str = "ferry-unsent-edits";

/// How often a device's last contact is written.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How long ago `last_seen` (RFC 3339) was; long ago when unreadable.
fn idle_for(last_seen: &str) -> Duration {
    chrono::DateTime::parse_from_rfc3339(last_seen)
        .ok()
        .and_then(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .ok()
        })
        .unwrap_or(Duration::MAX)
}

/// Whether a device's token still opens its session: not wiped, not
/// revoked, used within `lifetime`.
pub fn check_device(
    device: &crate::store::DeviceRow,
    idle: Duration,
    lifetime: Duration,
) -> Result<(), ApiError> {
    if device.wipe {
        return Err(ApiError::Wipe);
    }
    if device.revoked {
        return Err(ApiError::DeviceRevoked);
    }
    if idle > lifetime {
        return Err(ApiError::SessionExpired);
    }
    Ok(())
}

/// When a session used last at `last_seen` (RFC 3339) ends.
pub fn expires_at(last_seen: &str, lifetime: Duration) -> String {
    let start = chrono::DateTime::parse_from_rfc3339(last_seen)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    chrono::Duration::from_std(lifetime)
        .ok()
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

    #[tokio::test]
    async fn the_checker_threads_reuse_their_memory_and_agree_with_argon2() {
        let checker = PasswordChecker::new(1).expect("threads");
        let h = hash_password("correct horse").expect("hash");
        // Another cost: the thread's memory grows to fit, then is reused.
        let small = argon2::Params::new(1024, 1, 1, None).expect("params");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let h_small = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, small)
            .hash_password(b"battery staple", &salt)
            .expect("hash")
            .to_string();
        for (password, hash, expected) in [
            ("correct horse", &h, true),
            ("battery staple", &h_small, true),
            ("Correct horse", &h, false),
            ("correct horse", &h, true),
            ("battery stapl", &h_small, false),
        ] {
            let ok = checker
                .check(password.into(), Some(hash.clone()), None)
                .await
                .expect("check");
            assert_eq!(ok, expected, "{password}");
            assert_eq!(verify_password(password, hash), expected, "{password}");
        }
        // A stored hash that asks for 4 GiB of memory never matches.
        let greedy = h.replace("m=19456", "m=4194304");
        assert!(greedy.contains("m=4194304"), "{h}");
        assert!(!verify_password("correct horse", &greedy));
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
