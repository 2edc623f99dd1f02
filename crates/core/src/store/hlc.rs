//! This device's hybrid logical clock, persisted in the local database.
//!
//! Every stamp is written back in the same transaction as the edit it
//! stamps, so the clock never goes backwards: not across restarts, and not
//! when the wall clock is set back (the stored stamp is the floor).

use ferry_protocol::Hlc;
use rusqlite::Connection;
use uuid::Uuid;

use super::{get_setting, keys, set_setting};
use crate::error::{Error, Result};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The node name of this device's stamps, made once per profile.
fn node(c: &Connection) -> Result<String> {
    if let Some(node) = get_setting(c, keys::NODE)? {
        return Ok(node);
    }
    let node = format!("c{}", &Uuid::new_v4().simple().to_string()[..12]);
    set_setting(c, keys::NODE, Some(&node))?;
    Ok(node)
}

fn last(c: &Connection) -> Result<Hlc> {
    match get_setting(c, keys::HLC)? {
        Some(s) => s
            .parse()
            .map_err(|e: ferry_protocol::HlcError| Error::Inconsistent(e.to_string())),
        None => {
            let node = node(c)?;
            Hlc::zero(node.as_str())
                .ok_or_else(|| Error::Inconsistent(format!("bad clock node name {node:?}")))
        }
    }
}

/// The next stamp for a local event at wall time `now_ms`, stored as the new floor.
pub(crate) fn tick_at(c: &Connection, now_ms: i64) -> Result<Hlc> {
    let next = last(c)?.tick(now_ms).map_err(clock_err)?;
    set_setting(c, keys::HLC, Some(&next.to_string()))?;
    Ok(next)
}

pub(crate) fn tick(c: &Connection) -> Result<Hlc> {
    tick_at(c, now_ms())
}

fn clock_err(e: ferry_protocol::HlcError) -> Error {
    Error::Inconsistent(e.to_string())
}

/// Moves the clock past a stamp seen from elsewhere (the server).
pub(crate) fn observe(c: &Connection, remote: &Hlc) -> Result<()> {
    observe_at(c, remote, now_ms())
}

/// Like [`observe`] at wall time `now_ms`. A stamp more than the maximum
/// drift ahead is taken as capped to it, so a poisoned stamp (year 9999)
/// cannot pin this device's clock (DESIGN.md, "Clock drift").
pub(crate) fn observe_at(c: &Connection, remote: &Hlc, now_ms: i64) -> Result<()> {
    let remote = remote.capped(now_ms.saturating_add(ferry_protocol::MAX_CLOCK_DRIFT_MS));
    let last = last(c)?;
    if remote.wall_ms() > last.wall_ms()
        || (remote.wall_ms() == last.wall_ms() && remote.counter() >= last.counter())
    {
        let next = last.receive(&remote, now_ms).map_err(clock_err)?;
        set_setting(c, keys::HLC, Some(&next.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[test]
    fn never_goes_backwards_across_restarts_or_a_clock_set_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferry.db");
        let first = {
            let store = LocalStore::open(&path).expect("open");
            store.read(|c| tick_at(c, 5_000_000)).expect("tick")
        };
        let store = LocalStore::open(&path).expect("reopen");
        // The wall clock now says an hour earlier.
        let second = store
            .read(|c| tick_at(c, 5_000_000 - 3_600_000))
            .expect("tick");
        assert!(second > first, "{second} after {first}");
        assert_eq!(second.node(), first.node());
    }

    #[test]
    fn observing_a_later_server_stamp_moves_past_it() {
        let store = LocalStore::open_in_memory().expect("open");
        let remote = Hlc::new(now_ms() + 60_000, 3, "srv").expect("stamp");
        store.read(|c| observe(c, &remote)).expect("observe");
        let next = store.read(tick).expect("tick");
        assert!(next > remote);
    }

    /// Fails if a far-future stamp is adopted as it is: then this device's
    /// stamps would sit at year 9999 (and, at its end, repeat).
    #[test]
    fn a_stamp_far_in_the_future_is_not_adopted() {
        let store = LocalStore::open_in_memory().expect("open");
        let now = 1_795_685_400_000;
        let evil: Hlc = "9999-12-31T23:59:59.999Z-ffff-srv".parse().expect("stamp");
        store.read(|c| observe_at(c, &evil, now)).expect("observe");
        let next = store.read(|c| tick_at(c, now)).expect("tick");
        assert!(
            next.wall_ms() <= now + ferry_protocol::MAX_CLOCK_DRIFT_MS,
            "{next}"
        );
        // An hour later the wall clock leads again.
        let later = store.read(|c| tick_at(c, now + 3_600_000)).expect("tick");
        assert_eq!((later.wall_ms(), later.counter()), (now + 3_600_000, 0));
    }
}
