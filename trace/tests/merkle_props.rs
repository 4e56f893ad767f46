//! Property tests: proofs generated from random trees verify, and mutated proofs do not.

use idnode_trace::merkle::{
    Appender, Hash, MemHashStore, leaf_hash, prove_consistency, prove_inclusion,
    root_from_leaf_hashes, tree_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn build(size: u64, seed: u64) -> (MemHashStore, Vec<Hash>) {
    let mut store = MemHashStore::new();
    let mut leaves = Vec::new();
    for i in 0..size {
        let leaf = leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat());
        store.append_leaf_hash(leaf);
        leaves.push(leaf);
    }
    (store, leaves)
}

/// A mutation of a proof that must make it invalid.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { element: usize, bit: usize },
    Truncate,
    Extend,
    Swap { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..256usize).prop_map(|(element, bit)| Mutation::FlipBit { element, bit }),
        Just(Mutation::Truncate),
        Just(Mutation::Extend),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
    ]
}

/// Applies the mutation; returns `None` when it leaves the proof unchanged.
fn mutate(proof: &[Hash], m: &Mutation) -> Option<Vec<Hash>> {
    let mut out = proof.to_vec();
    match *m {
        Mutation::FlipBit { element, bit } => {
            if out.is_empty() {
                return None;
            }
            let i = element % out.len();
            out[i].0[bit / 8] ^= 1 << (bit % 8);
        }
        Mutation::Truncate => {
            out.pop()?;
        }
        Mutation::Extend => out.push(Hash([0x42; 32])),
        Mutation::Swap { a, b } => {
            if out.is_empty() {
                return None;
            }
            let (a, b) = (a % out.len(), b % out.len());
            out.swap(a, b);
        }
    }
    (out != proof).then_some(out)
}

proptest! {
    #[test]
    fn inclusion_proofs_verify_and_mutations_fail(
        size in 1u64..300, index_seed in any::<u64>(), seed in any::<u64>(), m in mutation()
    ) {
        let (store, leaves) = build(size, seed);
        let index = index_seed % size;
        let root = tree_hash(size, &store).expect("root");
        prop_assert_eq!(root, root_from_leaf_hashes(&leaves));
        let proof = prove_inclusion(index, size, &store).expect("prove");
        let leaf = leaves[index as usize];
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
        if let Some(bad) = mutate(&proof, &m) {
            prop_assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
        }
        // A wrong index (same size) or a wrong leaf must fail too.
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
        }
        let mut wrong_leaf = leaf;
        wrong_leaf.0[0] ^= 1;
        prop_assert!(verify_inclusion(index, size, &wrong_leaf, &proof, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_mutations_fail(
        size2 in 1u64..300, size1_seed in any::<u64>(), seed in any::<u64>(), m in mutation()
    ) {
        let (store, _) = build(size2, seed);
        let size1 = 1 + size1_seed % size2;
        let root1 = tree_hash(size1, &store).expect("root");
        let root2 = tree_hash(size2, &store).expect("root");
        let proof = prove_consistency(size1, size2, &store).expect("prove");
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &root2).is_ok());
        if let Some(bad) = mutate(&proof, &m) {
            prop_assert!(verify_consistency(size1, size2, &bad, &root1, &root2).is_err());
        }
        let mut wrong = root1;
        wrong.0[31] ^= 0x80;
        prop_assert!(verify_consistency(size1, size2, &proof, &wrong, &root2).is_err());
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &wrong).is_err());
    }

    #[test]
    fn appender_agrees_with_store(size in 0u64..600, seed in any::<u64>()) {
        let (store, leaves) = build(size, seed);
        let mut appender = Appender::new();
        let mut stored = Vec::new();
        for leaf in &leaves {
            let (first, hashes) = appender.append(*leaf);
            prop_assert_eq!(first, stored.len() as u64);
            stored.extend(hashes);
        }
        prop_assert_eq!(&stored[..], store.stored());
        prop_assert_eq!(appender.root(), root_from_leaf_hashes(&leaves));
    }
}
