//! Bearer tokens (the SNMS API's `POST /identity/token`): issued for a verified identity, kept
//! only as a SHA-256 digest, and bound to the identity's secret key as it was stored when the
//! token was issued.
//!
//! A token is 32 random bytes in unpadded base64url. The aux space `token` maps the digest of
//! the token to its identity, its expiry, and a fingerprint of the identity's stored
//! `HS_SECKEY` values at that index (their sealed form, which is salted anew whenever a secret
//! is written). So a token stops working when it expires, when it is revoked (logout), and when
//! the identity's secret changes in any way: replaced, removed (an enterprise disabled), or
//! given again (an enterprise enabled with a new secret). A copy of the database holds no
//! usable token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idnode_proto::{ResponseCode, ValueRef, types};
use idnode_registry::{Expect, Mutation, Store, WriteBatch};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::domain::{AuditEvent, audit_mutation, prefix_of};
use crate::op::internal;
use crate::op::{Failure, Identity};
use crate::pipeline::Resolver;

/// The aux space of token digests.
pub const TOKEN_SPACE: &str = "token";

/// A stored token.
#[derive(Debug, Serialize, Deserialize)]
struct StoredToken {
    identity: String,
    expires: u32,
    /// The fingerprint of the identity's secret keys when the token was issued; tokens stored
    /// before fingerprints existed have none and are refused.
    #[serde(default)]
    key: String,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl<S: Store> Resolver<S> {
    /// Issues a token for `identity` (already verified, as by
    /// [`Resolver::authenticate_secret`]) valid until `expires`, audits it, and returns it.
    pub async fn issue_token(
        &self,
        identity: &Identity,
        expires: u32,
        now: u32,
    ) -> Result<String, Failure> {
        let key = self.key_fingerprint(&identity.0)?;
        let mut raw = [0u8; 32];
        self.fill_random(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let stored = StoredToken {
            identity: identity.to_string(),
            expires,
            key,
        };
        let event = AuditEvent {
            seq: 0,
            at: now,
            actor: identity.to_string(),
            action: "token_issue".to_owned(),
            target: identity.0.handle.clone(),
            prefix: prefix_of(&identity.0.handle).to_owned(),
            detail: String::new(),
        };
        let value = serde_json::to_vec(&stored)
            .map_err(|e| Failure::internal(format!("cannot encode a token: {e}")))?;
        let batch = WriteBatch {
            mutations: vec![
                Mutation::PutAux {
                    space: TOKEN_SPACE.to_owned(),
                    key: digest(&token),
                    value,
                    expect: Expect::Absent,
                },
                audit_mutation(&event),
            ],
        };
        self.store().commit(batch).await.map_err(internal)?;
        Ok(token)
    }

    /// The identity of a valid token: known, not expired, and issued for the identity's secret
    /// keys as they are stored now.
    pub fn token_identity(&self, token: &str, now: u32) -> Option<Identity> {
        let entry = self.store().aux(TOKEN_SPACE, &digest(token)).ok()??;
        let stored: StoredToken = serde_json::from_slice(&entry.value).ok()?;
        if now >= stored.expires || stored.key.is_empty() {
            return None;
        }
        let id = ValueRef::parse(&stored.identity)?;
        let current = self.key_fingerprint(&id).ok()?;
        (current == stored.key).then_some(Identity(id))
    }

    /// Revokes a token (logout), auditing it; fails with RC 403 when the token is not valid.
    pub async fn revoke_token(&self, token: &str, now: u32) -> Result<Identity, Failure> {
        let Some(identity) = self.token_identity(token, now) else {
            return Err(Failure::new(
                ResponseCode::AuthenticationFailed,
                "the token is unknown or expired",
            ));
        };
        let event = AuditEvent {
            seq: 0,
            at: now,
            actor: identity.to_string(),
            action: "token_revoke".to_owned(),
            target: identity.0.handle.clone(),
            prefix: prefix_of(&identity.0.handle).to_owned(),
            detail: String::new(),
        };
        let batch = WriteBatch {
            mutations: vec![
                Mutation::DeleteAux {
                    space: TOKEN_SPACE.to_owned(),
                    key: digest(token),
                    expect: Expect::Any,
                },
                audit_mutation(&event),
            ],
        };
        self.store().commit(batch).await.map_err(internal)?;
        Ok(identity)
    }

    /// The fingerprint of the stored `HS_SECKEY` values of `identity`; RC 403 when it holds
    /// none.
    fn key_fingerprint(&self, identity: &ValueRef) -> Result<String, Failure> {
        let mut sealed = self.identity_values(identity, types::HS_SECKEY)?;
        if sealed.is_empty() {
            return Err(Failure::bare(ResponseCode::AuthenticationFailed));
        }
        sealed.sort();
        let mut hasher = Sha256::new();
        for value in &sealed {
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(value);
        }
        Ok(URL_SAFE_NO_PAD.encode(hasher.finalize()))
    }
}
