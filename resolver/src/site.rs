//! The node's own site information on the prefix handles it homes.
//!
//! `idnode init` writes the node's `HS_SITE` at index [`SITE_INDEX`] of `0.NA/<prefix>`; what
//! the node serves can change later (listen addresses, the site key, the description). On
//! start the node calls [`Resolver::publish_site`], which brings that value to the current
//! site information, with the serial number one above the stored one, as Handle clients
//! expect of a changed site. Other `HS_SITE` values of the handle (mirrors, other sites) are
//! left alone.
//!
//! Approved enterprise prefix handles (`0.NA/88.118.8`) start with a copy of their parent's
//! `HS_SITE`: while theirs is still this node's site (as it was, or as it is now), it is brought
//! along. An enterprise that runs its own node (企业节点对接) puts that node's site there
//! instead; it is left alone, and docking registers it at the top-level node.

use idnode_proto::{Handle, Record, SiteInfo, types};
use idnode_registry::{Expect, Mutation, Store, WriteBatch};

use crate::op::{corrupt, internal, too_busy};
use crate::{Failure, Resolver};

/// The index of the node's own `HS_SITE` value on its prefix handles.
pub const SITE_INDEX: u32 = 1;

/// What [`Resolver::publish_site`] did to one prefix handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The prefix handle, `0.NA/<prefix>`.
    pub handle: String,
    /// The serial number now stored.
    pub serial: u16,
    /// Whether the value was changed.
    pub changed: bool,
}

impl<S: Store> Resolver<S> {
    /// Brings the `HS_SITE` value at [`SITE_INDEX`] of every homed prefix's handle to `site`
    /// (its serial number aside), raising the stored serial by one where it changes, and
    /// audits each change as the node's own. Prefix handles that do not exist, or have no
    /// value at that index, are skipped. Only the node calls this; no front end reaches it.
    pub async fn publish_site(&self, site: &SiteInfo, now: u32) -> Result<Vec<Published>, Failure> {
        let mut done = Vec::new();
        let homed = self.store.homed_prefixes().map_err(internal)?;
        let mut ours = vec![site.clone()];
        for prefix in &homed {
            let Ok(handle) = Handle::prefix_handle(prefix) else {
                continue;
            };
            ours.extend(self.site_at(&handle)?);
            if let Some(published) = self.publish_on(&handle, site, now).await? {
                done.push(published);
            }
        }
        for (prefix, _) in self.approved_prefixes()? {
            let Ok(handle) = Handle::prefix_handle(&prefix) else {
                continue;
            };
            if homed.iter().any(|h| h.eq_ignore_ascii_case(&prefix)) {
                continue;
            }
            let copy = self
                .site_at(&handle)?
                .is_some_and(|current| ours.iter().any(|s| same_site(s, &current)));
            if copy && let Some(published) = self.publish_on(&handle, site, now).await? {
                done.push(published);
            }
        }
        Ok(done)
    }

    /// The `HS_SITE` value at [`SITE_INDEX`] of `handle`, if it has one that decodes.
    pub fn site_at(&self, handle: &Handle) -> Result<Option<SiteInfo>, Failure> {
        let Some(stored) = self.store.get(&handle.key()).map_err(internal)? else {
            return Ok(None);
        };
        let values = Record::parse(&stored.values)
            .map_err(corrupt)?
            .decode_all()
            .map_err(corrupt)?;
        Ok(values
            .iter()
            .find(|v| v.index == SITE_INDEX && v.value_type.eq_ignore_ascii_case(types::HS_SITE))
            .and_then(|v| SiteInfo::from_bytes(&v.data).ok()))
    }

    async fn publish_on(
        &self,
        handle: &Handle,
        site: &SiteInfo,
        now: u32,
    ) -> Result<Option<Published>, Failure> {
        for _ in 0..self.config.max_write_retries {
            let Some(old) = self.store.get(&handle.key()).map_err(internal)? else {
                return Ok(None);
            };
            let mut values = Record::parse(&old.values)
                .map_err(corrupt)?
                .decode_all()
                .map_err(corrupt)?;
            let Some(value) = values.iter_mut().find(|v| {
                v.index == SITE_INDEX && v.value_type.eq_ignore_ascii_case(types::HS_SITE)
            }) else {
                return Ok(None);
            };
            let stored = SiteInfo::from_bytes(&value.data).ok();
            let serial = stored.as_ref().map_or(0, |s| s.serial_number);
            let current = SiteInfo {
                serial_number: serial,
                ..site.clone()
            };
            if stored.as_ref() == Some(&current) {
                return Ok(Some(published(handle, serial, false)));
            }
            let serial = serial.wrapping_add(1).max(1);
            value.data = SiteInfo {
                serial_number: serial,
                ..site.clone()
            }
            .to_bytes();
            value.timestamp = now;
            let batch = WriteBatch {
                mutations: vec![
                    Mutation::PutHandle {
                        handle: handle.as_str().to_owned(),
                        values: Record::encode(&values),
                        expect: Expect::Version(old.version),
                    },
                    crate::records::audit_write(None, "publish_site", handle.as_str(), now),
                ],
            };
            match self.store.commit(batch).await {
                Ok(()) => return Ok(Some(published(handle, serial, true))),
                Err(idnode_registry::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(internal(e)),
            }
        }
        Err(too_busy())
    }
}

/// Whether two sites are the same, serial numbers aside.
pub fn same_site(a: &SiteInfo, b: &SiteInfo) -> bool {
    SiteInfo {
        serial_number: b.serial_number,
        ..a.clone()
    } == *b
}

fn published(handle: &Handle, serial: u16, changed: bool) -> Published {
    Published {
        handle: handle.as_str().to_owned(),
        serial,
        changed,
    }
}
