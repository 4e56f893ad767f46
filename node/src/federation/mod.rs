//! The node's place in the hierarchy, as a client of other nodes: [`recursor`] resolves
//! handles that live elsewhere for clients that ask (the resolver's `Upstream`); [`docking`]
//! keeps this node's prefix handles at the top-level node current, authenticated as the
//! [`identity`] of its delegation, and [`report`] sends it signed operation reports.

pub mod docking;
pub mod identity;
pub mod recursor;
pub mod report;
