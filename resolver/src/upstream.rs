//! Resolution at other nodes on a client's behalf (recursion; handle-protocol.md §8.2 step 5).
//!
//! The resolver decides *whether* to recurse: the handle does not live here, the client asked
//! (`Operation::Resolve::recurse`), and the node has an upstream. *How* (the client
//! algorithm, sockets, caches) is the node's [`Upstream`], so that this crate opens no
//! sockets.

use std::future::Future;
use std::pin::Pin;

use idnode_proto::{Handle, ResponseCode, TypeFilter};

use crate::op::{Failure, Outcome, Recursion};

/// The most recursions a request may have been through before this node recurses once more
/// (the reference server's limit); a request over it gets RC 6.
pub const MAX_RECURSION_COUNT: u8 = 10;

/// What the upstream is asked.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamQuery<'a> {
    /// The handle, as the client spelled it.
    pub handle: &'a Handle,
    /// Which values.
    pub filter: &'a TypeFilter,
    /// Only values with public read permission (PO).
    pub public_only: bool,
    /// The recursion count to send on: the client's plus one.
    pub recursion_count: u8,
    /// Whether to ask for, and check, a certified answer.
    pub certified: bool,
}

/// A boxed future, so that [`Upstream`] stays object-safe.
pub type UpstreamFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, Failure>> + Send + 'a>>;

/// Resolves handles that live elsewhere.
pub trait Upstream: Send + Sync {
    /// The values of `query.handle` at the service responsible for it, as `int4 count` +
    /// encoded values; or the failure to pass on: RC 100 and RC 200 as the service answered
    /// them, and [`crate::Fault::Upstream`] failures for services that could not be reached
    /// or answered nonsense.
    fn resolve<'a>(&'a self, query: UpstreamQuery<'a>) -> UpstreamFuture<'a>;
}

/// Resolves a handle that does not live here at `upstream`, for a client that asked.
pub(crate) async fn recurse_at(
    upstream: &dyn Upstream,
    handle: Handle,
    filter: &TypeFilter,
    public_only: bool,
    recursion: Recursion,
) -> Result<Outcome, Failure> {
    if recursion.count >= MAX_RECURSION_COUNT {
        return Err(Failure::new(
            ResponseCode::RecursionCountTooHigh,
            "Recursion count too high",
        ));
    }
    let values = upstream
        .resolve(UpstreamQuery {
            handle: &handle,
            filter,
            public_only,
            recursion_count: recursion.count + 1,
            certified: recursion.certified,
        })
        .await?;
    Ok(Outcome::Recursed { handle, values })
}
