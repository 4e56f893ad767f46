//! Fuzz target `body_verify_challenge_response`: see `idnode_proto::fuzzing::body_verify_challenge_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_verify_challenge_response(data));
