//! The pipeline that runs every [`Operation`].

use idnode_proto::{
    AdminPerms, AdminRecord, Handle, HandleRules, HandleValue, MAX_VALUES, PREFIX_HANDLE_PREFIX,
    PublicKey, Record, ResponseCode, SiteInfo, TypeFilter, ValueList, ValueRef, types,
};
use idnode_registry::{Mutation, Store, StoredRecord};

use crate::authz::Authorizer;
use crate::op::{Failure, Identity, Operation, Outcome, Request, corrupt, internal};
use crate::upstream::{Upstream, recurse_at};

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
    /// Whether a homed prefix also homes the ordinary handles of the prefixes derived from it
    /// (`88.118` homes `88.118.8/x`), as a secondary node that registers its enterprises'
    /// prefixes under its own wants. A top-level node turns it off: it homes an ordinary
    /// handle `P/x` only when it homes `P` itself, and refers clients to the service of
    /// every prefix it merely delegates. Prefix handles `0.NA/P.x` are answered under a homed
    /// ancestor either way (the reference server's `storageHaveDerivedPrefixesOnly`).
    pub derived_homing: bool,
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
            derived_homing: true,
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

/// Runs operations against a store.
pub struct Resolver<S> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) random: Box<dyn Random>,
    pub(crate) sealer: Box<dyn SecretSealer>,
    /// Templates read so far (versions are immutable).
    pub(crate) templates: crate::records::TemplateCache,
    /// What each identity used of its daily quotas.
    quotas: std::sync::Mutex<crate::quota::Quotas>,
    /// Where handles that do not live here are resolved for clients that ask for it.
    pub(crate) upstream: std::sync::OnceLock<std::sync::Arc<dyn Upstream>>,
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
            templates: crate::records::TemplateCache::default(),
            quotas: std::sync::Mutex::new(quotas),
            upstream: std::sync::OnceLock::new(),
        }
    }

    /// Resolves handles that do not live here at `upstream` when a request asks for recursion
    /// (`Operation::Resolve::recurse`). Without one, such requests get the referral or RC 301
    /// as any other. Set once, when the node starts serving; `false` if one was set already.
    pub fn set_upstream(&self, upstream: std::sync::Arc<dyn Upstream>) -> bool {
        self.upstream.set(upstream).is_ok()
    }

    /// Whether this resolver can recurse.
    pub fn recurses(&self) -> bool {
        self.upstream.get().is_some()
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

    /// Checks that `key` is an `HS_PUBKEY` value at `identity` (index 0: any index): TLS
    /// client-certificate authentication, once the handshake proved that the client holds the
    /// private key. Fails with RC 403 otherwise.
    pub fn authenticate_public_key(
        &self,
        identity: &ValueRef,
        key: &PublicKey,
    ) -> Result<Identity, Failure> {
        let stored = self.public_keys(identity)?;
        verified(identity, stored.iter().any(|held| held.same_key(key)))
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
        if self.config.daily_request_quota == 0 && self.config.daily_registration_quota == 0 {
            // No quota: nothing to count, and no lock shared by every request.
            return Ok(());
        }
        let mut quotas = match self.quotas.lock() {
            Ok(quotas) => quotas,
            // The counters stay consistent under a panic elsewhere (each charge is one update).
            Err(poisoned) => poisoned.into_inner(),
        };
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
                refer,
                recurse,
            } => {
                if let Err(failure) = self.check_homed(&handle) {
                    if let (Some(recursion), Some(upstream)) = (recurse, self.upstream.get()) {
                        return recurse_at(
                            upstream.as_ref(),
                            handle,
                            &filter,
                            public_only,
                            recursion,
                        )
                        .await;
                    }
                    return Err(match refer {
                        true => self.service_referral(&handle)?.unwrap_or(failure),
                        false => failure,
                    });
                }
                self.check_not_disabled(if handle.is_prefix_handle() {
                    handle.suffix()
                } else {
                    handle.prefix()
                })?;
                let referable = (refer && handle.is_prefix_handle()).then(|| handle.clone());
                let outcome = match self.resolve_homed(handle, &filter, public_only, identity) {
                    Err(failure) if failure.rc == ResponseCode::HandleNotFound => {
                        return match referable {
                            Some(handle) => Err(self.prefix_referral(&handle)?.unwrap_or(failure)),
                            None => Err(failure),
                        };
                    }
                    other => other?,
                };
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

    pub(crate) fn authorizer(&self) -> Authorizer<'_, S> {
        Authorizer::new(
            &self.store,
            &self.config.server_admins,
            self.config.max_group_depth,
        )
        .with_prefix_admins(self.config.allow_prefix_admins)
    }

    /// Fails with RC 301 unless this node homes the handle's prefix or one of its ancestors.
    pub(crate) fn check_homed(&self, handle: &Handle) -> Result<(), Failure> {
        let homed = if handle.is_prefix_handle() {
            self.prefix_or_ancestor_homed(handle.suffix())?
        } else if self.config.derived_homing {
            self.prefix_or_ancestor_homed(handle.prefix())?
        } else {
            self.store.is_homed(handle.prefix()).map_err(internal)?
        };
        if homed {
            Ok(())
        } else {
            Err(Failure::new(
                ResponseCode::ServerNotResponsible,
                "That prefix doesn't live here",
            ))
        }
    }

    pub(crate) fn prefix_or_ancestor_homed(&self, prefix: &str) -> Result<bool, Failure> {
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

    /// Resolves a handle whose homing has been checked.
    fn resolve_homed(
        &self,
        handle: Handle,
        filter: &TypeFilter,
        public_only: bool,
        identity: Option<&Identity>,
    ) -> Result<Outcome, Failure> {
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
pub(crate) fn check_values(values: &[HandleValue]) -> Result<(), Failure> {
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
