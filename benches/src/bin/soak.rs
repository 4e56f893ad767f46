//! Soak: the real `idnode` binary under mixed traffic at half of its measured capacity for a
//! long time, sampled every minute, to show that nothing grows beyond its configured bound.
//!
//! ```text
//! soak --idnode target/release/idnode --minutes 60 --csv docs/soak.csv
//! ```
//!
//! First the capacity is measured: closed-loop mixed traffic from `--workers` keep-alive
//! clients for `--probe-secs`. Then the same mix runs open-loop at `--load` (default 0.5) of
//! that rate. The mix, per 100 operations: 55 REST resolutions of existing handles (most from
//! the answer cache), 10 REST creates, 5 REST modifies, 10 native TCP resolutions, 5 native
//! UDP resolutions, 5 searches, 5 SNMS registrations and 5 EPCIS captures of 5 events.
//!
//! Every minute one CSV row: minute, operations, errors, p50/p99 latency (ms), the node's RSS
//! (MiB), open file descriptors, threads, open connections (`idnode_connections_open`) and the
//! data directory's size (MiB). At the end: whether RSS, descriptors and threads stayed
//! bounded (the last third grows less than 10 % over the middle third, descriptors stay under
//! the connection cap) — the last line is `RESULT …`. `benches/plot-soak.py` draws the CSV.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use http::HeaderValue;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use idnode_benches::capture_document;
use idnode_benches::client::{SplitMix, basic_auth, free_port, http_once, request};
use idnode_proto::wire::{self, Body, Envelope, Header, Message, ResolutionRequest, Version};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};

const ADMIN: &str = "300:88.118.8/ADMIN";
const SECRET: &str = "soak-secret";
/// Handles created before the measurement, for resolutions.
const SEEDED: usize = 2000;

#[derive(Debug, Parser)]
#[command(about)]
struct Opts {
    /// The idnode binary.
    #[arg(long)]
    idnode: PathBuf,
    /// How long the soak runs, in minutes.
    #[arg(long, default_value_t = 60)]
    minutes: u64,
    /// The fraction of the measured capacity to run at.
    #[arg(long, default_value_t = 0.5)]
    load: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// How long the capacity is measured, in seconds.
    #[arg(long, default_value_t = 20)]
    probe_secs: u64,
    /// Seconds per sample (60 for the real soak; shorter to try it).
    #[arg(long, default_value_t = 60)]
    sample_secs: u64,
    /// Where the samples go.
    #[arg(long)]
    csv: PathBuf,
    /// A directory for the node's data (a temporary one by default).
    #[arg(long)]
    work: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    http: SocketAddr,
    native: SocketAddr,
}

/// What the workers count, per sample.
#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    errors: AtomicU64,
    /// Latencies of the current sample, in microseconds.
    latencies: Mutex<Vec<u32>>,
    next_handle: AtomicUsize,
}

impl Counters {
    fn record(&self, started: Instant, ok: bool) {
        self.ops.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(micros);
    }

    /// Operations, errors and p50/p99 (ms) since the last call.
    fn take(&self) -> (u64, u64, f64, f64) {
        let mut latencies = std::mem::take(
            &mut *self
                .latencies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        latencies.sort_unstable();
        let at = |p: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
                .map_or(0.0, |&us| f64::from(us) / 1000.0)
        };
        (
            self.ops.swap(0, Ordering::Relaxed),
            self.errors.swap(0, Ordering::Relaxed),
            at(0.50),
            at(0.99),
        )
    }
}

/// One client: a keep-alive HTTP connection, a native TCP connection and a UDP socket.
struct Client {
    ports: Ports,
    http: Option<SendRequest<Full<Bytes>>>,
    tcp: Option<TcpStream>,
    udp: UdpSocket,
    auth: HeaderValue,
    rng: SplitMix,
    id: u32,
}

impl Client {
    async fn new(ports: Ports, auth: HeaderValue, seed: u64) -> anyhow::Result<Self> {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        udp.connect(ports.native).await?;
        Ok(Self {
            ports,
            http: None,
            tcp: None,
            udp,
            auth,
            rng: SplitMix(seed),
            id: 0,
        })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<u16> {
        if self.http.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(self.ports.http).await?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            self.http = Some(sender);
        }
        let sender = self.http.as_mut().context("connected")?;
        sender.ready().await?;
        let response = sender
            .send_request(request(method, path, Some(&self.auth), body)?)
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                self.http = None;
                return Err(e.into());
            }
        };
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok(status)
    }

    fn resolution(&mut self, handle: &str) -> Vec<u8> {
        self.id = self.id.wrapping_add(1);
        let body = Body::Resolution(ResolutionRequest {
            handle: handle.into(),
            indexes: vec![],
            types: vec![],
        });
        let mut header = Header::request(body.request_opcode().expect("a request"));
        header.expiration = 2_000_000_000;
        let envelope = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            request_id: self.id,
            ..Envelope::default()
        };
        Message::new(envelope, header, body).to_bytes()
    }

    async fn native_tcp(&mut self, handle: &str) -> anyhow::Result<bool> {
        let query = self.resolution(handle);
        if self.tcp.is_none() {
            self.tcp = Some(TcpStream::connect(self.ports.native).await?);
        }
        let stream = self.tcp.as_mut().context("connected")?;
        let done = async {
            stream.write_all(&query).await?;
            let mut envelope = [0u8; 20];
            stream.read_exact(&mut envelope).await?;
            let len = u32::from_be_bytes([envelope[16], envelope[17], envelope[18], envelope[19]]);
            let mut rest = vec![0u8; len as usize];
            stream.read_exact(&mut rest).await?;
            let whole = [envelope.to_vec(), rest].concat();
            anyhow::Ok(wire::decode(&whole)?.message.header.response_code.code() == 1)
        }
        .await;
        if done.is_err() {
            self.tcp = None;
        }
        done
    }

    async fn native_udp(&mut self, handle: &str) -> anyhow::Result<bool> {
        let query = self.resolution(handle);
        self.udp.send(&query).await?;
        let mut buf = vec![0u8; 65_536];
        match tokio::time::timeout(Duration::from_secs(2), self.udp.recv(&mut buf)).await {
            Ok(Ok(n)) => Ok(n >= 20),
            _ => Ok(false),
        }
    }

    /// One operation of the mix.
    async fn operation(&mut self, counters: &Counters) -> bool {
        let pick = self.rng.next() % 100;
        let existing = format!("88.118.8/SOAK-{}", self.rng.next() as usize % SEEDED);
        let result = match pick {
            0..55 => self
                .send("GET", &format!("/api/handles/{existing}"), None)
                .await
                .map(|s| s == 200),
            55..65 => {
                let n = counters.next_handle.fetch_add(1, Ordering::Relaxed);
                let body = handle_body(&format!("https://soak.example/new/{n}"));
                self.send(
                    "PUT",
                    &format!("/api/handles/88.118.8/SOAK-NEW-{n}?overwrite=false"),
                    Some(body),
                )
                .await
                .map(|s| s == 201)
            }
            65..70 => {
                let body = json!({"values": [{"index": 2, "type": "DESC",
                    "data": {"format": "string", "value": format!("m{}", self.rng.next())}}]});
                self.send(
                    "PUT",
                    &format!("/api/handles/{existing}?index=2&overwrite=true"),
                    Some(body.to_string().into_bytes()),
                )
                .await
                .map(|s| s == 200 || s == 201)
            }
            70..80 => self.native_tcp(&existing).await,
            80..85 => self.native_udp(&existing).await,
            85..90 => self
                .send("GET", "/api/search?q=acetone", None)
                .await
                .map(|s| s == 200),
            90..95 => {
                let n = counters.next_handle.fetch_add(1, Ordering::Relaxed);
                let body = json!([{"handle": format!("88.118.8/SOAK-SNMS-{n}"),
                    "templateVersion": "hazchem.product@1", "value": [
                    {"index": 2000, "type": "productName", "data": {"format": "string", "value": "acetone"}},
                    {"index": 2001, "type": "casNo", "data": {"format": "string", "value": "[\"67-64-1\"]"}},
                    {"index": 2010, "type": "manufacturer", "data": {"format": "string", "value": "88.118.8/SOAK-0"}}]}]);
                self.send(
                    "POST",
                    "/identityv2/data/batchCreate",
                    Some(body.to_string().into_bytes()),
                )
                .await
                .map(|s| s == 200)
            }
            _ => {
                let n = counters.next_handle.fetch_add(1, Ordering::Relaxed);
                self.send("POST", "/epcis/capture", Some(capture_document(n, 5)))
                    .await
                    .map(|s| s == 201)
            }
        };
        result.unwrap_or(false)
    }
}

fn handle_body(url: &str) -> Vec<u8> {
    json!({"values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
          "value": {"handle": "88.118.8/ADMIN", "index": 300, "permissions": "111111111111"}}},
        {"index": 1, "type": "URL", "data": {"format": "string", "value": url}},
        {"index": 2, "type": "DESC", "data": {"format": "string", "value": "soak"}},
    ]})
    .to_string()
    .into_bytes()
}

/// The node's process figures: RSS (MiB), open descriptors, threads.
fn process_figures(pid: u32) -> (f64, usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (
        field("VmRSS:") as f64 / 1024.0,
        fds,
        field("Threads:") as usize,
    )
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_size(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

async fn open_connections(ports: Ports) -> u64 {
    let Ok((_, body)) = http_once(ports.http, "GET", "/metrics", None, None).await else {
        return 0;
    };
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("idnode_connections_open "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn start(opts: &Opts, work: &Path) -> anyhow::Result<(Child, Ports)> {
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::write(work.join("secret"), SECRET)?;
    std::fs::write(
        work.join("idnode.toml"),
        "[http]\nallow_loopback_plain_writes = true\n[auth]\nsecret_iterations = 1000\n\
         [limits]\nrequests_per_second_per_source = 0\n\
         [native]\nudp_requests_per_second = 1000000\nudp_unverified_bytes_per_second = 100000000\n",
    )?;
    let status = Command::new(&opts.idnode)
        .arg("init")
        .arg("--data")
        .arg(&data)
        .args(["--prefix", "88.118.8", "--admin-secret-file"])
        .arg(work.join("secret"))
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("idnode init failed");
    }
    let ports = Ports {
        http: SocketAddr::from(([127, 0, 0, 1], free_port())),
        native: SocketAddr::from(([127, 0, 0, 1], free_port())),
    };
    let child = Command::new(&opts.idnode)
        .arg("serve")
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(work.join("idnode.toml"))
        .args(["--http", &ports.http.to_string(), "--https", "off"])
        .args(["--handle", &ports.native.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("serve.log"))?)
        .spawn()?;
    Ok((child, ports))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let work = match &opts.work {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("soak-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work)?;
    let (mut child, ports) = start(&opts, &work)?;
    let pid = child.id();
    let auth = basic_auth(ADMIN, SECRET.as_bytes())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(
        http_once(ports.http, "GET", "/healthz", None, None).await,
        Ok((200, _))
    ) {
        if Instant::now() > deadline {
            bail!("the node did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The handles that resolutions ask for.
    let mut seeder = Client::new(ports, auth.clone(), 7).await?;
    for n in 0..SEEDED {
        let body = handle_body(&format!("https://soak.example/{n}"));
        let status = seeder
            .send(
                "PUT",
                &format!("/api/handles/88.118.8/SOAK-{n}"),
                Some(body),
            )
            .await?;
        if status != 201 {
            bail!("seeding 88.118.8/SOAK-{n}: {status}");
        }
    }
    let counters = Arc::new(Counters::default());
    // Capacity: closed loop.
    let probe_until = Instant::now() + Duration::from_secs(opts.probe_secs);
    let mut probes = Vec::new();
    for w in 0..opts.workers {
        let mut client = Client::new(ports, auth.clone(), 100 + w as u64).await?;
        let counters = Arc::clone(&counters);
        probes.push(tokio::spawn(async move {
            while Instant::now() < probe_until {
                let started = Instant::now();
                let ok = client.operation(&counters).await;
                counters.record(started, ok);
            }
        }));
    }
    for probe in probes {
        probe.await?;
    }
    let (probe_ops, probe_errors, _, _) = counters.take();
    let capacity = probe_ops as f64 / opts.probe_secs as f64;
    let rate = capacity * opts.load;
    println!(
        "capacity {capacity:.0} ops/s ({probe_errors} errors); soaking at {rate:.0} ops/s for {} min",
        opts.minutes
    );
    // The soak: open loop, each worker paced to its share of the rate.
    let end = Instant::now() + Duration::from_secs(opts.minutes * 60);
    let per_worker = Duration::from_secs_f64(opts.workers as f64 / rate.max(1.0));
    let mut workers = Vec::new();
    for w in 0..opts.workers {
        let mut client = Client::new(ports, auth.clone(), 1000 + w as u64).await?;
        let counters = Arc::clone(&counters);
        workers.push(tokio::spawn(async move {
            let mut next = Instant::now() + per_worker.mul_f64(w as f64 / 32.0);
            while Instant::now() < end {
                tokio::time::sleep_until(next.into()).await;
                next += per_worker;
                let started = Instant::now();
                let ok = client.operation(&counters).await;
                counters.record(started, ok);
            }
        }));
    }
    let mut csv =
        String::from("minute,ops,errors,p50_ms,p99_ms,rss_mib,fds,threads,connections,data_mib\n");
    let mut rows: Vec<(f64, usize, usize)> = Vec::new();
    let mut sample = 0u64;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(opts.sample_secs)).await;
        sample += 1;
        let (ops, errors, p50, p99) = counters.take();
        let (rss, fds, threads) = process_figures(pid);
        let connections = open_connections(ports).await;
        let data = dir_size(&work.join("data")) as f64 / (1024.0 * 1024.0);
        let row = format!(
            "{sample},{ops},{errors},{p50:.2},{p99:.2},{rss:.1},{fds},{threads},{connections},{data:.1}"
        );
        println!("{row}");
        csv.push_str(&row);
        csv.push('\n');
        std::fs::write(&opts.csv, &csv)?;
        rows.push((rss, fds, threads));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let third = rows.len() / 3;
    let mean = |part: &[(f64, usize, usize)]| {
        part.iter().map(|r| r.0).sum::<f64>() / part.len().max(1) as f64
    };
    let (middle, last) = (&rows[third..2 * third], &rows[2 * third..]);
    let growth = (mean(last) - mean(middle)) / mean(middle).max(1.0);
    let max_fds = rows.iter().map(|r| r.1).max().unwrap_or(0);
    let max_threads = rows.iter().map(|r| r.2).max().unwrap_or(0);
    let bounded = growth < 0.10 && max_fds < 4096;
    println!(
        "RESULT minutes={} capacity={capacity:.0} rate={rate:.0} rss_growth_last_third={:.3} max_fds={max_fds} max_threads={max_threads} bounded={bounded}",
        opts.minutes, growth
    );
    if bounded {
        Ok(())
    } else {
        bail!("something grew past its bound")
    }
}
