//! Property tests: the event hash never panics on untrusted input, whatever its shape.
//!
//! Inputs are arbitrary JSON values built from EPCIS member names and values (so the deeper
//! code paths are reached), arbitrary bytes, and reference example documents with one
//! subtree replaced by an arbitrary value.

use std::path::Path;

use idnode_trace::epcis;
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "@context",
    "type",
    "epcisBody",
    "eventList",
    "event",
    "queryResults",
    "resultsBody",
    "eventTime",
    "eventTimeZoneOffset",
    "epcList",
    "childEPCs",
    "inputEPCList",
    "quantityList",
    "childQuantityList",
    "epcClass",
    "quantity",
    "uom",
    "action",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "set",
    "readPoint",
    "id",
    "bizTransactionList",
    "bizTransaction",
    "sourceList",
    "source",
    "sensorElementList",
    "sensorMetadata",
    "sensorReport",
    "time",
    "value",
    "ilmd",
    "#text",
    "@xmlns:ex",
    "@id",
    "@type",
    "@value",
    "@list",
    "@vocab",
    "@protected",
    "hc:x",
    "hc",
    "ex:y",
    "comment",
];

const STRINGS: &[&str] = &[
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
    "https://idnode.example/hc/",
    "ObjectEvent",
    "AggregationEvent",
    "shipping",
    "in_transit",
    "po",
    "owning_party",
    "Temperature",
    "gs1:Temperature",
    "cbv:BizStep-x",
    "urn:epc:id:sgtin:0614141.107346.2017",
    "urn:epc:id:sscc:0614141.1234567890",
    "urn:epc:id:itip:0614141.107346.01.02.7",
    "urn:epc:idpat:cpi:0614141.123.*",
    "https://example.com/01/9506000134352/22/1/10/L/21/S?x=1",
    "https://id.gs1.org/8006/123456789012345678/22/A/21/B",
    "2026-01-01T00:00:00.9999+08:00",
    "2026-01-01T00:00:00.5Z",
    "0001-01-01T00:00:00+01:00",
    "1e400",
    "inf",
    "-0",
    "1_0",
    "@id",
    "@type",
    "",
    " ",
    "ex:",
    "/",
    "-",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(8, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An EPCIS-shaped document around arbitrary events, so that conversion and pre-hashing run.
fn document() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(json_value(), 0..4),
        prop_oneof![
            Just(serde_json::json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"hc": "https://idnode.example/hc/"}])),
            json_value(),
        ],
    )
        .prop_map(|(events, context)| {
            serde_json::json!({"@context": context, "epcisBody": {"eventList": events}})
        })
}

fn example() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/vectors/epcis/examples/epcisDocWithVariousEventTypes.jsonld");
    let bytes = std::fs::read(&path).expect("example");
    epcis::parse_document(&bytes).expect("example JSON")
}

/// Replaces the subtree reached by following `path` (indices taken modulo the sizes).
fn replace_subtree(value: &mut Value, path: &[usize], replacement: Value) {
    let Some((first, rest)) = path.split_first() else {
        *value = replacement;
        return;
    };
    let child = match value {
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            items.get_mut(first % n)
        }
        Value::Object(map) if !map.is_empty() => {
            let n = map.len();
            map.values_mut().nth(first % n)
        }
        _ => None,
    };
    match child {
        Some(child) => replace_subtree(child, rest, replacement),
        None => *value = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_values_never_panic(value in json_value()) {
        let _ = epcis::prehash_strings(&value);
        let _ = epcis::event_hash(&value);
    }

    #[test]
    fn arbitrary_documents_never_panic(document in document()) {
        if let Ok(prehashes) = epcis::prehash_strings(&document) {
            let n_events = document["epcisBody"]["eventList"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(prehashes.len(), n_events);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(value) = epcis::parse_document(&bytes) {
            let _ = epcis::prehash_strings(&value);
        }
    }

    #[test]
    fn mutated_examples_never_panic(
        path in prop::collection::vec(any::<usize>(), 0..10),
        replacement in json_value(),
    ) {
        let mut document = example();
        replace_subtree(&mut document, &path, replacement);
        let _ = epcis::prehash_strings(&document);
    }
}
