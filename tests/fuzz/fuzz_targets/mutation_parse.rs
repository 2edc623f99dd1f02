//! Any bytes as a push request, a mutation or an HLC stamp: parsing never
//! panics, and what parses writes back to JSON that parses to the same value.
//!
//! Numbers are compared from their first round trip on: serde_json without
//! `float_roundtrip` may parse a number with more than 17 significant digits
//! one unit in the last place off, so the first trip can move it (found by
//! this target; see RELIABILITY.md, "Known limits").
#![no_main]

use ferry_protocol::{Hlc, Mutation, PushRequest};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes `value` and reads it back.
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let text = serde_json::to_vec(value).expect("a parsed value serialises");
    serde_json::from_slice(&text).expect("and parses again")
}

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(first) = serde_json::from_slice::<T>(data) {
        let settled = round_trip(&first);
        assert_eq!(round_trip(&settled), settled);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<PushRequest>(data);
    check::<Mutation>(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(hlc) = text.parse::<Hlc>()
    {
        let back: Hlc = hlc.to_string().parse().expect("a stamp prints as a stamp");
        assert_eq!(back, hlc);
        assert_eq!(back.to_string(), text, "only the canonical spelling parses");
    }
});
