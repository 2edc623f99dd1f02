//! Build script of the desktop shell: validates `tauri.conf.json`, the icons
//! and the capabilities, and prepares what `tauri::generate_context!` embeds.

/// Every command the window may call; each needs an `allow-…` entry in
/// `src-tauri/capabilities/default.json`, so nothing else is reachable.
const COMMANDS: &[&str] = &[
    "app_info",
    "status",
    "demo_server",
    "login",
    "logout",
    "recover_profile",
    "collections",
    "list_records",
    "count_records",
    "get_record",
    "create_record",
    "update_record",
    "delete_record",
    "restore_record",
    "record_history",
    "outbox",
    "conflicts",
    "resolve_conflict",
    "sync_now",
    "set_work_offline",
    "set_notifications",
    "quit",
];

fn main() {
    // The capabilities live beside the Rust sources, not at the repository
    // root where the Cargo manifest is, so point tauri-build at them (and tell
    // Cargo to watch them, which tauri-build leaves to us for a custom path).
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    // The built UI is embedded in the binary: a new UI build means a new binary.
    println!("cargo:rerun-if-changed=ui/dist");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
