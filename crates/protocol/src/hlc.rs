//! Hybrid logical clock stamps.
//!
//! On the wire a stamp is one fixed-width string, `<RFC 3339 UTC time with
//! milliseconds>-<counter, 4 hex digits>-<node>`, for example
//! `2026-11-26T09:30:00.000Z-0000-srv`. Because every part before the node is
//! fixed width, comparing two stamps as strings orders them the same way as
//! comparing them as clocks. The clock logic here is pure: the caller passes
//! the wall clock in, so it can be tested and persisted by whoever owns it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest node name a stamp may carry.
pub const MAX_NODE_LEN: usize = 64;

/// Latest wall clock a stamp may carry (9999-12-31T23:59:59.999Z), so the
/// time part stays four-digit-year fixed width.
const MAX_WALL_MS: i64 = 253_402_300_799_999;

/// How far ahead of the receiver's wall clock a stamp from elsewhere may be
/// and still be taken as it is (DESIGN.md, "Clock drift"): a later one is
/// capped to this (see [`Hlc::capped`]), so no peer can pin clocks in the
/// future. Large enough for any NTP-synced clock; an honest device with a
/// worse clock loses no edit, only its stamp is capped.
pub const MAX_CLOCK_DRIFT_MS: i64 = 5 * 60 * 1000;

/// One HLC stamp: wall-clock milliseconds, a counter for events within the
/// same millisecond, and the node (device or server) that made it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hlc {
    wall_ms: i64,
    counter: u16,
    node: String,
}

/// Why a string is not an HLC stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlcError(String);

impl fmt::Display for HlcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid HLC stamp: {}", self.0)
    }
}

impl std::error::Error for HlcError {}

fn valid_node(node: &str) -> bool {
    !node.is_empty()
        && node.len() <= MAX_NODE_LEN
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

impl Hlc {
    /// A stamp from its parts; `None` if the node name or time is out of range.
    pub fn new(wall_ms: i64, counter: u16, node: impl Into<String>) -> Option<Self> {
        let node = node.into();
        ((0..=MAX_WALL_MS).contains(&wall_ms) && valid_node(&node)).then_some(Self {
            wall_ms,
            counter,
            node,
        })
    }

    /// The zero stamp of a node: earlier than any stamp it will make.
    pub fn zero(node: impl Into<String>) -> Option<Self> {
        Self::new(0, 0, node)
    }

    pub fn wall_ms(&self) -> i64 {
        self.wall_ms
    }

    pub fn counter(&self) -> u16 {
        self.counter
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Wall-clock part as a UTC time.
    pub fn time(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.wall_ms)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// `self`, or if its time is after `max_wall_ms`, the stamp of the same
    /// node at `max_wall_ms` with counter 0: how a stamp too far in the
    /// future (see [`MAX_CLOCK_DRIFT_MS`]) is taken.
    #[must_use]
    pub fn capped(&self, max_wall_ms: i64) -> Self {
        let max_wall_ms = max_wall_ms.clamp(0, MAX_WALL_MS);
        if self.wall_ms <= max_wall_ms {
            return self.clone();
        }
        Self {
            wall_ms: max_wall_ms,
            counter: 0,
            node: self.node.clone(),
        }
    }

    /// The next stamp of this clock for a local event at wall time `now_ms`:
    /// strictly greater than `self`, even when the wall clock went backwards.
    /// An error only when no greater stamp exists (the last millisecond of
    /// year 9999 with its counter used up): never a repeated stamp.
    pub fn tick(&self, now_ms: i64) -> Result<Self, HlcError> {
        let now_ms = now_ms.clamp(0, MAX_WALL_MS);
        if now_ms > self.wall_ms {
            Ok(Self {
                wall_ms: now_ms,
                counter: 0,
                node: self.node.clone(),
            })
        } else {
            self.bump(self.wall_ms, self.counter)
        }
    }

    /// The next stamp of this clock after receiving `remote` at wall time
    /// `now_ms`: greater than both `self` and `remote`, or an error if no
    /// such stamp exists (as for [`Hlc::tick`]). Callers cap `remote` first.
    pub fn receive(&self, remote: &Hlc, now_ms: i64) -> Result<Self, HlcError> {
        let now_ms = now_ms.clamp(0, MAX_WALL_MS);
        let wall = now_ms.max(self.wall_ms).max(remote.wall_ms);
        if wall == now_ms && wall > self.wall_ms && wall > remote.wall_ms {
            return Ok(Self {
                wall_ms: wall,
                counter: 0,
                node: self.node.clone(),
            });
        }
        let counter = match (wall == self.wall_ms, wall == remote.wall_ms) {
            (true, true) => self.counter.max(remote.counter),
            (true, false) => self.counter,
            (false, true) => remote.counter,
            (false, false) => 0,
        };
        self.bump(wall, counter)
    }

    fn bump(&self, wall_ms: i64, counter: u16) -> Result<Self, HlcError> {
        match counter.checked_add(1) {
            Some(counter) => Ok(Self {
                wall_ms,
                counter,
                node: self.node.clone(),
            }),
            // Counter exhausted within one millisecond: borrow the next one.
            None if wall_ms < MAX_WALL_MS => Ok(Self {
                wall_ms: wall_ms + 1,
                counter: 0,
                node: self.node.clone(),
            }),
            // Nothing is later: refuse rather than repeat or go back.
            None => Err(HlcError(format!(
                "the clock of node {} is exhausted at {self}: no later stamp exists",
                self.node
            ))),
        }
    }
}

/// Writes `value`'s last `out.len()` decimal digits into `out`.
fn digits(out: &mut [u8], mut value: i64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for Hlc {
    /// Written by hand, not through chrono's formatter: every record a
    /// server sends or a client stores carries a stamp, and this is several
    /// times quicker. The result is the same (a test compares them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let ms = self.wall_ms.clamp(0, MAX_WALL_MS);
        let (days, in_day) = (ms / 86_400_000, ms % 86_400_000);
        // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
        let z = days + 719_468;
        let (era, doe) = (z / 146_097, z % 146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut b = *b"0000-00-00T00:00:00.000Z-0000-";
        digits(&mut b[0..4], year);
        digits(&mut b[5..7], month);
        digits(&mut b[8..10], day);
        digits(&mut b[11..13], in_day / 3_600_000);
        digits(&mut b[14..16], in_day / 60_000 % 60);
        digits(&mut b[17..19], in_day / 1000 % 60);
        digits(&mut b[20..23], in_day % 1000);
        for (i, slot) in b[25..29].iter_mut().enumerate() {
            *slot = HEX[usize::from((self.counter >> (12 - 4 * i)) & 0xf)];
        }
        // Only ASCII digits and punctuation were written.
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)?;
        f.write_str(&self.node)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({self})")
    }
}

impl FromStr for Hlc {
    type Err = HlcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // "YYYY-MM-DDTHH:MM:SS.mmmZ" is 24 bytes, then "-cccc-" and the node.
        let bad = || {
            HlcError(format!(
                "{s:?} (expected e.g. 2026-11-26T09:30:00.000Z-0000-node)"
            ))
        };
        if s.len() < 31 || !s.is_char_boundary(24) || !s.is_ascii() {
            return Err(bad());
        }
        let (time, rest) = s.split_at(24);
        let rest = rest.strip_prefix('-').ok_or_else(bad)?;
        let (counter, node) = rest.split_at(4);
        let node = node.strip_prefix('-').ok_or_else(bad)?;
        if !time.ends_with('Z') || counter.len() != 4 {
            return Err(bad());
        }
        let time = DateTime::parse_from_rfc3339(time).map_err(|_| bad())?;
        let counter = u16::from_str_radix(counter, 16).map_err(|_| bad())?;
        let hlc = Hlc::new(time.timestamp_millis(), counter, node).ok_or_else(bad)?;
        // Only the canonical spelling is accepted, so string order stays clock order.
        if hlc.to_string() != s {
            return Err(bad());
        }
        Ok(hlc)
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Hlc {
    /// Reads a stamp as other clients may write one: the canonical form, an
    /// RFC 3339 time, or milliseconds since the epoch. The last two have no
    /// counter or node; they get counter 0 and node `client`.
    pub fn parse_lenient(s: &str) -> Result<Hlc, HlcError> {
        if let Ok(hlc) = s.parse() {
            return Ok(hlc);
        }
        let wall_ms = if let Ok(ms) = s.trim().parse::<i64>() {
            Some(ms)
        } else {
            DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.timestamp_millis())
        };
        wall_ms
            .and_then(|ms| Hlc::new(ms, 0, "client"))
            .ok_or_else(|| {
                HlcError(format!(
                    "{s:?} (expected e.g. 2026-11-26T09:30:00.000Z-0000-node)"
                ))
            })
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Hlc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HLC stamp such as 2026-11-26T09:30:00.000Z-0000-node")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Hlc, E> {
                Hlc::parse_lenient(s).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, ms: i64) -> Result<Hlc, E> {
                Hlc::new(ms, 0, "client").ok_or_else(|| E::custom("HLC milliseconds out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, ms: u64) -> Result<Hlc, E> {
                self.visit_i64(
                    i64::try_from(ms).map_err(|_| E::custom("HLC milliseconds out of range"))?,
                )
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Hlc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "Hybrid logical clock stamp: RFC 3339 UTC time with milliseconds, \
                 a 4-hex-digit counter and a node name",
            ))
            .pattern(Some(
                r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z-[0-9a-f]{4}-[A-Za-z0-9_.]{1,64}$",
            ))
            .examples(["2026-11-26T09:30:00.000Z-0000-srv"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Hlc {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn hlc(s: &str) -> Hlc {
        s.parse().expect("valid stamp")
    }

    #[test]
    fn written_as_rfc3339_with_milliseconds_then_counter_and_node() {
        let mut wall = Vec::from([0, 1, 999, 1000, 86_399_999, 86_400_000, MAX_WALL_MS]);
        // Leap days, century and year boundaries, and a spread over all years.
        for (y, m, d) in [
            (1972, 2, 29),
            (2000, 2, 29),
            (2100, 3, 1),
            (2026, 12, 31),
            (9999, 1, 1),
        ] {
            let t = Utc
                .with_ymd_and_hms(y, m, d, 23, 59, 59)
                .single()
                .expect("date");
            wall.extend([t.timestamp_millis() - 86_400_000, t.timestamp_millis() + 1]);
        }
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            wall.push(x.rem_euclid(MAX_WALL_MS + 1));
        }
        for (i, ms) in wall.into_iter().enumerate() {
            let counter = (i as u16).wrapping_mul(40_503);
            let stamp = Hlc::new(ms, counter, "n.1").expect("stamp");
            let by_chrono = format!(
                "{}-{:04x}-n.1",
                stamp.time().to_rfc3339_opts(SecondsFormat::Millis, true),
                counter
            );
            assert_eq!(stamp.to_string(), by_chrono, "{ms}");
            assert_eq!(by_chrono.parse::<Hlc>().expect("parse"), stamp);
        }
    }

    #[test]
    fn round_trips_and_orders_like_strings() {
        let a = hlc("2026-11-26T09:30:00.000Z-0000-a");
        let b = hlc("2026-11-26T09:30:00.000Z-0001-a");
        let c = hlc("2026-11-26T09:30:00.001Z-0000-a");
        assert_eq!(a.to_string(), "2026-11-26T09:30:00.000Z-0000-a");
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
    }

    /// The wire spelling is a contract (DESIGN.md): fixed stamps, both ways.
    /// Counters above 9 tell a hex counter from a decimal one.
    #[test]
    fn canonical_text_form_both_ways() {
        for (text, wall_ms, counter, node) in [
            ("1970-01-01T00:00:00.000Z-0000-a", 0, 0, "a"),
            (
                "2026-11-26T09:30:00.000Z-000a-srv1f2e3d",
                1_795_685_400_000,
                10,
                "srv1f2e3d",
            ),
            (
                "2026-11-26T09:30:00.123Z-00ff-alice.laptop",
                1_795_685_400_123,
                255,
                "alice.laptop",
            ),
            (
                "2026-11-26T09:30:00.999Z-0100-dev_2",
                1_795_685_400_999,
                256,
                "dev_2",
            ),
            (
                "9999-12-31T23:59:59.999Z-ffff-z",
                253_402_300_799_999,
                u16::MAX,
                "z",
            ),
        ] {
            let stamp = Hlc::new(wall_ms, counter, node).expect("in range");
            assert_eq!(
                stamp.to_string(),
                text,
                "printing {wall_ms} {counter} {node}"
            );
            assert_eq!(hlc(text), stamp, "parsing {text}");
            assert_eq!(
                serde_json::to_string(&stamp).expect("serialises"),
                format!("\"{text}\"")
            );
        }
    }

    #[test]
    fn rejects_malformed_stamps() {
        for s in [
            "",
            "2026-11-26T09:30:00Z-0000-a",
            "2026-11-26T09:30:00.000Z-000-a",
            "2026-11-26T09:30:00.000Z-0000-",
            "2026-11-26T09:30:00.000Z-zzzz-a",
            "2026-11-26T09:30:00.000+01:00-0000-a",
            "2026-11-26T09:30:00.000Z-0000-a b",
            "2026-13-26T09:30:00.000Z-0000-a",
            "2026-11-26T09:30:00.000Z-00A0-a",
        ] {
            assert!(s.parse::<Hlc>().is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn other_clients_stamps_are_read_leniently() {
        let from_rfc: Hlc =
            serde_json::from_str("\"2026-11-26T10:30:00+01:00\"").expect("rfc 3339");
        assert_eq!(from_rfc.to_string(), "2026-11-26T09:30:00.000Z-0000-client");
        let from_ms: Hlc = serde_json::from_str("1000").expect("millis");
        assert_eq!((from_ms.wall_ms(), from_ms.node()), (1000, "client"));
        assert!(serde_json::from_str::<Hlc>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Hlc>("-5").is_err());
        assert!(serde_json::from_str::<Hlc>("true").is_err());
    }

    #[test]
    fn tick_never_goes_backwards() {
        let t0 = Hlc::new(1_000, 0, "n").expect("stamp");
        let t1 = t0.tick(2_000).expect("tick");
        assert_eq!((t1.wall_ms(), t1.counter()), (2_000, 0));
        let t2 = t1.tick(500).expect("tick"); // wall clock set back
        assert!(t2 > t1);
        assert_eq!((t2.wall_ms(), t2.counter()), (2_000, 1));
    }

    #[test]
    fn counter_overflow_borrows_next_millisecond() {
        let t = Hlc::new(1_000, u16::MAX, "n").expect("stamp");
        let next = t.tick(1_000).expect("tick");
        assert!(next > t);
        assert_eq!((next.wall_ms(), next.counter()), (1_001, 0));
    }

    /// At the last stamp there is no later one: both refuse instead of
    /// handing out the same (or an earlier) stamp again.
    #[test]
    fn the_last_stamp_refuses_to_tick_or_receive() {
        let last = Hlc::new(MAX_WALL_MS, u16::MAX, "n").expect("stamp");
        let err = last.tick(MAX_WALL_MS).expect_err("no later stamp");
        assert!(err.to_string().contains("exhausted"), "{err}");
        assert!(last.tick(1_000).is_err());
        let zero = Hlc::zero("m").expect("stamp");
        assert!(zero.receive(&last, 1_000).is_err());
        // One step before the end still works.
        let before = Hlc::new(MAX_WALL_MS, u16::MAX - 1, "n").expect("stamp");
        assert_eq!(before.tick(0).expect("tick"), last);
    }

    #[test]
    fn capped_moves_only_later_stamps_back() {
        let far: Hlc = "9999-12-31T23:59:59.999Z-ffff-evil".parse().expect("stamp");
        let capped = far.capped(5_000);
        assert_eq!(
            (capped.wall_ms(), capped.counter(), capped.node()),
            (5_000, 0, "evil")
        );
        let near = Hlc::new(4_000, 7, "a").expect("stamp");
        assert_eq!(near.capped(5_000), near);
        assert_eq!(near.capped(4_000), near);
    }

    #[test]
    fn receive_is_after_both() {
        let local = Hlc::new(1_000, 3, "a").expect("stamp");
        let remote = Hlc::new(5_000, 7, "b").expect("stamp");
        let r = local.receive(&remote, 2_000).expect("receive");
        assert!(r > local && r.wall_ms() == 5_000 && r.counter() == 8);
        let r2 = local.receive(&remote, 9_000).expect("receive");
        assert_eq!((r2.wall_ms(), r2.counter()), (9_000, 0));
        let same = Hlc::new(1_000, 9, "b").expect("stamp");
        let r3 = local.receive(&same, 1_000).expect("receive");
        assert_eq!((r3.wall_ms(), r3.counter()), (1_000, 10));
    }
}
