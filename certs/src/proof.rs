//! Checking proofs of identity, shared by the native protocol's challenge–response and the REST
//! API's `Authorization: Handle` challenge–response.
//!
//! Both front ends ask the same two questions in different encodings: does this MAC over a
//! message match the identity's `HS_SECKEY` secret, and is this signature over a message made by
//! one of the identity's `HS_PUBKEY` keys. The secret never leaves the resolver: callers pass
//! [`secret_mac_matches`] to `Resolver::verify_secret_mac`, which opens the sealed secret and
//! runs the check.

use crate::mac;
use idnode_proto::PublicKey;
use ring::signature;

/// The most PBKDF2 iterations accepted in an answer; CNRI clients send 10 000. Larger counts
/// would let a client make the server burn CPU.
pub const MAX_ANSWER_ITERATIONS: u32 = 200_000;

/// How a secret-key answer is computed from the secret `s` and the message `m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMac<'a> {
    /// `MD5(s ‖ m ‖ s)`.
    Md5Sandwich,
    /// `SHA-1(s ‖ m ‖ s)`.
    Sha1Sandwich,
    /// `SHA-256(s ‖ m ‖ s)`.
    Sha256Sandwich,
    /// `HMAC-SHA1(s, m)`.
    HmacSha1,
    /// `HMAC-SHA256(s, m)`.
    HmacSha256,
    /// `HMAC-SHA1(PBKDF2-HMAC-SHA1(s, salt, iterations, key_length_bits), m)`.
    Pbkdf2HmacSha1 {
        /// The PBKDF2 salt.
        salt: &'a [u8],
        /// The PBKDF2 iteration count.
        iterations: u32,
        /// The derived key length in bits.
        key_length_bits: u32,
    },
}

/// Whether `given` is the answer of kind `kind` for the message `m` under `secret`, compared in
/// constant time.
pub fn secret_mac_matches(secret: &[u8], m: &[u8], kind: &SecretMac<'_>, given: &[u8]) -> bool {
    let expected: Vec<u8> = match *kind {
        SecretMac::Md5Sandwich => mac::md5_sandwich(secret, m).to_vec(),
        SecretMac::Sha1Sandwich => mac::sha1_sandwich(secret, m).to_vec(),
        SecretMac::Sha256Sandwich => mac::sha256_sandwich(secret, m).to_vec(),
        SecretMac::HmacSha1 => mac::hmac_sha1(secret, m).to_vec(),
        SecretMac::HmacSha256 => mac::hmac_sha256(secret, m).to_vec(),
        SecretMac::Pbkdf2HmacSha1 {
            salt,
            iterations,
            key_length_bits,
        } => {
            if iterations > MAX_ANSWER_ITERATIONS {
                return false;
            }
            match mac::pbkdf2_hmac_sha1(secret, salt, iterations, key_length_bits) {
                Ok(key) => mac::hmac_sha1(&key, m).to_vec(),
                Err(_) => return false,
            }
        }
    };
    mac::constant_time_eq(&expected, given)
}

/// Whether `sig` is a signature of `message` by `key`, the key of the identity `signer` (its
/// handle), with the named hash: RSASSA-PKCS1-v1_5 with SHA-256 or SHA-1 for RSA keys, Ed25519
/// (hash name `Ed25519`) for Ed25519 keys, and for SM2 keys (hash name `SM3`) the SM2
/// signature of `SM3(message)` with the signer's handle as its distinguishing identifier, as
/// IDIS clients answer (see [`crate::sm2`]). DSA is not supported.
pub fn signature_matches(
    key: &PublicKey,
    signer: &str,
    hash_alg: &str,
    message: &[u8],
    sig: &[u8],
) -> bool {
    match key {
        PublicKey::Rsa { exponent, modulus } => {
            let strip = |b: &[u8]| {
                b.iter()
                    .skip_while(|x| **x == 0)
                    .copied()
                    .collect::<Vec<u8>>()
            };
            let components = signature::RsaPublicKeyComponents {
                n: strip(modulus),
                e: strip(exponent),
            };
            let alg: &signature::RsaParameters = match normalise_hash(hash_alg) {
                Some(Hash::Sha256) => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                Some(Hash::Sha1) => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                None => return false,
            };
            components.verify(alg, message, sig).is_ok()
        }
        PublicKey::Ed25519(public) => {
            let Ok(sig) = <[u8; 64]>::try_from(sig) else {
                return false;
            };
            hash_alg.eq_ignore_ascii_case("Ed25519") && crate::sign::verify(public, message, &sig)
        }
        PublicKey::Sm2 { x, y } => {
            is_sm3(hash_alg) && crate::sm2::challenge_answer_matches(x, y, signer, message, sig)
        }
        _ => false,
    }
}

/// `SM3`, also as `SM3withSM2`.
fn is_sm3(name: &str) -> bool {
    name.eq_ignore_ascii_case("SM3") || name.eq_ignore_ascii_case("SM3withSM2")
}

enum Hash {
    Sha1,
    Sha256,
}

/// `SHA-256` / `SHA256` and `SHA1` / `SHA-1` (handle-protocol.md §15 #6), also with the Java
/// suffix `withRSA` (`SHA256withRSA`).
fn normalise_hash(name: &str) -> Option<Hash> {
    let squashed: String = name
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    match squashed.strip_suffix("WITHRSA").unwrap_or(&squashed) {
        "SHA256" => Some(Hash::Sha256),
        "SHA1" => Some(Hash::Sha1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_mac_kind() {
        let m = b"nonce and cnonce";
        let cases: [(SecretMac<'_>, Vec<u8>); 5] = [
            (SecretMac::Md5Sandwich, mac::md5_sandwich(b"pw", m).to_vec()),
            (
                SecretMac::Sha1Sandwich,
                mac::sha1_sandwich(b"pw", m).to_vec(),
            ),
            (
                SecretMac::Sha256Sandwich,
                mac::sha256_sandwich(b"pw", m).to_vec(),
            ),
            (SecretMac::HmacSha1, mac::hmac_sha1(b"pw", m).to_vec()),
            (SecretMac::HmacSha256, mac::hmac_sha256(b"pw", m).to_vec()),
        ];
        for (kind, answer) in &cases {
            assert!(secret_mac_matches(b"pw", m, kind, answer), "{kind:?}");
            assert!(!secret_mac_matches(b"px", m, kind, answer), "{kind:?}");
            assert!(
                !secret_mac_matches(b"pw", m, kind, &answer[1..]),
                "{kind:?}"
            );
        }
        let pbkdf2 = SecretMac::Pbkdf2HmacSha1 {
            salt: b"salt",
            iterations: 10,
            key_length_bits: 160,
        };
        let key = mac::pbkdf2_hmac_sha1(b"pw", b"salt", 10, 160).unwrap();
        let answer = mac::hmac_sha1(&key, m);
        assert!(secret_mac_matches(b"pw", m, &pbkdf2, &answer));
        let too_slow = SecretMac::Pbkdf2HmacSha1 {
            salt: b"salt",
            iterations: MAX_ANSWER_ITERATIONS + 1,
            key_length_bits: 160,
        };
        assert!(!secret_mac_matches(b"pw", m, &too_slow, &answer));
    }

    #[test]
    fn sm2_answers_are_checked_against_the_signers_handle() {
        let key = crate::sm2::Sm2Key::generate(&mut rand::rngs::OsRng);
        let public = key.public_key();
        let m = b"nonce and digest";
        let answer = key.answer_challenge("88.118.8/ADMIN", m).unwrap();
        assert!(signature_matches(
            &public,
            "88.118.8/ADMIN",
            "SM3",
            m,
            &answer
        ));
        assert!(signature_matches(
            &public,
            "88.118.8/ADMIN",
            "SM3withSM2",
            m,
            &answer
        ));
        assert!(!signature_matches(
            &public,
            "88.118.8/ADMIN",
            "SHA256",
            m,
            &answer
        ));
        assert!(!signature_matches(
            &public,
            "88.118.8/OTHER",
            "SM3",
            m,
            &answer
        ));
        assert!(!signature_matches(
            &public,
            "88.118.8/ADMIN",
            "SM3",
            b"other",
            &answer
        ));
    }

    #[test]
    fn hash_names() {
        for name in ["SHA256", "sha-256", "SHA256withRSA", "SHA-256withRSA"] {
            assert!(matches!(normalise_hash(name), Some(Hash::Sha256)), "{name}");
        }
        for name in ["SHA1", "SHA-1", "SHA1withRSA"] {
            assert!(matches!(normalise_hash(name), Some(Hash::Sha1)), "{name}");
        }
        assert!(normalise_hash("MD5").is_none());
        assert!(normalise_hash("SHA1withDSA").is_none());
    }
}
