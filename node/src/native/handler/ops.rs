//! How request bodies become resolver operations: the handle parsed as the reference server
//! does, the flags (PO, DNRF, OVRW, MINT) mapped, and recursion granted to REC requests from
//! sources that may use it.

use idnode_proto::wire::{Body, OpFlags};
use idnode_proto::{PREFIX_HANDLE_PREFIX, TypeFilter};
use idnode_resolver::{Failure, Operation, Recursion};

use super::{ConnCtx, Req};
use crate::core::Core;

/// Recursion for a request with REC from a source that may use it.
pub(super) fn recursion(state: &Core, req: &Req, ctx: &ConnCtx) -> Option<Recursion> {
    let flags = req.flags();
    state.recursion_for(
        ctx.peer.ip(),
        flags.contains(OpFlags::REC),
        req.msg.header.recursion_count,
        flags.contains(OpFlags::CT),
    )
}

/// The resolver operation of a request body, `None` for bodies that are not operations.
pub(super) fn operation(
    state: &Core,
    body: &Body,
    flags: OpFlags,
    recurse: Option<Recursion>,
) -> Result<Option<Operation>, Failure> {
    let parse = |text: &str| parse_handle(state, text);
    Ok(Some(match body {
        Body::Resolution(r) => Operation::Resolve {
            handle: parse(&r.handle)?,
            filter: TypeFilter {
                indexes: r.indexes.clone(),
                types: r.types.clone(),
            },
            public_only: flags.contains(OpFlags::PO),
            refer: !flags.contains(OpFlags::DNRF),
            recurse,
        },
        Body::CreateHandle(c) if flags.contains(OpFlags::MINT) => Operation::Mint {
            stem: c.handle.clone(),
            values: c.values.clone(),
        },
        Body::CreateHandle(c) => Operation::Create {
            handle: parse(&c.handle)?,
            values: c.values.clone(),
            overwrite: flags.contains(OpFlags::OVRW),
        },
        Body::DeleteHandle { handle } => Operation::Delete {
            handle: parse(handle)?,
        },
        Body::AddValue(a) => Operation::AddValues {
            handle: parse(&a.handle)?,
            values: a.values.clone(),
            overwrite: flags.contains(OpFlags::OVRW),
        },
        Body::RemoveValue(r) => Operation::RemoveValues {
            handle: parse(&r.handle)?,
            indexes: r.indexes.clone(),
        },
        Body::ModifyValue(m) => Operation::ModifyValues {
            handle: parse(&m.handle)?,
            values: m.values.clone(),
        },
        Body::ListHandles { handle } => Operation::ListHandles {
            prefix: prefix_of(handle),
            page: None,
        },
        Body::ListHomedNas { .. } => Operation::ListHomed,
        Body::HomeNa { handle } => Operation::Home {
            prefix: prefix_of(handle),
        },
        Body::UnhomeNa { handle } => Operation::Unhome {
            prefix: prefix_of(handle),
        },
        _ => return Ok(None),
    }))
}

/// Parses a handle of a request; a handle without `/` names the prefix handle `0.NA/<handle>`
/// (handle-protocol.md §1, CNRI `Util.convertSlashlessHandleToZeroNaHandle`), as in the REST
/// API.
pub(super) fn parse_handle(state: &Core, text: &str) -> Result<idnode_proto::Handle, Failure> {
    if text.contains('/') {
        state.resolver.parse_handle(text)
    } else {
        state
            .resolver
            .parse_handle(&format!("{PREFIX_HANDLE_PREFIX}/{text}"))
    }
}

/// The prefix named by a prefix handle `0.NA/P` (or a slashless `P`).
pub(super) fn prefix_of(handle: &str) -> String {
    match handle.split_once('/') {
        Some((na, prefix)) if na.eq_ignore_ascii_case(PREFIX_HANDLE_PREFIX) => prefix.to_owned(),
        Some(_) => handle.to_owned(),
        None => handle.to_owned(),
    }
}
