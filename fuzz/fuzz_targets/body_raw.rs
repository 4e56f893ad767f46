//! Fuzz target `body_raw`: see `idnode_proto::fuzzing::body_raw`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_raw(data));
