//! Who an HTTP request comes from: `Authorization: Basic`, `Authorization: Handle` (a signed
//! answer or a session, [`super::session`]) and `Authorization: Bearer` tokens, under one
//! transport rule: credentials count only over TLS, or over plain HTTP from loopback when
//! `http.allow_loopback_plain_writes` is set (`handle-rest-api.md` §1). The checks themselves
//! are the resolver's; this module only reads headers and hands it what they say.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header;
use idnode_certs::client_cert::ClientCertificate;
use idnode_proto::ValueRef;
use idnode_resolver::Identity;

use super::{Conn, Http};

/// The identity a request authenticates as, if any.
pub(crate) enum Auth {
    /// No usable credentials.
    Anonymous,
    /// Verified credentials.
    Verified(Identity),
    /// Credentials that did not verify, or an unknown or expired session: each service answers
    /// in its own terms (the handle.net API: 401 with an empty body, as the reference).
    Rejected,
}

/// What a request presents to authenticate with: its headers, and the extensions in which the
/// listener keeps the connection's client certificate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Presented<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a http::Extensions,
}

impl<'a> Presented<'a> {
    /// What `req` presents.
    pub(crate) fn of<B>(req: &'a http::Request<B>) -> Self {
        Self {
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }

    /// What a request whose body is not read yet presents.
    pub(crate) fn of_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }
}

/// The certificate a TLS client presented on the request's connection, kept in the request's
/// extensions by the listener.
#[derive(Debug, Clone)]
pub(crate) struct ClientCert(pub(crate) std::sync::Arc<ClientCertificate>);

/// Authenticates a request by its first `Authorization` header: `Basic` credentials, or an
/// `Authorization: Handle` signed answer or session id; without one (or with
/// `Authorization: Handle clientCert="true"`), by the TLS client certificate of the connection
/// (`handle-rest-api.md` §6.2). Bearer tokens are answered by [`bearer`], for the services
/// that accept them.
pub(crate) async fn authenticate(
    http: &std::sync::Arc<Http>,
    conn: Conn,
    presented: Presented<'_>,
) -> Auth {
    let certificate = presented.extensions.get::<ClientCert>();
    let Some(value) = presented
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return match certificate {
            Some(certificate) => certificate_identity(http, &certificate.0),
            None => Auth::Anonymous,
        };
    };
    if !credentials_allowed(http, conn) {
        // Credentials sent in clear text are ignored (handle-rest-api.md §1).
        return Auth::Anonymous;
    }
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    match value.trim().split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
            basic_credentials(http, conn, rest).await
        }
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("handle") && asks_for_client_cert(rest) =>
        {
            match certificate {
                Some(certificate) => certificate_identity(http, &certificate.0),
                // Asked to use a certificate that was not presented.
                None => Auth::Rejected,
            }
        }
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("handle") => {
            super::session::authenticate(http, rest).await
        }
        _ => Auth::Anonymous,
    }
}

/// Whether `Authorization: Handle` parameters are `clientCert="true"` (what the reference
/// server and pyhandle send with certificate authentication).
fn asks_for_client_cert(parameters: &str) -> bool {
    parameters.split(',').any(|parameter| {
        parameter.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("clientCert")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("true")
        })
    })
}

/// The identity a client certificate authenticates: the subject's `index:handle` when the
/// certificate's key is an `HS_PUBKEY` value there (the handshake proved the private key).
fn certificate_identity(http: &Http, certificate: &ClientCertificate) -> Auth {
    let Some(id) = ValueRef::parse(certificate.identity.trim()) else {
        return Auth::Rejected;
    };
    match http.resolver.authenticate_public_key(&id, &certificate.key) {
        Ok(identity) => Auth::Verified(identity),
        Err(_) => Auth::Rejected,
    }
}

/// Whether credentials count on this connection: over TLS, or over plain HTTP from loopback
/// when `http.allow_loopback_plain_writes` is set.
pub(crate) fn credentials_allowed(http: &Http, conn: Conn) -> bool {
    conn.tls || (http.config.http.allow_loopback_plain_writes && conn.peer.ip().is_loopback())
}

/// Verifies `Authorization: Basic` credentials (the base64 text after the scheme).
pub(crate) async fn basic_credentials(
    http: &std::sync::Arc<Http>,
    conn: Conn,
    encoded: &str,
) -> Auth {
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return Auth::Rejected;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Auth::Rejected;
    };
    let (user, secret) = (&decoded[..colon], decoded[colon + 1..].to_vec());
    let user = percent_encoding::percent_decode(user)
        .decode_utf8_lossy()
        .into_owned();
    let Some(id) = ValueRef::parse(&user) else {
        return Auth::Rejected;
    };
    match check_password(http, conn, id, secret).await {
        Ok(identity) => Auth::Verified(identity),
        Err(_) => Auth::Rejected,
    }
}

/// Why a password login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginRefused {
    /// The identity or the source failed too often; try again after this long.
    Throttled(std::time::Duration),
    /// The password is wrong, or the identity holds no such secret.
    Wrong,
}

/// Checks a password (an `HS_SECKEY` secret) for `id`, with failed logins throttled per
/// identity and per source ([`super::throttle`]) and audited as `login_failed`: the one place
/// a password is checked, for HTTP Basic and for SNMS token logins alike.
pub(crate) async fn check_password(
    http: &std::sync::Arc<Http>,
    conn: Conn,
    id: ValueRef,
    secret: Vec<u8>,
) -> Result<Identity, LoginRefused> {
    let name = id.to_string();
    let source = conn.peer.ip();
    if let Some(wait) = http.logins.wait(&name, source, std::time::Instant::now()) {
        return Err(LoginRefused::Throttled(wait));
    }
    let checker = std::sync::Arc::clone(http);
    // PBKDF2 is deliberately slow; keep it off the request threads.
    let verified =
        tokio::task::spawn_blocking(move || checker.resolver.authenticate_secret(&id, &secret))
            .await;
    match verified {
        Ok(Ok(identity)) => {
            http.logins.succeeded(&name);
            Ok(identity)
        }
        _ => {
            http.logins.failed(&name, source, std::time::Instant::now());
            let event = idnode_resolver::AuditEvent {
                seq: 0,
                at: http.now(),
                actor: name.clone(),
                action: "login_failed".to_owned(),
                target: name
                    .split_once(':')
                    .map_or(name.as_str(), |(_, h)| h)
                    .to_owned(),
                prefix: idnode_resolver::domain::prefix_of(
                    name.split_once(':').map_or(name.as_str(), |(_, h)| h),
                )
                .to_owned(),
                detail: format!("from {source}"),
            };
            if let Err(failure) = http.resolver.audit(event).await {
                tracing::warn!(%failure, "cannot audit a failed login");
            }
            Err(LoginRefused::Wrong)
        }
    }
}

/// The token of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Why a Bearer token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerRefused {
    /// Sent over plain HTTP where credentials do not count.
    PlainHttp,
    /// Unknown, expired, revoked, or issued for a secret that has changed since.
    Invalid,
}

/// The identity of the request's Bearer token: `None` without one.
pub(crate) fn bearer(
    http: &Http,
    conn: Conn,
    headers: &HeaderMap,
) -> Option<Result<Identity, BearerRefused>> {
    let token = bearer_token(headers)?;
    if !credentials_allowed(http, conn) {
        return Some(Err(BearerRefused::PlainHttp));
    }
    Some(
        http.resolver
            .token_identity(token, http.now())
            .ok_or(BearerRefused::Invalid),
    )
}
