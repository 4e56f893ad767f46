//! Prometheus metrics: request counts and latency histograms per interface and operation,
//! rendered at `/metrics`.
//!
//! Counters go through the `metrics` facade and its Prometheus recorder. The latency histogram
//! `idnode_request_duration_seconds` is kept here instead, in atomics: the recorder's histograms
//! store every sample until the next scrape (memory that grows without bound when nobody
//! scrapes, and an allocation and an epoch pin per sample), while these are a fixed set of
//! counters per series, exact and cheap enough for the cached resolution path. Answers from the
//! resolution cache are also counted here and handed to the recorder's counter when metrics are
//! rendered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The name of the latency histogram.
const DURATION: &str = "idnode_request_duration_seconds";

/// The upper bounds of the latency buckets, in seconds as they are rendered, and in nanoseconds
/// as they are compared.
const BUCKETS: [(&str, u64); 14] = [
    ("0.00005", 50_000),
    ("0.0001", 100_000),
    ("0.00025", 250_000),
    ("0.0005", 500_000),
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
];

/// A part of the process's memory: its name, its configured bound, and how much it holds now
/// (`None` when only the bound is known).
struct MemoryPart {
    component: &'static str,
    limit: usize,
    held: Option<Box<dyn Fn() -> usize + Send + Sync>>,
}

/// The parts of one node's memory that `/metrics` reports (each node of a process has its own).
#[derive(Default)]
pub(crate) struct MemoryParts(Mutex<Vec<MemoryPart>>);

impl MemoryParts {
    /// Reports a part of the node's memory in `/metrics`: `idnode_memory_limit_bytes{component}`
    /// (its configured bound) and, when `held` is given, `idnode_memory_bytes{component}`. A
    /// component registered again replaces the earlier one.
    pub(crate) fn track(
        &self,
        component: &'static str,
        limit: usize,
        held: Option<Box<dyn Fn() -> usize + Send + Sync>>,
    ) {
        let mut parts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        parts.retain(|part| part.component != component);
        parts.push(MemoryPart {
            component,
            limit,
            held,
        });
    }
}

/// The resident set of this process and its file-backed part (pages of memory-mapped files
/// such as the search index, which the kernel drops first under pressure), from
/// `/proc/self/status` (Linux; 0 elsewhere).
fn resident_bytes() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("RssFile:"))
}

/// `idnode_memory_bytes` and `idnode_memory_limit_bytes` by component: `rss` (the whole
/// resident set), `mapped_files` (its file-backed part: the memory-mapped search index and the
/// binary), each component that measures what it holds, and the rest (allocator slack, stacks,
/// buffers of connections and requests, the store's page cache and the index writer, which
/// report bounds only) as `other`.
fn render_memory(text: &mut String, memory: &MemoryParts) {
    let parts = memory.0.lock().unwrap_or_else(PoisonError::into_inner);
    let (resident, file_backed) = resident_bytes();
    let _ = writeln!(
        text,
        "# HELP idnode_memory_bytes Memory held, by component; rss is the whole process."
    );
    let _ = writeln!(text, "# TYPE idnode_memory_bytes gauge");
    let _ = writeln!(text, "idnode_memory_bytes{{component=\"rss\"}} {resident}");
    let _ = writeln!(
        text,
        "idnode_memory_bytes{{component=\"mapped_files\"}} {file_backed}"
    );
    let mut measured = file_backed;
    for part in parts.iter() {
        if let Some(held) = &part.held {
            let bytes = held();
            measured += bytes;
            let _ = writeln!(
                text,
                "idnode_memory_bytes{{component=\"{}\"}} {bytes}",
                part.component
            );
        }
    }
    let _ = writeln!(
        text,
        "idnode_memory_bytes{{component=\"other\"}} {}",
        resident.saturating_sub(measured)
    );
    let _ = writeln!(
        text,
        "# HELP idnode_memory_limit_bytes The configured bound of a component's memory."
    );
    let _ = writeln!(text, "# TYPE idnode_memory_limit_bytes gauge");
    for part in parts.iter() {
        let _ = writeln!(
            text,
            "idnode_memory_limit_bytes{{component=\"{}\"}} {}",
            part.component, part.limit
        );
    }
}

/// Installs the Prometheus recorder once per process.
pub(crate) fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        handle
    });
}

/// Resolutions per interface and failed requests since start, for the operation reports
/// (`crate::federation::report`): plain atomic counters, cheap enough for every fast path.
pub(crate) mod tally {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Native protocol resolutions (UDP, TCP, the HTTP tunnel).
    pub(crate) static NATIVE: AtomicU64 = AtomicU64::new(0);
    /// handle.net REST resolutions, cached ones included.
    pub(crate) static REST: AtomicU64 = AtomicU64::new(0);
    /// SNMS API requests.
    pub(crate) static SNMS: AtomicU64 = AtomicU64::new(0);
    /// Requests answered with a 4xx status.
    pub(crate) static CLIENT_ERRORS: AtomicU64 = AtomicU64::new(0);
    /// Requests answered with a 5xx status.
    pub(crate) static SERVER_ERRORS: AtomicU64 = AtomicU64::new(0);

    /// Adds one to `counter`.
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now: native, REST, SNMS, client errors, server errors.
    pub(crate) fn snapshot() -> [u64; 5] {
        [&NATIVE, &REST, &SNMS, &CLIENT_ERRORS, &SERVER_ERRORS].map(|c| c.load(Ordering::Relaxed))
    }
}

/// Records one request.
pub(crate) fn record(interface: &'static str, op: &'static str, status: u16, elapsed: Duration) {
    match (interface, op) {
        ("rest", "resolve") => tally::count(&tally::REST),
        ("snms", _) => tally::count(&tally::SNMS),
        _ => {}
    }
    match status {
        400..=499 => tally::count(&tally::CLIENT_ERRORS),
        500.. => tally::count(&tally::SERVER_ERRORS),
        _ => {}
    }
    metrics::counter!("idnode_requests_total", "interface" => interface, "op" => op, "status" => status_class(status))
        .increment(1);
    latency(interface, op).record(elapsed);
}

/// Answers from the resolution cache not yet added to the recorder's counter.
static CACHED_RESOLUTIONS: AtomicU64 = AtomicU64::new(0);

/// Records one resolution answered from the cache: as [`record`] with the REST interface, the
/// resolve operation and a 2xx status, in a few atomic additions.
pub(crate) fn record_cached_resolution(elapsed: Duration) {
    static LATENCY: OnceLock<Arc<Latency>> = OnceLock::new();
    CACHED_RESOLUTIONS.fetch_add(1, Ordering::Relaxed);
    tally::count(&tally::REST);
    LATENCY
        .get_or_init(|| latency("rest", "resolve"))
        .record(elapsed);
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The `/metrics` answer.
pub(crate) fn render(memory: &MemoryParts) -> Response<Full<Bytes>> {
    let cached = CACHED_RESOLUTIONS.swap(0, Ordering::Relaxed);
    if cached > 0 {
        metrics::counter!("idnode_requests_total", "interface" => "rest", "op" => "resolve", "status" => "2xx")
            .increment(cached);
    }
    let mut text = HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    render_latencies(&mut text);
    render_memory(&mut text, memory);
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// One latency histogram: the samples in each bucket (not cumulative; the last one above every
/// bound) and their sum.
#[derive(Default)]
struct Latency {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Latency {
    fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS
            .iter()
            .position(|&(_, bound)| nanos <= bound)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// A histogram's labels and counts.
struct Series {
    interface: &'static str,
    op: &'static str,
    latency: Arc<Latency>,
}

/// Every histogram recorded so far, in the order of first use.
static SERIES: Mutex<Vec<Series>> = Mutex::new(Vec::new());

/// The histogram of an interface and operation, made on first use.
fn latency(interface: &'static str, op: &'static str) -> Arc<Latency> {
    let mut series = SERIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = series
        .iter()
        .find(|s| s.interface == interface && s.op == op)
    {
        return Arc::clone(&found.latency);
    }
    let latency = Arc::new(Latency::default());
    series.push(Series {
        interface,
        op,
        latency: Arc::clone(&latency),
    });
    latency
}

/// Appends the latency histograms to `out` in the Prometheus text format, as the recorder
/// renders its own histograms.
fn render_latencies(out: &mut String) {
    let series = SERIES.lock().unwrap_or_else(PoisonError::into_inner);
    if series.is_empty() {
        return;
    }
    let _ = writeln!(out, "# TYPE {DURATION} histogram");
    for Series {
        interface,
        op,
        latency,
    } in series.iter()
    {
        // The labels are static names of interfaces and operations: nothing to escape.
        let labels = format!("interface=\"{interface}\",op=\"{op}\"");
        let mut count = 0u64;
        for (i, (le, _)) in BUCKETS.iter().enumerate() {
            count += latency.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{DURATION}_bucket{{{labels},le=\"{le}\"}} {count}");
        }
        count += latency.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{DURATION}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = latency.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{DURATION}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{DURATION}_count{{{labels}}} {count}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_match_their_rendering() {
        for (le, nanos) in BUCKETS {
            assert_eq!(le.parse::<f64>().unwrap(), nanos as f64 / 1e9, "{le}");
        }
        assert!(BUCKETS.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[test]
    fn histograms_are_cumulative_and_exact() {
        let latency = latency("test", "histogram");
        for micros in [10, 50, 51, 700, 2_000_000] {
            latency.record(Duration::from_micros(micros));
        }
        let mut text = String::new();
        render_latencies(&mut text);
        let value = |line: &str| -> f64 {
            let found = text
                .lines()
                .find(|l| l.starts_with(line))
                .unwrap_or_else(|| panic!("no {line} in {text}"));
            found.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let series = "interface=\"test\",op=\"histogram\"";
        assert!(text.contains("# TYPE idnode_request_duration_seconds histogram\n"));
        let bucket = |le: &str| value(&format!("{DURATION}_bucket{{{series},le=\"{le}\"}} "));
        // 50 µs is in the first bucket: bounds are inclusive.
        assert_eq!(bucket("0.00005"), 2.0);
        assert_eq!(bucket("0.0001"), 3.0);
        assert_eq!(bucket("0.001"), 4.0);
        assert_eq!(bucket("1"), 4.0);
        assert_eq!(bucket("+Inf"), 5.0);
        assert_eq!(value(&format!("{DURATION}_count{{{series}}} ")), 5.0);
        let sum = value(&format!("{DURATION}_sum{{{series}}} "));
        assert!((sum - 2.000811).abs() < 1e-9, "{sum}");
        assert!(text.ends_with("\n\n"));
    }
}
