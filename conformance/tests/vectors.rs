//! Every vector set under `conformance/vectors/` says where it came from and under which
//! licence, so that the data can ship with the project.

use std::fs;
use std::path::Path;

#[test]
fn every_vector_set_carries_its_licence_or_provenance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let readme = fs::read_to_string(root.join("README.md")).expect("vectors/README.md");
    let mut sets = 0;
    for entry in fs::read_dir(&root).expect("vectors/") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        sets += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let has_note = fs::read_dir(&path).expect("set").flatten().any(|f| {
            let file = f.file_name().to_string_lossy().to_ascii_uppercase();
            file.starts_with("LICENSE") || file.starts_with("README")
        });
        assert!(
            has_note || readme.contains(&format!("{name}/")),
            "vectors/{name}/ has no LICENSE or README and is not described in vectors/README.md"
        );
    }
    assert!(sets >= 5, "found only {sets} vector sets");
}
