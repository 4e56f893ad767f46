//! Fuzz target `epcis_capture`: see `idnode_trace::fuzzing::epcis_capture`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_trace::fuzzing::epcis_capture(data));
