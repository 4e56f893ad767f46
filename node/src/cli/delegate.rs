//! `idnode delegate`: at a top-level node, creates a secondary's prefix handle `0.NA/PREFIX`
//! and its administrator identity `300:0.NA/PREFIX`.
//!
//! The prefix handle carries the secondary's site information twice: as `HS_SITE`, which
//! sends clients of `PREFIX/x` to the secondary (RC 302 from here, or the prefix handle's own
//! answer), and as `HS_SITE.PREFIX`, which refers queries for unregistered derived prefixes
//! `0.NA/PREFIX.x` down to it (RC 303). Its `HS_ADMIN` gives the secondary's identity exactly
//! the rights of its delegation: add and delete derived prefixes, and add, change, remove and
//! read the non-administrator values of its prefix handle. The identity's key is stored at
//! index 300 of the same handle: a public key (`HS_PUBKEY`, SM2, RSA or Ed25519) or a secret
//! (`HS_SECKEY`).
//!
//! The work is done as the administrator of the homed prefix the delegation lies under
//! (`300:<homed>/ADMIN`, which `idnode init` made), through the same pipeline as any request.

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use idnode_proto::{
    AdminPerms, AdminRecord, Handle, HandleValue, Permissions, PublicKey, SiteInfo, ValueRef, types,
};
use idnode_resolver::{Identity, Operation, Request};
use serde_json::Value;

use crate::config::Config;
use crate::core::Core;

/// The index of the delegated identity's key in its prefix handle.
pub const IDENTITY_INDEX: u32 = 300;

/// What a secondary may do on its own prefix handle at the top-level node.
pub const DELEGATION_PERMS: u16 = AdminPerms::ADD_DERIVED_PREFIX
    | AdminPerms::DELETE_DERIVED_PREFIX
    | AdminPerms::ADD_VALUE
    | AdminPerms::MODIFY_VALUE
    | AdminPerms::REMOVE_VALUE
    | AdminPerms::READ_VALUE;

/// The key the delegated identity proves itself with.
#[derive(Debug, Clone)]
pub enum IdentityKey {
    /// A public key, for challenge-response signatures.
    Public(PublicKey),
    /// A shared secret (`HS_SECKEY`).
    Secret(Vec<u8>),
}

/// What `delegate` created.
#[derive(Debug)]
pub struct Delegated {
    /// The prefix handle, `0.NA/PREFIX`.
    pub prefix_handle: String,
    /// The secondary's identity, `300:0.NA/PREFIX`.
    pub identity: String,
}

/// Runs `idnode delegate`.
pub async fn run(
    mut config: Config,
    prefix: &str,
    site: SiteInfo,
    key: IdentityKey,
) -> anyhow::Result<Delegated> {
    let prefix_handle = Handle::prefix_handle(prefix)
        .map_err(|e| anyhow::anyhow!("invalid prefix {prefix:?}: {e}"))?;
    let identity = ValueRef {
        handle: prefix_handle.as_str().to_owned(),
        index: IDENTITY_INDEX,
    };
    // The administrator of the homed prefix above the delegation acts for the operator.
    let homed = {
        let core = Core::open(config.clone().without_quotas())?;
        core.resolver
            .homed_prefixes()
            .map_err(|f| anyhow::anyhow!("cannot read the database: {}", f.message))?
    };
    let Some(authority) = homed
        .iter()
        .filter(|h| is_derived_from(prefix, h))
        .max_by_key(|h| h.len())
    else {
        bail!(
            "this node homes no prefix above {prefix} (it homes {homed:?}); \
             run `idnode init --prefix` with the top-level prefix first"
        );
    };
    let actor = ValueRef {
        handle: format!("{authority}/ADMIN"),
        index: IDENTITY_INDEX,
    };
    config.auth.server_admins.push(actor.to_string());
    let core = Core::open(config.without_quotas())?;
    let resolver = &core.resolver;
    if resolver
        .exists(&prefix_handle)
        .map_err(|f| anyhow::anyhow!("cannot read the database: {}", f.message))?
    {
        bail!(
            "{prefix_handle} already exists in {}: {prefix} is delegated already",
            core.config.data.display()
        );
    }
    let delegation = AdminRecord {
        perms: AdminPerms(DELEGATION_PERMS),
        admin: identity.clone(),
    };
    let site = site.to_bytes();
    let key_value = match key {
        IdentityKey::Public(public) => {
            HandleValue::new(IDENTITY_INDEX, types::HS_PUBKEY, public.to_bytes())
        }
        IdentityKey::Secret(secret) => {
            let mut value = HandleValue::new(IDENTITY_INDEX, types::HS_SECKEY, secret);
            value.permissions = Permissions::SECRET;
            value
        }
    };
    let values = vec![
        HandleValue::new(1, types::HS_SITE, site.clone()),
        HandleValue::new(2, types::HS_SITE_PREFIX, site),
        HandleValue::new(100, types::HS_ADMIN, delegation.to_bytes()),
        key_value,
    ];
    resolver
        .handle(Request {
            op: Operation::Create {
                handle: prefix_handle.clone(),
                values,
                overwrite: false,
            },
            identity: Some(Identity(actor)),
            now: crate::core::unix_now(),
        })
        .await
        .map_err(|f| anyhow::anyhow!("cannot create {prefix_handle}: {f}"))?;
    Ok(Delegated {
        prefix_handle: prefix_handle.as_str().to_owned(),
        identity: identity.to_string(),
    })
}

/// Whether `prefix` is `parent` or derived from it (`88.118.8` from `88.118` and `88`).
fn is_derived_from(prefix: &str, parent: &str) -> bool {
    prefix.len() > parent.len()
        && prefix.as_bytes()[parent.len()] == b'.'
        && prefix[..parent.len()].eq_ignore_ascii_case(parent)
}

/// Reads site information: the JSON of a site (the reference server's `siteinfo.json`, or
/// the `site` member of idnode's `GET /api/site` answer), or its binary encoding
/// (`siteinfo.bin`).
pub fn read_site(path: &Path) -> anyhow::Result<SiteInfo> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        let site = json.get("site").unwrap_or(&json);
        return SiteInfo::from_json(site)
            .with_context(|| format!("{} is JSON but not site information", path.display()));
    }
    SiteInfo::from_bytes(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is neither site information JSON nor its binary form: {e}",
            path.display()
        )
    })
}

/// Reads a public key: the JSON that `idnode keygen` prints, a JWK, the binary `HS_PUBKEY`
/// encoding (the reference tools' `pubkey.bin`), or an SM2 public key in PEM.
pub fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        if let Some(b64) = json.get("hs_pubkey_base64").and_then(Value::as_str) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .with_context(|| format!("{}: hs_pubkey_base64 is not base64", path.display()))?;
            return PublicKey::from_bytes(&raw)
                .map_err(|e| anyhow::anyhow!("{}: not a public key: {e}", path.display()));
        }
        let jwk = json
            .pointer("/data/value")
            .filter(|v| v.is_object())
            .unwrap_or(&json);
        return PublicKey::from_jwk(jwk)
            .with_context(|| format!("{} is JSON but not a public key", path.display()));
    }
    PublicKey::from_bytes(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a public key (keygen JSON, JWK, HS_PUBKEY bytes or SM2 PEM): {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_prefixes_are_recognised_by_whole_segments() {
        assert!(is_derived_from("88.118", "88"));
        assert!(is_derived_from("88.118.8", "88"));
        assert!(!is_derived_from("881", "88"));
        assert!(!is_derived_from("88", "88"));
        assert!(!is_derived_from("8", "88"));
    }
}
