//! The `idnode` command: run a node, or prepare its data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use idnode::config::Config;

/// The node allocates and frees many small buffers per request on every core (JSON values,
/// records, proofs); mimalloc's per-thread free lists serve those faster than the system
/// allocator (measured in `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// idnode: an identifier resolution secondary node for the industrial internet.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API over HTTP and HTTPS and the native Handle protocol. With no
    /// arguments, uses ./idnode-data and listens on 127.0.0.1:8000 (HTTP), 127.0.0.1:8443
    /// (HTTPS) and 127.0.0.1:2641 (native, UDP and TCP).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Plain HTTP address, or `off`.
        #[arg(long, value_name = "ADDR")]
        http: Option<Listen>,
        /// HTTPS address, or `off`.
        #[arg(long, value_name = "ADDR")]
        https: Option<Listen>,
        /// Native Handle protocol address (UDP and TCP), or `off`; default 127.0.0.1:2641
        /// unless the configuration file's `[native] listen` says otherwise.
        #[arg(long, value_name = "ADDR")]
        handle: Option<Listen>,
    },
    /// Home a prefix and create its prefix handle `0.NA/PREFIX` and the administrator
    /// `300:PREFIX/ADMIN`.
    Init {
        #[command(flatten)]
        common: Common,
        /// The prefix, such as 88.118.8.
        #[arg(long)]
        prefix: String,
        /// Use the secret in this file instead of generating one.
        #[arg(long, value_name = "FILE")]
        admin_secret_file: Option<PathBuf>,
    },
    /// At a top-level node: delegate PREFIX to a secondary node. Creates the prefix handle
    /// 0.NA/PREFIX with the secondary's site information (HS_SITE and HS_SITE.PREFIX) and
    /// its administrator identity 300:0.NA/PREFIX, which may manage the prefixes derived from
    /// PREFIX and nothing else (docs/federation.md).
    Delegate {
        #[command(flatten)]
        common: Common,
        /// The delegated prefix, such as 88.118.
        #[arg(long)]
        prefix: String,
        /// The secondary's site information: its `GET /api/site` answer, a siteinfo.json, or
        /// siteinfo.bin.
        #[arg(long, value_name = "FILE")]
        site: PathBuf,
        /// The secondary identity's public key: what `idnode keygen` printed, a JWK, or
        /// HS_PUBKEY bytes.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "admin_secret_file"
        )]
        admin_pubkey: Option<PathBuf>,
        /// Or a secret (HS_SECKEY) for the identity, from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "admin_pubkey")]
        admin_secret_file: Option<PathBuf>,
    },
    /// Import records from a CSV or JSON Lines file into a stopped node's data directory,
    /// validating every row against a template; rejected rows go to a report.
    Import {
        #[command(flatten)]
        common: Common,
        /// The template, such as hazchem.product or hazchem.product@1.
        #[arg(long)]
        template: String,
        /// The prefix that suffix columns are appended to, such as 88.118.8.
        #[arg(long)]
        prefix: Option<String>,
        /// Give an item the same value in every row, as idType=value (repeatable).
        #[arg(long = "set", value_name = "ITEM=VALUE")]
        set: Vec<String>,
        /// Where to write the report of rejected rows.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// The input file (.csv, .jsonl or .ndjson).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Seed a data directory with a demo hazardous-chemicals node: an enterprise, its products
    /// from data/chemicals.csv, equipment, batches and shipments; then print what to try.
    Demo {
        #[command(flatten)]
        common: Common,
        /// The chemicals file (default data/chemicals.csv).
        #[arg(long, value_name = "FILE")]
        chemicals: Option<PathBuf>,
    },
    /// Make an identity key pair: the private key goes to FILE (PKCS#8 PEM, readable only by
    /// its owner), the HS_PUBKEY value to store in the identity's handle is printed as JSON.
    Keygen {
        /// The key type.
        #[arg(long, value_enum, default_value = "sm2")]
        algorithm: idnode::cli::keygen::KeyAlgorithm,
        /// The index of the printed HS_PUBKEY value.
        #[arg(long, default_value_t = 300)]
        index: u32,
        /// Where to write the private key; it must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify signed trace records offline: tlog-proof bundles (or bare record JWS) against a
    /// policy of log, witness and record keys. No network, no database.
    Verify {
        /// The policy: C2SP tlog-policy lines plus `record <vkey>` (see docs/traceability.md).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// An earlier checkpoint of the same log, to detect forks.
        #[arg(long, value_name = "FILE")]
        previous_checkpoint: Option<PathBuf>,
        /// The consistency proof between the earlier checkpoint and the bundles' one.
        #[arg(long, value_name = "FILE", requires = "previous_checkpoint")]
        consistency_proof: Option<PathBuf>,
        /// Print a line for every verified record.
        #[arg(short, long)]
        verbose: bool,
        /// Record files: `.tlog-proof` bundles or compact JWS.
        #[arg(required = true, value_name = "RECORD_OR_BUNDLE")]
        inputs: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The data directory (default ./idnode-data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A TOML configuration file; flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(data) = &self.data {
            config.data = data.clone();
        }
        Ok(config)
    }
}

/// A listen address or `off`.
#[derive(Debug, Clone, Copy)]
struct Listen(Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        s.parse()
            .map(|a| Self(Some(a)))
            .map_err(|e| format!("{s:?} is not an address like 127.0.0.1:8000: {e}"))
    }
}

/// Runs `idnode verify`; fails when any input fails.
fn verify(
    policy: &Path,
    previous_checkpoint: Option<&Path>,
    consistency_proof: Option<&Path>,
    verbose: bool,
    inputs: &[PathBuf],
) -> anyhow::Result<()> {
    use idnode::cli::verify::{Policy, Previous};
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let text = String::from_utf8(read(policy)?)
        .with_context(|| format!("{} is not UTF-8", policy.display()))?;
    let policy = Policy::parse(&text)
        .map_err(|e| anyhow::anyhow!("invalid policy {}: {e}", policy.display()))?;
    let previous = match previous_checkpoint {
        Some(path) => Some(Previous {
            note: read(path)?,
            proof: consistency_proof.map(read).transpose()?,
        }),
        None => None,
    };
    let inputs = inputs
        .iter()
        .map(|path| Ok((path.display().to_string(), read(path)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = idnode::cli::verify::verify(&policy, &inputs, previous.as_ref());
    if verbose {
        for ok in &report.verified {
            let position = ok
                .position
                .map(|(index, size)| format!(" leaf {index} of {size}"))
                .unwrap_or_default();
            println!(
                "ok {}: record {} subject {}{position} witnesses [{}]",
                ok.name,
                ok.digest,
                ok.subject,
                ok.witnesses.join(", ")
            );
        }
    }
    for (name, message) in &report.failures {
        eprintln!("FAIL {name}: {message}");
    }
    if report.failures.is_empty() {
        println!("verified {} records", report.verified.len());
        Ok(())
    } else {
        anyhow::bail!(
            "{} failures; {} of {} records verified",
            report.failures.len(),
            report.verified.len(),
            inputs.len()
        )
    }
}

/// Prints what an import did.
fn print_import(summary: &idnode::cli::import::ImportSummary) {
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    println!(
        "{} rows in {:.1} s ({:.0} rows/s): {} created, {} updated, {} unchanged, {} rejected",
        summary.rows,
        secs,
        summary.rows as f64 / secs,
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.rejected
    );
    println!("report of rejected rows: {}", summary.report.display());
}

/// `serve`'s default native address when the configuration names none.
fn default_native_listen(config: &mut Config) {
    if config.native.listen.is_none() {
        let (ip, port) = idnode::config::native::DEFAULT_LISTEN;
        config.native.listen = Some(idnode::config::native::Listen(Some(SocketAddr::from((
            ip, port,
        )))));
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Verify {
        policy,
        previous_checkpoint,
        consistency_proof,
        verbose,
        inputs,
    } = &cli.command
    {
        return verify(
            policy,
            previous_checkpoint.as_deref(),
            consistency_proof.as_deref(),
            *verbose,
            inputs,
        );
    }
    if let Command::Keygen {
        algorithm,
        index,
        out,
    } = &cli.command
    {
        let value = idnode::cli::keygen::run(*algorithm, out, *index)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        eprintln!("private key written to {}", out.display());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work (PBKDF2, signing captures, the index) queues beyond this many threads
        // rather than growing the process without bound.
        .max_blocking_threads(64)
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve {
                common,
                http,
                https,
                handle,
            } => {
                let mut config = common.load()?;
                if let Some(Listen(addr)) = http {
                    config.http.listen = addr;
                }
                if let Some(Listen(addr)) = https {
                    config.https.listen = addr;
                }
                match handle {
                    Some(Listen(addr)) => {
                        config.native.listen = Some(idnode::config::native::Listen(addr));
                    }
                    None => default_native_listen(&mut config),
                }
                idnode::server::run(config).await
            }
            Command::Init {
                common,
                prefix,
                admin_secret_file,
            } => {
                // The prefix handle's site information is what `serve` with the same
                // configuration publishes.
                let mut config = common.load()?;
                default_native_listen(&mut config);
                let done =
                    idnode::cli::init::run(config, &prefix, admin_secret_file.as_deref()).await?;
                println!(
                    "initialised prefix {prefix} with administrator {}",
                    done.admin
                );
                match done.secret_file {
                    Some(path) => println!(
                        "the administrator's secret was written to {}",
                        path.display()
                    ),
                    None => println!("the administrator's secret is the one given"),
                }
                Ok(())
            }
            Command::Delegate {
                common,
                prefix,
                site,
                admin_pubkey,
                admin_secret_file,
            } => {
                let config = common.load()?;
                let site = idnode::cli::delegate::read_site(&site)?;
                let key = match (admin_pubkey, admin_secret_file) {
                    (Some(path), _) => idnode::cli::delegate::IdentityKey::Public(
                        idnode::cli::delegate::read_public_key(&path)?,
                    ),
                    (None, Some(path)) => idnode::cli::delegate::IdentityKey::Secret(
                        idnode::cli::read_secret_file(&path)?,
                    ),
                    (None, None) => {
                        anyhow::bail!("--admin-pubkey or --admin-secret-file is needed")
                    }
                };
                let done = idnode::cli::delegate::run(config, &prefix, site, key).await?;
                println!(
                    "delegated {prefix}: {} names the secondary, administered by {}",
                    done.prefix_handle, done.identity
                );
                Ok(())
            }
            Command::Import {
                common,
                template,
                prefix,
                set,
                report,
                file,
            } => {
                let config = common.load()?;
                let set = set
                    .iter()
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .with_context(|| format!("--set {pair}: expected ITEM=VALUE"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let options = idnode::cli::import::ImportOptions {
                    template,
                    prefix,
                    file,
                    set,
                    report,
                    progress: true,
                };
                let summary = idnode::cli::import::run(config, &options).await?;
                print_import(&summary);
                Ok(())
            }
            Command::Demo { common, chemicals } => {
                let config = common.load()?;
                let chemicals = chemicals.unwrap_or_else(|| PathBuf::from("data/chemicals.csv"));
                let seeded = idnode::cli::demo::run(config, &chemicals, true).await?;
                print_import(&seeded.products);
                println!(
                    "\nThe demo node is ready ({}).\n",
                    seeded.config_file.display()
                );
                println!("{}", seeded.instructions);
                Ok(())
            }
            Command::Verify { .. } | Command::Keygen { .. } => Ok(()),
        }
    })
}
