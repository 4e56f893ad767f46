//! Fuzz targets of this crate as plain functions: the `fuzz/` crate (cargo-fuzz, nightly) calls
//! them, and `node/tests/fuzz_smoke.rs` replays their corpora (`fuzz/corpus/<target>/`) and
//! deterministic mutations of them on stable Rust. A target panics only when a property fails;
//! the code it drives must never panic on any input. Not part of the supported API.

use idnode_proto::{Handle, HandleRules, Record};
use serde_json::Value;

use crate::api::snms::body;
use crate::config::Config;

/// A fuzz target.
pub type Target = fn(&[u8]);

/// Every target with its name; the `fuzz/` crate has one binary per entry.
pub const TARGETS: &[(&str, Target)] = &[
    ("snms_body", snms_body),
    ("config", config),
    ("federation_report", federation_report),
];

/// A posted operation report as `POST /api/federation/reports` reads it before any look-up:
/// JSON, the fields, the signature's parts, and the JCS digest; an accepted window never ends
/// before it starts.
pub fn federation_report(data: &[u8]) {
    if let Ok(posted) = crate::api::federation::parse(data) {
        assert!(posted.from <= posted.to, "windows are ordered");
    }
}

/// An SNMS register, update or batch body as `/identityv2/data` reads it before any look-up:
/// JSON, the batch bound, each item's fields, its handle, and the values it stands for, which
/// encode to a record that parses back with the same values.
pub fn snms_body(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let items = match value {
        Value::Array(_) => match body::batch_items(value) {
            Ok(items) => items,
            Err(_) => return,
        },
        single => vec![single],
    };
    for item in items {
        let Ok(parsed) = body::parse_item(item) else {
            continue;
        };
        let _ = Handle::parse_with(&parsed.handle, HandleRules::default());
        let Ok(values) = body::item_values(&parsed) else {
            continue;
        };
        let encoded = Record::encode(&values);
        let decoded = Record::parse(&encoded)
            .and_then(|record| record.decode_all())
            .expect("encoded values decode");
        assert_eq!(decoded, values, "every value survives encoding");
    }
}

/// A configuration file: TOML parsing with unknown keys refused, and what start-up derives
/// from the result without touching the system.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text) {
        let _ = config.daily_quotas();
        let _ = config.without_quotas();
    }
}
