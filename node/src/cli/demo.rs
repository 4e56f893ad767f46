//! `idnode demo`: seeds a data directory with a small hazardous-chemicals node to try things on.
//!
//! It homes the secondary prefix `88.118`, creates the node administrator `300:88.118/ADMIN`
//! and the auditor `300:88.118/AUDITOR`, onboards a demo enterprise (application, review,
//! approval: prefix `88.118.8`, administrator `300:88.118.8/ADMIN`, record
//! `88.118.8/E.<USCC>`), imports the products of `data/chemicals.csv` under it, adds equipment,
//! batches and shipments, and writes `idnode.toml` (with the administrators and the auditor) and
//! the three secrets into the data directory. Everything goes through the pipeline, so the demo
//! data is validated and audited like any other. Finally it prints what to try.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idnode_proto::{AdminPerms, AdminRecord, Handle, HandleValue, Permissions, ValueRef, types};
use idnode_resolver::{Application, Identity, Operation, Request, Review};
use idnode_templates::builtin;
use rand::RngCore as _;
use rand::rngs::OsRng;

use crate::cli::import::{self, ImportOptions, ImportSummary};
use crate::config::Config;
use crate::core::Core;
use crate::keys::write_private;

/// The secondary prefix the demo node serves.
pub const DEMO_SECONDARY: &str = "88.118";
/// The demo enterprise's prefix.
pub const DEMO_PREFIX: &str = "88.118.8";
/// The demo enterprise's unified social credit code.
pub const DEMO_USCC: &str = "91350100M000100Y43";

/// What the demo created.
#[derive(Debug)]
pub struct Seeded {
    /// The configuration file to serve with.
    pub config_file: PathBuf,
    /// The products import.
    pub products: ImportSummary,
    /// The node administrator's secret.
    pub admin_secret: String,
    /// The auditor's secret.
    pub auditor_secret: String,
    /// The enterprise administrator's secret.
    pub enterprise_secret: String,
    /// What to try, as text.
    pub instructions: String,
}

fn secret() -> String {
    let mut raw = [0u8; 18];
    OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Seeds `config.data` with the demo, importing products from `chemicals`.
pub async fn run(mut config: Config, chemicals: &Path, progress: bool) -> anyhow::Result<Seeded> {
    let data = config.data.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let data = data
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", data.display()))?;
    config.data = data.clone();
    let config_file = data.join("idnode.toml");
    if config_file.exists() {
        bail!(
            "{} exists: this data directory was seeded already; use a new directory",
            config_file.display()
        );
    }
    let admin = format!("300:{DEMO_SECONDARY}/ADMIN");
    let auditor = format!("300:{DEMO_SECONDARY}/AUDITOR");
    config.auth.server_admins.push(admin.clone());
    config.auth.auditors.push(auditor.clone());
    config.http.allow_loopback_plain_writes = true;
    let state = Core::open(config.clone().without_quotas())?;
    let now = crate::core::unix_now();
    let resolver = &state.resolver;
    resolver
        .install_builtin_templates(now)
        .await
        .map_err(|f| anyhow::anyhow!("cannot install templates: {f}"))?;
    let admin_id = Identity(ValueRef::parse(&admin).context("admin identity")?);
    let run = |op: Operation| {
        resolver.handle(Request {
            op,
            identity: Some(admin_id.clone()),
            now,
        })
    };
    let fail =
        |what: &'static str| move |f: idnode_resolver::Failure| anyhow::anyhow!("{what}: {f}");

    // The secondary prefix, the node administrator and the auditor.
    run(Operation::Home {
        prefix: DEMO_SECONDARY.to_owned(),
    })
    .await
    .map_err(fail("homing 88.118"))?;
    let full = |who: &str| -> anyhow::Result<HandleValue> {
        let record = AdminRecord {
            perms: AdminPerms::ALL,
            admin: ValueRef::parse(who).context("admin reference")?,
        };
        Ok(HandleValue::new(100, types::HS_ADMIN, record.to_bytes()))
    };
    let site = crate::site::site_info(&state);
    run(Operation::Create {
        handle: Handle::prefix_handle(DEMO_SECONDARY)?,
        values: vec![
            full(&admin)?,
            HandleValue::new(1, types::HS_SITE, site.to_bytes()),
        ],
        overwrite: true,
    })
    .await
    .map_err(fail("creating 0.NA/88.118"))?;
    let admin_secret = secret();
    let auditor_secret = secret();
    for (who, secret) in [(&admin, &admin_secret), (&auditor, &auditor_secret)] {
        let id = ValueRef::parse(who).context("identity")?;
        let mut key = HandleValue::new(id.index, types::HS_SECKEY, secret.as_bytes().to_vec());
        key.permissions = Permissions::SECRET;
        run(Operation::Create {
            handle: resolver
                .parse_handle(&id.handle)
                .map_err(fail("identity handle"))?,
            values: vec![full(&admin)?, key],
            overwrite: true,
        })
        .await
        .map_err(fail("creating an identity"))?;
    }

    // The enterprise: application, review, approval.
    let application = Application {
        uscc: DEMO_USCC.to_owned(),
        org_name: "福建示范化工有限公司 (demo)".to_owned(),
        industry_code: "C2614".to_owned(),
        region_code: "350100".to_owned(),
        address: "福建省福州市示范化工园区1号".to_owned(),
        prefix: DEMO_PREFIX.to_owned(),
        contact: Some("张三 138-0000-0000".to_owned()),
        chem_park: Some("福州示范化工园区".to_owned()),
    };
    resolver
        .apply_enterprise(None, application, now)
        .await
        .map_err(fail("applying"))?;
    resolver
        .review_enterprise(Some(&admin_id), DEMO_USCC, Review::Start, now)
        .await
        .map_err(fail("starting the review"))?;
    let enterprise_secret = secret();
    let ent = resolver
        .review_enterprise(
            Some(&admin_id),
            DEMO_USCC,
            Review::Approve {
                admin_secret: enterprise_secret.clone().into_bytes(),
            },
            now,
        )
        .await
        .map_err(fail("approving"))?;
    let ent_record = ent.record.clone().unwrap_or_default();
    let ent_admin = Identity(
        ValueRef::parse(ent.admin.as_deref().unwrap_or_default())
            .context("enterprise administrator")?,
    );

    // Products from the chemicals file, as the enterprise.
    let products = import::import_file(
        &state,
        &ent_admin,
        &ImportOptions {
            template: "hazchem.product".to_owned(),
            prefix: Some(DEMO_PREFIX.to_owned()),
            file: chemicals.to_path_buf(),
            set: vec![("manufacturer".to_owned(), ent_record.clone())],
            report: None,
            progress,
        },
    )
    .await?;

    seed_operations(&state, &ent_admin, &ent_record, now).await?;

    // The configuration and the secrets.
    let mut toml = String::new();
    writeln!(toml, "# Written by idnode demo.")?;
    writeln!(toml, "data = {:?}", data.display().to_string())?;
    writeln!(
        toml,
        "\n[http]\nlisten = \"127.0.0.1:8000\"\nallow_loopback_plain_writes = true"
    )?;
    writeln!(toml, "\n[https]\nlisten = \"127.0.0.1:8443\"")?;
    writeln!(
        toml,
        "\n[auth]\nserver_admins = [{admin:?}]\nauditors = [{auditor:?}]"
    )?;
    std::fs::write(&config_file, toml)
        .with_context(|| format!("cannot write {}", config_file.display()))?;
    let secrets = data.join("demo-secrets");
    for (name, value) in [
        ("node-admin", &admin_secret),
        ("auditor", &auditor_secret),
        ("enterprise-admin", &enterprise_secret),
    ] {
        write_private(&secrets.join(name), value.as_bytes())?;
    }
    let instructions = instructions(
        &config_file,
        &ent_record,
        &enterprise_secret,
        &admin_secret,
        &auditor_secret,
    );
    Ok(Seeded {
        config_file,
        products,
        admin_secret,
        auditor_secret,
        enterprise_secret,
        instructions,
    })
}

/// Equipment, batches and shipments of the demo enterprise.
async fn seed_operations(
    state: &Arc<Core>,
    who: &Identity,
    ent_record: &str,
    now: u32,
) -> anyhow::Result<()> {
    let resolver = &state.resolver;
    let create = |handle: String,
                  template: &'static idnode_templates::Template,
                  items: Vec<(&'static str, String)>| {
        async move {
            let mut values = vec![template.link_value()];
            for (id_type, text) in items {
                let item = template
                    .item_by_type(id_type)
                    .with_context(|| format!("{} has no item {id_type}", template.name))?;
                values.push(HandleValue::new(item.index, id_type, text));
            }
            resolver
                .handle(Request {
                    op: Operation::Create {
                        handle: resolver
                            .parse_handle(&handle)
                            .map_err(|f| anyhow::anyhow!("{handle}: {f}"))?,
                        values,
                        overwrite: true,
                    },
                    identity: Some(who.clone()),
                    now,
                })
                .await
                .map_err(|f| anyhow::anyhow!("{handle}: {f}"))?;
            anyhow::Ok(handle)
        }
    };
    let p = DEMO_PREFIX;
    for (tag, kind) in [("T-101", "储罐"), ("R-201", "反应釜")] {
        create(
            format!("{p}/Q.{tag}"),
            builtin::equipment(),
            vec![
                ("equipmentType", kind.to_owned()),
                ("tagNo", tag.to_owned()),
                ("owner", ent_record.to_owned()),
                ("lastInspection", "2024-03-15".to_owned()),
                ("nextInspection", "2025-03-15".to_owned()),
            ],
        )
        .await?;
    }
    let mut batches = Vec::new();
    for (cas, batch_no, quantity) in [
        ("67-64-1", "20240601-A", "200"),
        ("67-56-1", "20240602-B", "180"),
        ("64-17-5", "20240603-C", "160"),
    ] {
        let product = format!("{p}/P.{cas}");
        let parsed = resolver
            .parse_handle(&product)
            .map_err(|f| anyhow::anyhow!("{}", f.message))?;
        if !resolver
            .exists(&parsed)
            .map_err(|f| anyhow::anyhow!("{}", f.message))?
        {
            continue;
        }
        let handle = create(
            format!("{p}/B.{cas}.{batch_no}"),
            builtin::batch(),
            vec![
                ("product", product),
                ("batchNo", batch_no.to_owned()),
                ("productionDate", "2024-06-01".to_owned()),
                ("netQuantity", quantity.to_owned()),
                ("quantityUnit", "kg".to_owned()),
                ("packageCode", "1A1".to_owned()),
                ("packingGroup", "II".to_owned()),
            ],
        )
        .await?;
        batches.push(handle);
    }
    create(
        format!("{p}/W.350100202406050001"),
        builtin::shipment(),
        vec![
            ("waybillNo", "350100202406050001".to_owned()),
            ("consignor", ent_record.to_owned()),
            ("carrier", ent_record.to_owned()),
            ("consignee", ent_record.to_owned()),
            ("vehicle", "闽A12345".to_owned()),
            ("unNo", "UN1090".to_owned()),
            ("origin", "福建省福州市示范化工园区1号".to_owned()),
            ("destination", "福建省厦门市海沧区示范路8号".to_owned()),
            ("status", "in_transit".to_owned()),
            (
                "batches",
                serde_json::to_string(&batches).unwrap_or_default(),
            ),
            ("quantity", "200".to_owned()),
            ("quantityUnit", "kg".to_owned()),
        ],
    )
    .await?;
    Ok(())
}

fn instructions(
    config: &Path,
    ent_record: &str,
    ent_secret: &str,
    admin_secret: &str,
    auditor_secret: &str,
) -> String {
    let base = "http://127.0.0.1:8000";
    format!(
        r#"Start the node:

  idnode serve --config {config}

Then, in another terminal (plain HTTP is accepted from loopback in this demo configuration;
use https://127.0.0.1:8443 with curl -k otherwise):

  # Resolve a product, public values only (handle.net API and SNMS API)
  curl -s '{base}/api/handles/88.118.8/P.67-64-1?pretty'
  curl -s '{base}/identityv2/data/detail?handle=88.118.8/P.67-64-1'

  # Log in as the enterprise and register a product; a bad CAS number is refused with the item and rule
  TOKEN=$(curl -s -X POST {base}/identity/token -H 'Content-Type: application/json' \
    -d '{{"username":"300:88.118.8/ADMIN","password":"{ent_secret}"}}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  curl -s -X POST {base}/identityv2/data -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{{"handle":"88.118.8/P.demo-1","templateVersion":"hazchem.product@1","value":[
         {{"index":2000,"type":"productName","data":{{"format":"string","value":"丙酮 (demo)"}}}},
         {{"index":2001,"type":"casNo","data":{{"format":"string","value":"[\"67-64-2\"]"}}}},
         {{"index":2010,"type":"manufacturer","data":{{"format":"string","value":"{ent_record}"}}}}]}}'

  # The templates, and the enterprise record with its restricted contact (the enterprise reads it)
  curl -s '{base}/snms/api/v5/template?name=hazchem.product'
  curl -s '{base}/identityv2/data/detail?handle={ent_record}' -H "Authorization: Bearer $TOKEN"

  # A batch, an item of equipment and a shipment
  curl -s '{base}/identityv2/data/detail?handle=88.118.8/B.67-64-1.20240601-A'
  curl -s '{base}/identityv2/data/detail?handle=88.118.8/Q.T-101'
  curl -s '{base}/identityv2/data/detail?handle=88.118.8/W.350100202406050001'

  # The node administrator: enterprises and the audit log
  curl -s -u '300%3A88.118%2FADMIN:{admin_secret}' '{base}/snms/api/v3/ent/page'
  curl -s -u '300%3A88.118%2FADMIN:{admin_secret}' '{base}/snms/api/v5/audit?prefix=88.118.8&limit=5'

  # The auditor reads restricted values; the read itself is audited
  curl -s -u '300%3A88.118%2FAUDITOR:{auditor_secret}' '{base}/identityv2/data/detail?handle={ent_record}'
  curl -s -u '300%3A88.118%2FADMIN:{admin_secret}' '{base}/snms/api/v5/audit?action=auditor_read'
"#,
        config = config.display()
    )
}
