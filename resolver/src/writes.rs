//! The writes of the pipeline: create, register, mint, replace, update, add, modify and
//! remove values, delete, and homing. Each reads the record, lets the change be computed from
//! it, authorizes against it, runs the template step, and commits with a precondition on the
//! version read, retrying on concurrent changes ([`Resolver::handle`] dispatches here).

use idnode_proto::{
    AdminPerms, AdminRecord, Handle, HandleValue, MAX_VALUES, PREFIX_HANDLE_PREFIX, Record,
    ResponseCode, normalize, types,
};
use idnode_registry::{Expect, Mutation, Store, StoreError, StoredRecord, WriteBatch};

use crate::op::{Failure, Identity, Outcome, corrupt, internal, too_busy};
use crate::pipeline::{Resolver, check_values};

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

impl<S: Store> Resolver<S> {
    pub(crate) async fn mint(
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

    pub(crate) async fn register(
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

    pub(crate) async fn update_values(
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

    pub(crate) async fn create(
        &self,
        handle: Handle,
        values: &[HandleValue],
        overwrite: bool,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        let created = self
            .commit_with_retry(|| {
                let prepared = self.prepare_create(&handle, values, overwrite, identity, now)?;
                let action = if prepared.created {
                    "create"
                } else {
                    "replace"
                };
                let audit = crate::records::audit_write(identity, action, handle.as_str(), now);
                let batch = WriteBatch {
                    mutations: vec![prepared.put, audit],
                };
                Ok((batch, prepared.created))
            })
            .await?;
        Ok(Outcome::Done { handle, created })
    }

    /// Commits the batch that `attempt` prepares from what the store holds now; when a
    /// concurrent commit changed something it read (a version precondition fails), prepares
    /// and commits again, up to `max_write_retries` times, then answers RC 3 (too busy).
    async fn commit_with_retry<T>(
        &self,
        mut attempt: impl FnMut() -> Result<(WriteBatch, T), Failure>,
    ) -> Result<T, Failure> {
        for _ in 0..self.config.max_write_retries {
            let (batch, done) = attempt()?;
            match self.store.commit(batch).await {
                Ok(()) => return Ok(done),
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
        let existing = crate::reads::read_handle(&self.store, &handle.key()).map_err(internal)?;
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
    pub(crate) fn authorize_create(
        &self,
        handle: &Handle,
        identity: &Identity,
    ) -> Result<(), Failure> {
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
            crate::reads::read_handle(&self.store, &normalize(&prefix_handle)).map_err(internal)?
        else {
            return Err(Failure::bare(ResponseCode::InvalidAdmin));
        };
        if authz.holds(identity, &stored.values, mask)? {
            Ok(())
        } else {
            Err(Failure::bare(ResponseCode::InvalidAdmin))
        }
    }

    /// Whether `identity` holds DELETE_DERIVED_PREFIX on `0.NA/P` for the derived prefix
    /// handle `handle` = `0.NA/P.x`: the administrator of a delegated prefix withdraws the
    /// prefixes it delegated further, whatever their own `HS_ADMIN` values say.
    fn may_delete_derived_prefix(
        &self,
        identity: &Identity,
        handle: &Handle,
    ) -> Result<bool, Failure> {
        let Some(dot) = handle
            .is_prefix_handle()
            .then(|| handle.suffix().rfind('.'))
            .flatten()
        else {
            return Ok(false);
        };
        let parent = format!("{PREFIX_HANDLE_PREFIX}/{}", &handle.suffix()[..dot]);
        match crate::reads::read_handle(&self.store, &normalize(&parent)).map_err(internal)? {
            Some(stored) => {
                self.authorizer()
                    .holds(identity, &stored.values, AdminPerms::DELETE_DERIVED_PREFIX)
            }
            None => Ok(false),
        }
    }

    pub(crate) fn require_all(
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
    pub(crate) fn stamp_and_encode(&self, values: &[HandleValue], now: u32) -> Vec<u8> {
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

    pub(crate) fn prepare(&self, value: &HandleValue, now: u32) -> HandleValue {
        let mut v = value.clone();
        v.timestamp = now;
        if v.has_type(types::HS_SECKEY) {
            v.data = self.sealer.seal(&v.data);
        }
        v
    }

    pub(crate) async fn add_values(
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

    pub(crate) async fn modify_values(
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

    pub(crate) async fn remove_values(
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
    pub(crate) async fn update<F>(
        &self,
        handle: &Handle,
        change: F,
        identity: &Identity,
        (action, now): (&str, u32),
    ) -> Result<Outcome, Failure>
    where
        F: Fn(&[HandleValue]) -> Result<(Vec<HandleValue>, Vec<u16>, bool), Failure>,
    {
        let created = self
            .commit_with_retry(|| {
                let old = self.existing(handle)?;
                let old_values = Record::parse(&old.values)
                    .map_err(corrupt)?
                    .decode_all()
                    .map_err(corrupt)?;
                // Authorization comes before any detail of the record is revealed through errors.
                let (new_values, needed, created) = change(&old_values)?;
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
                        crate::records::audit_write(Some(identity), action, handle.as_str(), now),
                    ],
                };
                Ok((batch, created))
            })
            .await?;
        Ok(Outcome::Done {
            handle: handle.clone(),
            created,
        })
    }

    pub(crate) fn existing(&self, handle: &Handle) -> Result<StoredRecord, Failure> {
        self.store
            .get(&handle.key())
            .map_err(internal)?
            .ok_or_else(|| Failure::bare(ResponseCode::HandleNotFound))
    }

    pub(crate) async fn delete(
        &self,
        handle: Handle,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<Outcome, Failure> {
        self.check_homed(&handle)?;
        let identity = identity.ok_or_else(|| Failure::bare(ResponseCode::AuthenticationNeeded))?;
        self.commit_with_retry(|| {
            let old = self.existing(&handle)?;
            if !self.may_delete_derived_prefix(identity, &handle)? {
                self.require_all(identity, &handle, &old.values, &[AdminPerms::DELETE_HANDLE])?;
            }
            let batch = WriteBatch {
                mutations: vec![
                    Mutation::DeleteHandle {
                        handle: handle.as_str().to_owned(),
                        expect: Expect::Version(old.version),
                    },
                    crate::records::audit_write(Some(identity), "delete", handle.as_str(), now),
                ],
            };
            Ok((batch, ()))
        })
        .await?;
        Ok(Outcome::Done {
            handle,
            created: false,
        })
    }

    pub(crate) fn list_handles(
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

    pub(crate) async fn change_homing(
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
        let audit = crate::records::audit_write(Some(identity), action, handle.as_str(), now);
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
