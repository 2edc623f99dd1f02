//! WebKitGTK settings for the app's window, applied as soon as it exists
//! (before its page first paints). Ferry shows forms and a list of text:
//! it needs no GPU compositing, WebGL, audio, video, spell checking or
//! back/forward cache, and each of those costs the web process memory.

use tauri::{Runtime, WebviewWindow};

/// Tunes the window's webview for a light, text-only app.
#[cfg(target_os = "linux")]
pub fn tune<R: Runtime>(window: &WebviewWindow<R>) {
    let tuned = window.with_webview(|webview| {
        use webkit2gtk::{
            CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
        };
        let view = webview.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            // Software painting: no GL context, no Mesa in the web process
            // (where there is no GPU, Mesa's software GL alone costs tens of MB).
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            settings.set_enable_webgl(false);
            settings.set_enable_webaudio(false);
            settings.set_enable_media(false);
            settings.set_enable_media_stream(false);
            settings.set_enable_mediasource(false);
            // One page that never navigates: nothing to keep for "back".
            settings.set_enable_page_cache(false);
            // The app keeps its state in Rust, never in web storage.
            settings.set_enable_html5_local_storage(false);
        }
        if let Some(context) = view.context() {
            // Local content only: the smallest memory and disk caches.
            context.set_cache_model(CacheModel::DocumentViewer);
            context.set_spell_checking_enabled(false);
        }
    });
    if let Err(error) = tuned {
        tracing::warn!(%error, "could not tune the webview; it keeps WebKit's defaults");
    }
}

/// Other platforms' webviews keep their defaults.
#[cfg(not(target_os = "linux"))]
pub fn tune<R: Runtime>(_window: &WebviewWindow<R>) {}
