//! Crash consistency of trace capture in the real `idnode` binary: writers stream EPCIS
//! documents over HTTPS, the node is killed with SIGKILL mid-stream, and after a restart on the
//! same data directory the log is consistent with what was served before the kill, every
//! acknowledged receipt is in it at its index with a proof that verifies offline, and the
//! subjects' `prev` chains are unbroken.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Method;
use idnode_trace::merkle::tile::parse_entry_bundle;
use idnode_trace::merkle::{Hash, verify_consistency};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Note, Verifier, Verifiers};
use idnode_trace::record::{RecordVerifier, verify_offline};
use serde_json::{Value, json};
use support::{ADMIN, ADMIN_SECRET, Client, DataDir, Served, alpn_http1, basic, node_cert};

/// Concurrent writers.
const WRITERS: usize = 4;
/// Events per captured document.
const EVENTS: usize = 10;
/// Acknowledged documents to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 40;
/// The subject every writer extends, so that captures race on one chain.
const SHARED: &str = "https://id.gs1.org/00/095060001343500017";

/// One acknowledged record.
#[derive(Debug, Clone)]
struct Receipt {
    digest: String,
    index: u64,
}

fn document(writer: usize, n: usize) -> Value {
    let events: Vec<Value> = (0..EVENTS)
        .map(|e| {
            let id = if e == 0 {
                SHARED.to_owned()
            } else {
                format!(
                    "https://id.gs1.org/01/09506000134352/21/W{writer}-{}",
                    e % 3
                )
            };
            json!({
                "type": "ObjectEvent",
                // Every event is a new one (the same event again would be a retry, and capture
                // records it once).
                "eventID": format!("urn:example:trace-crash:{writer}:{n}:{e}"),
                "eventTime": format!("2026-01-01T08:{:02}:{:02}+08:00", n % 60, e),
                "eventTimeZoneOffset": "+08:00",
                "epcList": [id],
                "action": "OBSERVE",
                "bizStep": "storing",
                "readPoint": {"id": "https://id.gs1.org/414/9506000134369"},
            })
        })
        .collect();
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    })
}

/// A GET as the administrator, a server administrator here (see the test's configuration),
/// who may read every record.
async fn get(client: &Client, served: &Served, path: &str) -> support::Reply {
    let authorization = basic(ADMIN, ADMIN_SECRET);
    client
        .send(
            Method::GET,
            &format!("https://{}{path}", served.https_addr),
            &[("authorization", authorization.as_str())],
            None,
        )
        .await
}

/// Waits for a checkpoint of at least `size` entries and returns it.
async fn checkpoint_of(client: &Client, served: &Served, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = get(client, served, "/log/checkpoint").await;
        if reply.status == 200 {
            let text = reply.text();
            if text.lines().nth(1).and_then(|s| s.parse::<u64>().ok()) >= Some(size) {
                return text;
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint of size {size}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_receipts_survive_sigkill() {
    let dir = DataDir::init();
    let config = std::fs::read_to_string(&dir.config).unwrap().replace(
        "[auth]\n",
        &format!("[auth]\nserver_admins = [{ADMIN:?}]\n"),
    );
    std::fs::write(
        &dir.config,
        format!("{config}\n[trace]\ncheckpoint_interval_ms = 50\n"),
    )
    .unwrap();
    let mut served =
        Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-1.log")).await;
    let cert = node_cert(&dir.data);
    let client = Client::new(&cert, &alpn_http1());
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let receipts: Arc<std::sync::Mutex<Vec<Receipt>>> = Arc::default();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = client.clone();
            let url = format!("https://{}/epcis/capture", served.https_addr);
            let (acks, killed, receipts) = (acks.clone(), killed.clone(), receipts.clone());
            tokio::spawn(async move {
                let authorization = basic(ADMIN, ADMIN_SECRET);
                let headers = [
                    ("content-type", "application/json"),
                    ("authorization", authorization.as_str()),
                ];
                let mut n = 0;
                loop {
                    let body = document(w, n).to_string().into_bytes();
                    n += 1;
                    match client
                        .try_send(Method::POST, &url, &headers, Some(body))
                        .await
                    {
                        Ok(reply) if reply.status == 201 => {
                            let json = reply.json();
                            let mut list = receipts.lock().unwrap();
                            for receipt in json["receipts"].as_array().unwrap() {
                                list.push(Receipt {
                                    digest: receipt["digest"].as_str().unwrap().to_owned(),
                                    index: receipt["index"].as_u64().unwrap(),
                                });
                            }
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        // Every document names the shared subject: under contention the node
                        // answers 503 (nothing recorded), and a client sends it again.
                        Ok(reply) if reply.status == 503 && !killed.load(Ordering::SeqCst) => {
                            n -= 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Ok(reply) if killed.load(Ordering::SeqCst) => {
                            panic!(
                                "an answer after the kill: {} {}",
                                reply.status,
                                reply.text()
                            )
                        }
                        Ok(reply) => panic!("capture failed: {} {}", reply.status, reply.text()),
                        Err(_) if killed.load(Ordering::SeqCst) => return,
                        Err(e) => panic!("capture failed before the kill: {e}"),
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
        assert!(Instant::now() < deadline, "too few captures acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = get(&client, &served, "/log/checkpoint").await.text();
    killed.store(true, Ordering::SeqCst);
    served.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    drop(served);
    let receipts = receipts.lock().unwrap().clone();
    assert!(receipts.len() >= ACKS_BEFORE_KILL * EVENTS);

    let served = Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-2.log")).await;
    let log_key =
        Verifier::parse_vkey(get(&client, &served, "/log/vkey").await.text().trim()).unwrap();
    let jwks = get(&client, &served, "/api/keys").await.json();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let record_key = RecordVerifier::new(
        kid.rsplit_once('+').unwrap().0,
        ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap(),
    )
    .unwrap();

    // The log after the restart extends the checkpoint served before the kill.
    let max_index = receipts.iter().map(|r| r.index).max().unwrap();
    let after = checkpoint_of(&client, &served, max_index + 1).await;
    let keys = Verifiers::new(vec![log_key.clone()]);
    let old = Checkpoint::parse(
        Note::parse(before.as_bytes())
            .unwrap()
            .verify(&keys)
            .unwrap()
            .text(),
    )
    .unwrap();
    let new = Checkpoint::parse(
        Note::parse(after.as_bytes())
            .unwrap()
            .verify(&keys)
            .unwrap()
            .text(),
    )
    .unwrap();
    if old.size > 0 {
        let proof: Vec<Hash> = get(
            &client,
            &served,
            &format!("/log/consistency?old={}&new={}", old.size, new.size),
        )
        .await
        .text()
        .lines()
        .map(|l| Hash::from_slice(&STANDARD.decode(l).unwrap()).unwrap())
        .collect();
        verify_consistency(old.size, new.size, &proof, &old.root, &new.root).unwrap();
    }

    // Every acknowledged record is in the log at its index, with a proof that verifies.
    let mut entries = Vec::new();
    for tile in 0..new.size.div_ceil(256) {
        let width = (new.size - tile * 256).min(256);
        let path = if width == 256 {
            format!(
                "/log/tile/entries/{}",
                idnode_trace::merkle::tile::encode_index(tile)
            )
        } else {
            format!(
                "/log/tile/entries/{}.p/{width}",
                idnode_trace::merkle::tile::encode_index(tile)
            )
        };
        let bundle = get(&client, &served, &path).await;
        assert_eq!(bundle.status, 200, "{path}");
        entries.extend(
            parse_entry_bundle(&bundle.body)
                .unwrap()
                .iter()
                .map(hex::encode),
        );
    }
    assert_eq!(entries.len() as u64, new.size);
    for receipt in &receipts {
        assert_eq!(
            entries[receipt.index as usize], receipt.digest,
            "leaf {}",
            receipt.index
        );
    }
    for receipt in receipts.iter().step_by(7) {
        let reply = get(
            &client,
            &served,
            &format!("/log/proof?digest={}", receipt.digest),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let bundle = TlogProof::parse(&reply.body).unwrap();
        assert_eq!(bundle.index, receipt.index);
        let jws = String::from_utf8(bundle.extra.clone().unwrap()).unwrap();
        verify_offline(
            &jws,
            &bundle,
            std::slice::from_ref(&record_key),
            &log_key,
            &[],
            0,
        )
        .unwrap();
    }

    // The shared subject's chain is unbroken across the crash.
    let history = get(
        &client,
        &served,
        &format!(
            "/api/trace/{}?limit=1000",
            SHARED.replace('/', "%2F").replace(':', "%3A")
        ),
    )
    .await
    .json();
    let mut expected_prev: Option<String> = None;
    let mut chained = 0;
    for record in history["records"].as_array().unwrap() {
        if record["chained"] != true {
            continue;
        }
        let verified = record_key.verify(record["jws"].as_str().unwrap()).unwrap();
        assert_eq!(verified.record().prev, expected_prev);
        expected_prev = Some(verified.digest().to_hex());
        chained += 1;
    }
    assert!(chained >= ACKS_BEFORE_KILL, "{chained}");
}
