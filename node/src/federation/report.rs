//! Operation reports (运行监测): a secondary periodically sends its top-level node a report of
//! its work, signed with the identity of its delegation. The format is specified in
//! `docs/federation.md` ("Monitoring reports"); in short:
//!
//! ```json
//! {"report": {"format": "idnode-report", "version": 1, "prefix": "88.118",
//!             "identity": "300:0.NA/88.118", "software": "idnode 0.1.0",
//!             "window": {"from": 1796690000, "to": 1796693600},
//!             "prefixes": {"88.118.8": {"registrations": 3, "updates": 1, "deletions": 0}},
//!             "resolutions": {"native": 120, "rest": 40, "snms": 2},
//!             "errors": {"client": 1, "server": 0},
//!             "availability": {"startedAt": 1796680000, "uptimeSeconds": 13600}},
//!  "signature": {"identity": "300:0.NA/88.118", "authType": "HS_PUBKEY", "response": "…"}}
//! ```
//!
//! The signature is a challenge answer (the same bytes as OC 200's `challengeResponse`) over
//! `idnode-report-v1\n ‖ SHA-256(JCS(report))`, so the top-level node checks it with the same
//! code and keys as any challenge answer of that identity.
//!
//! The report goes by `POST /api/federation/reports` to the HTTP interface that the top-level
//! node's site information (OC 2 at its native address) lists. A top-level node that lists
//! none, or answers 404 or 405, takes no reports: the node says so once in its log and goes on
//! working. Write counts come from the audit log, which is durable; resolution and error
//! counts are kept in memory since start. A report that cannot be sent is not lost: the next
//! one covers the longer window.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use idnode_client::auth::{Signer, send_as};
use idnode_proto::wire::{Body, Envelope, Header, Message, OpCode, Version};
use idnode_proto::{Protocol, ResponseCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use crate::core::Core;

/// What a report signature covers, before the digest of the report.
pub const SIGNED_PREFIX: &[u8] = b"idnode-report-v1\n";

/// The path reports are posted to.
pub const PATH: &str = "/api/federation/reports";

/// What the signature signs: [`SIGNED_PREFIX`] and the SHA-256 of the report's JCS form.
pub fn signed_digest(report: &Value) -> Result<[u8; 32], String> {
    let canonical = idnode_trace::jcs::canonicalize(report).map_err(|e| e.to_string())?;
    Ok(Sha256::digest(&canonical).into())
}

/// A report and its signature, ready to post.
pub fn signed(report: Value, signer: &dyn Signer) -> Result<Value, String> {
    let digest = signed_digest(&report)?;
    let m = [SIGNED_PREFIX, digest.as_slice()].concat();
    let (auth_type, response) = signer.answer(&m)?;
    Ok(json!({
        "report": report,
        "signature": {
            "identity": signer.identity().to_string(),
            "authType": auth_type,
            "response": base64::engine::general_purpose::STANDARD.encode(response),
        },
    }))
}

/// The report task's state.
pub struct Reporter {
    core: Arc<Core>,
    top_level: Vec<SocketAddr>,
    signer: Arc<dyn Signer>,
    prefix: String,
    started: u32,
}

impl Reporter {
    /// The reporter of a node that docks (`Docking` made the identity and prefix).
    pub fn new(
        core: Arc<Core>,
        top_level: Vec<SocketAddr>,
        signer: Arc<dyn Signer>,
        prefix: String,
    ) -> Self {
        let started = core.now();
        Self {
            core,
            top_level,
            signer,
            prefix,
            started,
        }
    }

    /// The report over `[from, to)`, with the counters' differences `since` a snapshot.
    fn report(&self, from: u32, to: u32, counts: [u64; 5]) -> Result<Value, String> {
        let writes = self
            .core
            .resolver
            .write_counts(from, to)
            .map_err(|f| f.message)?;
        let mut prefixes = serde_json::Map::new();
        for (prefix, c) in writes {
            let ours = prefix.eq_ignore_ascii_case(&self.prefix)
                || (prefix.len() > self.prefix.len()
                    && prefix[..self.prefix.len()].eq_ignore_ascii_case(&self.prefix)
                    && prefix.as_bytes()[self.prefix.len()] == b'.');
            if ours {
                prefixes.insert(
                    prefix,
                    json!({"registrations": c.registrations, "updates": c.updates,
                           "deletions": c.deletions}),
                );
            }
        }
        let [native, rest, snms, client, server] = counts;
        Ok(json!({
            "format": "idnode-report",
            "version": 1,
            "prefix": self.prefix,
            "identity": self.signer.identity().to_string(),
            "software": concat!("idnode ", env!("CARGO_PKG_VERSION")),
            "window": {"from": from, "to": to},
            "prefixes": prefixes,
            "resolutions": {"native": native, "rest": rest, "snms": snms},
            "errors": {"client": client, "server": server},
            "availability": {
                "startedAt": self.started,
                "uptimeSeconds": to.saturating_sub(self.started),
            },
        }))
    }

    /// Runs until shutdown: a report every `report_interval` seconds.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_secs(self.core.config.federation.report_interval.max(1));
        let mut from = self.started;
        let mut base = crate::metrics::tally::snapshot();
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let to = self.core.now();
            let now = crate::metrics::tally::snapshot();
            let delta = std::array::from_fn(|i| now[i].saturating_sub(base[i]));
            match self.send(from, to, delta).await {
                Ok(()) => {
                    metrics::counter!("idnode_reports_sent_total").increment(1);
                    from = to;
                    base = now;
                }
                Err(Unsupported(reason)) => {
                    tracing::info!(%reason, "the top-level node takes no operation reports; not sending any");
                    return;
                }
                Err(Failed(reason)) => {
                    metrics::counter!("idnode_reports_failed_total").increment(1);
                    tracing::warn!(%reason, "sending the operation report failed; the next one covers this window too");
                }
            }
        }
    }

    async fn send(&self, from: u32, to: u32, counts: [u64; 5]) -> Result<(), SendError> {
        let report = self.report(from, to, counts).map_err(Failed)?;
        let body = signed(report, self.signer.as_ref()).map_err(Failed)?;
        let Some(target) = self.http_interface().await? else {
            return Err(Unsupported(
                "its site information lists no HTTP interface".to_owned(),
            ));
        };
        let status = post(target, body.to_string()).await.map_err(Failed)?;
        match status {
            200..=299 => Ok(()),
            404 | 405 => Err(Unsupported(format!("{PATH} answered {status}"))),
            other => Err(Failed(format!("{PATH} at {target} answered {other}"))),
        }
    }

    /// The HTTP interface of the top-level node's site (OC 2 at its native address).
    async fn http_interface(&self) -> Result<Option<SocketAddr>, SendError> {
        let mut last = String::new();
        for addr in &self.top_level {
            let mut header = Header::request(OpCode::GetSiteInfo);
            header.expiration = self.core.now().saturating_add(600);
            let envelope = Envelope {
                version: Version::V2_11,
                suggested: Version::V2_11,
                request_id: rand::random::<u32>() >> 1,
                ..Envelope::default()
            };
            let request = Message::new(
                envelope,
                header,
                Body::GetSiteInfo {
                    handle: "/".to_owned(),
                },
            );
            match send_as(
                *addr,
                &request,
                self.signer.as_ref(),
                Duration::from_secs(10),
            )
            .await
            {
                Ok(answer) => {
                    if let (ResponseCode::Success, Body::SiteInfo(site)) =
                        (answer.header.response_code, answer.body)
                    {
                        return Ok(site.servers.iter().find_map(|server| {
                            server
                                .interfaces
                                .iter()
                                .find(|i| i.protocol == Protocol::Http)
                                .and_then(|i| u16::try_from(i.port).ok())
                                .map(|port| SocketAddr::new(server.ip(), port))
                        }));
                    }
                    last = "no site information".to_owned();
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Failed(format!(
            "cannot read the top-level node's site: {last}"
        )))
    }
}

/// Why a report was not sent.
enum SendError {
    /// The top-level node takes no reports.
    Unsupported(String),
    /// Try again with the next report.
    Failed(String),
}
use SendError::{Failed, Unsupported};

/// Posts `body` to [`PATH`] at `target` over HTTP/1.1; the answer's status.
async fn post(target: SocketAddr, body: String) -> Result<u16, String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::post(PATH)
            .header(http::header::HOST, target.to_string())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // Read (and drop) the answer, at most a little of it.
        let _ = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect()).await;
        Ok::<u16, String>(status)
    };
    tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .map_err(|_| format!("{target}: no answer in time"))?
}
