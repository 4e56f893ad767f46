//! A load generator for idnode's REST API: registers fixture products (`create`) or resolves
//! random ones (`get`) over keep-alive HTTP/1.1 connections, plain or TLS, and reports the
//! rate, latency percentiles, errors and, given the server's pid, the server CPU per request.
//!
//! ```text
//! loadgen create --url https://127.0.0.1:18443 --ca DATA/tls/cert.pem \
//!     --secret-file SECRET --count 100000 --connections 16 --server-pid PID
//! loadgen get --url http://127.0.0.1:18080 --keys 100000 --seconds 10 --connections 64
//! loadgen capture --url http://127.0.0.1:18080 --secret-file SECRET --count 2000 --events 100
//! loadgen proofs --url http://127.0.0.1:18080 --secret-file SECRET --digests FILE --out DIR
//! ```
//!
//! `capture` POSTs EPCIS documents of [`idnode_benches::capture_document`] to `/epcis/capture`
//! and reports records per second besides requests per second; with `--digests-out` it also
//! writes the receipts' record digests, one per line. `proofs` GETs `/log/proof` for each
//! digest of such a file and, with `--out`, writes every bundle (`NNNNNN.tlog-proof`, with the
//! record JWS) for `idnode verify`.
//!
//! `create` PUTs `88.118.8/CHEM-{n:06}` for `n` in `start..start + count`, each with the
//! values of [`idnode_benches::product_put_body`] and `?overwrite=false`, authenticating with
//! HTTP Basic as the prefix administrator; anything but `201 Created` is an error. `get` is a
//! closed loop: every connection sends its next request when the previous answer is read, for
//! a random key below `--keys`; anything but `200 OK` is an error.
//!
//! The last line of output is machine-readable: `RESULT key=value ...`.

use idnode_benches::client::{SplitMix, basic_auth, read_secret, receipt_digests};
use idnode_benches::cpu::{Cpu, CpuMeter, CpuSample, clock_ticks};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use idnode_benches::{product_handle, product_put_body};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Load idnode's REST API.
#[derive(Debug, Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// PUT new fixture handles with `?overwrite=false`, expecting 201.
    Create {
        #[command(flatten)]
        common: Common,
        /// The first fixture number.
        #[arg(long, default_value_t = 0)]
        start: usize,
        /// How many handles to create.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// A file holding the administrator's secret (one trailing newline is ignored).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// The administrator identity, `index:handle`.
        #[arg(long, default_value = "300:88.118.8/ADMIN")]
        admin: String,
    },
    /// POST EPCIS capture documents of `--events` events each, expecting 201; the rate is
    /// also given in records per second.
    Capture {
        #[command(flatten)]
        common: Common,
        /// How many documents to send.
        #[arg(long, default_value_t = 2_000)]
        count: usize,
        /// Events (records) per document.
        #[arg(long, default_value_t = 100)]
        events: usize,
        /// The first document number (documents name drums by number, so reruns on the same
        /// data directory should start after the last one).
        #[arg(long, default_value_t = 0)]
        start: usize,
        /// A file holding the administrator's secret (one trailing newline is ignored).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// The administrator identity, `index:handle`.
        #[arg(long, default_value = "300:88.118.8/ADMIN")]
        admin: String,
        /// Write the record digests of the receipts to this file, one hex digest per line.
        #[arg(long, value_name = "FILE")]
        digests_out: Option<PathBuf>,
    },
    /// GET `/log/proof` for every digest of a file, expecting 200, as the administrator (so
    /// that bundles carry the record JWS).
    Proofs {
        #[command(flatten)]
        common: Common,
        /// Record digests, one hex digest per line (from `capture --digests-out`).
        #[arg(long, value_name = "FILE")]
        digests: PathBuf,
        /// Write each bundle to `DIR/NNNNNN.tlog-proof`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// A file holding the administrator's secret (one trailing newline is ignored).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// The administrator identity, `index:handle`.
        #[arg(long, default_value = "300:88.118.8/ADMIN")]
        admin: String,
    },
    /// GET random fixture handles in a closed loop, expecting 200.
    Get {
        #[command(flatten)]
        common: Common,
        /// Keys are drawn uniformly from fixture numbers `0..keys`.
        #[arg(long, default_value_t = 100_000)]
        keys: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// How long to load the server before measuring, in seconds.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The server, `http://IP:PORT` or `https://IP:PORT`.
    #[arg(long)]
    url: Uri,
    /// The PEM certificate to trust for `https` (idnode's is `DATA/tls/cert.pem`).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Concurrent keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// The server's process id, to report its CPU time per request from `/proc`.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// Where requests go and how to connect there.
struct Target {
    addr: SocketAddr,
    host: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Target {
    fn new(common: &Common) -> anyhow::Result<Self> {
        let url = &common.url;
        let authority = url
            .authority()
            .context("the URL needs a host and port, such as https://127.0.0.1:8443")?;
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => bail!("unsupported scheme {other:?}: use http or https"),
        };
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let ip: std::net::IpAddr = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .context("the URL's host must be an IP address")?;
        let tls = if https {
            let ca = common
                .ca
                .as_ref()
                .context("https needs --ca with the server's certificate")?;
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            let config = idnode_certs::tls::client_config_trusting(&pem, &[b"http/1.1".to_vec()])
                .context("cannot build the TLS client configuration")?;
            Some((TlsConnector::from(config), ServerName::IpAddress(ip.into())))
        } else {
            None
        };
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            host: HeaderValue::from_str(authority.as_str())?,
            tls,
        })
    }

    /// Opens one HTTP/1.1 connection; its driver runs in a spawned task.
    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .context("TLS handshake failed")?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(sender)
            }
            None => {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(sender)
            }
        }
    }
}

/// What one connection's worker observed.
#[derive(Default)]
struct Tally {
    /// Latencies in microseconds of the requests that count.
    latencies: Vec<u32>,
    /// Requests that count but did not get the expected status.
    errors: u64,
}

/// The first error seen, to show what went wrong.
type FirstError = Arc<Mutex<Option<String>>>;

fn remember(first: &FirstError, message: String) {
    if let Ok(mut slot) = first.lock()
        && slot.is_none()
    {
        *slot = Some(message);
    }
}

/// Sends one request and reads the whole answer; `Ok(true)` when the status is `expected`.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    expected: StatusCode,
    first: &FirstError,
) -> anyhow::Result<bool> {
    Ok(exchange_body(sender, request, expected, first)
        .await?
        .is_some())
}

/// Like [`exchange`], returning the body when the status is `expected`.
async fn exchange_body(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    expected: StatusCode,
    first: &FirstError,
) -> anyhow::Result<Option<Bytes>> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != expected {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        remember(first, format!("{status}: {shown}"));
        return Ok(None);
    }
    Ok(Some(body))
}

/// The summary of a run.
struct Report {
    mode: &'static str,
    requests: usize,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<u32>,
    server_cpu: Option<Cpu>,
    client_cpu: Cpu,
    /// Trace records per successful request (captures), 1 otherwise.
    records_per_request: usize,
}

impl Report {
    fn print(mut self) {
        self.latencies.sort_unstable();
        let pct = |p: f64| -> u32 {
            if self.latencies.is_empty() {
                return 0;
            }
            let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
            self.latencies[rank.clamp(1, self.latencies.len()) - 1]
        };
        let seconds = self.elapsed.as_secs_f64();
        // The rate counts answers with the expected status only.
        let rate = (self.requests as f64 - self.errors as f64) / seconds;
        let per_request = |cpu: Duration| {
            if self.requests == 0 {
                f64::NAN
            } else {
                cpu.as_secs_f64() * 1e6 / self.requests as f64
            }
        };
        let server = self.server_cpu.map(|cpu| per_request(cpu.total()));
        let client = per_request(self.client_cpu.total());
        println!(
            "{}: {} requests in {seconds:.2} s, {} errors: {rate:.0} successful requests/s",
            self.mode, self.requests, self.errors
        );
        println!(
            "latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}",
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(99.9),
            pct(100.0)
        );
        match (server, self.server_cpu) {
            (Some(per), Some(cpu)) => println!(
                "server CPU: {:.2} s = {per:.1} µs/request ({:.1} user + {:.1} system; {:.0}% of one core)",
                cpu.total().as_secs_f64(),
                per_request(cpu.user),
                per_request(cpu.system),
                cpu.total().as_secs_f64() * 100.0 / seconds
            ),
            _ => println!("server CPU: not measured (no --server-pid)"),
        }
        println!("client CPU: {client:.1} µs/request");
        if self.records_per_request > 1 {
            let records = rate * self.records_per_request as f64;
            println!(
                "records: {} per request, {records:.0} records/s; server CPU {} µs/record",
                self.records_per_request,
                server.map_or_else(
                    || "na".to_owned(),
                    |per| format!("{:.1}", per / self.records_per_request as f64)
                ),
            );
            println!(
                "RESULT_RECORDS records_per_request={} records_per_second={records:.1}",
                self.records_per_request
            );
        }
        println!(
            "RESULT mode={} requests={} errors={} seconds={seconds:.3} rate={rate:.1} p50_us={} p90_us={} p99_us={} max_us={} server_cpu_us_per_req={} server_user_us_per_req={} server_sys_us_per_req={} client_cpu_us_per_req={client:.1}",
            self.mode,
            self.requests,
            self.errors,
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(100.0),
            server.map_or_else(|| "na".to_owned(), |v| format!("{v:.1}")),
            self.server_cpu.map_or_else(
                || "na".to_owned(),
                |c| format!("{:.1}", per_request(c.user))
            ),
            self.server_cpu.map_or_else(
                || "na".to_owned(),
                |c| format!("{:.1}", per_request(c.system))
            ),
        );
    }
}

async fn create(
    common: Common,
    start: usize,
    count: usize,
    secret_file: PathBuf,
    admin: String,
) -> anyhow::Result<Report> {
    let target = Arc::new(Target::new(&common)?);
    let auth = basic_auth(&admin, &read_secret(&secret_file)?)?;
    let build = {
        let host = target.host.clone();
        move |n: usize| {
            let n = start + n;
            Request::put(format!(
                "/api/handles/{}?overwrite=false",
                product_handle(n)
            ))
            .header(HOST, host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, auth.clone())
            .body(Full::new(Bytes::from(product_put_body(n))))
        }
    };
    drive(
        "create",
        &common,
        &target,
        count,
        StatusCode::CREATED,
        build,
        |_, _| Ok(()),
    )
    .await
}

async fn capture(
    common: Common,
    count: usize,
    events: usize,
    start: usize,
    secret_file: PathBuf,
    admin: String,
    digests_out: Option<PathBuf>,
) -> anyhow::Result<Report> {
    let target = Arc::new(Target::new(&common)?);
    let auth = basic_auth(&admin, &read_secret(&secret_file)?)?;
    let keep_digests = digests_out.is_some();
    // The documents are made before the clock starts.
    let documents: Arc<Vec<Bytes>> = Arc::new(
        (start..start + count)
            .map(|n| Bytes::from(idnode_benches::capture_document(n, events)))
            .collect(),
    );
    let build = {
        let host = target.host.clone();
        move |n: usize| {
            Request::post("/epcis/capture")
                .header(HOST, host.clone())
                .header(CONTENT_TYPE, "application/ld+json")
                .header(AUTHORIZATION, auth.clone())
                .body(Full::new(documents[n].clone()))
        }
    };
    let digests: Arc<Mutex<Vec<Receipts>>> = Arc::default();
    let keep = {
        let digests = digests.clone();
        move |n: usize, body: Bytes| -> anyhow::Result<()> {
            if keep_digests {
                let found = receipt_digests(&body)?;
                digests
                    .lock()
                    .map_err(|_| anyhow::anyhow!("a worker panicked"))?
                    .push((n, found));
            }
            Ok(())
        }
    };
    let mut report = drive(
        "capture",
        &common,
        &target,
        count,
        StatusCode::CREATED,
        build,
        keep,
    )
    .await?;
    if let Some(path) = digests_out {
        let mut kept = std::mem::take(
            &mut *digests
                .lock()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))?,
        );
        kept.sort_unstable_by_key(|(n, _)| *n);
        let mut lines = String::new();
        for digest in kept.iter().flat_map(|(_, found)| found) {
            lines.push_str(digest);
            lines.push('\n');
        }
        std::fs::write(&path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    report.records_per_request = events;
    Ok(report)
}

/// The record digests of one capture document's receipts, with the document's number.
type Receipts = (usize, Vec<String>);

/// GETs `/log/proof` for every digest in `digests`, writing the bundles to `out` if given.
async fn proofs(
    common: Common,
    digests: PathBuf,
    out: Option<PathBuf>,
    secret_file: PathBuf,
    admin: String,
) -> anyhow::Result<Report> {
    let target = Arc::new(Target::new(&common)?);
    let auth = basic_auth(&admin, &read_secret(&secret_file)?)?;
    let text = std::fs::read_to_string(&digests)
        .with_context(|| format!("cannot read {}", digests.display()))?;
    let digests: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let count = digests.len();
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let build = {
        let host = target.host.clone();
        move |n: usize| {
            Request::get(format!("/log/proof?digest={}", digests[n]))
                .header(HOST, host.clone())
                .header(AUTHORIZATION, auth.clone())
                .body(Full::new(Bytes::new()))
        }
    };
    let write = move |n: usize, body: Bytes| -> anyhow::Result<()> {
        if let Some(dir) = &out {
            let path = dir.join(format!("{n:06}.tlog-proof"));
            std::fs::write(&path, &body)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    };
    drive(
        "proofs",
        &common,
        &target,
        count,
        StatusCode::OK,
        build,
        write,
    )
    .await
}

/// Sends requests `0..count` (made by `build`) over `--connections` keep-alive connections, one
/// in flight on each, expecting `expected`; `keep` sees every expected body. The connections
/// are opened before the clock and the CPU meter start.
async fn drive<B, K>(
    mode: &'static str,
    common: &Common,
    target: &Arc<Target>,
    count: usize,
    expected: StatusCode,
    build: B,
    keep: K,
) -> anyhow::Result<Report>
where
    B: Fn(usize) -> http::Result<Request<Full<Bytes>>> + Send + Sync + 'static,
    K: Fn(usize, Bytes) -> anyhow::Result<()> + Send + Sync + 'static,
{
    let meter = CpuMeter {
        server_pid: common.server_pid.map(|p| p.to_string()),
        ticks: clock_ticks(),
    };
    let (build, keep) = (Arc::new(build), Arc::new(keep));
    let mut senders = Vec::with_capacity(common.connections);
    for _ in 0..common.connections {
        senders.push(target.connect().await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let first: FirstError = Arc::default();
    let before = meter.sample()?;
    let started = Instant::now();
    let workers: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            let (target, next, first, build, keep) = (
                target.clone(),
                next.clone(),
                first.clone(),
                build.clone(),
                keep.clone(),
            );
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    let request = match build(n) {
                        Ok(r) => r,
                        Err(e) => {
                            remember(&first, format!("cannot build a request: {e}"));
                            tally.errors += 1;
                            continue;
                        }
                    };
                    let sent = Instant::now();
                    match exchange_body(&mut sender, request, expected, &first).await {
                        Ok(Some(body)) => {
                            if let Err(e) = keep(n, body) {
                                remember(&first, format!("{n}: {e:#}"));
                                tally.errors += 1;
                            }
                        }
                        Ok(None) => tally.errors += 1,
                        Err(e) => {
                            remember(&first, format!("{n}: {e:#}"));
                            tally.errors += 1;
                            match target.connect().await {
                                Ok(fresh) => sender = fresh,
                                Err(_) => break,
                            }
                        }
                    }
                    tally.latencies.push(micros(sent.elapsed()));
                }
                tally
            })
        })
        .collect();
    let mut tallies = Vec::with_capacity(workers.len());
    for worker in workers {
        tallies.push(worker.await?);
    }
    let elapsed = started.elapsed();
    let after = meter.sample()?;
    report_errors(&first);
    Ok(merge(mode, tallies, elapsed, &before, &after))
}

async fn get(common: Common, keys: usize, seconds: f64, warmup: f64) -> anyhow::Result<Report> {
    if keys == 0 {
        bail!("--keys must be positive");
    }
    let target = Arc::new(Target::new(&common)?);
    let meter = CpuMeter {
        server_pid: common.server_pid.map(|p| p.to_string()),
        ticks: clock_ticks(),
    };
    let mut senders = Vec::with_capacity(common.connections);
    for _ in 0..common.connections {
        senders.push(target.connect().await?);
    }
    let first: FirstError = Arc::default();
    let now = Instant::now();
    let measure_from = now + Duration::from_secs_f64(warmup);
    let measure_until = measure_from + Duration::from_secs_f64(seconds);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let workers: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut sender)| {
            let (target, first) = (target.clone(), first.clone());
            tokio::spawn(async move {
                let mut random = SplitMix(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                let mut tally = Tally::default();
                loop {
                    let sent = Instant::now();
                    if sent >= measure_until {
                        break;
                    }
                    let n = (random.next() % keys as u64) as usize;
                    let request = Request::get(format!("/api/handles/{}", product_handle(n)))
                        .header(HOST, target.host.clone())
                        .body(Full::new(Bytes::new()));
                    let request = match request {
                        Ok(r) => r,
                        Err(e) => {
                            remember(&first, format!("cannot build a request: {e}"));
                            break;
                        }
                    };
                    let outcome = exchange(&mut sender, request, StatusCode::OK, &first).await;
                    let done = Instant::now();
                    let counts = sent >= measure_from && done <= measure_until;
                    match outcome {
                        Ok(true) => {}
                        Ok(false) => tally.errors += u64::from(counts),
                        Err(e) => {
                            remember(&first, format!("{n}: {e:#}"));
                            tally.errors += u64::from(counts);
                            match target.connect().await {
                                Ok(fresh) => sender = fresh,
                                Err(_) => break,
                            }
                        }
                    }
                    if counts {
                        tally.latencies.push(micros(done - sent));
                    }
                }
                tally
            })
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let before = meter.sample()?;
    tokio::time::sleep_until(measure_until.into()).await;
    let after = meter.sample()?;
    let elapsed = measure_until - measure_from;
    let mut tallies = Vec::with_capacity(workers.len());
    for worker in workers {
        tallies.push(worker.await?);
    }
    report_errors(&first);
    Ok(merge("get", tallies, elapsed, &before, &after))
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn report_errors(first: &FirstError) {
    if let Ok(slot) = first.lock()
        && let Some(message) = slot.as_ref()
    {
        eprintln!("first error: {message}");
    }
}

fn merge(
    mode: &'static str,
    tallies: Vec<Tally>,
    elapsed: Duration,
    before: &CpuSample,
    after: &CpuSample,
) -> Report {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for tally in tallies {
        latencies.extend(tally.latencies);
        errors += tally.errors;
    }
    Report {
        mode,
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
        server_cpu: match (before.server, after.server) {
            (Some(b), Some(a)) => Some(a.since(b)),
            _ => None,
        },
        client_cpu: after.client.since(before.client),
        records_per_request: 1,
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = runtime.block_on(async move {
        match cli.mode {
            Mode::Create {
                common,
                start,
                count,
                secret_file,
                admin,
            } => create(common, start, count, secret_file, admin).await,
            Mode::Capture {
                common,
                count,
                events,
                start,
                secret_file,
                admin,
                digests_out,
            } => {
                capture(
                    common,
                    count,
                    events,
                    start,
                    secret_file,
                    admin,
                    digests_out,
                )
                .await
            }
            Mode::Proofs {
                common,
                digests,
                out,
                secret_file,
                admin,
            } => proofs(common, digests, out, secret_file, admin).await,
            Mode::Get {
                common,
                keys,
                seconds,
                warmup,
            } => get(common, keys, seconds, warmup).await,
        }
    })?;
    report.print();
    Ok(())
}
