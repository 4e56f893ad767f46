//! Primitives of the native Handle protocol's `HS_SECKEY` challenge–response.
//!
//! A client that authenticates with a secret key answers the server's challenge (a nonce and the
//! digest of its original request) with one of several MACs, each tagged by a code byte
//! (handle-protocol reference §10.3, CNRI `Util.doMac`); `m` below is `nonce ‖ digest`:
//!
//! | code | answer | function here |
//! |---|---|---|
//! | `0x01` | MD5(key ‖ m ‖ key) | [`md5_sandwich`] |
//! | `0x02` | SHA1(key ‖ m ‖ key) | [`sha1_sandwich`] |
//! | `0x03` | SHA-256(key ‖ m ‖ key) | [`sha256_sandwich`] |
//! | `0x12` | HMAC-SHA1(key, m) | [`hmac_sha1`] |
//! | `0x13` | HMAC-SHA256(key, m) | [`hmac_sha256`] |
//! | `0x22` | HMAC-SHA1(PBKDF2-HMAC-SHA1(key, salt, iterations, bits), m) | [`pbkdf2_hmac_sha1`] then [`hmac_sha1`] |
//!
//! This module only computes; parsing the answer and choosing the variant belong to the native
//! protocol server. Compare a received MAC with a computed one through [`constant_time_eq`].
//!
//! The salt, iteration count and key length of the `0x22` variant come from the client, that is,
//! from the network, so [`pbkdf2_hmac_sha1`] bounds them ([`MAX_PBKDF2_ITERATIONS`],
//! [`MAX_PBKDF2_KEY_BITS`]); a server may well enforce a lower iteration limit of its own.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::digest::Output;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest PBKDF2 iteration count [`pbkdf2_hmac_sha1`] accepts (CNRI clients send 10 000).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The longest PBKDF2 output [`pbkdf2_hmac_sha1`] derives, in bits (CNRI clients ask for 160).
pub const MAX_PBKDF2_KEY_BITS: u32 = 4096;

/// A PBKDF2 parameter outside the accepted range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The iteration count is 0 or larger than [`MAX_PBKDF2_ITERATIONS`].
    #[error("PBKDF2 iteration count {0} is outside 1..={MAX_PBKDF2_ITERATIONS}")]
    Iterations(u32),
    /// The key length is below 8 bits or above [`MAX_PBKDF2_KEY_BITS`].
    #[error("PBKDF2 key length of {0} bits is outside 8..={MAX_PBKDF2_KEY_BITS}")]
    KeyLength(u32),
}

/// Derives a key with PBKDF2-HMAC-SHA1 the way Java's `PBEKeySpec` + `PBKDF2WithHmacSHA1` does
/// for a password made of one `char` per secret byte.
///
/// CNRI's server and client turn the secret bytes into a `char[]` one byte per character, that
/// is, they decode the bytes as Latin-1; the SunJCE provider then encodes the characters as UTF-8
/// to form the PBKDF2 password ([`java_pbe_password`]). For ASCII secrets this is the secret
/// itself; a byte `0xE9` becomes the two bytes `0xC3 0xA9`. The output is `key_len_bits / 8`
/// bytes, rounded down as Java does.
///
/// This follows the handle-protocol reference §10.3 ("PBKDF2 detail", marked as derived from
/// the source, not yet checked against a CNRI client with a non-ASCII secret).
pub fn pbkdf2_hmac_sha1(
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
    key_len_bits: u32,
) -> Result<Vec<u8>, MacError> {
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
        return Err(MacError::Iterations(iterations));
    }
    if !(8..=MAX_PBKDF2_KEY_BITS).contains(&key_len_bits) {
        return Err(MacError::KeyLength(key_len_bits));
    }
    let password = java_pbe_password(secret);
    // The bound above keeps the length within 1..=512, so the conversion cannot truncate.
    let mut key = vec![0u8; (key_len_bits / 8) as usize];
    pbkdf2::pbkdf2_hmac::<Sha1>(&password, salt, iterations, &mut key);
    Ok(key)
}

/// Returns the PBKDF2 password Java derives from `secret`: the bytes decoded as Latin-1, then
/// encoded as UTF-8.
pub fn java_pbe_password(secret: &[u8]) -> Vec<u8> {
    let mut password = Vec::with_capacity(secret.len() + secret.len() / 4);
    let mut utf8 = [0u8; 2];
    for &byte in secret {
        password.extend_from_slice(char::from(byte).encode_utf8(&mut utf8).as_bytes());
    }
    password
}

/// Computes HMAC-SHA1(key, message) (RFC 2104).
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Computes HMAC-SHA256(key, message) (RFC 2104, RFC 4231).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Computes SHA1(key ‖ message ‖ key), the `0x02` answer of protocol versions 2.1 to 2.6.
pub fn sha1_sandwich(key: &[u8], message: &[u8]) -> [u8; 20] {
    sandwich::<Sha1>(key, message).into()
}

/// Computes MD5(key ‖ message ‖ key), the `0x01` answer and the pre-2.1 answer without a code.
pub fn md5_sandwich(key: &[u8], message: &[u8]) -> [u8; 16] {
    sandwich::<Md5>(key, message).into()
}

/// Computes SHA-256(key ‖ message ‖ key), the `0x03` answer.
pub fn sha256_sandwich(key: &[u8], message: &[u8]) -> [u8; 32] {
    sandwich::<Sha256>(key, message).into()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn sandwich<D: Digest>(key: &[u8], message: &[u8]) -> Output<D> {
    D::new()
        .chain_update(key)
        .chain_update(message)
        .chain_update(key)
        .finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    /// RFC 6070 §2, PBKDF2-HMAC-SHA1. The 16 777 216-iteration case is left out: it exceeds
    /// [`MAX_PBKDF2_ITERATIONS`] and takes minutes in a debug build.
    #[test]
    fn pbkdf2_rfc6070() {
        /// Password, salt, iterations, key length in bits, expected key in hex.
        type Case = (&'static [u8], &'static [u8], u32, u32, &'static str);
        let cases: [Case; 5] = [
            (
                b"password",
                b"salt",
                1,
                160,
                "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            ),
            (
                b"password",
                b"salt",
                2,
                160,
                "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
            ),
            (
                b"password",
                b"salt",
                4096,
                160,
                "4b007901b765489abead49d926f721d065a429c1",
            ),
            (
                b"passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                200,
                "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
            ),
            (
                b"pass\0word",
                b"sa\0lt",
                4096,
                128,
                "56fa6aa75548099dcc37d7f03425e0c3",
            ),
        ];
        for (password, salt, iterations, bits, expected) in cases {
            let key = pbkdf2_hmac_sha1(password, salt, iterations, bits).unwrap();
            assert_eq!(key, unhex(expected), "{iterations} iterations");
        }
    }

    #[test]
    fn pbkdf2_non_ascii_secret_uses_latin1_then_utf8() {
        // The secret is "pé" in Latin-1; Java's password bytes are its UTF-8 form, "p\xc3\xa9".
        let secret = [b'p', 0xE9];
        assert_eq!(java_pbe_password(&secret), "pé".as_bytes());
        let key = pbkdf2_hmac_sha1(&secret, b"NaCl-salt-16byte", 10_000, 160).unwrap();
        assert_eq!(key, unhex("2a25f6445b94e003c4cb85d8043326567c5a129d"));
        // Plain PBKDF2 over the raw bytes gives something else.
        assert_ne!(key, unhex("597aa833e4bda629edb8181987d2f81936b1d310"));
    }

    #[test]
    fn pbkdf2_key_length_rounds_down_like_java() {
        let short = pbkdf2_hmac_sha1(b"password", b"salt", 1, 167).unwrap();
        assert_eq!(short, unhex("0c60c80f961f0e71f3a9b524af6012062fe037a6"));
    }

    #[test]
    fn pbkdf2_rejects_out_of_range_parameters() {
        assert_eq!(
            pbkdf2_hmac_sha1(b"k", b"s", 0, 160),
            Err(MacError::Iterations(0))
        );
        let too_many = MAX_PBKDF2_ITERATIONS + 1;
        assert_eq!(
            pbkdf2_hmac_sha1(b"k", b"s", too_many, 160),
            Err(MacError::Iterations(too_many))
        );
        assert_eq!(
            pbkdf2_hmac_sha1(b"k", b"s", 1, 7),
            Err(MacError::KeyLength(7))
        );
        assert_eq!(
            pbkdf2_hmac_sha1(b"k", b"s", 1, 4104),
            Err(MacError::KeyLength(4104))
        );
        assert_eq!(pbkdf2_hmac_sha1(b"k", b"s", 1, 4096).unwrap().len(), 512);
    }

    /// RFC 2202 §3, HMAC-SHA1 test cases 1–4, 6 and 7 (case 5 is about truncated output).
    #[test]
    fn hmac_sha1_rfc2202() {
        let key_4: Vec<u8> = (1..=25).collect();
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                key_4,
                vec![0xcd; 50],
                "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ];
        for (index, (key, data, expected)) in cases.iter().enumerate() {
            assert_eq!(
                hmac_sha1(key, data).to_vec(),
                unhex(expected),
                "case {index}"
            );
        }
    }

    /// RFC 4231 §4, HMAC-SHA256 test cases 1–4, 6 and 7 (case 5 is about truncated output).
    #[test]
    fn hmac_sha256_rfc4231() {
        let key_4: Vec<u8> = (1..=25).collect();
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                key_4,
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size \
                  data. The key needs to be hashed before being used by the HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (index, (key, data, expected)) in cases.iter().enumerate() {
            assert_eq!(
                hmac_sha256(key, data).to_vec(),
                unhex(expected),
                "case {index}"
            );
        }
    }

    #[test]
    fn sandwiches_hash_key_message_key() {
        let (key, message) = (b"secret".as_slice(), b"nonce-digest".as_slice());
        assert_eq!(
            sha1_sandwich(key, message).to_vec(),
            unhex("0b9439a1d7daa5f447575c7a08e1025b30374c23")
        );
        assert_eq!(
            md5_sandwich(key, message).to_vec(),
            unhex("cdfcc9d6006489a7118ad23fb7c92bce")
        );
        assert_eq!(
            sha256_sandwich(key, message).to_vec(),
            unhex("03504f198eca9e74c05ef57e76aef445526e91c07b8cebc83271ff6578828ef0")
        );
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
