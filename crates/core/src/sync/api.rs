//! The HTTP side of protocol v1: one method per endpoint, errors mapped to
//! what a user can do about them.

use std::time::Duration;

use ferry_protocol::{
    ChangesResponse, ErrorResponse, Health, HistoryResponse, LoginRequest, LoginResponse, Mutation,
    PushResponse, SchemaResponse,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::profile::Token;

/// How long requests wait on the network. A connection that goes silent (a
/// black hole: packets vanish, nothing is reset) fails after `read_timeout`
/// instead of hanging; one that is slow but keeps moving does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// To open a connection.
    pub connect_timeout: Duration,
    /// For the answer to start (counted from sending the request) and then
    /// between two reads of its body. The event stream has its own deadline
    /// instead (`ConnectivityOptions::event_silence`).
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// What the server holds of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobHead {
    /// Stored and mine to read, this many bytes.
    Stored(u64),
    /// Not stored (or not mine); my unfinished upload continues at `offset`.
    Missing { offset: u64 },
}

const USER_AGENT: &str = concat!("ferry-core/", env!("CARGO_PKG_VERSION"));

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<Token>,
    options: HttpOptions,
    /// Edits this device holds unsent, told to the server with each request.
    unsent: Option<i64>,
    /// The server's epoch as this device last saw it, sent with each request.
    epoch: Option<String>,
    /// The epoch the server's latest answer named.
    seen_epoch: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// The header that carries the server's epoch (DESIGN.md, "Backups and restore").
pub const EPOCH_HEADER: &str = "x-ferry-epoch";

/// The request header that tells the server how many edits wait unsent on
/// this device (logged if the server tells it to wipe).
pub const UNSENT_HEADER: &str = "ferry-unsent-edits";

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Normalises a server URL: `http(s)://host[:port]`, no trailing slash.
pub fn normalise_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url).map_err(|_| Error::BadUrl(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::BadUrl(url.to_string()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::BadUrl("<a URL with credentials>".into()));
    }
    Ok(url.to_string())
}

/// A warning when `server` is reached over plain HTTP beyond this machine:
/// the password and every record would cross the network readable and
/// changeable by anyone on the way. `None` for HTTPS and for loopback.
pub fn plain_http_warning(server: &str) -> Option<String> {
    let url = reqwest::Url::parse(server.trim()).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        format!(
            "{host} is reached over plain http://: your password and records cross the network unencrypted; ask for an https:// address"
        )
    })
}

impl Api {
    pub fn new(server: &str, token: Option<Token>) -> Result<Api> {
        Api::with_options(server, token, HttpOptions::default())
    }

    pub fn with_options(server: &str, token: Option<Token>, options: HttpOptions) -> Result<Api> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            // The server closes a connection idle for 10 s (its header
            // timeout); dropping ours sooner avoids sending into a closing one.
            .pool_idle_timeout(Duration::from_secs(5))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| Error::Unreachable {
                url: server.to_string(),
                detail: e.to_string(),
                kind: crate::error::ConnectionFailure::of(&e),
            })?;
        Ok(Api {
            base: normalise_url(server)?,
            http,
            token,
            options,
            unsent: None,
            epoch: None,
            seen_epoch: Default::default(),
        })
    }

    /// Tells the server, with each request, the epoch this device knows:
    /// a server restored since answers 410 `epoch_changed`.
    pub fn with_epoch(mut self, epoch: Option<String>) -> Api {
        self.epoch = epoch;
        self
    }

    /// The epoch the server's latest answer named, if any did.
    pub fn seen_epoch(&self) -> Option<String> {
        self.seen_epoch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Tells the server, with each request, how many edits wait unsent here.
    pub fn with_unsent(mut self, unsent: i64) -> Api {
        self.unsent = Some(unsent);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_on(&self.http, method, path)
    }

    fn request_on(&self, http: &reqwest::Client, method: Method, path: &str) -> RequestBuilder {
        let mut req = http.request(method, format!("{}{path}", self.base));
        if let Some(n) = self.unsent {
            req = req.header(UNSENT_HEADER, n);
        }
        if let Some(e) = &self.epoch {
            req = req.header(EPOCH_HEADER, e);
        }
        match &self.token {
            Some(t) => req.bearer_auth(t.expose()),
            None => req,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail = format!("{detail}: {s}");
            source = s.source();
        }
        Error::Unreachable {
            url: self.base.clone(),
            detail,
            kind: crate::error::ConnectionFailure::of(e),
        }
    }

    /// Sends a request; maps transport failures and error statuses.
    pub(crate) async fn send(
        &self,
        req: RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let req = match timeout {
            Some(t) => req.timeout(t),
            None => req,
        };
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let epoch = resp
            .headers()
            .get(EPOCH_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if epoch.is_some() {
            *self.seen_epoch.lock().unwrap_or_else(|e| e.into_inner()) = epoch.clone();
        }
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        if status == StatusCode::GONE {
            let code = serde_json::from_str::<ErrorResponse>(&text)
                .map(|b| b.error.code)
                .unwrap_or_default();
            match code.as_str() {
                "cursor_expired" => return Err(Error::CursorExpired),
                "epoch_changed" => return Err(Error::EpochChanged { epoch }),
                _ => {}
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            let code = serde_json::from_str::<ErrorResponse>(&text)
                .map(|b| b.error.code)
                .unwrap_or_default();
            return Err(Error::AuthFailed {
                why: crate::error::AuthFailure::of_code(&code),
            });
        }
        match serde_json::from_str::<ErrorResponse>(&text) {
            Ok(body) => Err(Error::Server {
                status: status.as_u16(),
                body: body.error,
            }),
            Err(_) if status == StatusCode::NOT_FOUND => Err(Error::Incompatible {
                url: self.base.clone(),
                detail: "no /v1 API at this address".into(),
            }),
            Err(_) => Err(Error::Server {
                status: status.as_u16(),
                body: ferry_protocol::ErrorBody::new(
                    "http_error",
                    text.chars().take(200).collect::<String>(),
                ),
            }),
        }
    }

    /// No overall time limit: the read timeout fails a stalled answer, and a
    /// large one that keeps arriving may take as long as it takes.
    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let resp = self.send(req, None).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Incompatible {
            url: self.base.clone(),
            detail: e.to_string(),
        })
    }

    pub async fn health(&self) -> Result<Health> {
        let resp = self
            .send(
                self.request(Method::GET, "/v1/health"),
                Some(Duration::from_secs(10)),
            )
            .await
            .map_err(|e| match e {
                Error::Server { status, .. } => Error::Incompatible {
                    url: self.base.clone(),
                    detail: format!("/v1/health answered {status}"),
                },
                other => other,
            })?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        let health: Health = serde_json::from_slice(&bytes).map_err(|e| Error::Incompatible {
            url: self.base.clone(),
            detail: e.to_string(),
        })?;
        if health.status != "ok" {
            return Err(Error::Incompatible {
                url: self.base.clone(),
                detail: format!("status {:?}", health.status),
            });
        }
        Ok(health)
    }

    /// Signs in as device `device_name` of app `app` ("ferry CLI"), which the
    /// server lists with this version.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        device_name: &str,
        app: &str,
    ) -> Result<LoginResponse> {
        let body = LoginRequest {
            username: username.to_string(),
            password: password.to_string(),
            device_name: device_name.to_string(),
            platform: Some(std::env::consts::OS.to_string()),
            app_version: Some(format!("{app} {}", env!("CARGO_PKG_VERSION"))),
        };
        match self
            .json(self.request(Method::POST, "/v1/auth/login").json(&body))
            .await
        {
            Err(Error::AuthFailed { .. }) => Err(Error::BadCredentials),
            other => other,
        }
    }

    pub async fn logout(&self) -> Result<()> {
        self.send(
            self.request(Method::POST, "/v1/auth/logout"),
            Some(Duration::from_secs(10)),
        )
        .await?;
        Ok(())
    }

    /// This user's signed-in devices (`GET /v1/devices`).
    pub async fn devices(&self) -> Result<Vec<ferry_protocol::Device>> {
        let list: ferry_protocol::DevicesResponse =
            self.json(self.request(Method::GET, "/v1/devices")).await?;
        Ok(list.devices)
    }

    /// Signs one of this user's devices out (`DELETE /v1/devices/{id}`).
    pub async fn sign_out_device(&self, id: uuid::Uuid) -> Result<()> {
        self.send(
            self.request(Method::DELETE, &format!("/v1/devices/{id}")),
            Some(Duration::from_secs(10)),
        )
        .await?;
        Ok(())
    }

    /// The schema, with the field types this client understands beyond
    /// the first eight (`file`).
    pub async fn schema(&self) -> Result<SchemaResponse> {
        self.json(self.request(Method::GET, "/v1/schema?types=file"))
            .await
    }

    /// Whether the server holds blob `sha256` for me: its size, or where my
    /// unfinished upload of it continues.
    pub async fn blob_head(&self, sha256: &str) -> Result<BlobHead> {
        let resp = self
            .request(Method::HEAD, &format!("/v1/blobs/{sha256}"))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        match resp.status() {
            StatusCode::OK => Ok(BlobHead::Stored(
                header("content-length").unwrap_or_default(),
            )),
            StatusCode::NOT_FOUND => match header("upload-offset") {
                Some(offset) => Ok(BlobHead::Missing { offset }),
                None => Err(Error::Incompatible {
                    url: self.base.clone(),
                    detail: "this server keeps no files".into(),
                }),
            },
            // A HEAD has no body to say why.
            StatusCode::UNAUTHORIZED => Err(Error::AuthFailed {
                why: crate::error::AuthFailure::Rejected,
            }),
            status => Err(Error::Server {
                status: status.as_u16(),
                body: ferry_protocol::ErrorBody::new(
                    "http_error",
                    format!("HEAD answered {status}"),
                ),
            }),
        }
    }

    /// Sends bytes `offset..offset + len` of a `total`-byte blob from
    /// `body`; the answer says how much the server now holds.
    pub async fn blob_put(
        &self,
        sha256: &str,
        offset: u64,
        len: u64,
        total: u64,
        body: reqwest::Body,
    ) -> Result<ferry_protocol::BlobStatus> {
        let range = format!("bytes {offset}-{}/{total}", offset + len.max(1) - 1);
        let mut req = self
            .request(Method::PUT, &format!("/v1/blobs/{sha256}"))
            .header("content-type", "application/octet-stream")
            .header("content-length", len);
        if total > 0 {
            req = req.header("content-range", range);
        }
        self.json(req.body(body)).await
    }

    /// Blob `sha256` from byte `from`, asked for through the record that
    /// names it; the response streams the bytes.
    pub async fn blob_get(
        &self,
        sha256: &str,
        through: Option<(&str, uuid::Uuid)>,
        from: u64,
    ) -> Result<reqwest::Response> {
        let mut req = self.request(Method::GET, &format!("/v1/blobs/{sha256}"));
        if let Some((collection, id)) = through {
            req = req.query(&[("collection", collection), ("record", &id.to_string())]);
        }
        if from > 0 {
            req = req.header("range", format!("bytes={from}-"));
        }
        self.send(req, None).await
    }

    /// A page of changes; `F` is how the records' fields are read:
    /// [`ferry_protocol::Fields`], or `Box<RawValue>` to keep them as sent.
    pub async fn changes<F: serde::de::DeserializeOwned>(
        &self,
        since: Option<&str>,
        limit: usize,
    ) -> Result<ChangesResponse<F>> {
        let mut req = self
            .request(Method::GET, "/v1/changes")
            .query(&[("limit", limit.to_string())]);
        if let Some(since) = since {
            req = req.query(&[("since", since)]);
        }
        self.json(req).await
    }

    pub async fn push(&self, mutations: &[Mutation]) -> Result<PushResponse> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            mutations: &'a [Mutation],
        }
        self.json(
            self.request(Method::POST, "/v1/push")
                .json(&Body { mutations }),
        )
        .await
    }

    /// A page of one record's versions after `after_version` (0: from the
    /// first), oldest first; `has_more` says whether later ones exist.
    pub async fn history(
        &self,
        collection: &str,
        id: uuid::Uuid,
        after_version: i64,
    ) -> Result<HistoryResponse> {
        if collection.is_empty()
            || !collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::UnknownCollection(collection.to_string()));
        }
        self.json(self.request(
            Method::GET,
            &format!("/v1/records/{collection}/{id}/history?after_version={after_version}"),
        ))
        .await
    }

    /// Opens the Server-Sent Events stream: no overall or read timeout here;
    /// the listener decides how much silence means a dead connection.
    pub async fn events(&self) -> Result<reqwest::Response> {
        let http = reqwest::Client::builder()
            .connect_timeout(self.options.connect_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| self.unreachable(&e))?;
        self.send(
            self.request_on(&http, Method::GET, "/v1/events")
                .header("accept", "text/event-stream"),
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_flagged_beyond_loopback_only() {
        for quiet in [
            "https://ferry.example.com",
            "http://127.0.0.1:8787",
            "http://127.8.0.1",
            "http://localhost:8787",
            "http://LOCALHOST",
            "http://[::1]:8787",
            "not a url",
        ] {
            assert_eq!(plain_http_warning(quiet), None, "{quiet}");
        }
        for loud in [
            "http://ferry.example.com",
            "http://192.168.1.20:8787",
            "http://localhost.example.com",
            "http://[fe80::1]",
        ] {
            let warning = plain_http_warning(loud).unwrap_or_default();
            assert!(warning.contains("unencrypted"), "{loud}: {warning}");
        }
    }

    #[test]
    fn urls_are_normalised_and_credentials_refused() {
        assert_eq!(
            normalise_url("http://127.0.0.1:8787/").expect("ok"),
            "http://127.0.0.1:8787"
        );
        assert!(normalise_url("ftp://x").is_err());
        assert!(normalise_url("not a url").is_err());
        let err = normalise_url("http://u:pw@host").expect_err("credentials");
        assert!(!err.to_string().contains("pw"));
    }
}
