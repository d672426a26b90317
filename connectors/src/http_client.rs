//! The HTTP client behind the `http` tool kind.
//!
//! `volcano-pipeline` renders and checks an `http` tool's request (literal host, the tenant's
//! allow-list) and hands it to an [`HttpClient`]; this is the one implementation that touches
//! the network. It is a blocking client (ureq) because the execute stage is synchronous; when
//! it is called on a worker thread of a multi-threaded tokio runtime it moves off the runtime
//! with `block_in_place`, so a slow upstream never stalls other tasks.
//!
//! It never follows redirects (a redirect could leave the allow-listed host), ignores proxy
//! variables in the environment, enforces the tool's timeout over the whole exchange and stops
//! reading one byte past the tool's response cap.

use std::io::Read;

use tokio::runtime::{Handle, RuntimeFlavor};
use ureq::{Agent, RequestBuilder};
use volcano_pipeline::tools::http::{
    HttpClient, HttpFailure, HttpMethod, HttpRequest, HttpResponse,
};

/// Sends `http` tools' requests with one shared connection pool.
pub struct UreqHttpClient {
    agent: Agent,
}

impl Default for UreqHttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqHttpClient {
    pub fn new() -> Self {
        let agent = Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .user_agent(concat!("volcano/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        UreqHttpClient { agent }
    }

    fn exchange(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let url = request.url.as_str();
        let mut response = match request.method {
            HttpMethod::Get => prepared(self.agent.get(url), request).call(),
            HttpMethod::Delete => prepared(self.agent.delete(url), request).call(),
            method => {
                let builder = match method {
                    HttpMethod::Post => self.agent.post(url),
                    HttpMethod::Put => self.agent.put(url),
                    _ => self.agent.patch(url),
                };
                let body = request.body.as_deref().unwrap_or_default();
                prepared(builder, request).send(body)
            }
        }
        .map_err(failure)?;
        let status = response.status().as_u16();
        let cap = request.max_response_bytes;
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(cap as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => HttpFailure::Timeout,
                _ => HttpFailure::Failed(format!("reading the response: {e}")),
            })?;
        if body.len() > cap {
            return Err(HttpFailure::TooLarge);
        }
        Ok(HttpResponse { status, body })
    }
}

impl HttpClient for UreqHttpClient {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let on_worker = Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        match on_worker {
            true => tokio::task::block_in_place(|| self.exchange(request)),
            false => self.exchange(request),
        }
    }
}

/// The tool's headers, and its timeout over the whole exchange: connect, send and read.
fn prepared<B>(builder: RequestBuilder<B>, request: &HttpRequest) -> RequestBuilder<B> {
    let mut builder = builder
        .config()
        .timeout_global(Some(request.timeout))
        .build();
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder
}

fn failure(error: ureq::Error) -> HttpFailure {
    match error {
        ureq::Error::Timeout(_) => HttpFailure::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => HttpFailure::Timeout,
        other => HttpFailure::Failed(other.to_string()),
    }
}
