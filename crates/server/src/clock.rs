//! The server's hybrid logical clock, which stamps `updated_at`.
//!
//! No stamp from elsewhere may move it more than the maximum drift ahead of
//! the wall clock (DESIGN.md, "Clock drift"): neither a client's stamp nor a
//! stored floor. So a poisoned stamp (say, year 9999) cannot pin it.

use std::sync::Mutex;
use std::time::Duration;

use ferry_protocol::{Hlc, HlcError};

pub struct Clock {
    last: Mutex<Hlc>,
    max_drift_ms: i64,
    now_ms: fn() -> i64,
}

fn wall_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn drift_ms(max_drift: Duration) -> i64 {
    i64::try_from(max_drift.as_millis()).unwrap_or(i64::MAX)
}

impl Clock {
    /// A clock for `node`, never earlier than `floor` (the latest stamp
    /// already stored), so restarts and wall clocks set back cannot reorder;
    /// a floor beyond `max_drift` ahead of the wall clock is capped to it.
    pub fn new(node: &str, floor: Option<Hlc>, max_drift: Duration) -> Clock {
        Self::with_wall_clock(node, floor, max_drift, wall_now_ms)
    }

    /// Like [`Clock::new`] with another wall clock, for tests.
    pub fn with_wall_clock(
        node: &str,
        floor: Option<Hlc>,
        max_drift: Duration,
        now_ms: fn() -> i64,
    ) -> Clock {
        let max_drift_ms = drift_ms(max_drift);
        let zero = Hlc::zero(node).unwrap_or_else(srv_zero);
        let cap = now_ms().saturating_add(max_drift_ms);
        let last = match floor {
            Some(f) => {
                if f.wall_ms() > cap {
                    tracing::warn!(floor = %f, "the latest stored stamp is far in the future; the clock ignores it");
                }
                // A capped floor is never the last stamp, so this cannot fail.
                zero.receive(&f.capped(cap), 0).unwrap_or(zero)
            }
            None => zero,
        };
        Clock {
            last: Mutex::new(last),
            max_drift_ms,
            now_ms,
        }
    }

    /// Latest wall time a stamp from elsewhere may carry now.
    pub fn cap_ms(&self) -> i64 {
        (self.now_ms)().saturating_add(self.max_drift_ms)
    }

    /// The next stamp for a write, after everything this clock has seen,
    /// including the client stamp `seen` when there is one (capped first).
    /// An error only if the clock is exhausted (year 9999).
    pub fn stamp(&self, seen: Option<&Hlc>) -> Result<Hlc, HlcError> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = (self.now_ms)();
        let next = match seen {
            Some(remote) => last.receive(&remote.capped(self.cap_ms()), now)?,
            None => last.tick(now)?,
        };
        *last = next.clone();
        Ok(next)
    }
}

/// The zero stamp of node "srv", for a node name that is not valid.
fn srv_zero() -> Hlc {
    Hlc::zero("srv").unwrap_or_else(|| unreachable!("\"srv\" is a valid node name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRIFT: Duration = Duration::from_secs(300);

    fn hlc(s: &str) -> Hlc {
        s.parse().expect("stamp")
    }

    /// At most the drift (and a minute for a slow test) ahead of now.
    fn near_now(stamp: &Hlc) -> bool {
        let ahead = stamp.wall_ms() - wall_now_ms();
        (-60_000..=drift_ms(DRIFT) + 60_000).contains(&ahead)
    }

    #[test]
    fn stamps_increase_and_respect_the_floor() {
        // A floor within the drift is kept: a restart never goes back.
        let floor = Hlc::new(wall_now_ms() + 60_000, 5, "srv").expect("stamp");
        let clock = Clock::new("srv", Some(floor.clone()), DRIFT);
        let a = clock.stamp(None).expect("stamp");
        let b = clock.stamp(None).expect("stamp");
        assert!(a > floor && b > a);
        assert_eq!(a.node(), "srv");
    }

    /// Fails if the floor is taken as it is (the clock pinned at 9999).
    #[test]
    fn a_floor_far_in_the_future_is_capped() {
        let clock = Clock::new("srv", Some(hlc("9999-01-01T00:00:00.000Z-0005-srv")), DRIFT);
        let a = clock.stamp(None).expect("not exhausted");
        let b = clock.stamp(None).expect("not exhausted");
        assert!(near_now(&a) && b > a, "{a} {b}");
    }

    /// Fails if a client stamp moves the clock without a cap.
    #[test]
    fn a_client_stamp_far_in_the_future_does_not_move_the_clock() {
        let clock = Clock::new("srv", None, DRIFT);
        let evil = hlc("9999-12-31T23:59:59.999Z-ffff-evil");
        let a = clock.stamp(Some(&evil)).expect("not exhausted");
        let b = clock.stamp(None).expect("not exhausted");
        assert!(near_now(&a) && near_now(&b) && b > a, "{a} {b}");
        // A stamp within the drift is followed, as an HLC must.
        let ahead = Hlc::new(wall_now_ms() + 120_000, 3, "fast").expect("stamp");
        let c = clock.stamp(Some(&ahead)).expect("stamp");
        assert!(c > ahead, "{c} after {ahead}");
    }

    /// Fails if the exhausted clock wraps or repeats instead of refusing.
    #[test]
    fn an_exhausted_clock_refuses() {
        fn end_of_time() -> i64 {
            253_402_300_799_999
        }
        let last = hlc("9999-12-31T23:59:59.999Z-fffd-srv");
        let clock = Clock::with_wall_clock("srv", Some(last), DRIFT, end_of_time);
        let a = clock.stamp(None).expect("one stamp left");
        assert_eq!(a.to_string(), "9999-12-31T23:59:59.999Z-ffff-srv");
        assert!(clock.stamp(None).is_err());
        assert!(clock.stamp(Some(&a)).is_err());
    }
}
