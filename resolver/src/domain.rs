//! The hazardous-chemicals domain in the pipeline: metadata templates kept as auxiliary store
//! entries, the template step that every write runs through, and the append-only audit log.
//!
//! **Templates.** Every version of a template is one entry of the aux space
//! [`TEMPLATE_SPACE`], keyed `name ‖ 0x00 ‖ version` (big-endian `u32`), whose value is the JSON
//! of a [`StoredTemplate`]. Versions are immutable: a new version is written with
//! `Expect::Absent` after [`idnode_templates::evolve`] accepted it; withdrawing a version only
//! sets its `withdrawn` flag. The built-in templates of [`idnode_templates::builtin`] are
//! always available, whether or not [`Resolver::install_builtin_templates`] has stored them; a
//! stored entry of the same name and version takes precedence.
//!
//! **The template step.** A write is validated against a template when its new record carries
//! a value at index 1001, or when the record it replaces did (so a record cannot drop its
//! template by removing the link). The value must be of type `TEMPLATE` and name an existing,
//! not withdrawn `name@version` whose owning prefix, if any, is the handle's prefix or an
//! ancestor of it; then [`idnode_templates::validate`] checks the record, with handle
//! references answered by the store. Records without a link are not checked: prefix handles,
//! identities and generic handles stay writable as before. Every violation fails the write
//! with RC 202 (INVALID_VALUE), the message naming the item and the rule. The step runs after
//! authorization and before the commit, for every operation that writes values (create,
//! replace, add, modify, remove), whatever the interface.
//!
//! **The audit log.** Every write of the pipeline appends an [`AuditEvent`] to the aux space
//! [`AUDIT_SPACE`] in the same batch as the change, so a change and its audit entry commit
//! together or not at all. Keys are the time (`u64` big-endian seconds) followed by the
//! store's sequence number, so the log is ordered by time. Reads by auditors are audited too.
//! A bulk import through [`Resolver::handle_batch`] with a [`crate::BatchSummary`] writes one
//! entry (action `import`) per transaction, actor and prefix instead of one per record, naming
//! every handle it created or replaced; it commits in the same transaction as those writes and
//! describes exactly the ones that applied (see the `batch` module).
//! [`Resolver::audit_log`] answers queries by actor, prefix, action and time, for server
//! administrators and auditors only.

use std::sync::Arc;

use idnode_proto::{
    AdminPerms, Handle, HandleValue, PREFIX_HANDLE_PREFIX, ResponseCode, normalize,
};
use idnode_registry::{AuxScan, Expect, Mutation, Store, StoreError, WriteBatch};
use idnode_templates::{
    Date, EvolveError, LookupError, TEMPLATE_INDEX, TEMPLATE_TYPE, Template, builtin, evolve,
    parse_link, validate,
};

use crate::authz::Authorizer;
use crate::op::{Failure, Identity, Outcome, internal};
use crate::pipeline::Resolver;
pub use crate::records::{
    AUDIT_SPACE, AuditCursor, AuditEvent, AuditPage, AuditQuery, MAX_AUDIT_PAGE, StoredTemplate,
    TEMPLATE_SPACE, actor_name, audit_mutation, has_same_content, is_under, prefix_of,
    template_key,
};
use crate::records::{
    MAX_AUDIT_SCAN, cursor_of, decode_template, denied, encode_template, invalid, matches,
};

impl<S: Store> Resolver<S> {
    /// Whether the identity is one of the configured auditors.
    pub fn is_auditor(&self, identity: &Identity) -> bool {
        self.config().auditors.iter().any(|auditor| {
            auditor.handle.eq_ignore_ascii_case(&identity.0.handle)
                && (auditor.index == 0 || auditor.index == identity.0.index)
        })
    }

    /// Whether the identity is a server (node) administrator.
    pub fn is_server_admin(&self, identity: &Identity) -> bool {
        self.domain_authorizer().is_server_admin(identity)
    }

    fn domain_authorizer(&self) -> Authorizer<'_, S> {
        Authorizer::new(
            self.store(),
            &self.config().server_admins,
            self.config().max_group_depth,
        )
    }

    /// Fails with RC 402 unless the identity is a server administrator or an auditor.
    pub fn require_admin_or_auditor(&self, identity: Option<&Identity>) -> Result<(), Failure> {
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        if self.is_server_admin(identity) || self.is_auditor(identity) {
            Ok(())
        } else {
            Err(denied("only node administrators and auditors may do this"))
        }
    }

    /// Fails with RC 402 unless the identity is a server administrator.
    pub fn require_server_admin(&self, identity: Option<&Identity>) -> Result<(), Failure> {
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        if self.is_server_admin(identity) {
            Ok(())
        } else {
            Err(denied("only node administrators may do this"))
        }
    }

    /// Whether the identity administers `prefix`: a server administrator, or an identity that
    /// holds ADD_HANDLE through the `HS_ADMIN` values of `0.NA/<prefix>`.
    pub fn administers_prefix(&self, identity: &Identity, prefix: &str) -> Result<bool, Failure> {
        let authz = self.domain_authorizer();
        if authz.is_server_admin(identity) {
            return Ok(true);
        }
        let prefix_handle = format!("{PREFIX_HANDLE_PREFIX}/{prefix}");
        match self
            .store()
            .get(&normalize(&prefix_handle))
            .map_err(internal)?
        {
            Some(stored) => authz.holds(identity, &stored.values, AdminPerms::ADD_HANDLE),
            None => Ok(false),
        }
    }

    /// Appends one audit entry on its own (for events that change no handle).
    pub async fn audit(&self, event: AuditEvent) -> Result<(), Failure> {
        self.store()
            .commit(WriteBatch {
                mutations: vec![audit_mutation(&event)],
            })
            .await
            .map_err(internal)
    }

    /// Audits a successful read by an auditor.
    pub(crate) async fn audit_auditor_read(
        &self,
        identity: Option<&Identity>,
        outcome: &Outcome,
        now: u32,
    ) -> Result<(), Failure> {
        let (Some(identity), Outcome::Values { handle, .. }) = (identity, outcome) else {
            return Ok(());
        };
        self.audit_read(identity, handle.as_str(), "", now).await
    }

    /// Audits a read of `target` by `identity` when it is an auditor (regulators' reads are
    /// audited whatever they read: resolutions here, trace records in the trace API); does
    /// nothing for anyone else. The one place an `auditor_read` entry is written.
    pub async fn audit_read(
        &self,
        identity: &Identity,
        target: &str,
        detail: &str,
        now: u32,
    ) -> Result<(), Failure> {
        if !self.is_auditor(identity) {
            return Ok(());
        }
        self.audit(AuditEvent {
            seq: 0,
            at: now,
            actor: identity.to_string(),
            action: "auditor_read".to_owned(),
            target: target.to_owned(),
            prefix: prefix_of(target).to_owned(),
            detail: detail.to_owned(),
        })
        .await
    }

    /// A page of the audit log; server administrators and auditors only (RC 402 otherwise).
    pub fn audit_log(
        &self,
        identity: Option<&Identity>,
        query: &AuditQuery,
    ) -> Result<AuditPage, Failure> {
        self.require_admin_or_auditor(identity)?;
        self.scan_audit(query)
    }

    /// One page of the audit log, whoever asks: for the callers above, and for the node's own
    /// reports (`crate::reports`).
    pub(crate) fn scan_audit(&self, query: &AuditQuery) -> Result<AuditPage, Failure> {
        let limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        let mut start = match query.after {
            Some(cursor) => {
                let mut key = cursor.at.to_be_bytes().to_vec();
                key.extend_from_slice(&cursor.seq.saturating_add(1).to_be_bytes());
                key
            }
            None => u64::from(query.from.unwrap_or(0)).to_be_bytes().to_vec(),
        };
        let end = query.to.map(|to| u64::from(to).to_be_bytes().to_vec());
        let mut events = Vec::new();
        let mut scanned = 0;
        let mut last: Option<AuditCursor> = None;
        loop {
            let chunk = self
                .store()
                .scan_aux(AUDIT_SPACE, &AuxScan::range(&start, end.as_deref(), 1024))
                .map_err(internal)?;
            let exhausted = chunk.len() < 1024;
            for (key, entry) in &chunk {
                scanned += 1;
                let cursor = cursor_of(key);
                last = Some(cursor);
                let Ok(mut event) = serde_json::from_slice::<AuditEvent>(&entry.value) else {
                    tracing::warn!("skipping an audit entry that does not decode");
                    continue;
                };
                event.seq = cursor.seq;
                if matches(&event, query) {
                    events.push(event);
                    if events.len() == limit {
                        return Ok(AuditPage {
                            events,
                            next: Some(cursor),
                        });
                    }
                }
            }
            if exhausted {
                return Ok(AuditPage { events, next: None });
            }
            if scanned >= MAX_AUDIT_SCAN {
                return Ok(AuditPage { events, next: last });
            }
            match chunk.last() {
                Some((key, _)) => {
                    let mut next = key.clone();
                    next.push(0);
                    start = next;
                }
                None => return Ok(AuditPage { events, next: None }),
            }
        }
    }

    /// The template `name` at `version`, or its latest version when `version` is `None`:
    /// stored versions first, then the built-in templates.
    pub fn template(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<Arc<StoredTemplate>>, Failure> {
        let version = match version {
            Some(version) => version,
            None => match self.latest_version(name)? {
                Some(version) => version,
                None => return Ok(None),
            },
        };
        if let Some(cached) = self.templates.get(name, version) {
            return Ok(Some(cached));
        }
        let stored = match self
            .store()
            .aux(TEMPLATE_SPACE, &template_key(name, version))
            .map_err(internal)?
        {
            Some(entry) => Some(decode_template(&entry.value)?),
            None => builtin::by_name(name)
                .filter(|t| t.version == version)
                .map(|t| StoredTemplate {
                    template: t.clone(),
                    withdrawn: false,
                    created_by: "builtin".to_owned(),
                    created_at: 0,
                }),
        };
        Ok(stored.map(|stored| {
            let stored = Arc::new(stored);
            self.templates.put(stored.clone());
            stored
        }))
    }

    /// The highest version of `name`, stored or built in.
    fn latest_version(&self, name: &str) -> Result<Option<u32>, Failure> {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(0);
        let last = self
            .store()
            .scan_aux(TEMPLATE_SPACE, &AuxScan::prefixed(&prefix, 1).reversed())
            .map_err(internal)?;
        let stored = last.first().and_then(|(key, _)| {
            let bytes: [u8; 4] = key.get(prefix.len()..)?.try_into().ok()?;
            Some(u32::from_be_bytes(bytes))
        });
        let built_in = builtin::by_name(name).map(|t| t.version);
        Ok(stored.max(built_in))
    }

    /// Every template version, stored and built in, sorted by name and version; with `prefix`,
    /// only the templates that records under that prefix may use (node-wide ones and those
    /// owned by the prefix or an ancestor).
    pub fn templates(&self, prefix: Option<&str>) -> Result<Vec<StoredTemplate>, Failure> {
        let mut all: Vec<StoredTemplate> = Vec::new();
        let mut start = Vec::new();
        loop {
            let chunk = self
                .store()
                .scan_aux(TEMPLATE_SPACE, &AuxScan::range(&start, None, 256))
                .map_err(internal)?;
            for (_, entry) in &chunk {
                all.push(decode_template(&entry.value)?);
            }
            match chunk.last() {
                Some((key, _)) if chunk.len() == 256 => {
                    start = key.clone();
                    start.push(0);
                }
                _ => break,
            }
        }
        for t in builtin::all() {
            let stored = all
                .iter()
                .any(|s| s.template.name == t.name && s.template.version == t.version);
            if !stored {
                all.push(StoredTemplate {
                    template: t.clone(),
                    withdrawn: false,
                    created_by: "builtin".to_owned(),
                    created_at: 0,
                });
            }
        }
        if let Some(prefix) = prefix {
            all.retain(|s| {
                s.template
                    .prefix
                    .as_deref()
                    .is_none_or(|owner| is_under(prefix, owner))
            });
        }
        all.sort_by(|a, b| {
            (&a.template.name, a.template.version).cmp(&(&b.template.name, b.template.version))
        });
        Ok(all)
    }

    /// Fails with RC 402 unless the identity may manage templates owned by `owner` (node-wide
    /// templates: server administrators; a prefix's: whoever administers the prefix).
    fn require_template_admin(
        &self,
        identity: Option<&Identity>,
        owner: Option<&str>,
    ) -> Result<(), Failure> {
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        let allowed = match owner {
            None => self.is_server_admin(identity),
            Some(prefix) => self.administers_prefix(identity, prefix)?,
        };
        if allowed {
            Ok(())
        } else {
            Err(denied(match owner {
                None => "only node administrators may manage node-wide templates".to_owned(),
                Some(prefix) => format!("only administrators of {prefix} may manage its templates"),
            }))
        }
    }

    /// Stores the first version of a new template. The name must not be in use (RC 101 when
    /// it is: publish later versions with [`Resolver::evolve_template`]); the version must be 1.
    pub async fn create_template(
        &self,
        identity: Option<&Identity>,
        template: Template,
        now: u32,
    ) -> Result<StoredTemplate, Failure> {
        template.check().map_err(|e| invalid(e.to_string()))?;
        self.require_template_admin(identity, template.prefix.as_deref())?;
        if template.version != 1 {
            return Err(invalid("a new template starts at version 1"));
        }
        if self.latest_version(&template.name)?.is_some() {
            return Err(Failure::new(
                ResponseCode::HandleAlreadyExists,
                format!(
                    "template {} exists: publish a new version with PUT",
                    template.name
                ),
            ));
        }
        self.store_template(identity, template, "template_create", now)
            .await
    }

    /// Publishes the next version of a template, checked by [`evolve`] against the latest
    /// version (RC 202 when the change is not allowed, RC 100 when the template is unknown).
    pub async fn evolve_template(
        &self,
        identity: Option<&Identity>,
        new: Template,
        now: u32,
    ) -> Result<StoredTemplate, Failure> {
        let Some(latest) = self.template(&new.name, None)? else {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("no template named {}", new.name),
            ));
        };
        self.require_template_admin(identity, latest.template.prefix.as_deref())?;
        let next =
            evolve(&latest.template, &new).map_err(|e: EvolveError| invalid(e.to_string()))?;
        self.store_template(identity, next, "template_evolve", now)
            .await
    }

    async fn store_template(
        &self,
        identity: Option<&Identity>,
        template: Template,
        action: &str,
        now: u32,
    ) -> Result<StoredTemplate, Failure> {
        let stored = StoredTemplate {
            template,
            withdrawn: false,
            created_by: actor_name(identity),
            created_at: now,
        };
        let key = template_key(&stored.template.name, stored.template.version);
        let event = AuditEvent {
            seq: 0,
            at: now,
            actor: actor_name(identity),
            action: action.to_owned(),
            target: format!("template:{}", stored.template.link()),
            prefix: stored.template.prefix.clone().unwrap_or_default(),
            detail: String::new(),
        };
        let batch = WriteBatch {
            mutations: vec![
                Mutation::PutAux {
                    space: TEMPLATE_SPACE.to_owned(),
                    key,
                    value: encode_template(&stored),
                    expect: Expect::Absent,
                },
                audit_mutation(&event),
            ],
        };
        match self.store().commit(batch).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(Failure::new(
                    ResponseCode::HandleAlreadyExists,
                    format!("template {} already exists", stored.template.link()),
                ));
            }
            Err(e) => return Err(internal(e)),
        }
        self.templates.put(Arc::new(stored.clone()));
        Ok(stored)
    }

    /// Withdraws a template version: records can no longer be written under it (existing ones
    /// stay readable). Templates are never deleted, since records name them.
    pub async fn withdraw_template(
        &self,
        identity: Option<&Identity>,
        name: &str,
        version: u32,
        now: u32,
    ) -> Result<StoredTemplate, Failure> {
        let Some(current) = self.template(name, Some(version))? else {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("no template {name}@{version}"),
            ));
        };
        self.require_template_admin(identity, current.template.prefix.as_deref())?;
        let key = template_key(name, version);
        let expect = match self.store().aux(TEMPLATE_SPACE, &key).map_err(internal)? {
            Some(entry) => Expect::Version(entry.version),
            None => Expect::Absent,
        };
        let mut withdrawn = (*current).clone();
        withdrawn.withdrawn = true;
        let event = AuditEvent {
            seq: 0,
            at: now,
            actor: actor_name(identity),
            action: "template_withdraw".to_owned(),
            target: format!("template:{name}@{version}"),
            prefix: current.template.prefix.clone().unwrap_or_default(),
            detail: String::new(),
        };
        self.store()
            .commit(WriteBatch {
                mutations: vec![
                    Mutation::PutAux {
                        space: TEMPLATE_SPACE.to_owned(),
                        key,
                        value: encode_template(&withdrawn),
                        expect,
                    },
                    audit_mutation(&event),
                ],
            })
            .await
            .map_err(internal)?;
        self.templates.put(Arc::new(withdrawn.clone()));
        Ok(withdrawn)
    }

    /// Stores the built-in templates that are not stored yet; returns how many were stored.
    /// Trusted: the node calls it while setting up, for no identity.
    pub async fn install_builtin_templates(&self, now: u32) -> Result<usize, Failure> {
        let mut installed = 0;
        for template in builtin::all() {
            let key = template_key(&template.name, template.version);
            if self
                .store()
                .aux(TEMPLATE_SPACE, &key)
                .map_err(internal)?
                .is_some()
            {
                continue;
            }
            let stored = StoredTemplate {
                template: template.clone(),
                withdrawn: false,
                created_by: "builtin".to_owned(),
                created_at: now,
            };
            let result = self
                .store()
                .commit(WriteBatch {
                    mutations: vec![Mutation::PutAux {
                        space: TEMPLATE_SPACE.to_owned(),
                        key,
                        value: encode_template(&stored),
                        expect: Expect::Absent,
                    }],
                })
                .await;
            match result {
                Ok(()) => installed += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(internal(e)),
            }
        }
        Ok(installed)
    }

    /// The template step of the pipeline (see the module documentation): validates the new
    /// values of `handle` when they, or the `old` values they replace, carry an index-1001
    /// link. Violations are RC 202 naming every broken item and rule.
    pub(crate) fn check_template(
        &self,
        handle: &Handle,
        old: Option<&[HandleValue]>,
        new: &[HandleValue],
        now: u32,
    ) -> Result<(), Failure> {
        let link = new.iter().find(|v| v.index == TEMPLATE_INDEX);
        let had_link = old.is_some_and(|old| old.iter().any(|v| v.index == TEMPLATE_INDEX));
        let Some(link) = link else {
            if had_link {
                return Err(invalid(
                    "模板 (TEMPLATE, index 1001): the record was written under a template, and \
                     the link at index 1001 cannot be removed",
                ));
            }
            return Ok(());
        };
        if !link.has_type(TEMPLATE_TYPE) {
            return Err(invalid(format!(
                "模板 (TEMPLATE, index 1001): index 1001 is reserved for the TEMPLATE link \
                 (name@version), not a value of type {}",
                link.value_type.chars().take(64).collect::<String>()
            )));
        }
        let text = std::str::from_utf8(&link.data).unwrap_or("");
        let Some((name, version)) = parse_link(text) else {
            return Err(invalid(
                "模板 (TEMPLATE, index 1001): the link must be name@version, such as hazchem.product@1",
            ));
        };
        let Some(stored) = self.template(name, Some(version))? else {
            return Err(invalid(format!(
                "模板 (TEMPLATE, index 1001): template {name}@{version} does not exist"
            )));
        };
        if stored.withdrawn {
            return Err(invalid(format!(
                "模板 (TEMPLATE, index 1001): template {name}@{version} is withdrawn"
            )));
        }
        if let Some(owner) = &stored.template.prefix
            && !is_under(prefix_of(handle.as_str()), owner)
        {
            return Err(invalid(format!(
                "模板 (TEMPLATE, index 1001): template {name}@{version} belongs to prefix {owner} \
                 and cannot be used under {}",
                prefix_of(handle.as_str())
            )));
        }
        let lookup = |h: &Handle| -> Result<bool, LookupError> {
            crate::reads::read_handle(self.store(), &h.key())
                .map(|found| found.is_some())
                .map_err(|e| LookupError(e.to_string()))
        };
        let today = Date::from_epoch_secs(u64::from(now))
            .or_else(|| Date::new(1970, 1, 1))
            .ok_or_else(|| Failure::new(ResponseCode::Error, "no calendar date"))?;
        validate(&stored.template, new, &lookup, today).map_err(|violations| {
            let messages: Vec<String> = violations.iter().map(ToString::to_string).collect();
            invalid(messages.join("; "))
        })
    }
}

#[cfg(test)]
mod tests {
    use idnode_proto::{Record, types};

    use super::*;

    #[test]
    fn prefixes_and_ancestry() {
        assert_eq!(prefix_of("88.118.8/P.1"), "88.118.8");
        assert_eq!(prefix_of("0.NA/88.118.8"), "88.118.8");
        assert_eq!(prefix_of("0.na/88.118"), "88.118");
        assert!(is_under("88.118.8", "88.118"));
        assert!(is_under("88.118", "88.118"));
        assert!(!is_under("88.1180", "88.118"));
        assert!(!is_under("88.11", "88.118"));
    }

    #[test]
    fn audit_cursors_round_trip() {
        let cursor = AuditCursor { at: 17, seq: 4 };
        assert_eq!(AuditCursor::parse(&cursor.to_text()), Some(cursor));
        assert_eq!(AuditCursor::parse("x"), None);
        let mut key = 17u64.to_be_bytes().to_vec();
        key.extend_from_slice(&4u64.to_be_bytes());
        assert_eq!(cursor_of(&key), cursor);
    }

    #[test]
    fn same_content_ignores_admin_values_and_timestamps() {
        let mut stored_value = HandleValue::new(2000, "name", "x");
        stored_value.timestamp = 5;
        let admin = HandleValue::new(100, types::HS_ADMIN, vec![0; 3]);
        let stored = Record::encode(&[admin, stored_value]);
        assert!(has_same_content(
            &stored,
            &[HandleValue::new(2000, "name", "x")]
        ));
        assert!(!has_same_content(
            &stored,
            &[HandleValue::new(2000, "name", "y")]
        ));
        assert!(!has_same_content(&stored, &[]));
    }
}
