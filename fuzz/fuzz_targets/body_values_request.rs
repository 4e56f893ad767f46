//! Fuzz target `body_values_request`: see `idnode_proto::fuzzing::body_values_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_values_request(data));
