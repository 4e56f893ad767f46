//! Criterion benches of the CBV 2.0 EPCIS event hash (`idnode_trace::epcis::event_hashes`), the
//! largest CPU cost of `POST /epcis/capture`, on parsed documents of 100 events each:
//!
//! * `digital_link`: the capture fixture of `idnode_benches::capture_document` (ObjectEvents
//!   with GS1 Digital Link EPCs and `hc:` extension fields);
//! * `epc_urn`: ObjectEvents with `urn:epc:id:sgtin` EPCs, SGLN locations, CBV 1.x URNs,
//!   business transactions and LGTIN quantities;
//! * `mixed`: aggregation and transformation events with SSCC, `hdl:` and Digital Link
//!   identifiers, sources and destinations, and sensor reports.
//!
//! ```text
//! cargo bench -p idnode-benches --bench epcis
//! ```
//!
//! Throughput is in events.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idnode_benches::capture_document;
use idnode_trace::epcis;
use serde_json::{Value, json};

/// Events per document.
const EVENTS: usize = 100;

/// A document around `events` with the EPCIS 2.0 context and the `hc` namespace.
fn document(events: Vec<Value>) -> Value {
    json!({
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"hc": "https://ns.example.cn/hazchem/"}
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    })
}

/// ObjectEvents naming drums by SGTIN URNs, with CBV 1.x URN vocabulary.
fn epc_urn_document() -> Value {
    let events = (0..EVENTS)
        .map(|e| {
            json!({
                "type": "ObjectEvent",
                "eventTime": format!("2026-01-01T09:{:02}:{:02}.250+08:00", e / 60, e % 60),
                "eventTimeZoneOffset": "+08:00",
                "epcList": [
                    format!("urn:epc:id:sgtin:0614141.107346.{}", 2 * e),
                    format!("urn:epc:id:sgtin:0614141.107346.{}", 2 * e + 1),
                ],
                "action": "OBSERVE",
                "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
                "disposition": "urn:epcglobal:cbv:disp:in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
                "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"},
                "bizTransactionList": [
                    {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO-1"}
                ],
                "quantityList": [{
                    "epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                    "quantity": 200.0,
                    "uom": "KGM"
                }],
                "hc:unNumber": "UN1090",
            })
        })
        .collect();
    document(events)
}

/// Alternating aggregation and transformation events.
fn mixed_document() -> Value {
    let events = (0..EVENTS)
        .map(|e| {
            if e % 2 == 0 {
                json!({
                    "type": "AggregationEvent",
                    "eventTime": format!("2026-01-01T10:{:02}:{:02}Z", e / 60, e % 60),
                    "eventTimeZoneOffset": "+00:00",
                    "parentID": format!("urn:epc:id:sscc:0614141.{:010}", e),
                    "childEPCs": [
                        format!("https://id.gs1.org/01/09506000134352/21/P{e}-1"),
                        format!("https://id.gs1.org/01/09506000134352/21/P{e}-2"),
                        format!("hdl:88.118.8/CHEM-{e:06}"),
                    ],
                    "action": "ADD",
                    "bizStep": "packing",
                    "disposition": "in_progress",
                    "readPoint": {"id": "https://id.gs1.org/414/9506000134369"},
                    "sourceList": [{"type": "owning_party", "source": "https://id.gs1.org/417/9506000134376"}],
                    "destinationList": [{"type": "owning_party", "destination": "https://id.gs1.org/417/9506000134383"}],
                })
            } else {
                json!({
                    "type": "TransformationEvent",
                    "eventTime": format!("2026-01-01T11:{:02}:{:02}Z", e / 60, e % 60),
                    "eventTimeZoneOffset": "+00:00",
                    "inputEPCList": [format!("https://id.gs1.org/01/09506000134352/21/T{e}")],
                    "outputQuantityList": [{
                        "epcClass": "https://id.gs1.org/01/09506000134352/10/LOT7",
                        "quantity": 12.5,
                        "uom": "KGM"
                    }],
                    "transformationID": format!("hdl:88.118.8/TX-{e:06}"),
                    "bizStep": "commissioning",
                    "sensorElementList": [{
                        "sensorMetadata": {"time": "2026-01-01T11:00:00Z"},
                        "sensorReport": [
                            {"type": "Temperature", "value": 21.5, "uom": "CEL"},
                            {"type": "AbsolutePressure", "value": 101.3, "uom": "KPA"}
                        ]
                    }],
                    "hc:batch": format!("B{e:06}"),
                })
            }
        })
        .collect();
    document(events)
}

fn epcis_hash(c: &mut Criterion) {
    let digital_link: Value =
        serde_json::from_slice(&capture_document(1, EVENTS)).expect("the fixture is JSON");
    let documents = [
        ("digital_link", digital_link),
        ("epc_urn", epc_urn_document()),
        ("mixed", mixed_document()),
    ];
    let mut group = c.benchmark_group("epcis_event_hashes");
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, document) in &documents {
        let hashes = epcis::event_hashes(document).expect("the bench document hashes");
        assert_eq!(hashes.len(), EVENTS);
        group.bench_function(*name, |b| {
            b.iter(|| epcis::event_hashes(std::hint::black_box(document)))
        });
    }
    group.finish();
}

criterion_group!(benches, epcis_hash);
criterion_main!(benches);
