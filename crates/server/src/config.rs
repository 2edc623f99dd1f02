//! Server settings that more than one subcommand shares, and the optional
//! config file (`--config`, e.g. `/etc/ferry/server.toml` of the package).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The config file: the same settings as the flags of the same names, which
/// (like their environment variables) take precedence over it.
///
/// ```toml
/// db = "sqlite:///var/lib/ferry/ferry.db"
/// listen = "0.0.0.0:8787"
/// # metrics_listen = "127.0.0.1:9187"   # or "off"
/// # tls_cert = "/etc/ferry/cert.pem"
/// # tls_key = "/etc/ferry/key.pem"
/// # max_body_bytes = 16777216
/// # login_concurrency = 4
/// # header_timeout_secs = 10
/// # max_connections = 1000
/// # max_event_streams = 8
/// # session_days = 30
/// # releases = "/var/lib/ferry/releases"
/// # mutation_horizon_days = 400
/// # compact_every_hours = 24
/// # max_clock_drift_secs = 300
/// # blobs = "/var/lib/ferry/blobs"        # or "s3://bucket/prefix"
/// # blob_staging = "/var/lib/ferry/uploads"
/// # max_file_mb = 1024
/// # file_quota_mb = 10240
/// ```
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub db: Option<String>,
    pub db_pool_size: Option<usize>,
    pub listen: Option<SocketAddr>,
    /// Address of `GET /metrics`, or `off`.
    pub metrics_listen: Option<crate::metrics::MetricsListen>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    /// Password checks at once; default: the number of cores.
    pub login_concurrency: Option<u32>,
    /// Seconds for a request's headers; also the idle timeout of a connection.
    pub header_timeout_secs: Option<u64>,
    /// Connections open at once.
    pub max_connections: Option<u32>,
    /// Event streams one user may have open.
    pub max_event_streams: Option<u32>,
    /// Days a session lasts unused; each use starts them again.
    pub session_days: Option<u32>,
    /// Directory of signed desktop releases served at `/v1/app/update`.
    pub releases: Option<PathBuf>,
    /// Days a mutation id is remembered.
    pub mutation_horizon_days: Option<u64>,
    /// Hours between history compactions; 0: never.
    pub compact_every_hours: Option<u64>,
    /// Seconds a client's clock may run ahead before its stamps are capped.
    pub max_clock_drift_secs: Option<u64>,
    /// Where attached files live: a directory or `s3://BUCKET[/PREFIX]`.
    pub blobs: Option<String>,
    /// Directory of unfinished uploads.
    pub blob_staging: Option<PathBuf>,
    /// Largest attached file, in MB.
    pub max_file_mb: Option<u64>,
    /// MB of files each user may upload in all.
    pub file_quota_mb: Option<u64>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("db", &self.db.as_deref().map(redact_url))
            .field("db_pool_size", &self.db_pool_size)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("login_concurrency", &self.login_concurrency)
            .field("header_timeout_secs", &self.header_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("max_event_streams", &self.max_event_streams)
            .field("session_days", &self.session_days)
            .field("releases", &self.releases)
            .field("mutation_horizon_days", &self.mutation_horizon_days)
            .field("compact_every_hours", &self.compact_every_hours)
            .field("max_clock_drift_secs", &self.max_clock_drift_secs)
            .field("blobs", &self.blobs)
            .field("blob_staging", &self.blob_staging)
            .field("max_file_mb", &self.max_file_mb)
            .field("file_quota_mb", &self.file_quota_mb)
            .finish()
    }
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ServerConfig::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<ServerConfig, String> {
        // The message alone: the full error quotes the line, which may hold a password.
        toml::from_str(text).map_err(|e: toml::de::Error| e.message().to_string())
    }
}

/// A database URL with any password replaced, safe for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::ServerConfig;

    #[test]
    fn reads_the_packaged_config() {
        let text = include_str!("../debian/server.toml");
        let config = ServerConfig::parse(text).expect("the packaged config parses");
        assert_eq!(
            config.db.as_deref(),
            Some("sqlite:///var/lib/ferry/ferry.db")
        );
        assert_eq!(
            config.listen.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:8787")
        );
    }

    #[test]
    fn reads_the_metrics_address_or_off() {
        use crate::metrics::MetricsListen;
        let on = ServerConfig::parse("metrics_listen = \"10.0.0.5:9187\"").expect("parses");
        assert_eq!(
            on.metrics_listen,
            Some(MetricsListen::On(([10, 0, 0, 5], 9187).into()))
        );
        let off = ServerConfig::parse("metrics_listen = \"off\"").expect("parses");
        assert_eq!(off.metrics_listen, Some(MetricsListen::Off));
        assert!(ServerConfig::parse("metrics_listen = \"public\"").is_err());
    }

    #[test]
    fn rejects_unknown_settings_and_hides_passwords() {
        let unknown = ServerConfig::parse("lisen = \"0.0.0.0:1\"").expect_err("a typo");
        assert!(unknown.contains("lisen"), "{unknown}");
        let config = ServerConfig::parse("db = \"postgres://u:secret@h/db\"").expect("parses");
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn reads_the_connection_and_login_limits() {
        let config = ServerConfig::parse(
            "login_concurrency = 3\nheader_timeout_secs = 20\nmax_connections = 500\nmax_event_streams = 4",
        )
        .expect("parses");
        assert_eq!(config.login_concurrency, Some(3));
        assert_eq!(config.header_timeout_secs, Some(20));
        assert_eq!(config.max_connections, Some(500));
        assert_eq!(config.max_event_streams, Some(4));
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("sqlite://ferry.db"), "sqlite://ferry.db");
    }
}
