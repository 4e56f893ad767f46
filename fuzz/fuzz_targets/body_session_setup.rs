//! Fuzz target `body_session_setup`: see `idnode_proto::fuzzing::body_session_setup`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_session_setup(data));
