//! Fuzz target `body_challenge_answer`: see `idnode_proto::fuzzing::body_challenge_answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_challenge_answer(data));
