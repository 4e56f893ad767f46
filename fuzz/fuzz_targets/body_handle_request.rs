//! Fuzz target `body_handle_request`: see `idnode_proto::fuzzing::body_handle_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_handle_request(data));
