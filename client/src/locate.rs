//! The client algorithm (handle-protocol.md §8.1, CNRI `HandleResolver`): find the service
//! that answers for a handle, starting from the configured root sites, and ask it.
//!
//! For `P/S` the client resolves the prefix handle `0.NA/P` at the roots (handles that start
//! with `0.` or have no slash are asked at the roots directly), following prefix referrals
//! (RC 303) down the derived-prefix chain `88` → `88.118` → `88.118.8`. The sites of the
//! answer's `HS_SITE` and `HS_SITE.6` values, and those of every `HS_SERV` handle (expanded
//! recursively, `0.NA/0.NA` being the roots), form the service. Within a site the server is
//! chosen by the MD5 rule of §8.3; each server is asked over UDP, then TCP. RC 301 (not
//! responsible), busy and failing servers, timeouts and answers that do not verify move on
//! to the next site; RC 302 service referrals are followed with the request resent
//! unchanged but for its recursion count.
//!
//! Everything an upstream can make the client do is bounded: referrals per request, the
//! depth of nested lookups (`HS_SERV` chains, referral handles), sites per step, and a
//! visited set that cuts referral loops. Prefix lookups are cached per TTL.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use idnode_certs::proof::signature_matches;
use idnode_proto::wire::{
    Body, Envelope, HS_SIGNED, Header, Message, OpCode, OpFlags, ResolutionRequest, Version,
    signed_input,
};
use idnode_proto::{HandleValue, PublicKey, ResponseCode};
use idnode_proto::{Interface, Protocol, ServerInfo, SiteInfo};

use crate::Error;
use crate::cache::{TtlCache, ttl_of};
use crate::transport::{Answer, BoxFuture, Transport};

/// The value types of a prefix lookup (§8.1 step 2).
const SERVICE_TYPES: [&str; 4] = ["HS_SITE", "HS_SITE.6", "HS_SERV", "HS_NAMESPACE"];

/// Bounds on the work one resolution may cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Referrals (RC 302 and 303) followed for one request.
    pub max_referrals: u32,
    /// Nesting of lookups inside a lookup: `HS_SERV` handles and referral handles.
    pub max_depth: u32,
    /// Sites asked per step before giving up.
    pub max_sites: usize,
    /// Prefixes whose services are cached; 0 caches none.
    pub cached_prefixes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_referrals: 10,
            max_depth: 6,
            max_sites: 6,
            cached_prefixes: 10_000,
        }
    }
}

/// What to resolve: the fields of a resolution request that the caller chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The handle.
    pub handle: String,
    /// Requested indexes; empty together with `types` for all values.
    pub indexes: Vec<u32>,
    /// Requested types.
    pub types: Vec<String>,
    /// Flags to send: `CT` asks for a certified answer, which is then verified; `PO` for
    /// public values only. `REC` is never sent on, since this client does the walking.
    pub flags: OpFlags,
    /// The recursion count to send (the server's own count plus one when it recurses).
    pub recursion_count: u8,
}

impl Query {
    /// A query for every value of `handle`.
    pub fn all(handle: impl Into<String>) -> Self {
        Self {
            handle: handle.into(),
            indexes: Vec::new(),
            types: Vec::new(),
            flags: OpFlags::empty(),
            recursion_count: 0,
        }
    }
}

/// Which values of an answer name sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `HS_SITE`, `HS_SITE.6` and `HS_SERV`: the service of a prefix (RC 1, RC 302).
    Service,
    /// `HS_SITE.PREFIX` and `HS_SERV.PREFIX`: the service of derived prefixes (RC 303).
    Prefix,
}

impl Kind {
    fn is_site(self, v: &HandleValue) -> bool {
        match self {
            Self::Service => v.has_type("HS_SITE") || v.has_type("HS_SITE.6"),
            Self::Prefix => v.has_type("HS_SITE.PREFIX") || v.has_type("HS_SITE.PREFIX.6"),
        }
    }

    fn is_service(self, v: &HandleValue) -> bool {
        match self {
            Self::Service => v.has_type("HS_SERV"),
            Self::Prefix => v.has_type("HS_SERV.PREFIX"),
        }
    }
}

/// The client algorithm over a [`Transport`].
pub struct Locator<T> {
    roots: Arc<Vec<SiteInfo>>,
    transport: T,
    limits: Limits,
    /// The sites of prefixes, unless `cached_prefixes` is 0.
    services: Option<TtlCache<String, Arc<Vec<SiteInfo>>>>,
    next_id: AtomicU32,
}

impl<T> std::fmt::Debug for Locator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("roots", &self.roots.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A site of one server at `addr` answering queries over UDP and TCP on one port: how a root
/// given by its address alone is represented. It carries no public key, so certified answers
/// from it cannot be verified.
pub fn address_site(addr: std::net::SocketAddr) -> SiteInfo {
    let interface = |protocol| Interface {
        query: true,
        admin: true,
        protocol,
        port: u32::from(addr.port()),
    };
    SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: 0,
        primary: true,
        multi_primary: false,
        hash_option: 0,
        hash_filter: String::new(),
        attributes: Vec::new(),
        servers: vec![ServerInfo {
            server_id: 1,
            address: ServerInfo::address_of(addr.ip()),
            public_key: Vec::new(),
            interfaces: vec![interface(Protocol::Udp), interface(Protocol::Tcp)],
        }],
    }
}

/// Whether `handle` is asked at the roots directly: it starts with `0.` or has no slash.
fn at_roots(handle: &str) -> bool {
    !handle.contains('/') || handle.get(..2).is_some_and(|p| p == "0.")
}

/// Whether `handle` is a prefix handle, whose prefix referrals are followed (§8.4).
fn is_prefix_handle(handle: &str) -> bool {
    !handle.contains('/')
        || handle
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("0.NA/"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The servers of a set of sites, to recognise a referral back to where the client was.
fn fingerprint(sites: &[SiteInfo]) -> Vec<(IpAddr, Vec<u32>)> {
    let mut servers: Vec<(IpAddr, Vec<u32>)> = sites
        .iter()
        .flat_map(|s| &s.servers)
        .map(|s| (s.ip(), s.interfaces.iter().map(|i| i.port).collect()))
        .collect();
    servers.sort();
    servers
}

/// Whether a certified answer carries a valid signature by `server`'s key.
fn certified_by(server: &ServerInfo, answer: &Answer) -> bool {
    let Some(credential) = &answer.message.credential else {
        return false;
    };
    let Ok(key) = PublicKey::from_bytes(&server.public_key) else {
        return false;
    };
    if credential.credential_type != HS_SIGNED {
        return false;
    }
    let Ok(alg) = std::str::from_utf8(&credential.digest_alg) else {
        return false;
    };
    let signer = match key {
        PublicKey::Sm2 { .. } => idnode_certs::sm2::DEFAULT_DISTID,
        _ => "",
    };
    let input = signed_input(
        &answer.message.envelope,
        credential.session_counter(),
        &answer.header_body,
    );
    signature_matches(&key, signer, alg, &input, &credential.signature)
}

impl<T: Transport> Locator<T> {
    /// A locator starting from `roots` (the sites of `0.NA/0.NA`: for a secondary node, its
    /// top-level node).
    pub fn new(roots: Vec<SiteInfo>, transport: T, limits: Limits) -> Self {
        Self {
            services: (limits.cached_prefixes > 0).then(|| TtlCache::new(limits.cached_prefixes)),
            roots: Arc::new(roots),
            transport,
            limits,
            next_id: AtomicU32::new(rand::random::<u32>() >> 1),
        }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Finds the service of `query.handle` and asks it. The answer is the first one that is
    /// neither a referral nor a refusal to be asked elsewhere: values (RC 1), or an answer
    /// such as RC 100 or RC 200 that the caller passes on.
    pub async fn resolve(&self, query: &Query) -> Result<Answer, Error> {
        let sites = self.service_of(&query.handle, 0).await?;
        self.ask_service(sites, query.clone(), 0).await
    }

    /// The sites that answer for `handle`.
    fn service_of<'a>(
        &'a self,
        handle: &'a str,
        depth: u32,
    ) -> BoxFuture<'a, Result<Arc<Vec<SiteInfo>>, Error>> {
        Box::pin(async move {
            if at_roots(handle) {
                return Ok(self.roots.clone());
            }
            let prefix = handle.split('/').next().unwrap_or_default();
            let key = prefix.to_ascii_uppercase();
            if let Some(sites) = self
                .services
                .as_ref()
                .and_then(|c| c.get(&key, Instant::now()))
            {
                return Ok(sites);
            }
            let prefix_handle = format!("0.NA/{prefix}");
            let values = self
                .service_values(self.roots.clone(), &prefix_handle, depth)
                .await
                .map_err(|e| match e {
                    Error::Refused {
                        rc: ResponseCode::HandleNotFound,
                        ..
                    } => Error::UnknownPrefix {
                        prefix: prefix.to_owned(),
                    },
                    other => other,
                })?;
            let sites = self.sites_from(&values, Kind::Service, depth).await?;
            if sites.is_empty() {
                return Err(Error::NoServer {
                    handle: handle.to_owned(),
                    reason: format!("{prefix_handle} names no site"),
                });
            }
            let sites = Arc::new(sites);
            if let Some(cache) = &self.services {
                cache.insert(
                    key,
                    sites.clone(),
                    Instant::now(),
                    ttl_of(&values, unix_now()),
                );
            }
            Ok(sites)
        })
    }

    /// The `HS_SITE`, `HS_SITE.6`, `HS_SERV` and `HS_NAMESPACE` values of `handle`, asked
    /// at `sites`.
    async fn service_values(
        &self,
        sites: Arc<Vec<SiteInfo>>,
        handle: &str,
        depth: u32,
    ) -> Result<Vec<HandleValue>, Error> {
        if depth >= self.limits.max_depth {
            return Err(Error::Referrals {
                handle: handle.to_owned(),
                reason: "service lookups nest too deeply",
            });
        }
        let query = Query {
            handle: handle.to_owned(),
            indexes: Vec::new(),
            types: SERVICE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            flags: OpFlags::PO,
            recursion_count: 0,
        };
        let answer = self.ask_service(sites, query, depth + 1).await?;
        let message = answer.message;
        match (message.header.response_code, message.body) {
            (ResponseCode::Success, Body::Resolved(r)) => Ok(r.values),
            (ResponseCode::ValuesNotFound, _) => Ok(Vec::new()),
            (rc, body) => Err(Error::Refused {
                rc,
                message: error_text(&body),
            }),
        }
    }

    /// The sites named by `values`: site values decoded, service handles expanded.
    fn sites_from<'a>(
        &'a self,
        values: &'a [HandleValue],
        kind: Kind,
        depth: u32,
    ) -> BoxFuture<'a, Result<Vec<SiteInfo>, Error>> {
        Box::pin(async move {
            let mut sites = Vec::new();
            for value in values.iter().filter(|v| kind.is_site(v)) {
                match SiteInfo::from_bytes(&value.data) {
                    Ok(site) => sites.push(site),
                    Err(e) => tracing::debug!(error = %e, "skipping an undecodable site value"),
                }
            }
            for value in values.iter().filter(|v| kind.is_service(v)) {
                let Ok(service) = std::str::from_utf8(&value.data) else {
                    continue;
                };
                if service.eq_ignore_ascii_case("0.NA/0.NA") {
                    sites.extend(self.roots.iter().cloned());
                    continue;
                }
                let at = self.service_of(service, depth + 1).await?;
                let named = self.service_values(at, service, depth + 1).await?;
                sites.extend(self.sites_from(&named, Kind::Service, depth + 1).await?);
            }
            Ok(sites)
        })
    }

    /// Asks `sites`, following referrals, until an answer that is not a referral.
    fn ask_service<'a>(
        &'a self,
        mut sites: Arc<Vec<SiteInfo>>,
        mut query: Query,
        depth: u32,
    ) -> BoxFuture<'a, Result<Answer, Error>> {
        Box::pin(async move {
            let mut visited = HashSet::new();
            let mut referrals = 0;
            loop {
                if !visited.insert(fingerprint(&sites)) {
                    return Err(Error::Referrals {
                        handle: query.handle,
                        reason: "a referral leads back to sites already asked",
                    });
                }
                let answer = self.ask_sites(&sites, &query).await?;
                let kind = match answer.message.header.response_code {
                    ResponseCode::ServiceReferral => Kind::Service,
                    ResponseCode::PrefixReferral if is_prefix_handle(&query.handle) => Kind::Prefix,
                    _ => return Ok(answer),
                };
                referrals += 1;
                if referrals > self.limits.max_referrals {
                    return Err(Error::Referrals {
                        handle: query.handle,
                        reason: "too many referrals",
                    });
                }
                let Body::Referral(referral) = answer.message.body else {
                    return Err(Error::malformed("", "a referral without a referral body"));
                };
                let values = referral.values.unwrap_or_default();
                let mut next = self.sites_from(&values, kind, depth).await?;
                if next.is_empty() && !referral.handle.is_empty() {
                    if depth >= self.limits.max_depth {
                        return Err(Error::Referrals {
                            handle: query.handle,
                            reason: "referral handles nest too deeply",
                        });
                    }
                    let at = self.service_of(&referral.handle, depth + 1).await?;
                    let named = self.service_values(at, &referral.handle, depth + 1).await?;
                    next = self.sites_from(&named, Kind::Service, depth + 1).await?;
                    if kind == Kind::Prefix {
                        next.extend(self.sites_from(&named, Kind::Prefix, depth + 1).await?);
                    }
                }
                if next.is_empty() {
                    return Err(Error::NoServer {
                        handle: query.handle,
                        reason: "a referral names no site".to_owned(),
                    });
                }
                sites = Arc::new(next);
                query.recursion_count = query.recursion_count.saturating_add(1);
            }
        })
    }

    /// Asks the sites in turn, each at the server the handle hashes to, and returns the first
    /// answer that does not send the client on to another site.
    async fn ask_sites(&self, sites: &[SiteInfo], query: &Query) -> Result<Answer, Error> {
        let mut last = None;
        for site in sites.iter().take(self.limits.max_sites) {
            let server = match site.server_for(query.handle.as_bytes()) {
                Ok(server) => server,
                Err(e) => {
                    last = Some(Error::NoServer {
                        handle: query.handle.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let request = self.request(query);
            let answer = match self.transport.exchange(server, &request).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::debug!(handle = %query.handle, error = %e, "asking the next site");
                    last = Some(e);
                    continue;
                }
            };
            let rc = answer.message.header.response_code;
            if matches!(
                rc,
                ResponseCode::ServerNotResponsible
                    | ResponseCode::OutOfDateSiteInfo
                    | ResponseCode::ServerTooBusy
                    | ResponseCode::Error
                    | ResponseCode::ServerBackup
            ) {
                last = Some(Error::Refused {
                    rc,
                    message: error_text(&answer.message.body),
                });
                continue;
            }
            if query.flags.contains(OpFlags::CT) && !certified_by(server, &answer) {
                last = Some(Error::malformed(
                    &server.ip().to_string(),
                    "the certified answer does not verify against the server's key",
                ));
                continue;
            }
            return Ok(answer);
        }
        Err(last.unwrap_or_else(|| Error::NoServer {
            handle: query.handle.clone(),
            reason: "no site to ask".to_owned(),
        }))
    }

    fn request(&self, query: &Query) -> Message {
        let mut header = Header::request(OpCode::Resolution);
        header.flags = query.flags.without(OpFlags::REC);
        header.recursion_count = query.recursion_count;
        header.expiration = u32::try_from(unix_now() + 600).unwrap_or(u32::MAX);
        let envelope = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            request_id: self.next_id.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF,
            ..Envelope::default()
        };
        Message::new(
            envelope,
            header,
            Body::Resolution(ResolutionRequest {
                handle: query.handle.clone(),
                indexes: query.indexes.clone(),
                types: query.types.clone(),
            }),
        )
    }
}

/// The message of an error answer.
pub fn error_text(body: &Body) -> String {
    match body {
        Body::Error { message: Some(m) } => m.clone(),
        _ => String::new(),
    }
}

/// How long an answer of `values` may be cached (see [`ttl_of`]); exposed for callers that
/// cache final answers.
pub fn answer_ttl(values: &[HandleValue]) -> Duration {
    ttl_of(values, unix_now())
}
