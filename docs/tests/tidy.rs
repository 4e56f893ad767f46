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

/// The top-level modules of a crate's `src/` (files and folders beside `lib.rs`), by name.
fn top_level_modules(src: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(src)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let path = entry.path();
                    let name = path.file_stem()?.to_str()?.to_owned();
                    let is_module = (path.is_dir() && path.join("mod.rs").exists())
                        || (path.is_dir() && src.join(format!("{name}.rs")).exists())
                        || path.extension().is_some_and(|e| e == "rs");
                    (is_module && name != "lib" && name != "main").then_some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

/// The files of top-level module `name` in `src`: `name.rs` and everything under `name/`.
fn module_files(src: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.exists() {
        files.push(file);
    }
    rust_files(&src.join(name), &mut files);
    files
}

/// The top-level modules that the text of one file of module `from` names through `crate::`
/// (including `use crate::{a, b}`), or through `super::` in the module's own root file.
fn referenced_modules(text: &str, is_root_file: bool, modules: &[String]) -> Vec<String> {
    // Comments may name any module, and a test module may reach across to drive what it
    // tests; only the code before the tests makes an edge.
    let code: String = text
        .lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut found = Vec::new();
    let mut scan = |prefix: &str| {
        for (at, _) in text.match_indices(prefix) {
            // `crate::` must not be the tail of another path (`idnode_crate::`).
            if at > 0 {
                let before = text.as_bytes()[at - 1];
                if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                    continue;
                }
            }
            let rest = &text[at + prefix.len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end]
                    .split(',')
                    .map(|part| part.trim().split("::").next().unwrap_or(""))
                    .collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                vec![&rest[..end]]
            };
            for name in names {
                if modules.iter().any(|m| m == name) {
                    found.push(name.to_owned());
                }
            }
        }
    };
    scan("crate::");
    if is_root_file {
        scan("super::");
    }
    found
}

/// A cycle in the graph of top-level modules, if there is one.
fn find_cycle(edges: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// No crate has an import cycle between its top-level modules, so that each folder of the node
/// can be read, tested and replaced on its own, and a request's path through the folders goes
/// one way.
#[test]
fn no_import_cycles_between_top_level_modules() {
    for member in workspace_members() {
        let src = root().join(&member).join("src");
        if !src.is_dir() {
            continue;
        }
        let modules = top_level_modules(&src);
        let mut edges = std::collections::BTreeMap::new();
        for module in &modules {
            let mut targets = Vec::new();
            for file in module_files(&src, module) {
                let text = fs::read_to_string(&file).unwrap();
                let is_root_file = file == src.join(format!("{module}.rs"))
                    || file == src.join(module).join("mod.rs");
                targets.extend(
                    referenced_modules(&text, is_root_file, &modules)
                        .into_iter()
                        .filter(|target| target != module),
                );
            }
            targets.sort();
            targets.dedup();
            edges.insert(module.clone(), targets);
        }
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "{member}/src has an import cycle between top-level modules: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_cycle_check_finds_cycles() {
    let modules = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    assert_eq!(
        referenced_modules("use crate::{a::X, b};\nuse crate::c::Y;", false, &modules),
        ["a", "b", "c"]
    );
    assert!(referenced_modules("use idnode_crate::a;", false, &modules).is_empty());
    let mut edges = std::collections::BTreeMap::new();
    edges.insert("a".to_owned(), vec!["b".to_owned()]);
    edges.insert("b".to_owned(), vec!["c".to_owned()]);
    edges.insert("c".to_owned(), vec![]);
    assert_eq!(find_cycle(&edges), None);
    edges.insert("c".to_owned(), vec!["a".to_owned()]);
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// The most lines of code (before its test module) one source file of a crate's `src/` holds.
const MAX_FILE_LINES: usize = 800;

/// No source file is so long that a reader loses its thread: split it by responsibility.
#[test]
fn no_source_file_is_over_800_lines_of_code() {
    let mut files = Vec::new();
    for member in workspace_members() {
        rust_files(&root().join(&member).join("src"), &mut files);
    }
    let mut long = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let code = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        if code > MAX_FILE_LINES {
            long.push(format!(
                "{} ({code} lines)",
                file.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_FILE_LINES} lines of code: {}",
        long.join(", ")
    );
}

/// Every module of the node (`api::handles`, `server`, …) and every top-level module of the
/// other crates is named in ARCHITECTURE.md, in backticks, in its crate's section.
#[test]
fn the_code_map_names_every_module() {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = |member: &str| -> String {
        let heading = format!("### `{member}/`");
        let Some(start) = doc.find(&heading) else {
            return String::new();
        };
        let rest = &doc[start + heading.len()..];
        let end = rest.find("\n### ").unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let mut missing = Vec::new();
    for member in workspace_members() {
        let src = root().join(&member).join("src");
        if !src.is_dir() {
            continue;
        }
        let text = section(&member);
        for module in top_level_modules(&src) {
            let mut names = vec![module.clone()];
            if member == "node" {
                let dir = src.join(&module);
                names.extend(
                    top_level_modules(&dir)
                        .into_iter()
                        .filter(|sub| sub != "mod")
                        .map(|sub| format!("{module}::{sub}")),
                );
            }
            for name in names {
                if !text.contains(&format!("`{name}`")) {
                    missing.push(format!("{member}: {name}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name: {}",
        missing.join(", ")
    );
}
