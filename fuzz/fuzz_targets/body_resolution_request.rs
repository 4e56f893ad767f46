//! Fuzz target `body_resolution_request`: see `idnode_proto::fuzzing::body_resolution_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_resolution_request(data));
