//! Verifying challenge answers (OC 200, §10.3) and OC 201 requests.
//!
//! | authType | answer | checked against |
//! |---|---|---|
//! | `HS_SECKEY` | `0x01` MD5, `0x02` SHA-1, `0x03` SHA-256 sandwiches, `0x12` HMAC-SHA1, `0x13` HMAC-SHA256, `0x22` PBKDF2-HMAC-SHA1 + HMAC-SHA1, or a bare 16-byte MD5 (pre-2.1) | the sealed secret, opened inside the resolver (`Resolver::verify_secret_mac`) |
//! | `HS_PUBKEY` | `UTF8String hashAlg` + `bytes signature` over `nonce ‖ digest` | `RSA_PUB_KEY` (SHA256withRSA, SHA1withRSA; ring) or `ED25519_PUB_KEY` (`hashAlg` `Ed25519`) |
//!
//! The MAC input `m` is the challenge nonce followed by the raw request digest.

use idnode_certs::mac;
use idnode_proto::wire::{AuthResponse, ChallengeAnswer, HS_PUBKEY, HS_SECKEY, seckey_code};
use idnode_proto::{ResponseCode, ValueRef};
use idnode_resolver::{Failure, Identity};

use crate::core::NodeResolver;
use idnode_certs::proof::{SecretMac, secret_mac_matches, signature_matches};

/// Checks a secret-key answer (`signed`, algorithm code included) for `m` against `secret`.
pub(crate) fn seckey_matches(secret: &[u8], m: &[u8], signed: &[u8]) -> bool {
    // The pre-2.1 form: a bare MD5(key ‖ m ‖ key) with no code byte. Its first byte may look
    // like a code, so it is tried first.
    if signed.len() == 16 && mac::constant_time_eq(&mac::md5_sandwich(secret, m), signed) {
        return true;
    }
    let (kind, given) = match AuthResponse::parse(HS_SECKEY, signed) {
        Ok(AuthResponse::SecretMac { code, mac: given }) => {
            let kind = match code {
                seckey_code::MD5 => SecretMac::Md5Sandwich,
                seckey_code::SHA1 => SecretMac::Sha1Sandwich,
                seckey_code::SHA256 => SecretMac::Sha256Sandwich,
                seckey_code::HMAC_SHA1 => SecretMac::HmacSha1,
                seckey_code::HMAC_SHA256 => SecretMac::HmacSha256,
                _ => return false,
            };
            (kind, given)
        }
        Ok(AuthResponse::SecretPbkdf2 {
            salt,
            iterations,
            key_length_bits,
            mac: given,
        }) => (
            SecretMac::Pbkdf2HmacSha1 {
                salt,
                iterations,
                key_length_bits,
            },
            given,
        ),
        Ok(AuthResponse::Signature { .. }) | Err(_) => return false,
    };
    secret_mac_matches(secret, m, &kind, given)
}

/// Verifies an OC 200 answer to a challenge with this nonce and raw request digest, and returns
/// the proven identity. Wrong answers are RC 403; malformed ones RC 404.
pub(crate) fn verify_answer(
    resolver: &NodeResolver,
    answer: &ChallengeAnswer,
    nonce: &[u8],
    digest: &[u8],
) -> Result<Identity, Failure> {
    let mut m = Vec::with_capacity(nonce.len() + digest.len());
    m.extend_from_slice(nonce);
    m.extend_from_slice(digest);
    if answer.auth_type == HS_SECKEY {
        return resolver.verify_secret_mac(&answer.identity, |secret| {
            seckey_matches(secret, &m, &answer.response)
        });
    }
    if answer.auth_type != HS_PUBKEY {
        return Err(Failure::new(
            ResponseCode::InvalidCredential,
            format!("Unknown authentication type {}", answer.auth_type),
        ));
    }
    let Ok(AuthResponse::Signature {
        hash_alg,
        signature: sig,
    }) = AuthResponse::parse(HS_PUBKEY, &answer.response)
    else {
        return Err(Failure::new(
            ResponseCode::InvalidCredential,
            "Malformed public key challenge answer",
        ));
    };
    let keys = resolver.public_keys(&answer.identity)?;
    if keys
        .iter()
        .any(|key| signature_matches(key, &answer.identity.handle, hash_alg, &m, sig))
    {
        Ok(Identity(answer.identity.clone()))
    } else {
        Err(Failure::bare(ResponseCode::AuthenticationFailed))
    }
}

/// Answers OC 201 for an identity whose secret lives here: whether `signed` is a valid
/// secret-key answer for `nonce ‖ digest`.
pub(crate) fn verify_challenge(
    resolver: &NodeResolver,
    identity: &ValueRef,
    nonce: &[u8],
    digest: &[u8],
    signed: &[u8],
) -> Result<bool, Failure> {
    let mut m = nonce.to_vec();
    m.extend_from_slice(digest);
    match resolver.verify_secret_mac(identity, |secret| seckey_matches(secret, &m, signed)) {
        Ok(_) => Ok(true),
        Err(f) if f.rc == ResponseCode::AuthenticationFailed => Ok(false),
        Err(f) => Err(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_answers() {
        // handle-protocol.md §14: secret `pw`, nonce 10..1f, the worked SHA-256 digest.
        let nonce: Vec<u8> = (0x10..0x20).collect();
        let digest =
            hex::decode("c8b6263b3179c5ef91b99fa47a4cf379d166b97b4a842166e81b3bade5fe3c9c")
                .unwrap();
        let m = [nonce, digest].concat();
        let pbkdf2 = hex::decode(
            "2200000010000102030405060708090a0b0c0d0e0f00002710000000a00000001464575c5309c5a218d2debf7189b8e8402ece6562",
        )
        .unwrap();
        assert!(seckey_matches(b"pw", &m, &pbkdf2));
        assert!(!seckey_matches(b"px", &m, &pbkdf2));
        let sha1 = hex::decode("0225bd84e22b1fb2b478a3c52b52e0df2171e643e4").unwrap();
        assert!(seckey_matches(b"pw", &m, &sha1));
        let mut hmac = vec![0x13];
        hmac.extend_from_slice(&mac::hmac_sha256(b"pw", &m));
        assert!(seckey_matches(b"pw", &m, &hmac));
        assert!(seckey_matches(b"pw", &m, &mac::md5_sandwich(b"pw", &m)));
        assert!(!seckey_matches(b"pw", &m, &[0x7f, 1, 2]));
    }
}
