//! Fuzz target `snms_body`: see `idnode::fuzzing::snms_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode::fuzzing::snms_body(data));
