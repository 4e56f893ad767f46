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
        idnode::cli::init::run(config.clone(), PREFIX, Some(&secret))
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
        let user = auth.then_some((ADMIN, SECRET));
        self.send_as(method, path, user, body).await
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        user: Option<(&str, &str)>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some((identity, secret)) = user {
            let identity = identity.replace(':', "%3A").replace('/', "%2F");
            builder = builder.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{identity}:{secret}"))),
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

    async fn get_as_admin(&self, path: &str) -> Reply {
        self.send(Method::GET, path, true, None).await
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
        self.create_with(handle, json!([])).await;
    }

    /// Creates `handle` with a URL value and `values`.
    async fn create_with(&self, handle: &str, values: Value) {
        let mut all = vec![
            json!({"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.org"}}),
        ];
        all.extend(values.as_array().cloned().unwrap_or_default());
        let body = json!({ "values": all });
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
    // The administrator is a server administrator here, so it reads every record.
    let node = Node::start(|config, _| {
        config.auth.server_admins = vec![ADMIN.to_owned()];
    })
    .await;
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
        let reply = node
            .get_as_admin(&format!("/log/proof?digest={digest}"))
            .await;
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
    // The node's published policy verifies the same bundles with `idnode verify`.
    let policy = node.get("/log/policy").await;
    assert_eq!(policy.status, StatusCode::OK);
    let policy = idnode::cli::verify::Policy::parse(&policy.text()).unwrap();
    let mut inputs = Vec::new();
    for (n, receipt) in receipts.iter().enumerate() {
        let digest = receipt["digest"].as_str().unwrap();
        let reply = node
            .get_as_admin(&format!("/log/proof?digest={digest}"))
            .await;
        inputs.push((format!("r{n}"), reply.body.to_vec()));
    }
    let report = idnode::cli::verify::verify(&policy, &inputs, None);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.verified.len(), receipts.len());
    // The subject's history holds both of its records with proofs.
    let history = node.get_as_admin("/api/trace/88.118.8/DRUM-1").await.json();
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
    let events = node
        .get_as_admin("/epcis/events?EQ_bizStep=shipping")
        .await
        .json();
    let list = events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    let by_epc = node
        .get_as_admin("/epcis/events?MATCH_epc=hdl%3A88.118.8%2Fdrum-1")
        .await
        .json();
    assert_eq!(
        by_epc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let paged = node.get_as_admin("/epcis/events?perPage=3").await.json();
    let token = paged["nextPageToken"].as_str().unwrap().to_owned();
    let rest = node
        .get_as_admin(&format!("/epcis/events?perPage=3&nextPageToken={token}"))
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
        .get_as_admin("/epcis/events?GE_eventTime=2026-01-02T00:00:00Z&eventType=ObjectEvent")
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

fn event_list(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone()
}

fn secret_value(secret: &str) -> Value {
    json!({"index": 300, "type": "HS_SECKEY", "data": secret, "permissions": "1100"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_credentials_and_show_only_readable_records() {
    const READER: &str = "300:88.118.8/READER";
    const AUDITOR: &str = "300:88.118.8/AUDITOR";
    let node = Node::start(|config, _| {
        config.auth.auditors = vec![AUDITOR.to_owned()];
    })
    .await;
    node.create_with("88.118.8/READER", json!([secret_value("reader-pw")]))
        .await;
    node.create_with("88.118.8/AUDITOR", json!([secret_value("auditor-pw")]))
        .await;
    // READER holds READ_VALUE on drum-a only.
    node.create_with(
        "88.118.8/drum-a",
        json!([{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
            "value": {"handle": "88.118.8/READER", "index": 300, "permissions": "010000000000"}}}]),
    )
    .await;
    node.create_handle("88.118.8/drum-b").await;
    let reader = Some((READER, "reader-pw"));
    let auditor = Some((AUDITOR, "auditor-pw"));
    // Without READ_VALUE permission, READER cannot write drum-a.
    let reply = node
        .send_as(
            Method::POST,
            "/epcis/capture",
            reader,
            Some(
                document(vec![commissioning("hdl:88.118.8/drum-a", 1)])
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    // Records: drum-a, drum-b, drum-a again, drum-b naming drum-a (a mention), a foreign id.
    let mut mention = shipping("hdl:88.118.8/drum-b", 4);
    mention["epcList"] = json!(["hdl:88.118.8/drum-b", "hdl:88.118.8/drum-a"]);
    let reply = node
        .capture(&document(vec![
            commissioning("hdl:88.118.8/drum-a", 1),
            commissioning("hdl:88.118.8/drum-b", 2),
            shipping("hdl:88.118.8/drum-a", 3),
            mention,
            commissioning("https://id.gs1.org/01/09506000134352/21/X1", 5),
        ]))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let receipts = reply.json()["receipts"].as_array().unwrap().clone();
    let digest = |i: usize| receipts[i]["digest"].as_str().unwrap().to_owned();
    node.checkpoint_of(5).await;

    // Anonymous callers get the log, tiles and bare inclusion proofs, but no events.
    assert_eq!(
        node.get("/epcis/events").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        node.get("/api/trace/88.118.8/drum-a").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        node.get("/log/tile/entries/000.p/5").await.status,
        StatusCode::OK
    );
    let bare = node.get(&format!("/log/proof?digest={}", digest(0))).await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.text());
    let bundle = TlogProof::parse(&bare.body).unwrap();
    assert_eq!(bundle.extra, None);
    assert_eq!(bundle.index, 0);
    // Wrong credentials are refused, not treated as anonymous.
    let wrong = node
        .send_as(Method::GET, "/epcis/events", Some((READER, "nope")), None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // READER sees drum-a's records only.
    let events = event_list(
        &node
            .send_as(Method::GET, "/epcis/events", reader, None)
            .await,
    );
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["epcList"][0] == "hdl:88.118.8/drum-a")
    );
    let denied = node
        .send_as(Method::GET, "/api/trace/88.118.8/drum-b", reader, None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let history = node
        .send_as(Method::GET, "/api/trace/88.118.8/drum-a", reader, None)
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text());
    let records = history.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 3);
    assert!(records[0]["jws"].is_string() && records[1]["jws"].is_string());
    // The record of drum-b that mentions drum-a is withheld from READER.
    assert_eq!(records[2]["withheld"], true);
    assert!(records[2]["jws"].is_null());
    assert_eq!(records[2]["digest"], digest(3).as_str());
    let with_jws = node
        .send_as(
            Method::GET,
            &format!("/log/proof?digest={}", digest(2)),
            reader,
            None,
        )
        .await;
    assert!(TlogProof::parse(&with_jws.body).unwrap().extra.is_some());
    let without = node
        .send_as(
            Method::GET,
            &format!("/log/proof?digest={}", digest(1)),
            reader,
            None,
        )
        .await;
    assert_eq!(TlogProof::parse(&without.body).unwrap().extra, None);

    // The prefix administrator reads every record of the prefix's handles (through
    // 0.NA/88.118.8), but not the record of the foreign identifier.
    let prefix_admin = event_list(&node.get_as_admin("/epcis/events").await);
    assert_eq!(prefix_admin.len(), 4);
    // Auditors see everything, and their reads are audited.

    let audited = event_list(
        &node
            .send_as(Method::GET, "/epcis/events", auditor, None)
            .await,
    );
    assert_eq!(audited.len(), 5);
    let history = node
        .send_as(Method::GET, "/api/trace/88.118.8/drum-b", auditor, None)
        .await;
    assert_eq!(history.status, StatusCode::OK);
    let log = node
        .send_as(
            Method::GET,
            "/snms/api/v5/audit?action=auditor_read",
            auditor,
            None,
        )
        .await
        .text();
    assert!(log.contains("epcis/events"), "{log}");
    assert!(log.contains("88.118.8/drum-b"), "{log}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_epc_uses_every_value_and_pages_count_matching_events() {
    let node = Node::start(|_, _| {}).await;
    for drum in ["88.118.8/drum-x", "88.118.8/drum-y", "88.118.8/drum-z"] {
        node.create_handle(drum).await;
    }
    // x, y, z, x, y, z, … : nine events, three per drum.
    let events: Vec<Value> = (0..9u8)
        .map(|i| {
            let drum = ["x", "y", "z"][usize::from(i % 3)];
            let mut event = commissioning(&format!("hdl:88.118.8/drum-{drum}"), i);
            event["eventTime"] = json!(format!("2026-01-01T08:00:0{i}+08:00"));
            event
        })
        .collect();
    let reply = node.capture(&document(events)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let times = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["eventTime"].as_str().unwrap()[17..19].to_owned())
            .collect()
    };
    // Both identifiers' events, in log order, not only the first identifier's.
    let both = event_list(
        &node
            .get_as_admin(
                "/epcis/events?MATCH_epc=hdl%3A88.118.8%2Fdrum-z%7Chdl%3A88.118.8%2Fdrum-x",
            )
            .await,
    );
    assert_eq!(times(&both), ["00", "02", "03", "05", "06", "08"]);
    // Token paging over the merged histories.
    let first = node
        .get_as_admin(
            "/epcis/events?perPage=4&MATCH_epc=hdl%3A88.118.8%2Fdrum-z%7Chdl%3A88.118.8%2Fdrum-x",
        )
        .await;
    assert_eq!(times(&event_list(&first)), ["00", "02", "03", "05"]);
    let token = first.json()["nextPageToken"].as_str().unwrap().to_owned();
    let rest = node
        .get_as_admin(&format!(
            "/epcis/events?perPage=4&nextPageToken={token}&MATCH_epc=hdl%3A88.118.8%2Fdrum-z%7Chdl%3A88.118.8%2Fdrum-x"
        ))
        .await;
    assert_eq!(times(&event_list(&rest)), ["06", "08"]);
    assert!(rest.json().get("nextPageToken").is_none());
    // page= counts pages of matching events: page 1 of y's events, two per page.
    let page = |n: u8| {
        let node = &node;
        async move {
            times(&event_list(
                &node
                    .get_as_admin(&format!(
                        "/epcis/events?perPage=2&page={n}&MATCH_epc=hdl%3A88.118.8%2Fdrum-y"
                    ))
                    .await,
            ))
        }
    };
    assert_eq!(page(0).await, ["01", "04"]);
    assert_eq!(page(1).await, ["07"]);
    assert!(page(2).await.is_empty());
    // The same over the whole log with another filter.
    let late = event_list(
        &node
            .get_as_admin("/epcis/events?perPage=2&page=1&GE_eventTime=2026-01-01T00:00:03Z")
            .await,
    );
    assert_eq!(times(&late), ["05", "06"]);
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
            .capture(&document(vec![{
                // A new event each round (the same one again would be a retry).
                let mut event = commissioning("hdl:88.118.8/drum-9", 10 + round);
                event["eventID"] = json!(format!("urn:example:drum-9:{round}"));
                event
            }]))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_capture_is_answered_with_the_original_receipts() {
    let node = Node::start(|_, _| {}).await;
    node.create_handle("88.118.8/drum-1").await;
    node.create_handle("88.118.8/drum-2").await;
    let mut with_id = shipping("hdl:88.118.8/drum-1", 2);
    with_id["eventID"] = json!("urn:uuid:5a0f4b2e-6b5d-4c35-9f0e-3f1d2c9b7a61");
    let doc = document(vec![
        commissioning("hdl:88.118.8/drum-1", 1),
        with_id.clone(),
    ]);
    let first = node.capture(&doc).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json();
    assert_eq!(first["captured"], 2);
    assert_eq!(first["duplicates"], 0);

    // The same document again (a retry after a timeout): nothing new, the same receipts.
    let again = node.capture(&doc).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let again = again.json();
    assert_eq!(again["captured"], 0);
    assert_eq!(again["duplicates"], 2);
    for (old, new) in first["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(again["receipts"].as_array().unwrap())
    {
        for field in ["eventIndex", "subject", "digest", "jws", "index"] {
            assert_eq!(old[field], new[field], "{field}");
        }
        assert_eq!(new["duplicate"], true);
    }
    // A document with one old and one new event records only the new one, at leaf 2: the
    // retry above appended nothing.
    let mixed = document(vec![
        with_id.clone(),
        commissioning("hdl:88.118.8/drum-2", 1),
    ]);
    let reply = node.capture(&mixed).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let reply = reply.json();
    assert_eq!(
        (reply["captured"].as_u64(), reply["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(reply["receipts"][0]["index"], first["receipts"][1]["index"]);
    assert_eq!(reply["receipts"][1]["index"], 2, "a retry grew the log");

    // The same eventID for a different event of the subject is a conflict; nothing is written.
    let mut changed = with_id.clone();
    changed["hc:quantity"] = json!("150.0");
    let reply = node.capture(&document(vec![changed])).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert_eq!(reply.json()["field"], "eventID");
    // The same event twice in one document is refused.
    let twice = document(vec![
        commissioning("hdl:88.118.8/drum-2", 3),
        commissioning("hdl:88.118.8/drum-2", 3),
    ]);
    let reply = node.capture(&twice).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());

    // Concurrent retries record the event once.
    let mut racing = shipping("hdl:88.118.8/drum-2", 4);
    racing["eventID"] = json!("urn:uuid:8c1d9e4a-2f3b-4a5c-8d6e-7f8091a2b3c4");
    let racing = document(vec![racing]);
    let replies = futures_join(&node, &racing, 6).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "one of the racing captures records the event");
    let index = replies[0].json()["receipts"][0]["index"].clone();
    assert!(
        replies
            .iter()
            .all(|r| r.json()["receipts"][0]["index"] == index)
    );
    node.stop().await;
}

/// `count` captures of `document` at once, polled together on this task.
async fn futures_join(node: &Node, document: &Value, count: usize) -> Vec<Reply> {
    let mut pending: Vec<_> = (0..count)
        .map(|_| Box::pin(node.capture(document)))
        .collect();
    let mut replies: Vec<Option<Reply>> = (0..count).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, future) in replies.iter_mut().zip(pending.iter_mut()) {
            if slot.is_none()
                && let std::task::Poll::Ready(reply) = future.as_mut().poll(cx)
            {
                *slot = Some(reply);
            }
        }
        if replies.iter().all(Option::is_some) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    replies.into_iter().flatten().collect()
}
