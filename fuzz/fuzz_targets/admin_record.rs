//! Fuzz target `admin_record`: see `idnode_proto::fuzzing::admin_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::admin_record(data));
