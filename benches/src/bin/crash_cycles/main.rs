//! Crash cycles: the real `idnode` binary under mixed write load, killed with SIGKILL at a
//! random moment, restarted on the same data directory and checked, many times over.
//!
//! ```text
//! crash_cycles --idnode target/release/idnode --cycles 1000 [--seed N] [--work DIR]
//! ```
//!
//! Each cycle, against the running node:
//!
//! * writers run at once: REST creates, REST modifies of each writer's own handles, SNMS batch
//!   registrations, native TCP creates (challenge–response with the secret), and EPCIS captures;
//!   every tenth cycle, an `idnode import` of a CSV file runs first, on the stopped node,
//!   and is itself killed at a random moment half of the time;
//! * after a random time the node gets SIGKILL, and is started again;
//! * every acknowledged write is checked to be there (the modified value is the acknowledged
//!   one or the one in flight at the kill), every imported row that exists is whole, an
//!   interrupted import completes on a rerun, every acknowledged capture is answered by a
//!   retry with its original receipts, a capture in flight at the kill is all there or not at
//!   all (a retry records all of its events or none), the log's new checkpoint is consistent
//!   with the one before the kill and a record's proof bundle passes `idnode verify`, and the
//!   search index catches up with the cycle's SNMS registrations.
//!
//! The last line is machine-readable: `RESULT cycles=… failures=… acked=… …`. With
//! `--fresh-every N` the data directory starts empty again every N cycles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod check;
mod load;

use anyhow::{Context as _, bail};
use clap::Parser;
use http::HeaderValue;
use idnode_benches::client::{SplitMix, basic_auth, free_port};
use serde_json::{Value, json};

use check::{latest_checkpoint, verify};
use load::{cas, writer};

const ADMIN: &str = "300:88.118.8/ADMIN";
const SECRET: &str = "crash-cycle-secret";
/// The enterprise every imported and registered product names as its manufacturer.
const MAKER: &str = "88.118.8/E.CRASH";
/// Rows per import.
const IMPORT_ROWS: usize = 3000;

/// Kill idnode at random moments under mixed write load, and check what it acknowledged.
#[derive(Debug, Parser)]
#[command(about)]
struct Opts {
    /// The idnode binary.
    #[arg(long)]
    idnode: PathBuf,
    /// How many kill-and-restart cycles.
    #[arg(long, default_value_t = 1000)]
    cycles: usize,
    /// The seed of the random moments and choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A directory for the data, config and logs (a temporary one by default).
    #[arg(long)]
    work: Option<PathBuf>,
    /// The shortest and longest load before a kill, in milliseconds.
    #[arg(long, default_value_t = 50)]
    min_ms: u64,
    #[arg(long, default_value_t = 1500)]
    max_ms: u64,
    /// Start again from an empty data directory every this many cycles (0: never). A restart
    /// after SIGKILL repairs the database file, which takes longer as it grows; this keeps a
    /// long run's cycles short.
    #[arg(long, default_value_t = 0)]
    fresh_every: usize,
}

/// Free loopback ports of one node.
#[derive(Debug, Clone, Copy)]
struct Ports {
    http: SocketAddr,
    native: SocketAddr,
}

/// What the writers were told, and what they sent without hearing back.
#[derive(Debug, Default)]
struct Ledger {
    /// Handle → the values (by index, text) acknowledged, and the value of index 2 in flight.
    handles: HashMap<String, Expected>,
    /// Acknowledged captures: (document, receipt indexes).
    captures: Vec<(Vec<u8>, Vec<u64>)>,
    /// Captures sent but not answered.
    captures_in_flight: Vec<(Vec<u8>, usize)>,
    /// Creates sent but not answered (may or may not exist).
    creates_in_flight: usize,
    /// SNMS registrations acknowledged this cycle, by a searchable value.
    registered: Vec<(String, String)>,
    acked: usize,
}

#[derive(Debug, Clone, Default)]
struct Expected {
    /// The acknowledged text of index 2.
    desc: String,
    /// A later text of index 2 sent but not acknowledged.
    in_flight: Option<String>,
}

use idnode_benches::client::http_once as http;

/// The values every created handle gets: the administrator, a URL and a text at index 2.
fn values_json(url: &str, desc: &str) -> Value {
    json!({"values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
          "value": {"handle": "88.118.8/ADMIN", "index": 300, "permissions": "111111111111"}}},
        {"index": 1, "type": "URL", "data": {"format": "string", "value": url}},
        {"index": 2, "type": "DESC", "data": {"format": "string", "value": desc}},
    ]})
}

/// A node under test.
struct Node {
    child: Child,
    ports: Ports,
}

impl Node {
    fn start(opts: &Opts, work: &Path) -> anyhow::Result<Self> {
        let ports = Ports {
            http: SocketAddr::from(([127, 0, 0, 1], free_port())),
            native: SocketAddr::from(([127, 0, 0, 1], free_port())),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work.join("serve.log"))?;
        let child = Command::new(&opts.idnode)
            .arg("serve")
            .arg("--data")
            .arg(work.join("data"))
            .arg("--config")
            .arg(work.join("idnode.toml"))
            .args(["--http", &ports.http.to_string(), "--https", "off"])
            .args(["--handle", &ports.native.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawn idnode serve")?;
        Ok(Self { child, ports })
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("idnode serve exited with {status}");
            }
            if let Ok((200, _)) = http(self.ports.http, "GET", "/healthz", None, None).await {
                return Ok(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("idnode serve did not become healthy in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts the node and waits until it answers. A start that fails because a port chosen
    /// free was taken meanwhile (the kernel hands ports to other processes too) is retried on
    /// other ports; any other failure is an error.
    async fn start_healthy(opts: &Opts, work: &Path) -> anyhow::Result<(Self, Duration)> {
        for _ in 0..5 {
            let mut node = Self::start(opts, work)?;
            match node.wait_healthy().await {
                Ok(took) => return Ok((node, took)),
                Err(e) => {
                    let log = std::fs::read_to_string(work.join("serve.log")).unwrap_or_default();
                    let taken = log
                        .lines()
                        .rev()
                        .take(20)
                        .any(|l| l.contains("cannot listen"));
                    if !taken {
                        return Err(e);
                    }
                }
            }
        }
        bail!("no free ports for idnode serve after 5 tries")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut opts = Opts::parse();
    opts.idnode = std::fs::canonicalize(&opts.idnode)
        .with_context(|| format!("no idnode binary at {}", opts.idnode.display()))?;
    let temporary;
    let work = match &opts.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temporary = std::env::temp_dir().join(format!("crash-cycles-{}", std::process::id()));
            std::fs::create_dir_all(&temporary)?;
            temporary.clone()
        }
    };
    setup(&opts, &work)?;
    let auth = basic_auth(ADMIN, SECRET.as_bytes())?;
    let mut rng = SplitMix(opts.seed);
    let (mut node, _) = Node::start_healthy(&opts, &work).await?;
    seed_maker(&node, &auth).await?;
    let mut failures = Vec::new();
    let mut total = Totals::default();
    let mut checkpoint = latest_checkpoint(&node).await?;
    for cycle in 0..opts.cycles {
        if opts.fresh_every > 0 && cycle > 0 && cycle % opts.fresh_every == 0 {
            node.kill();
            setup(&opts, &work)?;
            node = Node::start_healthy(&opts, &work).await?.0;
            seed_maker(&node, &auth).await?;
            checkpoint = latest_checkpoint(&node).await?;
        }
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..5 {
            writers.push(tokio::spawn(writer(
                w,
                cycle,
                node.ports,
                auth.clone(),
                Arc::clone(&ledger),
                Arc::clone(&stop),
            )));
        }
        let load = opts.min_ms + rng.next() % (opts.max_ms - opts.min_ms + 1);
        tokio::time::sleep(Duration::from_millis(load)).await;
        node.kill();
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            let _ = writer.await;
        }
        let import = if cycle % 10 == 9 {
            Some(import(&opts, &work, cycle, &mut rng)?)
        } else {
            None
        };
        let restart;
        (node, restart) = Node::start_healthy(&opts, &work).await?;
        let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
        let found = verify(
            &opts,
            &work,
            &node,
            &auth,
            &ledger,
            import.as_ref(),
            &checkpoint,
        )
        .await;
        match found {
            Ok(next) => checkpoint = next,
            Err(e) => {
                eprintln!("cycle {cycle}: FAILED: {e:#}");
                failures.push((cycle, format!("{e:#}")));
                checkpoint = latest_checkpoint(&node).await?;
            }
        }
        total.add(&ledger, restart);
        if cycle % 25 == 24 || cycle + 1 == opts.cycles {
            println!(
                "cycle {}: {} acknowledged writes so far, {} failures, restart p50 {} ms",
                cycle + 1,
                total.acked,
                failures.len(),
                total.median_restart_ms()
            );
        }
    }
    node.kill();
    println!(
        "RESULT cycles={} failures={} acked={} captures={} in_flight_captures={} imports={} restart_p50_ms={} restart_max_ms={}",
        opts.cycles,
        failures.len(),
        total.acked,
        total.captures,
        total.captures_in_flight,
        opts.cycles / 10,
        total.median_restart_ms(),
        total.restarts.iter().max().copied().unwrap_or(0),
    );
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("{} cycles failed", failures.len())
    }
}

#[derive(Debug, Default)]
struct Totals {
    acked: usize,
    captures: usize,
    captures_in_flight: usize,
    restarts: Vec<u128>,
}

impl Totals {
    fn add(&mut self, ledger: &Ledger, restart: Duration) {
        self.acked += ledger.acked;
        self.captures += ledger.captures.len();
        self.captures_in_flight += ledger.captures_in_flight.len();
        self.restarts.push(restart.as_millis());
    }

    fn median_restart_ms(&self) -> u128 {
        let mut sorted = self.restarts.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or(0)
    }
}

/// A fresh data directory with the administrator's secret, and a config for a loopback load
/// generator.
fn setup(opts: &Opts, work: &Path) -> anyhow::Result<()> {
    let data = work.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::write(work.join("secret"), SECRET)?;
    std::fs::write(
        work.join("idnode.toml"),
        "[http]\nallow_loopback_plain_writes = true\n[auth]\nsecret_iterations = 1000\n\
         server_admins = [\"300:88.118.8/ADMIN\"]\n[limits]\nrequests_per_second_per_source = 0\n\
         [native]\nudp_max_amplification = 0\n[trace]\ncheckpoint_interval_ms = 100\n",
    )?;
    let status = Command::new(&opts.idnode)
        .arg("init")
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(work.join("idnode.toml"))
        .args(["--prefix", "88.118.8", "--admin-secret-file"])
        .arg(work.join("secret"))
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("idnode init failed");
    }
    Ok(())
}

async fn seed_maker(node: &Node, auth: &HeaderValue) -> anyhow::Result<()> {
    let body = values_json("https://crash.example/maker", "maker").to_string();
    let (status, reply) = http(
        node.ports.http,
        "PUT",
        &format!("/api/handles/{MAKER}"),
        Some(auth),
        Some(body.into_bytes()),
    )
    .await?;
    if status != 201 {
        bail!(
            "cannot create {MAKER}: {status} {}",
            String::from_utf8_lossy(&reply)
        );
    }
    Ok(())
}

/// The rows of an [`import`] (handle, CAS number).
struct Imported {
    rows: Vec<(String, String)>,
}

/// Imports a CSV of products into the stopped node's data directory. Half of the time the
/// import is killed at a random moment and run again, which must complete it.
fn import(opts: &Opts, work: &Path, cycle: usize, rng: &mut SplitMix) -> anyhow::Result<Imported> {
    let file = work.join(format!("import-{cycle}.csv"));
    let mut text = String::from("suffix,productName,casNo\n");
    let rows: Vec<(String, String)> = (0..IMPORT_ROWS)
        .map(|i| {
            (
                format!("88.118.8/I.{cycle}.{i}"),
                cas(50_000_000 + cycle * IMPORT_ROWS + i),
            )
        })
        .collect();
    for (handle, cas) in &rows {
        let suffix = handle.trim_start_matches("88.118.8/");
        text.push_str(&format!("{suffix},imported {suffix},\"[\"\"{cas}\"\"]\"\n"));
    }
    std::fs::write(&file, text)?;
    let mut child = import_command(opts, work, &file).spawn()?;
    if rng.next().is_multiple_of(2) {
        std::thread::sleep(Duration::from_millis(rng.next() % 400));
        let _ = child.kill();
        let _ = child.wait();
        // What the interrupted import committed is whole; the rest comes with a rerun.
        child = import_command(opts, work, &file).spawn()?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("idnode import of {} failed", file.display());
    }
    Ok(Imported { rows })
}

fn import_command(opts: &Opts, work: &Path, file: &Path) -> Command {
    let mut command = Command::new(&opts.idnode);
    command
        .arg("import")
        .arg("--data")
        .arg(work.join("data"))
        .arg("--config")
        .arg(work.join("idnode.toml"))
        .args(["--template", "hazchem.product", "--prefix", "88.118.8"])
        .args(["--set", &format!("manufacturer={MAKER}")])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}
