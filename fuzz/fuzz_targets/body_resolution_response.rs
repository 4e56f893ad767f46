//! Fuzz target `body_resolution_response`: see `idnode_proto::fuzzing::body_resolution_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_resolution_response(data));
