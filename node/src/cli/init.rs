//! `idnode init`: homes a prefix and creates its prefix handle and administrator identity.
//!
//! Everything goes through the same pipeline as any request, with the new administrator acting
//! as a server administrator for the duration of the command: the operator running `init` on
//! the node's own data directory is trusted, as is anyone who can write that directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idnode_proto::{AdminPerms, AdminRecord, Handle, HandleValue, Permissions, ValueRef, types};
use idnode_resolver::{Identity, Operation, Request};
use rand::RngCore as _;
use rand::rngs::OsRng;

use crate::config::Config;
use crate::core::Core;
use crate::keys::write_private;

/// The index of the administrator's secret key, as in the reference tools.
const ADMIN_KEY_INDEX: u32 = 300;

/// What `init` created.
#[derive(Debug)]
pub struct Initialized {
    /// The administrator identity, `300:<prefix>/ADMIN`.
    pub admin: String,
    /// Where the generated secret was written, if one was generated.
    pub secret_file: Option<PathBuf>,
}

/// Runs `idnode init`.
pub async fn run(
    mut config: Config,
    prefix: &str,
    secret_file: Option<&Path>,
) -> anyhow::Result<Initialized> {
    Handle::prefix_handle(prefix).map_err(|e| anyhow::anyhow!("invalid prefix {prefix:?}: {e}"))?;
    let admin_handle = format!("{prefix}/ADMIN");
    let admin_ref = ValueRef {
        handle: admin_handle.clone(),
        index: ADMIN_KEY_INDEX,
    };
    let (secret, generated) = match secret_file {
        Some(path) => (super::read_secret_file(path)?, None),
        None => {
            let mut bytes = [0u8; 24];
            OsRng.fill_bytes(&mut bytes);
            let secret = URL_SAFE_NO_PAD.encode(bytes).into_bytes();
            let path = config
                .data
                .join(format!("admin-secret-{}", prefix.replace('/', "_")));
            (secret, Some(path))
        }
    };
    config.auth.server_admins.push(admin_ref.to_string());
    let state = Core::open(config.without_quotas())?;
    let resolver = &state.resolver;
    let bootstrap = Some(Identity(admin_ref.clone()));
    let now = crate::core::unix_now();
    let run = |op| {
        resolver.handle(Request {
            op,
            identity: bootstrap.clone(),
            now,
        })
    };

    let admin_handle_parsed = resolver
        .parse_handle(&admin_handle)
        .map_err(|f| anyhow::anyhow!("{}", f.message))?;
    let exists = resolver
        .exists(&admin_handle_parsed)
        .map_err(|f| anyhow::anyhow!("cannot read the database: {}", f.message))?;
    if exists {
        bail!(
            "{admin_handle} already exists in {}: this prefix is initialised",
            state.config.data.display()
        );
    }
    // Refuse before creating anything: the new secret could not be saved at the end, leaving
    // an administrator nobody knows the secret of.
    if let Some(path) = &generated
        && path.exists()
    {
        bail!(
            "{} already exists: move it away, or pass it with --admin-secret-file",
            path.display()
        );
    }
    run(Operation::Home {
        prefix: prefix.to_owned(),
    })
    .await
    .map_err(|f| anyhow::anyhow!("cannot home {prefix}: {f}"))?;

    let full = AdminRecord {
        perms: AdminPerms::ALL,
        admin: admin_ref.clone(),
    };
    let site = crate::site::site_info(&state);
    let prefix_values = vec![
        HandleValue::new(100, types::HS_ADMIN, full.to_bytes()),
        HandleValue::new(1, types::HS_SITE, site.to_bytes()),
    ];
    let prefix_handle = Handle::prefix_handle(prefix).map_err(|e| anyhow::anyhow!("{e}"))?;
    run(Operation::Create {
        handle: prefix_handle,
        values: prefix_values,
        overwrite: true,
    })
    .await
    .map_err(|f| anyhow::anyhow!("cannot create the prefix handle: {f}"))?;

    let mut key = HandleValue::new(ADMIN_KEY_INDEX, types::HS_SECKEY, secret.clone());
    key.permissions = Permissions::SECRET;
    let admin_values = vec![HandleValue::new(100, types::HS_ADMIN, full.to_bytes()), key];
    run(Operation::Create {
        handle: admin_handle_parsed,
        values: admin_values,
        overwrite: false,
    })
    .await
    .map_err(|f| anyhow::anyhow!("cannot create {admin_handle}: {f}"))?;

    if let Some(path) = &generated {
        write_private(path, &secret)
            .with_context(|| format!("cannot write the admin secret to {}", path.display()))?;
    }
    Ok(Initialized {
        admin: admin_ref.to_string(),
        secret_file: generated,
    })
}
