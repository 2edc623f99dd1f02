//! How this device names itself to the server (shown in sessions and logs).

/// "APP on HOSTNAME", or just APP when the host has no name.
pub fn device_name(app: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    match host {
        Some(h) => format!("{app} on {h}"),
        None => app.to_string(),
    }
}
