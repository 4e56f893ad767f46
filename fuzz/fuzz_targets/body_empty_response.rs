//! Fuzz target `body_empty_response`: see `idnode_proto::fuzzing::body_empty_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_empty_response(data));
