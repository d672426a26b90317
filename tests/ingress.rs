//! The REST ingress against the real broker and Temporal: tenants kept apart by their API
//! keys, sessions, limits, stored results across an ingress restart, workflow control, a dead
//! broker, and schemathesis against the OpenAPI document.
//!
//! The example repository's development keys are `volcano-example-<id>` (repos/README.md).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Instance, commit, test_config};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use volcano_connectors::config::VolcanoConfig;
use volcano_connectors::ingress;
use volcano_connectors::instance::Roles;
use volcano_connectors::registry_files;

const MAIN_KEY: &str = "volcano-example-main-ingress";
const ACME_KEY: &str = "volcano-example-acme-prod";
const GLOBEX_KEY: &str = "volcano-example-globex-prod";

/// One HTTP exchange: status, headers, JSON body (or `Value::String` of a non-JSON body).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking HTTP client, run off the async threads.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let url = format!("http://{addr}{path}");
    let method = method.to_string();
    let key = key.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        send(
            &url,
            &method,
            key.as_deref(),
            body.map(|b| b.to_string().into_bytes()),
            &[],
        )
    })
    .await
    .unwrap()
}

fn send(
    url: &str,
    method: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(k) = key {
        builder = builder.header("Authorization", format!("Bearer {k}"));
    }
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let has_body = body.is_some();
    if has_body
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header("Content-Type", "application/json");
    }
    let request = builder.body(body.unwrap_or_default()).unwrap();
    let mut response = agent.run(request).expect("the ingress answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET path` with `key`.
async fn get(addr: SocketAddr, path: &str, key: &str) -> Reply {
    call(addr, "GET", path, Some(key), None).await
}

async fn execute(addr: SocketAddr, key: &str, body: Value) -> Reply {
    call(addr, "POST", "/api/v1/execute", Some(key), Some(body)).await
}

/// Asks `main` for the customer report, which goes durable: the 202 and its workflow id.
async fn start_customer_report(addr: SocketAddr) -> (Reply, String) {
    let r = execute(
        addr,
        MAIN_KEY,
        json!({"text": "process customer data and generate report"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["workflow_id"]
        .as_str()
        .expect("a workflow id")
        .to_string();
    (r, id)
}

/// A free loopback port for an ingress (bound and released; nothing else here takes it).
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn ingress_config(name: &str) -> VolcanoConfig {
    let mut config = test_config(name);
    config.ingress.addr = free_addr().to_string();
    config
}

fn addr_of(config: &VolcanoConfig) -> SocketAddr {
    config.ingress.addr.parse().unwrap()
}

/// Waits until `/readyz` says ready (the registry and the result feed are up).
async fn ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = tokio::task::spawn_blocking(move || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })
        .await
        .unwrap();
        if up && call(addr, "GET", "/readyz", None, None).await.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the ingress at {addr} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `GET /api/v1/requests/{id}` until it answers 200 or the deadline passes.
async fn stored(
    addr: SocketAddr,
    key: &str,
    id: &str,
    final_only: bool,
    within: Duration,
) -> Reply {
    let deadline = Instant::now() + within;
    loop {
        let r = get(addr, &format!("/api/v1/requests/{id}"), key).await;
        let done = r.status == 200 && !(final_only && r.body["result"]["status"] == "accepted");
        if done || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_are_kept_apart_by_their_keys_and_bad_input_gets_clear_errors() {
    let config = ingress_config("ingress-tenants");
    let addr = addr_of(&config);
    let instance = Instance::start_with(
        &config,
        Roles {
            pipeline: true,
            worker: false,
            ingress: true,
        },
    )
    .await;
    ready(addr).await;

    // No key, an unknown key, another scheme: 401 with the JSON error body.
    let body = json!({"text": "Calculate 42 + 58"});
    let none = call(addr, "POST", "/api/v1/execute", None, Some(body.clone())).await;
    assert_eq!(none.status, 401, "{}", none.body);
    assert_eq!(none.body["error"]["code"], "unauthorized");
    assert_eq!(execute(addr, "not-a-key", body.clone()).await.status, 401);

    // The answer, with its duration; then the session carries it to the next request.
    let first = execute(
        addr,
        MAIN_KEY,
        json!({"text": "Calculate 42 + 58", "session_id": "s1"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["result"]["value"], "100");
    assert!(first.body["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
    let then = execute(
        addr,
        MAIN_KEY,
        json!({"text": "multiply that by 2", "session_id": "s1"}),
    )
    .await;
    assert_eq!(then.status, 200, "{}", then.body);
    assert_eq!(then.body["result"]["value"], "200", "{}", then.body);

    // The same session id under another tenant is another session.
    let acme = execute(
        addr,
        ACME_KEY,
        json!({"text": "multiply that by 2", "session_id": "s1"}),
    )
    .await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert_eq!(
        acme.body["result"]["error_kind"], "nothing_to_refer_to",
        "{}",
        acme.body
    );

    // A tenant's own tool serves that tenant only; X-API-Key works as well as Bearer.
    let own = execute(
        addr,
        ACME_KEY,
        json!({"text": "what is the acme discount for gold members"}),
    )
    .await;
    assert_eq!(own.body["result"]["tool"], "acme-discount", "{}", own.body);
    let url = format!("http://{addr}/api/v1/execute");
    let globex = tokio::task::spawn_blocking(move || {
        let body = json!({"text": "what is the acme discount for gold members"});
        send(
            &url,
            "POST",
            None,
            Some(body.to_string().into_bytes()),
            &[("X-API-Key", GLOBEX_KEY)],
        )
    })
    .await
    .unwrap();
    assert_eq!(globex.status, 200, "{}", globex.body);
    assert_ne!(
        globex.body["result"]["tool"], "acme-discount",
        "{}",
        globex.body
    );

    // A stored result is readable by its tenant only; others get 404, as for an unknown id.
    let id = first.body["request_id"].as_str().unwrap();
    let mine = stored(addr, MAIN_KEY, id, false, Duration::from_secs(5)).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["result"]["value"], "100");
    let theirs = get(addr, &format!("/api/v1/requests/{id}"), ACME_KEY).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let unknown = get(addr, "/api/v1/requests/no-such-id", MAIN_KEY).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(theirs.body["error"]["code"], unknown.body["error"]["code"]);

    // wait_ms 0: 202 at once with where to look; the answer is stored when it comes.
    let later = execute(
        addr,
        MAIN_KEY,
        json!({"text": "Calculate 6 * 7", "wait_ms": 0}),
    )
    .await;
    assert_eq!(later.status, 202, "{}", later.body);
    assert_eq!(later.body["status"], "pending");
    let location = later
        .header("location")
        .expect("a Location header")
        .to_string();
    let id = later.body["request_id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/requests/{id}"));
    let answered = stored(addr, MAIN_KEY, id, false, Duration::from_secs(10)).await;
    assert_eq!(answered.body["result"]["value"], "42", "{}", answered.body);

    // Bad input: each gets 400 (or 413) with a message that says what is wrong.
    for (body, expect) in [
        (json!({}), "text"),
        (json!({"text": "x", "colour": "red"}), "colour"),
        (json!({"text": "   "}), "empty"),
        (json!({"text": "a\u{0}b"}), "control character"),
        (
            json!({"text": "Calculate 1 + 1", "session_id": "no spaces allowed"}),
            "session_id",
        ),
        (
            json!({"text": "Calculate 1 + 1", "wait_ms": 999_999_999}),
            "wait_ms",
        ),
        (json!({"text": 5}), "text"),
    ] {
        let r = execute(addr, MAIN_KEY, body.clone()).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_input");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expect), "{body}: {message}");
    }
    let huge = json!({"text": "x".repeat(config.ingress.max_body_bytes + 1)});
    let r = execute(addr, MAIN_KEY, huge).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
    let url = format!("http://{addr}/api/v1/execute");
    let not_json = tokio::task::spawn_blocking(move || {
        send(
            &url,
            "POST",
            Some(MAIN_KEY),
            Some(b"text=hi".to_vec()),
            &[("Content-Type", "text/plain")],
        )
    })
    .await
    .unwrap();
    assert_eq!(not_json.status, 400, "{}", not_json.body);

    // Health, readiness, metrics, the OpenAPI document.
    assert_eq!(call(addr, "GET", "/healthz", None, None).await.status, 200);
    let metrics = call(addr, "GET", "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("volcano_ingress_responses_total"), "{text}");
    assert!(text.contains("volcano_ingress_execute_duration_seconds_bucket"));
    // A sample's value, by its name and labels as written.
    let sample = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    // The pipeline of this process timed its results' produces until acknowledged.
    let produced = sample("volcano_pipeline_produce_seconds_count");
    assert!(produced.is_some_and(|n| n > 0), "{text}");
    // Both roles run in this process: calls were answered by the pipeline's hand-off,
    // before their results' produce.
    let early = sample("volcano_ingress_answered_early_total");
    assert!(early.is_some_and(|n| n > 0), "{text}");
    let spec = call(addr, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(spec.status, 200);
    assert!(
        spec.body["paths"]["/api/v1/execute"]["post"].is_object(),
        "{}",
        spec.body
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_hold_under_a_burst_and_keys_change_by_commit() {
    let config = ingress_config("ingress-limits");
    let addr = addr_of(&config);
    let repo = config.registry_repo();
    let instance = Instance::start_with(
        &config,
        Roles {
            pipeline: true,
            worker: false,
            ingress: true,
        },
    )
    .await;
    ready(addr).await;

    // Globex's key allows 20 requests/s with a burst of 40 (its security.yaml). Four clients
    // send 120 requests at once: at most the burst plus what refilled meanwhile get in.
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..30 {
                let r = execute(
                    addr,
                    GLOBEX_KEY,
                    json!({"text": "Calculate 1 + 1", "wait_ms": 0}),
                )
                .await;
                if r.status == 429 {
                    let retry: u64 = r
                        .header("retry-after")
                        .expect("Retry-After")
                        .parse()
                        .unwrap();
                    assert!(retry >= 1, "Retry-After {retry}");
                    assert_eq!(r.body["error"]["code"], "rate_limited");
                }
                statuses.push(r.status);
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for c in clients {
        statuses.extend(c.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Admitted: 202, or 200 when the pipeline of the same process answered before the
    // call returned (it does, at times, even with `wait_ms: 0`).
    let admitted = statuses.iter().filter(|s| matches!(**s, 200 | 202)).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        admitted + limited,
        120,
        "only 200, 202 and 429: {statuses:?}"
    );
    let allowed = 40.0 + 20.0 * elapsed + 1.0;
    assert!(
        admitted as f64 <= allowed && admitted >= 40,
        "{admitted} admitted in {elapsed:.2} s (bucket allows {allowed:.0})"
    );
    // Another tenant's key has its own bucket.
    let acme = execute(
        addr,
        ACME_KEY,
        json!({"text": "Calculate 1 + 1", "wait_ms": 0}),
    )
    .await;
    assert_eq!(acme.status, 202, "{}", acme.body);

    // A key added by commit works without a restart; removed by commit, it stops working.
    let new_key = "volcano-test-rotated-key";
    let hash = format!("{:x}", Sha256::digest(new_key.as_bytes()));
    let security = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("repos/customer/globex-inc/configs/security.yaml"),
    )
    .unwrap();
    let with_key = security.replace(
        "api_keys:\n",
        &format!("api_keys:\n  - id: globex-rotated\n    sha256: {hash}\n"),
    );
    assert_ne!(with_key, security);
    commit(
        &repo,
        "customer/globex-inc",
        &[("configs/security.yaml", &with_key)],
        "test: change the API keys",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = execute(addr, new_key, json!({"text": "Calculate 2 + 2"})).await;
        if r.status == 200 {
            assert_eq!(r.body["result"]["value"], "4");
            break;
        }
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "the committed key never took effect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    commit(
        &repo,
        "customer/globex-inc",
        &[("configs/security.yaml", &security)],
        "test: change the API keys",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while execute(addr, new_key, json!({"text": "Calculate 2 + 2"}))
        .await
        .status
        != 401
    {
        assert!(Instant::now() < deadline, "the revoked key kept working");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ingress_restart_loses_no_request_that_got_a_202() {
    // The ingress alone, with no pipeline: every request waits, and gets 202.
    let mut config = ingress_config("ingress-restart");
    config.ingress.default_wait_ms = 200;
    let addr = addr_of(&config);
    let only_ingress = Roles {
        pipeline: false,
        worker: false,
        ingress: true,
    };
    let ingress = Instance::start_with(&config, only_ingress).await;
    ready(addr).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let r = execute(
            addr,
            MAIN_KEY,
            json!({"text": format!("Calculate {i} + 1")}),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.body["status"], "pending");
        ids.push((i, r.body["request_id"].as_str().unwrap().to_string()));
    }
    ingress.stop().await;

    // The pipeline answers them while the ingress is down (its own registry state: one
    // RocksDB per process, and one watcher per repository).
    let mut pipeline_config = config.clone();
    pipeline_config.ingress.addr = String::new();
    pipeline_config.registry.data_dir = Some(
        config
            .registry_data_dir()
            .with_file_name("registry-pipeline"),
    );
    let pipeline = Instance::start_with(
        &pipeline_config,
        Roles {
            pipeline: true,
            worker: false,
            ingress: false,
        },
    )
    .await;
    let results = common::read_topic(
        &config,
        &config.kafka.topics.results,
        ids.len(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        results.len(),
        ids.len(),
        "the pipeline answered every request"
    );
    pipeline.stop().await;

    // The ingress comes back, reads the results it missed, and serves each.
    config.registry.watch = false;
    let ingress = Instance::start_with(&config, only_ingress).await;
    ready(addr).await;
    for (i, id) in &ids {
        let r = stored(addr, MAIN_KEY, id, false, Duration::from_secs(20)).await;
        assert_eq!(r.status, 200, "request {id}: {}", r.body);
        assert_eq!(r.body["result"]["value"], (i + 1).to_string(), "{}", r.body);
    }
    ingress.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workflows_are_controlled_over_rest_by_their_tenant_only() {
    let config = ingress_config("ingress-workflows");
    let addr = addr_of(&config);
    let instance = Instance::start(&config).await;
    ready(addr).await;

    let (r, id) = start_customer_report(addr).await;
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["workflow_url"], format!("/api/v1/workflows/{id}"));

    // It runs up to its approval wait; another tenant cannot see or signal it.
    let path = format!("/api/v1/workflows/{id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = get(addr, &path, MAIN_KEY).await;
        if s.status == 200 && s.body["waiting_for"] == "approval" {
            assert_eq!(s.body["definition"], "customer-report");
            assert_eq!(s.body["execution_status"], "Running", "{}", s.body);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run never waited for approval: {}",
            s.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let theirs = get(addr, &path, ACME_KEY).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let signal = format!("{path}/signals/approve");
    let by_them = call(
        addr,
        "POST",
        &signal,
        Some(ACME_KEY),
        Some(json!({"note": "not mine"})),
    )
    .await;
    assert_eq!(by_them.status, 404, "{}", by_them.body);
    let unknown = call(
        addr,
        "POST",
        &format!("{path}/signals/explode"),
        Some(MAIN_KEY),
        None,
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    let missing = get(addr, "/api/v1/workflows/no-such-run", MAIN_KEY).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    // Approved by its tenant, it completes, and the final result is stored.
    let approved = call(
        addr,
        "POST",
        &signal,
        Some(MAIN_KEY),
        Some(json!({"note": "looks right"})),
    )
    .await;
    assert_eq!(approved.status, 202, "{}", approved.body);
    let done = stored(addr, MAIN_KEY, &id, true, Duration::from_secs(60)).await;
    assert_eq!(done.body["result"]["status"], "ok", "{}", done.body);
    assert!(
        done.body["result"]["answer"]
            .as_str()
            .unwrap()
            .contains("Customer report"),
        "{}",
        done.body
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_gives_503_quickly_not_a_hung_connection() {
    let mut config = test_config("ingress-dead-broker");
    config.kafka.brokers = format!("127.0.0.1:{}", free_addr().port());
    config.ingress.produce_timeout_ms = 1_000;
    let registry = registry_files::load_registry(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("repos"),
        &Default::default(),
    )
    .expect("example registry");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    let c = config.clone();
    let server =
        tokio::spawn(
            async move { ingress::serve_on(listener, &c, registry, shutdown, None).await },
        );

    let started = Instant::now();
    let r = execute(
        addr,
        MAIN_KEY,
        json!({"text": "Calculate 1 + 1", "wait_ms": 30_000}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unavailable");
    assert!(r.header("retry-after").is_some());
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1"),
        "internals leaked: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let readiness = call(addr, "GET", "/readyz", None, None).await;
    assert_eq!(readiness.status, 503, "{}", readiness.body);
    assert_eq!(readiness.body["checks"]["broker"], "unreachable");
    assert_eq!(call(addr, "GET", "/healthz", None, None).await.status, 200);
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
}

/// schemathesis, as `deploy/dev.sh test` installs it (or `VOLCANO_SCHEMATHESIS`).
fn schemathesis() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("VOLCANO_SCHEMATHESIS") {
        return p.into();
    }
    test_config("probe")
        .tools_dir()
        .join("schemathesis-4.32.5/bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_no_server_error_and_no_response_outside_the_spec() {
    let bin = schemathesis();
    assert!(
        bin.exists(),
        "{} missing: run the tests with deploy/dev.sh test",
        bin.display()
    );
    let config = ingress_config("ingress-schemathesis");
    let addr = addr_of(&config);
    let instance = Instance::start(&config).await;
    ready(addr).await;
    // A durable request gives an id that exists for every `{id}` route (a stored result and a
    // running workflow), so the fuzzing reaches past 404.
    let (_, id) = start_customer_report(addr).await;
    let report = std::env::temp_dir().join(format!("volcano-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&report).unwrap();
    let settings = report.join("schemathesis.toml");
    std::fs::write(&settings, format!("[parameters]\n\"path.id\" = \"{id}\"\n")).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            // Its example database and cache go beside its report, not into the checkout.
            .current_dir(&report)
            .arg("--config-file")
            .arg(&settings)
            .args(["run", &format!("http://{addr}/api/openapi.json")])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"])
            .args(["--max-examples", "40", "--seed", "1", "--workers", "1", "--no-color"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["-H", &format!("Authorization: Bearer {MAIN_KEY}")])
            .arg("--report-dir")
            .arg(&report)
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every operation was exercised, and none only ever answered 404.
    assert!(stdout.contains("Tested: 6"), "{stdout}");
    assert!(!stdout.contains("Missing test data"), "{stdout}");
    instance.stop().await;
}
