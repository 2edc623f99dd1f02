//! The app menu: Import, Export, Sync now, Work offline, Install update, Quit.

use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager, Wry};

use crate::session::{Desktop, emit};
use crate::types::{EventName, MenuCommand};

const SYNC_NOW: &str = "sync-now";
const WORK_OFFLINE: &str = "work-offline";
const QUIT: &str = "quit";
const INSTALL_UPDATE: &str = "install-update";
const IMPORT: &str = "import";
const EXPORT: &str = "export";

/// The "Work offline" item, kept so its tick follows the switch in the window.
pub struct OfflineItem(CheckMenuItem<Wry>);

pub fn build(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let offline = CheckMenuItem::with_id(
        app,
        WORK_OFFLINE,
        "Work offline",
        true,
        false,
        Some("CmdOrCtrl+Shift+O"),
    )?;
    app.manage(OfflineItem(offline.clone()));
    let file = Submenu::with_items(
        app,
        "File",
        true,
        &[
            &MenuItem::with_id(app, IMPORT, "Import…", true, Some("CmdOrCtrl+I"))?,
            &MenuItem::with_id(app, EXPORT, "Export…", true, Some("CmdOrCtrl+E"))?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, SYNC_NOW, "Sync now", true, Some("CmdOrCtrl+R"))?,
            &offline,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, INSTALL_UPDATE, "Install update", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit", true, Some("CmdOrCtrl+Q"))?,
        ],
    )?;
    let edit = Submenu::with_items(
        app,
        "Edit",
        true,
        &[
            &PredefinedMenuItem::undo(app, None)?,
            &PredefinedMenuItem::redo(app, None)?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::cut(app, None)?,
            &PredefinedMenuItem::copy(app, None)?,
            &PredefinedMenuItem::paste(app, None)?,
            &PredefinedMenuItem::select_all(app, None)?,
        ],
    )?;
    Menu::with_items(app, &[&file, &edit])
}

pub fn set_offline_checked(app: &AppHandle, offline: bool) {
    if let Some(item) = app.try_state::<OfflineItem>() {
        let _ = item.0.set_checked(offline);
    }
}

pub fn on_event(app: &AppHandle, event: MenuEvent) {
    let app = app.clone();
    match event.id().as_ref() {
        SYNC_NOW => {
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                if let Ok(client) = desktop.client().await
                    && let Err(e) = client.sync_now()
                {
                    tracing::info!(error = %e, "no sync from the menu");
                }
            });
        }
        WORK_OFFLINE => {
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                if let Ok(client) = desktop.client().await {
                    let offline = !client.work_offline().unwrap_or(false);
                    if let Err(e) = client.set_work_offline(offline) {
                        tracing::warn!(error = %e, "could not switch offline");
                    }
                    set_offline_checked(&app, offline);
                    desktop.emit_status().await;
                }
            });
        }
        INSTALL_UPDATE => crate::updates::install(&app),
        // The window knows which collection is open: it opens the dialog.
        IMPORT => emit(&app, EventName::Menu, &MenuCommand::Import),
        EXPORT => emit(&app, EventName::Menu, &MenuCommand::Export),
        QUIT => crate::request_quit(&app),
        _ => {}
    }
}
