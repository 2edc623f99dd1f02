//! Desktop notifications. Without a notification service the app carries
//! on: the failure is logged, never shown as an error.

use tauri::{AppHandle, Manager};

use crate::session::emit;
use crate::types::{EventName, OpenConflict};

/// Shows a notification on its own thread (the D-Bus call and the wait for
/// a click block); clicking one about a conflict opens it in the window.
pub fn show(app: &AppHandle, summary: &str, body: &str, open: Option<OpenConflict>) {
    let app = app.clone();
    let summary = summary.to_string();
    let body = body.to_string();
    let spawned = std::thread::Builder::new()
        .name("notification".into())
        .spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("Ferry")
                .summary(&summary)
                .body(&body)
                .icon("ferry-desktop");
            if open.is_some() {
                n.action("default", "Resolve");
            }
            match n.show() {
                #[cfg(all(unix, not(target_os = "macos")))]
                Ok(handle) => {
                    if let Some(open) = open {
                        handle.wait_for_action(|action| {
                            if action == "default" {
                                if let Some(w) = app.get_webview_window("main") {
                                    let _ = w.unminimize();
                                    let _ = w.show();
                                    let _ = w.set_focus();
                                }
                                emit(&app, EventName::OpenConflict, &open);
                            }
                        });
                    }
                }
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                Ok(_) => {}
                Err(e) => tracing::info!(error = %e, "no notification service; carrying on"),
            }
        });
    if let Err(e) = spawned {
        tracing::info!(error = %e, "could not start the notification thread");
    }
}
