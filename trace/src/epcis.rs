//! The CBV 2.0 EPCIS event hash (`ni:///sha-256;<hex>?ver=CBV2.0`) of JSON-LD events.
//!
//! This is a port of the GS1 "EPCIS Event Hash Generator" (PyPI `epcis-event-hash-generator`
//! 1.9.3, the reference implementation named by CBV 2.0 §8.9) for JSON-LD input; XML input is
//! out of scope. The reference is the specification here: its output, including its quirks, is
//! what other EPCIS systems compute, so the port follows its data flow step by step:
//!
//! 1. **Bare strings** (`json_to_py._bare_string_pre_preocessing`): the document is expanded
//!    as JSON-LD with the EPCIS 2.0 context (see `jsonld`), the expanded strings starting with
//!    `https://ref.gs1.org/cbv` or `https://gs1.org/voc` are collected, and every string value
//!    in the document that is the text after a `-` or `/` at the end of exactly one of them is
//!    replaced by it (`"shipping"` → `https://ref.gs1.org/cbv/BizStep-shipping`).
//! 2. **Simple tree** (`_json_to_py`): each event becomes `(name, value, children)` triples;
//!    keys with a prefix declared in the document's `@context` list become `{namespace}local`,
//!    values with such a prefix are expanded, `comment`, `rdfs:comment` and `#text` keys are
//!    skipped, and children are sorted unless the object holds `bizTransaction`, `source` or
//!    `destination`.
//! 3. **XML model** (`json_xml_model_mismatch_correction`): `…List` arrays get their XML
//!    element names (`epcList` → `epc`, `quantityList` → `quantityElement`, …); source,
//!    destination and business transaction entries become pairs of their first two members
//!    in document order.
//! 4. **Pre-hash string** (`hash_generator`): the event type, then the fields in the canonical
//!    order of [`PROP_ORDER`] as `name=value` with no separators (sorted within a field),
//!    timestamps in UTC with milliseconds, values canonicalised (CBV URNs to Web URIs, numbers
//!    without trailing zeros, EPC URNs and Digital Link URIs to canonical Digital Link URIs);
//!    then all remaining fields except `recordTime`, `eventID`, `type` and `errorDeclaration`
//!    (user extensions, ILMD, and — a quirk of the reference — the business transaction,
//!    source and destination lists), sorted as strings.
//! 5. **Hash**: SHA-256 of the UTF-8 pre-hash string, as RFC 6920 `ni:///sha-256;…?ver=CBV2.0`.
//!
//! Differences from the reference, all outside what valid EPCIS 2.0 JSON-LD produces:
//!
//! * Errors instead of silently dropped events: where the reference raises inside one event
//!   (a timestamp that rounds to a full second or leaves the year range, an infinite number),
//!   it leaves the event out of its list; here the call fails with [`EpcisError::Event`].
//! * Timestamps are parsed as ISO 8601 extended date-times only (the reference's `dateutil`
//!   also reads other layouts); other text is kept as written, as the reference does with
//!   text it cannot parse. A time without a zone is UTC, not the machine's zone.
//! * EPC URNs with non-ASCII decimal digits are not converted (Python's `int()` accepts them);
//!   `float()` is emulated for ASCII text.
//! * Integers beyond 64 bits sort by their nearest double, since `serde_json` keeps them as
//!   doubles; their hashed value is the same.
//! * A non-string `type` or `#text`, a context URL other than the EPCIS 2.0 context (the
//!   reference would fetch it), and JSON-LD features outside the supported subset are errors.
//! * EPCIS query documents (`epcisBody.queryResults.resultsBody.eventList`) are accepted, as
//!   later versions of the reference do; 1.9.3 fails on them.
//! * The reference's non-standard "ignore fields" extension (added after 1.9.3) is not
//!   supported.
//!
//! Input is bounded: nesting depth, value count, text size and event count are limited
//! ([`MAX_DEPTH`], [`MAX_VALUES`], [`MAX_TEXT_BYTES`], [`MAX_EVENTS`]), and no input panics.

mod jsonld;
mod normalise;
mod tree;

use self::tree::*;

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use jsonld::JsonLdError;

use normalise::{ValueCache, ValueFailure, fix_timestamp, py_float_repr, py_strip};

/// The JSON-LD context URL of EPCIS 2.0, used for single events that carry no `@context`.
pub const EPCIS_CONTEXT_URL: &str =
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// The start of every event hash.
pub const EVENT_HASH_PREFIX: &str = "ni:///sha-256;";

/// The end of every event hash: the CBV version of the algorithm.
pub const EVENT_HASH_SUFFIX: &str = "?ver=CBV2.0";

/// The largest document [`parse_document`] accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 64;

/// The most JSON values (objects, arrays, scalars) accepted in one input.
pub const MAX_VALUES: usize = 1 << 20;

/// The most bytes of strings and member names accepted in one input.
pub const MAX_TEXT_BYTES: usize = 32 << 20;

/// The most events accepted in one document.
pub const MAX_EVENTS: usize = 1 << 16;

/// Errors from computing event hashes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EpcisError {
    /// The bytes are not JSON.
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The input exceeds a size limit.
    #[error("input too large: {0}")]
    TooLarge(&'static str),
    /// The input is neither an EPCIS document nor an event.
    #[error("not an EPCIS document or event: {0}")]
    NotEpcis(&'static str),
    /// `event_hash` was given a document without exactly one event.
    #[error("expected one event, found {0}")]
    NotOneEvent(usize),
    /// The JSON-LD processing the reference does failed or is unsupported.
    #[error("JSON-LD: {0}")]
    JsonLd(#[from] JsonLdError),
    /// The document has a shape the reference fails on as a whole.
    #[error("malformed EPCIS document: {0}")]
    Malformed(String),
    /// One event cannot be hashed (the reference leaves such an event out of its output).
    #[error("event {index}: {reason}")]
    Event {
        /// The event's position in the document's event list.
        index: usize,
        /// Why the event cannot be hashed.
        reason: String,
    },
}

/// Parses a JSON document of at most [`MAX_DOCUMENT_BYTES`] (nesting is bounded by
/// `serde_json`'s recursion limit).
pub fn parse_document(bytes: &[u8]) -> Result<Value, EpcisError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(EpcisError::TooLarge("document bytes"));
    }
    serde_json::from_slice(bytes).map_err(EpcisError::Json)
}

/// The CBV 2.0 pre-hash strings of the events of an EPCIS document (or query document), one per
/// event in document order, or of a single event.
///
/// A single event is an object without `epcisBody`; it is hashed as the only event of a
/// document whose `@context` is the event's own `@context` (moved out of the event), or
/// [`EPCIS_CONTEXT_URL`] when it has none.
pub fn prehash_strings(document_or_event: &Value) -> Result<Vec<String>, EpcisError> {
    check_bounds(document_or_event)?;
    let wrapped;
    let document = if is_document(document_or_event) {
        document_or_event
    } else {
        wrapped = wrap_event(document_or_event)?;
        &wrapped
    };
    document_prehashes(document)
}

/// The event hashes of [`prehash_strings`].
pub fn event_hashes(document_or_event: &Value) -> Result<Vec<String>, EpcisError> {
    Ok(prehash_strings(document_or_event)?
        .iter()
        .map(|prehash| hash_prehash(prehash))
        .collect())
}

/// The event hash of a single event, or of a document holding exactly one event.
pub fn event_hash(event: &Value) -> Result<String, EpcisError> {
    let hashes = event_hashes(event)?;
    match <[String; 1]>::try_from(hashes) {
        Ok([hash]) => Ok(hash),
        Err(hashes) => Err(EpcisError::NotOneEvent(hashes.len())),
    }
}

/// The event hash of `event` as the only event of a document with the JSON-LD `context` (the
/// shape of a trace record's `context` and `event`).
pub fn event_hash_in_context(
    context: &Value,
    event: &Map<String, Value>,
) -> Result<String, EpcisError> {
    let mut document = Map::new();
    document.insert("@context".to_owned(), context.clone());
    document.insert("type".to_owned(), Value::from("EPCISDocument"));
    document.insert("schemaVersion".to_owned(), Value::from("2.0"));
    document.insert(
        "epcisBody".to_owned(),
        serde_json::json!({ "eventList": [Value::Object(event.clone())] }),
    );
    event_hash(&Value::Object(document))
}

/// `ni:///sha-256;<hex of SHA-256(prehash)>?ver=CBV2.0`.
pub fn hash_prehash(prehash: &str) -> String {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(prehash.as_bytes());
    let mut hash =
        String::with_capacity(EVENT_HASH_PREFIX.len() + 2 * digest.len() + EVENT_HASH_SUFFIX.len());
    hash.push_str(EVENT_HASH_PREFIX);
    for byte in digest {
        hash.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        hash.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    hash.push_str(EVENT_HASH_SUFFIX);
    hash
}

/// One entry of the canonical property order: a field name and, for structured fields, the
/// order of its children. `name: None` stands for the reference's pair-shaped entries of the
/// business transaction, source and destination lists, which never match a field.
#[derive(Debug)]
pub struct OrderEntry {
    /// The field name.
    pub name: Option<&'static str>,
    /// The order of the field's children.
    pub children: Option<&'static [Self]>,
}

const fn leaf(name: &'static str) -> OrderEntry {
    OrderEntry {
        name: Some(name),
        children: None,
    }
}

const fn branch(name: &'static str, children: &'static [OrderEntry]) -> OrderEntry {
    OrderEntry {
        name: Some(name),
        children: Some(children),
    }
}

const QUANTITY_ELEMENT: &[OrderEntry] = &[branch(
    "quantityElement",
    &[leaf("epcClass"), leaf("quantity"), leaf("uom")],
)];

const EPC: &[OrderEntry] = &[leaf("epc")];

/// The reference's `(('type', None), ('bizTransaction', None))`-style entries.
const PAIR: &[OrderEntry] = &[OrderEntry {
    name: None,
    children: None,
}];

/// The canonical property order (`epcis_event_hash_generator.PROP_ORDER`).
pub const PROP_ORDER: &[OrderEntry] = &[
    leaf("eventTime"),
    leaf("eventTimeZoneOffset"),
    leaf("certificationInfo"),
    leaf("parentID"),
    branch("epcList", EPC),
    branch("inputEPCList", EPC),
    branch("childEPCs", EPC),
    branch("quantityList", QUANTITY_ELEMENT),
    branch("childQuantityList", QUANTITY_ELEMENT),
    branch("inputQuantityList", QUANTITY_ELEMENT),
    branch("outputEPCList", EPC),
    branch("outputQuantityList", QUANTITY_ELEMENT),
    leaf("action"),
    leaf("transformationID"),
    leaf("bizStep"),
    leaf("disposition"),
    branch("persistentDisposition", &[leaf("set"), leaf("unset")]),
    branch("readPoint", &[leaf("id")]),
    branch("bizLocation", &[leaf("id")]),
    branch("bizTransactionList", PAIR),
    branch("sourceList", PAIR),
    branch("destinationList", PAIR),
    branch(
        "sensorElementList",
        &[branch(
            "sensorElement",
            &[
                branch(
                    "sensorMetadata",
                    &[
                        leaf("time"),
                        leaf("startTime"),
                        leaf("endTime"),
                        leaf("deviceID"),
                        leaf("deviceMetadata"),
                        leaf("rawData"),
                        leaf("dataProcessingMethod"),
                        leaf("bizRules"),
                    ],
                ),
                branch(
                    "sensorReport",
                    &[
                        leaf("type"),
                        leaf("exception"),
                        leaf("deviceID"),
                        leaf("deviceMetadata"),
                        leaf("rawData"),
                        leaf("dataProcessingMethod"),
                        leaf("time"),
                        leaf("microorganism"),
                        leaf("chemicalSubstance"),
                        leaf("value"),
                        leaf("component"),
                        leaf("stringValue"),
                        leaf("booleanValue"),
                        leaf("hexBinaryValue"),
                        leaf("uriValue"),
                        leaf("minValue"),
                        leaf("maxValue"),
                        leaf("meanValue"),
                        leaf("sDev"),
                        leaf("percRank"),
                        leaf("percValue"),
                        leaf("uom"),
                        leaf("coordinateReferenceSystem"),
                    ],
                ),
            ],
        )],
    ),
];

/// The fields the reference leaves out of the unordered part of the pre-hash.
const IGNORED_FIELDS: [&str; 4] = ["recordTime", "eventID", "type", "errorDeclaration"];

/// The lists whose entries become pairs and whose objects are not sorted.
const PAIR_LISTS: [&str; 3] = ["sourceList", "destinationList", "bizTransactionList"];
const UNSORTED_MEMBERS: [&str; 3] = ["bizTransaction", "source", "destination"];

fn is_document(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.contains_key("epcisBody"))
}

fn wrap_event(event: &Value) -> Result<Value, EpcisError> {
    let Value::Object(event) = event else {
        return Err(EpcisError::NotEpcis(
            "neither a document nor an event object",
        ));
    };
    let mut event = event.clone();
    let context = event
        .remove("@context")
        .unwrap_or_else(|| Value::from(vec![Value::from(EPCIS_CONTEXT_URL)]));
    Ok(serde_json::json!({
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"eventList": [Value::Object(event)]},
    }))
}

/// Checks the size limits without recursion.
fn check_bounds(root: &Value) -> Result<(), EpcisError> {
    let mut stack = vec![(root, 0usize)];
    let mut n_values = 0usize;
    let mut n_text_bytes = 0usize;
    while let Some((value, depth)) = stack.pop() {
        n_values += 1;
        if n_values > MAX_VALUES {
            return Err(EpcisError::TooLarge("number of values"));
        }
        if depth > MAX_DEPTH {
            return Err(EpcisError::TooLarge("nesting depth"));
        }
        match value {
            Value::String(text) => n_text_bytes += text.len(),
            Value::Array(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(map) => {
                for (key, item) in map {
                    n_text_bytes += key.len();
                    stack.push((item, depth + 1));
                }
            }
            _ => {}
        }
        if n_text_bytes > MAX_TEXT_BYTES {
            return Err(EpcisError::TooLarge("text bytes"));
        }
    }
    Ok(())
}

/// `event_list_from_epcis_document_json` followed by `derive_prehashes_from_events`.
fn document_prehashes(document: &Value) -> Result<Vec<String>, EpcisError> {
    let vocabulary = jsonld::collect_vocabulary_iris(document)?;
    // The reference replaces the bare strings of a copy of the document before reading it;
    // here each string value is replaced where it is read, which gives the same values.
    let bare = BareStrings::new(&vocabulary);
    let mut namespaces = Namespaces::default();
    if let Some(context) = document.get("@context").filter(|c| !c.is_null()) {
        namespaces.collect_from_context(context, &bare)?;
    }
    let body = document
        .get("epcisBody")
        .and_then(Value::as_object)
        .ok_or(EpcisError::NotEpcis("epcisBody is not an object"))?;
    let events: Vec<&Value> = if let Some(list) = body.get("eventList") {
        list.as_array()
            .ok_or(EpcisError::NotEpcis("eventList is not an array"))?
            .iter()
            .collect()
    } else if let Some(results) = body.get("queryResults") {
        results
            .pointer("/resultsBody/eventList")
            .and_then(Value::as_array)
            .ok_or(EpcisError::NotEpcis(
                "queryResults has no resultsBody.eventList",
            ))?
            .iter()
            .collect()
    } else if let Some(event) = body.get("event") {
        vec![event]
    } else {
        return Err(EpcisError::NotEpcis("epcisBody has no eventList or event"));
    };
    if events.len() > MAX_EVENTS {
        return Err(EpcisError::TooLarge("number of events"));
    }
    // The reference converts every event before deriving any pre-hash string, with one
    // namespace table shared by all of them.
    let mut converted = Vec::with_capacity(events.len());
    for event in events {
        let tree = json_to_py(event, &mut namespaces, &bare)?;
        converted.push(correct_structure(tree)?);
    }
    let mut values = ValueCache::default();
    let mut writer = PrehashWriter::new(&mut values);
    converted
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            writer.event(event).map_err(|failure| EpcisError::Event {
                index,
                reason: match failure {
                    ValueFailure::InfiniteNumber(text) => format!("infinite number {text:?}"),
                    ValueFailure::Timestamp(text) => format!("timestamp out of range {text:?}"),
                },
            })
        })
        .collect()
}

/// `_replace_bare_string_values`: a string value (not a member name) that is the text after
/// a `-` or `/` at the end of exactly one expanded vocabulary string is replaced by it.
struct BareStrings<'a> {
    /// The expanded vocabulary strings with their bytes reversed, sorted, to find those ending
    /// in `-<value>` or `/<value>` by binary search.
    reversed: Vec<(Vec<u8>, &'a str)>,
    /// Which bytes the vocabulary strings end with: a value ending otherwise is not replaced.
    last_bytes: [bool; 256],
}

impl<'a> BareStrings<'a> {
    fn new(vocabulary: &'a [String]) -> Self {
        let mut reversed: Vec<(Vec<u8>, &str)> = vocabulary
            .iter()
            .map(|iri| (iri.bytes().rev().collect(), iri.as_str()))
            .collect();
        reversed.sort();
        let mut last_bytes = [false; 256];
        for iri in vocabulary {
            if let Some(&last) = iri.as_bytes().last() {
                last_bytes[usize::from(last)] = true;
            }
        }
        Self {
            reversed,
            last_bytes,
        }
    }

    /// The string value `value` after the replacement.
    fn value<'t>(&self, value: &'t str) -> &'t str
    where
        'a: 't,
    {
        self.replacement(value).unwrap_or(value)
    }

    /// `_find_replacement_string_values`: the one expanded string ending in `-value` or
    /// `/value`, if there is exactly one.
    fn replacement(&self, value: &str) -> Option<&'a str> {
        if self.reversed.is_empty()
            || value
                .as_bytes()
                .last()
                .is_some_and(|&last| !self.last_bytes[usize::from(last)])
        {
            return None;
        }
        let mut n_matches = 0;
        let mut found = None;
        for delimiter in [b'-', b'/'] {
            // The reversed key: the value's bytes from the end, then the delimiter.
            let key = || value.bytes().rev().chain([delimiter]);
            let key_len = value.len() + 1;
            let start = self
                .reversed
                .partition_point(|(text, _)| text.iter().copied().lt(key()));
            let end = self.reversed.partition_point(|(text, _)| {
                text.iter().copied().lt(key())
                    || (text.len() >= key_len
                        && text.iter().copied().zip(key()).all(|(a, b)| a == b))
            });
            n_matches += end - start;
            if end - start == 1 {
                found = Some(self.reversed[start].1);
            }
        }
        if n_matches == 1 { found } else { None }
    }
}

/// The reference's global `_namespaces`: prefix → `{namespace}`.
#[derive(Default)]
struct Namespaces {
    /// Prefix → (`{namespace}`, the same without braces).
    braced: HashMap<String, (String, String)>,
    /// Bit `n` is set when a prefix of `n` bytes (or 63 or more for bit 63) is known, so that
    /// most texts are passed over without a lookup.
    prefix_lengths: u64,
}

impl Namespaces {
    /// `_collect_namespaces_from_jsonld_context`: only a list context is read; its strings map
    /// to themselves and its objects' members are prefixes.
    fn collect_from_context(
        &mut self,
        context: &Value,
        bare: &BareStrings<'_>,
    ) -> Result<(), EpcisError> {
        let Value::Array(entries) = context else {
            return Ok(());
        };
        for entry in entries {
            match entry {
                Value::String(url) => {
                    let url = bare.value(url);
                    self.insert(url.to_owned(), url);
                }
                Value::Object(map) => {
                    for (prefix, namespace) in map {
                        let Value::String(namespace) = namespace else {
                            return Err(EpcisError::Malformed(format!(
                                "@context member {prefix:?} is not a plain namespace"
                            )));
                        };
                        self.insert(prefix.clone(), bare.value(namespace));
                    }
                }
                _ => {
                    return Err(EpcisError::Malformed(
                        "@context list entry is neither a string nor an object".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Maps `prefix` to `{namespace}`.
    fn insert(&mut self, prefix: String, namespace: &str) {
        self.prefix_lengths |= 1 << prefix.len().min(63);
        let braced = format!("{{{namespace}}}");
        let unbraced = braced.replace(['{', '}'], "");
        self.braced.insert(prefix, (braced, unbraced));
    }

    /// `_namespace_replace`: `prefix:rest` with a known prefix becomes `{namespace}rest` for
    /// names and `namespace rest` (braces removed) for values.
    fn replace<'a>(&self, text: &'a str, is_value: bool) -> Text<'a> {
        self.replaced(text, is_value)
            .map_or(Cow::Borrowed(text), Cow::Owned)
    }

    /// [`Self::replace`] of a text that may be owned already.
    fn replace_text<'a>(&self, text: Text<'a>, is_value: bool) -> Text<'a> {
        self.replaced(&text, is_value).map_or(text, Cow::Owned)
    }

    /// The replacement of [`Self::replace`], if the text has a known prefix.
    fn replaced(&self, text: &str, is_value: bool) -> Option<String> {
        let (prefix, rest) = text.split_once(':')?;
        if self.prefix_lengths & (1 << prefix.len().min(63)) == 0 {
            return None;
        }
        let (braced, unbraced) = self.braced.get(prefix)?;
        let namespace = if is_value { unbraced } else { braced };
        let mut replaced = String::with_capacity(namespace.len() + rest.len());
        replaced.push_str(namespace);
        replaced.push_str(rest);
        Some(replaced)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reference_vector_from_the_design_notes() {
        let document = serde_json::json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2022-02-17T02:33:31.116Z",
            "epcisBody": {"eventList": [{
                "type": "ObjectEvent",
                "eventTime": "2022-02-16T20:33:31.116-06:00",
                "eventTimeZoneOffset": "-06:00",
                "epcList": ["urn:epc:id:sgtin:0614141.107346.2018",
                            "urn:epc:id:sgtin:0614141.107346.2017"],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
                "bizTransactionList": [
                    {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}
                ]
            }]}
        });
        let prehashes = prehash_strings(&document).expect("prehash");
        assert_eq!(
            prehashes,
            vec![
                "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00\
                 epcListepc=https://id.gs1.org/01/10614141073464/21/2017\
                 epc=https://id.gs1.org/01/10614141073464/21/2018action=OBSERVE\
                 bizStep=https://ref.gs1.org/cbv/BizStep-shipping\
                 disposition=https://ref.gs1.org/cbv/Disp-in_transit\
                 readPointid=https://id.gs1.org/414/0614141073467/254/1234\
                 bizTransactionListtype=https://ref.gs1.org/cbv/BTT-po\
                 bizTransaction=http://transaction.acme.com/po/12345678"
            ]
        );
        assert_eq!(
            event_hash(&document).expect("hash"),
            "ni:///sha-256;ffa491b16867e34a7791a8d5389d826afc24e63a121026b6a4004ace38631b4b?ver=CBV2.0"
        );
    }

    #[test]
    fn single_event_takes_its_context_out() {
        let event = serde_json::json!({
            "@context": [EPCIS_CONTEXT_URL, {"hc": "https://idnode.example/hc/"}],
            "type": "ObjectEvent",
            "eventTime": "2026-01-01T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00",
            "epcList": ["https://id.gs1.org/01/09506000134352/21/1"],
            "action": "OBSERVE",
            "hc:unNumber": "UN1203"
        });
        let prehashes = prehash_strings(&event).expect("prehash");
        assert_eq!(
            prehashes,
            vec![
                "eventType=ObjectEventeventTime=2026-01-01T00:00:00.000ZeventTimeZoneOffset=+08:00\
                 epcListepc=https://id.gs1.org/01/09506000134352/21/1action=OBSERVE\
                 {https://idnode.example/hc/}unNumber=UN1203"
            ]
        );
        let Value::Object(mut map) = event else {
            unreachable!("the event is an object")
        };
        let context = map.remove("@context").expect("context");
        assert_eq!(
            event_hash_in_context(&context, &map).expect("hash"),
            hash_prehash(&prehashes[0])
        );
    }

    #[test]
    fn errors_instead_of_dropping_events() {
        let event = serde_json::json!({
            "type": "ObjectEvent",
            "eventTime": "2026-01-01T23:59:59.9999Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE"
        });
        assert!(matches!(
            prehash_strings(&event),
            Err(EpcisError::Event { index: 0, .. })
        ));
        let not_epcis = serde_json::json!(["a"]);
        assert!(matches!(
            prehash_strings(&not_epcis),
            Err(EpcisError::NotEpcis(_))
        ));
        let two = serde_json::json!({"epcisBody": {"eventList": [{}, {}]}});
        assert!(matches!(event_hash(&two), Err(EpcisError::NotOneEvent(2))));
    }

    #[test]
    fn bounds_are_enforced() {
        let mut deep = Value::from(1);
        for _ in 0..=MAX_DEPTH {
            deep = Value::from(vec![deep]);
        }
        assert!(matches!(
            prehash_strings(&deep),
            Err(EpcisError::TooLarge(_))
        ));
        assert!(matches!(
            parse_document(&vec![b' '; MAX_DOCUMENT_BYTES + 1]),
            Err(EpcisError::TooLarge(_))
        ));
    }

    /// `_find_replacement_string_values` as the reference runs it: a scan of every string.
    fn replacement_by_scan<'a>(vocabulary: &'a [String], value: &str) -> Option<&'a str> {
        let matches: Vec<&String> = vocabulary
            .iter()
            .filter(|iri| {
                iri.ends_with(&format!("-{value}")) || iri.ends_with(&format!("/{value}"))
            })
            .collect();
        match matches.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The ASCII test of a name is Python's `name.lower()` test.
        #[test]
        fn time_names_are_found_as_with_lowercasing(
            name in "[a-zA-Z{}/:]{0,6}(time|Time|TIME|offset|Offset|OFFSET|ti\u{130}me|\u{212a})?[a-zA-Z\u{e9}]{0,6}",
        ) {
            let lower = name.to_lowercase();
            prop_assert_eq!(
                is_time_name(&name),
                lower.contains("time") && !lower.contains("offset")
            );
        }

        /// The binary search with its filter on final bytes finds what a scan finds.
        #[test]
        fn bare_strings_are_replaced_as_by_a_scan(
            vocabulary in proptest::collection::btree_set(
                "https://ref.gs1.org/cbv/[A-Za-z]{1,3}[-/][a-z_]{0,3}|https://gs1.org/voc/[a-z]{0,2}/?",
                0..12,
            ),
            values in proptest::collection::vec("[a-z_]{0,3}|[A-Za-z]{1,3}[-/][a-z_]{0,3}|/?", 1..8),
        ) {
            let vocabulary: Vec<String> = vocabulary.into_iter().collect();
            let bare = BareStrings::new(&vocabulary);
            for value in &values {
                prop_assert_eq!(bare.replacement(value), replacement_by_scan(&vocabulary, value));
            }
        }
    }
}
