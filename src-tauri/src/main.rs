//! Ferry's desktop shell: a thin Tauri layer over `ferry-core`.
//!
//! One window works on one profile directory (`--profile DIR`,
//! `FERRY_PROFILE`, or the default under the OS data dir); a second Ferry on
//! the same profile refuses to start. Closing the window with unsent changes
//! asks first; they stay in the outbox either way.

// No console window beside the app in Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[macro_use]
mod command_list;
mod commands;
mod errors;
mod files;
mod menu;
mod notify;
mod session;
mod startup;
mod types;
mod updates;
mod webview;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager, WindowEvent};

use crate::session::{Desktop, emit};
use crate::types::{EventName, QuitRequested};

/// The invoke handler of every command in `command_list.rs`.
macro_rules! handler {
    ($($name:ident),* $(,)?) => {
        tauri::generate_handler![$(commands::$name),*]
    };
}

/// Set once quitting is decided, so the close that follows is let through.
static QUITTING: AtomicBool = AtomicBool::new(false);

fn profile_dir() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--profile" {
            return args
                .next()
                .map(PathBuf::from)
                .ok_or_else(|| "--profile needs a directory".to_string());
        }
        if let Some(dir) = arg.strip_prefix("--profile=") {
            return Ok(PathBuf::from(dir));
        }
    }
    if let Some(dir) = std::env::var_os("FERRY_PROFILE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    ferry_core::Profile::default_dir().map_err(|e| e.to_string())
}

/// Holds the profile's lock for the life of the process: one Ferry per profile.
fn lock_profile(dir: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("desktop.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "Ferry is already open for the profile {}; switch to that window",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Quits now when nothing waits to be sent; otherwise asks the window first.
pub fn request_quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let desktop = app.state::<Desktop>();
        let outbox = match desktop.client().await {
            Ok(c) => c.store().pending_counts().map(|c| c.outbox).unwrap_or(0),
            Err(_) => 0,
        };
        let window = app.get_webview_window("main");
        if outbox > 0 && window.is_some() {
            emit(&app, EventName::QuitRequested, &QuitRequested { outbox });
        } else {
            QUITTING.store(true, Ordering::SeqCst);
            desktop.shutdown().await;
            app.exit(0);
        }
    });
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ferry=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    startup::mark("main");
    startup::wake_desktop_services();
    let dir = match profile_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("Ferry could not start: {e}");
            std::process::exit(2);
        }
    };
    let lock = match lock_profile(&dir) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("Ferry could not start: {e}");
            std::process::exit(1);
        }
    };
    startup::mark("profile locked");
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .menu(menu::build)
        .on_menu_event(menu::on_event)
        .setup(move |app| {
            // Tauri builds the configured window before this runs.
            startup::mark("window built");
            if let Some(window) = app.get_webview_window("main") {
                webview::tune(&window);
            }
            app.manage(lock);
            app.manage(Desktop::open(app.handle().clone(), &dir));
            updates::check_in_background(app.handle());
            Ok(())
        })
        .on_page_load(|_, payload| {
            if matches!(payload.event(), tauri::webview::PageLoadEvent::Finished) {
                startup::mark("page loaded");
            }
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && !QUITTING.load(Ordering::SeqCst)
            {
                api.prevent_close();
                request_quit(window.app_handle());
            }
        })
        .invoke_handler(with_commands!(handler))
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("Ferry could not start: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_ferry_on_the_same_profile_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = super::lock_profile(dir.path()).expect("first");
        let second = super::lock_profile(dir.path()).expect_err("second");
        assert!(second.contains("already open"), "{second}");
        drop(first);
        super::lock_profile(dir.path()).expect("free again");
    }
}
