//! Build script of the desktop shell: validates `tauri.conf.json`, the icons
//! and the capabilities, and prepares what `tauri::generate_context!` embeds.

fn main() {
    // The capabilities live beside the Rust sources, not at the repository
    // root where the Cargo manifest is, so point tauri-build at them (and tell
    // Cargo to watch them, which tauri-build leaves to us for a custom path).
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
