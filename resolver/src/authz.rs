//! The one authorization implementation, shared by every interface (RFC 3652 §3.5 and the CNRI
//! rules in `handle-protocol.md` §7.1).
//!
//! An identity holds a permission on a handle when one of the handle's `HS_ADMIN` values grants
//! the permission bits and names the identity, directly (`index:handle`, index 0 meaning any
//! index) or through `HS_VLIST` groups, which are expanded recursively up to a depth limit.
//! Server administrators from the configuration hold every permission everywhere. Unless turned
//! off, the administrators named in a prefix handle `0.NA/P` also hold their permissions on every
//! handle `P/x` (the reference server's `allow_na_admins = yes`).

use idnode_proto::{
    AdminRecord, Handle, PREFIX_HANDLE_PREFIX, Record, ValueList, ValueRef, normalize, types,
};
use idnode_registry::Store;

use crate::op::{Failure, Identity};

/// Decides whether identities hold permissions.
#[derive(Debug)]
pub struct Authorizer<'a, S> {
    store: &'a S,
    server_admins: &'a [ValueRef],
    max_depth: usize,
    prefix_admins: bool,
}

impl<'a, S: Store> Authorizer<'a, S> {
    /// An authorizer reading groups from `store`.
    pub fn new(store: &'a S, server_admins: &'a [ValueRef], max_depth: usize) -> Self {
        Self {
            store,
            server_admins,
            max_depth,
            prefix_admins: false,
        }
    }

    /// Also grants the permissions of a prefix handle's administrators on the handles under the
    /// prefix, in [`Self::holds_on`].
    pub fn with_prefix_admins(mut self, enabled: bool) -> Self {
        self.prefix_admins = enabled;
        self
    }

    /// Whether the identity holds every bit of `mask` on `handle`, whose record is `values`:
    /// through the handle's own `HS_ADMIN` values, as a server administrator, or (when enabled)
    /// through the `HS_ADMIN` values of the prefix handle `0.NA/P` of a handle `P/x`.
    pub fn holds_on(
        &self,
        identity: &Identity,
        handle: &Handle,
        values: &[u8],
        mask: u16,
    ) -> Result<bool, Failure> {
        if self.holds(identity, values, mask)? {
            return Ok(true);
        }
        if !self.prefix_admins || handle.is_prefix_handle() {
            return Ok(false);
        }
        let prefix_handle = format!("{PREFIX_HANDLE_PREFIX}/{}", handle.prefix());
        match crate::reads::read_handle(self.store, &normalize(&prefix_handle))
            .map_err(crate::op::internal)?
        {
            Some(stored) => self.holds(identity, &stored.values, mask),
            None => Ok(false),
        }
    }

    /// Whether the identity is a server administrator.
    pub fn is_server_admin(&self, identity: &Identity) -> bool {
        self.server_admins
            .iter()
            .any(|admin| refers_directly(admin, &identity.0))
    }

    /// Whether the identity holds every bit of `mask` through the `HS_ADMIN` values of the
    /// record `values` (`int4 count` + encoded values), or as a server administrator.
    pub fn holds(&self, identity: &Identity, values: &[u8], mask: u16) -> Result<bool, Failure> {
        if self.is_server_admin(identity) {
            return Ok(true);
        }
        for admin in admin_records(values) {
            if admin.perms.has(mask) && self.includes(&admin.admin, &identity.0, 0)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the reference `admin` names `identity`, directly or through groups.
    fn includes(
        &self,
        admin: &ValueRef,
        identity: &ValueRef,
        depth: usize,
    ) -> Result<bool, Failure> {
        if refers_directly(admin, identity) {
            return Ok(true);
        }
        if depth >= self.max_depth {
            return Ok(false);
        }
        let Some(stored) = crate::reads::read_handle(self.store, &normalize(&admin.handle))
            .map_err(crate::op::internal)?
        else {
            return Ok(false);
        };
        let Ok(record) = Record::parse(&stored.values) else {
            return Ok(false);
        };
        for value in record.iter() {
            let index_matches = admin.index == 0 || value.index() == admin.index;
            if !index_matches
                || !value
                    .value_type()
                    .eq_ignore_ascii_case(types::HS_VLIST.as_bytes())
            {
                continue;
            }
            let Ok(group) = ValueList::from_bytes(value.data()) else {
                continue;
            };
            for member in &group.0 {
                if self.includes(member, identity, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The `HS_ADMIN` data of a record's values; undecodable ones are skipped.
pub fn admin_records(values: &[u8]) -> impl Iterator<Item = AdminRecord> + '_ {
    Record::parse(values)
        .into_iter()
        .flat_map(|r| r.iter())
        .filter_map(|v| {
            if v.value_type()
                .eq_ignore_ascii_case(types::HS_ADMIN.as_bytes())
            {
                AdminRecord::from_bytes(v.data()).ok()
            } else {
                None
            }
        })
}

/// Whether an admin reference names the identity itself: same handle ignoring ASCII case, and
/// the same index or index 0.
fn refers_directly(admin: &ValueRef, identity: &ValueRef) -> bool {
    admin.handle.eq_ignore_ascii_case(&identity.handle)
        && (admin.index == 0 || admin.index == identity.index)
}
