//! C2SP signed notes with Ed25519 signatures and timestamped Ed25519 cosignatures.
//!
//! A note (<https://c2sp.org/signed-note>) is UTF-8 text ending in `\n`, a blank line, and one or
//! more signature lines `— <key name> base64(key ID ‖ signature)\n`. The key ID of a key is the
//! first four bytes of `SHA-256(name ‖ 0x0A ‖ type ‖ public key)`, and a verifier key ("vkey") is
//! written `<name>+<hex key ID>+base64(type ‖ public key)`. Two key types are implemented:
//! Ed25519 (`0x01`, [`Signer`]) and the `cosignature/v1` timestamped Ed25519 cosignature of
//! <https://c2sp.org/tlog-cosignature> (`0x04`, [`Cosigner`]).
//!
//! [`Note::verify`] follows the spec: signatures from unknown keys are ignored (and reported),
//! a known key whose signature fails rejects the note, and a note with no verified signature
//! is rejected. Ed25519 verification is strict (`verify_strict`: canonical encodings, no
//! small-order keys). The checkpoint body format is in [`checkpoint`], and the offline
//! `c2sp.org/tlog-proof@v1` bundle in [`proof`].

pub mod checkpoint;
pub mod proof;

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of `cosignature/v1` timestamped Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The most signatures a note may carry (as in Go's `sumdb/note`; the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The largest note accepted, in bytes.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The prefix of every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Errors from parsing, signing and verifying notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not well formed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty, contains white space or `+`.
    #[error("invalid key name")]
    InvalidKeyName,
    /// A verifier or signer key string is malformed.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A known key's signature does not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// No signature is from a known key.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// Two verifiers share a name and key ID.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// A cosignature timestamp is above 2^63 − 1.
    #[error("cosignature timestamp out of range")]
    InvalidTimestamp,
}

/// Returns whether `name` is a valid key name: non-empty, without white space or `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

/// The key ID: the first four bytes of `SHA-256(name ‖ 0x0A ‖ alg ‖ public key)`, big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', alg]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Verifies an Ed25519 signature strictly (RFC 8032 §5.1.7 with canonical `S`, canonical `R`
/// and `A` encodings, and no small-order `A` or `R`): ed25519-dalek's `verify_strict`.
///
/// Returns false for a public key or signature of the wrong length or encoding.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public_key) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &signature).is_ok()
}

/// The message a `cosignature/v1` cosignature signs:
/// `cosignature/v1\ntime <timestamp>\n<checkpoint body>`.
pub fn cosignature_message(timestamp: u64, body: &str) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(body.as_bytes());
    message
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID (64 for Ed25519, 72 for cosignatures).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Formats the signature line, including the final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(bytes))
    }

    /// The timestamp of a 72-byte `cosignature/v1` signature, if it has that shape and the
    /// timestamp is at most 2^63 − 1.
    pub fn cosignature_timestamp(&self) -> Option<u64> {
        if self.signature.len() != 72 {
            return None;
        }
        let bytes: [u8; 8] = self.signature[..8].try_into().ok()?;
        let timestamp = u64::from_be_bytes(bytes);
        (timestamp <= i64::MAX as u64).then_some(timestamp)
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::Malformed("signature line without em dash"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line without signature"))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::Malformed("invalid key name in signature line"));
        }
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signature: bytes[4..].to_vec(),
        })
    }
}

/// A parsed, unverified signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in `\n`.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note without verifying it.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::Malformed("note too large"));
        }
        let message =
            std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("note is not UTF-8"))?;
        if message.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(NoteError::Malformed("control character in note"));
        }
        // The separator is the last blank line: signature lines never contain "\n\n".
        let split = message
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let text = &message[..=split];
        let sigs = &message[split + 2..];
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block is empty or unterminated",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Formats the note: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out
    }

    /// Signs `text` with every signer, in order.
    pub fn sign(text: &str, signers: &[&Signer]) -> Result<Self, NoteError> {
        check_text(text)?;
        let signatures = signers.iter().map(|s| s.sign(text.as_bytes())).collect();
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against known keys.
    ///
    /// Signatures from unknown keys are kept in [`VerifiedNote::unverified`]; a failing
    /// signature from a known key rejects the note, and so does a note without any verified
    /// signature. A repeated (name, key ID) is verified once.
    pub fn verify(&self, verifiers: &Verifiers) -> Result<VerifiedNote, NoteError> {
        let mut verified: Vec<NoteSignature> = Vec::new();
        let mut unverified = Vec::new();
        for signature in &self.signatures {
            match verifiers.find(&signature.name, signature.key_id)? {
                None => unverified.push(signature.clone()),
                Some(verifier) => {
                    if verified
                        .iter()
                        .any(|v| v.name == signature.name && v.key_id == signature.key_id)
                    {
                        continue;
                    }
                    if !verifier.verify(self.text.as_bytes(), &signature.signature) {
                        return Err(NoteError::InvalidSignature {
                            name: signature.name.clone(),
                            key_id: signature.key_id,
                        });
                    }
                    verified.push(signature.clone());
                }
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            verified,
            unverified,
        })
    }
}

/// A note with at least one signature verified by a known key.
///
/// It can only be made by [`Note::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    text: String,
    verified: Vec<NoteSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The signed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures that verified, in note order.
    pub fn verified(&self) -> &[NoteSignature] {
        &self.verified
    }

    /// The signatures from unknown keys, in note order.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// Returns whether a key with this name and ID signed the note.
    pub fn is_signed_by(&self, name: &str, key_id: u32) -> bool {
        self.verified
            .iter()
            .any(|s| s.name == name && s.key_id == key_id)
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end in a newline"));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::Malformed("control character in text"));
    }
    if text.len() > MAX_NOTE_LEN {
        return Err(NoteError::Malformed("note too large"));
    }
    Ok(())
}

/// The kind of key a [`Verifier`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierKind {
    /// Ed25519 signatures over the note text (type `0x01`).
    Ed25519,
    /// `cosignature/v1` timestamped Ed25519 cosignatures over a checkpoint (type `0x04`).
    CosignatureV1,
}

impl VerifierKind {
    fn alg(self) -> u8 {
        match self {
            Self::Ed25519 => ALG_ED25519,
            Self::CosignatureV1 => ALG_COSIGNATURE_V1,
        }
    }
}

/// A verifier key: a name, key ID and Ed25519 public key of some [`VerifierKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    kind: VerifierKind,
    key: VerifyingKey,
}

impl Verifier {
    /// Makes a verifier from a name and an Ed25519 public key.
    pub fn new(name: &str, kind: VerifierKind, key: VerifyingKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let key_id = key_id(name, kind.alg(), key.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            kind,
            key,
        })
    }

    /// Parses a vkey `<name>+<hex key ID>+base64(type ‖ public key)` of type `0x01` or `0x04`.
    ///
    /// The key ID must match the key.
    pub fn parse_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id_hex, key_b64) = split_key(vkey)?;
        let key_bytes = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::InvalidKey("key is not base64"))?;
        let (&alg, public) = key_bytes
            .split_first()
            .ok_or(NoteError::InvalidKey("empty key"))?;
        let kind = match alg {
            ALG_ED25519 => VerifierKind::Ed25519,
            ALG_COSIGNATURE_V1 => VerifierKind::CosignatureV1,
            _ => return Err(NoteError::InvalidKey("unsupported key type")),
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::InvalidKey("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::InvalidKey("Ed25519 key is not a curve point"))?;
        let verifier = Self::new(name, kind, key)?;
        if verifier.key_id != parse_key_id(id_hex)? {
            return Err(NoteError::InvalidKey("key ID does not match the key"));
        }
        Ok(verifier)
    }

    /// Formats the vkey.
    pub fn to_vkey(&self) -> String {
        let mut key = vec![self.kind.alg()];
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, STANDARD.encode(key))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The key type.
    pub fn kind(&self) -> VerifierKind {
        self.kind
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verifies the signature bytes (after the key ID) over a note's text.
    ///
    /// For cosignature keys, `signature` is `uint64be timestamp ‖ Ed25519 signature` and the
    /// signed message is [`cosignature_message`]; timestamps above 2^63 − 1 fail.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        match self.kind {
            VerifierKind::Ed25519 => verify_ed25519(self.key.as_bytes(), text, signature),
            VerifierKind::CosignatureV1 => {
                if signature.len() != 72 {
                    return false;
                }
                let (time, sig) = signature.split_at(8);
                let Ok(time) = <[u8; 8]>::try_from(time) else {
                    return false;
                };
                let timestamp = u64::from_be_bytes(time);
                if timestamp > i64::MAX as u64 {
                    return false;
                }
                let Ok(text) = std::str::from_utf8(text) else {
                    return false;
                };
                let message = cosignature_message(timestamp, text);
                verify_ed25519(self.key.as_bytes(), &message, sig)
            }
        }
    }
}

/// A set of known verifier keys, looked up by (name, key ID).
#[derive(Debug, Clone, Default)]
pub struct Verifiers {
    keys: Vec<Verifier>,
}

impl Verifiers {
    /// Creates a set from verifiers.
    pub fn new(keys: Vec<Verifier>) -> Self {
        Self { keys }
    }

    /// Parses a set from vkey strings.
    pub fn from_vkeys<S: AsRef<str>>(vkeys: &[S]) -> Result<Self, NoteError> {
        let keys = vkeys
            .iter()
            .map(|v| Verifier::parse_vkey(v.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// Adds a verifier.
    pub fn push(&mut self, verifier: Verifier) {
        self.keys.push(verifier);
    }

    /// Finds the verifier for (name, key ID); errors when two match.
    pub fn find(&self, name: &str, key_id: u32) -> Result<Option<&Verifier>, NoteError> {
        let mut found = None;
        for key in &self.keys {
            if key.name == name && key.key_id == key_id {
                if found.is_some() {
                    return Err(NoteError::AmbiguousKey {
                        name: name.to_owned(),
                        key_id,
                    });
                }
                found = Some(key);
            }
        }
        Ok(found)
    }
}

/// An Ed25519 note signer (type `0x01`).
#[derive(Debug, Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// Makes a signer from a key name and an Ed25519 signing key.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let key_id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses a Go-style signer key `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 ‖ seed)`.
    pub fn parse_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::InvalidKey("missing PRIVATE+KEY+ prefix"))?;
        let (name, id_hex, key_b64) = split_key(rest)?;
        let key_bytes = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::InvalidKey("key is not base64"))?;
        let (&alg, seed) = key_bytes
            .split_first()
            .ok_or(NoteError::InvalidKey("empty key"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::InvalidKey("unsupported key type"));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::InvalidKey("Ed25519 seed is not 32 bytes"))?;
        let signer = Self::new(name, SigningKey::from_bytes(&seed))?;
        if signer.key_id != parse_key_id(id_hex)? {
            return Err(NoteError::InvalidKey("key ID does not match the key"));
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            kind: VerifierKind::Ed25519,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text, returning the signature line's content.
    pub fn sign(&self, text: &[u8]) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text).to_bytes().to_vec(),
        }
    }
}

/// A `cosignature/v1` witness cosigner (type `0x04`).
#[derive(Debug, Clone)]
pub struct Cosigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Cosigner {
    /// Makes a cosigner from a witness name and an Ed25519 signing key.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let key_id = key_id(name, ALG_COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            kind: VerifierKind::CosignatureV1,
            key: self.key.verifying_key(),
        }
    }

    /// Cosigns a checkpoint body at `timestamp` (Unix seconds, at most 2^63 − 1).
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<NoteSignature, NoteError> {
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::InvalidTimestamp);
        }
        let signature = self.key.sign(&cosignature_message(timestamp, body));
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: bytes,
        })
    }
}

/// Splits `<name>+<hex id>+<key>`; the name must be valid and the key part has no `+` beyond
/// base64's own alphabet (the split is at the first two `+`).
fn split_key(text: &str) -> Result<(&str, &str, &str), NoteError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or(NoteError::InvalidKey("missing key ID"))?;
    let (id_hex, key) = rest
        .split_once('+')
        .ok_or(NoteError::InvalidKey("missing key data"))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::InvalidKeyName);
    }
    Ok((name, id_hex, key))
}

fn parse_key_id(id_hex: &str) -> Result<u32, NoteError> {
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::InvalidKey("key ID is not 8 hex digits"));
    }
    u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::InvalidKey("key ID is not hex"))
}

/// Formats a key ID as 8 lowercase hex digits.
pub fn format_key_id(key_id: u32) -> String {
    let mut out = String::with_capacity(8);
    // Writing to a String cannot fail.
    let _ = write!(out, "{key_id:08x}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key(seed_byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed_byte; 32])
    }

    #[test]
    fn sign_verify_round_trip() {
        let signer = Signer::new("example.org/log", test_key(1)).expect("signer");
        let other = Signer::new("example.org/other", test_key(2)).expect("signer");
        let note = Note::sign("hello\n", &[&signer, &other]).expect("sign");
        let text = note.to_text();
        let parsed = Note::parse(text.as_bytes()).expect("parse");
        assert_eq!(parsed, note);
        let verifiers = Verifiers::new(vec![signer.verifier()]);
        let verified = parsed.verify(&verifiers).expect("verify");
        assert_eq!(verified.verified().len(), 1);
        assert_eq!(verified.unverified().len(), 1);
        assert!(verified.is_signed_by("example.org/log", signer.key_id()));
        let vkey = signer.verifier().to_vkey();
        assert_eq!(
            Verifier::parse_vkey(&vkey).expect("vkey"),
            signer.verifier()
        );
    }

    #[test]
    fn rejects_bad_text_and_names() {
        assert!(Note::sign("no newline", &[]).is_err());
        assert!(Signer::new("bad name", test_key(1)).is_err());
        assert!(Signer::new("bad+name", test_key(1)).is_err());
        assert!(Signer::new("", test_key(1)).is_err());
        assert!(Note::parse(b"text\n\n").is_err());
        assert!(Note::parse(b"\xfftext\n\n\xe2\x80\x94 a AAAAAAA=\n").is_err());
    }

    #[test]
    fn cosignature_round_trip() {
        let cosigner = Cosigner::new("witness.example/w", test_key(3)).expect("cosigner");
        let body = "example.org/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let signature = cosigner.cosign(body, 1_700_000_000).expect("cosign");
        assert_eq!(signature.cosignature_timestamp(), Some(1_700_000_000));
        let verifier = cosigner.verifier();
        assert!(verifier.verify(body.as_bytes(), &signature.signature));
        assert!(!verifier.verify(b"other\n", &signature.signature));
        assert!(cosigner.cosign(body, u64::MAX).is_err());
        let vkey = verifier.to_vkey();
        let key_part = vkey.splitn(3, '+').nth(2).expect("key part");
        assert_eq!(
            STANDARD.decode(key_part).expect("base64")[0],
            ALG_COSIGNATURE_V1
        );
        assert_eq!(Verifier::parse_vkey(&vkey).expect("vkey"), verifier);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Note::parse(&bytes);
        }

        #[test]
        fn parse_lines_never_panic(text in "(\u{2014} [a-z+/ ]{0,12} [A-Za-z0-9+/=]{0,12}\n){0,4}") {
            let note = format!("hello\n\n{text}");
            if let Ok(parsed) = Note::parse(note.as_bytes()) {
                proptest::prop_assert_eq!(parsed.to_text(), note);
            }
        }
    }
}
