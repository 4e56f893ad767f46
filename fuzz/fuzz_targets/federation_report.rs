//! Fuzz target `federation_report`: see `idnode::fuzzing::federation_report`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode::fuzzing::federation_report(data));
