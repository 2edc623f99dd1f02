//! Desktop app updates: the newest signed release for the asking build.
//!
//! A team publishes a release by dropping its update manifest (the
//! `latest.json` that the Tauri build writes: version, notes, date, and per
//! platform the installer's URL and its minisign signature) into the releases
//! directory. The directory is read on every request, so publishing needs no
//! restart. Signatures are checked by the app against the public key it was
//! built with; the server only chooses which release to announce.

use std::collections::BTreeMap;
use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Json;
use crate::AppState;
use crate::error::ApiError;

/// A release as the Tauri updater reads it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdateManifest {
    /// Semantic version of the release, e.g. `0.2.0`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// RFC 3339 publication time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    /// Installers by platform key: `{os}-{arch}` (e.g. `linux-x86_64`) or
    /// `{os}-{arch}-{installer}` (e.g. `linux-x86_64-deb`, `windows-x86_64-msi`).
    pub platforms: BTreeMap<String, PlatformRelease>,
}

/// One installer of a release.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlatformRelease {
    /// Contents of the installer's `.sig` file (minisign, base64).
    pub signature: String,
    pub url: String,
}

/// Longest platform target accepted in the path.
const MAX_TARGET: usize = 64;

/// The newest release for `target` when it is newer than `version`.
#[utoipa::path(get, path = "/v1/app/update/{target}/{version}", tag = "app",
    params(
        ("target" = String, Path, description = "`{os}-{arch}` of the asking app, e.g. `linux-x86_64`, `windows-x86_64`, `darwin-aarch64`"),
        ("version" = String, Path, description = "Version of the asking app (semantic version)"),
    ),
    responses(
        (status = 200, description = "A newer release, with this target's installers", body = UpdateManifest),
        (status = 204, description = "No newer release for this target"),
        (status = 400, description = "Malformed target or version", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn app_update(
    State(state): State<AppState>,
    UrlPath((target, version)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    if target.is_empty()
        || target.len() > MAX_TARGET
        || !target
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ApiError::Malformed(
            "target must be {os}-{arch}, e.g. linux-x86_64".into(),
        ));
    }
    let current = semver::Version::parse(&version).map_err(|e| {
        ApiError::Malformed(format!(
            "version {version:?} is not a semantic version: {e}"
        ))
    })?;
    let Some(dir) = state.releases.clone() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let releases = tokio::task::spawn_blocking(move || read_releases(&dir))
        .await
        .map_err(|_| ApiError::Internal)??;
    Ok(match newest_for(releases, &target, &current) {
        Some(release) => Json(release).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Every manifest in `dir` (`*.json`) with its parsed version; a file that
/// does not parse is logged and left out rather than hiding the others.
fn read_releases(dir: &Path) -> Result<Vec<(semver::Version, UpdateManifest)>, ApiError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // Nothing published yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "cannot read the releases directory");
            return Err(ApiError::Internal);
        }
    };
    let mut releases = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<UpdateManifest>(&text).map_err(|e| e.to_string())
            })
            .and_then(|m| {
                semver::Version::parse(m.version.trim_start_matches('v'))
                    .map(|v| (v, m))
                    .map_err(|e| format!("version: {e}"))
            });
        match parsed {
            Ok(release) => releases.push(release),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable release manifest");
            }
        }
    }
    Ok(releases)
}

/// The highest version above `current` that has an installer for `target`,
/// with only that target's installers.
fn newest_for(
    releases: Vec<(semver::Version, UpdateManifest)>,
    target: &str,
    current: &semver::Version,
) -> Option<UpdateManifest> {
    let prefix = format!("{target}-");
    releases
        .into_iter()
        .filter(|(v, _)| v > current)
        .filter_map(|(v, mut m)| {
            m.platforms
                .retain(|key, _| key == target || key.starts_with(&prefix));
            (!m.platforms.is_empty()).then_some((v, m))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, keys: &[&str]) -> (semver::Version, UpdateManifest) {
        let platforms = keys
            .iter()
            .map(|k| {
                (
                    (*k).to_string(),
                    PlatformRelease {
                        signature: format!("sig of {k}"),
                        url: format!("https://example.org/{version}/{k}"),
                    },
                )
            })
            .collect();
        (
            semver::Version::parse(version).expect("version"),
            UpdateManifest {
                version: version.into(),
                notes: None,
                pub_date: None,
                platforms,
            },
        )
    }

    #[test]
    fn picks_the_newest_release_that_has_the_target() {
        let current = semver::Version::new(0, 1, 0);
        let releases = vec![
            release("0.2.0", &["linux-x86_64-deb", "windows-x86_64-msi"]),
            release("0.3.0", &["windows-x86_64-msi"]),
            release("0.1.0", &["linux-x86_64-deb"]),
        ];
        let found = newest_for(releases.clone(), "linux-x86_64", &current).expect("an update");
        assert_eq!(found.version, "0.2.0");
        assert_eq!(
            found.platforms.keys().collect::<Vec<_>>(),
            ["linux-x86_64-deb"]
        );
        let windows = newest_for(releases.clone(), "windows-x86_64", &current).expect("update");
        assert_eq!(windows.version, "0.3.0");
        assert!(newest_for(releases.clone(), "darwin-aarch64", &current).is_none());
        // A target is matched whole: linux-x86 is not linux-x86_64.
        assert!(newest_for(releases, "linux-x86", &current).is_none());
    }

    #[test]
    fn nothing_when_the_app_is_current_or_newer() {
        let releases = vec![release("0.2.0", &["linux-x86_64"])];
        let same = semver::Version::new(0, 2, 0);
        assert!(newest_for(releases.clone(), "linux-x86_64", &same).is_none());
        let pre = semver::Version::parse("0.2.0-rc.1").expect("version");
        assert!(newest_for(releases, "linux-x86_64", &pre).is_some());
    }
}
