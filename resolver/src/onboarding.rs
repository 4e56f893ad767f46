//! Enterprise onboarding (企业入驻, reference design §6.4): applications for an enterprise
//! prefix, their review by a node administrator, and what approval creates.
//!
//! An application names the enterprise (unified social credit code, name, GB/T 4754 class,
//! GB/T 2260 region, address, optional contact) and the prefix it wants, which must lie
//! directly or deeper under a prefix homed here and must not exist yet. Its states follow the
//! SNMS prefix status codes:
//!
//! | state | code | reached by |
//! |---|---|---|
//! | `pending` 待审核 | 4 | applying (again, after a rejection) |
//! | `under_review` 审核中 | 5 | an administrator starts the review |
//! | `rejected` 被驳回 | 3 | an administrator rejects it, with a reason |
//! | `enabled` 启用 | 1 | approval, or enabling a disabled enterprise |
//! | `disabled` 停用 | 0 | an administrator disables it |
//!
//! Applications are aux entries of [`ENT_SPACE`] keyed by the credit code, and each requested
//! prefix is reserved in [`ENT_PREFIX_SPACE`] in the same batch, so two applications cannot
//! hold one prefix. Every state change appends an audit entry in the same batch.
//!
//! Approval runs ordinary pipeline operations as the approving administrator: it creates the
//! prefix handle `0.NA/<prefix>` whose `HS_ADMIN` names `300:<prefix>/ADMIN` (copying the parent
//! prefix handle's `HS_SITE` values), the administrator identity `<prefix>/ADMIN` with the
//! secret the caller generated (stored sealed; the caller shows it once), and the enterprise's
//! own record `<prefix>/E.<USCC>` under the built-in `hazchem.enterprise` template, and homes
//! the prefix if no ancestor is homed. From then on the enterprise administers exactly its own
//! prefix through `HS_ADMIN`; nothing else grants it rights. Each step tolerates a previous
//! partial run, so approving again after a crash completes the work. Disabling removes the
//! administrator's secret key (its tokens stop working with it); enabling stores a new one.

use idnode_proto::{
    AdminPerms, AdminRecord, HandleValue, PREFIX_HANDLE_PREFIX, Permissions, Record, ResponseCode,
    TypeFilter, ValueRef, normalize, types,
};
use idnode_registry::{AuxScan, Expect, Mutation, Store, StoreError, WriteBatch};
use idnode_templates::{builtin, validators};
use serde::{Deserialize, Serialize};

use crate::domain::{AuditEvent, actor_name, audit_mutation};
use crate::op::internal;
use crate::op::{Failure, Identity, Operation, Outcome, Request};
use crate::pipeline::Resolver;

/// The aux space of enterprises, keyed by unified social credit code.
pub const ENT_SPACE: &str = "ent";

/// The aux space of requested prefixes: normalized prefix → credit code.
pub const ENT_PREFIX_SPACE: &str = "ent.prefix";

/// The aux space of disabled enterprise prefixes: normalized prefix → credit code. Their
/// identifiers (and those of prefixes derived from them) resolve nowhere while they are there.
pub const ENT_DISABLED_SPACE: &str = "ent.disabled";

/// The index of an enterprise administrator's secret key.
pub const ENT_ADMIN_KEY_INDEX: u32 = 300;

/// The most enterprises one page lists.
pub const MAX_ENT_PAGE: usize = 500;

/// What an enterprise submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// 统一社会信用代码 (GB 32100).
    pub uscc: String,
    /// 企业名称.
    pub org_name: String,
    /// 国民经济行业代码, a four-level GB/T 4754-2017 class such as `C2614`.
    pub industry_code: String,
    /// 行政区划代码 (GB/T 2260).
    pub region_code: String,
    /// 注册地址.
    pub address: String,
    /// The wanted enterprise prefix, such as `88.118.8`.
    pub prefix: String,
    /// 联系人 (personal data: stored admin-read only on the enterprise record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// 所在化工园区.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chem_park: Option<String>,
}

/// The state of an enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntState {
    /// 停用 (0).
    Disabled,
    /// 启用 (1).
    Enabled,
    /// 被驳回 (3).
    Rejected,
    /// 待审核 (4).
    Pending,
    /// 审核中 (5).
    UnderReview,
}

impl EntState {
    /// The SNMS prefix status code.
    pub fn code(self) -> u8 {
        match self {
            Self::Disabled => 0,
            Self::Enabled => 1,
            Self::Rejected => 3,
            Self::Pending => 4,
            Self::UnderReview => 5,
        }
    }

    /// The state named `text` (`pending`, …) or numbered by its SNMS code.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disabled" | "0" => Self::Disabled,
            "enabled" | "1" => Self::Enabled,
            "rejected" | "3" => Self::Rejected,
            "pending" | "4" => Self::Pending,
            "under_review" | "5" => Self::UnderReview,
            _ => return None,
        })
    }
}

/// One state change in an enterprise's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    /// When, in epoch seconds.
    pub at: u32,
    /// The new state.
    pub state: EntState,
    /// Who made the change.
    pub actor: String,
    /// Why, when a reason was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An enterprise as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enterprise {
    /// What was applied for.
    pub application: Application,
    /// The current state.
    pub state: EntState,
    /// The reason of the last rejection or disabling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The administrator identity, once approved (`300:<prefix>/ADMIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// The enterprise's own record, once approved (`<prefix>/E.<USCC>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Every state change, oldest first.
    pub history: Vec<StateChange>,
}

/// A decision of a node administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// Pending → under review.
    Start,
    /// Pending or under review → enabled, creating the prefix, its administrator (with this
    /// secret) and the enterprise record.
    Approve {
        /// The administrator's new secret.
        admin_secret: Vec<u8>,
    },
    /// Pending or under review → rejected.
    Reject {
        /// Why; required.
        reason: String,
    },
    /// Enabled → disabled: the administrator's secret key is removed.
    Disable {
        /// Why; required.
        reason: String,
    },
    /// Disabled → enabled, with a new administrator secret.
    Enable {
        /// The administrator's new secret.
        admin_secret: Vec<u8>,
    },
}

impl Review {
    fn action(&self) -> &'static str {
        match self {
            Self::Start => "ent_review",
            Self::Approve { .. } => "ent_approve",
            Self::Reject { .. } => "ent_reject",
            Self::Disable { .. } => "ent_disable",
            Self::Enable { .. } => "ent_enable",
        }
    }
}

fn business(message: impl Into<String>) -> Failure {
    Failure::new(ResponseCode::InvalidValue, message)
}

/// Checks the fields of an application that need no store.
fn check_application(app: &Application) -> Result<(), Failure> {
    validators::uscc(&app.uscc).map_err(|e| business(format!("统一社会信用代码 (uscc): {e}")))?;
    let chars = app.org_name.chars().count();
    if chars == 0 || chars > 255 {
        return Err(business("企业名称 (orgName): 1 to 255 characters"));
    }
    validators::industry_class(&app.industry_code)
        .map_err(|e| business(format!("国民经济行业代码 (industryCode): {e}")))?;
    validators::region(&app.region_code)
        .map_err(|e| business(format!("行政区划代码 (regionCode): {e}")))?;
    let chars = app.address.chars().count();
    if chars == 0 || chars > 255 {
        return Err(business("注册地址 (address): 1 to 255 characters"));
    }
    let labels_ok = app.prefix.len() <= 64
        && app.prefix.split('.').count() >= 2
        && app
            .prefix
            .split('.')
            .all(|l| (1..=10).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit()));
    if !labels_ok {
        return Err(business(
            "prefix: dot-separated digit labels of 1 to 10 digits under a secondary prefix, such as 88.118.8",
        ));
    }
    Ok(())
}

impl<S: Store> Resolver<S> {
    /// The enterprise with this credit code, if any (no authorization: for callers that
    /// authorized already).
    fn stored_enterprise(&self, uscc: &str) -> Result<Option<(u64, Enterprise)>, Failure> {
        match self
            .store()
            .aux(ENT_SPACE, uscc.as_bytes())
            .map_err(internal)?
        {
            Some(entry) => {
                let ent = serde_json::from_slice(&entry.value).map_err(|e| {
                    tracing::error!(error = %e, "stored enterprise does not decode");
                    Failure::new(ResponseCode::Error, "Stored enterprise is corrupt")
                })?;
                Ok(Some((entry.version, ent)))
            }
            None => Ok(None),
        }
    }

    /// RC 100 when `prefix`, or a prefix it is derived from, belongs to a disabled enterprise
    /// (停用): its identifiers resolve nowhere until it is enabled again.
    pub(crate) fn check_not_disabled(&self, prefix: &str) -> Result<(), Failure> {
        let mut candidate = prefix;
        loop {
            if self
                .store()
                .aux(ENT_DISABLED_SPACE, &normalize(candidate))
                .map_err(internal)?
                .is_some()
            {
                return Err(Failure::new(
                    ResponseCode::HandleNotFound,
                    format!("prefix {candidate} is disabled (停用)"),
                ));
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => return Ok(()),
            }
        }
    }

    /// Whether a strict ancestor of `prefix` is homed here.
    fn under_homed_prefix(&self, prefix: &str) -> Result<bool, Failure> {
        let mut candidate = prefix;
        while let Some(dot) = candidate.rfind('.') {
            candidate = &candidate[..dot];
            if self.store().is_homed(candidate).map_err(internal)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Submits an application (anyone may apply; RC 202 for invalid fields, a prefix that is
    /// not under a prefix of this node, a prefix taken or requested, or a credit code with an
    /// application that is not rejected).
    pub async fn apply_enterprise(
        &self,
        identity: Option<&Identity>,
        app: Application,
        now: u32,
    ) -> Result<Enterprise, Failure> {
        check_application(&app)?;
        if !self.under_homed_prefix(&app.prefix)? {
            return Err(business(format!(
                "prefix {} does not lie under a prefix served by this node",
                app.prefix
            )));
        }
        let prefix_handle = format!("{PREFIX_HANDLE_PREFIX}/{}", app.prefix);
        if self
            .store()
            .get(&normalize(&prefix_handle))
            .map_err(internal)?
            .is_some()
        {
            return Err(business(format!(
                "prefix {} is already allocated",
                app.prefix
            )));
        }
        // Re-applying after a rejection keeps the earlier history.
        let mut history = Vec::new();
        let expect = match self.stored_enterprise(&app.uscc)? {
            None => Expect::Absent,
            Some((version, existing)) if existing.state == EntState::Rejected => {
                history = existing.history;
                Expect::Version(version)
            }
            Some(_) => {
                return Err(business(format!(
                    "enterprise {} has already applied",
                    app.uscc
                )));
            }
        };
        let actor = actor_name(identity);
        history.push(StateChange {
            at: now,
            state: EntState::Pending,
            actor: actor.clone(),
            reason: None,
        });
        let enterprise = Enterprise {
            application: app.clone(),
            state: EntState::Pending,
            reason: None,
            admin: None,
            record: None,
            history,
        };
        let batch = WriteBatch {
            mutations: vec![
                Mutation::PutAux {
                    space: ENT_SPACE.to_owned(),
                    key: app.uscc.as_bytes().to_vec(),
                    value: encode(&enterprise),
                    expect,
                },
                Mutation::PutAux {
                    space: ENT_PREFIX_SPACE.to_owned(),
                    key: normalize(&app.prefix),
                    value: app.uscc.as_bytes().to_vec(),
                    expect: Expect::Absent,
                },
                audit_mutation(&AuditEvent {
                    seq: 0,
                    at: now,
                    actor,
                    action: "ent_apply".to_owned(),
                    target: format!("ent:{}", app.uscc),
                    prefix: app.prefix.clone(),
                    detail: app.org_name.clone(),
                }),
            ],
        };
        match self.store().commit(batch).await {
            Ok(()) => Ok(enterprise),
            Err(StoreError::Conflict { handle }) if handle.starts_with(ENT_PREFIX_SPACE) => Err(
                business(format!("prefix {} has already been requested", app.prefix)),
            ),
            Err(StoreError::Conflict { .. }) => Err(business(format!(
                "enterprise {} has already applied",
                app.uscc
            ))),
            Err(e) => Err(internal(e)),
        }
    }

    /// The enterprise with this credit code, for server administrators, auditors and the
    /// enterprise's own administrator (RC 402 for anyone else, RC 100 when unknown).
    pub fn enterprise(
        &self,
        identity: Option<&Identity>,
        uscc: &str,
    ) -> Result<Enterprise, Failure> {
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        let Some((_, ent)) = self.stored_enterprise(uscc)? else {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("no enterprise {uscc}"),
            ));
        };
        let own = ent
            .admin
            .as_deref()
            .and_then(ValueRef::parse)
            .is_some_and(|admin| admin.handle.eq_ignore_ascii_case(&identity.0.handle));
        if own || self.is_server_admin(identity) || self.is_auditor(identity) {
            Ok(ent)
        } else {
            Err(Failure::new(
                ResponseCode::InvalidAdmin,
                "only node administrators, auditors and the enterprise itself may read it",
            ))
        }
    }

    /// The enterprise that requested or holds `prefix`, for the same readers as
    /// [`Resolver::enterprise`]; RC 100 when no enterprise requested the prefix.
    pub fn enterprise_of_prefix(
        &self,
        identity: Option<&Identity>,
        prefix: &str,
    ) -> Result<Enterprise, Failure> {
        let entry = self
            .store()
            .aux(ENT_PREFIX_SPACE, &normalize(prefix))
            .map_err(internal)?;
        let Some(entry) = entry else {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("prefix {prefix} is neither requested nor allocated"),
            ));
        };
        self.enterprise(identity, &String::from_utf8_lossy(&entry.value))
    }

    /// Enterprises in credit-code order, optionally only those in `state`, with the total that
    /// match; server administrators and auditors only.
    pub fn enterprises(
        &self,
        identity: Option<&Identity>,
        state: Option<EntState>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Enterprise>), Failure> {
        self.require_admin_or_auditor(identity)?;
        let limit = limit.min(MAX_ENT_PAGE);
        let mut total = 0;
        let mut page = Vec::new();
        self.scan_enterprises(|ent| {
            if state.is_some_and(|s| s != ent.state) {
                return;
            }
            if total >= offset && page.len() < limit {
                page.push(ent);
            }
            total += 1;
        })?;
        Ok((total, page))
    }

    /// Calls `f` with every enterprise record, in credit-code order.
    pub(crate) fn scan_enterprises(&self, mut f: impl FnMut(Enterprise)) -> Result<(), Failure> {
        let mut start = Vec::new();
        loop {
            let chunk = self
                .store()
                .scan_aux(ENT_SPACE, &AuxScan::range(&start, None, 512))
                .map_err(internal)?;
            for (_, entry) in &chunk {
                if let Ok(ent) = serde_json::from_slice::<Enterprise>(&entry.value) {
                    f(ent);
                }
            }
            match chunk.last() {
                Some((key, _)) if chunk.len() == 512 => {
                    start = key.clone();
                    start.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    /// Applies a node administrator's decision (RC 402 for anyone else; RC 202 when the
    /// decision does not fit the current state or lacks a reason).
    pub async fn review_enterprise(
        &self,
        identity: Option<&Identity>,
        uscc: &str,
        review: Review,
        now: u32,
    ) -> Result<Enterprise, Failure> {
        self.require_server_admin(identity)?;
        let Some((version, mut ent)) = self.stored_enterprise(uscc)? else {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("no enterprise {uscc}"),
            ));
        };
        let from = ent.state;
        let wrong_state = || {
            business(format!(
                "enterprise {uscc} is {from:?}; this decision does not apply"
            ))
        };
        let reason_of = |reason: &str| -> Result<String, Failure> {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 1000 {
                return Err(business("a reason of 1 to 1000 characters is required"));
            }
            Ok(reason.to_owned())
        };
        let mut extra = Vec::new();
        let (to, reason) = match &review {
            Review::Start if from == EntState::Pending => (EntState::UnderReview, None),
            Review::Reject { reason }
                if matches!(from, EntState::Pending | EntState::UnderReview) =>
            {
                // The prefix becomes free for other applications.
                extra.push(Mutation::DeleteAux {
                    space: ENT_PREFIX_SPACE.to_owned(),
                    key: normalize(&ent.application.prefix),
                    expect: Expect::Any,
                });
                (EntState::Rejected, Some(reason_of(reason)?))
            }
            Review::Approve { admin_secret }
                if matches!(from, EntState::Pending | EntState::UnderReview) =>
            {
                let (admin, record) = self
                    .provision_enterprise(identity, &ent.application, admin_secret, now)
                    .await?;
                ent.admin = Some(admin);
                ent.record = Some(record);
                (EntState::Enabled, None)
            }
            Review::Disable { reason } if from == EntState::Enabled => {
                let reason = reason_of(reason)?;
                self.run(
                    identity,
                    now,
                    Operation::RemoveValues {
                        handle: self.parse_handle(&admin_handle(&ent.application.prefix))?,
                        indexes: vec![ENT_ADMIN_KEY_INDEX],
                    },
                )
                .await
                .or_else(|f| {
                    if f.rc == ResponseCode::ValuesNotFound {
                        Ok(Outcome::Prefixes(Vec::new()))
                    } else {
                        Err(f)
                    }
                })?;
                // Its identifiers stop resolving; the unhoming (idempotent) also tells every
                // answer cache to drop what it holds.
                extra.push(Mutation::PutAux {
                    space: ENT_DISABLED_SPACE.to_owned(),
                    key: normalize(&ent.application.prefix),
                    value: uscc.as_bytes().to_vec(),
                    expect: Expect::Any,
                });
                extra.push(Mutation::UnhomePrefix {
                    prefix: ent.application.prefix.clone(),
                });
                (EntState::Disabled, Some(reason))
            }
            Review::Enable { admin_secret } if from == EntState::Disabled => {
                self.run(
                    identity,
                    now,
                    Operation::AddValues {
                        handle: self.parse_handle(&admin_handle(&ent.application.prefix))?,
                        values: vec![secret_value(admin_secret)],
                        overwrite: true,
                    },
                )
                .await?;
                extra.push(Mutation::DeleteAux {
                    space: ENT_DISABLED_SPACE.to_owned(),
                    key: normalize(&ent.application.prefix),
                    expect: Expect::Any,
                });
                // Homed again as on approval: when no ancestor is.
                if !self.under_homed_prefix(&ent.application.prefix)? {
                    extra.push(Mutation::HomePrefix {
                        prefix: ent.application.prefix.clone(),
                    });
                }
                (EntState::Enabled, None)
            }
            _ => return Err(wrong_state()),
        };
        let actor = actor_name(identity);
        ent.state = to;
        if reason.is_some() {
            ent.reason.clone_from(&reason);
        }
        ent.history.push(StateChange {
            at: now,
            state: to,
            actor: actor.clone(),
            reason: reason.clone(),
        });
        let mut mutations = vec![
            Mutation::PutAux {
                space: ENT_SPACE.to_owned(),
                key: uscc.as_bytes().to_vec(),
                value: encode(&ent),
                expect: Expect::Version(version),
            },
            audit_mutation(&AuditEvent {
                seq: 0,
                at: now,
                actor,
                action: review.action().to_owned(),
                target: format!("ent:{uscc}"),
                prefix: ent.application.prefix.clone(),
                detail: reason.unwrap_or_default(),
            }),
        ];
        mutations.extend(extra);
        match self.store().commit(WriteBatch { mutations }).await {
            Ok(()) => Ok(ent),
            Err(StoreError::Conflict { .. }) => Err(Failure::new(
                ResponseCode::ServerTooBusy,
                format!("enterprise {uscc} changed concurrently; try again"),
            )),
            Err(e) => Err(internal(e)),
        }
    }

    async fn run(
        &self,
        identity: Option<&Identity>,
        now: u32,
        op: Operation,
    ) -> Result<Outcome, Failure> {
        self.execute(Request {
            op,
            identity: identity.cloned(),
            now,
        })
        .await
    }

    /// Creates the prefix handle, the administrator identity and the enterprise record, and
    /// homes the prefix when needed. Returns the administrator and the record handle.
    async fn provision_enterprise(
        &self,
        identity: Option<&Identity>,
        app: &Application,
        admin_secret: &[u8],
        now: u32,
    ) -> Result<(String, String), Failure> {
        if admin_secret.is_empty() {
            return Err(business("the administrator secret is empty"));
        }
        let prefix = &app.prefix;
        if !self.under_homed_prefix(prefix)? && !self.store().is_homed(prefix).map_err(internal)? {
            self.run(
                identity,
                now,
                Operation::Home {
                    prefix: prefix.clone(),
                },
            )
            .await?;
        }
        let admin_ref = ValueRef {
            handle: admin_handle(prefix),
            index: ENT_ADMIN_KEY_INDEX,
        };
        let full = AdminRecord {
            perms: AdminPerms::ALL,
            admin: admin_ref.clone(),
        };
        // The prefix handle, with the parent's site information.
        let mut prefix_values = vec![HandleValue::new(100, types::HS_ADMIN, full.to_bytes())];
        if let Some(dot) = prefix.rfind('.') {
            let parent =
                self.parse_handle(&format!("{PREFIX_HANDLE_PREFIX}/{}", &prefix[..dot]))?;
            if let Ok(Outcome::Values { values, .. }) = self
                .run(
                    identity,
                    now,
                    Operation::Resolve {
                        handle: parent,
                        filter: TypeFilter::default(),
                        public_only: true,
                        refer: true,
                        recurse: None,
                    },
                )
                .await
                && let Ok(record) = Record::parse(&values)
            {
                for value in record.iter() {
                    if value
                        .value_type()
                        .eq_ignore_ascii_case(types::HS_SITE.as_bytes())
                        && let Ok(site) = value.decode()
                    {
                        prefix_values.push(site);
                    }
                }
            }
        }
        self.run(
            identity,
            now,
            Operation::Create {
                handle: self.parse_handle(&format!("{PREFIX_HANDLE_PREFIX}/{prefix}"))?,
                values: prefix_values,
                overwrite: true,
            },
        )
        .await?;
        // The administrator identity.
        self.run(
            identity,
            now,
            Operation::Create {
                handle: self.parse_handle(&admin_ref.handle)?,
                values: vec![
                    HandleValue::new(100, types::HS_ADMIN, full.to_bytes()),
                    secret_value(admin_secret),
                ],
                overwrite: true,
            },
        )
        .await?;
        // The enterprise record under the enterprise template.
        let template = builtin::enterprise();
        let record_handle = format!("{prefix}/E.{}", app.uscc);
        let item = |id_type: &str, text: &str| -> Result<HandleValue, Failure> {
            let item = template.item_by_type(id_type).ok_or_else(|| {
                Failure::new(
                    ResponseCode::Error,
                    format!("enterprise template lacks {id_type}"),
                )
            })?;
            Ok(HandleValue::new(item.index, id_type, text))
        };
        let mut values = vec![
            HandleValue::new(100, types::HS_ADMIN, full.to_bytes()),
            template.link_value(),
            item("uscc", &app.uscc)?,
            item("orgName", &app.org_name)?,
            item("industryCode", &app.industry_code)?,
            item("regionCode", &app.region_code)?,
            item("address", &app.address)?,
        ];
        if let Some(park) = &app.chem_park {
            values.push(item("chemPark", park)?);
        }
        if let Some(contact) = &app.contact {
            let mut value = item("contact", contact)?;
            value.permissions = Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE);
            values.push(value);
        }
        self.run(
            identity,
            now,
            Operation::Create {
                handle: self.parse_handle(&record_handle)?,
                values,
                overwrite: true,
            },
        )
        .await?;
        Ok((admin_ref.to_string(), record_handle))
    }
}

/// The administrator handle of an enterprise prefix.
pub fn admin_handle(prefix: &str) -> String {
    format!("{prefix}/ADMIN")
}

fn secret_value(secret: &[u8]) -> HandleValue {
    let mut key = HandleValue::new(ENT_ADMIN_KEY_INDEX, types::HS_SECKEY, secret.to_vec());
    key.permissions = Permissions::SECRET;
    key
}

fn encode(ent: &Enterprise) -> Vec<u8> {
    // An enterprise holds only strings, integers and enums, so serialisation cannot fail.
    serde_json::to_vec(ent).unwrap_or_default()
}
