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
        // A web process that dies (a crash, or past its memory limit) would
        // leave a blank window: load the page again, or, when it keeps
        // dying, say so instead of looping.
        let crashes = std::cell::RefCell::new(Vec::new());
        view.connect_web_process_terminated(move |view, reason| {
            use webkit2gtk::WebProcessTerminationReason as Why;
            if matches!(reason, Why::TerminatedByApi) {
                return;
            }
            tracing::error!(?reason, "the window's web process ended");
            match after_crash(&mut crashes.borrow_mut(), std::time::Instant::now()) {
                Recovery::Reload => view.reload(),
                Recovery::GiveUp => view.load_html(GAVE_UP, None),
            }
        });
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

/// What to do when the web process ends unasked.
#[derive(Debug, PartialEq, Eq)]
enum Recovery {
    Reload,
    GiveUp,
}

/// More crashes than this within [`CRASH_WINDOW`] and the page is not
/// loaded again.
const MAX_CRASHES: usize = 3;
const CRASH_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Shown when the page keeps crashing; the data is safe in the local database.
#[cfg(target_os = "linux")]
const GAVE_UP: &str = "<!doctype html><meta charset=utf-8><title>Ferry</title>\
<body style=\"font: 15px system-ui, sans-serif; margin: 3em; max-width: 36em\">\
<h1 style=\"font-size: 1.3em\">Ferry's window keeps stopping</h1>\
<p>The part of Ferry that draws this window stopped several times in a row. \
Your records and unsent changes are safe: they are kept on this computer.</p>\
<p>Quit Ferry (File › Quit) and start it again. If this keeps happening, \
start it from a terminal with <code>FERRY_LOG=debug</code> and send the output to your administrator.</p>";

fn after_crash(crashes: &mut Vec<std::time::Instant>, now: std::time::Instant) -> Recovery {
    crashes.retain(|t| now.duration_since(*t) < CRASH_WINDOW);
    crashes.push(now);
    if crashes.len() > MAX_CRASHES {
        Recovery::GiveUp
    } else {
        Recovery::Reload
    }
}

/// Other platforms' webviews keep their defaults.
#[cfg(not(target_os = "linux"))]
pub fn tune<R: Runtime>(_window: &WebviewWindow<R>) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_crash_reloads_the_page_until_it_keeps_crashing() {
        let start = Instant::now();
        let mut crashes = Vec::new();
        for i in 0..MAX_CRASHES {
            let at = start + Duration::from_secs(i as u64);
            assert_eq!(after_crash(&mut crashes, at), Recovery::Reload);
        }
        assert_eq!(
            after_crash(&mut crashes, start + Duration::from_secs(5)),
            Recovery::GiveUp
        );
        // Crashes long apart each get a reload.
        let later = start + CRASH_WINDOW * 3;
        assert_eq!(after_crash(&mut crashes, later), Recovery::Reload);
    }
}
