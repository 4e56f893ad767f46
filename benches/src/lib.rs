//! Criterion benchmarks of idnode, with the fixtures they share.
//!
//! The benchmarks live in `benches/` (run one with `cargo bench -p idnode-benches --bench
//! registry`); this library only builds realistic inputs for them, such as the values of a
//! hazardous-chemical product handle. Nothing here is used by the node itself, and nothing here
//! does I/O: each benchmark opens its own stores in a temporary directory.
//!
//! The HTTP benchmarks are the binaries `loadgen` (a REST load generator) and `fixed_server` (a
//! minimal hyper server to compare the node with), driven by `benches/run-http.sh`; results and
//! how to read them are in `docs/benchmarks.md`.
#![warn(missing_docs)]

pub mod client;
pub mod cpu;

use idnode_proto::json::write_value;
use idnode_proto::{AdminPerms, AdminRecord, HandleValue, Record, ValueRef};

/// The prefix under which the fixtures create handles.
pub const BENCH_PREFIX: &str = "88.118.8";

/// The handle of the `n`th fixture product, such as `88.118.8/CHEM-000042`.
pub fn product_handle(n: usize) -> String {
    format!("{BENCH_PREFIX}/CHEM-{n:06}")
}

/// The encoded values (`int4 count` + value records) of the `n`th fixture product: an
/// `HS_ADMIN`, a `URL`, a `DESC`, an `EMAIL` and a JSON `CHEM_INFO`, about 700 bytes in all,
/// the shape of a record that an enterprise registers for a hazardous-chemical product.
pub fn product_values(n: usize) -> Vec<u8> {
    Record::encode(&product_value_list(n))
}

/// The values of the `n`th fixture product, decoded (see [`product_values`]).
pub fn product_value_list(n: usize) -> Vec<HandleValue> {
    let admin = AdminRecord {
        perms: AdminPerms(AdminPerms::ALL.0),
        admin: ValueRef {
            handle: format!("0.NA/{BENCH_PREFIX}"),
            index: 200,
        },
    };
    let url = format!("https://trace.example.cn/products/chem-{n:06}?lang=zh-CN");
    let desc = format!("危险化学品 产品批次 {n:06}: 工业用甲醛溶液 37%, 25 kg 塑料桶");
    let email = format!("safety-{}@chem-enterprise.example.cn", n % 997);
    let chem_info = format!(
        concat!(
            r#"{{"cas":"50-00-0","name_en":"formaldehyde","name_zh":"甲醛","#,
            r#""formula":"CH2O","un_number":"UN2209","batch":"B{:06}","#,
            r#""ghs":["H301","H311","H314","H317","H331","H341","H350","H370"],"#,
            r#""pictograms":["GHS05","GHS06","GHS08"],"flash_point_c":60,"#,
            r#""producer":"91310000MA1FL{:05}","msds":"https://msds.example.cn/50-00-0.pdf"}}"#
        ),
        n,
        n % 100_000
    );
    vec![
        HandleValue::new(100, "HS_ADMIN", admin.to_bytes()),
        HandleValue::new(1, "URL", url),
        HandleValue::new(2, "DESC", desc),
        HandleValue::new(3, "EMAIL", email),
        HandleValue::new(4, "CHEM_INFO", chem_info),
    ]
}

/// The JSON body of a REST `PUT /api/handles/{handle}` that creates the `n`th fixture product:
/// `{"values":[...]}` in the reference server's value layout.
pub fn product_put_body(n: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    body.extend_from_slice(b"{\"values\":[");
    for (i, value) in product_value_list(n).iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write_value(&mut body, value);
    }
    body.extend_from_slice(b"]}");
    body
}

/// An EPCIS 2.0 capture document of `events` hazardous-chemical storage events, the `doc`th
/// one: each event names its own drum (a GS1 Digital Link), so records of different documents
/// never extend the same subject chain.
pub fn capture_document(doc: usize, events: usize) -> Vec<u8> {
    let mut body = String::with_capacity(600 * events + 300);
    body.push_str(
        "{\"@context\":[\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\",\
         {\"hc\":\"https://ns.example.cn/hazchem/\"}],\"type\":\"EPCISDocument\",\
         \"schemaVersion\":\"2.0\",\"creationDate\":\"2026-01-01T00:00:00Z\",\
         \"epcisBody\":{\"eventList\":[",
    );
    for e in 0..events {
        if e > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-01-01T08:{:02}:{:02}+08:00\",\
             \"eventTimeZoneOffset\":\"+08:00\",\
             \"epcList\":[\"https://id.gs1.org/01/09506000134352/21/D{doc}-{e}\"],\
             \"action\":\"OBSERVE\",\"bizStep\":\"storing\",\"disposition\":\"in_progress\",\
             \"readPoint\":{{\"id\":\"https://id.gs1.org/414/9506000134369\"}},\
             \"hc:unNumber\":\"UN1090\",\"hc:casNumber\":\"67-64-1\",\
             \"hc:quantity\":\"200.0\",\"hc:quantityUnit\":\"KGM\"}}",
            doc % 60,
            e % 60
        ));
    }
    body.push_str("]}}");
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_documents_are_json() {
        let document: serde_json::Value =
            serde_json::from_slice(&capture_document(3, 4)).expect("JSON");
        let events = document["epcisBody"]["eventList"]
            .as_array()
            .expect("events");
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[3]["epcList"][0],
            "https://id.gs1.org/01/09506000134352/21/D3-3"
        );
    }

    #[test]
    fn product_values_parse_back() {
        let bytes = product_values(42);
        let record = Record::parse(&bytes).unwrap();
        let values = record.decode_all().unwrap();
        assert_eq!(values.len(), 5);
        assert!(values[0].has_type("HS_ADMIN"));
        assert!((500..1000).contains(&bytes.len()), "{} bytes", bytes.len());
        assert_eq!(product_handle(42), "88.118.8/CHEM-000042");
    }

    #[test]
    fn put_body_reads_back_as_the_same_values() {
        let body: serde_json::Value = serde_json::from_slice(&product_put_body(7)).unwrap();
        let (handle, values) = idnode_proto::json::values_from_body(&body).unwrap();
        assert_eq!(handle, None);
        assert_eq!(values, product_value_list(7));
        assert_eq!(Record::encode(&values), product_values(7));
    }
}
