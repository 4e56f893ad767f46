//! What a cycle checks after the restart: every acknowledged write, imports, captures (by
//! retrying them), the log's consistency with `idnode verify`, and the search index.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http::HeaderValue;
use serde_json::Value;

use super::{Imported, Ledger, MAKER, Node, Opts, http};
pub(super) async fn latest_checkpoint(node: &Node) -> anyhow::Result<String> {
    let (status, body) = http(node.ports.http, "GET", "/log/checkpoint", None, None).await?;
    if status != 200 {
        bail!("GET /log/checkpoint: {status}");
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn checkpoint_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// Checks everything the cycle's writers were told, and returns the checkpoint to compare the
/// next cycle's with.
pub(super) async fn verify(
    opts: &Opts,
    work: &Path,
    node: &Node,
    auth: &HeaderValue,
    ledger: &Ledger,
    import: Option<&Imported>,
    before: &str,
) -> anyhow::Result<String> {
    let addr = node.ports.http;
    // Acknowledged handles, with the acknowledged value (or the one in flight).
    for (handle, expected) in &ledger.handles {
        let (status, body) = http(
            addr,
            "GET",
            &format!("/api/handles/{handle}"),
            Some(auth),
            None,
        )
        .await?;
        if status != 200 {
            bail!("acknowledged {handle} is missing ({status})");
        }
        let record: Value = serde_json::from_slice(&body)?;
        let desc = record["values"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["index"] == 2)
            .and_then(|v| v["data"]["value"].as_str())
            .unwrap_or("");
        if desc != expected.desc && Some(desc) != expected.in_flight.as_deref() {
            bail!(
                "{handle}: index 2 is {desc:?}, acknowledged {:?}",
                expected.desc
            );
        }
    }
    for (handle, _) in &ledger.registered {
        let (status, _) = http(
            addr,
            "GET",
            &format!("/api/handles/{handle}"),
            Some(auth),
            None,
        )
        .await?;
        if status != 200 {
            bail!("registered {handle} is missing ({status})");
        }
    }
    // Imports (completed, after a kill and a rerun half of the time): every row is there, whole.
    if let Some(import) = import {
        for (handle, cas) in import.rows.iter().step_by(37) {
            let (status, body) = http(
                addr,
                "GET",
                &format!("/api/handles/{handle}"),
                Some(auth),
                None,
            )
            .await?;
            let text = String::from_utf8_lossy(&body);
            if status != 200 || !text.contains(cas.as_str()) || !text.contains(MAKER) {
                bail!("imported {handle} is missing or not whole: {status} {text}");
            }
        }
    }
    // Captures: a retry of an acknowledged one gets its receipts; one in flight is all or none.
    for (document, indexes) in &ledger.captures {
        let (status, body) = http(
            addr,
            "POST",
            "/epcis/capture",
            Some(auth),
            Some(document.clone()),
        )
        .await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let again: Vec<u64> = answer["receipts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["index"].as_u64())
            .collect();
        if status != 200 || &again != indexes {
            bail!("a retried acknowledged capture: {status}, indexes {again:?} for {indexes:?}");
        }
    }
    for (document, events) in &ledger.captures_in_flight {
        let (status, body) = http(
            addr,
            "POST",
            "/epcis/capture",
            Some(auth),
            Some(document.clone()),
        )
        .await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let captured = answer["captured"].as_u64().unwrap_or(u64::MAX) as usize;
        if !(status == 200 && captured == 0 || status == 201 && captured == *events) {
            bail!("a capture in flight at the kill was half recorded: {status} {answer}");
        }
    }
    // The log: the new checkpoint extends the old one, and a record's bundle verifies.
    let after = settled_checkpoint(node, checkpoint_size(before)).await?;
    let (old, new) = (checkpoint_size(before), checkpoint_size(&after));
    if new < old {
        bail!("the log shrank from {old} to {new}");
    }
    let policy = http(addr, "GET", "/log/policy", None, None).await?.1;
    std::fs::write(work.join("policy.txt"), &policy)?;
    std::fs::write(work.join("old.note"), before)?;
    let mut verify_args = vec![];
    if old > 0 && new > old {
        let (status, proof) = http(
            addr,
            "GET",
            &format!("/log/consistency?old={old}&new={new}"),
            None,
            None,
        )
        .await?;
        if status != 200 {
            bail!("GET /log/consistency: {status}");
        }
        std::fs::write(work.join("consistency.txt"), &proof)?;
        verify_args = vec![
            "--previous-checkpoint",
            "old.note",
            "--consistency-proof",
            "consistency.txt",
        ];
    }
    if let Some((document, _)) = ledger.captures.first() {
        let digests = idnode_benches::client::receipt_digests(
            &http(
                addr,
                "POST",
                "/epcis/capture",
                Some(auth),
                Some(document.clone()),
            )
            .await?
            .1,
        )?;
        let digest = digests.first().context("a receipt")?;
        let (status, bundle) = http(
            addr,
            "GET",
            &format!("/log/proof?digest={digest}"),
            Some(auth),
            None,
        )
        .await?;
        if status != 200 {
            bail!("GET /log/proof: {status}");
        }
        std::fs::write(work.join("record.tlog-proof"), &bundle)?;
        let output = Command::new(&opts.idnode)
            .current_dir(work)
            .args(["verify", "--policy", "policy.txt"])
            .args(&verify_args)
            .arg("record.tlog-proof")
            .output()?;
        if !output.status.success() {
            bail!("idnode verify: {}", String::from_utf8_lossy(&output.stderr));
        }
    }
    // Search catches up with the cycle's registrations.
    if let Some((handle, cas)) = ledger.registered.last() {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = http(
                addr,
                "GET",
                &format!("/api/search?cas={cas}"),
                Some(auth),
                None,
            )
            .await?;
            if String::from_utf8_lossy(&body).contains(handle.as_str()) {
                break;
            }
            if Instant::now() > deadline {
                bail!("search did not find {handle} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(after)
}

/// The latest checkpoint once it covers at least `size` leaves and no longer changes (the
/// checkpointer signs one shortly after the log grows).
async fn settled_checkpoint(node: &Node, size: u64) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    loop {
        let note = latest_checkpoint(node).await?;
        if checkpoint_size(&note) >= size && note == last {
            return Ok(note);
        }
        if Instant::now() > deadline {
            bail!("no settled checkpoint of size {size} or more within 30 s");
        }
        last = note;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
