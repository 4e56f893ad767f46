//! Fuzz target `config`: see `idnode::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode::fuzzing::config(data));
