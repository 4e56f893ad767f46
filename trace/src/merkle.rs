//! RFC 6962 / RFC 9162 Merkle trees: hashing, roots, proofs, and the tlog stored-hash layout.
//!
//! Hashing follows RFC 9162 §2.1.1: a leaf hash is `SHA-256(0x00 ‖ data)` and an interior node
//! is `SHA-256(0x01 ‖ left ‖ right)`; the root of the empty tree is `SHA-256("")`.
//!
//! Storage uses the "stored hash" numbering of Go's `golang.org/x/mod/sumdb/tlog`: every complete
//! subtree `(level, n)` (the `n`-th subtree of `2^level` leaves) gets one index, and the hashes of
//! leaf `n` and of every subtree it completes are numbered consecutively, so an append-only log
//! writes a contiguous run of indexes per leaf ([`stored_hash_index`], [`Appender`]). Proof
//! generation reads stored hashes through the small [`HashReader`] trait, which the node backs
//! with its database and tests back with [`MemHashStore`].
//!
//! Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), with the
//! conventions of the transparency-dev test vectors: consistency from size 0 is an error, equal
//! sizes need an empty proof and equal roots, and `index >= size` is an error.

pub mod cache;
pub mod tile;

use std::fmt;

use sha2::{Digest, Sha256};

/// The number of bytes in a hash.
pub const HASH_SIZE: usize = 32;

/// The largest proof length any tree of at most 2^63 leaves can need.
///
/// Proofs longer than this are rejected before any hashing.
pub const MAX_PROOF_LEN: usize = 64;

/// A SHA-256 hash of a leaf, an interior node or a tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// Returns the hash as a byte slice.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// Parses a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; HASH_SIZE]>::try_from(bytes).ok().map(Self)
    }

    /// Returns the lowercase hex encoding.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses a hash from 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Self::from_slice(&bytes)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The root of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The leaf hash `SHA-256(0x00 ‖ data)` (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// The interior node hash `SHA-256(0x01 ‖ left ‖ right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The Merkle tree hash of a list of leaf hashes, computed in memory (RFC 9162 §2.1.1).
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(
                &root_from_leaf_hashes(&leaves[..k]),
                &root_from_leaf_hashes(&leaves[k..]),
            )
        }
    }
}

/// Errors from verifying an inclusion or consistency proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The first tree size is zero, or larger than the second.
    #[error("invalid consistency sizes {size1} -> {size2}")]
    InvalidSizes {
        /// The older tree size.
        size1: u64,
        /// The newer tree size.
        size2: u64,
    },
    /// The proof has the wrong number of hashes for the sizes.
    #[error("proof has the wrong length")]
    WrongProofLength,
    /// The proof does not lead to the expected root hash(es).
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
///
/// `proof` lists the sibling hashes from the leaf upwards (the leaf's sibling first).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(VerifyError::WrongProofLength);
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(VerifyError::WrongProofLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::WrongProofLength);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Computes the root implied by an inclusion proof, without comparing it to anything.
///
/// This is the chaining step of [`verify_inclusion`]; it fails only when the proof length does
/// not fit `index` and `size`.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_ranges(index, 0, size).len();
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength);
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    Ok(r)
}

/// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), VerifyError> {
    if size1 == 0 || size1 > size2 {
        return Err(VerifyError::InvalidSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(VerifyError::WrongProofLength);
        }
        if root1 != root2 {
            return Err(VerifyError::RootMismatch);
        }
        return Ok(());
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(VerifyError::WrongProofLength);
    }
    // Step 2: when size1 is a power of two, the old root is the first element of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let mut f_n = size1 - 1;
    let mut s_n = size2 - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = path[0];
    let mut s_r = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(VerifyError::WrongProofLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::WrongProofLength);
    }
    if f_r != *root1 || s_r != *root2 {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Reads stored hashes by their stored-hash index (see [`stored_hash_index`]).
///
/// Implementations return exactly one hash per requested index, in the order requested.
pub trait HashReader {
    /// The storage error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the hashes stored at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

/// Errors from computing roots and proofs from stored hashes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E: std::error::Error + 'static> {
    /// The requested index or size is beyond the tree (or otherwise inconsistent).
    #[error("invalid tree request: {0}")]
    InvalidRequest(&'static str),
    /// The hash reader returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes for {wanted} indexes")]
    ShortRead {
        /// The number of hashes requested.
        wanted: usize,
        /// The number of hashes returned.
        got: usize,
    },
    /// The hash reader failed.
    #[error("reading stored hashes")]
    Read(#[source] E),
}

/// The stored-hash index of the complete subtree `n` at `level` (covering leaves
/// `[n·2^level, (n+1)·2^level)`), as in Go's `tlog.StoredHashIndex`.
///
/// Leaf `n` has index `stored_hash_index(0, n)`, and the hashes of the subtrees it completes
/// follow it directly.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut index = 0u64;
    while n > 0 {
        index += n;
        n >>= 1;
    }
    index + u64::from(level)
}

/// The inverse of [`stored_hash_index`]: returns `(level, n)`.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) < 2n, so the leaf that wrote `index` is in
    // [index / 2, index / 2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    debug_assert!(index_n <= index);
    loop {
        // Leaf n writes 1 + trailing_ones(n) hashes.
        let next = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    // The hash was written with leaf n, so it is one of (0, n), (1, n/2), (2, n/4), ….
    let level = (index - index_n) as u32;
    (level, n >> level)
}

/// The number of hashes stored for a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let last = size - 1;
    stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones())
}

/// Returns the hashes to store for leaf `n` (whose leaf hash is `leaf`), in stored-index order
/// starting at `stored_hash_index(0, n)`: the leaf hash, then every subtree it completes.
///
/// `reader` must hold the hashes of leaves `0..n`.
pub fn stored_hashes_for_leaf<R: HashReader>(
    n: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let completed = (n.wrapping_add(1)).trailing_zeros().min(63);
    // Each trailing one bit of n completes a subtree whose left half is already stored.
    let indexes: Vec<u64> = (0..completed)
        .rev()
        .map(|level| stored_hash_index(level, (n >> level) - 1))
        .collect();
    let old = read_exact(reader, &indexes)?;
    let mut hashes = Vec::with_capacity(indexes.len() + 1);
    let mut h = leaf;
    hashes.push(h);
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// The root of the first `size` leaves, read from stored hashes.
pub fn tree_hash<R: HashReader>(size: u64, reader: &R) -> Result<Hash, TreeError<R::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_hashes(&[(0, size)], reader).map(|mut hashes| hashes.remove(0))
}

/// Generates the inclusion proof of leaf `index` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1), leaf's sibling first.
pub fn prove_inclusion<R: HashReader>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if index >= size {
        return Err(TreeError::InvalidRequest("leaf index not below tree size"));
    }
    subtree_hashes(&inclusion_ranges(index, 0, size), reader)
}

/// Generates the consistency proof from `size1` to `size2` leaves (RFC 9162 §2.1.4.1).
///
/// Equal sizes give an empty proof; `size1 == 0` is rejected, as verifiers reject it.
pub fn prove_consistency<R: HashReader>(
    size1: u64,
    size2: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if size1 == 0 || size1 > size2 {
        return Err(TreeError::InvalidRequest(
            "consistency needs 0 < size1 <= size2",
        ));
    }
    if size1 == size2 {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    consistency_ranges(size1, 0, size2, true, &mut ranges);
    subtree_hashes(&ranges, reader)
}

/// The subtree ranges `[lo, hi)` of `PATH(m, D[lo:hi])` (RFC 9162 §2.1.3.1), deepest first.
fn inclusion_ranges(m: u64, lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let (mut m, mut lo, mut hi) = (m, lo, hi);
    // Walk down from the root, then reverse so that the leaf's sibling comes first.
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if m < k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            m -= k;
            lo += k;
        }
    }
    ranges.reverse();
    ranges
}

/// The subtree ranges of `SUBPROOF(m, D[lo:hi], b)` (RFC 9162 §2.1.4.1), in proof order.
fn consistency_ranges(m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push((lo, hi));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        consistency_ranges(m, lo, lo + k, whole, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// Reads and folds the hashes of several subtree ranges with one batched read.
///
/// Each range `[lo, hi)` must be the right edge of an RFC 6962 split, which is true of every
/// range produced by the proof recursions: it decomposes into complete subtrees, largest first.
fn subtree_hashes<R: HashReader>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let mut indexes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = indexes.len();
        let mut lo = lo;
        while lo < hi {
            let (k, level) = max_pow2_at_most(hi - lo);
            if lo & (k - 1) != 0 {
                return Err(TreeError::InvalidRequest("unaligned subtree range"));
            }
            indexes.push(stored_hash_index(level, lo >> level));
            lo += k;
        }
        counts.push(indexes.len() - before);
    }
    let hashes = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut offset = 0;
    for count in counts {
        let parts = &hashes[offset..offset + count];
        offset += count;
        let mut iter = parts.iter().rev();
        // Every range is non-empty, so it has at least one part.
        let Some(last) = iter.next() else {
            return Err(TreeError::InvalidRequest("empty subtree range"));
        };
        let mut h = *last;
        for left in iter {
            h = node_hash(left, &h);
        }
        out.push(h);
    }
    Ok(out)
}

fn read_exact<R: HashReader>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            wanted: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The largest power of two strictly below `n` (`n >= 2`), the split point `k` of RFC 9162.
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The largest power of two `k <= n` (`n >= 1`), with `log2(k)`.
fn max_pow2_at_most(n: u64) -> (u64, u32) {
    let level = 63 - n.leading_zeros();
    (1u64 << level, level)
}

/// Error type of infallible in-memory hash readers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored hash index {0} is not present")]
pub struct MissingHash(pub u64);

/// An in-memory stored-hash store: a growing vector indexed by stored-hash index.
#[derive(Debug, Clone, Default)]
pub struct MemHashStore {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemHashStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf with the given data, returning its index.
    pub fn append_data(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends a leaf hash, returning its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let n = self.size;
        // Every index the computation reads is below the current length, so it cannot fail.
        let new = match stored_hashes_for_leaf(n, leaf, &*self) {
            Ok(new) => new,
            Err(err) => unreachable!("in-memory store is complete: {err}"),
        };
        self.hashes.extend(new);
        self.size += 1;
        n
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        match tree_hash(self.size, self) {
            Ok(root) => root,
            Err(err) => unreachable!("in-memory store is complete: {err}"),
        }
    }

    /// All stored hashes, in stored-hash index order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemHashStore {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or(MissingHash(i))
            })
            .collect()
    }
}

/// An incremental appender that keeps only the right edge of the tree (one hash per set bit of
/// the size) and returns, for each new leaf, the stored hashes to write.
///
/// It needs no reads while appending, so a log can sequence entries and write the returned
/// `(index, hash)` pairs in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Appender {
    size: u64,
    /// Roots of the complete subtrees that make up the tree, largest (leftmost) first.
    frontier: Vec<Hash>,
}

impl Appender {
    /// Creates an appender for an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes an appender for a tree of `size` leaves whose hashes `reader` holds.
    pub fn resume<R: HashReader>(size: u64, reader: &R) -> Result<Self, TreeError<R::Error>> {
        let mut indexes = Vec::new();
        let mut lo = 0;
        while lo < size {
            let (k, level) = max_pow2_at_most(size - lo);
            indexes.push(stored_hash_index(level, lo >> level));
            lo += k;
        }
        let frontier = read_exact(reader, &indexes)?;
        Ok(Self { size, frontier })
    }

    /// The number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash. Returns the stored-hash index of the first returned hash and the
    /// hashes to store at that index and the following ones.
    pub fn append(&mut self, leaf: Hash) -> (u64, Vec<Hash>) {
        let n = self.size;
        let first = stored_hash_index(0, n);
        let mut hashes = vec![leaf];
        let mut h = leaf;
        for _ in 0..n.trailing_ones() {
            // A trailing one bit of n means a complete subtree of that height precedes leaf n.
            let Some(left) = self.frontier.pop() else {
                unreachable!("frontier has one hash per set bit of the size");
            };
            h = node_hash(&left, &h);
            hashes.push(h);
        }
        self.frontier.push(h);
        self.size += 1;
        (first, hashes)
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.frontier.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        let mut h = *last;
        for left in iter {
            h = node_hash(left, &h);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: u64) -> MemHashStore {
        let mut store = MemHashStore::new();
        for i in 0..n {
            store.append_data(&i.to_be_bytes());
        }
        store
    }

    #[test]
    fn stored_hash_index_round_trips() {
        for index in 0..5000u64 {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index, "index {index}");
        }
        // Leaf 1 is stored at index 1 and completes the subtree (1, 0) at index 2.
        assert_eq!(stored_hash_index(0, 1), 1);
        assert_eq!(stored_hash_index(1, 0), 2);
        assert_eq!(stored_hash_index(0, 2), 3);
    }

    #[test]
    fn stored_hash_count_matches_store() {
        let mut store = MemHashStore::new();
        for n in 0..300u64 {
            assert_eq!(stored_hash_count(n), store.stored().len() as u64);
            store.append_data(&n.to_le_bytes());
        }
    }

    #[test]
    fn appender_matches_store_and_memory_root() {
        let mut store = MemHashStore::new();
        let mut appender = Appender::new();
        let mut leaves = Vec::new();
        for n in 0..200u64 {
            let leaf = leaf_hash(&n.to_be_bytes());
            leaves.push(leaf);
            let (first, hashes) = appender.append(leaf);
            let before = store.stored().len();
            store.append_leaf_hash(leaf);
            assert_eq!(first, before as u64);
            assert_eq!(&store.stored()[before..], &hashes[..]);
            assert_eq!(appender.root(), root_from_leaf_hashes(&leaves));
            assert_eq!(store.root(), appender.root());
            let resumed = Appender::resume(n + 1, &store).expect("resume");
            assert_eq!(resumed.root(), appender.root());
        }
    }

    #[test]
    fn proofs_verify_exhaustively_for_small_trees() {
        let store = tree(40);
        for size in 1..=40u64 {
            let root = tree_hash(size, &store).expect("root");
            for index in 0..size {
                let proof = prove_inclusion(index, size, &store).expect("proof");
                let leaf = leaf_hash(&index.to_be_bytes());
                verify_inclusion(index, size, &leaf, &proof, &root).expect("inclusion");
                assert_eq!(
                    root_from_inclusion_proof(index, size, &leaf, &proof),
                    Ok(root)
                );
            }
            for size1 in 1..=size {
                let root1 = tree_hash(size1, &store).expect("root");
                let proof = prove_consistency(size1, size, &store).expect("proof");
                verify_consistency(size1, size, &proof, &root1, &root).expect("consistency");
            }
        }
    }

    #[test]
    fn rejects_bad_requests() {
        let store = tree(4);
        assert!(prove_inclusion(4, 4, &store).is_err());
        assert!(prove_consistency(0, 4, &store).is_err());
        assert!(prove_consistency(3, 2, &store).is_err());
        assert!(prove_inclusion(3, 8, &store).is_err());
        let root = store.root();
        assert!(verify_inclusion(0, 0, &root, &[], &root).is_err());
        assert!(verify_consistency(0, 0, &[], &root, &root).is_err());
    }
}
