//! A stable-Rust stand-in for the cargo-fuzz targets in `fuzz/`: every target of
//! `idnode_proto::fuzzing` runs over a corpus built from the captured Handle.Net exchanges and
//! over a few thousand deterministic mutations of it (bit flips, interesting integers in
//! length fields, truncations, insertions and splices).

use std::path::PathBuf;
use std::time::Instant;

use idnode_proto::fuzzing::TARGETS;
use idnode_proto::fuzzing::smoke::{self, Rng};
use idnode_proto::wire;

/// Mutations per target.
const MUTATIONS: usize = 10_000;

/// Native messages, bodies (with each selector byte the body targets use), credentials and
/// values taken from the captures.
fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/handle-native");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let mut messages = Vec::new();
    for path in names {
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(entries) = file["messages"].as_array() else {
            continue;
        };
        let mut udp_parts: Vec<u8> = Vec::new();
        for entry in entries {
            let bytes = hex::decode(entry["hex"].as_str().unwrap()).unwrap();
            let native = match entry["body_offset"].as_u64() {
                Some(offset) => bytes[offset as usize..].to_vec(),
                None => bytes,
            };
            // Join UDP fragments naively as well, so that whole multi-packet messages are in.
            let env = wire::decode_envelope(&native).unwrap();
            if env.truncated {
                if env.sequence == 0 {
                    udp_parts = native[..20].to_vec();
                }
                udp_parts.extend_from_slice(&native[20..]);
                if udp_parts.len() == 20 + env.message_length as usize {
                    messages.push(std::mem::take(&mut udp_parts));
                }
            }
            messages.push(native);
        }
    }

    let mut corpus = messages.clone();
    for message in &messages {
        let Ok(decoded) = wire::decode(message) else {
            continue;
        };
        let body = &decoded.header_body[wire::HEADER_LEN..];
        for selector in (0u8..=8).chain(0x80..=0x88) {
            let mut seeded = vec![selector];
            seeded.extend_from_slice(body);
            corpus.push(seeded);
        }
        if let Some(credential) = &decoded.message.credential {
            corpus.push(credential.to_bytes());
        }
        match &decoded.message.body {
            wire::Body::Resolved(res) => {
                corpus.push(idnode_proto::Record::encode(&res.values));
                for value in &res.values {
                    corpus.push(value.to_bytes());
                    corpus.push(value.data.clone());
                }
            }
            wire::Body::SiteInfo(site) => corpus.push(site.to_bytes()),
            wire::Body::ChallengeAnswer(answer) => {
                corpus.push([&[0u8][..], &answer.response].concat());
                corpus.push([&[1u8][..], &answer.response].concat());
            }
            _ => {}
        }
    }
    corpus.extend(text_seeds());
    (messages, corpus)
}

/// Seeds for the text decoders: the REST request bodies and handle paths of the captured
/// Handle.Net REST exchanges, and a few timestamps.
fn text_seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/handle-rest");
    let mut seeds = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for path in names {
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for exchange in file["exchanges"].as_array().into_iter().flatten() {
            let request = &exchange["request"];
            if let Some(body) = request["body"].as_str() {
                seeds.push(body.as_bytes().to_vec());
            }
            if let Some(path) = request["path"].as_str() {
                let handle = path
                    .trim_start_matches("/api/handles/")
                    .split('?')
                    .next()
                    .unwrap();
                seeds.push(handle.as_bytes().to_vec());
            }
            if let Some(body) = exchange["response"]["body_raw"].as_str() {
                seeds.push(body.as_bytes().to_vec());
            }
        }
    }
    for time in [
        "2026-11-28T09:12:50Z",
        "2030-01-01T08:00:00.5+08:00",
        "1970-01-01T00:00:00Z",
    ] {
        seeds.push(time.as_bytes().to_vec());
    }
    seeds
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = smoke::mutate(rng, corpus);
    // Half the time, make MessageLength agree with the mutated length, so that mutations of
    // whole messages get past the envelope check.
    if data.len() >= wire::ENVELOPE_LEN && rng.below(2) == 0 {
        let len = (data.len() - wire::ENVELOPE_LEN) as u32;
        data[16..20].copy_from_slice(&len.to_be_bytes());
    }
    data
}

#[test]
fn every_target_survives_the_corpus_and_mutations() {
    #[allow(clippy::disallowed_methods)] // Reports the run time; no logic depends on it.
    let started = Instant::now();
    let (messages, everything) = corpus();
    assert!(everything.len() > 1000, "corpus of {}", everything.len());
    let mut runs = 0;
    let mut messages_decoded = 0;
    for (index, (name, target)) in TARGETS.iter().enumerate() {
        let corpus = match *name {
            "envelope" | "message" | "udp_reassembly" => &messages,
            _ => &everything,
        };
        for input in corpus {
            target(input);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1));
        for _ in 0..MUTATIONS {
            let input = mutate(&mut rng, corpus);
            if *name == "message" && wire::decode(&input).is_ok() {
                messages_decoded += 1;
            }
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(
                outcome.is_ok(),
                "target {name} failed on input {}",
                hex::encode(&input)
            );
        }
        runs += corpus.len() + MUTATIONS;
    }
    eprintln!(
        "{} targets, {runs} runs in {:?}; {messages_decoded} mutated inputs decoded as messages",
        TARGETS.len(),
        started.elapsed()
    );
    // The mutations must reach past the first length checks often enough to test the round
    // trip, not only the rejection paths.
    assert!(messages_decoded > MUTATIONS / 50, "{messages_decoded}");
}

#[test]
fn targets_accept_empty_and_tiny_inputs() {
    for (_, target) in TARGETS {
        for len in 0..64 {
            target(&vec![0u8; len]);
            target(&vec![0xffu8; len]);
        }
    }
}

/// The minimised corpora of the campaigns (`fuzz/corpus/<target>/`, see `docs/robustness.md`):
/// every input, and mutations of them.
#[test]
fn the_campaign_corpora_replay() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for (seed, (name, target)) in (1u64..).zip(TARGETS) {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        let corpus: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
        if corpus.is_empty() {
            continue;
        }
        replayed += smoke::run(name, *target, &corpus, 2_000, seed);
    }
    eprintln!("{replayed} runs over the campaign corpora");
}
