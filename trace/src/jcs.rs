//! RFC 8785 JSON Canonicalization Scheme (JCS) over `serde_json` values, with I-JSON checks.
//!
//! Canonical output is produced by the `serde_json_canonicalizer` crate (object members sorted
//! by UTF-16 code units, ECMAScript number serialisation, minimal escaping, no whitespace); this
//! module adds the I-JSON (RFC 7493) input rules that JCS presumes and `serde_json` does not
//! enforce: duplicate member names and integers outside ±(2^53 − 1) are rejected. Lone surrogate
//! escapes are rejected by `serde_json` itself, and nesting depth is bounded by its recursion
//! limit (128).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest integer magnitude I-JSON allows (`2^53 − 1`, ECMAScript `MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Errors from parsing or canonicalizing JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// The input is not JSON (including lone surrogates and excessive nesting).
    #[error("invalid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// An object has two members with the same name.
    #[error("duplicate object member {0:?}")]
    DuplicateKey(String),
    /// An integer is outside the range I-JSON allows.
    #[error("integer {0} is outside ±(2^53 − 1)")]
    UnsafeInteger(String),
    /// A number is NaN or infinite.
    #[error("number is not finite")]
    NonFinite,
    /// The canonicalizer failed.
    #[error("canonicalization failed: {0}")]
    Canonicalize(#[source] serde_json::Error),
}

/// Parses I-JSON text: like `serde_json::from_slice`, but rejecting duplicate member names and
/// integers outside ±(2^53 − 1).
pub fn parse(bytes: &[u8]) -> Result<Value, JcsError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = IJsonSeed
        .deserialize(&mut deserializer)
        .map_err(classify_error)?;
    deserializer.end().map_err(JcsError::Syntax)?;
    Ok(value)
}

/// Returns the JCS canonical bytes of `value`.
///
/// Fails on integers outside ±(2^53 − 1), which JCS would silently round, including floats
/// that JCS would print as such integers.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(&mut out, value)?;
    Ok(out)
}

/// Writes the JCS form of `value` (RFC 8785 §3.2): members sorted by the UTF-16 code units of
/// their names, strings with JSON's minimal escapes (as serde_json writes them), integers as
/// digits and other numbers as ECMAScript prints them ([`format_number`]).
fn write_canonical(out: &mut Vec<u8>, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            check_number(number)?;
            if let Some(n) = number.as_u64() {
                out.extend_from_slice(n.to_string().as_bytes());
            } else if let Some(n) = number.as_i64() {
                out.extend_from_slice(n.to_string().as_bytes());
            } else {
                let float = number.as_f64().ok_or(JcsError::NonFinite)?;
                out.extend_from_slice(format_number(float)?.as_bytes());
            }
        }
        Value::String(text) => write_string(out, text)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => write_object(out, members)?,
    }
    Ok(())
}

fn write_object(out: &mut Vec<u8>, members: &Map<String, Value>) -> Result<(), JcsError> {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    // UTF-16 order equals byte order unless a name has a character above U+FFFF.
    if sorted.iter().all(|(name, _)| name.is_ascii()) {
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    } else {
        sorted.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    out.push(b'{');
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name)?;
        out.push(b':');
        write_canonical(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_string(out: &mut Vec<u8>, text: &str) -> Result<(), JcsError> {
    serde_json::to_writer(&mut *out, text).map_err(JcsError::Canonicalize)
}

/// Returns the JCS canonical bytes of a JSON object, as [`canonicalize`] does for
/// `Value::Object`.
pub fn canonicalize_object(members: &Map<String, Value>) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_object(&mut out, members)?;
    Ok(out)
}

/// Parses I-JSON text and returns its canonical bytes.
pub fn canonicalize_bytes(bytes: &[u8]) -> Result<Vec<u8>, JcsError> {
    canonicalize(&parse(bytes)?)
}

/// Returns whether `bytes` is I-JSON already in canonical form (`JCS(parse(bytes)) == bytes`).
pub fn is_canonical(bytes: &[u8]) -> bool {
    canonicalize_bytes(bytes).is_ok_and(|canonical| canonical == bytes)
}

/// Serialises a number as JCS does (ECMAScript `Number.prototype.toString`).
pub fn format_number(number: f64) -> Result<String, JcsError> {
    if !number.is_finite() {
        return Err(JcsError::NonFinite);
    }
    serde_json_canonicalizer::to_string(&number).map_err(JcsError::Canonicalize)
}

#[cfg(test)]
fn check_numbers(value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Number(number) => check_number(number),
        Value::Array(items) => items.iter().try_for_each(check_numbers),
        Value::Object(members) => members.values().try_for_each(check_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

fn check_number(number: &Number) -> Result<(), JcsError> {
    let safe = if let Some(u) = number.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else if let Some(i) = number.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else {
        // A float that JCS prints as integer digits (integral and below 1e21) must also be safe,
        // or the canonical text would be rejected by [`parse`].
        number.as_f64().is_some_and(|f| {
            f.is_finite()
                && !(f.fract() == 0.0 && f.abs() > MAX_SAFE_INTEGER as f64 && f.abs() < 1e21)
        })
    };
    if safe {
        Ok(())
    } else {
        Err(JcsError::UnsafeInteger(number.to_string()))
    }
}

/// Marker prefixes that carry our own errors through `serde_json::Error`.
const DUPLICATE_PREFIX: &str = "duplicate member ";
const UNSAFE_PREFIX: &str = "unsafe integer ";

fn classify_error(err: serde_json::Error) -> JcsError {
    let message = err.to_string();
    if let Some(rest) = message.strip_prefix(DUPLICATE_PREFIX) {
        let name = rest.split(" at line ").next().unwrap_or(rest);
        return JcsError::DuplicateKey(name.to_owned());
    }
    if let Some(rest) = message.strip_prefix(UNSAFE_PREFIX) {
        let number = rest.split(" at line ").next().unwrap_or(rest);
        return JcsError::UnsafeInteger(number.to_owned());
    }
    JcsError::Syntax(err)
}

/// Deserialises a `Value` while enforcing the I-JSON rules.
struct IJsonSeed;

impl<'de> DeserializeSeed<'de> for IJsonSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(IJsonVisitor)
    }
}

struct IJsonVisitor;

impl<'de> Visitor<'de> for IJsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an I-JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(format_args!("{UNSAFE_PREFIX}{v}")));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom(format_args!("{UNSAFE_PREFIX}{v}")));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(IJsonSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_PREFIX}{key}")));
            }
            let value = map.next_value_seed(IJsonSeed)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_i_json() {
        assert!(matches!(parse(br#"{"a":1,"a":2}"#), Err(JcsError::DuplicateKey(k)) if k == "a"));
        assert!(matches!(
            parse(br#"{"b":{"x":1,"x":1}}"#),
            Err(JcsError::DuplicateKey(_))
        ));
        assert!(matches!(
            parse(b"9007199254740992"),
            Err(JcsError::UnsafeInteger(_))
        ));
        assert!(matches!(
            parse(b"-9007199254740992"),
            Err(JcsError::UnsafeInteger(_))
        ));
        assert!(parse(b"9007199254740991").is_ok());
        assert!(parse(b"-9007199254740991").is_ok());
        assert!(matches!(parse(br#""\ud800""#), Err(JcsError::Syntax(_))));
        assert!(matches!(parse(br#""\udc00x""#), Err(JcsError::Syntax(_))));
        assert!(matches!(parse(b"{} x"), Err(JcsError::Syntax(_))));
        let deep = "[".repeat(10_000);
        assert!(matches!(parse(deep.as_bytes()), Err(JcsError::Syntax(_))));
        let big = Value::Number(u64::MAX.into());
        assert!(matches!(
            canonicalize(&big),
            Err(JcsError::UnsafeInteger(_))
        ));
        let big_float = Value::from(9_387_324_864_199_304.0_f64);
        assert!(matches!(
            canonicalize(&big_float),
            Err(JcsError::UnsafeInteger(_))
        ));
        assert!(canonicalize(&Value::from(1e21)).is_ok());
    }

    #[test]
    fn canonicalizes_and_detects_canonical_form() {
        let out = canonicalize_bytes(br#"{ "b": [1.0, 2e3, "\u00e9"], "a": null }"#).expect("jcs");
        assert_eq!(out, "{\"a\":null,\"b\":[1,2000,\"é\"]}".as_bytes());
        assert!(is_canonical(&out));
        assert!(!is_canonical(br#"{"b":1,"a":2}"#));
        assert!(!is_canonical(br#"{"a":1,"a":1}"#));
        assert_eq!(format_number(1e21).expect("num"), "1e+21");
        assert_eq!(format_number(-0.0).expect("num"), "0");
        assert!(format_number(f64::NAN).is_err());
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE_INTEGER as i64)..=MAX_SAFE_INTEGER as i64).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_is_a_fixed_point(value in json_value()) {
            let Ok(canonical) = canonicalize(&value) else {
                // Only floats that print as unsafe integers are refused.
                return Ok(());
            };
            let reparsed = parse(&canonical).expect("canonical output is I-JSON");
            proptest::prop_assert_eq!(canonicalize(&reparsed).expect("again"), canonical.clone());
            proptest::prop_assert!(is_canonical(&canonical));
        }

        #[test]
        fn the_writer_agrees_with_serde_json_canonicalizer(value in json_value()) {
            let ours = canonicalize(&value);
            match serde_json_canonicalizer::to_vec(&value) {
                Ok(theirs) => {
                    // Unsafe numbers are refused here and printed there.
                    if check_numbers(&value).is_ok() {
                        proptest::prop_assert_eq!(ours.expect("canonical"), theirs);
                    } else {
                        proptest::prop_assert!(ours.is_err());
                    }
                }
                Err(_) => proptest::prop_assert!(ours.is_err()),
            }
            if let Value::Object(members) = &value {
                proptest::prop_assert_eq!(canonicalize_object(members).ok(), canonicalize(&value).ok());
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }
    }
}
