//! Fuzz target `body_remove_value_request`: see `idnode_proto::fuzzing::body_remove_value_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_remove_value_request(data));
