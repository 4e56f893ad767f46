//! The batch path of the pipeline: [`Resolver::handle_batch`] runs many requests through the
//! same steps as [`Resolver::handle`] and commits their writes together.
//!
//! **Per-request semantics.** Every create runs every step of the single path (homing, value
//! checks, identity, existence, authorization, the default `HS_ADMIN` value, the template step)
//! and becomes its own [`WriteBatch`] with its own version precondition, so a failing request
//! never fails its neighbours. The prepared batches of consecutive requests (a *segment*) go to
//! the store in one [`Store::commit_all`], which applies each on its own in one transaction.
//!
//! The result of each request is the one it would get if the requests ran one after the other:
//!
//! * While a request is prepared, every handle its checks read (its own handle, the prefix
//!   handle, administrator groups, handles that template items refer to) is noted. If one of
//!   them is the target of a request prepared earlier in the open segment, the segment is
//!   committed first and the request prepared again, so it sees the earlier write (a duplicate
//!   row then fails with RC 101 exactly as it would alone).
//! * Registrations are creates whose RC 101 answer becomes [`Outcome::Unchanged`] for an
//!   identical retry, as on the single path.
//! * Operations other than create and register (and mint, whose handle is random) run alone
//!   through the single path, after the open segment is committed.
//! * Every request is charged to its identity's daily quotas when the batch reaches it; a
//!   request refused by its quota fails alone.
//! * A prepared write whose precondition fails at commit (a concurrent change by another
//!   client) runs again alone through [`Resolver::handle`], as the single path retries.
//! * Records that exist are read once per segment (the manufacturer every product refers to,
//!   the prefix handle): a request may see such a record as it was when the segment began
//!   rather than when its own checks ran, a window of one segment. Changes made by the batch
//!   itself are never missed (reading one of them commits the segment and forgets what was
//!   read); changes by other clients within the window are ordered as if they came after the
//!   request, as they may on the single path between its checks and its commit.
//!
//! **Audit.** By default every write gets its own audit entry in its own batch, as on the
//! single path. With a [`BatchSummary`] (bulk import), the writes of a segment instead share
//! one audit entry per actor and prefix, built by the store's epilogue from the writes that
//! actually applied and committed in the same transaction as them, so the log still holds
//! every change it describes and nothing else: the action and source of the batch, how many
//! handles were created and replaced, the first and the last, and every handle by name in the
//! detail. Writes that fall back to the single path are audited one by one as usual.

use std::collections::HashSet;

use idnode_proto::Handle;
use idnode_registry::{Epilogue, Store, StoreError, WriteBatch};

use crate::op::internal;
use crate::op::{Failure, Operation, Outcome, Request};
use crate::pipeline::Resolver;
use crate::reads::{Reads, noting_reads};
use crate::records::{AuditEvent, actor_name, audit_mutation, audit_write, prefix_of};
use crate::writes::PreparedWrite;

/// The most prepared writes one segment holds before it is committed.
const MAX_SEGMENT: usize = 4096;

/// How the writes of a batch are summarised in the audit log (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    /// The audit action, such as `import`.
    pub action: String,
    /// Where the requests came from, such as the imported file's name; the audit target is
    /// `<action>:<source>`.
    pub source: String,
}

/// A request prepared in the open segment.
struct Prepared {
    /// Its position in the batch (to run it alone if its precondition fails at commit).
    index: usize,
    /// Its handle.
    handle: Handle,
    /// Its write, with its audit entry unless the batch is summarised.
    batch: WriteBatch,
    /// Whether it creates the handle.
    created: bool,
}

/// The open segment: prepared writes not committed yet, their targets, and what was read.
#[derive(Default)]
struct Segment {
    prepared: Vec<Prepared>,
    targets: HashSet<Vec<u8>>,
    reads: Reads,
}

/// One applied write, for the summary.
struct Summarised {
    actor: String,
    prefix: String,
    handle: String,
    created: bool,
    now: u32,
}

impl<S: Store> Resolver<S> {
    /// Runs requests as [`Resolver::handle`] would one after the other, and returns one result
    /// per request in order, committing the writes of consecutive creates together (see the
    /// module documentation). With `summary`, those writes share one audit entry per segment,
    /// actor and prefix instead of one each.
    pub async fn handle_batch(
        &self,
        requests: &[Request],
        summary: Option<&BatchSummary>,
    ) -> Vec<Result<Outcome, Failure>> {
        let mut results: Vec<Option<Result<Outcome, Failure>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut open = Segment::default();
        for (index, request) in requests.iter().enumerate() {
            if let Err(refused) = self.charge(request) {
                results[index] = Some(Err(refused));
                continue;
            }
            let (handle, values, overwrite, registers) = match &request.op {
                Operation::Create {
                    handle,
                    values,
                    overwrite,
                } => (handle, values, overwrite, false),
                Operation::Register { handle, values } => (handle, values, &false, true),
                _ => {
                    self.commit_segment(requests, &mut open, &mut results, summary)
                        .await;
                    results[index] = Some(self.execute(request.clone()).await);
                    continue;
                }
            };
            let identity = request.identity.as_ref();
            let prepared = loop {
                let (prepared, read) = noting_reads(&mut open.reads, || {
                    self.prepare_create(handle, values, *overwrite, identity, request.now)
                });
                if read.iter().any(|key| open.targets.contains(key)) {
                    // An earlier write of the segment decides this request: commit it first.
                    self.commit_segment(requests, &mut open, &mut results, summary)
                        .await;
                    continue;
                }
                break prepared;
            };
            match prepared {
                Ok(PreparedWrite { put, created }) => {
                    let mut mutations = vec![put];
                    if summary.is_none() {
                        let action = if created { "create" } else { "replace" };
                        mutations.push(audit_write(identity, action, handle.as_str(), request.now));
                    }
                    open.targets.insert(handle.key());
                    open.prepared.push(Prepared {
                        index,
                        handle: handle.clone(),
                        batch: WriteBatch { mutations },
                        created,
                    });
                    if open.prepared.len() >= MAX_SEGMENT {
                        self.commit_segment(requests, &mut open, &mut results, summary)
                            .await;
                    }
                }
                Err(failure)
                    if registers
                        && failure.rc == idnode_proto::ResponseCode::HandleAlreadyExists =>
                {
                    results[index] =
                        Some(self.identical_retry(handle.clone(), values, identity, failure));
                }
                Err(failure) => results[index] = Some(Err(failure)),
            }
        }
        self.commit_segment(requests, &mut open, &mut results, summary)
            .await;
        results
            .into_iter()
            .map(|result| {
                // Every request gets its result in the loop or when its segment commits.
                result.unwrap_or_else(|| Err(Failure::new(idnode_proto::ResponseCode::Error, "")))
            })
            .collect()
    }

    /// Commits the open segment and records its results; writes whose precondition failed run
    /// again alone, in order.
    async fn commit_segment(
        &self,
        requests: &[Request],
        open: &mut Segment,
        results: &mut [Option<Result<Outcome, Failure>>],
        summary: Option<&BatchSummary>,
    ) {
        if open.prepared.is_empty() {
            return;
        }
        open.targets.clear();
        open.reads.memo.clear();
        let segment = &mut open.prepared;
        let mut batches = Vec::with_capacity(segment.len());
        let mut rows = Vec::with_capacity(segment.len());
        for prepared in segment.iter_mut() {
            batches.push(std::mem::take(&mut prepared.batch));
            if summary.is_some() {
                let request = &requests[prepared.index];
                rows.push(Summarised {
                    actor: actor_name(request.identity.as_ref()),
                    prefix: prefix_of(prepared.handle.as_str()).to_owned(),
                    handle: prepared.handle.as_str().to_owned(),
                    created: prepared.created,
                    now: request.now,
                });
            }
        }
        let epilogue = summary.map(|summary| summary_epilogue(summary.clone(), rows));
        let outcomes = self.store().commit_all(batches, epilogue).await;
        let mut retry = Vec::new();
        for (prepared, outcome) in segment.drain(..).zip(outcomes) {
            match outcome {
                Ok(()) => {
                    results[prepared.index] = Some(Ok(Outcome::Done {
                        handle: prepared.handle,
                        created: prepared.created,
                    }));
                }
                Err(StoreError::Conflict { .. }) => retry.push(prepared),
                Err(e) => results[prepared.index] = Some(Err(internal(e))),
            }
        }
        for prepared in retry {
            let request = requests[prepared.index].clone();
            // Already charged to its quota when the batch reached it.
            results[prepared.index] = Some(self.execute(request).await);
        }
    }
}

/// The applied writes of one actor under one prefix.
struct Group<'a> {
    actor: &'a str,
    prefix: &'a str,
    at: u32,
    created: usize,
    replaced: usize,
    handles: Vec<&'a str>,
}

/// The epilogue that appends one audit entry per actor and prefix for the applied writes.
fn summary_epilogue(summary: BatchSummary, rows: Vec<Summarised>) -> Epilogue {
    Box::new(move |applied: &[bool]| {
        // Groups in order of first appearance.
        let mut groups: Vec<Group<'_>> = Vec::new();
        for (row, _) in rows.iter().zip(applied).filter(|(_, applied)| **applied) {
            let position = groups
                .iter()
                .position(|g| g.actor == row.actor && g.prefix == row.prefix);
            let group = match position {
                Some(position) => &mut groups[position],
                None => {
                    groups.push(Group {
                        actor: &row.actor,
                        prefix: &row.prefix,
                        at: 0,
                        created: 0,
                        replaced: 0,
                        handles: Vec::new(),
                    });
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            group.at = group.at.max(row.now);
            if row.created {
                group.created += 1;
            } else {
                group.replaced += 1;
            }
            group.handles.push(&row.handle);
        }
        if groups.is_empty() {
            return None;
        }
        let mutations = groups
            .into_iter()
            .map(|group| {
                let first = group.handles.first().copied().unwrap_or_default();
                let last = group.handles.last().copied().unwrap_or_default();
                audit_mutation(&AuditEvent {
                    seq: 0,
                    at: group.at,
                    actor: group.actor.to_owned(),
                    action: summary.action.clone(),
                    target: format!("{}:{}", summary.action, summary.source),
                    prefix: group.prefix.to_owned(),
                    detail: format!(
                        "{} handles ({} created, {} replaced), first {first}, last {last}: {}",
                        group.handles.len(),
                        group.created,
                        group.replaced,
                        group.handles.join(" ")
                    ),
                })
            })
            .collect();
        Some(WriteBatch { mutations })
    })
}
