//! Traceability benchmarks: inclusion proofs from a log of 1,000,000 entries stored in redb
//! (through the node's hash cache and without it), record signing (the capture path and the
//! plain `TraceRecord` path), and `idnode verify` over 2,000 proof bundles.
//!
//! ```text
//! cargo bench -p idnode-benches --bench trace
//! ```
//!
//! The 1M-entry log is built once per run in a temporary directory by appending pre-made
//! entries (one subject each, 4-byte records) through `TraceStore::commit_trace`, 20,000 per
//! batch, exactly as captures append them.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use idnode_registry::{
    RedbStore, TraceBatch, TraceEntry, TraceHashes, TraceMutation, TraceRead, TraceStore,
};
use idnode_trace::jcs;
use idnode_trace::merkle::cache::HashCache;
use idnode_trace::merkle::{self, Hash, MemHashStore};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Note, Signer};
use idnode_trace::record::{
    Lifecycle, RECORD_KIND, RecordBuilder, RecordFields, RecordSigner, TraceRecord,
};
use serde_json::{Map, Value, json};

/// Entries in the proof benchmark's log.
const LOG_SIZE: u64 = 1_000_000;
/// Entries per append while building it.
const FILL_BATCH: u64 = 20_000;
/// Bundles verified per `idnode verify` iteration.
const BUNDLES: usize = 2_000;
const ORIGIN: &str = "bench.example/log";

/// A small deterministic generator (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A distinct made-up record digest for entry `n`.
fn digest_of(n: u64) -> Hash {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[8..16].copy_from_slice(&(!n).to_be_bytes());
    Hash(bytes)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn bench_proofs(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(&dir.path().join("log.redb")).expect("the store opens");
    let started = Instant::now();
    runtime().block_on(async {
        for start in (0..LOG_SIZE).step_by(FILL_BATCH as usize) {
            let entries = (start..start + FILL_BATCH)
                .map(|n| TraceEntry {
                    digest: digest_of(n),
                    record: bytes::Bytes::from_static(b"jws."),
                    subject: format!("s{n}"),
                    expect_prev: None,
                    mentions: Vec::new(),
                    event: None,
                })
                .collect();
            store
                .commit_trace(TraceBatch {
                    mutations: vec![TraceMutation::Append { entries }],
                })
                .await
                .expect("the fill commits");
        }
    });
    eprintln!(
        "built a log of {LOG_SIZE} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let size = store.trace_size().expect("size");
    assert_eq!(size, LOG_SIZE);
    let root = merkle::tree_hash(size, &TraceHashes(&store)).expect("root");
    let signer = Signer::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).expect("signer");
    let text = Checkpoint::new(ORIGIN, size, root).to_text();
    let note = Note::sign(&text, &[&signer]).expect("note").to_text();
    runtime().block_on(async {
        store
            .commit_trace(TraceBatch {
                mutations: vec![TraceMutation::PutCheckpoint {
                    size,
                    root,
                    text,
                    note,
                }],
            })
            .await
            .expect("the checkpoint commits");
    });

    let mut group = c.benchmark_group("trace_proofs_1m");
    group.throughput(Throughput::Elements(1));
    let mut random = SplitMix(1);
    group.bench_function("inclusion_proof_uncached", |b| {
        b.iter(|| {
            let index = random.next() % size;
            merkle::prove_inclusion(index, size, &TraceHashes(&store)).expect("proof")
        });
    });
    // The node's cache at its default size, warmed by the proofs themselves.
    let cache = HashCache::new(1 << 21);
    let mut random = SplitMix(2);
    for _ in 0..200_000 {
        let index = random.next() % size;
        merkle::prove_inclusion(index, size, &cache.reader(TraceHashes(&store))).expect("warm");
    }
    group.bench_function("inclusion_proof_cached", |b| {
        b.iter(|| {
            let index = random.next() % size;
            merkle::prove_inclusion(index, size, &cache.reader(TraceHashes(&store))).expect("proof")
        });
    });
    // What GET /log/proof does besides: the index of the digest, the latest checkpoint, the
    // record, the proof through the cache, and the bundle text.
    group.bench_function("proof_bundle_cached", |b| {
        b.iter(|| {
            let n = random.next() % size;
            let index = store
                .trace_index_of(&digest_of(n))
                .expect("index")
                .expect("found");
            let (cp_size, cp_note) = store
                .trace_latest_checkpoint()
                .expect("checkpoint")
                .expect("a checkpoint");
            let record = store.trace_records(index, 1).expect("record").pop();
            let proof = merkle::prove_inclusion(index, cp_size, &cache.reader(TraceHashes(&store)))
                .expect("proof");
            TlogProof {
                extra: record.map(|r| r.record),
                index,
                proof,
                checkpoint: Note::parse(cp_note.as_bytes()).expect("note"),
            }
            .to_text()
        });
    });
    group.finish();
}

/// A realistic captured event, as in `idnode_benches::capture_document`.
fn event(n: usize) -> Map<String, Value> {
    let document: Value =
        serde_json::from_slice(&idnode_benches::capture_document(n, 1)).expect("document");
    document["epcisBody"]["eventList"][0]
        .as_object()
        .cloned()
        .expect("an event")
}

fn context() -> Value {
    json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"hc": "https://ns.example.cn/hazchem/"}])
}

fn record(n: usize, prev: Option<Hash>) -> TraceRecord {
    TraceRecord {
        v: 1,
        kind: RECORD_KIND.to_owned(),
        log: ORIGIN.to_owned(),
        subject: format!("https://id.gs1.org/01/09506000134352/21/D{n}"),
        lifecycle: Lifecycle::Stored,
        event_hash: format!("ni:///sha-256;{}?ver=CBV2.0", "ab".repeat(32)),
        context: context(),
        event: event(n),
        recorded_at: "2026-01-01T00:00:05Z".to_owned(),
        salt: URL_SAFE_NO_PAD.encode([n as u8; 16]),
        prev: prev.map(|p| p.to_hex()),
    }
}

fn bench_signing(c: &mut Criterion) {
    let signer = RecordSigner::new(
        &format!("{ORIGIN}/records"),
        SigningKey::from_bytes(&[9; 32]),
    )
    .expect("signer");
    let mut group = c.benchmark_group("trace_signing");
    group.throughput(Throughput::Elements(1));
    let plain = record(1, None);
    group.bench_function("sign_trace_record", |b| {
        b.iter(|| signer.sign(&plain).expect("sign"));
    });
    // The capture path: the shared parts once per document, JCS(event) once per event.
    let builder = RecordBuilder::new(ORIGIN, &context(), "2026-01-01T00:00:05Z").expect("builder");
    let event = event(1);
    let salt = URL_SAFE_NO_PAD.encode([1u8; 16]);
    group.bench_function("build_and_sign_bytes", |b| {
        b.iter(|| {
            let event = jcs::canonicalize_object(&event).expect("event");
            let bytes = builder
                .bytes(&RecordFields {
                    subject: &plain.subject,
                    lifecycle: plain.lifecycle,
                    event_hash: &plain.event_hash,
                    event: &event,
                    salt: &salt,
                    prev: None,
                })
                .expect("bytes");
            signer.sign_bytes(bytes)
        });
    });
    group.finish();
}

fn bench_verify(c: &mut Criterion) {
    let record_key = SigningKey::from_bytes(&[9; 32]);
    let signer =
        RecordSigner::new(&format!("{ORIGIN}/records"), record_key.clone()).expect("signer");
    let log_signer = Signer::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).expect("log signer");
    // Records in chains of 4 per subject, a log of them, one checkpoint, one bundle each.
    let mut log = MemHashStore::new();
    let mut jws = Vec::with_capacity(BUNDLES);
    let mut prev: Option<Hash> = None;
    for n in 0..BUNDLES {
        if n % 4 == 0 {
            prev = None;
        }
        let mut r = record(n, prev);
        r.subject = format!("https://id.gs1.org/01/09506000134352/21/S{}", n / 4);
        let signed = signer.sign(&r).expect("sign");
        log.append_leaf_hash(merkle::leaf_hash(&signed.digest.0));
        prev = Some(signed.digest);
        jws.push(signed.jws);
    }
    let size = log.size();
    let note = Note::sign(
        &Checkpoint::new(ORIGIN, size, log.root()).to_text(),
        &[&log_signer],
    )
    .expect("note");
    let inputs: Vec<(String, Vec<u8>)> = jws
        .into_iter()
        .enumerate()
        .map(|(index, jws)| {
            let bundle = TlogProof {
                extra: Some(jws.into_bytes()),
                index: index as u64,
                proof: merkle::prove_inclusion(index as u64, size, &log).expect("proof"),
                checkpoint: note.clone(),
            };
            (format!("r{index}"), bundle.to_text().into_bytes())
        })
        .collect();
    let record_vkey = idnode_trace::note::Verifier::new(
        &format!("{ORIGIN}/records"),
        idnode_trace::note::VerifierKind::Ed25519,
        record_key.verifying_key(),
    )
    .expect("record vkey")
    .to_vkey();
    let policy = idnode::cli::verify::Policy::parse(&format!(
        "log {}\nquorum none\nrecord {record_vkey}\n",
        log_signer.verifier().to_vkey()
    ))
    .expect("policy");
    let mut group = c.benchmark_group("trace_verify");
    group.throughput(Throughput::Elements(BUNDLES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("verify_2000_bundles", |b| {
        b.iter_batched(
            || (),
            |()| {
                let report = idnode::cli::verify::verify(&policy, &inputs, None);
                assert_eq!(
                    report.verified.len(),
                    BUNDLES,
                    "{:?}",
                    report.failures.first()
                );
                report
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench_signing, bench_verify, bench_proofs);
criterion_main!(benches);
