//! A load generator for idnode's native Handle protocol (resolution over UDP or TCP), with a
//! DNS mode (TXT queries over UDP) so that a DNS server can be measured by the same client.
//!
//! ```text
//! hdl_loadgen --proto udp --server 127.0.0.1:2641 --keys 100000 --seconds 10 --conns 4 --depth 16
//! hdl_loadgen --proto tcp --server 127.0.0.1:2641 --rate 20000 --conns 8 --server-pid PID
//! hdl_loadgen --proto dns --server 127.0.0.1:5353 --zone bench.test --keys 100000 --seconds 10
//! ```
//!
//! Every request resolves a random key below `--keys`: the handle `PREFIX/BENCH-{n:06}` (all
//! values, flags `REC|CA|PO` as the reference client sends them), or the DNS name
//! `bench-{n:06}.ZONE` with type TXT. With `--rate 0` (the default) the load is a closed loop:
//! each of `--conns` sockets or persistent TCP connections keeps `--depth` requests in flight
//! and sends a new one as each answer arrives (over TCP, the requests made after one read go
//! out in one write, as a pipelining client sends them). With `--rate R` it is an open loop at R requests
//! per second in all, spread over the connections; latencies are then measured from the time
//! each request was scheduled, so a slow server cannot hide its queueing delay.
//!
//! Answers count as successes when the response code is 1 (DNS: NOERROR without TC). A UDP
//! request with no (complete) answer within `--timeout-ms` is lost; multi-packet UDP answers are
//! reassembled by size. Only requests sent after `--warmup` seconds count. Given the server's
//! pid, the server CPU time (user + system, from `/proc/PID/stat`) over the measured seconds is
//! divided by the answers received in them. The last line of output is machine-readable:
//! `RESULT key=value ...`.

use std::collections::HashMap;
use std::io::{BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use idnode_proto::wire::{
    Body, ENVELOPE_LEN, Envelope, Header, Message, OpCode, OpFlags, ResolutionRequest, Version,
};

/// Which protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp,
    Dns,
}

/// The command line.
#[derive(Debug, Clone)]
struct Opts {
    proto: Proto,
    server: SocketAddr,
    keys: u64,
    prefix: String,
    zone: String,
    seconds: f64,
    warmup: f64,
    rate: f64,
    conns: usize,
    depth: usize,
    timeout: Duration,
    server_pid: Option<u32>,
}

const USAGE: &str = "usage: hdl_loadgen --proto udp|tcp|dns --server ADDR [--keys N] [--prefix P] \
[--zone Z] [--seconds S] [--warmup S] [--rate QPS] [--conns N] [--depth N] [--timeout-ms MS] \
[--server-pid PID]";

fn parse_args() -> Result<Opts, String> {
    let mut opts = Opts {
        proto: Proto::Udp,
        server: SocketAddr::from(([127, 0, 0, 1], 2641)),
        keys: 100_000,
        prefix: "88.118.8".to_owned(),
        zone: "bench.test".to_owned(),
        seconds: 10.0,
        warmup: 1.0,
        rate: 0.0,
        conns: 4,
        depth: 16,
        timeout: Duration::from_millis(1000),
        server_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--proto" => {
                opts.proto = match value.as_str() {
                    "udp" => Proto::Udp,
                    "tcp" => Proto::Tcp,
                    "dns" => Proto::Dns,
                    _ => return Err(bad(&"expected udp, tcp or dns")),
                }
            }
            "--server" => opts.server = value.parse().map_err(|e| bad(&e))?,
            "--keys" => opts.keys = value.parse().map_err(|e| bad(&e))?,
            "--prefix" => opts.prefix = value,
            "--zone" => opts.zone = value.trim_end_matches('.').to_owned(),
            "--seconds" => opts.seconds = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => opts.warmup = value.parse().map_err(|e| bad(&e))?,
            "--rate" => opts.rate = value.parse().map_err(|e| bad(&e))?,
            "--conns" => opts.conns = value.parse().map_err(|e| bad(&e))?,
            "--depth" => opts.depth = value.parse().map_err(|e| bad(&e))?,
            "--timeout-ms" => {
                opts.timeout = Duration::from_millis(value.parse().map_err(|e| bad(&e))?);
            }
            "--server-pid" => opts.server_pid = Some(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if opts.keys == 0 || opts.keys > 1_000_000 || opts.conns == 0 || opts.depth == 0 {
        return Err("--keys must be 1..=1000000, --conns and --depth at least 1".to_owned());
    }
    if !(opts.seconds > 0.0 && opts.seconds <= 600.0 && opts.warmup >= 0.0 && opts.warmup <= 60.0) {
        return Err("--seconds must be in (0, 600] and --warmup in [0, 60]".to_owned());
    }
    Ok(opts)
}

/// A request template whose key digits and id are patched in place for each request.
#[derive(Debug, Clone)]
struct Template {
    bytes: Vec<u8>,
    /// Where the six key digits start.
    digits: usize,
}

impl Template {
    /// An OC 1 request for `PREFIX/BENCH-000000`, version 2.11, flags `REC|CA|PO`.
    fn handle(prefix: &str) -> Self {
        let handle = format!("{prefix}/BENCH-000000");
        let mut header = Header::request(OpCode::Resolution);
        header.flags = OpFlags::CLIENT_RESOLUTION_DEFAULT;
        header.expiration = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32)
            .saturating_add(43_200);
        let envelope = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            ..Envelope::default()
        };
        let body = Body::Resolution(ResolutionRequest {
            handle: handle.clone(),
            indexes: Vec::new(),
            types: Vec::new(),
        });
        let bytes = Message::new(envelope, header, body).to_bytes();
        let digits = find(&bytes, handle.as_bytes()) + handle.len() - 6;
        Self { bytes, digits }
    }

    /// A DNS query (RD set) for `bench-000000.ZONE` TXT.
    fn dns(zone: &str) -> Self {
        let name = format!("bench-000000.{zone}");
        let mut bytes = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            bytes.push(label.len() as u8);
            bytes.extend_from_slice(label.as_bytes());
        }
        bytes.extend_from_slice(&[0, 0, 16, 0, 1]);
        // The first label is `bench-000000`: its digits follow the length byte and `bench-`.
        Self {
            bytes,
            digits: 12 + 1 + 6,
        }
    }

    /// The request for key `n` with the id `id`.
    fn request(&self, proto: Proto, n: u64, id: u32, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        let mut k = n;
        for i in (0..6).rev() {
            out[self.digits + i] = b'0' + (k % 10) as u8;
            k /= 10;
        }
        if proto == Proto::Dns {
            out[0..2].copy_from_slice(&(id as u16).to_be_bytes());
        } else {
            out[8..12].copy_from_slice(&id.to_be_bytes());
        }
    }
}

/// The offset of `needle` in `hay`. The templates are built so that it is there.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or(0)
}

/// A complete answer: its id and whether it was a success.
#[derive(Debug, Clone, Copy)]
struct Answer {
    id: u32,
    ok: bool,
}

/// Per-connection state for reassembling multi-packet UDP answers: id -> (bytes, rc ok).
type Partial = HashMap<u32, (usize, Option<bool>)>;

/// Reads the next complete answer from a socket, or `None` on a read timeout.
fn read_answer(
    proto: Proto,
    udp: Option<&UdpSocket>,
    tcp: Option<&mut BufReader<TcpStream>>,
    buf: &mut Vec<u8>,
    partial: &mut Partial,
) -> std::io::Result<Option<Answer>> {
    match (proto, udp, tcp) {
        (Proto::Tcp, _, Some(reader)) => {
            let mut head = [0u8; ENVELOPE_LEN];
            match reader.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
            let envelope = Envelope::decode(&head).map_err(std::io::Error::other)?;
            buf.resize(envelope.message_length as usize, 0);
            reader.read_exact(buf)?;
            let ok = buf.len() >= 8 && buf[4..8] == [0, 0, 0, 1];
            Ok(Some(Answer {
                id: envelope.request_id,
                ok,
            }))
        }
        (_, Some(sock), _) => {
            buf.resize(65_536, 0);
            let n = match sock.recv(buf) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(None),
                Err(e) => return Err(e),
            };
            let datagram = &buf[..n];
            if proto == Proto::Dns {
                if n < 12 {
                    return Ok(None);
                }
                let id = u32::from(u16::from_be_bytes([datagram[0], datagram[1]]));
                // NOERROR, not truncated, at least one answer record.
                let ok = datagram[3] & 0x0F == 0
                    && datagram[2] & 0x02 == 0
                    && u16::from_be_bytes([datagram[6], datagram[7]]) > 0;
                return Ok(Some(Answer { id, ok }));
            }
            let Ok(envelope) = Envelope::decode(datagram) else {
                return Ok(None);
            };
            let payload = &datagram[ENVELOPE_LEN.min(n)..];
            let rc_ok = (envelope.sequence == 0)
                .then(|| payload.len() >= 8 && payload[4..8] == [0, 0, 0, 1]);
            if payload.len() as u32 >= envelope.message_length && envelope.sequence == 0 {
                return Ok(Some(Answer {
                    id: envelope.request_id,
                    ok: rc_ok.unwrap_or(false),
                }));
            }
            let entry = partial.entry(envelope.request_id).or_insert((0, None));
            entry.0 += payload.len();
            if rc_ok.is_some() {
                entry.1 = rc_ok;
            }
            if entry.0 as u32 >= envelope.message_length {
                let (_, ok) = partial
                    .remove(&envelope.request_id)
                    .unwrap_or((0, Some(false)));
                return Ok(Some(Answer {
                    id: envelope.request_id,
                    ok: ok.unwrap_or(false),
                }));
            }
            Ok(None)
        }
        _ => Err(std::io::Error::other("no socket")),
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// What one connection measured.
#[derive(Debug, Default)]
struct Tally {
    /// Requests sent inside the measured window.
    sent: u64,
    /// Their answers.
    answered: u64,
    /// Answers that were not successes.
    errors: u64,
    /// Latencies of the answered requests, in microseconds.
    latencies: Vec<u32>,
    /// Requests sent before the window (warm-up) or after it.
    outside: u64,
    /// Transport errors (a TCP connection lost, a send failing).
    io_errors: u64,
}

/// The measured window, shared by all threads.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// A small xorshift generator; load keys need no better.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn connect(opts: &Opts) -> std::io::Result<(Option<UdpSocket>, Option<TcpStream>)> {
    if opts.proto == Proto::Tcp {
        let stream = TcpStream::connect(opts.server)?;
        stream.set_nodelay(true)?;
        Ok((None, Some(stream)))
    } else {
        let bind: SocketAddr = if opts.server.is_ipv4() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let sock = UdpSocket::bind(bind)?;
        sock.connect(opts.server)?;
        Ok((Some(sock), None))
    }
}

/// Closed loop on one connection: keep `depth` requests in flight until the window ends.
fn closed_loop(opts: &Opts, template: &Template, window: Window, seed: u64) -> Tally {
    let mut tally = Tally::default();
    let (udp, tcp) = match connect(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect: {e}");
            tally.io_errors += 1;
            return tally;
        }
    };
    let mut writer = tcp.as_ref().and_then(|s| s.try_clone().ok());
    let mut reader = tcp.map(BufReader::new);
    let read_timeout = Some(Duration::from_millis(20));
    if let Some(s) = &udp {
        let _ = s.set_read_timeout(read_timeout);
    }
    if let Some(r) = &reader {
        let _ = r.get_ref().set_read_timeout(read_timeout);
    }
    let mut rng = Rng(seed | 1);
    let mut in_flight: HashMap<u32, Instant> = HashMap::new();
    let mut partial = Partial::new();
    let mut next_id: u32 = (seed as u32) & 0x0FFF_FFFF;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    // TCP requests made in one refill go out in one write, as a pipelining client sends them.
    let mut batch = Vec::new();
    let mut last_expiry = Instant::now();
    loop {
        let now = Instant::now();
        // After the window, only wait for the answers still due (at most the loss timeout).
        let draining = now >= window.end;
        if draining && (in_flight.is_empty() || now >= window.end + opts.timeout) {
            break;
        }
        while !draining && in_flight.len() < opts.depth {
            next_id = next_id.wrapping_add(1) & 0x7FFF_FFFF;
            let id = if opts.proto == Proto::Dns {
                next_id & 0xFFFF
            } else {
                next_id
            };
            if in_flight.contains_key(&id) {
                break;
            }
            template.request(opts.proto, rng.below(opts.keys), id, &mut out);
            let sent_at = Instant::now();
            let result = match &udp {
                Some(s) => s.send(&out).map(|_| ()),
                None => {
                    batch.extend_from_slice(&out);
                    Ok(())
                }
            };
            if result.is_err() {
                tally.io_errors += 1;
                return tally;
            }
            if window.contains(sent_at) {
                tally.sent += 1;
            } else {
                tally.outside += 1;
            }
            in_flight.insert(id, sent_at);
        }
        if !batch.is_empty() {
            if let Some(w) = writer.as_mut()
                && w.write_all(&batch).is_err()
            {
                tally.io_errors += 1;
                return tally;
            }
            batch.clear();
        }
        match read_answer(
            opts.proto,
            udp.as_ref(),
            reader.as_mut(),
            &mut buf,
            &mut partial,
        ) {
            Ok(Some(answer)) => {
                if let Some(sent_at) = in_flight.remove(&answer.id)
                    && window.contains(sent_at)
                {
                    tally.answered += 1;
                    if !answer.ok {
                        tally.errors += 1;
                    }
                    let us = sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    tally.latencies.push(us);
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("read: {e}");
                tally.io_errors += 1;
                return tally;
            }
        }
        // Requests without an answer within the timeout are lost (UDP); make room for new ones.
        if last_expiry.elapsed() > Duration::from_millis(50) {
            last_expiry = Instant::now();
            let timeout = opts.timeout;
            in_flight.retain(|_, sent_at| sent_at.elapsed() < timeout);
            partial.retain(|id, _| in_flight.contains_key(id));
        }
    }
    tally
}

/// Open loop on one connection: a sender paced at `rate` and a receiver on this thread.
fn open_loop(opts: &Opts, template: &Template, window: Window, rate: f64, seed: u64) -> Tally {
    let mut tally = Tally::default();
    let (udp, tcp) = match connect(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect: {e}");
            tally.io_errors += 1;
            return tally;
        }
    };
    let t0 = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let sent_total = Arc::new(AtomicU64::new(0));
    let sent_in_window = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let sender = {
        let udp = udp.as_ref().and_then(|s| s.try_clone().ok());
        let mut tcp = tcp.as_ref().and_then(|s| s.try_clone().ok());
        let template = template.clone();
        let proto = opts.proto;
        let keys = opts.keys;
        let sent_total = Arc::clone(&sent_total);
        let sent_in_window = Arc::clone(&sent_in_window);
        let failed = Arc::clone(&failed);
        thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            let mut out = Vec::new();
            let mut seq: u64 = 0;
            loop {
                let due = t0 + interval.mul_f64(seq as f64);
                if due >= window.end {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    let wait = due - now;
                    if wait > Duration::from_micros(200) {
                        thread::sleep(wait - Duration::from_micros(100));
                    }
                    continue;
                }
                template.request(proto, rng.below(keys), seq as u32 & 0x7FFF_FFFF, &mut out);
                let result = match (&udp, tcp.as_mut()) {
                    (Some(s), _) => s.send(&out).map(|_| ()),
                    (None, Some(w)) => w.write_all(&out),
                    _ => Ok(()),
                };
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
                if window.contains(due) {
                    sent_in_window.fetch_add(1, Ordering::Relaxed);
                }
                seq += 1;
                sent_total.store(seq, Ordering::Release);
            }
        })
    };
    let mut reader = tcp.map(BufReader::new);
    let read_timeout = Some(Duration::from_millis(20));
    if let Some(s) = &udp {
        let _ = s.set_read_timeout(read_timeout);
    }
    if let Some(r) = &reader {
        let _ = r.get_ref().set_read_timeout(read_timeout);
    }
    let mut partial = Partial::new();
    let mut buf = Vec::new();
    let drain_until = window.end + opts.timeout;
    while Instant::now() < drain_until && !failed.load(Ordering::Relaxed) {
        match read_answer(
            opts.proto,
            udp.as_ref(),
            reader.as_mut(),
            &mut buf,
            &mut partial,
        ) {
            Ok(Some(answer)) => {
                // Recover the full sequence number (DNS ids carry only its low 16 bits).
                let sent = sent_total.load(Ordering::Acquire);
                let seq = if opts.proto == Proto::Dns {
                    let low = u64::from(answer.id);
                    let base = sent.saturating_sub(1) & !0xFFFF;
                    if base + low < sent {
                        base + low
                    } else {
                        base.saturating_sub(0x1_0000) + low
                    }
                } else {
                    u64::from(answer.id)
                };
                let due = t0 + interval.mul_f64(seq as f64);
                if window.contains(due) {
                    tally.answered += 1;
                    if !answer.ok {
                        tally.errors += 1;
                    }
                    let us = due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    tally.latencies.push(us);
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("read: {e}");
                tally.io_errors += 1;
                break;
            }
        }
    }
    if sender.join().is_err() || failed.load(Ordering::Relaxed) {
        tally.io_errors += 1;
    }
    tally.sent = sent_in_window.load(Ordering::Relaxed);
    tally
}

/// utime + stime of a process in clock ticks, and (user, system) separately.
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command come state (field 3); utime and stime are fields 14 and 15.
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let template = match opts.proto {
        Proto::Dns => Template::dns(&opts.zone),
        _ => Template::handle(&opts.prefix),
    };
    let start = Instant::now() + Duration::from_secs_f64(opts.warmup) + Duration::from_millis(50);
    let window = Window {
        start,
        end: start + Duration::from_secs_f64(opts.seconds),
    };
    let per_conn_rate = opts.rate / opts.conns as f64;
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
    let workers: Vec<_> = (0..opts.conns)
        .map(|i| {
            let opts = opts.clone();
            let template = template.clone();
            let seed = seed ^ ((i as u64 + 1) << 40) ^ (i as u64).wrapping_mul(0x9E37_79B9);
            thread::spawn(move || {
                if per_conn_rate > 0.0 {
                    open_loop(&opts, &template, window, per_conn_rate, seed)
                } else {
                    closed_loop(&opts, &template, window, seed)
                }
            })
        })
        .collect();
    // Sample the server's CPU at the edges of the window.
    thread::sleep(window.start.saturating_duration_since(Instant::now()));
    let cpu_before = opts.server_pid.and_then(cpu_ticks);
    thread::sleep(window.end.saturating_duration_since(Instant::now()));
    let cpu_after = opts.server_pid.and_then(cpu_ticks);
    let mut total = Tally::default();
    for worker in workers {
        match worker.join() {
            Ok(t) => {
                total.sent += t.sent;
                total.answered += t.answered;
                total.errors += t.errors;
                total.outside += t.outside;
                total.io_errors += t.io_errors;
                total.latencies.extend(t.latencies);
            }
            Err(_) => total.io_errors += 1,
        }
    }
    total.latencies.sort_unstable();
    let lost = total.sent.saturating_sub(total.answered);
    let rate = total.answered as f64 / opts.seconds;
    let loss_pct = if total.sent == 0 {
        0.0
    } else {
        100.0 * lost as f64 / total.sent as f64
    };
    let proto = match opts.proto {
        Proto::Udp => "udp",
        Proto::Tcp => "tcp",
        Proto::Dns => "dns",
    };
    let mode = if opts.rate > 0.0 { "open" } else { "closed" };
    println!(
        "{proto} {mode} loop against {}: {} conns, depth {}, {} keys, {:.1} s measured",
        opts.server, opts.conns, opts.depth, opts.keys, opts.seconds
    );
    println!(
        "sent {} answered {} lost {} ({loss_pct:.3} %) errors {} io_errors {}",
        total.sent, total.answered, lost, total.errors, total.io_errors
    );
    let (p50, p99, p999) = (
        percentile(&total.latencies, 50.0),
        percentile(&total.latencies, 99.0),
        percentile(&total.latencies, 99.9),
    );
    println!("rate {rate:.0}/s, latency p50 {p50} µs, p99 {p99} µs, p99.9 {p999} µs");
    let mut result = format!(
        "RESULT proto={proto} mode={mode} sent={} answered={} lost={lost} loss_pct={loss_pct:.4} \
         errors={} io_errors={} rate={rate:.1} p50_us={p50} p99_us={p99} p999_us={p999}",
        total.sent, total.answered, total.errors, total.io_errors
    );
    if let (Some((u0, s0)), Some((u1, s1))) = (cpu_before, cpu_after) {
        let hz = clock_ticks_per_second();
        let per = |ticks: u64| {
            if total.answered == 0 {
                0.0
            } else {
                ticks as f64 * 1e6 / hz / total.answered as f64
            }
        };
        let (user, sys) = (u1.saturating_sub(u0), s1.saturating_sub(s0));
        println!(
            "server CPU {:.2} µs per answer ({:.2} user + {:.2} system)",
            per(user + sys),
            per(user),
            per(sys)
        );
        result.push_str(&format!(
            " server_cpu_ticks={} server_cpu_us_per_req={:.3} server_user_us_per_req={:.3} \
             server_sys_us_per_req={:.3}",
            user + sys,
            per(user + sys),
            per(user),
            per(sys)
        ));
    }
    println!("{result}");
    if total.answered == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_template_patches_key_and_id() {
        let t = Template::handle("88.118.8");
        let mut out = Vec::new();
        t.request(Proto::Udp, 42, 7, &mut out);
        let decoded = idnode_proto::wire::decode(&out).expect("a valid request");
        assert_eq!(decoded.message.envelope.request_id, 7);
        match decoded.message.body {
            Body::Resolution(r) => assert_eq!(r.handle, "88.118.8/BENCH-000042"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn dns_template_patches_key_and_id() {
        let t = Template::dns("bench.test");
        let mut out = Vec::new();
        t.request(Proto::Dns, 99_999, 0x1_0203, &mut out);
        assert_eq!(&out[0..2], &[0x02, 0x03]);
        assert_eq!(&out[13..25], b"bench-099999");
        assert_eq!(&out[out.len() - 4..], &[0, 16, 0, 1]);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[], 99.0), 0);
    }
}
