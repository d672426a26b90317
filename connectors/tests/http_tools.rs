//! `http` tools through the whole fast path against a real HTTP server on loopback: the
//! request is rendered from the text, sent with the real client, filtered with jq, and the
//! answer comes back in the result; redirects, oversize bodies, slow servers and hosts off the
//! allow-list each give an error result that says what is wrong.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use volcano_connectors::http_client::UreqHttpClient;
use volcano_connectors::registry_files::load_registry;
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{Request, RequestResult, Status};
use volcano_pipeline::tools::ToolServices;

/// A status API: `/v1/services/{name}` answers JSON naming the service and echoing a header.
async fn upstream() -> SocketAddr {
    async fn service(UrlPath(name): UrlPath<String>, headers: HeaderMap) -> impl IntoResponse {
        let caller = headers
            .get("x-caller")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nobody")
            .to_string();
        let body = serde_json::json!({"service": name, "status": "up", "caller": caller});
        (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
    }
    let app = Router::new()
        .route("/v1/services/{name}", get(service))
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/v1/services/x")]) }),
        )
        .route("/huge", get(|| async { "x".repeat(10_000) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// An http tool whose own timeout (200 ms) is under the fast path's limit (250 ms by
/// default), so a slow server runs into the tool's timeout (`tests/faults.rs` has the limit's).
fn http_tool(name: &str, pattern: &str, url: &str, extra: &str) -> String {
    format!(
        "version: 1\nname: {name}\npatterns:\n  - '{pattern}'\ntool:\n  kind: http\n  \
         method: GET\n  url: \"{url}\"\n  headers:\n    X-Caller: volcano-test\n  timeout_ms: 200\n{extra}"
    )
}

/// A repository whose main branch has http tools pointing at `addr`, and allows only 127.0.0.1.
fn repository(addr: SocketAddr) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let base = format!("http://127.0.0.1:{}", addr.port());
    write(
        root,
        "main/tools/status.yaml",
        &http_tool(
            "status",
            r"^status of \w+$",
            &format!("{base}/v1/services/{{{{ text | split(' ') | last }}}}"),
            "  filter: '.status + \" (\" + .service + \", asked by \" + .caller + \")\"'\n",
        ),
    );
    for (name, path) in [("moved", "/moved"), ("huge", "/huge"), ("slow", "/slow")] {
        let extra = match name {
            "huge" => "  max_response_bytes: 1000\n",
            _ => "",
        };
        write(
            root,
            &format!("main/tools/{name}.yaml"),
            &http_tool(
                name,
                &format!("^fetch {name}$"),
                &format!("{base}{path}"),
                extra,
            ),
        );
    }
    // An allowed-looking tool whose host the tenant does not allow.
    write(
        root,
        "main/tools/elsewhere.yaml",
        &http_tool("elsewhere", "^fetch elsewhere$", "http://localhost:9/x", ""),
    );
    write(
        root,
        "main/configs/security.yaml",
        "version: 1\nallowed_hosts:\n  - 127.0.0.1\n",
    );
    dir
}

fn ask(fast_path: &mut FastPath, text: &str) -> RequestResult {
    let request = Request {
        id: format!("http-{text}"),
        tenant: "main".into(),
        session_id: None,
        text: text.into(),
        submitted_at: 0,
        reply_topic: None,
        headers: Default::default(),
    };
    fast_path.process(&request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tools_call_allowed_hosts_and_report_every_failure() {
    let addr = upstream().await;
    let repo = repository(addr);
    let services = ToolServices {
        http: Some(Arc::new(UreqHttpClient::new())),
    };
    let registry = load_registry(repo.path(), &services).unwrap();
    let mut fast_path = FastPath::new(registry, 16);

    let ok = ask(&mut fast_path, "status of billing");
    assert_eq!(ok.status, Status::Ok, "{ok:?}");
    assert_eq!(ok.answer, "up (billing, asked by volcano-test)");
    assert_eq!(ok.tool.as_deref(), Some("status"));

    let cases = [
        ("fetch moved", "http_status"),
        ("fetch huge", "response_too_large"),
        ("fetch slow", "http_timeout"),
        ("fetch elsewhere", "host_not_allowed"),
    ];
    for (text, kind) in cases {
        let result = ask(&mut fast_path, text);
        assert_eq!(result.status, Status::Error, "{text}: {result:?}");
        assert_eq!(
            result.error_kind.as_deref(),
            Some(kind),
            "{text}: {result:?}"
        );
        assert!(
            !result.error_message.unwrap_or_default().is_empty(),
            "{text} explains itself"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_http_tools_say_so() {
    let addr = upstream().await;
    let repo = repository(addr);
    let registry = load_registry(repo.path(), &ToolServices::default()).unwrap();
    let mut fast_path = FastPath::new(registry, 16);
    let result = ask(&mut fast_path, "status of billing");
    assert_eq!(result.error_kind.as_deref(), Some("http_unavailable"));
}
