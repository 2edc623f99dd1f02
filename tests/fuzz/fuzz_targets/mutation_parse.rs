//! Any bytes as a push request, a mutation or an HLC stamp: parsing never
//! panics, and what parses writes back to JSON that parses to the same value,
//! from the first parse on (serde_json's `float_roundtrip` reads a number
//! with more than 17 significant digits as the nearest double; without it
//! this target found one moving by a unit in the last place).
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
        assert_eq!(round_trip(&first), first);
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
