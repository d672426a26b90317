//! The `http` kind: a templated HTTP request to a host on the tenant's allow-list.
//!
//! This crate does no network IO: the tool renders the request ([`HttpTool::prepare`]),
//! hands it to an [`HttpClient`] that the connectors crate implements, and turns the response
//! into an output ([`HttpTool::complete`]). The URL's scheme and host must be written
//! literally in the spec (templates may fill the path and query only), so request text can
//! never redirect a call to another host; the host must also be on the tenant's allow-list
//! at run time. The client is given the timeout and the response size cap, and the cap is
//! checked again here. An optional jq `filter` picks the answer out of a JSON response.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::template::{Templates, variables};
use super::transform::{Transform, TransformSpec};
use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};

/// `kind: http`.
///
/// ```yaml
/// tool:
///   kind: http
///   method: GET
///   url: "https://api.example.com/v1/orders/{{ values.number[0].value }}"
///   headers: { Accept: application/json }
///   timeout_ms: 2000
///   max_response_bytes: 65536
///   filter: ".status"          # optional jq over a JSON response
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    #[serde(default)]
    pub method: HttpMethod,
    /// The URL as a minijinja template; scheme (http or https) and host are literal.
    pub url: String,
    /// Header name → value template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body template (POST, PUT, PATCH).
    #[serde(default)]
    pub body: Option<String>,
    /// How long the whole request may take (1 to 60000 ms; default 5000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest response body accepted (1 byte to 16 MiB; default 1 MiB).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// A jq program applied to a JSON response; its output is the answer.
    #[serde(default)]
    pub filter: Option<String>,
}

fn default_timeout_ms() -> u64 {
    5_000
}

fn default_max_response_bytes() -> usize {
    1 << 20
}

const MAX_TIMEOUT_MS: u64 = 60_000;

/// A client's timeout may fire this much before the deadline it was given.
const DEADLINE_SLACK: Duration = Duration::from_millis(5);
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The HTTP methods a tool may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// A rendered request, checked against the allow-list, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: HttpMethod,
    pub url: String,
    /// The URL's host, lowercase (already allowed).
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The client must give up after this long.
    pub timeout: Duration,
    /// The client should stop reading past this many bytes and report
    /// [`HttpFailure::TooLarge`].
    pub max_response_bytes: usize,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a client could not get a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    #[error("timed out")]
    Timeout,
    #[error("the response exceeds the size cap")]
    TooLarge,
    #[error("{0}")]
    Failed(String),
}

/// Sends requests for `http` tools; implemented by the connectors crate (and by fakes in
/// tests). It is called from the execute stage, which runs it off the async runtime.
pub trait HttpClient: Send + Sync {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure>;
}

/// A compiled `http` tool.
pub struct HttpTool {
    method: HttpMethod,
    /// The literal host of the URL, lowercase.
    host: String,
    templates: Templates,
    headers: Vec<String>,
    has_body: bool,
    timeout: Duration,
    max_response_bytes: usize,
    filter: Option<Transform>,
    client: Option<Arc<dyn HttpClient>>,
}

impl fmt::Debug for HttpTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTool")
            .field("method", &self.method)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl HttpTool {
    pub fn new(
        spec: &HttpSpec,
        client: Option<Arc<dyn HttpClient>>,
    ) -> Result<Self, ToolSpecError> {
        let invalid =
            |parameter: &str, reason: String| ToolSpecError::new("http", parameter, reason);
        let literal = literal_origin(&spec.url).map_err(|reason| invalid("url", reason.into()))?;
        let host = parse_url(literal)
            .map_err(|reason| invalid("url", format!("'{}': {reason}", spec.url)))?;
        if !(1..=MAX_TIMEOUT_MS).contains(&spec.timeout_ms) {
            return Err(invalid(
                "timeout_ms",
                format!(
                    "must be from 1 to {MAX_TIMEOUT_MS}, not {}",
                    spec.timeout_ms
                ),
            ));
        }
        if !(1..=MAX_RESPONSE_BYTES).contains(&spec.max_response_bytes) {
            return Err(invalid(
                "max_response_bytes",
                format!(
                    "must be from 1 to {MAX_RESPONSE_BYTES}, not {}",
                    spec.max_response_bytes
                ),
            ));
        }
        if spec.body.is_some() && matches!(spec.method, HttpMethod::Get | HttpMethod::Delete) {
            return Err(invalid(
                "body",
                format!("a {} request has no body", spec.method.as_str()),
            ));
        }
        let mut templates = Templates::new();
        templates.add("http", "url", &spec.url)?;
        let mut headers = Vec::with_capacity(spec.headers.len());
        for (name, value) in &spec.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(invalid(
                    &format!("headers.{name}"),
                    "is not a valid header name".into(),
                ));
            }
            templates.add("http", &format!("headers.{name}"), value)?;
            headers.push(name.clone());
        }
        if let Some(body) = &spec.body {
            templates.add("http", "body", body)?;
        }
        let filter = match &spec.filter {
            Some(filter) => Some(
                Transform::new(&TransformSpec {
                    filter: filter.clone(),
                    data: None,
                })
                .map_err(|e| invalid("filter", e.reason))?,
            ),
            None => None,
        };
        Ok(HttpTool {
            method: spec.method,
            host,
            templates,
            headers,
            has_body: spec.body.is_some(),
            timeout: Duration::from_millis(spec.timeout_ms),
            max_response_bytes: spec.max_response_bytes,
            filter,
            client,
        })
    }

    /// Renders the request for `ctx` and checks its host against the allow-list.
    pub fn prepare(&self, ctx: &ToolContext) -> Result<HttpRequest, ToolError> {
        let vars = variables(ctx);
        let url = self.templates.render("url", &vars)?;
        let host = parse_url(&url).map_err(|reason| ToolError::InvalidUrl {
            url: url.clone(),
            reason,
        })?;
        if host != self.host {
            return Err(ToolError::InvalidUrl {
                url,
                reason: "the rendered URL's host differs from the spec's",
            });
        }
        if !host_allowed(&host, ctx.allowed_hosts) {
            return Err(ToolError::HostNotAllowed { host });
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for name in &self.headers {
            let value = self.templates.render(&format!("headers.{name}"), &vars)?;
            if value.contains(['\r', '\n']) {
                return Err(ToolError::Template {
                    message: format!("header {name} would contain a line break"),
                });
            }
            headers.push((name.clone(), value));
        }
        let body = match self.has_body {
            true => Some(self.templates.render("body", &vars)?),
            false => None,
        };
        // On the fast path the request's remaining time caps the tool's own timeout.
        let timeout = match ctx.deadline {
            Some(deadline) => match deadline.remaining() {
                left if left.is_zero() => return Err(deadline.ran_out()),
                left => self.timeout.min(left),
            },
            None => self.timeout,
        };
        Ok(HttpRequest {
            method: self.method,
            url,
            host,
            headers,
            body,
            timeout,
            max_response_bytes: self.max_response_bytes,
        })
    }

    /// Turns a client's result into the tool's output.
    pub fn complete(
        &self,
        ctx: &ToolContext,
        result: Result<HttpResponse, HttpFailure>,
    ) -> Result<ToolOutput, ToolError> {
        let response = result.map_err(|failure| match failure {
            HttpFailure::Timeout => match ctx.deadline {
                // The fast path's time ran out, not the tool's own (within a timer's slack).
                Some(deadline) if deadline.remaining() <= DEADLINE_SLACK => deadline.ran_out(),
                _ => ToolError::HttpTimeout {
                    timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                },
            },
            HttpFailure::TooLarge => ToolError::ResponseTooLarge {
                limit: self.max_response_bytes,
            },
            HttpFailure::Failed(message) => ToolError::HttpFailed { message },
        })?;
        if response.body.len() > self.max_response_bytes {
            return Err(ToolError::ResponseTooLarge {
                limit: self.max_response_bytes,
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(ToolError::HttpStatus {
                status: response.status,
            });
        }
        let text = String::from_utf8_lossy(&response.body);
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        match (&self.filter, json) {
            (Some(filter), Some(json)) => {
                let input =
                    jaq_json::read::parse_single(json.to_string().as_bytes()).map_err(|e| {
                        ToolError::Transform {
                            message: e.to_string(),
                        }
                    })?;
                let mut outputs = filter.apply(input, ctx)?;
                let data = match outputs.len() {
                    1 => outputs.pop().unwrap_or_default(),
                    _ => serde_json::Value::Array(outputs),
                };
                Ok(output_of_json(data))
            }
            (Some(_), None) => Err(ToolError::Transform {
                message: "the response is not JSON, so the filter cannot run".into(),
            }),
            (None, Some(json)) => Ok(output_of_json(json)),
            (None, None) => Ok(ToolOutput {
                value: Decimal::from_str_exact(text.trim()).ok(),
                unit: None,
                answer: text.trim().to_string(),
                data: None,
            }),
        }
    }
}

impl Tool for HttpTool {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let client = self.client.as_ref().ok_or(ToolError::HttpUnavailable)?;
        let request = self.prepare(ctx)?;
        self.complete(ctx, client.send(&request))
    }
}

/// An output whose answer is a JSON value: strings as they are, numbers also as the value.
fn output_of_json(data: serde_json::Value) -> ToolOutput {
    let (answer, value) = match &data {
        serde_json::Value::String(text) => (text.clone(), None),
        serde_json::Value::Number(number) => {
            let text = number.to_string();
            let value = Decimal::from_str_exact(&text).ok();
            (text, value)
        }
        other => (other.to_string(), None),
    };
    ToolOutput {
        value,
        unit: None,
        answer,
        data: Some(data),
    }
}

/// The scheme and authority of a URL template, which must hold no template syntax.
fn literal_origin(url: &str) -> Result<&str, &'static str> {
    let after_scheme = url
        .find("://")
        .ok_or("must start with http:// or https://")?
        + 3;
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| after_scheme + at);
    let origin = &url[..end];
    if origin.contains(['{', '}']) {
        return Err("the scheme and host must be written literally, not templated");
    }
    Ok(origin)
}

/// Checks an absolute http(s) URL and returns its host, lowercase.
pub fn parse_url(url: &str) -> Result<String, &'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters");
    }
    let (scheme, rest) = url.split_once("://").ok_or("has no scheme")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("the scheme must be http or https");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed");
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (literal, port) = bracketed.split_once(']').ok_or("unclosed IPv6 address")?;
            check_port(port)?;
            if literal.is_empty()
                || !literal
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err("invalid IPv6 address");
            }
            return Ok(format!("[{}]", literal.to_ascii_lowercase()));
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => {
                check_port(&format!(":{port}"))?;
                host
            }
            None => authority,
        },
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err("has no host");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        || host.starts_with(['.', '-'])
        || host.contains("..")
    {
        return Err("the host is not a valid host name");
    }
    Ok(host.to_ascii_lowercase())
}

/// An optional `:port` after the host.
fn check_port(port: &str) -> Result<(), &'static str> {
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(()),
        Some(digits) if digits.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        _ => Err("invalid port"),
    }
}

/// Whether the host is allowed: listed exactly, or under a listed `*.domain`.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => entry.eq_ignore_ascii_case(host),
        }
    })
}

/// A byte allowed in a header name (RFC 9110 token).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
