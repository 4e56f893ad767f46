//! Fuzz target `body_login`: see `idnode_proto::fuzzing::body_login`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_login(data));
