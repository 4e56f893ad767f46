//! The offline commands of the binary besides `serve`: [`init`] a prefix, seed a [`demo`]
//! node, [`import`] CSV or JSON Lines files, make an identity key pair ([`keygen`]), and
//! [`verify`] trace records without a node. They
//! work on the data directory directly, through the same resolver as the node.

pub mod demo;
pub mod import;
pub mod init;
pub mod keygen;
pub mod verify;
