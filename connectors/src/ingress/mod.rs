//! The REST ingress role: how most clients meet Volcano.
//!
//! `POST /api/v1/execute` produces a `Request` to `volcano.requests` and waits for its
//! `Result` on `volcano.results`; `GET /api/v1/requests/{id}` reads stored results;
//! `/api/v1/workflows/...` queries and signals durable runs on Temporal. The ingress is
//! where tenants are kept apart: an API key (from the registry's security configs) names the
//! tenant, the request is served by that tenant's registry, and another tenant's results and
//! workflows answer 404.
//!
//! Modules: `api` (routes, bodies, the OpenAPI document), `auth` (API keys), `limits` (rate
//! limits and quotas), `results` (the results consumer and its RocksDB store), `error` (the
//! one error type and its JSON body). This module holds the shared state, the router with its
//! authentication and audit middleware, and `serve`.

mod api;
mod auth;
mod error;
mod limits;
mod results;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request as HttpRequest, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rdkafka::producer::FutureProducer;
use tokio::sync::{Mutex, watch};
use tracing::{info, warn};
use volcano_pipeline::model::{Request, RequestResult};
use volcano_pipeline::registry::RegistryHandle;

pub use api::ApiDoc;
pub use auth::{Caller, KeyRing};
pub use error::ApiError;
pub use results::{AcknowledgedResult, ResultFeed, ResultStore, ResultStoreError};

use crate::client;
use crate::config::VolcanoConfig;
use crate::durable::{Durable, DurableError};
use crate::kafka;
use crate::metrics::METRICS;

/// The state every API call shares.
pub struct Ingress {
    config: VolcanoConfig,
    registry: RegistryHandle,
    keys: KeyRing,
    admission: limits::Admission,
    results: Arc<ResultFeed>,
    producer: FutureProducer,
    temporal: Mutex<Option<Durable>>,
}

impl Ingress {
    /// Opens the result store and the producer. The result feed is started by [`serve`].
    pub fn new(config: &VolcanoConfig, registry: RegistryHandle) -> Result<Ingress> {
        let results = ResultFeed::open(config).context("opening the ingress result store")?;
        let mut cc = kafka::stream_producer_config(config);
        // librdkafka gives up on a record after this long, so a 503 means "not delivered".
        let timeout = config.ingress.produce_timeout_ms.max(1).to_string();
        kafka::set_default(&mut cc, "message.timeout.ms", &timeout);
        let producer = cc.create().context("creating the ingress producer")?;
        Ok(Ingress {
            config: config.clone(),
            keys: KeyRing::new(registry.clone()),
            registry,
            admission: limits::Admission::default(),
            results: Arc::new(results),
            producer,
            temporal: Mutex::new(None),
        })
    }

    /// Produces the request, keyed by session so one session stays in order; 503 when the
    /// broker does not take it in time.
    async fn produce(&self, request: &Request) -> Result<(), ApiError> {
        // librdkafka's own timeout ends the send first; this one only guards against a hang.
        let guard = Duration::from_millis(self.config.ingress.produce_timeout_ms + 1_000);
        let topic = &self.config.kafka.topics.requests;
        match tokio::time::timeout(
            guard,
            client::produce_request(&self.producer, topic, request),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                warn!(request_id = %request.id, error = %e, "the broker did not take a request");
                Err(ApiError::Unavailable("the broker"))
            }
            Err(_) => {
                warn!(request_id = %request.id, "producing a request timed out");
                Err(ApiError::Unavailable("the broker"))
            }
        }
    }

    /// The Temporal client, connected on first use (and again after a failed connect).
    async fn durable(&self) -> Result<Durable, ApiError> {
        let mut slot = self.temporal.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let connected = self
            .temporal(Durable::connect(&self.config))
            .await
            .map_err(|e| {
                warn!(error = %e, "cannot reach Temporal");
                ApiError::Unavailable("Temporal")
            })?;
        *slot = Some(connected.clone());
        Ok(connected)
    }

    /// Bounds one Temporal call by `ingress.temporal_timeout_ms`.
    async fn temporal<T>(
        &self,
        call: impl Future<Output = Result<T, DurableError>>,
    ) -> Result<T, DurableError> {
        let timeout = Duration::from_millis(self.config.ingress.temporal_timeout_ms.max(1));
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(DurableError::Interaction {
                    id: "*".into(),
                    message: format!("no answer within {timeout:?}"),
                })
            })
    }

    /// `ok`, or why the broker cannot be used (without its address).
    async fn broker_reachable(&self) -> String {
        let producer = self.producer.clone();
        let topic = self.config.kafka.topics.requests.clone();
        let probe = tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer;
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(1))
                .map(|m| m.topics().iter().any(|t| !t.partitions().is_empty()))
        });
        match tokio::time::timeout(Duration::from_secs(2), probe).await {
            Ok(Ok(Ok(true))) => "ok".into(),
            Ok(Ok(Ok(false))) => "the requests topic has no partitions".into(),
            _ => "unreachable".into(),
        }
    }
}

/// The API's routes over `ingress`. `/api/v1/*` requires an API key.
pub fn router(ingress: Arc<Ingress>) -> Router {
    let limit = ingress.config.ingress.max_body_bytes;
    let authenticated = Router::new()
        .route("/api/v1/execute", post(api::execute))
        .route("/api/v1/requests/{id}", get(api::get_request))
        .route("/api/v1/workflows/{id}", get(api::get_workflow))
        .route(
            "/api/v1/workflows/{id}/signals/{name}",
            post(api::signal_workflow),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&ingress),
            authenticate,
        ));
    Router::new()
        .merge(authenticated)
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/api/openapi.json", get(api::openapi))
        .fallback(api::fallback)
        .layer(middleware::from_fn(audit))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ingress)
}

/// Resolves the API key to a [`Caller`] for the handler, or answers 401.
async fn authenticate(
    State(ingress): State<Arc<Ingress>>,
    mut request: HttpRequest,
    next: Next,
) -> Response {
    match ingress.keys.authenticate(request.headers()) {
        Ok(caller) => {
            request.extensions_mut().insert(caller.clone());
            let mut response = next.run(request).await;
            response.extensions_mut().insert(caller);
            response
        }
        Err(e) => e.into_response(),
    }
}

/// One audit line per API call: tenant, key id (never the key), request id, status and
/// duration; and the response counter.
async fn audit(request: HttpRequest, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    METRICS
        .ingress_responses
        .with_label_values(&[route.as_str(), status.as_str()])
        .inc();
    if route.starts_with("/api/v1") {
        let caller = response.extensions().get::<Caller>();
        let request_id = response
            .headers()
            .get(api::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        info!(
            target: "volcano::audit",
            %method,
            route,
            status = status.as_u16(),
            tenant = caller.map_or("", |c| c.tenant.as_str()),
            key_id = caller.map_or("", |c| c.key_id.as_str()),
            request_id,
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            "api call"
        );
    }
    response
}

/// What the pipeline of this process hands to its ingress, so that a REST call waits for one
/// broker hop (its request to the pipeline) instead of two. Make a channel with
/// [`local_results`].
#[derive(Debug)]
pub enum LocalResult {
    /// A final result as soon as the pipeline has it, while its produce is under way: the
    /// waiting call is answered now. Nothing is lost by answering first: the request is in
    /// the log, and its offset moves only once the result is acknowledged, so a crash before
    /// that redelivers the request and produces the result again.
    Answer(RequestResult),
    /// A result (final or `accepted`) the broker acknowledged on the results topic: stored
    /// now, and skipped by the result feed when it reads that offset, so each result is
    /// decoded and written once.
    Acknowledged(AcknowledgedResult),
}

/// The sending half of the pipeline-to-ingress hand-off, for [`crate::pipeline_role::run`].
pub type LocalResults = tokio::sync::mpsc::UnboundedSender<LocalResult>;

/// A pipeline-to-ingress hand-off: the sender for [`crate::pipeline_role::run`], the
/// receiver for [`serve`].
pub fn local_results() -> (
    LocalResults,
    tokio::sync::mpsc::UnboundedReceiver<LocalResult>,
) {
    tokio::sync::mpsc::unbounded_channel()
}

/// Serves the API on `ingress.addr` until `shutdown`, with the result feed running beside
/// it. In-flight calls finish (each within its own wait) before it returns. `local` receives
/// the results of a pipeline in this process (see [`LocalResults`]).
pub async fn serve(
    config: &VolcanoConfig,
    registry: RegistryHandle,
    shutdown: watch::Receiver<bool>,
    local: Option<tokio::sync::mpsc::UnboundedReceiver<LocalResult>>,
) -> Result<()> {
    let addr: SocketAddr = config
        .ingress
        .addr
        .parse()
        .with_context(|| format!("ingress.addr {:?} is not host:port", config.ingress.addr))?;
    refuse_example_keys(config, addr, &registry)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the ingress to {addr}"))?;
    serve_on(listener, config, registry, shutdown, local).await
}

/// An ingress reachable beyond this machine must not accept the example repository's keys,
/// which the README prints, unless `ingress.allow_example_keys` says so.
fn refuse_example_keys(
    config: &VolcanoConfig,
    addr: SocketAddr,
    registry: &RegistryHandle,
) -> Result<()> {
    if addr.ip().is_loopback() || config.ingress.allow_example_keys {
        return Ok(());
    }
    let found = auth::example_keys(registry);
    if found.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = found
        .iter()
        .map(|c| format!("volcano-example-{} (tenant {})", c.key_id, c.tenant))
        .collect();
    anyhow::bail!(
        "ingress.addr {addr} is reachable beyond this machine, and these API keys are still the \
         example repository's, printed in the README: {}. Replace their sha256 in the branch's \
         configs/security.yaml, or set ingress.allow_example_keys = true",
        list.join(", ")
    )
}

/// [`serve`] on a listener the caller bound (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: &VolcanoConfig,
    registry: RegistryHandle,
    shutdown: watch::Receiver<bool>,
    local: Option<tokio::sync::mpsc::UnboundedReceiver<LocalResult>>,
) -> Result<()> {
    let start_config = config.clone();
    let ingress =
        tokio::task::spawn_blocking(move || Ingress::new(&start_config, registry)).await??;
    let ingress = Arc::new(ingress);
    let fetch_wait = match local {
        Some(_) => results::FEED_FETCH_WAIT_RELAXED,
        None => results::FEED_FETCH_WAIT,
    };
    if let Some(mut local) = local {
        let feed = Arc::clone(&ingress.results);
        tokio::spawn(async move {
            // What has queued up meanwhile is stored in one write.
            while let Some(first) = local.recv().await {
                let mut acknowledged = Vec::new();
                let mut next = Some(first);
                while let Some(handed) = next.take().or_else(|| local.try_recv().ok()) {
                    match handed {
                        LocalResult::Answer(result) => feed.answer_local(result),
                        LocalResult::Acknowledged(a) => acknowledged.push(a),
                    }
                    if acknowledged.len() >= results::BATCH {
                        break;
                    }
                }
                feed.deliver_local(acknowledged);
            }
        });
    }
    let feed = tokio::spawn(Arc::clone(&ingress.results).run(
        config.clone(),
        shutdown.clone(),
        fetch_wait,
    ));
    info!(addr = %listener.local_addr()?, "REST ingress listening");
    let mut stop = shutdown.clone();
    let served = axum::serve(listener, router(Arc::clone(&ingress)))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    match feed.await {
        Ok(Err(e)) => warn!(error = %e, "the result feed stopped with an error"),
        Err(e) => warn!(error = %e, "the result feed panicked"),
        Ok(Ok(())) => {}
    }
    served.context("serving the REST ingress")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_ingress_refuses_the_example_keys_unless_told_otherwise() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos");
        let registry =
            crate::registry_files::load_registry(&root, &Default::default()).expect("registry");
        let mut config = VolcanoConfig::default();
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let e = refuse_example_keys(&config, public, &registry).unwrap_err();
        assert!(
            e.to_string()
                .contains("volcano-example-main-ingress (tenant main)"),
            "{e}"
        );
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(refuse_example_keys(&config, local, &registry).is_ok());
        config.ingress.allow_example_keys = true;
        assert!(refuse_example_keys(&config, public, &registry).is_ok());
    }
}
