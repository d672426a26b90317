//! The routes of the REST API, their bodies, and the OpenAPI document generated from them
//! (`GET /api/openapi.json`). Handlers only translate: HTTP in, a `Request` to Kafka or a
//! call to Temporal, HTTP out. The answer itself comes from the pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::{FromRequest, Path, Request as HttpRequest, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use volcano_pipeline::fast_path::{goes_durable, validate_text};
use volcano_pipeline::model::{Request, RequestResult, Status};

use super::Ingress;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use crate::durable::{Control, Durable, DurableError, WorkflowStatus};
use crate::metrics::METRICS;

/// Longest session id a client may choose.
const MAX_SESSION_ID: usize = 128;

/// `axum::Json` whose rejections are [`ApiError`]s: a malformed body gets the same JSON error
/// shape as everything else, and an oversized one 413.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<Arc<Ingress>> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: HttpRequest, state: &Arc<Ingress>) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(rejected(rejection, state.config.ingress.max_body_bytes)),
        }
    }
}

fn rejected(rejection: JsonRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge { limit };
    }
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON with `Content-Type: application/json`".to_string()
        }
        other => other.body_text(),
    };
    ApiError::InvalidInput(message)
}

/// `POST /api/v1/execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// The request, e.g. "Calculate 42 + 58" (at most 4096 bytes, no control characters).
    #[schema(min_length = 1, max_length = 4096, example = "Calculate 42 + 58")]
    pub text: String,
    /// Conversation this request belongs to: "multiply that by 2" then refers to the
    /// session's previous answer. Requests of one session are processed in order.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._:-]+$")]
    pub session_id: Option<String>,
    /// How long to wait for the answer before answering 202 (default and maximum are
    /// configured; 0 answers 202 at once).
    #[schema(minimum = 0, maximum = 600000)]
    pub wait_ms: Option<u64>,
}

/// 200: the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecuteAnswer {
    pub request_id: String,
    /// From the request read to the answer, on the ingress.
    pub duration_ms: f64,
    pub result: ResultView,
}

/// 202: accepted for later: the request went durable, or its answer was not there in time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pending {
    pub request_id: String,
    /// `accepted` (a workflow runs it) or `pending` (the wait ran out).
    pub status: String,
    /// Where the result will be: `GET` it.
    pub result_url: String,
    pub workflow_id: Option<String>,
    /// `GET` the workflow's progress here; `POST` signals under it.
    pub workflow_url: Option<String>,
}

/// A result as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    /// `ok`, `error`, `unclassified` or `accepted`.
    pub status: String,
    /// Exact decimal value of a numeric answer, e.g. "100".
    pub value: Option<String>,
    pub unit: Option<String>,
    pub answer: String,
    pub plan: Vec<PlanStepView>,
    pub matched_rule: Option<String>,
    pub tool: Option<String>,
    pub route: Option<String>,
    /// The registry commit whose definitions produced the result.
    pub registry_commit: String,
    /// For a durable result: the tenant's registry commit when its workflow ended.
    pub current_commit: Option<String>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub workflow_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub produced_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanStepView {
    pub index: i32,
    pub tool: String,
    pub operation: String,
    pub inputs: Vec<String>,
    pub output: Option<String>,
}

impl From<RequestResult> for ResultView {
    fn from(r: RequestResult) -> Self {
        ResultView {
            status: r.status.as_str().to_string(),
            value: r.value,
            unit: r.unit,
            answer: r.answer,
            plan: r
                .plan
                .into_iter()
                .map(|s| PlanStepView {
                    index: s.index,
                    tool: s.tool,
                    operation: s.operation,
                    inputs: s.inputs,
                    output: s.output,
                })
                .collect(),
            matched_rule: r.matched_rule,
            tool: r.tool,
            route: r.route,
            registry_commit: r.registry_commit,
            current_commit: r.current_commit,
            error_kind: r.error_kind,
            error_message: r.error_message,
            workflow_id: r.workflow_id,
            produced_at: r.produced_at,
        }
    }
}

/// `GET /api/v1/requests/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredResult {
    pub request_id: String,
    pub result: ResultView,
}

/// `GET /api/v1/workflows/{id}`: the run's progress from its own query, and Temporal's view.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub workflow_id: String,
    /// Temporal's execution status: `Running`, `Completed`, `Failed`, ...
    pub execution_status: String,
    /// The workflow definition it runs.
    pub definition: String,
    pub registry_commit: String,
    /// `running`, `paused`, `waiting`, `compensating`, `completed`, `failed`, `rejected`,
    /// `cancelled`.
    pub phase: String,
    pub current_step: Option<String>,
    /// The signal the run waits for (e.g. `approval`).
    pub waiting_for: Option<String>,
    pub completed: Vec<String>,
    pub skipped: Vec<String>,
    pub attempts: BTreeMap<String, u32>,
    #[schema(value_type = Object)]
    pub outputs: BTreeMap<String, Value>,
    pub compensated: Vec<String>,
    pub paused: bool,
}

/// `POST /api/v1/workflows/{id}/signals/{name}` (the body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    /// For `approve`/`reject`: the wait it answers (default: the one the run is in).
    #[schema(max_length = 128)]
    pub wait: Option<String>,
    /// A note kept in the run's history; for `cancel`, the reason.
    #[schema(max_length = 1024)]
    pub note: Option<String>,
}

/// The signals a run understands. Only its schema is used (the path parameter's `enum`); the
/// handler parses the name with [`Control::parse`] so an unknown one gets a 400 that lists them.
#[allow(dead_code)]
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignalName {
    Pause,
    Resume,
    Cancel,
    Approve,
    Reject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalSent {
    pub workflow_id: String,
    pub signal: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Each dependency checked, `ok` or what is wrong.
    pub checks: BTreeMap<String, String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Volcano REST ingress",
        description = "Send requests to the Volcano pipeline and read their results; control durable workflows. Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        version = "1"
    ),
    paths(execute, get_request, get_workflow, signal_workflow, healthz, readyz),
    components(schemas(
        ExecuteBody, ExecuteAnswer, Pending, ResultView, PlanStepView, StoredResult,
        WorkflowView, SignalBody, SignalName, SignalSent, Health, ErrorBody
    )),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = []))
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn validate_session(session: &str) -> Result<(), ApiError> {
    let ok = !session.is_empty()
        && session.len() <= MAX_SESSION_ID
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    match ok {
        true => Ok(()),
        false => Err(ApiError::InvalidInput(format!(
            "session_id must be 1 to {MAX_SESSION_ID} characters of A-Z a-z 0-9 . _ : -"
        ))),
    }
}

fn pending(id: &str, status: &str, workflow: Option<String>) -> Response {
    let result_url = format!("/api/v1/requests/{id}");
    let body = Pending {
        request_id: id.to_string(),
        status: status.to_string(),
        result_url: result_url.clone(),
        workflow_url: workflow.as_ref().map(|w| format!("/api/v1/workflows/{w}")),
        workflow_id: workflow,
    };
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, result_url)],
        Json(body),
    )
        .into_response()
}

/// Send a request and wait for its answer.
#[utoipa::path(
    post,
    path = "/api/v1/execute",
    request_body = ExecuteBody,
    responses(
        (status = 200, description = "The answer", body = ExecuteAnswer),
        (status = 202, description = "Accepted: the request went durable, or its answer was not there within the wait", body = Pending,
            headers(("Location" = String, description = "The result's URL"))),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Rate limit or quota exceeded", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The broker did not take the request in time", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn execute(
    State(ingress): State<Arc<Ingress>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<ExecuteBody>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let outcome = execute_inner(&ingress, &caller, body, started).await;
    let label = match &outcome {
        Ok((_, label)) => label,
        Err(_) => "refused",
    };
    METRICS
        .ingress_execute_seconds
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    outcome.map(|(r, _)| r)
}

async fn execute_inner(
    ingress: &Ingress,
    caller: &Caller,
    body: ExecuteBody,
    started: Instant,
) -> Result<(Response, &'static str), ApiError> {
    validate_text(&body.text).map_err(|(_, message)| ApiError::InvalidInput(message))?;
    if let Some(session) = &body.session_id {
        validate_session(session)?;
    }
    let settings = &ingress.config.ingress;
    let wait_ms = body.wait_ms.unwrap_or(settings.default_wait_ms);
    if wait_ms > settings.max_wait_ms {
        return Err(ApiError::InvalidInput(format!(
            "wait_ms is {wait_ms}, over the maximum of {}",
            settings.max_wait_ms
        )));
    }
    let registry = ingress.registry.load(&caller.tenant);
    ingress
        .admission
        .rate_limit(caller, &registry.security.rate_limits)?;
    let _slot = ingress
        .admission
        .admit(&caller.tenant, &registry.security.quotas)?;
    let max_workflows = registry.security.quotas.max_running_workflows as usize;
    if ingress.results.running_workflows(&caller.tenant) >= max_workflows
        && goes_durable(&registry, &body.text)
    {
        return Err(ApiError::OverQuota {
            what: format!("the tenant runs {max_workflows} workflows, its quota"),
            retry_after: Duration::from_secs(5),
        });
    }
    drop(registry);
    let request = Request {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: caller.tenant.clone(),
        session_id: body.session_id,
        text: body.text,
        submitted_at: now_ms(),
        reply_topic: None,
        headers: BTreeMap::from([("ingress.key_id".to_string(), caller.key_id.clone())]),
    };
    let mut waiter = ingress.results.expect(&request.id);
    ingress.produce(&request).await?;
    let left = Duration::from_millis(wait_ms).saturating_sub(started.elapsed());
    let (mut response, label) = match waiter.wait(left).await {
        Some(result) if result.status == Status::Accepted => {
            let workflow = result.workflow_id.clone();
            (pending(&request.id, "accepted", workflow), "accepted")
        }
        Some(result) => {
            let body = ExecuteAnswer {
                request_id: request.id.clone(),
                duration_ms: started.elapsed().as_secs_f64() * 1e3,
                result: result.into(),
            };
            (Json(body).into_response(), "answered")
        }
        None => (pending(&request.id, "pending", None), "pending"),
    };
    if let Ok(id) = header::HeaderValue::from_str(&request.id) {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    Ok((response, label))
}

/// The header that names the request an `execute` call produced (the audit log reads it).
pub const REQUEST_ID: &str = "x-request-id";

/// Read a request's result (kept for the configured TTL).
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The result", body = StoredResult),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No result yet, expired, or not this tenant's", body = ErrorBody),
    )
)]
pub async fn get_request(
    State(ingress): State<Arc<Ingress>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<StoredResult>, ApiError> {
    let id = path_id(id, "result")?;
    let not_found = || ApiError::NotFound {
        what: "result",
        id: id.clone(),
    };
    let stored = ingress.results.store().get(&id).map_err(|e| {
        tracing::error!(error = %e, "reading the result store");
        ApiError::Unavailable("the result store")
    })?;
    match stored {
        Some(result) if result.tenant == caller.tenant => Ok(Json(StoredResult {
            request_id: id,
            result: result.into(),
        })),
        _ => Err(not_found()),
    }
}

/// A workflow's progress (its status query) and Temporal's execution status.
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{id}",
    params(("id" = String, Path, description = "The workflow id (the request id)")),
    responses(
        (status = 200, description = "The run's progress", body = WorkflowView),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such workflow of this tenant", body = ErrorBody),
        (status = 503, description = "Temporal is unavailable", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn get_workflow(
    State(ingress): State<Arc<Ingress>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<WorkflowView>, ApiError> {
    let id = workflow_id(path_id(id, "workflow")?)?;
    let durable = ingress.durable().await?;
    let status = own_workflow(&ingress, &durable, &caller, &id).await?;
    let execution_status = ingress
        .temporal(durable.execution_status(&id))
        .await
        .unwrap_or_else(|_| "Unknown".into());
    Ok(Json(WorkflowView {
        workflow_id: id,
        execution_status,
        definition: status.definition,
        registry_commit: status.registry_commit,
        phase: status.phase,
        current_step: status.current_step,
        waiting_for: status.waiting_for,
        completed: status.completed,
        skipped: status.skipped,
        attempts: status.attempts,
        outputs: status.outputs,
        compensated: status.compensated,
        paused: status.paused,
    }))
}

/// Send a control signal: `pause`, `resume`, `cancel`, `approve` or `reject`.
#[utoipa::path(
    post,
    path = "/api/v1/workflows/{id}/signals/{name}",
    params(
        ("id" = String, Path, description = "The workflow id (the request id)"),
        ("name" = SignalName, Path, description = "The signal"),
    ),
    request_body(content = Option<SignalBody>, description = "Optional: which wait, and a note"),
    responses(
        (status = 202, description = "The signal was delivered", body = SignalSent),
        (status = 400, description = "Unknown signal or invalid body", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such workflow of this tenant", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 503, description = "Temporal is unavailable", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn signal_workflow(
    State(ingress): State<Arc<Ingress>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SignalSent>), ApiError> {
    let Ok(Path((id, name))) = path else {
        return Err(ApiError::NotFound {
            what: "workflow",
            id: "(undecodable)".into(),
        });
    };
    let id = workflow_id(id)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: ingress.config.ingress.max_body_bytes,
        },
        _ => ApiError::InvalidInput(e.body_text()),
    })?;
    let body: SignalBody = match body.iter().all(u8::is_ascii_whitespace) {
        true => SignalBody::default(),
        false => serde_json::from_slice(&body)
            .map_err(|e| ApiError::InvalidInput(format!("invalid signal body: {e}")))?,
    };
    if body.wait.as_ref().is_some_and(|w| w.len() > 128)
        || body.note.as_ref().is_some_and(|n| n.len() > 1024)
    {
        return Err(ApiError::InvalidInput(
            "wait is at most 128 bytes and note at most 1024".into(),
        ));
    }
    let control =
        Control::parse(&name, body.wait, caller.key_id.clone(), body.note).ok_or_else(|| {
            ApiError::InvalidInput(format!(
                "unknown signal {name:?}: use pause, resume, cancel, approve or reject"
            ))
        })?;
    let durable = ingress.durable().await?;
    own_workflow(&ingress, &durable, &caller, &id).await?;
    ingress
        .temporal(durable.signal(&id, control))
        .await
        .map_err(|e| workflow_error(e, &id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignalSent {
            workflow_id: id,
            signal: name,
        }),
    ))
}

/// A path's id, or 404 when it cannot be decoded (it names nothing that exists).
fn path_id(
    id: Result<Path<String>, PathRejection>,
    what: &'static str,
) -> Result<String, ApiError> {
    id.map(|Path(id)| id).map_err(|_| ApiError::NotFound {
        what,
        id: "(undecodable)".into(),
    })
}

/// Workflow ids are request ids: Temporal refuses ids it could never have started (empty,
/// over its length limit), and such an id names no workflow: 404.
fn workflow_id(id: String) -> Result<String, ApiError> {
    match !id.is_empty() && id.len() <= 255 && !id.chars().any(char::is_control) {
        true => Ok(id),
        false => Err(ApiError::NotFound {
            what: "workflow",
            id: "(invalid id)".into(),
        }),
    }
}

/// The run's status if it belongs to the caller's tenant; 404 otherwise, so that another
/// tenant's workflow ids do not even show that they exist.
async fn own_workflow(
    ingress: &Ingress,
    durable: &Durable,
    caller: &Caller,
    id: &str,
) -> Result<WorkflowStatus, ApiError> {
    let status = ingress
        .temporal(durable.status(id))
        .await
        .map_err(|e| workflow_error(e, id))?;
    match status.tenant == caller.tenant {
        true => Ok(status),
        false => Err(ApiError::NotFound {
            what: "workflow",
            id: id.to_string(),
        }),
    }
}

fn workflow_error(e: DurableError, id: &str) -> ApiError {
    match e {
        DurableError::NotFound(_) => ApiError::NotFound {
            what: "workflow",
            id: id.to_string(),
        },
        other => {
            tracing::warn!(error = %other, "Temporal call failed");
            ApiError::Unavailable("Temporal")
        }
    }
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        checks: BTreeMap::new(),
    })
}

/// Readiness: the broker answers, the registry is loaded, the result feed is live and, when
/// this process runs the pipeline, its partitions are moving.
#[utoipa::path(
    get,
    path = "/readyz",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; `checks` says why", body = Health),
    )
)]
pub async fn readyz(State(ingress): State<Arc<Ingress>>) -> (StatusCode, Json<Health>) {
    let mut checks = BTreeMap::new();
    let broker = ingress.broker_reachable().await;
    checks.insert("broker".to_string(), broker.clone());
    let registry = ingress
        .registry
        .load(volcano_pipeline::registry::MAIN_TENANT);
    checks.insert(
        "registry".to_string(),
        match registry.commit.is_empty() {
            true => "no commit applied yet".into(),
            false => "ok".into(),
        },
    );
    checks.insert(
        "results".to_string(),
        match ingress.results.is_live() {
            true => "ok".into(),
            false => "catching up with the results topic".into(),
        },
    );
    // A pipeline in this process: its partitions move (see `partition_watch`).
    let requests = Some(ingress.config.kafka.topics.requests.as_str());
    if let Some(pipeline) = crate::partition_watch::PARTITIONS.readiness_of(requests) {
        checks.insert("pipeline".to_string(), pipeline);
    }
    let ready = checks.values().all(|v| v == "ok");
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let label = match ready {
        true => "ok",
        false => "unavailable",
    };
    (
        status,
        Json(Health {
            status: label.into(),
            checks,
        }),
    )
}

/// The OpenAPI document of this API.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Prometheus metrics of this process.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        METRICS.render(),
    )
}

/// Any other path.
pub async fn fallback(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound {
        what: "route",
        id: uri.path().to_string(),
    }
}
