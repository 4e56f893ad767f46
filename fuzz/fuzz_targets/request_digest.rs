//! Fuzz target `request_digest`: see `idnode_proto::fuzzing::request_digest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::request_digest(data));
