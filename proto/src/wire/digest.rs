//! Request digests (RFC 3652 §2.2.3, §3.5) and the bytes that credentials sign (§3.6).
//!
//! A digest covers the request's header and body **exactly as received**, which is why
//! [`super::Decoded`] keeps those bytes next to the decoded message.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::envelope::{Envelope, Version};
use crate::codec::{DecodeError, Reader, Writer};

/// The largest digest accepted in the length-prefixed form.
const MAX_PREFIXED_DIGEST_LEN: usize = 64;

/// How a digest is encoded and which hash made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// Code 0: `int4 length` + digest, with no algorithm byte. Responses below 2.1 use it
    /// for MD5; OC 201 requests use it for every digest (CNRI `encodeVerifyAuthRequest`), and
    /// there the length tells the algorithm.
    LengthPrefixed,
    /// Code 1: MD5, 16 bytes.
    Md5,
    /// Code 2: SHA-1, 20 bytes.
    Sha1,
    /// Code 3: SHA-256, 32 bytes (since 2.7).
    Sha256,
}

impl DigestAlg {
    /// The algorithm byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::LengthPrefixed => 0,
            Self::Md5 => 1,
            Self::Sha1 => 2,
            Self::Sha256 => 3,
        }
    }

    /// The algorithm with this code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::LengthPrefixed,
            1 => Self::Md5,
            2 => Self::Sha1,
            3 => Self::Sha256,
            _ => return None,
        })
    }

    /// The digest length of a fixed-length algorithm.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Self::LengthPrefixed => None,
            Self::Md5 => Some(16),
            Self::Sha1 => Some(20),
            Self::Sha256 => Some(32),
        }
    }

    /// The algorithm a server uses for responses at `version` (CNRI
    /// `AbstractResponse.takeDigestOfRequest`): SHA-256 from 2.7, SHA-1 from 2.1, otherwise
    /// the old length-prefixed MD5.
    pub fn for_version(version: Version) -> Self {
        if version >= Version::V2_7 {
            Self::Sha256
        } else if version >= Version::V2_1 {
            Self::Sha1
        } else {
            Self::LengthPrefixed
        }
    }
}

/// Hashes `bytes` with MD5, SHA-1 or SHA-256 chosen by digest length (16, 20 or 32).
fn hash_by_len(len: usize, bytes: &[u8]) -> Option<Vec<u8>> {
    Some(match len {
        16 => Md5::digest(bytes).to_vec(),
        20 => Sha1::digest(bytes).to_vec(),
        32 => Sha256::digest(bytes).to_vec(),
        _ => return None,
    })
}

/// A digest of a request's header and body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestDigest {
    /// The algorithm and encoding.
    pub alg: DigestAlg,
    /// The digest bytes.
    pub digest: Vec<u8>,
}

impl RequestDigest {
    /// Digests `header_body` with `alg`; the length-prefixed form uses MD5.
    pub fn compute(alg: DigestAlg, header_body: &[u8]) -> Self {
        let digest = match alg {
            DigestAlg::LengthPrefixed | DigestAlg::Md5 => Md5::digest(header_body).to_vec(),
            DigestAlg::Sha1 => Sha1::digest(header_body).to_vec(),
            DigestAlg::Sha256 => Sha256::digest(header_body).to_vec(),
        };
        Self { alg, digest }
    }

    /// The digest a server puts into a response at `version` (§3.5).
    pub fn for_version(version: Version, header_body: &[u8]) -> Self {
        Self::compute(DigestAlg::for_version(version), header_body)
    }

    /// Whether this is the digest of `header_body`. For the length-prefixed form the hash is
    /// chosen by the digest length.
    pub fn matches(&self, header_body: &[u8]) -> bool {
        hash_by_len(self.digest.len(), header_body).is_some_and(|d| d == self.digest)
    }

    /// Decodes a digest: an algorithm byte and a fixed-length digest, or, when the first byte
    /// is 0, `int4 length` + digest.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let first = *r
            .rest()
            .first()
            .ok_or(DecodeError::Truncated("request digest"))?;
        let alg = DigestAlg::from_code(first).ok_or(DecodeError::Invalid("digest algorithm"))?;
        let digest = match alg.digest_len() {
            Some(len) => {
                r.u8("digest algorithm")?;
                r.take(len, "request digest")?
            }
            None => {
                let digest = r.bytes("request digest")?;
                if digest.len() > MAX_PREFIXED_DIGEST_LEN {
                    return Err(DecodeError::TooLarge("request digest"));
                }
                digest
            }
        };
        Ok(Self {
            alg,
            digest: digest.to_vec(),
        })
    }

    /// Appends the digest in its wire form.
    pub fn encode(&self, w: &mut Writer<'_>) {
        match self.alg {
            DigestAlg::LengthPrefixed => w.bytes(&self.digest),
            alg => {
                w.u8(alg.code());
                w.raw(&self.digest);
            }
        }
    }
}

/// The bytes an `HS_SIGNED` credential signs, and an `HS_MAC` credential (at 2.7 and later)
/// MACs, for a message with this envelope (§3.6; CNRI `AbstractMessage.signMessage`).
///
/// * 2.8 and later: `major, minor, suggested major, suggested minor, int4 session id,
///   int4 request id, int4 session counter` ‖ header ‖ body.
/// * 2.7: the same without the suggested version.
/// * 2.6 (`HS_SIGNED` only): the 14-byte prefix garbled by CNRI's encoder bug: `major, minor`,
///   the first two bytes of the session id, the four bytes of the session counter and six
///   zero bytes. `HS_MAC` at 2.5 and 2.6 uses another construction, which this function does
///   not produce.
/// * below 2.6: header ‖ body.
///
/// `session_counter` is the credential's signer index; `header_body` is the header and body
/// exactly as encoded.
pub fn signed_input(envelope: &Envelope, session_counter: u32, header_body: &[u8]) -> Vec<u8> {
    let version = envelope.version;
    let mut out = Vec::with_capacity(16 + header_body.len());
    if version >= Version::V2_7 {
        out.push(version.major);
        out.push(version.minor);
        if version >= Version::V2_8 {
            let suggested = envelope.suggested_version();
            out.push(suggested.major);
            out.push(suggested.minor);
        }
        out.extend_from_slice(&envelope.session_id.to_be_bytes());
        out.extend_from_slice(&envelope.request_id.to_be_bytes());
        out.extend_from_slice(&session_counter.to_be_bytes());
    } else if version >= Version::V2_6 {
        // CNRI writes the three ints with `offset = writeInt(...)`, so each one lands at
        // offset 2 or 4 and overwrites the previous one.
        let mut prefix = [0u8; 14];
        prefix[0] = version.major;
        prefix[1] = version.minor;
        prefix[2..4].copy_from_slice(&envelope.session_id.to_be_bytes()[..2]);
        prefix[4..8].copy_from_slice(&session_counter.to_be_bytes());
        out.extend_from_slice(&prefix);
    }
    out.extend_from_slice(header_body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The §14 worked resolution request, header and body.
    const WORKED_HEADER_BODY: &str = "00000001000000001900000\
        0ffff000065000000000000180000000c38382e3131382e382f6162630000000000000000";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn worked_example_sha256() {
        let hb = unhex(WORKED_HEADER_BODY);
        let d = RequestDigest::for_version(Version::V2_11, &hb);
        assert_eq!(d.alg, DigestAlg::Sha256);
        assert_eq!(
            d.digest,
            unhex("c8b6263b3179c5ef91b99fa47a4cf379d166b97b4a842166e81b3bade5fe3c9c")
        );
        assert!(d.matches(&hb));
        let prefixed = RequestDigest {
            alg: DigestAlg::LengthPrefixed,
            digest: d.digest.clone(),
        };
        assert!(prefixed.matches(&hb));
    }

    #[test]
    fn both_digest_forms_decode() {
        for alg in [
            DigestAlg::LengthPrefixed,
            DigestAlg::Md5,
            DigestAlg::Sha1,
            DigestAlg::Sha256,
        ] {
            let d = RequestDigest::compute(alg, b"x");
            let mut out = Vec::new();
            d.encode(&mut Writer::new(&mut out));
            let mut r = Reader::new(&out);
            assert_eq!(RequestDigest::decode(&mut r).unwrap(), d);
            assert!(r.is_empty());
        }
        assert!(RequestDigest::decode(&mut Reader::new(&[4, 0])).is_err());
        assert!(RequestDigest::decode(&mut Reader::new(&[3, 0])).is_err());
        assert!(RequestDigest::decode(&mut Reader::new(&[])).is_err());
    }

    #[test]
    fn version_selects_algorithm() {
        assert_eq!(DigestAlg::for_version(Version::V2_7), DigestAlg::Sha256);
        assert_eq!(DigestAlg::for_version(Version::V2_5), DigestAlg::Sha1);
        assert_eq!(
            DigestAlg::for_version(Version::new(2, 0)),
            DigestAlg::LengthPrefixed
        );
    }

    #[test]
    fn signed_input_prefixes() {
        let env = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            session_id: 0x0102_0304,
            request_id: 5,
            ..Envelope::default()
        };
        assert_eq!(
            signed_input(&env, 7, b"hb"),
            [2, 11, 2, 11, 1, 2, 3, 4, 0, 0, 0, 5, 0, 0, 0, 7, b'h', b'b']
        );
        let env27 = Envelope {
            version: Version::V2_7,
            ..env
        };
        assert_eq!(signed_input(&env27, 7, b"").len(), 14);
        let env26 = Envelope {
            version: Version::V2_6,
            ..env
        };
        assert_eq!(
            signed_input(&env26, 7, b""),
            [2, 6, 1, 2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0]
        );
        let env25 = Envelope {
            version: Version::V2_5,
            ..env
        };
        assert_eq!(signed_input(&env25, 7, b"hb"), b"hb");
    }
}
