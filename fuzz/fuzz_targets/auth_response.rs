//! Fuzz target `auth_response`: see `idnode_proto::fuzzing::auth_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::auth_response(data));
