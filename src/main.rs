//! `volcano`: one binary, one subcommand per job. CLI wiring only; the work lives in the
//! `volcano-pipeline` (stages) and `volcano-connectors` (Kafka, Avro, config) crates, and in
//! [`stack`] for the embedded development stack.

mod registry_cli;
mod stack;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::sync::watch;
use tracing::info;
use volcano_connectors::config::VolcanoConfig;
use volcano_connectors::durable::{Control, Durable};
use volcano_connectors::{client, instance, metrics};
use volcano_pipeline::model::{Request, RequestResult};

/// mimalloc rather than glibc's malloc: parsing definition files and serving requests make
/// many small short-lived allocations (see the replay bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "volcano",
    version,
    about = "A streaming request-processing pipeline whose behaviour lives in git"
)]
struct Cli {
    /// Config file (TOML); default ./volcano.toml if present. The environment overrides it
    /// (VOLCANO_<SECTION>__<KEY>, KAFKA_BROKERS, TEMPORAL_ADDRESS): `volcano config show`.
    #[arg(long, global = true, env = "VOLCANO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print every setting as `key = value  # where it came from` (default, file, env
    /// variable, secret file), secrets redacted
    Show,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline: consume requests, answer them, produce results and dead letters;
    /// and the Temporal worker of the durable path
    Run {
        /// Roles of this process (repeatable): pipeline (with its registry), worker, ingress
        /// (the REST API on `ingress.addr`)
        #[arg(long = "role", value_enum, default_values_t = [Role::Pipeline, Role::Worker, Role::Ingress])]
        roles: Vec<Role>,
    },
    /// The effective configuration
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Durable workflows on Temporal: list them, show one's status, signal one
    Workflow {
        #[command(subcommand)]
        action: WorkflowAction,
    },
    /// Send one request through Kafka and print its result as JSON
    Send {
        /// The request text, e.g. "Calculate 42 + 58"
        text: String,
        /// Tenant whose registry serves the request
        #[arg(long, default_value = "main")]
        tenant: String,
        /// Session id, so later requests can refer to this answer ("multiply that by 2")
        #[arg(long)]
        session: Option<String>,
        /// Request id (default: a new UUIDv7)
        #[arg(long)]
        id: Option<String>,
        /// How long to wait for the result, in seconds
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// For a durable request, wait for its final result instead of `accepted`
        #[arg(long = "final")]
        final_result: bool,
    },
    /// Extract entities (Duckling's dimensions and value shapes) from one text per stdin line
    Extract {
        /// Reference time for relative times ("tomorrow at 3pm"), RFC 3339; default now
        #[arg(long)]
        ref_time: Option<String>,
        /// Time zone name for resolving times, e.g. Europe/Berlin
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Only these dimensions, comma-separated (e.g. number,distance,time)
        #[arg(long, value_delimiter = ',')]
        dims: Option<Vec<String>>,
    },
    /// Manage the embedded development stack (broker, Temporal dev server, pipeline)
    Stack {
        #[command(subcommand)]
        action: StackAction,
    },
    /// The config repository (git): create it from example content
    Repo {
        #[command(subcommand)]
        action: RepoAction,
    },
    /// Check definition files as a commit would be checked; prints path:line:col per problem
    Validate {
        /// Example content (main/, customer/<tenant>/) or one branch's work tree
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// Rebuild the registry state from scratch into its own directory and print its hash
    Replay {
        /// Where the events come from
        #[arg(long, value_enum)]
        from: ReplayFrom,
        /// The repository, for --from git (default: registry.repo)
        path: Option<PathBuf>,
        /// Directory of the rebuilt state (default: <stack.data_dir>/registry-replay)
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Inspect a registry state (the live one by default)
    Registry {
        #[command(subcommand)]
        action: RegistryAction,
        /// The state's directory (default: registry.data_dir)
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    Pipeline,
    Worker,
    Ingress,
}

#[derive(Subcommand)]
enum WorkflowAction {
    /// The newest workflows, newest first
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One workflow's progress: phase, current step, attempts, outputs, what it waits for
    Status { id: String },
    /// Send pause, resume, cancel, approve or reject
    Signal {
        id: String,
        #[arg(value_parser = ["pause", "resume", "cancel", "approve", "reject"])]
        signal: String,
        /// The wait an approve or reject answers (e.g. approval); default the current one
        #[arg(long)]
        wait: Option<String>,
        /// Who decides, recorded with an approve or reject
        #[arg(long, default_value = "")]
        by: String,
        /// A note with the decision, or a cancel's reason
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum RepoAction {
    /// Turn example content into a git repository, one branch per directory
    Init {
        /// The repository to create (default: registry.repo)
        dir: Option<PathBuf>,
        /// The content (default: stack.config_repo, i.e. repos/)
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReplayFrom {
    /// The commits topic from offset 0
    Kafka,
    /// Every branch's history in the repository
    Git,
}

#[derive(Subcommand)]
enum RegistryAction {
    /// Content hash of the served state (equal states, equal hashes)
    Hash,
    /// What a tenant sees, with the branch and commit of each entry
    Show {
        #[arg(long, default_value = "main")]
        tenant: String,
    },
    /// Applied, rejected and deleting commits (who, when, paths, result, reason), as JSON lines
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum StackAction {
    /// Install what is missing and start every part, waiting until each is healthy
    Up {
        /// Start the broker and Temporal only (tests run their own pipelines)
        #[arg(long)]
        no_pipeline: bool,
    },
    /// Stop exactly the processes `stack up` started
    Down,
    /// Print each part's address and health, and the config repository in use
    Status,
}

fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with causes), not a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Command::Config {
        action: ConfigAction::Show,
    } = cli.command
    {
        let layers = volcano_connectors::config_source::load(cli.config.as_deref())?;
        print!("{}", layers.show());
        return Ok(());
    }
    let config = VolcanoConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config { .. } => unreachable!("handled above"),
        Command::Run { roles } => {
            let roles = instance::Roles {
                pipeline: roles.contains(&Role::Pipeline),
                worker: roles.contains(&Role::Worker),
                ingress: roles.contains(&Role::Ingress),
            };
            runtime()?.block_on(run(config, roles))
        }
        Command::Workflow { action } => runtime()?.block_on(workflow(&config, action)),
        Command::Repo {
            action: RepoAction::Init { dir, from },
        } => registry_cli::repo_init(&config, dir, from),
        Command::Validate { path } => registry_cli::validate(&config, &path),
        Command::Replay {
            from,
            path,
            data_dir,
        } => {
            let source = match from {
                ReplayFrom::Kafka => registry_cli::ReplaySource::Kafka,
                ReplayFrom::Git => {
                    registry_cli::ReplaySource::Git(path.unwrap_or_else(|| config.registry_repo()))
                }
            };
            let dir = data_dir.unwrap_or_else(|| registry_cli::default_replay_dir(&config));
            registry_cli::replay(&config, source, dir)
        }
        Command::Registry { action, data_dir } => {
            let dir = data_dir.unwrap_or_else(|| config.registry_data_dir());
            match action {
                RegistryAction::Hash => registry_cli::hash(&dir),
                RegistryAction::Show { tenant } => registry_cli::show(&config, &dir, &tenant),
                RegistryAction::Audit { limit } => registry_cli::audit(&dir, limit),
            }
        }
        Command::Send {
            text,
            tenant,
            session,
            id,
            timeout,
            final_result,
        } => {
            let request = Request {
                id: id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                tenant,
                session_id: session,
                text,
                submitted_at: chrono::Utc::now().timestamp_millis(),
                reply_topic: None,
                headers: Default::default(),
            };
            let result = runtime()?.block_on(client::send(
                &config,
                &request,
                Duration::from_secs_f64(timeout),
                final_result,
            ))?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &result_json(&result))?;
            writeln!(out)?;
            Ok(())
        }
        Command::Extract { ref_time, tz, dims } => extract_lines(ref_time, &tz, dims),
        Command::Stack { action } => {
            let stack = stack::Stack::new(config, cli.config)?;
            match action {
                StackAction::Up { no_pipeline } => stack.up(!no_pipeline),
                StackAction::Down => stack.down(),
                StackAction::Status => {
                    if !stack.status()? {
                        std::process::exit(1);
                    }
                    Ok(())
                }
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

/// Runs the pipeline role until SIGINT or SIGTERM, then drains.
async fn run(config: VolcanoConfig, roles: instance::Roles) -> Result<()> {
    info!("volcano run starting");
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        info!("shutdown requested");
        let _ = tx.send(true);
    });
    if !config.pipeline.metrics_addr.is_empty() {
        let addr = config.pipeline.metrics_addr.parse().with_context(|| {
            format!(
                "pipeline.metrics_addr {:?} is not host:port",
                config.pipeline.metrics_addr
            )
        })?;
        tokio::spawn(metrics::serve(addr, rx.clone()));
    }
    instance::run_with(&config, roles, rx, None).await?;
    Ok(())
}

/// `volcano workflow ...`: Temporal's view of the durable workflows, as JSON.
async fn workflow(config: &VolcanoConfig, action: WorkflowAction) -> Result<()> {
    let durable = Durable::connect(config).await?;
    let mut out = std::io::stdout().lock();
    match action {
        WorkflowAction::List { limit } => {
            for w in durable.list(limit).await? {
                serde_json::to_writer(&mut out, &w)?;
                writeln!(out)?;
            }
        }
        WorkflowAction::Status { id } => {
            let execution = durable.execution_status(&id).await?;
            let status = durable.status(&id).await?;
            let json = serde_json::json!({ "id": id, "execution": execution, "status": status });
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        WorkflowAction::Signal {
            id,
            signal,
            wait,
            by,
            note,
        } => {
            let control = Control::parse(&signal, wait, by, note)
                .with_context(|| format!("unknown signal {signal}"))?;
            durable.signal(&id, control).await?;
            writeln!(out, "sent {signal} to {id}")?;
        }
    }
    Ok(())
}

/// `volcano extract`: one JSON object per input line, `{"text": ..., "entities": [...]}`.
fn extract_lines(ref_time: Option<String>, tz: &str, dims: Option<Vec<String>>) -> Result<()> {
    use std::io::BufRead;
    use volcano_pipeline::extract::{self, Dimension, ExtractOptions};

    let tz: chrono_tz::Tz = tz.parse().map_err(|_| {
        anyhow::anyhow!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)")
    })?;
    let reference_time = match ref_time {
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .with_context(|| format!("--ref-time {t:?} is not RFC 3339"))?,
        None => chrono::Utc::now().with_timezone(&tz).fixed_offset(),
    };
    let dims = dims
        .map(|names| {
            names
                .iter()
                .map(|n| n.trim().parse::<Dimension>())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = ExtractOptions {
        reference_time,
        tz,
        dims,
    };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let text = line.context("reading stdin (is it UTF-8?)")?;
        let entities = extract::extract(&text, &opts);
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "text": text, "entities": entities }),
        )?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

/// The result as JSON for people: status in lower case, a numeric value as a JSON number when
/// that loses nothing.
fn result_json(result: &RequestResult) -> serde_json::Value {
    let mut v = serde_json::to_value(result).expect("results serialize");
    v["status"] = result.status.as_str().into();
    if let Some(value) = &result.value
        && let Ok(n) = value.parse::<serde_json::Number>()
        && n.to_string() == *value
    {
        v["value"] = serde_json::Value::Number(n);
    }
    v
}
