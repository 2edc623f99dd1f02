//! Build script of the desktop shell: validates `tauri.conf.json`, the icons
//! and the capabilities, and prepares what `tauri::generate_context!` embeds.

include!("src/command_list.rs");

/// Every command the window may call (`src/command_list.rs`); each needs an
/// `allow-…` entry in `src-tauri/capabilities/default.json`, so nothing
/// else is reachable.
const COMMANDS: &[&str] = with_commands!(command_names);

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
