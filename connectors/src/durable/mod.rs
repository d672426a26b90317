//! The durable path on Temporal: starting workflows from the pipeline, the worker that runs
//! them, and their control (signals, status, list).
//!
//! - [`workflow`]: the generic workflow that interprets a workflow definition, and its
//!   activities (run a step's tool, publish the final result).
//! - [`Durable`]: a connected client. [`Durable::start`] starts a request's workflow with
//!   workflow id = request id, idempotently: a redelivered request finds its workflow (running
//!   or closed) and starts no second one, so the pipeline may store the offset afterwards.
//! - [`run_worker`]: the `worker` role, polling the configured task queues until shutdown.
//!
//! The pure half (the job a workflow carries, input mapping, conditions, the final result)
//! lives in `volcano_pipeline::durable`.

pub mod workflow;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::errors::{WorkflowInteractionError, WorkflowQueryError, WorkflowStartError};
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url,
    WorkflowDescribeOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowListOptions,
    WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::watch;
use tracing::{info, warn};
use volcano_pipeline::durable::DurableJob;
use volcano_pipeline::registry::RegistryHandle;
use volcano_pipeline::tools::ToolServices;

use crate::config::VolcanoConfig;
use crate::faults::{self, Fault};
use crate::kafka;
pub use workflow::{Decision, DurableWorkflow, StepActivities, WorkflowStatus};

/// What went wrong talking to Temporal.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    #[error("cannot reach Temporal at {address}: {message}")]
    Connect { address: String, message: String },
    #[error("starting workflow {id}: {message}")]
    Start { id: String, message: String },
    /// Temporal refused the start for good (see [`crate::faults::of_start`]): retrying the
    /// same start cannot succeed.
    #[error("Temporal refused workflow {id}: {message}")]
    Refused { id: String, message: String },
    #[error("no workflow {0}")]
    NotFound(String),
    #[error("workflow {id}: {message}")]
    Interaction { id: String, message: String },
    #[error("the worker stopped: {0}")]
    Worker(String),
}

/// A client of the configured Temporal namespace.
#[derive(Clone)]
pub struct Durable {
    client: Client,
    config: crate::config::TemporalConfig,
}

/// How a start went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// This call started the workflow.
    New,
    /// A workflow with this id exists already (a redelivered request).
    Existing,
}

/// One line of `volcano workflow list`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowSummary {
    pub id: String,
    pub status: String,
    pub workflow_type: String,
    pub started: Option<String>,
    pub closed: Option<String>,
}

/// One control signal, as the CLI and the REST API name them.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Pause,
    Resume,
    Cancel(String),
    Approve(Decision),
    Reject(Decision),
}

impl Control {
    /// `pause`, `resume`, `cancel`, `approve` or `reject`.
    pub fn parse(
        name: &str,
        wait: Option<String>,
        by: String,
        note: Option<String>,
    ) -> Option<Self> {
        let decision = || Decision {
            wait,
            by,
            note: note.clone(),
        };
        Some(match name {
            "pause" => Control::Pause,
            "resume" => Control::Resume,
            "cancel" => Control::Cancel(note.clone().unwrap_or_default()),
            "approve" => Control::Approve(decision()),
            "reject" => Control::Reject(decision()),
            _ => return None,
        })
    }
}

/// How to reach Temporal, and the namespace.
///
/// The embedded dev server: plain, by its port. An external one like any Temporal client:
/// `temporal.*` from `volcano.toml` (or `VOLCANO_TEMPORAL__*`) where set, else what the
/// Temporal CLI would use, its `TEMPORAL_*` environment and profile file, read with the
/// SDK's own loader (`ClientOptions::load_from_config`): TLS, mTLS, an API key (which turns
/// TLS on), the namespace. The worker's identity is `pid@host`, as the CLI and SDKs name
/// theirs.
pub fn connection_options(config: &VolcanoConfig) -> Result<(ConnectionOptions, String), String> {
    let temporal = &config.temporal;
    let external = config.temporal_is_external();
    let profile = external
        .then(|| ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()))
        .transpose()
        .map_err(|e| format!("the Temporal CLI's profile or TEMPORAL_* environment: {e}"))?;
    let (profile_options, profile_client) = profile.unzip();
    let api_key = Some(temporal.api_key.clone())
        .filter(|k| !k.is_empty())
        .or_else(|| profile_options.as_ref().and_then(|p| p.api_key.clone()));
    let tls = match (&temporal.tls, external) {
        (tls, true) if tls.wanted() => Some(tls_options(tls)?),
        (_, true) => profile_options
            .as_ref()
            .and_then(|p| p.tls_options.clone())
            .or_else(|| api_key.as_ref().map(|_| TlsOptions::default())),
        (_, false) => None,
    };
    let address = config.temporal_address();
    let url = match address.contains("://") {
        true => address.clone(),
        false if tls.is_some() => format!("https://{address}"),
        false => format!("http://{address}"),
    };
    let url = Url::parse(&url).map_err(|e| format!("address {address}: {e}"))?;
    let mut options = ConnectionOptions::new(url).identity(identity()).build();
    options.tls_options = tls;
    options.api_key = api_key;
    let namespace = match (&profile_client, temporal.namespace.as_str()) {
        // Volcano's default, where the CLI's profile names another.
        (Some(profile), "default") => profile.namespace.clone(),
        _ => temporal.namespace.clone(),
    };
    Ok((options, namespace))
}

fn tls_options(tls: &crate::config::TemporalTls) -> Result<TlsOptions, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let client = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => Some(
            ClientTlsOptions::builder()
                .client_cert(read(cert)?)
                .client_private_key(read(key)?)
                .build(),
        ),
        (None, None) => None,
        _ => return Err("temporal.tls: client_cert_file and client_key_file go together".into()),
    };
    Ok(TlsOptions::builder()
        .maybe_server_root_ca_cert(tls.server_ca_file.as_deref().map(read).transpose()?)
        .maybe_domain(tls.server_name.clone())
        .maybe_client_tls_options(client)
        .build())
}

/// `pid@host`, as Temporal's CLI and SDKs name a client.
fn identity() -> String {
    format!("{}@{}", std::process::id(), crate::kafka::host_name())
}

impl Durable {
    /// Connects to the configured Temporal: see [`connection_options`].
    pub async fn connect(config: &VolcanoConfig) -> Result<Durable, DurableError> {
        let address = config.temporal_address();
        let failed = |message: String| DurableError::Connect {
            address: address.clone(),
            message,
        };
        let (options, namespace) = connection_options(config).map_err(failed)?;
        let connection = Connection::connect(options)
            .await
            .map_err(|e| failed(format!("{e:#}")))?;
        let client = Client::new(connection, ClientOptions::new(namespace).build())
            .map_err(|e| failed(e.to_string()))?;
        Ok(Durable {
            client,
            config: config.temporal.clone(),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Starts the job's workflow with id = request id on the tenant's task queue. A second
    /// start of the same id, running or closed, starts nothing and reports [`Started::Existing`].
    pub async fn start(&self, job: DurableJob) -> Result<Started, DurableError> {
        let id = job.request.id.clone();
        let queue = self.config.queue_for(&job.request.tenant);
        // Eager when a worker of this process polls the queue on the same client (see
        // [`SharedClient`]); an ordinary start otherwise.
        let options = WorkflowStartOptions::new(queue, id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .enable_eager_workflow_start(true)
            .build();
        let timeout = Duration::from_millis(self.config.start_timeout_ms.max(1));
        let started = tokio::time::timeout(
            timeout,
            self.client
                .start_workflow(DurableWorkflow::run, job, options),
        )
        .await
        .map_err(|_| DurableError::Start {
            id: id.clone(),
            message: format!("Temporal did not answer within {timeout:?}"),
        })?;
        match started {
            Ok(_) => Ok(Started::New),
            Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(Started::Existing),
            Err(e) if faults::of_start(&e) == Fault::Permanent => Err(DurableError::Refused {
                id,
                message: e.to_string(),
            }),
            Err(e) => Err(DurableError::Start {
                id,
                message: e.to_string(),
            }),
        }
    }

    /// The run's progress, from its `status` query.
    pub async fn status(&self, id: &str) -> Result<WorkflowStatus, DurableError> {
        let handle = self.client.get_workflow_handle::<DurableWorkflow>(id);
        handle
            .query(DurableWorkflow::status, (), WorkflowQueryOptions::default())
            .await
            .map_err(|e| match e {
                WorkflowQueryError::NotFound(_) => DurableError::NotFound(id.to_string()),
                other => DurableError::Interaction {
                    id: id.to_string(),
                    message: other.to_string(),
                },
            })
    }

    /// Temporal's own view of the run: `Running`, `Completed`, ...
    pub async fn execution_status(&self, id: &str) -> Result<String, DurableError> {
        let handle = self.client.get_workflow_handle::<DurableWorkflow>(id);
        let described = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .map_err(|e| interaction(id, e))?;
        Ok(format!("{:?}", described.status()))
    }

    pub async fn signal(&self, id: &str, control: Control) -> Result<(), DurableError> {
        let handle = self.client.get_workflow_handle::<DurableWorkflow>(id);
        let options = WorkflowSignalOptions::default;
        let sent = match control {
            Control::Pause => handle.signal(DurableWorkflow::pause, (), options()).await,
            Control::Resume => handle.signal(DurableWorkflow::resume, (), options()).await,
            Control::Cancel(reason) => {
                handle
                    .signal(DurableWorkflow::cancel, reason, options())
                    .await
            }
            Control::Approve(d) => handle.signal(DurableWorkflow::approve, d, options()).await,
            Control::Reject(d) => handle.signal(DurableWorkflow::reject, d, options()).await,
        };
        sent.map_err(|e| interaction(id, e))
    }

    /// The newest `limit` Volcano workflows, newest first.
    pub async fn list(&self, limit: usize) -> Result<Vec<WorkflowSummary>, DurableError> {
        let mut stream = self.client.list_workflows(
            "WorkflowType = 'DurableWorkflow'",
            WorkflowListOptions::builder().limit(limit).build(),
        );
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            let w = item.map_err(|e| DurableError::Interaction {
                id: "*".into(),
                message: e.to_string(),
            })?;
            let time = |t: Option<std::time::SystemTime>| {
                t.map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
            };
            out.push(WorkflowSummary {
                id: w.id().to_string(),
                status: format!("{:?}", w.status()),
                workflow_type: w.workflow_type().to_string(),
                started: time(w.start_time()),
                closed: time(w.close_time()),
            });
        }
        Ok(out)
    }
}

/// A Temporal client connected on first use and shared by the pipeline's [`Starter`] and the
/// worker of one process. Sharing it is what makes starts eager: the SDK reserves a workflow
/// task slot of a worker registered on the same client, and the server hands the workflow's
/// first task back with the start, with no trip through its task queue (measured with the
/// bare SDK in `benches/durable.rs`: 39 → 56 four-step workflows per second). With no such
/// worker the start is an ordinary one.
///
/// The connection's background tasks (gRPC channel, HTTP/2 driver) live on the runtime the
/// client was created on, whoever asks first: the worker asks from its own thread's runtime,
/// which stops with the worker at shutdown, while the pipeline may still be draining its
/// starts. So the connection is made on the runtime that created the `SharedClient` (the
/// process's main one), which outlives both.
#[derive(Clone)]
pub struct SharedClient {
    client: Arc<tokio::sync::OnceCell<Durable>>,
    home: Option<tokio::runtime::Handle>,
}

impl Default for SharedClient {
    /// A client whose connection will live on the current tokio runtime, if there is one.
    fn default() -> Self {
        SharedClient {
            client: Arc::default(),
            home: tokio::runtime::Handle::try_current().ok(),
        }
    }
}

impl SharedClient {
    /// The connected client; connects (again, after a failure) when there is none yet.
    pub async fn get(&self, config: &VolcanoConfig) -> Result<&Durable, DurableError> {
        self.client
            .get_or_try_init(|| async {
                let current = tokio::runtime::Handle::try_current().ok();
                match &self.home {
                    Some(home) if current.is_none_or(|c| c.id() != home.id()) => {
                        let (config, address) = (config.clone(), config.temporal_address());
                        home.spawn(async move { Durable::connect(&config).await })
                            .await
                            .map_err(|e| DurableError::Connect {
                                address,
                                message: format!("the connecting task failed: {e}"),
                            })?
                    }
                    _ => Durable::connect(config).await,
                }
            })
            .await
    }

    /// Whether a connection was made (by either sharer).
    pub fn connected(&self) -> bool {
        self.client.initialized()
    }
}

/// Starts workflows for the pipeline role, connecting on first use so that a Temporal outage
/// delays durable requests only (fast ones go on) and a restart of Temporal is survived.
#[derive(Clone)]
pub struct Starter {
    config: VolcanoConfig,
    client: SharedClient,
}

impl Starter {
    /// A starter with a client of its own.
    pub fn new(config: &VolcanoConfig) -> Self {
        Starter::sharing(config, SharedClient::default())
    }

    /// A starter on `client`, which the worker of this process shares (eager starts).
    pub fn sharing(config: &VolcanoConfig, client: SharedClient) -> Self {
        Starter {
            config: config.clone(),
            client,
        }
    }

    pub async fn start(&self, job: DurableJob) -> Result<Started, DurableError> {
        self.client.get(&self.config).await?.start(job).await
    }
}

fn interaction(id: &str, e: WorkflowInteractionError) -> DurableError {
    match e {
        WorkflowInteractionError::NotFound(_) => DurableError::NotFound(id.to_string()),
        other => DurableError::Interaction {
            id: id.to_string(),
            message: other.to_string(),
        },
    }
}

/// [`run_worker`] on a thread of its own with its own tokio runtime: the SDK's worker future
/// is not `Send`, so it cannot be a task of a multi-threaded runtime.
pub fn spawn_worker(
    config: &VolcanoConfig,
    services: ToolServices,
    registry: Option<RegistryHandle>,
    shutdown: watch::Receiver<bool>,
    client: SharedClient,
) -> std::io::Result<std::thread::JoinHandle<Result<(), DurableError>>> {
    let config = config.clone();
    std::thread::Builder::new()
        .name("volcano-worker".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("volcano-worker")
                .enable_all()
                .build()
                .map_err(|e| DurableError::Worker(e.to_string()))?;
            runtime.block_on(run_worker(&config, services, registry, shutdown, client))
        })
}

/// The `worker` role: runs the durable workflows and their steps on the configured task
/// queues until `shutdown` turns true. `registry`, when this process keeps one, lets results
/// name the tenant's current commit. The worker registers on `client`: a [`Starter`] sharing
/// it starts workflows eagerly.
pub async fn run_worker(
    config: &VolcanoConfig,
    services: ToolServices,
    registry: Option<RegistryHandle>,
    mut shutdown: watch::Receiver<bool>,
    client: SharedClient,
) -> Result<(), DurableError> {
    // Temporal may come up after us (or restart): keep trying until it answers.
    let mut backoff = Duration::from_millis(200);
    let durable = loop {
        match client.get(config).await {
            Ok(d) => break d,
            Err(e) => {
                if *shutdown.borrow() {
                    return Ok(());
                }
                warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "worker cannot reach Temporal yet");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| DurableError::Worker(e.to_string()))?;
    let producer =
        kafka::stream_producer(config).map_err(|e| DurableError::Worker(e.to_string()))?;
    let mut workers = Vec::new();
    for queue in config.temporal.worker_queues() {
        let activities = StepActivities::new(
            services.clone(),
            producer.clone(),
            config.kafka.topics.results.clone(),
            registry.clone(),
        );
        let options = WorkerOptions::new(queue.clone())
            .register_workflow::<DurableWorkflow>()
            .map_err(|e| DurableError::Worker(e.to_string()))?
            .register_activities(activities)
            .build();
        let worker = Worker::new(&runtime, durable.client().clone(), options)
            .map_err(|e| DurableError::Worker(e.to_string()))?;
        info!(task_queue = %queue, address = %config.temporal_address(), "worker polling");
        workers.push(worker);
    }
    let mut running = Vec::new();
    let mut shutdowns = Vec::new();
    for mut worker in workers {
        shutdowns.push(worker.shutdown_handle());
        running.push(async move { worker.run().await });
    }
    let all = futures::future::join_all(running);
    tokio::pin!(all);
    tokio::select! {
        results = &mut all => {
            for r in results {
                r.map_err(|e| DurableError::Worker(e.to_string()))?;
            }
            return Ok(());
        }
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
    // Graceful: stop polling, let running steps finish (Temporal retries any that do not).
    for stop in shutdowns {
        stop();
    }
    for r in all.await {
        if let Err(e) = r {
            warn!(error = %e, "worker stopped with an error");
        }
    }
    info!("worker stopped");
    Ok(())
}
