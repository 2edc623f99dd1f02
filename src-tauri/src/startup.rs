//! The first second of the app: milestones in the log, and the desktop
//! services GTK waits for before the window can show.
//!
//! `FERRY_LOG=warn,ferry=info,ferry_desktop::startup=debug` logs each
//! milestone with the milliseconds since `main` (`make test-package` does).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();
static FIRST_COMMAND: AtomicBool = AtomicBool::new(false);

/// Logs how long after `main` the start reached `milestone`.
pub fn mark(milestone: &'static str) {
    let elapsed = STARTED.get_or_init(Instant::now).elapsed();
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(ms, "start: {milestone}");
}

/// Marks the UI's first call into the app: the page is up and talking.
pub fn first_command() {
    if !FIRST_COMMAND.swap(true, Ordering::Relaxed) {
        mark("first command from the page");
    }
}

/// GTK asks the session bus for the desktop portal (GtkApplication's inhibit
/// support, when no session manager answers) and for the accessibility bus
/// while it starts, and blocks while the bus starts them: half a second on a
/// session where nothing started them yet. Asking the bus to start both from
/// a side thread at the top of `main` lets them start while the libraries
/// load and the profile opens, so GTK finds them running. Nothing waits for
/// the answer; without a session bus this does nothing.
#[cfg(target_os = "linux")]
pub fn wake_desktop_services() {
    let spawned = std::thread::Builder::new()
        .name("ferry-wake-services".into())
        .spawn(|| {
            use gio::prelude::*;
            let bus = match gio::bus_get_sync(gio::BusType::Session, gio::Cancellable::NONE) {
                Ok(bus) => bus,
                Err(e) => {
                    tracing::debug!(error = %e, "no session bus");
                    return;
                }
            };
            for service in ["org.freedesktop.portal.Desktop", "org.a11y.Bus"] {
                let message = gio::DBusMessage::new_method_call(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "StartServiceByName",
                );
                message.set_body(&(service, 0u32).to_variant());
                message.set_flags(gio::DBusMessageFlags::NO_REPLY_EXPECTED);
                if let Err(e) = bus.send_message(&message, gio::DBusSendMessageFlags::NONE) {
                    tracing::debug!(error = %e, service, "could not ask the bus to start");
                }
            }
            if let Err(e) = bus.flush_sync(gio::Cancellable::NONE) {
                tracing::debug!(error = %e, "could not reach the session bus");
            }
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "cannot start a thread");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn wake_desktop_services() {}
