//! Background tasks spawned by `crate::server`: the search [`indexer`] that follows the
//! store's change feed, and the trace log's [`checkpointer`] with its witness client.

pub(crate) mod checkpointer;
pub(crate) mod indexer;
