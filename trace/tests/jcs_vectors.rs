//! RFC 8785 vectors: cyberphone/json-canonicalization input/output pairs and ES6 numbers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use idnode_trace::jcs;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/jcs")
}

#[test]
fn input_output_pairs_are_byte_identical() {
    let dir = vectors().join("testdata");
    let mut names: Vec<_> = std::fs::read_dir(dir.join("input"))
        .expect("input dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6);
    for name in names {
        let input = std::fs::read(dir.join("input").join(&name)).expect("input");
        let output = std::fs::read(dir.join("output").join(&name)).expect("output");
        let outhex_name = Path::new(&name).with_extension("txt");
        let outhex = std::fs::read_to_string(dir.join("outhex").join(outhex_name)).expect("hex");
        let from_hex: Vec<u8> = outhex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect();
        assert_eq!(from_hex, output, "{name:?}: outhex differs from output");
        let canonical = jcs::canonicalize_bytes(&input).expect("canonicalize");
        assert_eq!(
            String::from_utf8_lossy(&canonical),
            String::from_utf8_lossy(&output),
            "{name:?}"
        );
        assert!(
            jcs::is_canonical(&output),
            "{name:?}: output is not a fixed point"
        );
    }
}

/// Checks every line of the 100,000-line ES6 number file (hex IEEE-754 bits, expected text).
///
/// All lines run by default: the whole file takes well under a second in a debug build.
#[test]
fn es6_number_serialisation() {
    let path = vectors().join("es6numbers/es6testfile-first100000.txt");
    let file = std::fs::File::open(&path).expect("es6 number file");
    let mut checked = 0u64;
    for line in BufReader::new(file).lines() {
        let line = line.expect("line");
        let (bits, expected) = line.split_once(',').expect("hex,expected");
        let bits = u64::from_str_radix(bits, 16).expect("hex bits");
        let number = f64::from_bits(bits);
        let got = jcs::format_number(number).expect("finite number");
        assert_eq!(got, expected, "bits {bits:016x}");
        checked += 1;
    }
    assert_eq!(checked, 100_000);
}
