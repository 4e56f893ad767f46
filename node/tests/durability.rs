//! Crash durability of the real `idnode` binary: writers hammer it over HTTPS, it is killed with
//! SIGKILL while writes are in flight, and after a restart on the same data directory every
//! write it acknowledged is there.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use support::{ADMIN, ADMIN_SECRET, Client, DataDir, Served, alpn_http1, basic, node_cert};
use tokio::sync::Notify;

/// Concurrent writers.
const WRITERS: usize = 8;
/// Acknowledged writes to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 500;
/// How long reaching that many acknowledgements may take.
const ACK_DEADLINE: Duration = Duration::from_secs(60);

/// What the writers share with the test.
#[derive(Default)]
struct Progress {
    acks: AtomicUsize,
    killed: AtomicBool,
    notify: Notify,
}

impl Progress {
    fn ack(&self) {
        self.acks.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Waits until at least `n` writes were acknowledged.
    async fn reached(&self, n: usize) {
        let wait = async {
            loop {
                let notified = self.notify.notified();
                if self.acks.load(Ordering::SeqCst) >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(ACK_DEADLINE, wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} writes acknowledged in {ACK_DEADLINE:?}",
                    self.acks.load(Ordering::SeqCst)
                )
            });
    }
}

/// A writer's view of the node.
#[derive(Clone)]
struct Writer {
    client: Client,
    base: String,
    authorization: String,
    progress: Arc<Progress>,
}

impl Writer {
    fn new(served: &Served, cert: &[u8], progress: Arc<Progress>) -> Self {
        Self {
            client: Client::new(cert, &alpn_http1()),
            base: format!("https://{}", served.https_addr),
            authorization: basic(ADMIN, ADMIN_SECRET),
            progress,
        }
    }

    /// PUTs `body` to `path`. `None` means the node is gone (killed): a transport failure after
    /// the kill. Anything else unexpected fails the test.
    async fn put(&self, path: &str, body: &Value) -> Option<u16> {
        let url = format!("{}{path}", self.base);
        let body = body.to_string().into_bytes();
        let headers = [
            ("content-type", "application/json"),
            ("authorization", self.authorization.as_str()),
        ];
        match self
            .client
            .try_send(Method::PUT, &url, &headers, Some(body))
            .await
        {
            Ok(reply) if reply.status.is_success() => Some(reply.status.as_u16()),
            Ok(reply) if self.progress.killed.load(Ordering::SeqCst) => {
                panic!(
                    "an answer after the kill: {} {}",
                    reply.status,
                    reply.text()
                )
            }
            Ok(reply) => panic!("PUT {path}: {} {}", reply.status, reply.text()),
            Err(_) if self.progress.killed.load(Ordering::SeqCst) => None,
            Err(e) => panic!("PUT {path} failed before the kill: {e}"),
        }
    }
}

/// Reads a handle after the restart.
async fn resolve(client: &Client, served: &Served, handle: &str) -> Value {
    let url = format!("https://{}/api/handles/{handle}", served.https_addr);
    let reply = client.send(Method::GET, &url, &[], None).await;
    assert_eq!(
        reply.status,
        200,
        "{handle} after the restart: {}",
        reply.text()
    );
    reply.json()
}

/// The string data of the value at `index`.
fn data_at(record: &Value, index: u64) -> Option<String> {
    record["values"]
        .as_array()?
        .iter()
        .find(|v| v["index"] == index)
        .and_then(|v| v["data"]["value"].as_str())
        .map(str::to_owned)
}

/// Kills the node while writes are in flight, after `ACKS_BEFORE_KILL` acknowledgements, and
/// waits for every writer to notice.
async fn kill_when_enough(
    served: &mut Served,
    progress: &Progress,
    writers: Vec<tokio::task::JoinHandle<()>>,
) {
    progress.reached(ACKS_BEFORE_KILL).await;
    progress.killed.store(true, Ordering::SeqCst);
    served.kill();
    for writer in writers {
        writer.await.expect("writer task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_creates_survive_sigkill() {
    let dir = DataDir::init();
    let mut served =
        Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-1.log")).await;
    let cert = node_cert(&dir.data);
    let progress = Arc::new(Progress::default());
    let acked: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();

    let writers = (0..WRITERS)
        .map(|w| {
            let writer = Writer::new(&served, &cert, progress.clone());
            let acked = acked.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let handle = format!("88.118.8/durable-{w}-{i}");
                    let url = format!("https://example.org/durable/{w}/{i}");
                    let body = json!({"values": [
                        {"index": 1, "type": "URL", "data": url},
                        {"index": 2, "type": "DESC", "data": format!("writer {w} item {i}")},
                    ]});
                    let path = format!("/api/handles/{handle}?overwrite=false");
                    match writer.put(&path, &body).await {
                        Some(status) => {
                            assert_eq!(status, 201, "{handle}");
                            acked.lock().unwrap().push((handle, url));
                            writer.progress.ack();
                        }
                        None => return,
                    }
                }
            })
        })
        .collect();
    kill_when_enough(&mut served, &progress, writers).await;
    drop(served);

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKS_BEFORE_KILL, "{}", acked.len());

    let served = Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-2.log")).await;
    let client = Client::new(&cert, &alpn_http1());
    let checks: Vec<_> = acked
        .chunks(acked.len().div_ceil(WRITERS))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let client = client.clone();
            let https = served.https_addr;
            tokio::spawn(async move {
                for (handle, url) in chunk {
                    let reply = client
                        .send(
                            Method::GET,
                            &format!("https://{https}/api/handles/{handle}"),
                            &[],
                            None,
                        )
                        .await;
                    assert_eq!(reply.status, 200, "{handle} lost: {}", reply.text());
                    let record = reply.json();
                    assert_eq!(
                        data_at(&record, 1).as_deref(),
                        Some(url.as_str()),
                        "{handle}"
                    );
                    assert!(data_at(&record, 2).is_some(), "{handle}: {record}");
                }
            })
        })
        .collect();
    for check in checks {
        check.await.expect("check task");
    }

    // The restarted node takes new writes.
    let writer = Writer::new(&served, &cert, Arc::new(Progress::default()));
    let status = writer
        .put(
            "/api/handles/88.118.8/after-restart?overwrite=false",
            &json!([{"index": 1, "type": "URL", "data": "https://example.org/after"}]),
        )
        .await;
    assert_eq!(status, Some(201));
    let record = resolve(&client, &served, "88.118.8/after-restart").await;
    assert_eq!(
        data_at(&record, 1).as_deref(),
        Some("https://example.org/after")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_overwrites_survive_sigkill() {
    let dir = DataDir::init();
    let mut served =
        Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-1.log")).await;
    let cert = node_cert(&dir.data);
    let progress = Arc::new(Progress::default());

    // One handle per writer, each overwritten with increasing versions: even versions replace
    // the whole record, odd versions replace values 1 and 2 through `?index=`. Both values
    // always carry the same version, so a torn write would show.
    let body = |w: usize, v: u64| {
        let mut values = vec![
            json!({"index": 1, "type": "URL", "data": format!("https://example.org/{w}/v{v}")}),
            json!({"index": 2, "type": "VERSION", "data": v.to_string()}),
        ];
        // A whole-record replace must keep the administrator, or the next write is refused.
        if v.is_multiple_of(2) {
            values.push(json!({"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
                "value": {"handle": "88.118.8/ADMIN", "index": 300, "permissions": "111111111111"}}}));
        }
        json!({ "values": values })
    };
    let setup = Writer::new(&served, &cert, progress.clone());
    for w in 0..WRITERS {
        let status = setup
            .put(
                &format!("/api/handles/88.118.8/hot-{w}?overwrite=false"),
                &body(w, 0),
            )
            .await;
        assert_eq!(status, Some(201));
    }
    let acked_versions: Arc<Vec<AtomicU64>> =
        Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());

    let writers = (0..WRITERS)
        .map(|w| {
            let writer = Writer::new(&served, &cert, progress.clone());
            let acked_versions = acked_versions.clone();
            tokio::spawn(async move {
                for v in 1_u64.. {
                    let path = if v.is_multiple_of(2) {
                        format!("/api/handles/88.118.8/hot-{w}")
                    } else {
                        format!("/api/handles/88.118.8/hot-{w}?index=1&index=2")
                    };
                    match writer.put(&path, &body(w, v)).await {
                        Some(status) => {
                            assert_eq!(status, 200, "hot-{w} v{v}");
                            acked_versions[w].store(v, Ordering::SeqCst);
                            writer.progress.ack();
                        }
                        None => return,
                    }
                }
            })
        })
        .collect();
    kill_when_enough(&mut served, &progress, writers).await;
    drop(served);

    let served = Served::start(&dir.data, &dir.config, dir.dir.path().join("serve-2.log")).await;
    let client = Client::new(&cert, &alpn_http1());
    let mut found = BTreeMap::new();
    for (w, acked) in acked_versions.iter().enumerate() {
        let acked = acked.load(Ordering::SeqCst);
        let record = resolve(&client, &served, &format!("88.118.8/hot-{w}")).await;
        let version: u64 = data_at(&record, 2)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("hot-{w}: no version in {record}"));
        // The acknowledged version, or the one in flight when the node died.
        assert!(
            version == acked || version == acked + 1,
            "hot-{w}: acknowledged v{acked}, found v{version}"
        );
        assert_eq!(
            data_at(&record, 1),
            Some(format!("https://example.org/{w}/v{version}")),
            "hot-{w}: values 1 and 2 disagree"
        );
        found.insert(w, (acked, version));
    }
    assert!(
        found.values().map(|(acked, _)| acked).sum::<u64>() >= ACKS_BEFORE_KILL as u64,
        "{found:?}"
    );
}
