//! The change feed: every committed handle mutation, in commit order.
//!
//! Each `PutHandle` and `DeleteHandle` that a store applies is recorded as a [`Change`]: a
//! sequence number and the normalized key of the handle. Sequence numbers start at 1 and grow
//! by one with every recorded change; they are assigned inside the transaction that applies the
//! mutation, so a change is visible in the feed exactly when the mutation is visible in the
//! store, and a batch that is rejected records nothing.
//!
//! The feed says *which* handle changed, not how: a follower (the search index) reads the
//! handle's current record and treats a missing record as a deletion. Replaying a change twice
//! is therefore harmless, and a follower that remembers the last sequence it applied can stop
//! and resume at any point.
//!
//! Storage: [`crate::RedbStore`] keeps the feed in a redb table `changes`, sequence
//! (`u64`) → normalized key. The last sequence is the table's last key. The feed is not pruned.

use crate::StoreError;

/// One committed handle mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The position in the feed, from 1.
    pub seq: u64,
    /// The normalized handle (`idnode_proto::normalize`) that was created, replaced or deleted.
    pub key: Vec<u8>,
}

/// The error of the default implementations, for stores without a change feed.
pub(crate) fn unsupported() -> StoreError {
    StoreError::Storage("this store keeps no change feed".to_owned())
}

/// The next sequence number after `last`.
pub(crate) fn next_seq(last: u64) -> Result<u64, StoreError> {
    last.checked_add(1)
        .ok_or_else(|| StoreError::Storage("the change sequence would overflow".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_grow_and_stop_at_the_end() {
        assert_eq!(next_seq(0).unwrap(), 1);
        assert!(next_seq(u64::MAX).is_err());
    }
}
