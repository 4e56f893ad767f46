//! Checks that `aws-lc-rs` is nowhere in the workspace's dependency graph.
//!
//! rustls panics when it has to pick a default provider and finds both ring and aws-lc-rs
//! (rustls/rustls#1877); ring is this workspace's only provider. A feature left on by mistake
//! anywhere in the workspace (rustls, tokio-rustls, quinn, rcgen, hyper-rustls) would pull
//! aws-lc-rs back in, so this test asks cargo itself.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

#[test]
fn aws_lc_rs_is_not_a_dependency() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Cargo sets CARGO for the processes it runs; fall back to whatever `cargo` is on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "tree",
            "--workspace",
            "--target",
            "all",
            "--edges",
            "all",
            "-i",
            "aws-lc-rs",
        ])
        .current_dir(&workspace)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            println!(
                "skipped: cargo ({}) is not available: {err}",
                cargo.to_string_lossy()
            );
            return;
        }
        Err(err) => panic!("cannot run {}: {err}", cargo.to_string_lossy()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        assert!(
            stdout.trim().is_empty(),
            "aws-lc-rs is in the dependency graph:\n{stdout}"
        );
    } else {
        assert!(
            stderr.contains("did not match any packages"),
            "cargo tree failed for another reason ({}):\n{stderr}",
            output.status
        );
    }
}
