//! `POST /identity/token`: credentials for a Bearer token valid 24 hours.
//!
//! The username is an identity `index:handle` (`300:88.118.8/ADMIN`), or a handle alone, which
//! means index 300; the password is its `HS_SECKEY` secret. A token is 32 random bytes in
//! unpadded base64url; only its SHA-256 is stored (aux space `token`), with the identity and the
//! expiry, so a copy of the database holds no usable token. A token stops working when it
//! expires, or when its identity no longer holds a secret key at that index (an enterprise that
//! was disabled).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use idnode_proto::{Record, ValueRef, normalize, types};
use idnode_registry::{Expect, Mutation, Store as _, WriteBatch};
use idnode_resolver::domain::{audit_mutation, prefix_of};
use idnode_resolver::{AuditEvent, Identity};
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{Call, Status, business, envelope, ok};

/// The aux space of token digests.
pub(crate) const TOKEN_SPACE: &str = "token";

/// How long a token is valid (SNMS: 24 h).
pub(crate) const TOKEN_LIFETIME_SECS: u32 = 24 * 60 * 60;

/// The default key index of a username without one.
const DEFAULT_KEY_INDEX: u32 = 300;

/// A stored token.
#[derive(Debug, Serialize, Deserialize)]
struct StoredToken {
    identity: String,
    expires: u32,
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// The identity a username names.
fn identity_of(username: &str) -> Option<ValueRef> {
    ValueRef::parse(username).or_else(|| {
        username.contains('/').then(|| ValueRef {
            handle: username.to_owned(),
            index: DEFAULT_KEY_INDEX,
        })
    })
}

/// `POST /identity/token`.
pub(super) async fn issue(call: &Call<'_>) -> Response<Full<Bytes>> {
    let login: Login = match serde_json::from_slice(call.body) {
        Ok(login) => login,
        Err(_) => {
            return business("expected {\"username\": \"300:PREFIX/ADMIN\", \"password\": \"…\"}");
        }
    };
    let Some(id) = identity_of(&login.username) else {
        return business("the username must be an identity such as 300:88.118.8/ADMIN");
    };
    let state: Arc<_> = call.state.clone();
    let secret = login.password.into_bytes();
    let checked_id = id.clone();
    // PBKDF2 is deliberately slow; keep it off the request threads.
    let verified = tokio::task::spawn_blocking(move || {
        state.resolver.authenticate_secret(&checked_id, &secret)
    })
    .await;
    let Ok(Ok(identity)) = verified else {
        return envelope(
            Status::NotLoggedIn,
            "wrong username or password",
            serde_json::Value::Null,
        );
    };
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let expires = call.now.saturating_add(TOKEN_LIFETIME_SECS);
    let stored = StoredToken {
        identity: identity.to_string(),
        expires,
    };
    let event = AuditEvent {
        seq: 0,
        at: call.now,
        actor: identity.to_string(),
        action: "token_issue".to_owned(),
        target: identity.0.handle.clone(),
        prefix: prefix_of(&identity.0.handle).to_owned(),
        detail: String::new(),
    };
    let batch = WriteBatch {
        mutations: vec![
            Mutation::PutAux {
                space: TOKEN_SPACE.to_owned(),
                key: digest(&token),
                value: serde_json::to_vec(&stored).unwrap_or_default(),
                expect: Expect::Absent,
            },
            audit_mutation(&event),
        ],
    };
    if let Err(e) = call.state.resolver.store().commit(batch).await {
        tracing::error!(error = %e, "cannot store a token");
        return envelope(
            Status::Internal,
            "cannot store the token",
            serde_json::Value::Null,
        );
    }
    ok(json!({"token": token, "expiresAt": expires, "identity": identity.to_string()}))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The identity of a valid token.
pub(super) fn verify(state: &crate::state::State, token: &str, now: u32) -> Option<Identity> {
    let store = state.resolver.store();
    let entry = store.aux(TOKEN_SPACE, &digest(token)).ok()??;
    let stored: StoredToken = serde_json::from_slice(&entry.value).ok()?;
    if now >= stored.expires {
        return None;
    }
    let id = ValueRef::parse(&stored.identity)?;
    // The identity must still hold a secret key at that index.
    let record = store.get(&normalize(&id.handle)).ok()??;
    let has_key = Record::parse(&record.values).ok()?.iter().any(|v| {
        (id.index == 0 || v.index() == id.index)
            && v.value_type()
                .eq_ignore_ascii_case(types::HS_SECKEY.as_bytes())
    });
    has_key.then_some(Identity(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            identity_of("300:88.118.8/ADMIN").map(|r| r.to_string()),
            Some("300:88.118.8/ADMIN".to_owned())
        );
        assert_eq!(
            identity_of("88.118.8/ADMIN").map(|r| r.to_string()),
            Some("300:88.118.8/ADMIN".to_owned())
        );
        assert_eq!(identity_of("admin"), None);
    }
}
