//! One Volcano instance, as `volcano run` starts it: the watcher (when this instance watches
//! the config repository), the materializer that keeps this instance's registry, the
//! pipeline loop that answers requests from it, the REST ingress, and the Temporal worker of
//! the durable path. [`Roles`] picks which run; the pipeline and the ingress share one
//! registry (the ingress reads API keys, limits and quotas from it); a worker-only process
//! keeps no registry (its workflows carry their definitions).
//!
//! Start-up order matters: the watcher's first pass publishes every commit already in the
//! repository, the materializer catches up to the end of the commits topic, and only then
//! does the pipeline consume a request, so no request is answered by a registry older than
//! the repository was at start. Shutdown runs the other way: the pipeline drains, then the
//! materializer and the watcher stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow};
use tokio::sync::{oneshot, watch};
use tracing::info;
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::registry::RegistryHandle;
use volcano_pipeline::tools::ToolServices;

use crate::config::VolcanoConfig;
use crate::git_registry::{self, Materializer};
use crate::http_client::UreqHttpClient;
use crate::{durable, kafka, pipeline_role};

/// Which parts of Volcano this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Consume requests and answer them (with the watcher and materializer it needs).
    pub pipeline: bool,
    /// Run durable workflows and their steps on Temporal.
    pub worker: bool,
    /// Serve the REST API on `ingress.addr` (with the watcher and materializer it needs).
    pub ingress: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        pipeline: true,
        worker: true,
        ingress: true,
    };
}

/// Runs every role until `shutdown` turns true, then drains and returns.
pub async fn run(config: &VolcanoConfig, shutdown: watch::Receiver<bool>) -> Result<()> {
    run_with(config, Roles::ALL, shutdown, None).await
}

/// [`run`] with the given roles, handing the registry the pipeline serves to `registry` once
/// it has caught up (an embedding program or a bench watches its swaps through it).
pub async fn run_with(
    config: &VolcanoConfig,
    roles: Roles,
    shutdown: watch::Receiver<bool>,
    registry: Option<oneshot::Sender<RegistryHandle>>,
) -> Result<()> {
    // `http` tools reach the network through one shared client (allow-listed hosts only).
    let services = ToolServices {
        http: Some(Arc::new(UreqHttpClient::new())),
    };
    let ingress = roles.ingress && !config.ingress.addr.trim().is_empty();
    let names: Vec<&str> = [
        (roles.pipeline, "pipeline"),
        (roles.worker, "worker"),
        (ingress, "ingress"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    kafka::set_roles(&names.join("+"));
    if !roles.pipeline && !ingress {
        if roles.worker {
            let worker =
                durable::spawn_worker(config, services, None, shutdown, Default::default())?;
            tokio::task::spawn_blocking(move || worker.join())
                .await?
                .map_err(|_| anyhow!("the worker thread panicked"))??;
        }
        return Ok(());
    }
    kafka::ensure_topics(config, &config.kafka.topics.all()).await?;
    let mut watcher = None;
    let mut handed_over = None;
    if config.registry.watch {
        let repo = git_registry::ensure_repo(config)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let (local_tx, local_rx) = git_registry::local_commits();
        handed_over = Some(local_rx);
        let task = tokio::spawn(git_registry::run_watcher(
            config.clone(),
            shutdown.clone(),
            Some(ready_tx),
            Some(local_tx),
        ));
        match ready_rx.await {
            Ok(published) => info!(repo = %repo.display(), published, "watcher up to date"),
            Err(_) => {
                let error = match task.await {
                    Ok(Err(e)) => anyhow::Error::new(e),
                    Ok(Ok(())) => anyhow!("the watcher stopped before its first pass"),
                    Err(e) => anyhow::Error::new(e),
                };
                return Err(error.context("watching the config repository"));
            }
        }
        watcher = Some(task);
    }
    let start_config = config.clone();
    let worker_services = services.clone();
    let materializer =
        tokio::task::spawn_blocking(move || Materializer::start(&start_config, services))
            .await?
            .context("materializing the registry")?;
    if let Some(tx) = registry {
        let _ = tx.send(materializer.handle());
    }
    let registry = materializer.handle();
    let stop = Arc::new(AtomicBool::new(false));
    // Commits of this process's watcher are handed over at once; only commits published
    // elsewhere need the consumer to be prompt.
    let fetch_wait = match (roles.pipeline || roles.worker) && handed_over.is_none() {
        true => git_registry::FOLLOW_FETCH_WAIT,
        false => git_registry::FOLLOW_FETCH_WAIT_RELAXED,
    };
    let follower = materializer.follow(stop.clone(), fetch_wait, handed_over);
    // The pipeline's starter and the worker share one Temporal client: starts are eager.
    let temporal = durable::SharedClient::default();
    let worker = match roles.worker {
        true => Some(durable::spawn_worker(
            config,
            worker_services,
            Some(registry.clone()),
            shutdown.clone(),
            temporal.clone(),
        )?),
        false => None,
    };
    // A pipeline in this process hands its results to the ingress: one broker hop less.
    let (results_tx, results_rx) = match ingress && roles.pipeline {
        true => {
            let (tx, rx) = crate::ingress::local_results();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let api = match ingress {
        true => Some(tokio::spawn({
            let (config, registry, shutdown) = (config.clone(), registry.clone(), shutdown.clone());
            async move { crate::ingress::serve(&config, registry, shutdown, results_rx).await }
        })),
        false => None,
    };
    let outcome = match roles.pipeline {
        true => {
            let fast_path = FastPath::new(registry, config.pipeline.max_sessions);
            let starter = durable::Starter::sharing(config, temporal);
            pipeline_role::run(config, fast_path, starter, shutdown, results_tx).await
        }
        false => {
            let mut shutdown = shutdown;
            let _ = shutdown.wait_for(|s| *s).await;
            Ok(())
        }
    };
    let api_outcome = match api {
        Some(task) => task.await.map_err(anyhow::Error::new).and_then(|r| r),
        None => Ok(()),
    };
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || follower.join()).await;
    if let Some(task) = watcher {
        // It sees the same shutdown signal and returns within one wait slice.
        let _ = task.await;
    }
    if let Some(thread) = worker {
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the worker stopped with an error"),
            Ok(Err(_)) | Err(_) => tracing::warn!("the worker thread panicked"),
            Ok(Ok(Ok(()))) => {}
        }
    }
    outcome?;
    api_outcome.context("the REST ingress")?;
    Ok(())
}
