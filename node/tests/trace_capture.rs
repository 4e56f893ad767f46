//! End to end over loopback HTTP: EPCIS capture with validation, identifiers and permissions;
//! receipts; checkpoints, tiles and proofs that verify offline; queries; and witnessing between
//! two in-process nodes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use idnode::config::{Config, PeerLog, WitnessPeer};
use idnode_trace::merkle::tile::parse_entry_bundle;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Note, Verifier, Verifiers};
use idnode_trace::record::{RecordVerifier, verify_offline};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;

const PREFIX: &str = "88.118.8";
const ADMIN: &str = "300:88.118.8/ADMIN";
const SECRET: &str = "admin-secret-pw";

/// A node serving plain HTTP on loopback, with writes allowed there.
struct Node {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn start(edit: impl FnOnce(&mut Config, &std::path::Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut config = Config {
            data: data.clone(),
            ..Config::default()
        };
        config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.http.allow_loopback_plain_writes = true;
        config.https.listen = None;
        config.auth.secret_iterations = 1000;
        config.trace.checkpoint_interval_ms = 20;
        edit(&mut config, &data);
        let secret = dir.path().join("secret");
        std::fs::write(&secret, SECRET).unwrap();
        idnode::init::run(config.clone(), PREFIX, Some(&secret))
            .await
            .unwrap();
        let (shutdown, rx) = watch::channel(false);
        let running = idnode::server::start(config, rx).await.unwrap();
        Self {
            _dir: dir,
            addr: running.bound.http.unwrap(),
            shutdown,
            tasks: running.tasks,
        }
    }

    async fn send(&self, method: Method, path: &str, auth: bool, body: Option<Vec<u8>>) -> Reply {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if auth {
            let user = ADMIN.replace(':', "%3A");
            builder = builder.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{user}:{SECRET}"))),
            );
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            content_type,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, false, None).await
    }

    async fn capture(&self, document: &Value) -> Reply {
        self.send(
            Method::POST,
            "/epcis/capture",
            true,
            Some(document.to_string().into_bytes()),
        )
        .await
    }

    async fn create_handle(&self, handle: &str) {
        let body = json!({"values": [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.org"}}]});
        let reply = self
            .send(
                Method::PUT,
                &format!("/api/handles/{handle}"),
                true,
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }

    /// Waits until the latest checkpoint covers `size` records.
    async fn checkpoint_of(&self, size: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = self.get("/log/checkpoint").await;
            if reply.status == StatusCode::OK {
                let text = reply.text();
                let lines: Vec<&str> = text.lines().collect();
                if lines.get(1).and_then(|s| s.parse::<u64>().ok()) >= Some(size) {
                    return text;
                }
            }
            assert!(Instant::now() < deadline, "no checkpoint of size {size}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Bytes,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn document(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"hc": "https://ns.example.org/hazchem/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    })
}

fn commissioning(id: &str, n: u8) -> Value {
    let _ = n;
    json!({
        "type": "ObjectEvent",
        "eventTime": "2026-01-01T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [id],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "https://id.gs1.org/414/9506000134369"},
        "ilmd": {"hc:unNumber": "UN1090", "hc:casNumber": "67-64-1", "hc:packingGroup": "II"},
    })
}

fn shipping(id: &str, n: u8) -> Value {
    let _ = n;
    json!({
        "type": "ObjectEvent",
        "eventTime": "2026-01-02T09:30:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [id],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "bizTransactionList": [{"type": "bol", "bizTransaction": "urn:example:bol:WB2026010200001"}],
        "hc:ewaybill": "WB2026010200001",
        "hc:quantity": "200.0",
        "hc:quantityUnit": "KGM",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_prove_query_and_refuse() {
    let node = Node::start(|_, _| {}).await;
    node.create_handle("88.118.8/drum-1").await;

    // Anonymous capture is refused.
    let reply = node
        .send(
            Method::POST,
            "/epcis/capture",
            false,
            Some(
                document(vec![commissioning("hdl:88.118.8/drum-1", 1)])
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A document with an invalid second event records nothing and names the event and field.
    let mut bad = shipping("hdl:88.118.8/drum-1", 2);
    bad["bizStep"] = json!("shippingg");
    let reply = node
        .capture(&document(vec![
            commissioning("hdl:88.118.8/drum-1", 1),
            bad,
        ]))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.content_type, "application/problem+json");
    let problem = reply.json();
    assert_eq!(problem["eventIndex"], 1);
    assert_eq!(problem["field"], "bizStep");
    assert_eq!(problem["type"], "epcisException:ValidationException");
    // A handle homed here that does not exist.
    let reply = node
        .capture(&document(vec![commissioning("hdl:88.118.8/nothing", 1)]))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    assert_eq!(reply.json()["field"], "epcList/0");
    let reply = node
        .capture(&document(vec![{
            let mut event = commissioning("hdl:88.118.8/drum-1", 1);
            event["ilmd"]["hc:casNumber"] = json!("67-64-2");
            event
        }]))
        .await;
    assert_eq!(reply.json()["field"], "ilmd/hc:casNumber");
    assert_eq!(
        node.get("/log/checkpoint").await.text().lines().nth(1),
        Some("0")
    );

    // A good document: our handle (two spellings), and a foreign GS1 Digital Link.
    let doc = document(vec![
        commissioning("hdl:88.118.8/drum-1", 1),
        shipping(
            &format!("http://{}/api/handles/88.118.8/DRUM-1", node.addr),
            2,
        ),
        commissioning("https://brand.example/01/09506000134352/21/X9?17=270101", 3),
    ]);
    let reply = node.capture(&doc).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let receipts = reply.json()["receipts"].as_array().unwrap().clone();
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[0]["subject"], "88.118.8/drum-1");
    assert_eq!(receipts[1]["subject"], "88.118.8/drum-1");
    assert_eq!(
        receipts[2]["subject"],
        "https://id.gs1.org/01/09506000134352/21/X9"
    );
    assert_eq!(receipts[1]["index"], 1);

    // Keys: the record key from the JWK set, the log key from its vkey.
    let jwks = node.get("/api/keys").await.json();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let record_key = RecordVerifier::new(
        kid.rsplit_once('+').unwrap().0,
        ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(record_key.kid(), kid);
    let log_key = Verifier::parse_vkey(node.get("/log/vkey").await.text().trim()).unwrap();

    // The chain: the second record's prev is the first's digest.
    let second = record_key
        .verify(receipts[1]["jws"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        second.record().prev.as_deref(),
        receipts[0]["digest"].as_str()
    );
    assert_eq!(
        second.record().lifecycle,
        idnode_trace::record::Lifecycle::Transported
    );

    // The CBV 2.0 event hash of the reference worked example is reproduced, and an eventID
    // in hash form that is not the event's hash is refused.
    let example: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../conformance/vectors/trace/worked-example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut single = example["event"].clone();
    single["@context"] = example["event_context"].clone();
    let reply = node.capture(&single).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let jws = reply.json()["receipts"][0]["jws"]
        .as_str()
        .unwrap()
        .to_owned();
    let example_record = record_key.verify(&jws).unwrap();
    assert_eq!(
        example_record.record().event_hash,
        example["eventHash"].as_str().unwrap()
    );
    single["eventID"] = json!(format!("ni:///sha-256;{}?ver=CBV2.0", "0".repeat(64)));
    let reply = node.capture(&single).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["field"], "eventID");

    // Proofs verify offline once a checkpoint covers the records.
    let checkpoint = node.checkpoint_of(4).await;
    Note::parse(checkpoint.as_bytes())
        .unwrap()
        .verify(&Verifiers::new(vec![log_key.clone()]))
        .unwrap();
    for receipt in &receipts {
        let digest = receipt["digest"].as_str().unwrap();
        let reply = node.get(&format!("/log/proof?digest={digest}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let bundle = TlogProof::parse(&reply.body).unwrap();
        let jws = String::from_utf8(bundle.extra.clone().unwrap()).unwrap();
        assert_eq!(jws, receipt["jws"].as_str().unwrap());
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
    // The subject's history holds both of its records with proofs.
    let history = node.get("/api/trace/88.118.8/DRUM-1").await.json();
    assert_eq!(history["subject"], "88.118.8/drum-1");
    let records = history["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r["proof"].is_string()));

    // Tiles: the entries are the record digests; the level-0 tile holds the leaf hashes.
    let entries = node.get("/log/tile/entries/000.p/4").await;
    assert_eq!(entries.status, StatusCode::OK);
    let parsed = parse_entry_bundle(&entries.body).unwrap();
    assert_eq!(
        hex::encode(parsed[2]),
        receipts[2]["digest"].as_str().unwrap()
    );
    let tile = node.get("/log/tile/0/000.p/4").await;
    assert_eq!(tile.body.len(), 128);
    assert_eq!(
        node.get("/log/tile/0/000.p/5").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.get("/log/consistency?old=1&new=3").await.status,
        StatusCode::OK
    );

    // Queries.
    let events = node.get("/epcis/events?EQ_bizStep=shipping").await.json();
    let list = events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    let by_epc = node
        .get("/epcis/events?MATCH_epc=hdl%3A88.118.8%2Fdrum-1")
        .await
        .json();
    assert_eq!(
        by_epc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let paged = node.get("/epcis/events?perPage=3").await.json();
    let token = paged["nextPageToken"].as_str().unwrap().to_owned();
    let rest = node
        .get(&format!("/epcis/events?perPage=3&nextPageToken={token}"))
        .await
        .json();
    assert_eq!(
        rest["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let timed = node
        .get("/epcis/events?GE_eventTime=2026-01-02T00:00:00Z&eventType=ObjectEvent")
        .await
        .json();
    assert_eq!(
        timed["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_witnesses_another() {
    // The log key of A is made before either node starts, so B can be configured with it.
    let log_key_pem = {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
        key.to_pkcs8_pem(Default::default()).unwrap().to_string()
    };
    let origin = "a.example/log";
    let a_log_vkey =
        idnode_trace::note::Signer::new(origin, ed25519_dalek::SigningKey::from_bytes(&[42; 32]))
            .unwrap()
            .verifier()
            .to_vkey();
    let witness = Node::start(|config, _| {
        config.trace.origin = Some("b.example/log".to_owned());
        config.trace.peers = vec![PeerLog {
            vkey: a_log_vkey.clone(),
        }];
    })
    .await;
    let witness_vkey = witness.get("/witness/vkey").await.text().trim().to_owned();
    let url = format!("http://{}/witness/add-checkpoint", witness.addr);
    let node = Node::start(|config, data| {
        std::fs::create_dir_all(data.join("keys")).unwrap();
        std::fs::write(data.join("keys").join("trace-log.pem"), &log_key_pem).unwrap();
        config.trace.origin = Some(origin.to_owned());
        config.trace.witnesses = vec![WitnessPeer {
            vkey: witness_vkey.clone(),
            url,
            ca_file: None,
        }];
    })
    .await;
    node.create_handle("88.118.8/drum-9").await;
    let witness_key = Verifier::parse_vkey(&witness_vkey).unwrap();
    let log_key = Verifier::parse_vkey(&a_log_vkey).unwrap();
    for round in 0..2u8 {
        let reply = node
            .capture(&document(vec![commissioning(
                "hdl:88.118.8/drum-9",
                10 + round,
            )]))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        // Wait for a checkpoint of the new size that carries the witness's cosignature.
        let size = u64::from(round) + 1;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = node.checkpoint_of(size).await;
            let note = Note::parse(text.as_bytes()).unwrap();
            let verified = note
                .verify(&Verifiers::new(vec![log_key.clone(), witness_key.clone()]))
                .unwrap();
            if text.lines().nth(1) == Some(&size.to_string())
                && verified.is_signed_by(witness_key.name(), witness_key.key_id())
            {
                break;
            }
            assert!(Instant::now() < deadline, "no cosigned checkpoint: {text}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // The witness refuses a stale old size with 409 and its size, and unknown logs with 404.
    let checkpoint = node.get("/log/checkpoint").await.text();
    let reply = witness
        .send(
            Method::POST,
            "/witness/add-checkpoint",
            false,
            Some(format!("old 0\n\n{checkpoint}").into_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.content_type, "text/x.tlog.size");
    assert_eq!(reply.text(), "2\n");
    let own = witness.get("/log/checkpoint").await.text();
    let reply = witness
        .send(
            Method::POST,
            "/witness/add-checkpoint",
            false,
            Some(format!("old 0\n\n{own}").into_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    node.stop().await;
    witness.stop().await;
}
