//! The whole node in one process over `MemStore`: every listener and service runs over the
//! in-memory store through the same core as over redb, so a new backend needs no change above
//! the store. Also `/healthz` and `/readyz` through the lifecycle and a search-index rebuild.

use std::net::SocketAddr;

use idnode::config::{Config, Listen};
use idnode_proto::{AdminPerms, AdminRecord, Handle, HandleValue, Permissions, Record, ValueRef};
use idnode_proto::{ResponseCode, types};
use idnode_registry::{Expect, MemStore, Mutation, SharedStore, WriteBatch};
use idnode_resolver::{Identity, Operation, Request};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const ADMIN: &str = "300:88.118.8/ADMIN";
const SECRET: &str = "in-process-secret";

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data: dir.to_path_buf(),
        ..Config::default()
    };
    config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.http.allow_loopback_plain_writes = true;
    config.https.listen = None;
    config.native.listen = Some(Listen(Some(SocketAddr::from(([127, 0, 0, 1], 0)))));
    config.native.site_key = idnode::native::SiteKeyKind::Ed25519;
    config.auth.server_admins = vec![ADMIN.to_owned()];
    config.auth.secret_iterations = 1000;
    config
}

/// One HTTP/1.1 exchange: the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let user = ADMIN.replace(':', "%3A");
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{user}:{SECRET}"),
    );
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// Homes 88.118.8 and creates its administrator through the resolver, as `idnode init` does.
async fn initialise(core: &idnode::core::Core) {
    let admin = ValueRef::parse(ADMIN).unwrap();
    let run = |op| {
        core.resolver.handle(Request {
            op,
            identity: Some(Identity(admin.clone())),
            now: core.now(),
        })
    };
    run(Operation::Home {
        prefix: "88.118.8".into(),
    })
    .await
    .unwrap();
    let full = AdminRecord {
        perms: AdminPerms::ALL,
        admin: admin.clone(),
    };
    run(Operation::Create {
        handle: Handle::prefix_handle("88.118.8").unwrap(),
        values: vec![HandleValue::new(100, types::HS_ADMIN, full.to_bytes())],
        overwrite: true,
    })
    .await
    .unwrap();
    let mut key = HandleValue::new(300, types::HS_SECKEY, SECRET.as_bytes().to_vec());
    key.permissions = Permissions::SECRET;
    run(Operation::Create {
        handle: core.resolver.parse_handle("88.118.8/ADMIN").unwrap(),
        values: vec![HandleValue::new(100, types::HS_ADMIN, full.to_bytes()), key],
        overwrite: false,
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_node_runs_over_memstore() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = idnode::server::start_with_store(
        config(dir.path()),
        SharedStore::new(MemStore::new()),
        shutdown,
    )
    .await
    .unwrap();
    assert_eq!(running.core.phase.get(), idnode::lifecycle::Phase::Serving);
    initialise(&running.core).await;
    let addr = running.bound.http.unwrap();

    // The handle.net API writes and reads, and the cache follows the store's commits.
    let create = json!({"values": [{"index": 1, "type": "URL",
                        "data": {"format": "string", "value": "https://example.org/a"}}]});
    let (status, body) = http(addr, "PUT", "/api/handles/88.118.8/mem-1", Some(&create)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(addr, "GET", "/api/handles/88.118.8/mem-1", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("https://example.org/a"), "{body}");
    let change = json!([{"index": 1, "type": "URL",
                         "data": {"format": "string", "value": "https://example.org/b"}}]);
    let (status, _) = http(
        addr,
        "PUT",
        "/api/handles/88.118.8/mem-1?index=1",
        Some(&change),
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = http(addr, "GET", "/api/handles/88.118.8/mem-1", None).await;
    assert!(
        body.contains("https://example.org/b"),
        "a stale answer: {body}"
    );

    // The SNMS API and the native protocol see the same store.
    let (status, body) = http(
        addr,
        "GET",
        "/identityv2/data/detail?handle=88.118.8/mem-1",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let native = running.bound.native.unwrap();
    let message = idnode_proto::wire::Message::new(
        idnode_proto::wire::Envelope {
            request_id: 7,
            ..idnode_proto::wire::Envelope::default()
        },
        idnode_proto::wire::Header::request(idnode_proto::wire::OpCode::Resolution),
        idnode_proto::wire::Body::Resolution(idnode_proto::wire::ResolutionRequest {
            handle: "88.118.8/mem-1".into(),
            indexes: vec![],
            types: vec![],
        }),
    )
    .to_bytes();
    let mut tcp = TcpStream::connect(native).await.unwrap();
    tcp.write_all(&message).await.unwrap();
    let mut envelope = [0u8; 20];
    tcp.read_exact(&mut envelope).await.unwrap();
    let header = idnode_proto::wire::decode_envelope(&envelope).unwrap();
    let mut rest = vec![0u8; header.message_length as usize];
    tcp.read_exact(&mut rest).await.unwrap();
    let mut whole = envelope.to_vec();
    whole.extend_from_slice(&rest);
    let answer = idnode_proto::wire::decode(&whole).unwrap().message;
    assert_eq!(answer.header.response_code, ResponseCode::Success);

    // Health and readiness while serving, and nothing was written to a database file.
    let (status, _) = http(addr, "GET", "/healthz", None).await;
    assert_eq!(status, 200);
    assert!(!dir.path().join("idnode.redb").exists());
    let _ = stop.send(true);
    for task in running.tasks {
        task.await.unwrap();
    }
    assert_eq!(running.core.phase.get(), idnode::lifecycle::Phase::Draining);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_a_search_index_rebuild_until_it_is_done() {
    // Enough records that the first build of the index takes a while.
    let store = MemStore::new();
    let mut mutations = vec![Mutation::HomePrefix {
        prefix: "88.118.8".into(),
    }];
    for n in 0..20_000 {
        let values = Record::encode(&[
            HandleValue::new(1, "URL", format!("https://example.org/{n}").into_bytes()),
            HandleValue::new(2, "DESC", format!("丙酮 acetone drum {n}").into_bytes()),
        ]);
        mutations.push(Mutation::PutHandle {
            handle: format!("88.118.8/drum-{n}"),
            values,
            expect: Expect::Absent,
        });
    }
    store.commit_now(&WriteBatch { mutations }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running =
        idnode::server::start_with_store(config(dir.path()), SharedStore::new(store), shutdown)
            .await
            .unwrap();
    let addr = running.bound.http.unwrap();
    let (status, body) = http(addr, "GET", "/readyz", None).await;
    assert_eq!(status, 503, "ready before the index was built: {body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["search"], false, "{body}");
    assert_eq!(report["store"], true, "{body}");
    // Healthy all the same: the node serves while the index builds.
    assert_eq!(http(addr, "GET", "/healthz", None).await.0, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (status, body) = http(addr, "GET", "/readyz", None).await;
        if status == 200 {
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ready"], true);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index was never built: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for task in running.tasks {
        task.await.unwrap();
    }
    // Draining: not healthy any more (the listeners are gone, so ask the core).
    assert_eq!(running.core.phase.get(), idnode::lifecycle::Phase::Draining);
}
