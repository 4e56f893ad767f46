//! The pipeline that runs every [`Operation`].

use idnode_proto::{
    AdminPerms, AdminRecord, Handle, HandleRules, HandleValue, MAX_VALUES, PREFIX_HANDLE_PREFIX,
    PublicKey, Record, ResponseCode, SiteInfo, TypeFilter, ValueList, ValueRef, normalize, types,
};
use idnode_registry::{Expect, Mutation, Store, StoreError, StoredRecord, WriteBatch};

use crate::authz::Authorizer;
use crate::op::{Failure, Identity, Operation, Outcome, Request};

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct Config {
    /// Limits on handle names.
    pub handle_rules: HandleRules,
    /// Identities with every permission on every handle.
    pub server_admins: Vec<ValueRef>,
    /// How deep `HS_VLIST` groups are expanded.
    pub max_group_depth: usize,
    /// How often a write is retried after a concurrent change of the same handle.
    pub max_write_retries: usize,
    /// Whether the administrators of a prefix handle `0.NA/P` (its `HS_ADMIN` values) also hold
    /// their permissions on every handle `P/x`, as with the reference server's default
    /// `allow_na_admins = yes`.
    pub allow_prefix_admins: bool,
    /// Auditors (regulators): identities that may read every value, public or not, and the
    /// audit log, and may write nothing. Every read they make is audited.
    pub auditors: Vec<ValueRef>,
    /// Authenticated requests one identity may make per UTC day, through any interface (RC 603
    /// after that); 0 means no limit.
    pub daily_request_quota: u64,
    /// Handles one identity may create per UTC day, through any interface (RC 604 after that);
    /// 0 means no limit.
    pub daily_registration_quota: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            handle_rules: HandleRules::default(),
            server_admins: Vec::new(),
            max_group_depth: 8,
            max_write_retries: 8,
            allow_prefix_admins: true,
            auditors: Vec::new(),
            daily_request_quota: 0,
            daily_registration_quota: 0,
        }
    }
}

/// A source of random bytes, injected so tests are deterministic.
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// How `HS_SECKEY` secrets are kept at rest. The pipeline seals every secret it stores and
/// never stores one in plain text.
pub trait SecretSealer: Send + Sync {
    /// The stored form of a secret.
    fn seal(&self, secret: &[u8]) -> Vec<u8>;
    /// Whether `candidate` is the secret whose stored form is `stored`, for `identity`.
    fn verify(&self, identity: &ValueRef, stored: &[u8], candidate: &[u8]) -> bool;
    /// The secret back from its stored form, for readers allowed to see it.
    fn open(&self, stored: &[u8]) -> Option<Vec<u8>>;
}

/// A checked write, ready to commit with its audit entry.
pub(crate) struct PreparedWrite {
    /// The handle mutation, with the precondition on the version that was checked.
    pub(crate) put: Mutation,
    /// Whether it creates the handle (rather than replacing it).
    pub(crate) created: bool,
}

/// The default administrator permissions given to the creator of a handle created without any
/// `HS_ADMIN` value: everything except listing and the derived-prefix bits (pyhandle's default).
const DEFAULT_CREATOR_PERMS: AdminPerms = AdminPerms(0x07F3);

/// Runs operations against a store.
pub struct Resolver<S> {
    store: S,
    config: Config,
    random: Box<dyn Random>,
    sealer: Box<dyn SecretSealer>,
    /// Templates read so far (versions are immutable).
    pub(crate) templates: crate::domain::TemplateCache,
    /// What each identity used of its daily quotas.
    quotas: std::sync::Mutex<crate::quota::Quotas>,
}

impl<S: Store> Resolver<S> {
    /// A resolver over `store`.
    pub fn new(
        store: S,
        config: Config,
        random: Box<dyn Random>,
        sealer: Box<dyn SecretSealer>,
    ) -> Self {
        let quotas =
            crate::quota::Quotas::new(config.daily_request_quota, config.daily_registration_quota);
        Self {
            store,
            config,
            random,
            sealer,
            templates: crate::domain::TemplateCache::default(),
            quotas: std::sync::Mutex::new(quotas),
        }
    }

    /// The store. Private to this crate: front ends reach it only through the pipeline and the
    /// read-only views of [`crate::views`].
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The store itself, for tests and benchmarks that inspect what the pipeline wrote. It
    /// skips every check of the pipeline: no front end may call it, and a tidy test in `docs/`
    /// fails if one does.
    #[doc(hidden)]
    pub fn danger_store(&self) -> &S {
        &self.store
    }

    /// Fills `buf` from the injected source of randomness.
    pub(crate) fn fill_random(&self, buf: &mut [u8]) {
        self.random.fill(buf);
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Parses a handle with the configured rules, failing with RC 102.
    pub fn parse_handle(&self, text: &str) -> Result<Handle, Failure> {
        Handle::parse_with(text, self.config.handle_rules)
            .map_err(|e| Failure::new(ResponseCode::InvalidHandle, e.to_string()))
    }

    /// Checks a secret for `identity` against the `HS_SECKEY` stored at that value.
    pub fn authenticate_secret(
        &self,
        identity: &ValueRef,
        secret: &[u8],
    ) -> Result<Identity, Failure> {
        let stored = self.identity_values(identity, types::HS_SECKEY)?;
        verified(
            identity,
            stored
                .iter()
                .any(|sealed| self.sealer.verify(identity, sealed, secret)),
        )
    }

    /// Runs `check` on the plain secret of every `HS_SECKEY` value at `identity` (index 0: any
    /// index) and returns the verified identity when one passes. The native protocol's
    /// challenge-response MACs need the raw secret, which is stored sealed; it is opened here
    /// and handed only to `check`, never returned. Fails with RC 403 when nothing matches.
    pub fn verify_secret_mac(
        &self,
        identity: &ValueRef,
        check: impl Fn(&[u8]) -> bool,
    ) -> Result<Identity, Failure> {
        let stored = self.identity_values(identity, types::HS_SECKEY)?;
        verified(
            identity,
            stored.iter().any(|sealed| {
                self.sealer
                    .open(sealed)
                    .is_some_and(|secret| check(&secret))
            }),
        )
    }

    /// The `HS_PUBKEY` values at `identity` (index 0: any index), decoded; undecodable ones are
    /// skipped. Fails with RC 403 when the handle does not exist here.
    pub fn public_keys(&self, identity: &ValueRef) -> Result<Vec<PublicKey>, Failure> {
        let stored = self.identity_values(identity, types::HS_PUBKEY)?;
        Ok(stored
            .iter()
            .filter_map(|data| PublicKey::from_bytes(data).ok())
            .collect())
    }

    /// The data of the values of `value_type` at `identity` (index 0: any index). Fails with
    /// RC 403 when the identity's handle is invalid, not held here, or does not decode.
    pub(crate) fn identity_values(
        &self,
        identity: &ValueRef,
        value_type: &str,
    ) -> Result<Vec<Vec<u8>>, Failure> {
        let fail = || Failure::bare(ResponseCode::AuthenticationFailed);
        let handle = self.parse_handle(&identity.handle).map_err(|_| fail())?;
        let stored = self
            .store
            .get(&handle.key())
            .map_err(internal)?
            .ok_or_else(fail)?;
        let record = Record::parse(&stored.values).map_err(|_| fail())?;
        Ok(record
            .iter()
            .filter(|v| {
                (identity.index == 0 || v.index() == identity.index)
                    && v.value_type().eq_ignore_ascii_case(value_type.as_bytes())
            })
            .map(|v| v.data().to_vec())
            .collect())
    }

    /// The checks the reference server makes before it challenges an unauthenticated write
    /// (CNRI `HandleServer.do*`): the prefix must be homed here (RC 301), a create without
    /// overwrite must name a new handle (RC 101), values must be valid (RC 202), and a modify
    /// must name existing values that administrators may write (RC 100, 200, 401). Nothing is
    /// revealed that a resolution would not reveal, and nothing is written.
    pub fn check_before_auth(&self, op: &Operation) -> Result<(), Failure> {
        match op {
            Operation::Create {
                handle,
                values,
                overwrite,
            } => {
                self.check_homed(handle)?;
                check_values(values)?;
                if !overwrite && self.store.get(&handle.key()).map_err(internal)?.is_some() {
                    return Err(Failure::bare(ResponseCode::HandleAlreadyExists));
                }
            }
            Operation::AddValues { handle, values, .. }
            | Operation::Register { handle, values }
            | Operation::Update { handle, values, .. } => {
                self.check_homed(handle)?;
                check_values(values)?;
            }
            Operation::ModifyValues { handle, values } => {
                self.check_homed(handle)?;
                check_values(values)?;
                let old = self.existing(handle)?;
                let record = Record::parse(&old.values).map_err(corrupt)?;
                for new in values {
                    let Some(slot) = record.iter().find(|v| v.index() == new.index) else {
                        return Err(Failure::bare(ResponseCode::ValuesNotFound));
                    };
                    if !slot.permissions().admin_write() {
                        return Err(Failure::new(
                            ResponseCode::InsufficientPermissions,
                            "Value is read-only",
                        ));
                    }
                }
            }
            Operation::RemoveValues { handle, .. } | Operation::Delete { handle } => {
                self.check_homed(handle)?;
            }
            Operation::Resolve { handle, .. } => self.check_homed(handle)?,
            Operation::Mint { .. }
            | Operation::ListHandles { .. }
            | Operation::ListHomed
            | Operation::Home { .. }
            | Operation::Unhome { .. } => {}
        }
        Ok(())
    }

    /// Fails with RC 301 unless this node homes the handle's prefix (or one of its ancestors);
    /// for requests that concern a handle without reading it (`VERIFY_CHALLENGE`).
    pub fn require_homed(&self, handle: &Handle) -> Result<(), Failure> {
        self.check_homed(handle)
    }

    /// For an anonymous resolution that would otherwise be challenged: RC 401 when a selected
    /// value may be read by nobody at all (neither public nor administrator read), as the
    /// reference server answers instead of challenging (CNRI `checkReadAccess`); `None` when a
    /// challenge is the right answer.
    pub fn unreadable_by_anyone(&self, handle: &Handle, filter: &TypeFilter) -> Option<Failure> {
        let stored = self.store.get(&handle.key()).ok()??;
        let record = Record::parse(&stored.values).ok()?;
        record
            .iter()
            .any(|v| {
                filter.matches(v.index(), v.value_type())
                    && !v.permissions().public_read()
                    && !v.permissions().admin_read()
            })
            .then(|| {
                Failure::new(
                    ResponseCode::InsufficientPermissions,
                    "A requested value may not be read by anyone",
                )
            })
    }

    /// Whether this node homes the handle's prefix (or one of its ancestors).
    pub fn is_homed_here(&self, handle: &Handle) -> Result<bool, Failure> {
        match self.check_homed(handle) {
            Ok(()) => Ok(true),
            Err(failure) if failure.rc == ResponseCode::ServerNotResponsible => Ok(false),
            Err(failure) => Err(failure),
        }
    }

    /// Checks that `identity` may annotate `handle` with trace records: the handle must be homed
    /// here (RC 301) and exist (RC 100), and the identity must hold ADD_VALUE or MODIFY_VALUE
    /// through the handle's `HS_ADMIN` values or those of its prefix handle (when prefix
    /// administrators are allowed), or be a server administrator (RC 400 otherwise), decided by
    /// the same [`Authorizer::holds_on`] as every other write. Returns the stored record.
    pub fn authorize_trace_write(
        &self,
        identity: &Identity,
        handle: &Handle,
    ) -> Result<StoredRecord, Failure> {
        self.check_homed(handle)?;
        let Some(stored) = self.store.get(&handle.key()).map_err(internal)? else {
            return Err(Failure::bare(ResponseCode::HandleNotFound));
        };
        let authorizer = self.authorizer();
        let allowed =
            authorizer.holds_on(identity, handle, &stored.values, AdminPerms::ADD_VALUE)?
                || authorizer.holds_on(
                    identity,
                    handle,
                    &stored.values,
                    AdminPerms::MODIFY_VALUE,
                )?;
        if allowed {
            Ok(stored)
        } else {
            Err(Failure::new(
                ResponseCode::InsufficientPermissions,
                format!(
                    "{identity} may not add or modify values of {}",
                    handle.as_str()
                ),
            ))
        }
    }

    /// Whether `identity` may read the trace records whose subject is `subject`: server
    /// administrators and auditors may read every record; other identities the records of a
    /// handle homed here on which they hold READ_VALUE through [`Authorizer::holds_on`] (the
    /// handle's `HS_ADMIN` values, groups, and prefix administrators when allowed). Records of
    /// subjects that are no existing handle of this node are readable by administrators and
    /// auditors only. Auditing an auditor's read is the caller's part.
    pub fn may_read_trace(&self, identity: &Identity, subject: &str) -> Result<bool, Failure> {
        if self.is_server_admin(identity) || self.is_auditor(identity) {
            return Ok(true);
        }
        let Ok(handle) = self.parse_handle(subject) else {
            return Ok(false);
        };
        if !self.is_homed_here(&handle)? {
            return Ok(false);
        }
        match self.store.get(&handle.key()).map_err(internal)? {
            Some(stored) => self.authorizer().holds_on(
                identity,
                &handle,
                &stored.values,
                AdminPerms::READ_VALUE,
            ),
            None => Ok(false),
        }
    }

    /// Runs one request, charging it to its identity's daily quotas first.
    pub async fn handle(&self, req: Request) -> Result<Outcome, Failure> {
        self.charge(&req)?;
        self.execute(req).await
    }

    /// Charges a request to its identity's daily quotas: one request, and one registration for
    /// the operations that create a handle. Anonymous requests are not charged here; the
    /// front ends' per-source limits bound them.
    pub(crate) fn charge(&self, req: &Request) -> Result<(), Failure> {
        let Some(identity) = &req.identity else {
            return Ok(());
        };
        let registers = matches!(
            req.op,
            Operation::Create { .. } | Operation::Mint { .. } | Operation::Register { .. }
        );
        self.charge_identity(identity, registers, req.now)
    }

    /// Charges one request by `identity` made outside [`Resolver::handle`] (a search, which
    /// then resolves many candidates as the caller without charging each).
    pub fn charge_request(&self, identity: Option<&Identity>, now: u32) -> Result<(), Failure> {
        match identity {
            Some(identity) => self.charge_identity(identity, false, now),
            None => Ok(()),
        }
    }

    fn charge_identity(
        &self,
        identity: &Identity,
        registers: bool,
        now: u32,
    ) -> Result<(), Failure> {
        let mut quotas = match self.quotas.lock() {
            Ok(quotas) => quotas,
            // The counters stay consistent under a panic elsewhere (each charge is one update).
            Err(poisoned) => poisoned.into_inner(),
        };
        if quotas.is_unlimited() {
            return Ok(());
        }
        quotas.charge(identity, registers, now)
    }

    /// Runs a resolution that is part of a request already charged to the caller (a search
    /// checking its candidates as the caller would read them).
    pub async fn resolve_uncharged(&self, req: Request) -> Result<Outcome, Failure> {
        match req.op {
            Operation::Resolve { .. } => self.execute(req).await,
            _ => Err(Failure::new(
                ResponseCode::OperationNotSupported,
                "only resolutions run uncharged",
            )),
        }
    }

    /// Runs one request that has been charged.
    pub(crate) async fn execute(&self, req: Request) -> Result<Outcome, Failure> {
        let identity = req.identity.as_ref();
        match req.op {
            Operation::Resolve {
                handle,
                filter,
                public_only,
            } => {
                let outcome = self.resolve(handle, &filter, public_only, identity)?;
                self.audit_auditor_read(identity, &outcome, req.now).await?;
                Ok(outcome)
            }
            Operation::Create {
                handle,
                values,
                overwrite,
            } => {
                self.create(handle, &values, overwrite, identity, req.now)
                    .await
            }
            Operation::Register { handle, values } => {
                self.register(handle, &values, identity, req.now).await
            }
            Operation::Update {
                handle,
                values,
                keep_below,
            } => {
                self.update_values(handle, values, keep_below, identity, req.now)
                    .await
            }
            Operation::Mint { stem, values } => self.mint(&stem, values, identity, req.now).await,
            Operation::AddValues {
                handle,
                values,
                overwrite,
            } => {
                self.add_values(handle, values, overwrite, identity, req.now)
                    .await
            }
            Operation::ModifyValues { handle, values } => {
                self.modify_values(handle, values, identity, req.now).await
            }
            Operation::RemoveValues { handle, indexes } => {
                self.remove_values(handle, &indexes, identity, req.now)
                    .await
            }
            Operation::Delete { handle } => self.delete(handle, identity, req.now).await,
            Operation::ListHandles { prefix, page } => self.list_handles(&prefix, page, identity),
            Operation::ListHomed => Ok(Outcome::Prefixes(
                self.store
                    .homed_prefixes()
                    .map_err(internal)?
                    .into_iter()
                    .map(|p| format!("{PREFIX_HANDLE_PREFIX}/{p}"))
                    .collect(),
            )),
            Operation::Home { prefix } => {
                self.change_homing(Mutation::HomePrefix { prefix }, identity, req.now)
                    .await
            }
            Operation::Unhome { prefix } => {
                self.change_homing(Mutation::UnhomePrefix { prefix }, identity, req.now)
                    .await
            }
        }
    }

    fn authorizer(&self) -> Authorizer<'_, S> {
        Authorizer::new(
            &self.store,
            &self.config.server_admins,
            self.config.max_group_depth,
        )
        .with_prefix_admins(self.config.allow_prefix_admins)
    }

    /// Fails with RC 301 unless this node homes the handle's prefix or one of its ancestors.
    fn check_homed(&self, handle: &Handle) -> Result<(), Failure> {
        let na = if handle.is_prefix_handle() {
            handle.suffix()
        } else {
            handle.prefix()
        };
        if self.prefix_or_ancestor_homed(na)? {
            Ok(())
        } else {
            Err(Failure::new(
                ResponseCode::ServerNotResponsible,
                "That prefix doesn't live here",
            ))
        }
    }

    fn prefix_or_ancestor_homed(&self, prefix: &str) -> Result<bool, Failure> {
        let mut candidate = prefix;
        loop {
            if self.store.is_homed(candidate).map_err(internal)? {
                return Ok(true);
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => return Ok(false),
            }
        }
    }

    fn resolve(
        &self,
        handle: Handle,
        filter: &TypeFilter,
        public_only: bool,
        identity: Option<&Identity>,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        let Some(stored) = self.store.get(&handle.key()).map_err(internal)? else {
            return Err(Failure::bare(ResponseCode::HandleNotFound));
        };
        let record = Record::parse(&stored.values).map_err(corrupt)?;
        let mut may_read_private: Option<bool> = None;
        let mut selected: Vec<Vec<u8>> = Vec::new();
        let mut unchanged = true;
        for value in record.iter() {
            if !filter.matches(value.index(), value.value_type()) {
                unchanged = false;
                continue;
            }
            let perms = value.permissions();
            if perms.public_read() {
                selected.push(value.bytes().to_vec());
                continue;
            }
            if public_only {
                unchanged = false;
                continue;
            }
            let Some(identity) = identity else {
                return Err(Failure::bare(ResponseCode::AuthenticationNeeded));
            };
            let allowed = match may_read_private {
                Some(allowed) => allowed,
                None => {
                    let allowed = self.is_auditor(identity)
                        || self.authorizer().holds_on(
                            identity,
                            &handle,
                            &stored.values,
                            AdminPerms::READ_VALUE,
                        )?;
                    may_read_private = Some(allowed);
                    allowed
                }
            };
            if !allowed || !(perms.admin_read() || self.is_auditor(identity)) {
                unchanged = false;
                continue;
            }
            if value
                .value_type()
                .eq_ignore_ascii_case(types::HS_SECKEY.as_bytes())
            {
                let mut plain = value.decode().map_err(corrupt)?;
                if let Some(secret) = self.sealer.open(&plain.data) {
                    plain.data = secret;
                }
                selected.push(plain.to_bytes());
                unchanged = false;
            } else {
                selected.push(value.bytes().to_vec());
            }
        }
        if selected.is_empty() {
            return Err(Failure::bare(ResponseCode::ValuesNotFound));
        }
        let values = if unchanged {
            stored.values
        } else {
            let mut out = Vec::with_capacity(4 + selected.iter().map(Vec::len).sum::<usize>());
            out.extend_from_slice(&(selected.len() as u32).to_be_bytes());
            selected.iter().for_each(|v| out.extend_from_slice(v));
            out
        };
        Ok(Outcome::Values { handle, values })
    }

    async fn mint(
        &self,
        stem: &str,
        values: Vec<HandleValue>,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        let handle = self.parse_handle(&format!("{stem}{}", uuid_v4(bytes)))?;
        self.create(handle, &values, false, identity, now).await
    }

    async fn register(
        &self,
        handle: Handle,
        values: &[HandleValue],
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        match self
            .create(handle.clone(), values, false, identity, now)
            .await
        {
            Err(failure) if failure.rc == ResponseCode::HandleAlreadyExists => {
                self.identical_retry(handle, values, identity, failure)
            }
            other => other,
        }
    }

    /// The answer to a registration of a handle that exists: [`Outcome::Unchanged`] when the
    /// caller administers its prefix and the stored content is exactly `values`, `failure`
    /// (RC 101) otherwise. Only administrators learn that the content matched.
    pub(crate) fn identical_retry(
        &self,
        handle: Handle,
        values: &[HandleValue],
        identity: Option<&Identity>,
        failure: Failure,
    ) -> Result<Outcome, Failure> {
        let Some(identity) = identity else {
            return Err(failure);
        };
        if !self.administers_prefix(identity, crate::domain::prefix_of(handle.as_str()))? {
            return Err(failure);
        }
        let stored = self.store.get(&handle.key()).map_err(internal)?;
        if stored.is_some_and(|stored| crate::domain::has_same_content(&stored.values, values)) {
            Ok(Outcome::Unchanged { handle })
        } else {
            Err(failure)
        }
    }

    async fn update_values(
        &self,
        handle: Handle,
        values: Vec<HandleValue>,
        keep_below: u32,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        check_values(&values)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        self.update(
            &handle,
            |old| {
                let named = |index: u32| values.iter().any(|n| n.index == index);
                let mut merged = Vec::with_capacity(old.len() + values.len());
                let mut needed = Vec::new();
                for old_value in old {
                    if named(old_value.index) {
                        continue;
                    }
                    if old_value.index < keep_below {
                        merged.push(old_value.clone());
                    } else {
                        needed.push(remove_mask(old_value));
                    }
                }
                for new in &values {
                    match old.iter().find(|o| o.index == new.index) {
                        Some(o) if same_content(o, new) => merged.push(o.clone()),
                        Some(o) => {
                            needed.push(modify_mask(o, new));
                            merged.push(self.prepare(new, now));
                        }
                        None => {
                            needed.push(add_mask(new));
                            merged.push(self.prepare(new, now));
                        }
                    }
                }
                if needed.is_empty() {
                    // As for a replace: an unchanged record still needs a write permission.
                    needed.push(AdminPerms::MODIFY_VALUE);
                }
                Ok((merged, needed, false))
            },
            identity,
            ("update", now),
        )
        .await
    }

    async fn create(
        &self,
        handle: Handle,
        values: &[HandleValue],
        overwrite: bool,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        for _ in 0..self.config.max_write_retries {
            let prepared = self.prepare_create(&handle, values, overwrite, identity, now)?;
            let action = if prepared.created {
                "create"
            } else {
                "replace"
            };
            let batch = WriteBatch {
                mutations: vec![
                    prepared.put,
                    crate::domain::audit_write(identity, action, handle.as_str(), now),
                ],
            };
            match self.store.commit(batch).await {
                Ok(()) => {
                    return Ok(Outcome::Done {
                        handle,
                        created: prepared.created,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(internal(e)),
            }
        }
        Err(too_busy())
    }

    /// Every step of a create before the commit: the homing, value and identity checks, the
    /// existence check, authorization, the default `HS_ADMIN` value, and the template step.
    /// Returns the mutation to commit (with its version precondition) and whether it creates
    /// the handle; [`Resolver::handle`] and [`Resolver::handle_batch`] both commit it with the
    /// request's audit entry.
    pub(crate) fn prepare_create(
        &self,
        handle: &Handle,
        values: &[HandleValue],
        overwrite: bool,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<PreparedWrite, Failure> {
        self.check_homed(handle)?;
        check_values(values)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        let existing = crate::batch::read_handle(&self.store, &handle.key()).map_err(internal)?;
        let (expect, created, record) = match existing {
            Some(_) if !overwrite => {
                return Err(Failure::bare(ResponseCode::HandleAlreadyExists));
            }
            Some(old) => {
                let old_values = Record::parse(&old.values)
                    .map_err(corrupt)?
                    .decode_all()
                    .map_err(corrupt)?;
                let mut needed = Vec::new();
                let mut replaced = Vec::with_capacity(values.len());
                for new in values {
                    match old_values.iter().find(|o| o.index == new.index) {
                        Some(o) if same_content(o, new) => replaced.push(o.clone()),
                        Some(o) => {
                            needed.push(modify_mask(o, new));
                            replaced.push(self.prepare(new, now));
                        }
                        None => {
                            needed.push(add_mask(new));
                            replaced.push(self.prepare(new, now));
                        }
                    }
                }
                for old_value in &old_values {
                    if !values.iter().any(|n| n.index == old_value.index) {
                        needed.push(remove_mask(old_value));
                    }
                }
                if needed.is_empty() {
                    // An unchanged record still needs a write permission, or the answer
                    // would tell an outsider that a guess of private values was right.
                    needed.push(AdminPerms::MODIFY_VALUE);
                }
                self.require_all(identity, handle, &old.values, &needed)?;
                self.check_template(handle, Some(&old_values), &replaced, now)?;
                (
                    Expect::Version(old.version),
                    false,
                    Record::encode(&replaced),
                )
            }
            None => {
                self.authorize_create(handle, identity)?;
                let record = if values.iter().any(|v| v.has_type(types::HS_ADMIN)) {
                    self.check_template(handle, None, values, now)?;
                    self.stamp_and_encode(values, now)
                } else {
                    let index = (100..200)
                        .find(|i| !values.iter().any(|v| v.index == *i))
                        .unwrap_or(100);
                    let admin = AdminRecord {
                        perms: DEFAULT_CREATOR_PERMS,
                        admin: identity.0.clone(),
                    };
                    let mut values = values.to_vec();
                    values.push(HandleValue::new(index, types::HS_ADMIN, admin.to_bytes()));
                    self.check_template(handle, None, &values, now)?;
                    self.stamp_and_encode(&values, now)
                };
                (Expect::Absent, true, record)
            }
        };
        Ok(PreparedWrite {
            put: Mutation::PutHandle {
                handle: handle.as_str().to_owned(),
                values: record,
                expect,
            },
            created,
        })
    }

    /// Creating `P/x` needs ADD_HANDLE on `0.NA/P`; creating the derived prefix handle
    /// `0.NA/P.x` needs ADD_DERIVED_PREFIX on `0.NA/P`; top-level prefix handles only server
    /// administrators may create.
    fn authorize_create(&self, handle: &Handle, identity: &Identity) -> Result<(), Failure> {
        let authz = self.authorizer();
        if authz.is_server_admin(identity) {
            return Ok(());
        }
        let (authority, mask) = if handle.is_prefix_handle() {
            match handle.suffix().rfind('.') {
                Some(dot) => (&handle.suffix()[..dot], AdminPerms::ADD_DERIVED_PREFIX),
                None => return Err(Failure::bare(ResponseCode::InvalidAdmin)),
            }
        } else {
            (handle.prefix(), AdminPerms::ADD_HANDLE)
        };
        let prefix_handle = format!("{PREFIX_HANDLE_PREFIX}/{authority}");
        let Some(stored) =
            crate::batch::read_handle(&self.store, &normalize(&prefix_handle)).map_err(internal)?
        else {
            return Err(Failure::bare(ResponseCode::InvalidAdmin));
        };
        if authz.holds(identity, &stored.values, mask)? {
            Ok(())
        } else {
            Err(Failure::bare(ResponseCode::InvalidAdmin))
        }
    }

    fn require_all(
        &self,
        identity: &Identity,
        handle: &Handle,
        values: &[u8],
        masks: &[u16],
    ) -> Result<(), Failure> {
        let mask = masks.iter().fold(0u16, |acc, m| acc | m);
        if mask == 0 || self.authorizer().holds_on(identity, handle, values, mask)? {
            Ok(())
        } else {
            Err(Failure::bare(ResponseCode::InvalidAdmin))
        }
    }

    /// Stamps values with `now`, seals secrets, and encodes the record.
    fn stamp_and_encode(&self, values: &[HandleValue], now: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            4 + values
                .iter()
                .map(|v| 64 + v.value_type.len() + v.data.len())
                .sum::<usize>(),
        );
        out.extend_from_slice(&(values.len() as u32).to_be_bytes());
        for value in values {
            if value.has_type(types::HS_SECKEY) {
                self.prepare(value, now).encode(&mut out);
            } else {
                // The encoding starts with the index and then the timestamp (RFC 3651 §3.1),
                // so the value is stamped in place instead of being copied first.
                let start = out.len();
                value.encode(&mut out);
                out[start + 4..start + 8].copy_from_slice(&now.to_be_bytes());
            }
        }
        out
    }

    fn prepare(&self, value: &HandleValue, now: u32) -> HandleValue {
        let mut v = value.clone();
        v.timestamp = now;
        if v.has_type(types::HS_SECKEY) {
            v.data = self.sealer.seal(&v.data);
        }
        v
    }

    async fn add_values(
        &self,
        handle: Handle,
        values: Vec<HandleValue>,
        overwrite: bool,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        check_values(&values)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        self.update(
            &handle,
            |old| {
                let mut merged = old.to_vec();
                let mut needed = Vec::new();
                let mut created = true;
                for new in &values {
                    match merged.iter_mut().find(|o| o.index == new.index) {
                        Some(_) if !overwrite => {
                            return Err(Failure::bare(ResponseCode::ValueAlreadyExists));
                        }
                        Some(slot) => {
                            needed.push(modify_mask(slot, new));
                            *slot = self.prepare(new, now);
                            created = false;
                        }
                        None => {
                            needed.push(add_mask(new));
                            merged.push(self.prepare(new, now));
                        }
                    }
                }
                Ok((merged, needed, created))
            },
            identity,
            ("add_values", now),
        )
        .await
    }

    async fn modify_values(
        &self,
        handle: Handle,
        values: Vec<HandleValue>,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        check_values(&values)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        self.update(
            &handle,
            |old| {
                let mut merged = old.to_vec();
                let mut needed = Vec::new();
                for new in &values {
                    let Some(slot) = merged.iter_mut().find(|o| o.index == new.index) else {
                        return Err(Failure::new(
                            ResponseCode::ValuesNotFound,
                            format!("No value at index {}", new.index),
                        ));
                    };
                    if !slot.permissions.admin_write() {
                        return Err(Failure::new(
                            ResponseCode::InsufficientPermissions,
                            format!(
                                "Value at index {} is not writable by administrators",
                                new.index
                            ),
                        ));
                    }
                    needed.push(modify_mask(slot, new));
                    *slot = self.prepare(new, now);
                }
                Ok((merged, needed, false))
            },
            identity,
            ("modify_values", now),
        )
        .await
    }

    async fn remove_values(
        &self,
        handle: Handle,
        indexes: &[u32],
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        self.update(
            &handle,
            |old| {
                let needed: Vec<u16> = old
                    .iter()
                    .filter(|v| indexes.contains(&v.index))
                    .map(remove_mask)
                    .collect();
                if needed.is_empty() {
                    return Err(Failure::bare(ResponseCode::ValuesNotFound));
                }
                let kept = old
                    .iter()
                    .filter(|v| !indexes.contains(&v.index))
                    .cloned()
                    .collect();
                Ok((kept, needed, false))
            },
            identity,
            ("remove_values", now),
        )
        .await
    }

    /// Reads a handle, lets `change` compute its new values and the permissions needed,
    /// authorizes against the old record, and commits with a version precondition, retrying on
    /// concurrent changes.
    async fn update<F>(
        &self,
        handle: &Handle,
        change: F,
        identity: &Identity,
        (action, now): (&str, u32),
    ) -> Result<Outcome, Failure>
    where
        F: Fn(&[HandleValue]) -> Result<(Vec<HandleValue>, Vec<u16>, bool), Failure>,
    {
        for _ in 0..self.config.max_write_retries {
            let old = self.existing(handle)?;
            let old_values = Record::parse(&old.values)
                .map_err(corrupt)?
                .decode_all()
                .map_err(corrupt)?;
            // Authorization comes before any detail of the record is revealed through errors.
            let (new_values, needed, created) = match change(&old_values) {
                Ok(result) => result,
                Err(failure) => return Err(failure),
            };
            self.require_all(identity, handle, &old.values, &needed)?;
            if new_values.len() > MAX_VALUES {
                return Err(Failure::new(ResponseCode::InvalidValue, "Too many values"));
            }
            self.check_template(handle, Some(&old_values), &new_values, now)?;
            let batch = WriteBatch {
                mutations: vec![
                    Mutation::PutHandle {
                        handle: handle.as_str().to_owned(),
                        values: Record::encode(&new_values),
                        expect: Expect::Version(old.version),
                    },
                    crate::domain::audit_write(Some(identity), action, handle.as_str(), now),
                ],
            };
            match self.store.commit(batch).await {
                Ok(()) => {
                    return Ok(Outcome::Done {
                        handle: handle.clone(),
                        created,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(internal(e)),
            }
        }
        Err(too_busy())
    }

    fn existing(&self, handle: &Handle) -> Result<StoredRecord, Failure> {
        self.store
            .get(&handle.key())
            .map_err(internal)?
            .ok_or_else(|| Failure::bare(ResponseCode::HandleNotFound))
    }

    async fn delete(
        &self,
        handle: Handle,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        for _ in 0..self.config.max_write_retries {
            let old = self.existing(&handle)?;
            self.require_all(identity, &handle, &old.values, &[AdminPerms::DELETE_HANDLE])?;
            let batch = WriteBatch {
                mutations: vec![
                    Mutation::DeleteHandle {
                        handle: handle.as_str().to_owned(),
                        expect: Expect::Version(old.version),
                    },
                    crate::domain::audit_write(Some(identity), "delete", handle.as_str(), now),
                ],
            };
            match self.store.commit(batch).await {
                Ok(()) => {
                    return Ok(Outcome::Done {
                        handle,
                        created: false,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(internal(e)),
            }
        }
        Err(too_busy())
    }

    fn list_handles(
        &self,
        prefix: &str,
        page: Option<(usize, usize)>,
        identity: Option<&Identity>,
    ) -> Result<Outcome, Failure> {
        if prefix.is_empty() {
            return Err(Failure::new(
                ResponseCode::InvalidHandle,
                "Empty handle invalid",
            ));
        }
        if !self.prefix_or_ancestor_homed(prefix)? {
            return Err(Failure::new(
                ResponseCode::ServerNotResponsible,
                "That prefix doesn't live here",
            ));
        }
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        let authz = self.authorizer();
        if !authz.is_server_admin(identity) {
            let prefix_handle = format!("{PREFIX_HANDLE_PREFIX}/{prefix}");
            let allowed = match self
                .store
                .get(&normalize(&prefix_handle))
                .map_err(internal)?
            {
                Some(stored) => authz.holds(identity, &stored.values, AdminPerms::LIST_HANDLES)?,
                None => false,
            };
            if !allowed {
                return Err(Failure::bare(ResponseCode::InvalidAdmin));
            }
        }
        let total = self.store.count_handles(prefix).map_err(internal)?;
        let handles = match page {
            Some((_, 0)) => Vec::new(),
            Some((page, size)) => self
                .store
                .list_handles(prefix, page.saturating_mul(size), size)
                .map_err(internal)?,
            None => self
                .store
                .list_handles(prefix, 0, usize::MAX)
                .map_err(internal)?,
        };
        Ok(Outcome::Handles { total, handles })
    }

    async fn change_homing(
        &self,
        mutation: Mutation,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        if !self.authorizer().is_server_admin(identity) {
            return Err(Failure::bare(ResponseCode::InvalidAdmin));
        }
        let prefix = match &mutation {
            Mutation::HomePrefix { prefix } | Mutation::UnhomePrefix { prefix } => prefix.clone(),
            _ => unreachable!("only homing mutations are passed here"),
        };
        let handle = Handle::prefix_handle(&prefix)
            .map_err(|e| Failure::new(ResponseCode::InvalidHandle, e.to_string()))?;
        let action = match &mutation {
            Mutation::HomePrefix { .. } => "home",
            _ => "unhome",
        };
        let audit = crate::domain::audit_write(Some(identity), action, handle.as_str(), now);
        self.store
            .commit(WriteBatch {
                mutations: vec![mutation, audit],
            })
            .await
            .map_err(internal)?;
        Ok(Outcome::Done {
            handle,
            created: false,
        })
    }
}

/// The identity when a credential check passed, RC 403 otherwise.
fn verified(identity: &ValueRef, passed: bool) -> Result<Identity, Failure> {
    if passed {
        Ok(Identity(identity.clone()))
    } else {
        Err(Failure::bare(ResponseCode::AuthenticationFailed))
    }
}

/// Checks values before anything is written: indexes, duplicates, and the data of reserved
/// types. Every violation is RC 202 (INVALID_VALUE) naming the value.
fn check_values(values: &[HandleValue]) -> Result<(), Failure> {
    let invalid = |msg: String| Failure::new(ResponseCode::InvalidValue, msg);
    if values.len() > MAX_VALUES {
        return Err(invalid(format!(
            "Too many values: {} (at most {MAX_VALUES})",
            values.len()
        )));
    }
    for (i, v) in values.iter().enumerate() {
        if v.index == 0 || v.index > i32::MAX as u32 {
            return Err(invalid("Value indexes must be positive".into()));
        }
        if values[..i].iter().any(|o| o.index == v.index) {
            return Err(invalid(format!("Duplicate value index {}", v.index)));
        }
        if v.value_type.is_empty() {
            return Err(invalid(format!(
                "Value at index {} has an empty type",
                v.index
            )));
        }
        let upper = v.value_type.to_ascii_uppercase();
        let ok = match upper.as_str() {
            types::HS_ADMIN => AdminRecord::from_bytes(&v.data).is_ok(),
            types::HS_VLIST => ValueList::from_bytes(&v.data).is_ok(),
            types::HS_SITE | types::HS_SITE_PREFIX | types::HS_NA_DELEGATE | "HS_SITE.6" => {
                SiteInfo::from_bytes(&v.data).is_ok()
            }
            types::HS_PUBKEY => PublicKey::from_bytes(&v.data).is_ok(),
            types::HS_SECKEY => !v.data.is_empty(),
            _ => true,
        };
        if !ok {
            return Err(invalid(format!(
                "Invalid {} data at index {}",
                v.value_type, v.index
            )));
        }
    }
    Ok(())
}

/// Whether two values are the same apart from their timestamps. A stored secret never equals an
/// incoming one, since the stored form is sealed.
fn same_content(old: &HandleValue, new: &HandleValue) -> bool {
    old.index == new.index
        && old.value_type == new.value_type
        && old.data == new.data
        && old.ttl == new.ttl
        && old.permissions == new.permissions
        && old.references == new.references
}

fn is_admin_value(v: &HandleValue) -> bool {
    v.has_type(types::HS_ADMIN)
}

fn add_mask(v: &HandleValue) -> u16 {
    if is_admin_value(v) {
        AdminPerms::ADD_ADMIN
    } else {
        AdminPerms::ADD_VALUE
    }
}

fn remove_mask(v: &HandleValue) -> u16 {
    if is_admin_value(v) {
        AdminPerms::REMOVE_ADMIN
    } else {
        AdminPerms::REMOVE_VALUE
    }
}

fn modify_mask(old: &HandleValue, new: &HandleValue) -> u16 {
    if is_admin_value(old) || is_admin_value(new) {
        AdminPerms::MODIFY_ADMIN
    } else {
        AdminPerms::MODIFY_VALUE
    }
}

/// An RFC 4122 version 4 UUID from 16 random bytes, in lower-case text.
fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A storage failure as RC 2; the detail goes to the log, not to the client.
pub(crate) fn internal(e: StoreError) -> Failure {
    tracing::error!(error = %e, "storage failure");
    Failure::new(ResponseCode::Error, "Internal storage error")
}

fn corrupt(e: idnode_proto::DecodeError) -> Failure {
    tracing::error!(error = %e, "stored record does not decode");
    Failure::new(ResponseCode::Error, "Stored record is corrupt")
}

fn too_busy() -> Failure {
    Failure::new(
        ResponseCode::ServerTooBusy,
        "Too many concurrent changes to this handle",
    )
}
