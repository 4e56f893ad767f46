//! Signed traceability records over HTTP: EPCIS 2.0 capture and query, the C2SP tlog-tiles log
//! with its checkpoints, proofs and witnessing, and the keys behind them.
//!
//! | path | what |
//! |---|---|
//! | `POST /epcis/capture` | capture an EPCIS 2.0 document (or one event); all or nothing; one signed record per event |
//! | `GET /epcis/events` | EPCIS simple-event query over the captured events |
//! | `GET /api/trace/{handle}` | a subject's records in log order, each with a tlog-proof |
//! | `GET /api/keys` | the record key as a JWK set |
//! | `GET /log/checkpoint`, `/log/tile/…`, `/log/tile/entries/…` | the C2SP tlog-tiles log (entries are record digests) |
//! | `GET /log/proof?digest=`, `/log/consistency?old=&new=`, `/log/vkey`, `/log/policy` | proofs, the log's verifier key, a ready `idnode verify` policy |
//! | `POST /witness/add-checkpoint`, `GET /witness/vkey` | the c2sp.org/tlog-witness endpoint of this node as a witness |
//!
//! Keys live in the data directory (`keys/trace-record.pem`, `keys/trace-log.pem`,
//! `keys/trace-witness.pem`, mode 0600), made on first start. The checkpoint task
//! ([`run_checkpointer`]) signs a checkpoint at most once per interval while entries arrive and
//! asks the configured witnesses to cosign it.

mod capture;
mod client;
mod log;
mod query;
mod witness;

use crate::http::auth::Presented;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use idnode_registry::{TraceHashes, TraceRead};
use idnode_trace::merkle::cache::{CachedReader, HashCache};
use idnode_trace::note::{self, Cosigner, Signer, Verifier};
use idnode_trace::record::RecordSigner;
use tokio::sync::Notify;

use idnode_resolver::{Failure, Identity};

use crate::config::TraceConfig;
use crate::http::{Answer, Auth, Conn, Http, HttpRequest, HttpResponse, Service, Vouch, Vouched};

pub(crate) use log::{latest_size, sign_checkpoint};
pub(crate) use witness::Collector;

/// The trace part of the node's state.
pub(crate) struct TraceState {
    /// The log origin.
    pub(crate) origin: String,
    /// Signs checkpoints.
    pub(crate) log_signer: Signer,
    /// Signs records.
    pub(crate) record_signer: RecordSigner,
    /// The record key's name.
    pub(crate) record_name: String,
    /// The record key's public half.
    pub(crate) record_public: ed25519_dalek::VerifyingKey,
    /// Cosigns other logs' checkpoints.
    pub(crate) cosigner: Cosigner,
    /// The logs this node witnesses.
    pub(crate) peers: Vec<Verifier>,
    /// The witnesses asked to cosign, with their verifiers.
    pub(crate) witnesses: Vec<(Verifier, crate::config::WitnessPeer)>,
    /// The configuration.
    pub(crate) config: TraceConfig,
    /// Woken when records are appended, so the checkpoint task signs promptly.
    pub(crate) appended: Notify,
    /// Serialises witness requests, so two cosignatures never race on the stored state.
    pub(crate) witness_lock: tokio::sync::Mutex<()>,
    /// Stored hashes read for proofs, tiles and checkpoints.
    pub(crate) hash_cache: HashCache,
}

impl TraceState {
    /// Loads or creates the keys in `<data>/keys/` and checks the configuration.
    pub(crate) fn open(data: &Path, config: &TraceConfig) -> anyhow::Result<Self> {
        let keys = data.join("keys");
        let log_key = load_or_create_key(&keys.join("trace-log.pem"))?;
        let record_key = load_or_create_key(&keys.join("trace-record.pem"))?;
        let witness_key = load_or_create_key(&keys.join("trace-witness.pem"))?;
        let origin = match &config.origin {
            Some(origin) => origin.clone(),
            None => {
                let id = note::key_id(
                    "idnode.invalid/log",
                    note::ALG_ED25519,
                    log_key.verifying_key().as_bytes(),
                );
                format!("idnode.invalid/log-{}", note::format_key_id(id))
            }
        };
        let log_signer = Signer::new(&origin, log_key)
            .map_err(|e| anyhow::anyhow!("invalid trace origin {origin:?}: {e}"))?;
        let record_name = config
            .record_key_name
            .clone()
            .unwrap_or_else(|| format!("{origin}/records"));
        let record_public = record_key.verifying_key();
        let record_signer = RecordSigner::new(&record_name, record_key)
            .map_err(|e| anyhow::anyhow!("invalid record key name {record_name:?}: {e}"))?;
        let witness_name = config
            .witness_name
            .clone()
            .unwrap_or_else(|| format!("{origin}/witness"));
        let cosigner = Cosigner::new(&witness_name, witness_key)
            .map_err(|e| anyhow::anyhow!("invalid witness name {witness_name:?}: {e}"))?;
        let peers = config
            .peers
            .iter()
            .map(|peer| {
                let verifier = Verifier::parse_vkey(&peer.vkey)
                    .map_err(|e| anyhow::anyhow!("invalid peer vkey {:?}: {e}", peer.vkey))?;
                if verifier.kind() != note::VerifierKind::Ed25519 {
                    anyhow::bail!("peer vkey {:?} is not an Ed25519 log key", peer.vkey);
                }
                Ok(verifier)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let witnesses = config
            .witnesses
            .iter()
            .map(|witness| {
                let verifier = Verifier::parse_vkey(&witness.vkey)
                    .map_err(|e| anyhow::anyhow!("invalid witness vkey {:?}: {e}", witness.vkey))?;
                if verifier.kind() != note::VerifierKind::CosignatureV1 {
                    anyhow::bail!(
                        "witness vkey {:?} is not a cosignature/v1 key",
                        witness.vkey
                    );
                }
                Ok((verifier, witness.clone()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            origin,
            log_signer,
            record_signer,
            record_name,
            record_public,
            cosigner,
            peers,
            witnesses,
            config: config.clone(),
            appended: Notify::new(),
            witness_lock: tokio::sync::Mutex::new(()),
            hash_cache: HashCache::new(config.hash_cache_entries),
        })
    }

    /// Reads the log's stored hashes from `store` through the cache.
    pub(crate) fn hashes<'a, S: TraceRead>(
        &'a self,
        store: &'a S,
    ) -> CachedReader<'a, TraceHashes<'a, S>> {
        self.hash_cache.reader(TraceHashes(store))
    }

    /// The log's verifier key.
    pub(crate) fn log_vkey(&self) -> String {
        self.log_signer.verifier().to_vkey()
    }

    /// This node's witness verifier key.
    pub(crate) fn witness_vkey(&self) -> String {
        self.cosigner.verifier().to_vkey()
    }

    /// The record key as a C2SP verifier key (type `0x01`), for verification policies.
    pub(crate) fn record_vkey(&self) -> String {
        match Verifier::new(
            &self.record_name,
            note::VerifierKind::Ed25519,
            self.record_public,
        ) {
            Ok(verifier) => verifier.to_vkey(),
            // The name was accepted by the record signer, which applies the same rule.
            Err(_) => String::new(),
        }
    }

    /// A verification policy for `idnode verify` naming this node's keys: the log key, the
    /// configured witnesses with a quorum of all of them (or `none`), and the record key.
    /// Whoever verifies should check these keys through a channel they trust; the policy only
    /// saves writing it by hand.
    pub(crate) fn policy(&self) -> String {
        let mut policy = format!("log {}\n", self.log_vkey());
        let names: Vec<String> = (1..=self.witnesses.len())
            .map(|n| format!("w{n}"))
            .collect();
        for (name, (verifier, _)) in names.iter().zip(&self.witnesses) {
            policy.push_str(&format!("witness {name} {}\n", verifier.to_vkey()));
        }
        match names.as_slice() {
            [] => policy.push_str("quorum none\n"),
            [one] => policy.push_str(&format!("quorum {one}\n")),
            all => {
                policy.push_str(&format!("group witnesses all {}\n", all.join(" ")));
                policy.push_str("quorum witnesses\n");
            }
        }
        policy.push_str(&format!("record {}\n", self.record_vkey()));
        policy
    }
}

/// Reads an Ed25519 key from a PKCS#8 PEM file, or makes one and writes it (mode 0600).
fn load_or_create_key(path: &Path) -> anyhow::Result<SigningKey> {
    use anyhow::Context as _;
    use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
    if path.exists() {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow::anyhow!("invalid key in {}: {e}", path.display()));
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode a trace key: {e}"))?;
    crate::keys::write_private(path, pem.as_bytes())?;
    Ok(key)
}

/// The trace API's own state next to the HTTP layer: the log's signers, witnesses and caches.
pub(crate) struct TraceApi {
    pub(crate) http: Arc<Http>,
    /// Signed traceability records, the log and witnessing.
    pub(crate) trace: TraceState,
}

impl std::ops::Deref for TraceApi {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl TraceApi {
    /// The trace API over the HTTP layer; opens its keys in `<data>/keys/`.
    pub(crate) fn open(http: Arc<Http>) -> anyhow::Result<Arc<Self>> {
        let trace = TraceState::open(&http.config.data, &http.config.trace)?;
        Ok(Arc::new(Self { http, trace }))
    }
}

/// The most an anonymous request may send: enough for a witness request, far below a capture.
const ANONYMOUS_BODY: usize = 64 * 1024;

impl Service for TraceApi {
    fn name(&self) -> &'static str {
        "trace"
    }

    fn owns(&self, parts: &http::request::Parts) -> bool {
        owns(parts.uri.path())
    }

    fn body_limit(&self, parts: &http::request::Parts) -> usize {
        // A capture may be large; its credentials are checked before it is read (`vouch`).
        if parts.method == Method::POST && parts.uri.path() == "/epcis/capture" {
            self.trace.config.max_capture_bytes
        } else {
            ANONYMOUS_BODY
        }
    }

    fn vouch<'a>(&'a self, conn: Conn, parts: &'a mut http::request::Parts) -> Vouch<'a> {
        Box::pin(async move {
            match capture::capturer(self, conn, Presented::of_parts(parts)).await {
                Ok(identity) => {
                    parts.extensions.insert(Vouched(identity));
                    None
                }
                Err(refused) => Some(refused),
            }
        })
    }

    fn body_refused(&self, parts: &http::request::Parts, limit: usize) -> HttpResponse {
        if parts.uri.path() == "/epcis/capture" {
            problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "epcisException:CaptureLimitExceededException",
                &format!("the capture body is larger than {limit} bytes or could not be read"),
                None,
            )
        } else {
            text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n".into())
        }
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move { serve(self, conn, req).await })
    }
}

/// Whether this module answers `path`.
fn owns(path: &str) -> bool {
    path.starts_with("/epcis/")
        || path.starts_with("/log/")
        || path.starts_with("/witness/")
        || path.starts_with("/api/trace/")
        || path == "/api/keys"
}

/// Answers one request for a path that [`owns`] accepts.
async fn serve<B>(state: Arc<TraceApi>, conn: Conn, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = std::time::Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let (name, response) = match (&method, path.as_str()) {
        (&Method::POST, "/epcis/capture") => ("capture", capture::capture(&state, conn, req).await),
        (&Method::GET, "/epcis/events") => (
            "events",
            query::events(&state, conn, Presented::of(&req), req.uri().query()).await,
        ),
        (&Method::GET, "/api/keys") => ("keys", log::jwks(&state)),
        (&Method::GET, "/log/checkpoint") => ("checkpoint", log::checkpoint(&state)),
        (&Method::GET, "/log/vkey") => (
            "vkey",
            text(StatusCode::OK, format!("{}\n", state.trace.log_vkey())),
        ),
        (&Method::GET, "/log/policy") => ("policy", text(StatusCode::OK, state.trace.policy())),
        (&Method::GET, "/log/proof") => (
            "proof",
            log::proof(&state, conn, Presented::of(&req), req.uri().query()).await,
        ),
        (&Method::GET, "/log/consistency") => {
            ("consistency", log::consistency(&state, req.uri().query()))
        }
        (&Method::GET, p) if p.starts_with("/log/tile/") => {
            ("tile", log::tile(&state, &p["/log/".len()..]))
        }
        (&Method::GET, p) if p.starts_with("/api/trace/") => (
            "trace",
            query::subject(
                &state,
                conn,
                Presented::of(&req),
                &p["/api/trace/".len()..],
                req.uri().query(),
            )
            .await,
        ),
        (&Method::POST, "/witness/add-checkpoint") => {
            ("add_checkpoint", witness::add_checkpoint(&state, req).await)
        }
        (&Method::GET, "/witness/vkey") => (
            "witness_vkey",
            text(StatusCode::OK, format!("{}\n", state.trace.witness_vkey())),
        ),
        _ => (
            "unknown",
            problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "epcisException:ImplementationException",
                &format!("no {method} {path}"),
                None,
            ),
        ),
    };
    crate::metrics::record("trace", name, response.status().as_u16(), started.elapsed());
    response
}

/// Who reads trace records, and which subjects they may read (see
/// `Resolver::may_read_trace`): one decision per subject and request.
pub(crate) struct Reader<'a> {
    state: &'a TraceApi,
    identity: Identity,
    known: std::collections::HashMap<String, bool>,
}

impl<'a> Reader<'a> {
    /// A reader for a verified identity.
    pub(crate) fn new(state: &'a TraceApi, identity: Identity) -> Self {
        Self {
            state,
            identity,
            known: std::collections::HashMap::new(),
        }
    }

    /// Whether the identity may read the records whose subject is `subject`.
    pub(crate) fn may_read(&mut self, subject: &str) -> Result<bool, Failure> {
        if let Some(known) = self.known.get(subject) {
            return Ok(*known);
        }
        let allowed = self
            .state
            .resolver
            .may_read_trace(&self.identity, subject)?;
        self.known.insert(subject.to_owned(), allowed);
        Ok(allowed)
    }

    /// Appends an `auditor_read` entry to the audit log when the reader is a configured
    /// auditor, as the resolver does for an auditor's resolutions.
    pub(crate) async fn audit(&self, target: &str, detail: &str) -> Result<(), Failure> {
        self.state
            .resolver
            .audit_read(&self.identity, target, detail, crate::core::unix_now())
            .await
    }
}

/// The identity behind a read request's credentials: `Ok(None)` without credentials, a 401
/// response when they do not verify.
pub(crate) async fn reader_identity(
    state: &Arc<TraceApi>,
    conn: Conn,
    presented: Presented<'_>,
) -> Result<Option<Identity>, Response<Full<Bytes>>> {
    match crate::http::auth::authenticate(&state.http, conn, presented).await {
        Auth::Verified(identity) => Ok(Some(identity)),
        Auth::Anonymous => Ok(None),
        Auth::Rejected => Err(unauthorized("the credentials did not verify")),
    }
}

/// A 401 problem with a Basic challenge.
pub(crate) fn unauthorized(detail: &str) -> Response<Full<Bytes>> {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "epcisException:SecurityException",
        detail,
        None,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"handle\""),
    );
    response
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, Bytes::from(body), "text/plain; charset=utf-8")
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    with_type(status, Bytes::from(body.to_string()), "application/json")
}

/// A response with a body and a content type.
pub(crate) fn with_type(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An RFC 7807 `application/problem+json` response. `extra` members are merged in.
pub(crate) fn problem(
    status: StatusCode,
    kind: &str,
    detail: &str,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
) -> Response<Full<Bytes>> {
    let mut body = serde_json::json!({
        "type": kind,
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(extra), Some(object)) = (extra, body.as_object_mut()) {
        object.extend(extra);
    }
    with_type(
        status,
        Bytes::from(body.to_string()),
        "application/problem+json",
    )
}
