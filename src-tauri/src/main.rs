//! Ferry's desktop shell: a thin Tauri layer over `ferry-core`.
//!
//! For the foundation milestone it opens the main window and answers one
//! command, `app_info`, so the UI can show which version is running.

// No console window beside the app in Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use serde::Serialize;

/// Who the running app is, as the UI shows it.
#[derive(Debug, Clone, Serialize)]
struct AppInfo {
    /// The product name from `tauri.conf.json` ("Ferry").
    name: String,
    /// The app version, taken from `Cargo.toml`.
    version: String,
}

#[tauri::command]
fn app_info(app: tauri::AppHandle) -> AppInfo {
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
    }
}

fn main() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![app_info])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("Ferry could not start: {error}");
        std::process::exit(1);
    }
}
