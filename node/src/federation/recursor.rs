//! Recursive resolution (handle-protocol.md §8.1 and §8.2 step 5): the resolver's
//! [`Upstream`], running the client algorithm of `idnode-client` from the top-level node,
//! with answers cached per TTL.
//!
//! * Answers are cached for the shortest TTL of their values, at most two days; "not found"
//!   answers (RC 100, RC 200, an unregistered prefix) for `[federation] negative_ttl`.
//!   Certified and plain answers are cached apart, as the reference client does.
//! * Upstream queries always set PO: this node cannot authenticate as its client, so it asks
//!   only for what anyone may read.
//! * Failures to reach or understand the responsible service are `Fault::Upstream`, retryable
//!   or not, never internal errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use idnode_client::cache::TtlCache;
use idnode_client::locate::{address_site, answer_ttl, error_text};
use idnode_client::{Error, Limits, Locator, Network, Query, Timeouts};
use idnode_proto::wire::{Body, OpFlags};
use idnode_proto::{Record, ResponseCode};
use idnode_resolver::{Failure, Fault, Upstream, UpstreamFuture, UpstreamQuery};

/// What a cached answer is.
#[derive(Debug, Clone)]
enum Cached {
    /// The encoded values.
    Values(Arc<Vec<u8>>),
    /// RC 100 or RC 200, with the message.
    Missing(ResponseCode, Arc<str>),
}

/// The cache key: the handle (ASCII upper-cased), the filter and whether certified.
type Key = (Vec<u8>, Vec<u32>, Vec<String>, bool);

/// Resolves handles at the service responsible for them, starting from the top-level node.
#[derive(Debug)]
pub struct Recursor {
    locator: Locator<Network>,
    answers: Option<TtlCache<Key, Cached>>,
    negative_ttl: Duration,
}

impl Recursor {
    /// A recursor starting from the top-level node's native addresses; `cache_entries` 0
    /// caches nothing.
    pub fn new(
        top_level: &[std::net::SocketAddr],
        cache_entries: usize,
        negative_ttl: Duration,
    ) -> Self {
        let roots = top_level.iter().copied().map(address_site).collect();
        let limits = Limits {
            cached_prefixes: cache_entries,
            ..Limits::default()
        };
        Self {
            locator: Locator::new(roots, Network::new(Timeouts::default()), limits),
            answers: (cache_entries > 0).then(|| TtlCache::new(cache_entries)),
            negative_ttl,
        }
    }

    /// The recursor that `[federation]` asks for, or `None` when the node does not recurse.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Self>> {
        let federation = &config.federation;
        if !federation.recurses() {
            return Ok(None);
        }
        let top_level = federation.top_level_addrs()?;
        anyhow::ensure!(
            !top_level.is_empty(),
            "[federation] recursion needs top_level: the native addresses of the top-level node"
        );
        Ok(Some(Self::new(
            &top_level,
            federation.cache_entries,
            Duration::from_secs(federation.negative_ttl),
        )))
    }

    async fn lookup(&self, query: UpstreamQuery<'_>) -> Result<Vec<u8>, Failure> {
        let key: Key = (
            query.handle.key(),
            query.filter.indexes.clone(),
            query.filter.types.clone(),
            query.certified,
        );
        let now = Instant::now();
        if let Some(hit) = self.answers.as_ref().and_then(|c| c.get(&key, now)) {
            metrics::counter!("idnode_recursion_total", "result" => "cached").increment(1);
            return match hit {
                Cached::Values(values) => Ok(values.as_ref().clone()),
                Cached::Missing(rc, message) => Err(Failure::new(rc, message.as_ref())),
            };
        }
        let mut flags = OpFlags::PO;
        if query.certified {
            flags = flags.with(OpFlags::CT);
        }
        let request = Query {
            handle: query.handle.as_str().to_owned(),
            indexes: query.filter.indexes.clone(),
            types: query.filter.types.clone(),
            flags,
            recursion_count: query.recursion_count,
        };
        let remember = |value: Cached, ttl: Duration| {
            if let Some(cache) = &self.answers {
                cache.insert(key.clone(), value, Instant::now(), ttl);
            }
        };
        let result = match self.locator.resolve(&request).await {
            Ok(answer) => {
                let message = answer.message;
                match (message.header.response_code, message.body) {
                    (ResponseCode::Success, Body::Resolved(r)) => {
                        let values = Record::encode(&r.values);
                        remember(
                            Cached::Values(Arc::new(values.clone())),
                            answer_ttl(&r.values),
                        );
                        Ok(values)
                    }
                    (rc @ (ResponseCode::HandleNotFound | ResponseCode::ValuesNotFound), body) => {
                        let text = error_text(&body);
                        remember(Cached::Missing(rc, text.as_str().into()), self.negative_ttl);
                        Err(Failure::new(rc, text))
                    }
                    (ResponseCode::AuthenticationNeeded, _) => Err(Failure::new(
                        ResponseCode::Error,
                        "the responsible service asks for authentication, which a recursive \
                         resolution cannot give",
                    )
                    .with_fault(Fault::Upstream { retryable: false })),
                    (rc, body) => Err(passed_on(rc, error_text(&body))),
                }
            }
            Err(Error::UnknownPrefix { prefix }) => {
                let text = format!("prefix {prefix} is not registered");
                remember(
                    Cached::Missing(ResponseCode::HandleNotFound, text.as_str().into()),
                    self.negative_ttl,
                );
                Err(Failure::new(ResponseCode::HandleNotFound, text))
            }
            Err(Error::Refused { rc, message }) => Err(passed_on(rc, message)),
            Err(e) => Err(
                Failure::new(ResponseCode::Error, format!("upstream: {e}")).with_fault(
                    Fault::Upstream {
                        retryable: e.retryable(),
                    },
                ),
            ),
        };
        let label = match &result {
            Ok(_) => "resolved",
            Err(f) if matches!(f.fault, Fault::Upstream { .. }) => "failed",
            Err(_) => "not_found",
        };
        metrics::counter!("idnode_recursion_total", "result" => label).increment(1);
        result
    }
}

/// An answer of the responsible service that is neither values nor "not found", passed on
/// with its response code; the node's own faults (RC 2, RC 3) become upstream faults.
fn passed_on(rc: ResponseCode, message: String) -> Failure {
    let failure = Failure::new(rc, message);
    match failure.fault {
        Fault::Internal | Fault::Busy => {
            let retryable = failure.fault == Fault::Busy || rc == ResponseCode::Error;
            failure.with_fault(Fault::Upstream { retryable })
        }
        _ => failure,
    }
}

impl Upstream for Recursor {
    fn resolve<'a>(&'a self, query: UpstreamQuery<'a>) -> UpstreamFuture<'a> {
        Box::pin(self.lookup(query))
    }
}
