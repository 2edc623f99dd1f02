//! Any bytes as a push request, a mutation or an HLC stamp: parsing never
//! panics, and what parses writes back to JSON that parses to the same value.
#![no_main]

use ferry_protocol::{Hlc, Mutation, PushRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<PushRequest>(data) {
        let again = serde_json::to_vec(&req).expect("a parsed request serialises");
        let back: PushRequest = serde_json::from_slice(&again).expect("and parses again");
        assert_eq!(back, req);
    }
    if let Ok(m) = serde_json::from_slice::<Mutation>(data) {
        let again = serde_json::to_vec(&m).expect("a parsed mutation serialises");
        let back: Mutation = serde_json::from_slice(&again).expect("and parses again");
        assert_eq!(back, m);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(hlc) = text.parse::<Hlc>() {
            let back: Hlc = hlc.to_string().parse().expect("a stamp prints as a stamp");
            assert_eq!(back, hlc);
            assert_eq!(back.to_string(), hlc.to_string());
        }
    }
});
