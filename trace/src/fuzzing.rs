//! Fuzz targets of this crate as plain functions: the `fuzz/` crate (cargo-fuzz, nightly) calls
//! them, and `node/tests/fuzz_smoke.rs` replays their corpora (`fuzz/corpus/<target>/`) and
//! deterministic mutations of them on stable Rust. A target panics only when a property fails;
//! the code it drives must never panic on any input. Not part of the supported API.

use crate::{capture, epcis, ids, jcs};

/// A fuzz target.
pub type Target = fn(&[u8]);

/// Every target with its name; the `fuzz/` crate has one binary per entry.
pub const TARGETS: &[(&str, Target)] = &[("epcis_capture", epcis_capture)];

/// The most events a fuzzed document may hold, as a node's `trace.max_events` would bound it.
const MAX_EVENTS: usize = 64;

/// An EPCIS capture document as `POST /epcis/capture` reads it, before anything touches the
/// store: I-JSON parsing, the document's shape, every event's EPCIS / CBV / `hc:` rules, the
/// identifier forms of every event, and the CBV 2.0 event hash of valid documents. Whatever
/// parses canonicalises (RFC 8785) to text that parses back to the same canonical text.
pub fn epcis_capture(data: &[u8]) {
    let Ok(value) = jcs::parse(data) else {
        return;
    };
    if let Ok(canonical) = jcs::canonicalize(&value) {
        let again = jcs::parse(&canonical).expect("canonical JSON parses");
        assert_eq!(
            jcs::canonicalize(&again).expect("canonical JSON canonicalises"),
            canonical,
            "canonicalisation is not stable"
        );
    }
    let Ok(captured) = capture::split_document(&value, MAX_EVENTS) else {
        return;
    };
    assert!(captured.events.len() <= MAX_EVENTS, "the event bound holds");
    let bases = ["https://id.example.cn/api/handles/".to_owned()];
    let mut valid = true;
    for (i, event) in captured.events.iter().enumerate() {
        valid &= capture::validate_event(i, event, captured.context).is_ok();
        for named in ids::named(event) {
            let _ = ids::form(named.text, &bases);
        }
    }
    if valid && let Ok(hashes) = epcis::event_hashes(&value) {
        for hash in hashes {
            assert!(
                hash.starts_with(epcis::EVENT_HASH_PREFIX),
                "an event hash in the CBV 2.0 form"
            );
        }
    }
}
