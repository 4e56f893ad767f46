//! Checks that the documents and the source tree keep the rules they state: every workspace
//! member is described in ARCHITECTURE.md and every described crate exists, the dependency
//! invariants hold, every Rust file explains itself, and the README has exactly two set-up
//! commands.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("docs/ is inside the workspace")
        .to_path_buf()
}

fn workspace_members() -> Vec<String> {
    let manifest: toml::Value =
        toml::from_str(&fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn architecture_names_every_member_and_nothing_else() {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let described: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split('/').next())
        .map(str::to_owned)
        .collect();
    for member in workspace_members() {
        assert!(
            described.contains(&member),
            "ARCHITECTURE.md does not describe workspace member {member}"
        );
    }
    for name in &described {
        assert!(
            root().join(name).is_dir(),
            "ARCHITECTURE.md describes {name}/, which does not exist"
        );
    }
}

/// The names of the direct dependencies of a member, from its manifest.
fn direct_dependencies(member: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join(member).join("Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let mut names = Vec::new();
    for table in ["dependencies", "build-dependencies"] {
        if let Some(deps) = manifest.get(table).and_then(toml::Value::as_table) {
            names.extend(deps.keys().cloned());
        }
    }
    names
}

#[test]
fn dependency_invariants_hold() {
    let forbidden_in_libraries = ["tokio", "hyper", "hyper-util", "quinn", "redb"];
    for member in ["proto", "trace", "templates", "certs"] {
        if !root().join(member).is_dir() {
            continue;
        }
        for dep in direct_dependencies(member) {
            assert!(
                !forbidden_in_libraries.contains(&dep.as_str()),
                "{member} must not depend on {dep}"
            );
        }
    }
    for member in workspace_members() {
        if member != "registry" && member != "benches" {
            assert!(
                !direct_dependencies(&member).iter().any(|d| d == "redb"),
                "only registry may depend on redb, but {member} does"
            );
        }
    }
    for dep in direct_dependencies("resolver") {
        assert!(
            !["tokio", "hyper", "redb", "quinn"].contains(&dep.as_str()),
            "resolver must not depend on {dep}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc_and_has_no_leftovers() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    assert!(files.len() > 10, "found only {} Rust files", files.len());
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            first.starts_with("//!"),
            "{} does not start with a //! line",
            file.display()
        );
        // The needles are split so that this file does not match itself.
        for (needle, what) in [
            (concat!("dbg", "!("), "dbg!"),
            (concat!("todo", "!("), "todo!"),
            (concat!("unimplemented", "!("), "unimplemented!"),
        ] {
            assert!(!text.contains(needle), "{} contains {what}", file.display());
        }
    }
}

#[test]
fn readme_has_exactly_two_setup_commands() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let setup = readme
        .split("## Set up")
        .nth(1)
        .expect("README has a Set up section");
    let setup = setup.split("\n## ").next().unwrap();
    let commands: Vec<&str> = setup
        .split("```sh\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().trim())
        .collect();
    assert_eq!(
        commands.len(),
        2,
        "the Set up section must hold exactly two commands: {commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.contains("serve")),
        "one command runs the node"
    );
    assert!(
        commands.contains(&"./scripts/test.sh"),
        "one command runs every test"
    );
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("scripts/test.sh"),
        ".ci/run must call the README's test command"
    );
}

/// Front ends never touch the store: in the node, every read and write goes through the
/// resolver's pipeline or its read-only views (`change_feed`, `trace_log`), so that each
/// decision is made once. The needles are split so that this file does not match itself.
#[test]
fn front_ends_never_reach_the_store() {
    let mut files = Vec::new();
    rust_files(&root().join("node").join("src"), &mut files);
    assert!(!files.is_empty());
    let needles = [
        concat!(".store", "()"),
        concat!("danger", "_store"),
        concat!("Store", " as _"),
        concat!("Store", "::get("),
        concat!("Store", "::commit"),
        concat!(".commit", "_all("),
    ];
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for needle in needles {
            assert!(
                !text.contains(needle),
                "{} reaches the store ({needle}); go through the resolver instead",
                file.display()
            );
        }
    }
}
