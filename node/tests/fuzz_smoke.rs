//! A stable-Rust stand-in for the cargo-fuzz targets in `fuzz/` outside `idnode-proto` (whose
//! own run is `proto/tests/fuzz_smoke.rs`): every target of `idnode::fuzzing`,
//! `idnode_trace::fuzzing` and `idnode_templates::fuzzing` runs over its corpus in
//! `fuzz/corpus/<target>/` and over deterministic mutations of it
//! (`idnode_proto::fuzzing::smoke`).

use std::path::PathBuf;

use idnode_proto::fuzzing::smoke;

/// Mutations per target.
const MUTATIONS: usize = 5_000;

/// The corpus of `target`, in file-name order.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_target_survives_its_corpus_and_mutations() {
    let targets = idnode::fuzzing::TARGETS
        .iter()
        .chain(idnode_trace::fuzzing::TARGETS)
        .chain(idnode_templates::fuzzing::TARGETS);
    for (seed, (name, target)) in (1u64..).zip(targets) {
        let runs = smoke::run(name, *target, &corpus(name), MUTATIONS, seed);
        eprintln!("{name}: {runs} runs");
    }
}
