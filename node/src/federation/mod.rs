//! The node's place in the hierarchy, as a client of other nodes: [`recursor`] resolves
//! handles that live elsewhere for clients that ask (the resolver's `Upstream`).

pub mod recursor;
