//! Fuzz target `template_validation`: see `idnode_templates::fuzzing::template_validation`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_templates::fuzzing::template_validation(data));
