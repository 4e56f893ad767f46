//! Keys, signatures, secret hashing and TLS configuration for idnode, as pure functions.
//!
//! This is the only crate of the workspace that touches private keys and stored secrets:
//!
//! * [`secret`] seals `HS_SECKEY` secrets for storage ([`SecretKeeper`]): a salted
//!   PBKDF2-HMAC-SHA256 verifier together with the secret encrypted under the node's master key,
//!   and caches successful password checks ([`CredentialCache`]).
//! * [`mac`] holds the primitives of the native Handle protocol's `HS_SECKEY` challenge–response
//!   (PBKDF2-HMAC-SHA1 with Java's password semantics, HMACs and the "sandwich" digests).
//! * [`proof`] checks proofs of identity in the forms both the native protocol and the REST
//!   API's `Authorization: Handle` send: MACs over a message under a secret, and signatures by
//!   an `HS_PUBKEY` key.
//! * [`sign`] holds the node's Ed25519 signing key ([`NodeKey`]) and signature verification.
//! * [`sm2`] holds SM2 signatures with SM3 (GB/T 32918, GM/T 0004) as IDIS nodes and clients
//!   use them: challenge answers, the SM2 site key, PKCS#8 private keys.
//! * [`tls`] generates self-signed certificates and builds rustls configurations.
//! * [`client_cert`] reads the identity and key of a TLS client certificate and verifies the
//!   handshake of a client that offers one (the REST API's certificate authentication).
//!
//! It must not read files, the environment or the clock: callers pass bytes, times and a
//! random-number generator (`&mut impl rand_core::CryptoRngCore`) in. The one exception is that
//! ECDSA key generation and signing in [`tls::self_signed`] draw from ring's own system random
//! source, because ring does not accept an external generator. rustls is built with ring as its
//! only crypto provider, and every configuration is built with an explicit provider, so no
//! process-wide default provider is needed.
#![warn(missing_docs)]

pub mod client_cert;
pub mod mac;
pub mod proof;
pub mod secret;
pub mod sign;
pub mod sm2;
pub mod tls;

pub use secret::{CredentialCache, SecretError, SecretKeeper};
pub use sign::{NodeKey, SignError};
pub use tls::{SelfSigned, TlsError};
