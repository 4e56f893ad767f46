//! The constraint of a template item: what the text of a value must look like.
//!
//! Every value of an identifier record is a string (SNMS `data.format` is always `string`), so a
//! constraint is a predicate on one string. [`Constraint::check`] evaluates it; the rule messages
//! it returns are English and are prefixed with the item's name by [`crate::Violation`].

use std::fmt;

use idnode_proto::Handle;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::date::Date;
use crate::validators;

/// The longest regular expression a [`Pattern`] accepts, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// The largest compiled size of a [`Pattern`], in bytes, so that a template from the REST API
/// cannot make the node build a huge automaton.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The largest number of elements [`Constraint::GhsHazards`] accepts.
pub const MAX_GHS_HAZARDS: usize = 64;

/// The longest decimal number [`Constraint::Number`] accepts, in bytes.
const MAX_NUMBER_LEN: usize = 40;

/// A constraint on the text of one value.
///
/// JSON form: an object whose `type` names the variant in camelCase, with the variant's fields
/// in camelCase beside it, for example `{"type":"string","maxLength":255}`,
/// `{"type":"number","min":0,"integer":false}`, `{"type":"enum","values":["I","II"]}`,
/// `{"type":"cas"}`, `{"type":"list","of":{"type":"handleRef"},"maxItems":100}`. Unknown fields are
/// rejected. Optional bounds may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", from = "ConstraintJson")]
#[non_exhaustive]
pub enum Constraint {
    /// Free text, with optional bounds on its length in Unicode scalar values (characters, not
    /// bytes) and an optional regular expression that must match the whole text.
    #[serde(rename_all = "camelCase")]
    String {
        /// The fewest characters; 0 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u32>,
        /// The most characters; unbounded when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
        /// A regular expression (syntax of the `regex` crate) that must match the whole text;
        /// it is anchored implicitly.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<Pattern>,
    },
    /// A decimal number written `-?(0|[1-9][0-9]*)(\.[0-9]+)?`: no exponent, no `+`, no leading
    /// zeros, at most 40 characters; with optional inclusive bounds.
    #[serde(rename_all = "camelCase")]
    Number {
        /// The smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Whether the number must be an integer (written without a fraction).
        #[serde(default)]
        integer: bool,
    },
    /// A real calendar date `YYYY-MM-DD` ([`validators::date`]).
    #[serde(rename_all = "camelCase")]
    Date {
        /// Whether the date must not be later than the `today` given to validation (production
        /// and inspection dates).
        #[serde(default)]
        not_after_today: bool,
    },
    /// One of a fixed list of strings, compared exactly.
    Enum {
        /// The allowed values.
        values: Vec<String>,
    },
    /// A handle (`prefix/suffix`) that resolves, as told by the [`crate::HandleExists`] given to
    /// validation.
    HandleRef,
    /// An absolute `http` or `https` URL ([`validators::url`]).
    Url,
    /// A file: an `http(s)` URL, or a handle that resolves (a file registered as an identifier).
    FileRef,
    /// A CAS Registry Number ([`validators::cas`]).
    Cas,
    /// A unified social credit code ([`validators::uscc`]).
    Uscc,
    /// A UN number ([`validators::un_number`]).
    UnNumber,
    /// A Chinese dangerous-goods number, 危规号 ([`validators::dangerous_goods_no`]).
    DangerousGoodsNo,
    /// A GB/T 2260 administrative division code ([`validators::region`]).
    Region,
    /// A four-level GB/T 4754-2017 industry class ([`validators::industry_class`]).
    IndustryCode,
    /// A JSON array of GHS hazard statement codes ([`validators::ghs_hazard`]), without
    /// repetitions and with at most [`MAX_GHS_HAZARDS`] entries; `[]` means not classified.
    GhsHazards,
    /// A packing group `I`, `II` or `III` ([`validators::packing_group`]).
    PackingGroup,
    /// A Chinese vehicle plate ([`validators::plate`]).
    Plate,
    /// An electronic waybill number ([`validators::waybill_no`]).
    WaybillNo,
    /// Several values in one: a JSON array of strings (`["a","b"]`), each checked against `of`,
    /// without repetitions. The reference design stores lists as JSON arrays encoded as strings
    /// (one handle value per item), so the array is the whole text of the value. `of` may not
    /// itself be a list.
    #[serde(rename_all = "camelCase")]
    List {
        /// The constraint of every element.
        of: Box<Self>,
        /// The fewest elements; 0 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_items: Option<u32>,
        /// The most elements; unbounded when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_items: Option<u32>,
    },
}

/// The JSON form of [`Constraint`] for deserialising. serde does not reject unknown fields
/// beside the tag of a unit variant, so every variant here has braces; `From` maps them back.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
enum ConstraintJson {
    #[serde(rename_all = "camelCase")]
    String {
        #[serde(default)]
        min_length: Option<u32>,
        #[serde(default)]
        max_length: Option<u32>,
        #[serde(default)]
        pattern: Option<Pattern>,
    },
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        integer: bool,
    },
    #[serde(rename_all = "camelCase")]
    Date {
        #[serde(default)]
        not_after_today: bool,
    },
    Enum {
        values: Vec<String>,
    },
    HandleRef {},
    Url {},
    FileRef {},
    Cas {},
    Uscc {},
    UnNumber {},
    DangerousGoodsNo {},
    Region {},
    IndustryCode {},
    GhsHazards {},
    PackingGroup {},
    Plate {},
    WaybillNo {},
    #[serde(rename_all = "camelCase")]
    List {
        of: Box<Constraint>,
        #[serde(default)]
        min_items: Option<u32>,
        #[serde(default)]
        max_items: Option<u32>,
    },
}

impl From<ConstraintJson> for Constraint {
    fn from(json: ConstraintJson) -> Self {
        match json {
            ConstraintJson::String {
                min_length,
                max_length,
                pattern,
            } => Self::String {
                min_length,
                max_length,
                pattern,
            },
            ConstraintJson::Number { min, max, integer } => Self::Number { min, max, integer },
            ConstraintJson::Date { not_after_today } => Self::Date { not_after_today },
            ConstraintJson::Enum { values } => Self::Enum { values },
            ConstraintJson::HandleRef {} => Self::HandleRef,
            ConstraintJson::Url {} => Self::Url,
            ConstraintJson::FileRef {} => Self::FileRef,
            ConstraintJson::Cas {} => Self::Cas,
            ConstraintJson::Uscc {} => Self::Uscc,
            ConstraintJson::UnNumber {} => Self::UnNumber,
            ConstraintJson::DangerousGoodsNo {} => Self::DangerousGoodsNo,
            ConstraintJson::Region {} => Self::Region,
            ConstraintJson::IndustryCode {} => Self::IndustryCode,
            ConstraintJson::GhsHazards {} => Self::GhsHazards,
            ConstraintJson::PackingGroup {} => Self::PackingGroup,
            ConstraintJson::Plate {} => Self::Plate,
            ConstraintJson::WaybillNo {} => Self::WaybillNo,
            ConstraintJson::List {
                of,
                min_items,
                max_items,
            } => Self::List {
                of,
                min_items,
                max_items,
            },
        }
    }
}

/// Why a constraint is not usable; found by [`Constraint::check_definition`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConstraintError {
    /// A lower bound is above the upper bound.
    #[error("the lower bound is above the upper bound")]
    Bounds,
    /// A numeric bound is not a finite number.
    #[error("a numeric bound is not finite")]
    NotFinite,
    /// An enum has no values, an empty value or a repeated value.
    #[error("enum values must be non-empty and distinct, and there must be at least one")]
    EnumValues,
    /// A list contains a list.
    #[error("a list may not contain a list")]
    NestedList,
}

impl Constraint {
    /// Checks that the constraint itself makes sense: bounds in order and finite, enum values
    /// present, non-empty and distinct, lists not nested.
    pub fn check_definition(&self) -> Result<(), ConstraintError> {
        match self {
            Self::String {
                min_length,
                max_length,
                ..
            } => in_order(*min_length, *max_length),
            Self::Number { min, max, .. } => {
                if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                    return Err(ConstraintError::NotFinite);
                }
                match (min, max) {
                    (Some(low), Some(high)) if low > high => Err(ConstraintError::Bounds),
                    _ => Ok(()),
                }
            }
            Self::Enum { values } => {
                let distinct = values
                    .iter()
                    .enumerate()
                    .all(|(i, v)| !v.is_empty() && !values[..i].contains(v));
                if values.is_empty() || !distinct {
                    return Err(ConstraintError::EnumValues);
                }
                Ok(())
            }
            Self::List {
                of,
                min_items,
                max_items,
            } => {
                if of.is_list() {
                    return Err(ConstraintError::NestedList);
                }
                of.check_definition()?;
                in_order(*min_items, *max_items)
            }
            _ => Ok(()),
        }
    }

    /// Whether values of this constraint are JSON arrays.
    pub fn is_list(&self) -> bool {
        matches!(self, Self::List { .. } | Self::GhsHazards)
    }

    /// Checks one value's text. `lookup` answers whether referenced handles exist and `today`
    /// bounds dates that may not lie in the future. The error is the rule that failed, in
    /// English.
    pub fn check(
        &self,
        text: &str,
        lookup: &dyn crate::HandleExists,
        today: Date,
    ) -> Result<(), String> {
        let code = |result: Result<(), validators::CodeError>| result.map_err(|e| e.to_string());
        match self {
            Self::String {
                min_length,
                max_length,
                pattern,
            } => {
                let n_chars = text.chars().count();
                if let Some(min) = min_length
                    && n_chars < *min as usize
                {
                    return Err(format!("shorter than {min} characters"));
                }
                if let Some(max) = max_length
                    && n_chars > *max as usize
                {
                    return Err(format!("longer than {max} characters"));
                }
                if let Some(pattern) = pattern
                    && !pattern.matches(text)
                {
                    return Err(format!("does not match the pattern {}", pattern.as_str()));
                }
                Ok(())
            }
            Self::Number { min, max, integer } => {
                let value = parse_decimal(text, *integer)?;
                if let Some(min) = min
                    && value < *min
                {
                    return Err(format!("less than the minimum {min}"));
                }
                if let Some(max) = max
                    && value > *max
                {
                    return Err(format!("greater than the maximum {max}"));
                }
                Ok(())
            }
            Self::Date { not_after_today } => {
                let date = validators::date(text).map_err(|e| e.to_string())?;
                if *not_after_today && date > today {
                    return Err(format!("{date} is later than today ({today})"));
                }
                Ok(())
            }
            Self::Enum { values } => {
                if values.iter().any(|v| v == text) {
                    Ok(())
                } else {
                    Err(format!("not one of {}", values.join(", ")))
                }
            }
            Self::HandleRef => handle_exists(text, lookup),
            Self::Url => code(validators::url(text)),
            Self::FileRef => {
                if text.contains("://") {
                    code(validators::url(text))
                } else {
                    handle_exists(text, lookup)
                        .map_err(|rule| format!("neither an http(s) URL nor a handle: {rule}"))
                }
            }
            Self::Cas => code(validators::cas(text)),
            Self::Uscc => code(validators::uscc(text)),
            Self::UnNumber => code(validators::un_number(text).map(drop)),
            Self::DangerousGoodsNo => code(validators::dangerous_goods_no(text).map(drop)),
            Self::Region => code(validators::region(text)),
            Self::IndustryCode => code(validators::industry_class(text)),
            Self::GhsHazards => {
                let items = parse_list(text)?;
                if items.len() > MAX_GHS_HAZARDS {
                    return Err(format!("more than {MAX_GHS_HAZARDS} hazard statements"));
                }
                check_elements(&items, |item| code(validators::ghs_hazard(item)))
            }
            Self::PackingGroup => code(validators::packing_group(text).map(drop)),
            Self::Plate => code(validators::plate(text)),
            Self::WaybillNo => code(validators::waybill_no(text)),
            Self::List {
                of,
                min_items,
                max_items,
            } => {
                let items = parse_list(text)?;
                if let Some(min) = min_items
                    && items.len() < *min as usize
                {
                    return Err(format!("fewer than {min} elements"));
                }
                if let Some(max) = max_items
                    && items.len() > *max as usize
                {
                    return Err(format!("more than {max} elements"));
                }
                check_elements(&items, |item| of.check(item, lookup, today))
            }
        }
    }

    /// Whether every value this constraint accepts is also accepted by `wider`, judged
    /// syntactically: the same kind of constraint with bounds that are equal or looser, a pattern
    /// that is unchanged or dropped, enum values kept, or `Url` and `HandleRef` widened to
    /// `FileRef`. Used by [`crate::evolve`].
    pub fn is_widened_by(&self, wider: &Self) -> bool {
        if self == wider {
            return true;
        }
        match (self, wider) {
            (
                Self::String {
                    min_length: old_min,
                    max_length: old_max,
                    pattern: old_pattern,
                },
                Self::String {
                    min_length: new_min,
                    max_length: new_max,
                    pattern: new_pattern,
                },
            ) => {
                lower_widened(*old_min, *new_min)
                    && upper_widened(*old_max, *new_max)
                    && (new_pattern.is_none() || new_pattern == old_pattern)
            }
            (
                Self::Number {
                    min: old_min,
                    max: old_max,
                    integer: old_integer,
                },
                Self::Number {
                    min: new_min,
                    max: new_max,
                    integer: new_integer,
                },
            ) => {
                let min_ok = match (old_min, new_min) {
                    (_, None) => true,
                    (Some(old), Some(new)) => new <= old,
                    (None, Some(_)) => false,
                };
                let max_ok = match (old_max, new_max) {
                    (_, None) => true,
                    (Some(old), Some(new)) => new >= old,
                    (None, Some(_)) => false,
                };
                min_ok && max_ok && (*old_integer || !new_integer)
            }
            (
                Self::Date {
                    not_after_today: old,
                },
                Self::Date {
                    not_after_today: new,
                },
            ) => *old || !new,
            (Self::Enum { values: old }, Self::Enum { values: new }) => {
                old.iter().all(|v| new.contains(v))
            }
            (Self::Url | Self::HandleRef, Self::FileRef) => true,
            (
                Self::List {
                    of: old_of,
                    min_items: old_min,
                    max_items: old_max,
                },
                Self::List {
                    of: new_of,
                    min_items: new_min,
                    max_items: new_max,
                },
            ) => {
                old_of.is_widened_by(new_of)
                    && lower_widened(*old_min, *new_min)
                    && upper_widened(*old_max, *new_max)
            }
            _ => false,
        }
    }
}

/// Checks that an optional lower bound is not above an optional upper bound.
fn in_order(low: Option<u32>, high: Option<u32>) -> Result<(), ConstraintError> {
    match (low, high) {
        (Some(low), Some(high)) if low > high => Err(ConstraintError::Bounds),
        _ => Ok(()),
    }
}

/// Whether an optional lower bound (absent = 0) was kept or lowered.
fn lower_widened(old: Option<u32>, new: Option<u32>) -> bool {
    new.unwrap_or(0) <= old.unwrap_or(0)
}

/// Whether an optional upper bound (absent = unbounded) was kept, raised or dropped.
fn upper_widened(old: Option<u32>, new: Option<u32>) -> bool {
    match (old, new) {
        (_, None) => true,
        (Some(old), Some(new)) => new >= old,
        (None, Some(_)) => false,
    }
}

/// Parses a handle and asks the lookup whether it exists.
fn handle_exists(text: &str, lookup: &dyn crate::HandleExists) -> Result<(), String> {
    let handle = Handle::parse(text).map_err(|e| format!("not a handle (prefix/suffix): {e}"))?;
    match lookup.exists(&handle) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("the handle {handle} does not exist")),
        Err(e) => Err(format!("could not check that {handle} exists: {e}")),
    }
}

/// Parses the text of a list value: a JSON array of strings.
fn parse_list(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .map_err(|_| "expected a JSON array of strings, such as [\"a\",\"b\"]".to_owned())
}

/// Checks the elements of a list: each with `check`, and none repeated.
fn check_elements(
    items: &[String],
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|other| other == item) {
            return Err(format!("element {} repeats element {}", i + 1, first + 1));
        }
        check(item).map_err(|rule| format!("element {} ({item:?}): {rule}", i + 1))?;
    }
    Ok(())
}

/// Parses a decimal number in the syntax of [`Constraint::Number`].
fn parse_decimal(text: &str, integer: bool) -> Result<f64, String> {
    let shape = || {
        if integer {
            "expected an integer such as 200 or -3".to_owned()
        } else {
            "expected a decimal number such as 200 or 12.5".to_owned()
        }
    };
    if text.len() > MAX_NUMBER_LEN {
        return Err(format!("a number has at most {MAX_NUMBER_LEN} characters"));
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (whole.len() > 1 && whole.starts_with('0')) {
        return Err(shape());
    }
    match fraction {
        Some(_) if integer => return Err(shape()),
        Some(fraction) if !digits(fraction) => return Err(shape()),
        _ => {}
    }
    text.parse::<f64>().map_err(|_| shape())
}

/// A regular expression that must match a whole value, kept with its source text.
///
/// The source is compiled as `^(?:source)$` with a bounded automaton size; two patterns are equal
/// when their sources are. In JSON a pattern is its source string.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

/// Why a regular expression was not accepted as a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid pattern: {0}")]
pub struct PatternError(String);

impl Pattern {
    /// Compiles `source`, anchored at both ends. Fails for invalid syntax, for sources longer
    /// than [`MAX_PATTERN_LEN`] bytes and for patterns whose automaton would be too large.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        if source.len() > MAX_PATTERN_LEN {
            return Err(PatternError(format!("longer than {MAX_PATTERN_LEN} bytes")));
        }
        let regex = RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(PATTERN_SIZE_LIMIT)
            .dfa_size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| PatternError(e.to_string()))?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The source text, as written in the template.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Self::new(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LookupError;

    fn today() -> Date {
        Date::new(2024, 6, 1).unwrap()
    }

    fn known(handle: &Handle) -> Result<bool, LookupError> {
        match handle.as_str() {
            "88.118.8/E.91350100M000100Y43" => Ok(true),
            "88.118.8/broken" => Err(LookupError("store unavailable".into())),
            _ => Ok(false),
        }
    }

    fn check(constraint: &Constraint, text: &str) -> Result<(), String> {
        constraint.check(text, &known, today())
    }

    #[test]
    fn json_form() {
        let c: Constraint = serde_json::from_str(
            r#"{"type":"list","of":{"type":"string","maxLength":8,"pattern":"[A-Z]+"},"maxItems":3}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            Constraint::List {
                of: Box::new(Constraint::String {
                    min_length: None,
                    max_length: Some(8),
                    pattern: Some(Pattern::new("[A-Z]+").unwrap()),
                }),
                min_items: None,
                max_items: Some(3),
            }
        );
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"type":"list","of":{"type":"string","maxLength":8,"pattern":"[A-Z]+"},"maxItems":3}"#
        );
        assert_eq!(
            serde_json::to_string(&Constraint::DangerousGoodsNo).unwrap(),
            r#"{"type":"dangerousGoodsNo"}"#
        );
        for bad in [
            r#"{"type":"cas","extra":1}"#,
            r#"{"type":"string","maxLen":3}"#,
            r#"{"type":"nope"}"#,
            r#"{"type":"string","pattern":"("}"#,
            r#"{"maxLength":3}"#,
        ] {
            assert!(serde_json::from_str::<Constraint>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn definitions() {
        let bad = [
            Constraint::String {
                min_length: Some(3),
                max_length: Some(2),
                pattern: None,
            },
            Constraint::Number {
                min: Some(2.0),
                max: Some(1.0),
                integer: false,
            },
            Constraint::Number {
                min: Some(f64::NAN),
                max: None,
                integer: false,
            },
            Constraint::Enum { values: vec![] },
            Constraint::Enum {
                values: vec!["a".into(), "a".into()],
            },
            Constraint::Enum {
                values: vec![String::new()],
            },
            Constraint::List {
                of: Box::new(Constraint::GhsHazards),
                min_items: None,
                max_items: None,
            },
            Constraint::List {
                of: Box::new(Constraint::Cas),
                min_items: Some(2),
                max_items: Some(1),
            },
        ];
        for c in bad {
            assert!(c.check_definition().is_err(), "{c:?}");
        }
        assert_eq!(Constraint::Cas.check_definition(), Ok(()));
    }

    #[test]
    fn strings() {
        let c = Constraint::String {
            min_length: Some(2),
            max_length: Some(4),
            pattern: Some(Pattern::new("[一-龥A-Z]+").unwrap()),
        };
        assert_eq!(check(&c, "丙酮"), Ok(()));
        assert_eq!(check(&c, "ABCD"), Ok(()));
        assert_eq!(check(&c, "A").unwrap_err(), "shorter than 2 characters");
        assert_eq!(
            check(&c, "丙酮丙酮丙").unwrap_err(),
            "longer than 4 characters"
        );
        assert_eq!(
            check(&c, "AB1").unwrap_err(),
            "does not match the pattern [一-龥A-Z]+"
        );
        // The pattern is anchored: a match inside the text is not enough.
        assert!(check(&c, "1AB").is_err());
        assert!(Pattern::new(&"a".repeat(MAX_PATTERN_LEN + 1)).is_err());
        assert!(Pattern::new("(a{1000}){1000}").is_err());
    }

    #[test]
    fn numbers() {
        let c = Constraint::Number {
            min: Some(0.0),
            max: Some(1000.0),
            integer: false,
        };
        for good in ["0", "200", "12.5", "1000", "0.001"] {
            assert_eq!(check(&c, good), Ok(()), "{good}");
        }
        for bad in [
            "", "-1", "1000.5", "1e3", "+5", "05", ".5", "5.", "NaN", "inf", "1,000", " 5",
        ] {
            assert!(check(&c, bad).is_err(), "{bad:?}");
        }
        let integer = Constraint::Number {
            min: None,
            max: None,
            integer: true,
        };
        assert_eq!(check(&integer, "-3"), Ok(()));
        assert!(check(&integer, "3.0").is_err());
        assert!(check(&integer, &"9".repeat(41)).is_err());
    }

    #[test]
    fn dates() {
        let past = Constraint::Date {
            not_after_today: true,
        };
        assert_eq!(check(&past, "2024-06-01"), Ok(()));
        assert_eq!(
            check(&past, "2024-06-02").unwrap_err(),
            "2024-06-02 is later than today (2024-06-01)"
        );
        let any = Constraint::Date {
            not_after_today: false,
        };
        assert_eq!(check(&any, "2030-01-01"), Ok(()));
        assert!(check(&any, "2023-02-29").is_err());
    }

    #[test]
    fn enums() {
        let c = Constraint::Enum {
            values: vec!["kg".into(), "t".into()],
        };
        assert_eq!(check(&c, "kg"), Ok(()));
        assert_eq!(check(&c, "KG").unwrap_err(), "not one of kg, t");
    }

    #[test]
    fn handle_refs_and_files() {
        let h = Constraint::HandleRef;
        assert_eq!(check(&h, "88.118.8/E.91350100M000100Y43"), Ok(()));
        assert_eq!(
            check(&h, "88.118.8/E.missing").unwrap_err(),
            "the handle 88.118.8/E.missing does not exist"
        );
        assert!(
            check(&h, "no-slash")
                .unwrap_err()
                .starts_with("not a handle")
        );
        assert_eq!(
            check(&h, "88.118.8/broken").unwrap_err(),
            "could not check that 88.118.8/broken exists: handle lookup failed: store unavailable"
        );
        let f = Constraint::FileRef;
        assert_eq!(check(&f, "https://example.com/sds.pdf"), Ok(()));
        assert_eq!(check(&f, "88.118.8/E.91350100M000100Y43"), Ok(()));
        assert!(check(&f, "ftp://example.com/sds.pdf").is_err());
        assert!(check(&f, "88.118.8/E.missing").is_err());
        assert!(check(&Constraint::Url, "88.118.8/E.91350100M000100Y43").is_err());
    }

    #[test]
    fn lists() {
        let c = Constraint::List {
            of: Box::new(Constraint::Cas),
            min_items: Some(1),
            max_items: Some(2),
        };
        assert_eq!(check(&c, r#"["67-64-1"]"#), Ok(()));
        assert_eq!(check(&c, r#"["67-64-1","64-17-5"]"#), Ok(()));
        assert_eq!(check(&c, "[]").unwrap_err(), "fewer than 1 elements");
        assert_eq!(
            check(&c, r#"["67-64-1","64-17-5","71-43-2"]"#).unwrap_err(),
            "more than 2 elements"
        );
        assert_eq!(
            check(&c, r#"["67-64-2"]"#).unwrap_err(),
            "element 1 (\"67-64-2\"): check digit does not match"
        );
        assert_eq!(
            check(&c, r#"["67-64-1","67-64-1"]"#).unwrap_err(),
            "element 2 repeats element 1"
        );
        for bad in [
            "67-64-1",
            "67-64-1;64-17-5",
            "[67]",
            r#"{"a":1}"#,
            r#"[["67-64-1"]]"#,
        ] {
            assert!(
                check(&c, bad)
                    .unwrap_err()
                    .starts_with("expected a JSON array"),
                "{bad}"
            );
        }
        let g = Constraint::GhsHazards;
        assert_eq!(check(&g, r#"["H225","H319","H336"]"#), Ok(()));
        assert_eq!(check(&g, "[]"), Ok(()));
        assert!(check(&g, r#"["H225","H999"]"#).is_err());
        let many: Vec<String> = (0..65).map(|i| format!("H{}", 200 + i)).collect();
        assert!(check(&g, &serde_json::to_string(&many).unwrap()).is_err());
    }

    #[test]
    fn named_codes() {
        let cases = [
            (Constraint::Cas, "67-64-1", "67-64-2"),
            (Constraint::Uscc, "91350100M000100Y43", "91350100M000100Y44"),
            (Constraint::UnNumber, "UN1090", "UN10900"),
            (Constraint::DangerousGoodsNo, "31025", "01025"),
            (Constraint::Region, "370202", "990202"),
            (Constraint::IndustryCode, "C2614", "C26"),
            (Constraint::PackingGroup, "II", "IV"),
            (Constraint::Plate, "鲁B1234挂", "鲁B123"),
            (Constraint::WaybillNo, "370200202401150001", "37-02"),
            (Constraint::Url, "https://example.com/", "example.com"),
        ];
        for (c, good, bad) in cases {
            assert_eq!(check(&c, good), Ok(()), "{c:?} {good}");
            assert!(check(&c, bad).is_err(), "{c:?} {bad}");
        }
    }

    #[test]
    fn widening() {
        let s = |min, max, pattern: Option<&str>| Constraint::String {
            min_length: min,
            max_length: max,
            pattern: pattern.map(|p| Pattern::new(p).unwrap()),
        };
        assert!(s(Some(2), Some(10), Some("[a-z]+")).is_widened_by(&s(None, Some(20), None)));
        assert!(!s(None, Some(10), None).is_widened_by(&s(None, Some(5), None)));
        assert!(!s(None, None, None).is_widened_by(&s(None, Some(5), None)));
        assert!(!s(None, None, None).is_widened_by(&s(Some(1), None, None)));
        assert!(!s(None, None, None).is_widened_by(&s(None, None, Some("x"))));
        let n = |min, max, integer| Constraint::Number { min, max, integer };
        assert!(n(Some(0.0), Some(10.0), true).is_widened_by(&n(None, Some(20.0), false)));
        assert!(!n(Some(0.0), None, false).is_widened_by(&n(Some(1.0), None, false)));
        assert!(!n(None, None, false).is_widened_by(&n(None, None, true)));
        let e = |values: &[&str]| Constraint::Enum {
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(e(&["a"]).is_widened_by(&e(&["a", "b"])));
        assert!(!e(&["a", "b"]).is_widened_by(&e(&["a"])));
        assert!(Constraint::Url.is_widened_by(&Constraint::FileRef));
        assert!(!Constraint::FileRef.is_widened_by(&Constraint::Url));
        assert!(!Constraint::Cas.is_widened_by(&Constraint::Uscc));
        let past = Constraint::Date {
            not_after_today: true,
        };
        let any = Constraint::Date {
            not_after_today: false,
        };
        assert!(past.is_widened_by(&any));
        assert!(!any.is_widened_by(&past));
    }
}
