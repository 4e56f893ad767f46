//! Fuzz target `body_create_response`: see `idnode_proto::fuzzing::body_create_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_create_response(data));
