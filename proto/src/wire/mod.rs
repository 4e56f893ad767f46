//! The native Handle protocol message codec (RFC 3652 and the CNRI 2.11 extensions), sans-IO.
//!
//! A message on the wire is an [`Envelope`] (20 bytes), then `MessageLength` bytes: a
//! [`Header`] (24 bytes), a [`Body`] of `BodyLength` bytes, and `int4 CredentialLength` with an
//! optional [`Credential`]. [`decode`] (or [`decode_envelope`] followed by [`decode_message`])
//! turns bytes into a [`Message`] and keeps the header and body bytes exactly as received in
//! [`Decoded::header_body`], because request digests (§3.5) and signatures (§3.6) are computed
//! over them. [`encode`] writes a message back. Re-encoding a decoded message reproduces the
//! input byte for byte (every captured Handle.Net message does; `tests/native_vectors.rs`),
//! except for bits the model does not keep: the reserved header byte and the unused envelope
//! flag bits (`0x1C`) are written as zero, site-info primary-mask and interface-type bits other
//! than the defined ones are dropped, and a message whose `CredentialLength` field is missing
//! altogether (CNRI tolerates that) gets `CredentialLength` 0.
//!
//! Decoding never panics and never allocates in proportion to a length before the bytes are
//! there: message lengths are capped at [`MAX_MESSAGE_LEN`], value counts at
//! [`crate::MAX_VALUES`] and other lists at [`crate::MAX_ARRAY_LEN`], and each count is
//! checked against the remaining input first. Errors are [`DecodeError`]s with static
//! context.
//!
//! Version-dependent behaviour that is not encoding (which digest or signature algorithm to
//! use, RC 7 / RC 202 downgrades for peers below 2.5) is left to the caller, with helpers in
//! [`DigestAlg::for_version`] and [`signed_input`].
//!
//! [`udp`] splits messages into datagrams and reassembles them. [`fast`] recognises plain
//! anonymous resolutions by their bytes and answers them from encoded bodies.
//!
//! [`DecodeError`]: crate::DecodeError

mod auth;
mod body;
mod credential;
mod digest;
mod envelope;
pub mod fast;
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod message;
pub mod udp;

pub use auth::{AuthResponse, HS_PUBKEY, HS_SECKEY, seckey_code};
pub use body::{
    Body, ChallengeAnswer, KeyExchange, Referral, RemoveValueRequest, ResolutionRequest,
    ResolutionResponse, SessionSetupRequest, SessionSetupResponse, ValuesRequest,
    VerifyChallengeRequest,
};
pub use credential::{Credential, HS_MAC, HS_SIGNED};
pub use digest::{DigestAlg, RequestDigest, signed_input};
pub use envelope::{ENVELOPE_LEN, Envelope, MAX_MESSAGE_LEN, Version};
pub use header::{HEADER_LEN, Header, OpCode, OpFlags};
pub use message::{Decoded, Message, decode, decode_envelope, decode_message, encode};
