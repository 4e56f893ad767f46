//! Fuzz targets of this crate as plain functions: the `fuzz/` crate (cargo-fuzz, nightly) calls
//! them, and `node/tests/fuzz_smoke.rs` replays their corpora (`fuzz/corpus/<target>/`) and
//! deterministic mutations of them on stable Rust. A target panics only when a property fails;
//! the code it drives must never panic on any input. Not part of the supported API.

use idnode_proto::{Handle, HandleValue};
use serde_json::Value;

use crate::{Date, LookupError, Template, builtin, validate};

/// A fuzz target.
pub type Target = fn(&[u8]);

/// Every target with its name; the `fuzz/` crate has one binary per entry.
pub const TARGETS: &[(&str, Target)] = &[("template_validation", template_validation)];

/// A template and a record checked against it, as a write through any interface is.
///
/// The input is a template (JSON) and a record, split at the first NUL byte. When the template
/// part is not a valid template, the built-in template chosen by its first byte is used. The
/// record part is a JSON array of `[index, type, value]` triples (anything else is skipped).
/// A template that parses round-trips through its JSON form; validation never panics, and
/// what it refuses names an index.
pub fn template_validation(data: &[u8]) {
    let (template_part, record_part) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let parsed = std::str::from_utf8(template_part)
        .ok()
        .and_then(|text| Template::from_json(text).ok());
    if let Some(template) = &parsed {
        let again = Template::from_json(&template.to_json()).expect("a template's JSON parses");
        assert_eq!(&again, template, "template JSON round trip");
    }
    let builtins = builtin::all();
    let template = match &parsed {
        Some(template) => template,
        None => &builtins[usize::from(data.first().copied().unwrap_or(0)) % builtins.len()],
    };
    let values = record(record_part);
    let today = Date::new(2026, 12, 7).expect("a date");
    for exists in [true, false] {
        let lookup = move |_: &Handle| -> Result<bool, LookupError> { Ok(exists) };
        if let Err(violations) = validate(template, &values, &lookup, today) {
            assert!(!violations.is_empty(), "a refusal names its violations");
        }
    }
}

/// The values of the record part: `[index, type, value]` triples, at most 64.
fn record(part: &[u8]) -> Vec<HandleValue> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(part) else {
        return Vec::new();
    };
    items
        .iter()
        .take(64)
        .filter_map(|item| {
            let [index, value_type, data] = item.as_array()?.as_slice() else {
                return None;
            };
            Some(HandleValue::new(
                u32::try_from(index.as_u64()?).ok()?,
                value_type.as_str()?.to_owned(),
                data.as_str()?.to_owned(),
            ))
        })
        .collect()
}
