//! Docking with the top-level node (接入 and 数据同步, idis-secondary-node.md): the prefix
//! handles there that name this node are kept current with ordinary authenticated Handle
//! requests, so that any conforming top-level node (the reference server included) serves.
//!
//! * `0.NA/<P>`, the node's own delegation (`P` from `[federation] identity`
//!   `300:0.NA/<P>`): its `HS_SITE` and `HS_SITE.PREFIX` values carry this node's current
//!   site information, their serial raised past the top-level node's on each change
//!   (MODIFY_VALUE, or ADD_VALUE where there is none).
//! * `0.NA/<E>` for every enterprise prefix `E` approved under `P` (onboarding): created with
//!   the `HS_SITE` of the local `0.NA/<E>` (this node's, or the enterprise's own node's when
//!   it runs one, 企业节点对接) and an `HS_ADMIN` for the identity while the enterprise is
//!   enabled, deleted when it is disabled.
//!
//! The work is a reconciliation, not a queue of messages: each pass compares what the
//! top-level node holds with what this node's durable state says it should hold, and sends
//! the differences. Nothing can be lost, because nothing lives only in memory: a change made
//! while the top-level node is down, or before a crash, is found again by the next pass. A
//! pass runs at start, after every local commit that may change the answer (prefix handles,
//! enterprise records and administrators, homed prefixes), and every `sync_interval` seconds; a failed
//! pass is retried after 1, 2, 4 … seconds, at most five minutes. `idnode_docking_pending`
//! is the number of differences the last pass found and has not yet applied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use idnode_client::auth::{Signer, send_as};
use idnode_proto::wire::{
    Body, Envelope, Header, Message, OpCode, OpFlags, ValuesRequest, Version,
};
use idnode_proto::{AdminPerms, AdminRecord, HandleValue, ResponseCode, SiteInfo, types};
use idnode_resolver::EntState;
use tokio::sync::{Notify, watch};

use crate::core::Core;

/// How long one exchange with the top-level node may take.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(10);

/// The longest wait between two failed passes.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What this node may do on an enterprise prefix handle it creates at the top-level node.
const ENTERPRISE_PERMS: u16 = AdminPerms::ADD_VALUE
    | AdminPerms::MODIFY_VALUE
    | AdminPerms::REMOVE_VALUE
    | AdminPerms::READ_VALUE
    | AdminPerms::DELETE_HANDLE
    | AdminPerms::ADD_DERIVED_PREFIX
    | AdminPerms::DELETE_DERIVED_PREFIX;

/// One change to make at the top-level node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Create(String, Vec<HandleValue>),
    Add(String, Vec<HandleValue>),
    Modify(String, Vec<HandleValue>),
    Delete(String),
}

impl Change {
    fn body(&self) -> Body {
        let values = |handle: &str, values: &[HandleValue]| ValuesRequest {
            handle: handle.to_owned(),
            values: values.to_vec(),
        };
        match self {
            Self::Create(h, v) => Body::CreateHandle(values(h, v)),
            Self::Add(h, v) => Body::AddValue(values(h, v)),
            Self::Modify(h, v) => Body::ModifyValue(values(h, v)),
            Self::Delete(h) => Body::DeleteHandle { handle: h.clone() },
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Create(h, _) => format!("create {h}"),
            Self::Add(h, _) => format!("add values to {h}"),
            Self::Modify(h, _) => format!("modify {h}"),
            Self::Delete(h) => format!("delete {h}"),
        }
    }
}

/// The docking task's state.
pub struct Docking {
    core: Arc<Core>,
    top_level: Vec<SocketAddr>,
    signer: Arc<dyn Signer>,
    /// The delegated prefix, from the identity `300:0.NA/<prefix>`.
    prefix: String,
    next_id: AtomicU32,
    /// Woken by commits that may change what the top-level node should hold.
    wake: Arc<Notify>,
}

impl Docking {
    /// The docking of `core`, when `[federation]` names a top-level node, an identity and its
    /// key; `None` otherwise. Errors are configuration errors (a bad identity or key).
    pub fn from_config(core: &Arc<Core>) -> anyhow::Result<Option<Arc<Self>>> {
        let federation = &core.config.federation;
        let (Some(identity), Some(key)) = (&federation.identity, &federation.identity_key) else {
            return Ok(None);
        };
        let top_level = federation.top_level_addrs()?;
        anyhow::ensure!(
            !top_level.is_empty(),
            "[federation] identity needs top_level: the native addresses of the top-level node"
        );
        let signer = super::identity::load(identity, key)?;
        let handle = &signer.identity().handle;
        let prefix = handle
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("0.NA/"))
            .map(|_| handle[5..].to_owned())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "[federation] identity {identity:?} is not the administrator of a prefix \
                     handle 0.NA/<prefix>"
                )
            })?;
        let wake = Arc::new(Notify::new());
        core.add_commit_listener({
            let wake = Arc::clone(&wake);
            Arc::new(move |notice| {
                let relevant = notice.prefixes_changed
                    || notice
                        .aux_spaces
                        .iter()
                        .any(|s| s == idnode_resolver::onboarding::ENT_SPACE)
                    || notice
                        .handles
                        .iter()
                        .any(|h| h.starts_with(b"0.NA/") || h.ends_with(b"/ADMIN"));
                if relevant {
                    wake.notify_one();
                }
            })
        });
        Ok(Some(Arc::new(Self {
            core: Arc::clone(core),
            top_level,
            signer,
            prefix,
            next_id: AtomicU32::new(rand::random::<u32>() >> 1),
            wake,
        })))
    }

    /// The reporter that sends operation reports as the same identity to the same node.
    pub fn reporter(&self) -> super::report::Reporter {
        super::report::Reporter::new(
            Arc::clone(&self.core),
            self.top_level.clone(),
            Arc::clone(&self.signer),
            self.prefix.clone(),
        )
    }

    /// Runs passes until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_secs(self.core.config.federation.sync_interval.max(1));
        let mut failures = 0u32;
        loop {
            let wait = match self.pass().await {
                Ok(applied) => {
                    if applied > 0 {
                        tracing::info!(applied, "prefix handles at the top-level node updated");
                    }
                    failures = 0;
                    interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    metrics::counter!("idnode_docking_failures_total").increment(1);
                    // Once per run of failures at warning level; the retries at debug level.
                    if failures == 1 {
                        tracing::warn!(error = %e, "docking with the top-level node failed; retrying with backoff");
                    } else {
                        tracing::debug!(error = %e, failures, "docking still failing");
                    }
                    Duration::from_secs(1u64 << failures.min(9)).min(MAX_BACKOFF)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One reconciliation: finds the differences and applies them; the number applied.
    pub async fn pass(&self) -> Result<usize, String> {
        let site = crate::site::site_info(&self.core);
        let mut changes = Vec::new();
        let own = format!("0.NA/{}", self.prefix);
        let Some(values) = self.resolve(&own).await? else {
            return Err(format!(
                "the top-level node has no {own}; its operator must delegate the prefix first \
                 (idnode delegate)"
            ));
        };
        changes.extend(site_changes(&own, &values, &site, true));
        let approved = self
            .core
            .resolver
            .approved_prefixes()
            .map_err(|f| f.message)?;
        for (prefix, state) in approved {
            if !is_under(&prefix, &self.prefix) {
                continue;
            }
            let handle = format!("0.NA/{prefix}");
            // The enterprise's own node (企业节点对接) when its prefix handle here names one,
            // otherwise this node.
            let local = idnode_proto::Handle::prefix_handle(&prefix)
                .ok()
                .map(|h| self.core.resolver.site_at(&h))
                .transpose()
                .map_err(|f| f.message)?
                .flatten();
            let target = local.unwrap_or_else(|| site.clone());
            let current = self.resolve(&handle).await?;
            match (state, current) {
                (EntState::Enabled, None) => {
                    let admin = AdminRecord {
                        perms: AdminPerms(ENTERPRISE_PERMS),
                        admin: self.signer.identity().clone(),
                    };
                    changes.push(Change::Create(
                        handle,
                        vec![
                            HandleValue::new(1, types::HS_SITE, target.to_bytes()),
                            HandleValue::new(100, types::HS_ADMIN, admin.to_bytes()),
                        ],
                    ));
                }
                (EntState::Enabled, Some(values)) => {
                    changes.extend(site_changes(&handle, &values, &target, false));
                }
                (_, Some(_)) => changes.push(Change::Delete(handle)),
                (_, None) => {}
            }
        }
        // Every change is tried, so one the top-level node refuses (a right it did not grant)
        // does not hold back the others; the pass fails if any did.
        let mut pending = changes.len();
        metrics::gauge!("idnode_docking_pending").set(pending as f64);
        let mut first_error = None;
        for change in &changes {
            match self.apply(change).await {
                Ok(()) => {
                    pending -= 1;
                    metrics::gauge!("idnode_docking_pending").set(pending as f64);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(changes.len()),
            Some(e) => Err(e),
        }
    }

    fn request(&self, body: Body, flags: OpFlags) -> Message {
        let opcode = body.request_opcode().unwrap_or(OpCode::Resolution);
        let mut header = Header::request(opcode);
        header.flags = flags;
        header.expiration = crate::core::unix_now().saturating_add(600);
        let envelope = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            request_id: self.next_id.fetch_add(2, Ordering::Relaxed) & 0x7FFF_FFFF,
            ..Envelope::default()
        };
        Message::new(envelope, header, body)
    }

    /// Sends `request` to the first top-level address that answers.
    async fn send(&self, request: &Message) -> Result<Message, String> {
        let mut last = String::from("no top-level address");
        for addr in &self.top_level {
            match send_as(*addr, request, self.signer.as_ref(), EXCHANGE_LIMIT).await {
                Ok(answer) => return Ok(answer),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// The values of `handle` at the top-level node; `None` when it does not exist there.
    /// DNRF asks for RC 100 instead of a prefix referral.
    async fn resolve(&self, handle: &str) -> Result<Option<Vec<HandleValue>>, String> {
        let body = Body::Resolution(idnode_proto::wire::ResolutionRequest {
            handle: handle.to_owned(),
            indexes: Vec::new(),
            types: Vec::new(),
        });
        let answer = self
            .send(&self.request(body, OpFlags::PO.with(OpFlags::DNRF)))
            .await?;
        match (answer.header.response_code, answer.body) {
            (ResponseCode::Success, Body::Resolved(r)) => Ok(Some(r.values)),
            (ResponseCode::ValuesNotFound, _) => Ok(Some(Vec::new())),
            (ResponseCode::HandleNotFound, _) => Ok(None),
            (rc, body) => Err(format!(
                "resolving {handle} at the top-level node: {rc:?} {}",
                idnode_client::locate::error_text(&body)
            )),
        }
    }

    async fn apply(&self, change: &Change) -> Result<(), String> {
        // DNRF: a top-level node that delegates an ancestor (HS_SITE.PREFIX) would otherwise
        // answer a create of an unstored prefix handle with a prefix referral (RC 303), as the
        // reference server does.
        let answer = self
            .send(&self.request(change.body(), OpFlags::DNRF))
            .await?;
        match answer.header.response_code {
            ResponseCode::Success => {
                tracing::info!(change = %change.describe(), "top-level node updated");
                Ok(())
            }
            rc => Err(format!(
                "{} at the top-level node: {rc:?} {}",
                change.describe(),
                idnode_client::locate::error_text(&answer.body)
            )),
        }
    }
}

/// Whether `prefix` is derived from `parent` (`88.118.8` from `88.118`).
fn is_under(prefix: &str, parent: &str) -> bool {
    prefix.len() > parent.len()
        && prefix.as_bytes()[parent.len()] == b'.'
        && prefix[..parent.len()].eq_ignore_ascii_case(parent)
}

/// The changes that make the site values of `handle` (its `HS_SITE`, and with `prefix_too`
/// its `HS_SITE.PREFIX`) name `site`: none when one of each type already does (serials
/// aside); otherwise the existing value of that type is modified, or a value added at a free
/// index, with a serial above every serial the handle holds.
fn site_changes(
    handle: &str,
    values: &[HandleValue],
    site: &SiteInfo,
    prefix_too: bool,
) -> Vec<Change> {
    let decoded: Vec<(&HandleValue, SiteInfo)> = values
        .iter()
        .filter(|v| v.has_type(types::HS_SITE) || v.has_type(types::HS_SITE_PREFIX))
        .filter_map(|v| SiteInfo::from_bytes(&v.data).ok().map(|s| (v, s)))
        .collect();
    let serial = decoded
        .iter()
        .map(|(_, s)| s.serial_number)
        .max()
        .unwrap_or(0)
        .wrapping_add(1);
    let same = |s: &SiteInfo| idnode_resolver::same_site(s, site);
    let mut current = site.clone();
    current.serial_number = serial;
    let mut used: Vec<u32> = values.iter().map(|v| v.index).collect();
    let mut modify = Vec::new();
    let mut add = Vec::new();
    let kinds: &[&str] = if prefix_too {
        &[types::HS_SITE, types::HS_SITE_PREFIX]
    } else {
        &[types::HS_SITE]
    };
    for kind in kinds {
        let of_kind: Vec<&(&HandleValue, SiteInfo)> = decoded
            .iter()
            .filter(|(v, _)| v.value_type == *kind)
            .collect();
        if of_kind.iter().any(|(_, s)| same(s)) {
            continue;
        }
        match of_kind.first() {
            Some((existing, _)) => {
                let mut value = (*existing).clone();
                value.data = current.to_bytes();
                modify.push(value);
            }
            None => {
                let index = (1..).find(|i| !used.contains(i)).unwrap_or(1);
                used.push(index);
                add.push(HandleValue::new(index, *kind, current.to_bytes()));
            }
        }
    }
    let mut changes = Vec::new();
    if !modify.is_empty() {
        changes.push(Change::Modify(handle.to_owned(), modify));
    }
    if !add.is_empty() {
        changes.push(Change::Add(handle.to_owned(), add));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(port: u32) -> SiteInfo {
        let mut site = idnode_client::locate::address_site(([127, 0, 0, 1], 2641).into());
        site.servers[0].interfaces[0].port = port;
        site
    }

    #[test]
    fn site_values_change_only_when_the_site_differs() {
        let ours = site(2651);
        let mut stale = site(1);
        stale.serial_number = 7;
        let values = vec![
            HandleValue::new(1, types::HS_SITE, stale.to_bytes()),
            HandleValue::new(2, types::HS_SITE_PREFIX, stale.to_bytes()),
            HandleValue::new(100, types::HS_ADMIN, vec![0; 4]),
        ];
        let changes = site_changes("0.NA/88.118", &values, &ours, true);
        let [Change::Modify(handle, modified)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(handle, "0.NA/88.118");
        assert_eq!(modified.len(), 2);
        assert_eq!(
            SiteInfo::from_bytes(&modified[0].data)
                .unwrap()
                .serial_number,
            8
        );
        // Up to date (whatever the serial): nothing.
        let mut current = ours.clone();
        current.serial_number = 9;
        let values = vec![
            HandleValue::new(1, types::HS_SITE, current.to_bytes()),
            HandleValue::new(2, types::HS_SITE_PREFIX, current.to_bytes()),
        ];
        assert!(site_changes("0.NA/88.118", &values, &ours, true).is_empty());
        // Missing: added at a free index.
        let values = vec![HandleValue::new(1, types::HS_ADMIN, vec![0; 4])];
        let changes = site_changes("0.NA/88.118.8", &values, &ours, false);
        let [Change::Add(_, added)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(
            (added[0].index, added[0].value_type.as_str()),
            (2, types::HS_SITE)
        );
    }

    #[test]
    fn enterprise_prefixes_are_recognised_by_whole_segments() {
        assert!(is_under("88.118.8", "88.118"));
        assert!(!is_under("88.1188", "88.118"));
        assert!(!is_under("88.118", "88.118"));
    }
}
