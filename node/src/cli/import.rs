//! `idnode import`: bulk registration of records from a CSV or JSON Lines file, through the
//! same pipeline as every request (template validation, authorization, audit, group commit).
//!
//! Input forms:
//!
//! * CSV with a header row: a `handle` column (full handles) or a `suffix` column (appended to
//!   `--prefix`), and one column per template item, named by its `idType`. Empty cells leave the
//!   item out. List items take the JSON array text (`["67-64-1"]`).
//! * JSON Lines: one object per line with `handle` or `suffix` and items by `idType`; a value is
//!   a string, or an array of strings for list items.
//! * The chemicals reference file (`data/chemicals.csv`, recognised by its header), mapped to
//!   `hazchem.product`: suffix `P.<CAS>`, `productName` ← `name_zh` or else `name_en`,
//!   `productNameEn` ← `name_en`, `casNo` ← `["<cas>"]`, `ghsClass` ← `ghs_classification`
//!   split at `; `. The other columns have no item in the template and are not imported.
//!
//! `--set idType=value` gives an item the same value in every row (such as the
//! `manufacturer` of every product). Every row is validated; rejected rows go to a report with
//! their line number and reasons, and the good rows are written. A row whose handle already
//! holds exactly the same content is counted as unchanged and not written, so a rerun changes
//! nothing; a row whose handle holds other content replaces it (counted as updated).
//!
//! Rows are streamed: the file is read in chunks of [`CHUNK`] rows, and at most [`IN_FLIGHT`]
//! chunks are being validated or written at a time, so memory does not grow with the file.
//! Each chunk goes through [`Resolver::handle_batch`](idnode_resolver::Resolver::handle_batch):
//! every row runs every step of the pipeline on its own (a rejected row never rejects its
//! neighbours), and the chunk's good rows commit durably together, in one transaction with one
//! audit entry (action `import`, target `import:<file name>`) per prefix naming every handle
//! written. Chunks are validated on every core of the runtime while the store's writer commits
//! earlier ones. The command opens the data directory itself, so the node must be stopped: redb
//! holds an exclusive lock on the database file, and the command fails with a clear message
//! while a node has it open.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use idnode_proto::{AdminPerms, AdminRecord, HandleValue, ResponseCode, ValueRef, types};
use idnode_resolver::{BatchSummary, Identity, Operation, Outcome, Request};
use idnode_templates::Template;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::core::Core;

/// The identity the command acts as: a server administrator for the duration of the command,
/// like `idnode init` (whoever can write the data directory is trusted).
pub const IMPORT_IDENTITY: &str = "1:idnode.cli/import";

/// How many rows go through the pipeline together.
const CHUNK: usize = 1024;

/// How many chunks are validated or written at a time.
const IN_FLIGHT: usize = 4;

/// The header of the chemicals reference file.
const CHEMICALS_HEADER: &[&str] = &["cas", "name_en", "name_zh", "name_zh_alt", "formula"];

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The template name, optionally with `@version` (latest version otherwise).
    pub template: String,
    /// The prefix that `suffix` columns are appended to.
    pub prefix: Option<String>,
    /// The input file (`.csv`, `.jsonl` or `.ndjson`).
    pub file: PathBuf,
    /// Items given the same value in every row.
    pub set: Vec<(String, String)>,
    /// Where to write the report of rejected rows; defaults to
    /// `<data>/import-reports/<file stem>-<epoch seconds>.tsv`.
    pub report: Option<PathBuf>,
    /// Whether to draw a progress bar on standard error.
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows: u64,
    /// Records created.
    pub created: u64,
    /// Records replaced because their content differed.
    pub updated: u64,
    /// Rows whose record already held the same content.
    pub unchanged: u64,
    /// Rows rejected (see the report).
    pub rejected: u64,
    /// The report of rejected rows.
    pub report: PathBuf,
    /// How long the import took.
    pub elapsed: Duration,
}

/// Runs `idnode import` on a data directory.
pub async fn run(mut config: Config, options: &ImportOptions) -> anyhow::Result<ImportSummary> {
    config.auth.server_admins.push(IMPORT_IDENTITY.to_owned());
    let data = config.data.clone();
    let state = Core::open(config.without_quotas()).map_err(|e| {
        let text = format!("{e:#}");
        if text.contains("already open") || text.contains("lock") {
            anyhow::anyhow!(
                "the database in {} is in use, probably by a running node: stop the node, then import ({text})",
                data.display()
            )
        } else {
            e
        }
    })?;
    state
        .resolver
        .install_builtin_templates(crate::core::unix_now())
        .await
        .map_err(|f| anyhow::anyhow!("cannot install the built-in templates: {f}"))?;
    let identity =
        Identity(ValueRef::parse(IMPORT_IDENTITY).context("the import identity is malformed")?);
    import_file(&state, &identity, options).await
}

/// One row, ready to write, or the reason it cannot be.
struct Row {
    line: u64,
    handle: String,
    values: Result<Vec<HandleValue>, String>,
}

/// How a row's cells become items.
enum Mapping {
    /// Columns named by `idType`, plus `handle` or `suffix`.
    Items { columns: Vec<String> },
    /// The chemicals reference file.
    Chemicals { columns: HashMap<String, usize> },
}

/// Imports a file with an open state, acting as `identity`.
pub async fn import_file(
    state: &Arc<Core>,
    identity: &Identity,
    options: &ImportOptions,
) -> anyhow::Result<ImportSummary> {
    let started = Instant::now();
    let (name, version) = match idnode_templates::parse_link(&options.template) {
        Some((name, version)) => (name, Some(version)),
        None => (options.template.as_str(), None),
    };
    let template = state
        .resolver
        .template(name, version)
        .map_err(|f| anyhow::anyhow!("cannot read template {}: {f}", options.template))?
        .with_context(|| format!("there is no template {}", options.template))?
        .template
        .clone();
    for (id_type, _) in &options.set {
        if template.item_by_type(id_type).is_none() {
            bail!(
                "--set {id_type}: template {} has no such item",
                template.link()
            );
        }
    }
    let report_path = match &options.report {
        Some(path) => path.clone(),
        None => {
            let stem = options
                .file
                .file_stem()
                .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned());
            state
                .config
                .data
                .join("import-reports")
                .join(format!("{stem}-{}.tsv", crate::core::unix_now()))
        }
    };
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut report = std::io::BufWriter::new(
        File::create(&report_path)
            .with_context(|| format!("cannot create the report {}", report_path.display()))?,
    );
    writeln!(report, "line\thandle\treason")?;

    let total_rows = count_rows(&options.file)?;
    let bar = if options.progress {
        ProgressBar::with_draw_target(Some(total_rows), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows {per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let admin = options.prefix.as_ref().map(|prefix| {
        let record = AdminRecord {
            perms: AdminPerms::ALL,
            admin: ValueRef {
                handle: format!("{prefix}/ADMIN"),
                index: 300,
            },
        };
        HandleValue::new(100, types::HS_ADMIN, record.to_bytes())
    });
    let shape = RowShape {
        link: template.link_value(),
        template: Arc::new(template),
        prefix: options.prefix.clone(),
        set: options.set.clone(),
        admin,
    };
    let mut summary = ImportSummary {
        report: report_path.clone(),
        ..ImportSummary::default()
    };
    let is_jsonl = options
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
    let source = options
        .file
        .file_name()
        .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned());
    let mut pipeline = Pipeline {
        state,
        identity,
        audit: Arc::new(BatchSummary {
            action: "import".to_owned(),
            source,
        }),
        chunk: Vec::with_capacity(CHUNK),
        tasks: JoinSet::new(),
        summary: &mut summary,
        rejected: Vec::new(),
        bar: &bar,
    };
    if is_jsonl {
        let file = File::open(&options.file)
            .with_context(|| format!("cannot open {}", options.file.display()))?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", options.file.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            pipeline.push(shape.jsonl_row(n as u64 + 1, &line)).await?;
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&options.file)
            .with_context(|| format!("cannot open {}", options.file.display()))?;
        let header: Vec<String> = reader
            .headers()
            .with_context(|| format!("cannot read the header of {}", options.file.display()))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mapping = shape.mapping(&header)?;
        let mut record = csv::StringRecord::new();
        loop {
            let line = reader.position().line();
            let row = match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => shape.csv_row(
                    &mapping,
                    record.position().map_or(line, |p| p.line()),
                    &record,
                ),
                Err(e) => Row {
                    line,
                    handle: String::new(),
                    values: Err(format!("unreadable CSV row: {e}")),
                },
            };
            pipeline.push(row).await?;
        }
    }
    let mut rejected = pipeline.finish().await?;
    bar.finish_and_clear();
    rejected.sort_by_key(|(line, _, _)| *line);
    for (line, handle, reason) in rejected {
        let reason = reason.replace(['\t', '\n'], " ");
        writeln!(report, "{line}\t{handle}\t{reason}")?;
    }
    report.flush()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The number of data rows (lines after the header, or non-empty JSON lines), for the bar.
fn count_rows(path: &Path) -> anyhow::Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    let mut last = b'\n';
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    let is_csv = !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
    Ok(if is_csv {
        lines.saturating_sub(1)
    } else {
        lines
    })
}

/// What every row shares.
struct RowShape {
    template: Arc<Template>,
    /// The template link value (index 1001) of every row.
    link: HandleValue,
    prefix: Option<String>,
    set: Vec<(String, String)>,
    admin: Option<HandleValue>,
}

impl RowShape {
    fn mapping(&self, header: &[String]) -> anyhow::Result<Mapping> {
        if header.len() >= CHEMICALS_HEADER.len()
            && header[..CHEMICALS_HEADER.len()]
                .iter()
                .zip(CHEMICALS_HEADER)
                .all(|(a, b)| a == b)
        {
            if self.template.name != "hazchem.product" {
                bail!(
                    "the chemicals reference file maps to hazchem.product, not {}",
                    self.template.name
                );
            }
            if self.prefix.is_none() {
                bail!("the chemicals reference file needs --prefix");
            }
            let columns = header
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), i))
                .collect();
            return Ok(Mapping::Chemicals { columns });
        }
        let has_handle = header.iter().any(|c| c == "handle");
        let has_suffix = header.iter().any(|c| c == "suffix");
        if !has_handle && !has_suffix {
            bail!("the header needs a handle or a suffix column");
        }
        if has_suffix && self.prefix.is_none() {
            bail!("a suffix column needs --prefix");
        }
        let unknown: Vec<&String> = header
            .iter()
            .filter(|c| *c != "handle" && *c != "suffix" && self.template.item_by_type(c).is_none())
            .collect();
        if !unknown.is_empty() {
            bail!(
                "columns without an item in template {}: {}",
                self.template.link(),
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(Mapping::Items {
            columns: header.to_vec(),
        })
    }

    fn handle_of(&self, handle: Option<&str>, suffix: Option<&str>) -> Result<String, String> {
        match (handle, suffix, &self.prefix) {
            (Some(h), _, _) if !h.is_empty() => Ok(h.to_owned()),
            (_, Some(s), Some(p)) if !s.is_empty() => Ok(format!("{p}/{s}")),
            _ => Err("the row has no handle or suffix".to_owned()),
        }
    }

    /// The values of a row from `(idType, text)` pairs, after the `--set` items.
    fn values<'a>(
        &'a self,
        items: impl Iterator<Item = (&'a str, String)>,
    ) -> Result<Vec<HandleValue>, String> {
        let mut values = Vec::with_capacity(8 + self.set.len());
        values.push(self.link.clone());
        if let Some(admin) = &self.admin {
            values.push(admin.clone());
        }
        let given = self
            .set
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(items);
        for (id_type, text) in given {
            if text.is_empty() {
                continue;
            }
            let Some(item) = self.template.item_by_type(id_type) else {
                return Err(format!(
                    "no item {id_type} in template {}",
                    self.template.link()
                ));
            };
            values.retain(|v| v.index != item.index);
            values.push(HandleValue::new(item.index, id_type, text));
        }
        Ok(values)
    }

    fn csv_row(&self, mapping: &Mapping, line: u64, record: &csv::StringRecord) -> Row {
        match mapping {
            Mapping::Items { columns } => {
                let cell = |name: &str| {
                    columns
                        .iter()
                        .position(|c| c == name)
                        .and_then(|i| record.get(i))
                };
                let handle = self.handle_of(cell("handle"), cell("suffix"));
                let items = columns
                    .iter()
                    .zip(record.iter())
                    .filter(|(c, _)| *c != "handle" && *c != "suffix")
                    .map(|(c, v)| (c.as_str(), v.to_owned()));
                row(line, handle, self.values(items))
            }
            Mapping::Chemicals { columns } => {
                let cell = |name: &str| {
                    columns
                        .get(name)
                        .and_then(|&i| record.get(i))
                        .unwrap_or("")
                        .trim()
                };
                let cas = cell("cas");
                let name_zh = cell("name_zh");
                let name_en = cell("name_en");
                let name = if name_zh.is_empty() { name_en } else { name_zh };
                let mut items = vec![
                    ("productName", name.to_owned()),
                    ("productNameEn", name_en.to_owned()),
                    ("casNo", serde_json::to_string(&[cas]).unwrap_or_default()),
                ];
                let ghs = cell("ghs_classification");
                if !ghs.is_empty() {
                    let classes: Vec<&str> = ghs.split("; ").map(str::trim).collect();
                    items.push((
                        "ghsClass",
                        serde_json::to_string(&classes).unwrap_or_default(),
                    ));
                }
                let handle = self.handle_of(None, Some(&format!("P.{cas}")));
                row(line, handle, self.values(items.into_iter()))
            }
        }
    }

    fn jsonl_row(&self, line: u64, text: &str) -> Row {
        let object = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => return row(line, Err("not a JSON object".into()), Ok(Vec::new())),
            Err(e) => return row(line, Err(format!("malformed JSON: {e}")), Ok(Vec::new())),
        };
        let text_of = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(_) => Some(v.to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let handle = self.handle_of(
            object.get("handle").and_then(|v| v.as_str()),
            object.get("suffix").and_then(|v| v.as_str()),
        );
        let mut items = Vec::new();
        for (key, value) in &object {
            if key == "handle" || key == "suffix" {
                continue;
            }
            match text_of(value) {
                Some(text) => items.push((key.as_str(), text)),
                None => {
                    return row(
                        line,
                        handle,
                        Err(format!("{key}: expected a string or an array of strings")),
                    );
                }
            }
        }
        row(line, handle, self.values(items.into_iter()))
    }
}

fn row(line: u64, handle: Result<String, String>, values: Result<Vec<HandleValue>, String>) -> Row {
    match handle {
        Ok(handle) => Row {
            line,
            handle,
            values,
        },
        Err(reason) => Row {
            line,
            handle: String::new(),
            values: Err(reason),
        },
    }
}

/// What happened to one row.
enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    Rejected(String),
}

/// Rows in flight: chunks of [`CHUNK`] rows, at most [`IN_FLIGHT`] of them at a time, so the
/// store's writer always has work queued while the next chunks are validated; outcomes are
/// counted as chunks finish.
struct Pipeline<'a> {
    state: &'a Arc<Core>,
    identity: &'a Identity,
    audit: Arc<BatchSummary>,
    chunk: Vec<Row>,
    tasks: JoinSet<Vec<(u64, String, RowOutcome)>>,
    summary: &'a mut ImportSummary,
    rejected: Vec<(u64, String, String)>,
    bar: &'a ProgressBar,
}

impl Pipeline<'_> {
    async fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.chunk.push(row);
        if self.chunk.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    /// Starts the current chunk, once fewer than [`IN_FLIGHT`] chunks are running.
    async fn send(&mut self) -> anyhow::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        while self.tasks.len() >= IN_FLIGHT {
            self.complete_one().await?;
        }
        let rows = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        let state = self.state.clone();
        let identity = self.identity.clone();
        let audit = Arc::clone(&self.audit);
        self.tasks
            .spawn(async move { write_chunk(&state, &identity, &audit, rows).await });
        Ok(())
    }

    async fn complete_one(&mut self) -> anyhow::Result<()> {
        let Some(joined) = self.tasks.join_next().await else {
            return Ok(());
        };
        let outcomes = joined.context("an import task failed")?;
        let summary = &mut *self.summary;
        let rejected_before = summary.rejected;
        for (line, handle, outcome) in outcomes {
            summary.rows += 1;
            match outcome {
                RowOutcome::Created => summary.created += 1,
                RowOutcome::Updated => summary.updated += 1,
                RowOutcome::Unchanged => summary.unchanged += 1,
                RowOutcome::Rejected(reason) => {
                    summary.rejected += 1;
                    self.rejected.push((line, handle, reason));
                }
            }
            self.bar.inc(1);
        }
        if summary.rejected != rejected_before {
            self.bar
                .set_message(format!("{} rejected", summary.rejected));
        }
        Ok(())
    }

    /// Sends the last chunk and waits for every row still in flight; returns the rejected rows.
    async fn finish(mut self) -> anyhow::Result<Vec<(u64, String, String)>> {
        self.send().await?;
        while !self.tasks.is_empty() {
            self.complete_one().await?;
        }
        Ok(self.rejected)
    }
}

/// Writes one chunk: registers every record in one batch (new ones are created, and records
/// that hold the same content already are left alone), then replaces in a second batch the
/// records that exist with other content.
async fn write_chunk(
    state: &Core,
    identity: &Identity,
    audit: &BatchSummary,
    rows: Vec<Row>,
) -> Vec<(u64, String, RowOutcome)> {
    let resolver = &state.resolver;
    let now = crate::core::unix_now();
    let mut outcomes = Vec::with_capacity(rows.len());
    // The line and handle text of each request.
    let mut origins = Vec::with_capacity(rows.len());
    let mut requests = Vec::with_capacity(rows.len());
    for row in rows {
        let parsed = row
            .values
            .and_then(|values| match resolver.parse_handle(&row.handle) {
                Ok(handle) => Ok((handle, values)),
                Err(f) => Err(f.message),
            });
        match parsed {
            Ok((handle, values)) => {
                origins.push((row.line, row.handle));
                requests.push(Request {
                    op: Operation::Register { handle, values },
                    identity: Some(identity.clone()),
                    now,
                });
            }
            Err(reason) => outcomes.push((row.line, row.handle, RowOutcome::Rejected(reason))),
        }
    }
    let results = resolver.handle_batch(&requests, Some(audit)).await;
    let mut replace = Vec::new();
    let mut replace_origins = Vec::new();
    for ((origin, mut request), result) in origins.into_iter().zip(requests).zip(results) {
        let outcome = match result {
            Ok(Outcome::Unchanged { .. }) => RowOutcome::Unchanged,
            Ok(_) => RowOutcome::Created,
            Err(f) if f.rc == ResponseCode::HandleAlreadyExists => {
                // The handle exists with other content: replace it in the second batch.
                let Operation::Register { handle, values } = request.op else {
                    unreachable!("every request of an import is a registration");
                };
                request.op = Operation::Create {
                    handle,
                    values,
                    overwrite: true,
                };
                replace.push(request);
                replace_origins.push(origin);
                continue;
            }
            Err(f) => RowOutcome::Rejected(reason(&f)),
        };
        outcomes.push((origin.0, origin.1, outcome));
    }
    if !replace.is_empty() {
        let results = resolver.handle_batch(&replace, Some(audit)).await;
        for (origin, result) in replace_origins.into_iter().zip(results) {
            let outcome = match result {
                Ok(Outcome::Done { created: true, .. }) => RowOutcome::Created,
                Ok(_) => RowOutcome::Updated,
                Err(f) => RowOutcome::Rejected(reason(&f)),
            };
            outcomes.push((origin.0, origin.1, outcome));
        }
    }
    outcomes
}

fn reason(f: &idnode_resolver::Failure) -> String {
    if f.message.is_empty() {
        format!("{:?}", f.rc)
    } else {
        f.message.clone()
    }
}
