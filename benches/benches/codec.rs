//! Criterion benches of the Handle data model codecs on a realistic chemical-product record:
//! the REST JSON answer written from stored values (the resolution hot path), from decoded
//! values, decoding a stored record, and reading a REST PUT body.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idnode_benches::{product_put_body, product_values};
use idnode_proto::Record;
use idnode_proto::json::{values_from_body, write_encoded_value, write_value};

/// The REST answer body around the values, as `node/src/rest.rs` writes it.
fn answer(values: &[u8], mut write: impl FnMut(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + values.len() * 2);
    body.extend_from_slice(b"{\"responseCode\":1,\"handle\":\"88.118.8/chem-1\",\"values\":[");
    write(&mut body);
    body.extend_from_slice(b"]}");
    body
}

fn codec(c: &mut Criterion) {
    let stored = product_values(1);
    let record = Record::parse(&stored).expect("fixture record parses");
    let decoded = record.decode_all().expect("fixture record decodes");
    let body = product_put_body(1);
    let rendered = answer(&stored, |out| {
        for (i, value) in record.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_encoded_value(out, value);
        }
    });

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(rendered.len() as u64));
    group.bench_function("json_from_stored_values", |b| {
        b.iter(|| {
            let record = Record::parse(std::hint::black_box(&stored)).expect("parses");
            answer(&stored, |out| {
                for (i, value) in record.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_encoded_value(out, value);
                }
            })
        })
    });
    group.bench_function("json_from_decoded_values", |b| {
        b.iter(|| {
            answer(&stored, |out| {
                for (i, value) in std::hint::black_box(&decoded).iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_value(out, value);
                }
            })
        })
    });
    group.throughput(Throughput::Bytes(stored.len() as u64));
    group.bench_function("decode_stored_record", |b| {
        b.iter(|| Record::parse(std::hint::black_box(&stored)).and_then(|r| r.decode_all()))
    });
    group.bench_function("encode_record", |b| {
        b.iter(|| Record::encode(std::hint::black_box(&decoded)))
    });
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("read_put_body", |b| {
        b.iter(|| {
            let json: serde_json::Value =
                serde_json::from_slice(std::hint::black_box(&body)).expect("valid JSON");
            values_from_body(&json).expect("valid values")
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
