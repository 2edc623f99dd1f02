//! The server's hybrid logical clock, which stamps `updated_at`.

use std::sync::Mutex;

use ferry_protocol::Hlc;

pub struct Clock {
    last: Mutex<Hlc>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Clock {
    /// A clock for `node`, never earlier than `floor` (the latest stamp
    /// already stored), so restarts and wall clocks set back cannot reorder.
    pub fn new(node: &str, floor: Option<Hlc>) -> Clock {
        let zero = Hlc::zero(node).unwrap_or_else(srv_zero);
        let last = match floor {
            Some(f) => zero.receive(&f, 0),
            None => zero,
        };
        Clock {
            last: Mutex::new(last),
        }
    }

    /// The next stamp for a write, after everything this clock has seen,
    /// including the client stamp `seen` when there is one.
    pub fn stamp(&self, seen: Option<&Hlc>) -> Hlc {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = match seen {
            Some(remote) => last.receive(remote, now_ms()),
            None => last.tick(now_ms()),
        };
        *last = next.clone();
        next
    }
}

/// The zero stamp of node "srv", for a node name that is not valid.
fn srv_zero() -> Hlc {
    Hlc::zero("srv").unwrap_or_else(|| unreachable!("\"srv\" is a valid node name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_increase_and_respect_the_floor() {
        let floor: Hlc = "2999-01-01T00:00:00.000Z-0005-srv".parse().expect("stamp");
        let clock = Clock::new("srv", Some(floor.clone()));
        let a = clock.stamp(None);
        let b = clock.stamp(None);
        assert!(a > floor && b > a);
        assert_eq!(a.node(), "srv");
    }
}
