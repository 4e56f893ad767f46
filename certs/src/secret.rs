//! Storage of `HS_SECKEY` secrets: sealed blobs that hold a password verifier and the
//! encrypted secret.
//!
//! # Why both a verifier and the encrypted secret
//!
//! The project rule is that secrets are never stored in plain text, only as salted PBKDF2 or
//! better. A verifier alone is not enough, though: the native Handle protocol's
//! challenge–response variants (handle-protocol reference §10.3) compute MACs such as
//! `SHA1(secret ‖ nonce ‖ digest ‖ secret)` and
//! `HMAC-SHA1(PBKDF2-HMAC-SHA1(secret, client_salt, …), nonce ‖ digest)`, which need the secret
//! itself on the server, and the reference REST API returns the secret to administrators with
//! read rights. So a sealed blob holds:
//!
//! * a PBKDF2-HMAC-SHA256 verifier of the secret (random 16-byte salt, iteration count in the
//!   blob), used for password checks such as HTTP Basic authentication, and
//! * the secret encrypted with AES-256-GCM under the node's 32-byte master key (random 96-bit
//!   nonce), with the blob header as associated data, used by [`SecretKeeper::open`].
//!
//! Someone who reads the database without the master key gets only the verifier: an offline
//! guessing attack has to pay the PBKDF2 cost per guess. The master key lives outside the
//! database (the node reads it from its own file and passes the bytes in).
//!
//! # Format, version 1
//!
//! All integers are big-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 7 | magic `IDSEAL1` (the final `1` is the format version) |
//! | 7 | 4 | PBKDF2-HMAC-SHA256 iteration count, 1 to [`MAX_ITERATIONS`] |
//! | 11 | 16 | PBKDF2 salt |
//! | 27 | 32 | PBKDF2-HMAC-SHA256(secret, salt, iterations), 256 bits |
//! | 59 | 12 | AES-256-GCM nonce |
//! | 71 | n + 16 | AES-256-GCM ciphertext of the secret (n ≤ [`MAX_SECRET_LEN`] bytes) followed by its tag |
//!
//! The associated data of the encryption is bytes 0 to 58 (magic, iteration count, salt and
//! verifier), so the verifier cannot be swapped or the iteration count lowered without the
//! master key: [`SecretKeeper::verify`] authenticates the blob with AES-GCM (cheap) before it
//! runs PBKDF2 (expensive), which also means that nobody without the master key can plant a blob
//! with a huge iteration count to make verification slow.
//!
//! # Caching
//!
//! PBKDF2 with 100 000 iterations costs tens of milliseconds, too much for every HTTP request
//! that carries Basic credentials. [`CredentialCache`] remembers successful checks, keyed by a
//! keyed hash of the identity, the sealed blob and the candidate, so that a changed secret (a new
//! blob) never matches an old entry, and failures are never remembered.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand_core::CryptoRngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::pbkdf2::{self, PBKDF2_HMAC_SHA256};
use zeroize::{Zeroize, Zeroizing};

use crate::mac::hmac_sha256;

/// The magic prefix of a version-1 sealed blob.
pub const MAGIC: &[u8; 7] = b"IDSEAL1";

/// The PBKDF2 iteration count callers should use outside tests.
pub const DEFAULT_ITERATIONS: u32 = 100_000;

/// The largest iteration count a sealed blob may have.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The longest secret that can be sealed, in bytes.
pub const MAX_SECRET_LEN: usize = 4096;

const SALT_LEN: usize = 16;
const VERIFIER_LEN: usize = 32;
const TAG_LEN: usize = 16;
const ITERATIONS_OFFSET: usize = MAGIC.len();
const SALT_OFFSET: usize = ITERATIONS_OFFSET + 4;
const VERIFIER_OFFSET: usize = SALT_OFFSET + SALT_LEN;
const HEADER_LEN: usize = VERIFIER_OFFSET + VERIFIER_LEN;
const CIPHERTEXT_OFFSET: usize = HEADER_LEN + NONCE_LEN;
const MIN_SEALED_LEN: usize = CIPHERTEXT_OFFSET + TAG_LEN;
const MAX_SEALED_LEN: usize = MIN_SEALED_LEN + MAX_SECRET_LEN;

/// A secret that could not be sealed, or a sealed blob that could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The iteration count is 0 or larger than [`MAX_ITERATIONS`].
    #[error("PBKDF2 iteration count {0} is outside 1..={MAX_ITERATIONS}")]
    InvalidIterations(u32),
    /// The bytes are not a sealed blob of a known version.
    #[error("malformed sealed secret: {0}")]
    Malformed(&'static str),
    /// The secret is longer than [`MAX_SECRET_LEN`].
    #[error("secret of {0} bytes is longer than {MAX_SECRET_LEN}")]
    SecretTooLong(usize),
    /// The blob was sealed under another master key, or has been altered.
    #[error("sealed secret does not authenticate under this master key")]
    Unauthentic,
}

/// Seals, verifies and opens secrets under the node's master key (see the module doc).
pub struct SecretKeeper {
    key: LessSafeKey,
}

impl SecretKeeper {
    /// Makes a keeper that uses `master_key` for AES-256-GCM.
    pub fn new(mut master_key: [u8; 32]) -> Self {
        // AES-256-GCM takes exactly 32 key bytes, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, &master_key).expect("a 32-byte AES-256 key");
        master_key.zeroize();
        Self {
            key: LessSafeKey::new(unbound),
        }
    }

    /// Generates a new master key from `rng`.
    pub fn generate_master_key(rng: &mut impl CryptoRngCore) -> [u8; 32] {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        key
    }

    /// Seals `secret` with a fresh salt and nonce from `rng` and `iterations` rounds of PBKDF2
    /// ([`DEFAULT_ITERATIONS`] outside tests).
    pub fn seal(
        &self,
        secret: &[u8],
        iterations: u32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, SecretError> {
        let rounds = checked_iterations(iterations)?;
        if secret.len() > MAX_SECRET_LEN {
            return Err(SecretError::SecretTooLong(secret.len()));
        }
        let mut sealed = Vec::with_capacity(MIN_SEALED_LEN + secret.len());
        sealed.extend_from_slice(MAGIC);
        sealed.extend_from_slice(&iterations.to_be_bytes());
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        sealed.extend_from_slice(&salt);
        let mut verifier = [0u8; VERIFIER_LEN];
        pbkdf2::derive(PBKDF2_HMAC_SHA256, rounds, &salt, secret, &mut verifier);
        sealed.extend_from_slice(&verifier);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(secret);
        let (header, plaintext) = sealed.split_at_mut(HEADER_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*header),
                &mut plaintext[NONCE_LEN..],
            )
            // Sealing fails only for inputs beyond GCM's length limit, far above MAX_SECRET_LEN.
            .expect("AES-GCM seals a short input");
        sealed.extend_from_slice(tag.as_ref());
        Ok(sealed)
    }

    /// Tells whether `data` has the layout of a sealed blob (magic, version and lengths). It
    /// does not authenticate the blob.
    pub fn is_sealed(data: &[u8]) -> bool {
        Parts::parse(data).is_ok()
    }

    /// Returns the PBKDF2 iteration count of a sealed blob, so that callers can reseal blobs
    /// whose count is below their current policy after a successful check.
    pub fn sealed_iterations(sealed: &[u8]) -> Result<u32, SecretError> {
        Parts::parse(sealed).map(|parts| parts.iterations.get())
    }

    /// Checks `candidate` against the verifier in `sealed`, in constant time.
    ///
    /// The blob is first authenticated under the master key; a blob that fails that check is an
    /// error ([`SecretError::Unauthentic`]), not a mismatch.
    pub fn verify(&self, sealed: &[u8], candidate: &[u8]) -> Result<bool, SecretError> {
        let parts = Parts::parse(sealed)?;
        drop(self.decrypt(&parts)?);
        let matches = pbkdf2::verify(
            PBKDF2_HMAC_SHA256,
            parts.iterations,
            parts.salt,
            candidate,
            parts.verifier,
        )
        .is_ok();
        Ok(matches)
    }

    /// Decrypts and returns the secret in `sealed`.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let parts = Parts::parse(sealed)?;
        let plaintext = self.decrypt(&parts)?;
        Ok(plaintext.to_vec())
    }

    fn decrypt(&self, parts: &Parts<'_>) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let mut buffer = Zeroizing::new(parts.ciphertext.to_vec());
        let length = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(parts.nonce),
                Aad::from(parts.header),
                &mut buffer,
            )
            .map_err(|_| SecretError::Unauthentic)?
            .len();
        buffer.truncate(length);
        Ok(buffer)
    }
}

impl fmt::Debug for SecretKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeeper").finish_non_exhaustive()
    }
}

fn checked_iterations(iterations: u32) -> Result<NonZeroU32, SecretError> {
    NonZeroU32::new(iterations)
        .filter(|rounds| rounds.get() <= MAX_ITERATIONS)
        .ok_or(SecretError::InvalidIterations(iterations))
}

/// The fields of a sealed blob, borrowed from it after the layout has been checked.
struct Parts<'a> {
    header: &'a [u8],
    iterations: NonZeroU32,
    salt: &'a [u8],
    verifier: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> Parts<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, SecretError> {
        if !data.starts_with(MAGIC) {
            return Err(SecretError::Malformed("missing IDSEAL1 magic"));
        }
        if data.len() < MIN_SEALED_LEN {
            return Err(SecretError::Malformed("too short"));
        }
        if data.len() > MAX_SEALED_LEN {
            return Err(SecretError::Malformed("too long"));
        }
        let (header, body) = data.split_at(HEADER_LEN);
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let mut count = [0u8; 4];
        count.copy_from_slice(&header[ITERATIONS_OFFSET..SALT_OFFSET]);
        let iterations = checked_iterations(u32::from_be_bytes(count))
            .map_err(|_| SecretError::Malformed("iteration count out of range"))?;
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        Ok(Self {
            header,
            iterations,
            salt: &header[SALT_OFFSET..VERIFIER_OFFSET],
            verifier: &header[VERIFIER_OFFSET..],
            nonce: nonce_bytes,
            ciphertext,
        })
    }
}

/// A bounded, thread-safe memory of successful secret checks (see the module doc).
///
/// Entries are keyed by HMAC-SHA256, under a random key drawn when the cache is made, of the
/// identity, the sealed blob and the candidate, each with its length. A hit therefore means
/// that exactly this candidate was verified against exactly this stored blob for this identity.
/// When the cache is full, the least recently used half is dropped. Use one cache per
/// [`SecretKeeper`].
pub struct CredentialCache {
    hash_key: Zeroizing<[u8; 32]>,
    capacity: usize,
    state: Mutex<CacheState>,
}

struct CacheState {
    entries: HashMap<[u8; 32], CacheEntry>,
    clock: u64,
}

struct CacheEntry {
    identity: Box<str>,
    last_used: u64,
}

impl CredentialCache {
    /// The capacity the node uses.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// Makes an empty cache holding up to `capacity` entries (at least one), with a hash key
    /// from `rng`.
    pub fn new(capacity: usize, rng: &mut impl CryptoRngCore) -> Self {
        let mut hash_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(hash_key.as_mut());
        Self {
            hash_key,
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                entries: HashMap::new(),
                clock: 0,
            }),
        }
    }

    /// Checks `candidate` for `identity` against `sealed`, from memory if this exact check
    /// succeeded before, otherwise with [`SecretKeeper::verify`], remembering only successes.
    pub fn verify(
        &self,
        keeper: &SecretKeeper,
        identity: &str,
        sealed: &[u8],
        candidate: &[u8],
    ) -> Result<bool, SecretError> {
        let entry_key = self.entry_key(identity, sealed, candidate);
        {
            let mut state = self.lock();
            state.clock += 1;
            let now = state.clock;
            if let Some(entry) = state.entries.get_mut(&entry_key) {
                entry.last_used = now;
                return Ok(true);
            }
        }
        // The expensive check runs without holding the lock.
        let verified = keeper.verify(sealed, candidate)?;
        if verified {
            self.insert(entry_key, identity);
        }
        Ok(verified)
    }

    /// Drops every entry of `identity`, for example after its secret changed or was removed.
    pub fn forget(&self, identity: &str) {
        self.lock()
            .entries
            .retain(|_, entry| &*entry.identity != identity);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// Returns the number of remembered successes.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Tells whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, entry_key: [u8; 32], identity: &str) {
        let mut state = self.lock();
        if state.entries.len() >= self.capacity && !state.entries.contains_key(&entry_key) {
            evict_older_half(&mut state.entries);
        }
        state.clock += 1;
        let last_used = state.clock;
        state.entries.insert(
            entry_key,
            CacheEntry {
                identity: identity.into(),
                last_used,
            },
        );
    }

    fn entry_key(&self, identity: &str, sealed: &[u8], candidate: &[u8]) -> [u8; 32] {
        let mut message = Zeroizing::new(Vec::with_capacity(
            24 + identity.len() + sealed.len() + candidate.len(),
        ));
        for part in [identity.as_bytes(), sealed, candidate] {
            message.extend_from_slice(&(part.len() as u64).to_be_bytes());
            message.extend_from_slice(part);
        }
        hmac_sha256(self.hash_key.as_ref(), &message)
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // The state is a map of successes and a counter; a panic elsewhere cannot leave an
        // entry that claims a success that did not happen, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Drops the entries used longest ago, about half of them, so eviction costs O(1) amortised.
fn evict_older_half(entries: &mut HashMap<[u8; 32], CacheEntry>) {
    let mut ages: Vec<u64> = entries.values().map(|entry| entry.last_used).collect();
    let middle = ages.len() / 2;
    let (_, &mut cutoff, _) = ages.select_nth_unstable(middle);
    entries.retain(|_, entry| entry.last_used > cutoff);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    /// Few iterations keep the tests fast; the format and code paths are the same.
    const TEST_ITERATIONS: u32 = 10;

    fn keeper(seed: u64) -> (SecretKeeper, StdRng) {
        let mut rng = StdRng::seed_from_u64(seed);
        let master = SecretKeeper::generate_master_key(&mut rng);
        (SecretKeeper::new(master), rng)
    }

    #[test]
    fn seal_verify_open_round_trip() {
        let (keeper, mut rng) = keeper(1);
        let sealed = keeper.seal(b"s3cret", TEST_ITERATIONS, &mut rng).unwrap();
        assert!(sealed.starts_with(MAGIC));
        assert_eq!(sealed.len(), MIN_SEALED_LEN + 6);
        assert!(SecretKeeper::is_sealed(&sealed));
        assert_eq!(
            SecretKeeper::sealed_iterations(&sealed),
            Ok(TEST_ITERATIONS)
        );
        assert_eq!(keeper.verify(&sealed, b"s3cret"), Ok(true));
        assert_eq!(keeper.verify(&sealed, b"s3creT"), Ok(false));
        assert_eq!(keeper.verify(&sealed, b""), Ok(false));
        assert_eq!(keeper.open(&sealed).unwrap(), b"s3cret");
    }

    #[test]
    fn plaintext_does_not_appear_in_the_blob() {
        let (keeper, mut rng) = keeper(2);
        let secret = b"a rather long and recognisable secret";
        let sealed = keeper.seal(secret, TEST_ITERATIONS, &mut rng).unwrap();
        assert!(!sealed.windows(secret.len()).any(|window| window == secret));
    }

    #[test]
    fn sealing_twice_gives_different_blobs() {
        let (keeper, mut rng) = keeper(3);
        let first = keeper.seal(b"same", TEST_ITERATIONS, &mut rng).unwrap();
        let second = keeper.seal(b"same", TEST_ITERATIONS, &mut rng).unwrap();
        assert_ne!(first, second);
        assert_ne!(
            first[SALT_OFFSET..VERIFIER_OFFSET],
            second[SALT_OFFSET..VERIFIER_OFFSET]
        );
    }

    #[test]
    fn empty_and_maximal_secrets() {
        let (keeper, mut rng) = keeper(4);
        let empty = keeper.seal(b"", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(keeper.open(&empty).unwrap(), b"");
        assert_eq!(keeper.verify(&empty, b""), Ok(true));
        let longest = vec![0x5a; MAX_SECRET_LEN];
        let sealed = keeper.seal(&longest, 1, &mut rng).unwrap();
        assert_eq!(keeper.open(&sealed).unwrap(), longest);
        let too_long = vec![0; MAX_SECRET_LEN + 1];
        assert_eq!(
            keeper.seal(&too_long, 1, &mut rng),
            Err(SecretError::SecretTooLong(MAX_SECRET_LEN + 1))
        );
    }

    #[test]
    fn iteration_bounds() {
        let (keeper, mut rng) = keeper(5);
        assert_eq!(
            keeper.seal(b"x", 0, &mut rng),
            Err(SecretError::InvalidIterations(0))
        );
        assert_eq!(
            keeper.seal(b"x", MAX_ITERATIONS + 1, &mut rng),
            Err(SecretError::InvalidIterations(MAX_ITERATIONS + 1))
        );
        let mut sealed = keeper.seal(b"x", 1, &mut rng).unwrap();
        sealed[ITERATIONS_OFFSET..SALT_OFFSET].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            keeper.verify(&sealed, b"x"),
            Err(SecretError::Malformed("iteration count out of range"))
        );
    }

    #[test]
    fn default_iterations_verify() {
        let (keeper, mut rng) = keeper(6);
        let sealed = keeper.seal(b"pw", DEFAULT_ITERATIONS, &mut rng).unwrap();
        assert_eq!(
            SecretKeeper::sealed_iterations(&sealed),
            Ok(DEFAULT_ITERATIONS)
        );
        assert_eq!(keeper.verify(&sealed, b"pw"), Ok(true));
    }

    #[test]
    fn another_master_key_cannot_verify_or_open() {
        let (keeper, mut rng) = keeper(7);
        let (other, _) = self::keeper(8);
        let sealed = keeper.seal(b"pw", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::Unauthentic));
        assert_eq!(other.verify(&sealed, b"pw"), Err(SecretError::Unauthentic));
    }

    #[test]
    fn every_altered_byte_is_detected() {
        let (keeper, mut rng) = keeper(9);
        let sealed = keeper.seal(b"pw", 1, &mut rng).unwrap();
        for index in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            assert!(keeper.open(&altered).is_err(), "byte {index}");
            assert!(keeper.verify(&altered, b"pw").is_err(), "byte {index}");
        }
    }

    #[test]
    fn swapped_verifier_is_rejected() {
        // A database writer without the master key cannot graft the verifier of a password they
        // know onto another identity's blob.
        let (keeper, mut rng) = keeper(10);
        let victim = keeper.seal(b"victim", 1, &mut rng).unwrap();
        let attacker = keeper.seal(b"known", 1, &mut rng).unwrap();
        let mut grafted = victim.clone();
        grafted[..HEADER_LEN].copy_from_slice(&attacker[..HEADER_LEN]);
        assert_eq!(
            keeper.verify(&grafted, b"known"),
            Err(SecretError::Unauthentic)
        );
    }

    #[test]
    fn malformed_blobs() {
        assert!(!SecretKeeper::is_sealed(b""));
        assert!(!SecretKeeper::is_sealed(b"plain text secret"));
        assert!(!SecretKeeper::is_sealed(MAGIC));
        let (keeper, _) = keeper(11);
        assert_eq!(
            keeper.open(b"IDSEAL2 something"),
            Err(SecretError::Malformed("missing IDSEAL1 magic"))
        );
        let short = [MAGIC.as_slice(), &[0; MIN_SEALED_LEN - 8]].concat();
        assert_eq!(
            keeper.open(&short),
            Err(SecretError::Malformed("too short"))
        );
        let long = [MAGIC.as_slice(), &[0; MAX_SEALED_LEN]].concat();
        assert_eq!(keeper.open(&long), Err(SecretError::Malformed("too long")));
    }

    #[test]
    fn debug_output_hides_keys() {
        let (keeper, mut rng) = keeper(12);
        assert_eq!(format!("{keeper:?}"), "SecretKeeper { .. }");
        let cache = CredentialCache::new(4, &mut rng);
        assert_eq!(
            format!("{cache:?}"),
            "CredentialCache { capacity: 4, len: 0, .. }"
        );
    }

    #[test]
    fn cache_remembers_only_successes() {
        let (keeper, mut rng) = keeper(13);
        let cache = CredentialCache::new(CredentialCache::DEFAULT_CAPACITY, &mut rng);
        let sealed = keeper.seal(b"right", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(
            cache.verify(&keeper, "300:0.NA/88.118.8", &sealed, b"wrong"),
            Ok(false)
        );
        assert!(cache.is_empty());
        assert_eq!(
            cache.verify(&keeper, "300:0.NA/88.118.8", &sealed, b"wrong"),
            Ok(false)
        );
        assert_eq!(
            cache.verify(&keeper, "300:0.NA/88.118.8", &sealed, b"right"),
            Ok(true)
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.verify(&keeper, "300:0.NA/88.118.8", &sealed, b"right"),
            Ok(true)
        );
        assert_eq!(cache.len(), 1);
        // A remembered success for one candidate says nothing about another.
        assert_eq!(
            cache.verify(&keeper, "300:0.NA/88.118.8", &sealed, b"righ"),
            Ok(false)
        );
    }

    #[test]
    fn cache_hit_skips_the_keeper() {
        // A hit does not consult the keeper: a keeper with another master key would fail.
        let (keeper, mut rng) = keeper(14);
        let (other, _) = self::keeper(15);
        let cache = CredentialCache::new(8, &mut rng);
        let sealed = keeper.seal(b"pw", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(cache.verify(&keeper, "id", &sealed, b"pw"), Ok(true));
        assert_eq!(cache.verify(&other, "id", &sealed, b"pw"), Ok(true));
        assert_eq!(
            cache.verify(&other, "id2", &sealed, b"pw"),
            Err(SecretError::Unauthentic)
        );
    }

    #[test]
    fn changed_secret_invalidates_the_cache() {
        let (keeper, mut rng) = keeper(16);
        let cache = CredentialCache::new(8, &mut rng);
        let old = keeper.seal(b"old", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(cache.verify(&keeper, "id", &old, b"old"), Ok(true));
        let new = keeper.seal(b"new", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(cache.verify(&keeper, "id", &new, b"old"), Ok(false));
        assert_eq!(cache.verify(&keeper, "id", &new, b"new"), Ok(true));
        // Resealing the same secret also gives a new blob, so it is checked afresh.
        let resealed = keeper.seal(b"new", TEST_ITERATIONS, &mut rng).unwrap();
        cache.forget("id");
        assert!(cache.is_empty());
        assert_eq!(cache.verify(&keeper, "id", &resealed, b"new"), Ok(true));
    }

    #[test]
    fn cache_identities_are_separate() {
        let (keeper, mut rng) = keeper(17);
        let cache = CredentialCache::new(8, &mut rng);
        let sealed = keeper.seal(b"pw", TEST_ITERATIONS, &mut rng).unwrap();
        assert_eq!(cache.verify(&keeper, "a", &sealed, b"pw"), Ok(true));
        assert_eq!(cache.verify(&keeper, "b", &sealed, b"pw"), Ok(true));
        assert_eq!(cache.len(), 2);
        cache.forget("a");
        assert_eq!(cache.len(), 1);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn cache_is_bounded_and_keeps_recent_entries() {
        let (keeper, mut rng) = keeper(18);
        let cache = CredentialCache::new(10, &mut rng);
        let sealed = keeper.seal(b"pw", 1, &mut rng).unwrap();
        assert_eq!(cache.verify(&keeper, "kept", &sealed, b"pw"), Ok(true));
        for index in 0..100 {
            let identity = format!("id{index}");
            assert_eq!(cache.verify(&keeper, &identity, &sealed, b"pw"), Ok(true));
            // Using "kept" keeps it among the most recently used entries.
            assert_eq!(cache.verify(&keeper, "kept", &sealed, b"pw"), Ok(true));
            assert!(cache.len() <= 10);
        }
        // A keeper with another master key fails every check it actually makes, so success
        // below proves that "kept" is still remembered.
        let (other, _) = self::keeper(24);
        let before = cache.len();
        assert_eq!(cache.verify(&other, "kept", &sealed, b"pw"), Ok(true));
        assert_eq!(cache.len(), before, "a hit does not add an entry");
        assert_eq!(
            cache.verify(&other, "id0", &sealed, b"pw"),
            Err(SecretError::Unauthentic)
        );
    }

    #[test]
    fn cache_is_shared_between_threads() {
        let (keeper, mut rng) = keeper(19);
        let cache = CredentialCache::new(64, &mut rng);
        let sealed = keeper.seal(b"pw", TEST_ITERATIONS, &mut rng).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let (keeper, cache, sealed) = (&keeper, &cache, &sealed);
                scope.spawn(move || {
                    for round in 0..20 {
                        let identity = format!("t{thread}-{}", round % 5);
                        assert_eq!(cache.verify(keeper, &identity, sealed, b"pw"), Ok(true));
                        assert_eq!(cache.verify(keeper, &identity, sealed, b"no"), Ok(false));
                    }
                });
            }
        });
        assert_eq!(cache.len(), 20);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let (keeper, _) = keeper(20);
            let _ = SecretKeeper::is_sealed(&data);
            let _ = SecretKeeper::sealed_iterations(&data);
            prop_assert!(keeper.open(&data).is_err());
            prop_assert!(keeper.verify(&data, b"pw").is_err());
        }

        #[test]
        fn magic_prefixed_bytes_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let (keeper, _) = keeper(21);
            let mut data = MAGIC.to_vec();
            // Keep the iteration count small so that a well-formed header stays cheap.
            data.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(&tail);
            prop_assert!(keeper.open(&data).is_err());
            prop_assert!(keeper.verify(&data, b"pw").is_err());
        }

        #[test]
        fn mutated_blobs_fail_or_round_trip(
            secret in proptest::collection::vec(any::<u8>(), 0..64),
            index in any::<prop::sample::Index>(),
            replacement in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let (keeper, mut rng) = keeper(22);
            let sealed = keeper.seal(&secret, 1, &mut rng).unwrap();
            let mut altered = sealed.clone();
            let position = index.index(altered.len());
            altered[position] = replacement;
            match keeper.open(&altered) {
                Ok(opened) => {
                    prop_assert_eq!(&altered, &sealed);
                    prop_assert_eq!(opened, secret.clone());
                }
                Err(_) => prop_assert_ne!(&altered, &sealed),
            }
            let truncated = &sealed[..cut.index(sealed.len())];
            prop_assert!(keeper.open(truncated).is_err());
        }

        #[test]
        fn any_secret_round_trips(secret in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (keeper, mut rng) = keeper(23);
            let sealed = keeper.seal(&secret, 1, &mut rng).unwrap();
            prop_assert_eq!(keeper.open(&sealed).unwrap(), secret.clone());
            prop_assert_eq!(keeper.verify(&sealed, &secret), Ok(true));
        }
    }
}
