//! Fuzz target `body_session_setup_response`: see `idnode_proto::fuzzing::body_session_setup_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_session_setup_response(data));
