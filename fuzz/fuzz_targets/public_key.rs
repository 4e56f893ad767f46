//! Fuzz target `public_key`: see `idnode_proto::fuzzing::public_key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::public_key(data));
