//! Prometheus metrics: request counts and latency histograms per interface and operation,
//! recorded through the `metrics` facade and rendered at `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process.
pub(crate) fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 0.5, 1.0,
            ])
            .map(PrometheusBuilder::build_recorder);
        match recorder {
            Ok(recorder) => {
                let handle = recorder.handle();
                if metrics::set_global_recorder(recorder).is_err() {
                    tracing::warn!("a metrics recorder was already installed");
                }
                handle
            }
            // The bucket list above is not empty, so building cannot fail; fall back to a
            // recorder with default buckets all the same.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    });
}

/// Records one request.
pub(crate) fn record(interface: &'static str, op: &'static str, status: u16, elapsed: Duration) {
    metrics::counter!("idnode_requests_total", "interface" => interface, "op" => op, "status" => status_class(status))
        .increment(1);
    metrics::histogram!("idnode_request_duration_seconds", "interface" => interface, "op" => op)
        .record(elapsed.as_secs_f64());
}

/// Records one resolution answered from the cache, with handles registered once.
pub(crate) fn record_cached_resolution(elapsed: Duration) {
    static HANDLES: OnceLock<(metrics::Counter, metrics::Histogram)> = OnceLock::new();
    let (counter, histogram) = HANDLES.get_or_init(|| {
        (
            metrics::counter!("idnode_requests_total", "interface" => "rest", "op" => "resolve", "status" => "2xx"),
            metrics::histogram!("idnode_request_duration_seconds", "interface" => "rest", "op" => "resolve"),
        )
    });
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
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
pub(crate) fn render() -> Response<Full<Bytes>> {
    let text = HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
