//! App updates from the server the profile signs in to: an organisation
//! publishes signed releases on its own ferry-server, and the app installs
//! one only when its signature matches the public key built into the app
//! (`plugins.updater.pubkey` in tauri.conf.json) and covers the announced
//! version (`requireSignedVersion`).

use tauri::{AppHandle, Manager};
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::notify;
use crate::session::Desktop;

/// Where the signed-in server answers for this build; the updater fills in
/// `{{target}}`, `{{arch}}` and `{{current_version}}`.
fn endpoint(server: &str) -> Result<tauri::Url, String> {
    let url = format!(
        "{}/v1/app/update/{{{{target}}}}-{{{{arch}}}}/{{{{current_version}}}}",
        server.trim_end_matches('/')
    );
    url.parse()
        .map_err(|e| format!("the server address {server} is not a URL: {e}"))
}

/// Asks the signed-in server for a newer release; `None` when there is none
/// or the profile is not signed in.
pub async fn check(app: &AppHandle) -> Result<Option<Update>, String> {
    let desktop = app.state::<Desktop>();
    let client = desktop.client().await.map_err(|e| e.message)?;
    let Some(account) = client.profile().account().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let updater = app
        .updater_builder()
        .endpoints(vec![endpoint(&account.server)?])
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    updater
        .check()
        .await
        .map_err(|e| format!("could not check {} for updates: {e}", account.server))
}

/// At start-up: says so when a newer release waits (logged, and a desktop
/// notification pointing at the menu item that installs it).
pub fn check_in_background(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match check(&app).await {
            Ok(Some(update)) => {
                tracing::info!(
                    current = %update.current_version,
                    version = %update.version,
                    "a newer Ferry is available"
                );
                notify::show(
                    &app,
                    &format!("Ferry {} is available", update.version),
                    "Choose Ferry › Install update to install it.",
                    None,
                );
            }
            Ok(None) => tracing::debug!("Ferry is up to date"),
            Err(e) => tracing::info!(error = %e, "no update check"),
        }
    });
}

/// The menu's "Install update": downloads the release, verifies its
/// signature, installs it and restarts the app.
pub fn install(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let update = match check(&app).await {
            Ok(Some(update)) => update,
            Ok(None) => {
                notify::show(&app, "Ferry is up to date", "No newer release.", None);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "update check failed");
                notify::show(&app, "Could not check for updates", &e, None);
                return;
            }
        };
        tracing::info!(version = %update.version, "installing the update");
        if let Err(e) = update.download_and_install(|_, _| {}, || {}).await {
            tracing::warn!(error = %e, "the update was not installed");
            notify::show(&app, "The update was not installed", &e.to_string(), None);
            return;
        }
        // Installed beside the running app; it takes over on the next start.
        notify::show(
            &app,
            &format!("Ferry {} is installed", update.version),
            "Quit and start Ferry again to use it.",
            None,
        );
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_endpoint_keeps_the_updater_placeholders() {
        let url = super::endpoint("https://ferry.example.org/").expect("url");
        assert_eq!(
            url.as_str(),
            "https://ferry.example.org/v1/app/update/%7B%7Btarget%7D%7D-%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D"
        );
        assert!(super::endpoint("not a url").is_err());
    }
}
