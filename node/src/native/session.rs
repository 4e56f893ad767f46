//! Native sessions (OC 400–402, §10.5): Diffie–Hellman key agreement, `HS_MAC` credentials with
//! replay rejection, and AES-CBC message encryption (EC), as the Handle.Net client does them by
//! default.
//!
//! Key derivation follows CNRI `GenericProvider.getKeyFromDH` for AES: the DH shared secret as a
//! big-endian number padded to the length of `p`, leading zero bytes skipped while more than 32
//! bytes remain, then 32 bytes taken. The MAC key is those 32 bytes (HMAC-SHA256); the cipher key
//! is their first 16 bytes (AES-128-CBC with PKCS#5 padding and a random IV sent in front of the
//! ciphertext, protocol 2.4 and later).

use std::collections::HashSet;
use std::time::Instant;

use aes::Aes128;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use idnode_proto::{Reader, ValueRef, Writer};
use idnode_resolver::Identity;
use rsa::BigUint;

/// CNRI's code for AES session keys (`HdlSecurityProvider.ENCRYPT_ALG_AES`).
pub(crate) const ENCRYPT_ALG_AES: u32 = 3;

/// The DH key type name in `HS_PUBKEY` encodings.
const DH_PUB_KEY: &str = "DH_PUB_KEY";

/// The most session counters remembered per session for replay rejection.
const MAX_COUNTERS: usize = 65_536;

/// A Diffie–Hellman public key: `y`, `p`, `g` (CNRI `DH_PUB_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DhPublicKey {
    pub(crate) y: Vec<u8>,
    pub(crate) p: Vec<u8>,
    pub(crate) g: Vec<u8>,
}

impl DhPublicKey {
    /// Decodes `UTF8String "DH_PUB_KEY"`, `int2 flags`, `bytes y`, `bytes p`, `bytes g`.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        if r.str("key type").ok()? != DH_PUB_KEY {
            return None;
        }
        r.u16("key flags").ok()?;
        let y = r.bytes("dh y").ok()?.to_vec();
        let p = r.bytes("dh p").ok()?.to_vec();
        let g = r.bytes("dh g").ok()?.to_vec();
        Some(Self { y, p, g })
    }

    /// The encoding, integers as Java writes them.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.str(DH_PUB_KEY);
        w.u16(0);
        w.bytes(&java_int(&self.y));
        w.bytes(&java_int(&self.p));
        w.bytes(&java_int(&self.g));
        out
    }
}

/// A big-endian magnitude as Java's `BigInteger.toByteArray()`: minimal, with a leading zero
/// byte when the top bit is set.
fn java_int(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = match magnitude.iter().position(|b| *b != 0) {
        Some(at) => &magnitude[at..],
        None => &[0u8][..],
    };
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// The result of the server's half of a DH exchange.
pub(crate) struct DhAgreement {
    /// The server's public key, with the client's `p` and `g`.
    pub(crate) server_public: DhPublicKey,
    /// The 32-byte session key.
    pub(crate) session_key: Vec<u8>,
}

/// Why a DH exchange was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DhRejected(pub(crate) &'static str);

/// Performs the server's half: a random exponent, `g^x mod p`, and the shared key.
/// `p` must be 1024 to 4096 bits, `g` and `y` in `2..p-1`.
pub(crate) fn agree(client: &DhPublicKey, private: &[u8]) -> Result<DhAgreement, DhRejected> {
    let p = BigUint::from_bytes_be(&client.p);
    let g = BigUint::from_bytes_be(&client.g);
    let y = BigUint::from_bytes_be(&client.y);
    let bits = p.bits();
    if !(1024..=4096).contains(&bits) {
        return Err(DhRejected("DH modulus must have 1024 to 4096 bits"));
    }
    let two = BigUint::from(2u32);
    let p_minus_1 = &p - BigUint::from(1u32);
    if g < two || g >= p_minus_1 || y < two || y >= p_minus_1 {
        return Err(DhRejected("DH values out of range"));
    }
    let x = BigUint::from_bytes_be(private);
    let server_y = g.modpow(&x, &p);
    let shared = y.modpow(&x, &p);
    let p_len = client.p.iter().skip_while(|b| **b == 0).count();
    Ok(DhAgreement {
        server_public: DhPublicKey {
            y: server_y.to_bytes_be(),
            p: client.p.clone(),
            g: client.g.clone(),
        },
        session_key: session_key_from_secret(&shared.to_bytes_be(), p_len),
    })
}

/// CNRI's AES key from a DH secret: padded to `p_len`, leading zeros skipped while more than
/// 32 bytes remain, then 32 bytes.
pub fn session_key_from_secret(secret: &[u8], p_len: usize) -> Vec<u8> {
    let mut padded = vec![0u8; p_len.saturating_sub(secret.len())];
    padded.extend_from_slice(secret);
    let mut at = 0;
    while at + 32 < padded.len() && padded[at] == 0 {
        at += 1;
    }
    padded[at..(at + 32).min(padded.len())].to_vec()
}

/// Encrypts a message payload: a random 16-byte IV, then AES-128-CBC with PKCS#5 padding.
pub fn encrypt(session_key: &[u8], iv: [u8; 16], plain: &[u8]) -> Vec<u8> {
    let key: [u8; 16] = aes_key(session_key);
    let cipher = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into());
    let mut out = iv.to_vec();
    out.extend_from_slice(&cipher.encrypt_padded_vec_mut::<Pkcs7>(plain));
    out
}

/// Decrypts what [`encrypt`] produced; `None` when the padding or length is wrong.
pub fn decrypt(session_key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        return None;
    }
    let key: [u8; 16] = aes_key(session_key);
    let (iv, body) = data.split_at(16);
    let iv: [u8; 16] = iv.try_into().ok()?;
    let cipher = cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into());
    cipher.decrypt_padded_vec_mut::<Pkcs7>(body).ok()
}

fn aes_key(session_key: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    let n = session_key.len().min(16);
    key[..n].copy_from_slice(&session_key[..n]);
    key
}

/// A session on the server.
#[derive(Debug)]
pub(crate) struct Session {
    /// The identity the session was set up for; it must be the one that answers challenges.
    pub(crate) claimed: ValueRef,
    /// The identity proven by a challenge answer in this session.
    pub(crate) authenticated: Option<Identity>,
    /// The 32-byte session key.
    pub(crate) key: Vec<u8>,
    /// The protocol version agreed at setup (gates EC and MAC forms).
    pub(crate) expires: Instant,
    /// Session counters already seen on MAC'd messages.
    counters: HashSet<u32>,
    /// The counter of the last message the server signed.
    pub(crate) server_counter: u32,
}

impl Session {
    /// A new, unauthenticated session.
    pub(crate) fn new(claimed: ValueRef, key: Vec<u8>, expires: Instant) -> Self {
        Self {
            claimed,
            authenticated: None,
            key,
            expires,
            counters: HashSet::new(),
            server_counter: 0,
        }
    }

    /// Records a session counter; `false` when it was seen before (a replay, RC 505) or the
    /// session has seen too many messages.
    pub(crate) fn accept_counter(&mut self, counter: u32) -> bool {
        if self.counters.len() >= MAX_COUNTERS {
            return false;
        }
        self.counters.insert(counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_from_secret_skips_leading_zeros() {
        let mut secret = vec![0u8; 3];
        secret.extend((1..=125).map(|i| i as u8));
        let key = session_key_from_secret(&secret[3..], 128);
        assert_eq!(key, (1..=32).collect::<Vec<u8>>());
        assert_eq!(session_key_from_secret(&[9; 20], 20), vec![9; 20]);
    }

    #[test]
    fn both_sides_agree_and_ciphertext_round_trips() {
        let p = hex::decode(
            "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a\
             08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e\
             9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffff\
             ffffff",
        )
        .unwrap();
        let client_x = BigUint::from_bytes_be(&[7; 40]);
        let g = BigUint::from(2u32);
        let p_big = BigUint::from_bytes_be(&p);
        let client_y = g.modpow(&client_x, &p_big);
        let client = DhPublicKey {
            y: client_y.to_bytes_be(),
            p: p.clone(),
            g: vec![2],
        };
        let parsed = DhPublicKey::from_bytes(&client.to_bytes()).unwrap();
        assert_eq!(parsed.g, vec![2]);
        let agreed = agree(&parsed, &[5; 40]).unwrap();
        let server_y = BigUint::from_bytes_be(&agreed.server_public.y);
        let shared = server_y.modpow(&client_x, &p_big);
        assert_eq!(
            session_key_from_secret(&shared.to_bytes_be(), 128),
            agreed.session_key
        );
        let sealed = encrypt(&agreed.session_key, [3; 16], b"hello");
        assert_eq!(sealed.len(), 32);
        assert_eq!(decrypt(&agreed.session_key, &sealed).unwrap(), b"hello");
        assert!(decrypt(&agreed.session_key, &sealed[..31]).is_none());
        let bad = DhPublicKey {
            y: vec![1],
            ..parsed
        };
        assert!(agree(&bad, &[5; 40]).is_err());
    }
}
