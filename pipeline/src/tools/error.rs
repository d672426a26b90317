//! What can go wrong when a tool is built from its spec or run for a request.
//!
//! [`ToolSpecError`] rejects a definition when a registry version is compiled (it names the
//! parameter and why); [`ToolError`] is one request's failure, with a stable
//! [`kind`](ToolError::kind) for the result's `error_kind` and a hint whether a retry can help.

use crate::calc::CalcError;

/// A tool definition whose parameters are invalid; the commit that holds it is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tool} tool: invalid `{parameter}`: {reason}")]
pub struct ToolSpecError {
    /// The tool kind (`currency`).
    pub tool: &'static str,
    /// The parameter, as a path in the spec (`rates.EUR`).
    pub parameter: String,
    pub reason: String,
}

impl ToolSpecError {
    pub(crate) fn new(
        tool: &'static str,
        parameter: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ToolSpecError {
            tool,
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}

/// Why a tool could not answer a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("nothing to do: the request is empty")]
    Empty,
    #[error("the {tool} tool did not understand the request: expected {expected}")]
    NotUnderstood {
        tool: &'static str,
        expected: &'static str,
    },
    #[error("'{text}' is not a number the tool can use")]
    InvalidNumber { text: String },
    #[error("overflow: the {operation} is too large for exact decimal arithmetic")]
    Overflow { operation: &'static str },
    #[error(transparent)]
    Calc(#[from] CalcError),
    #[error("unknown unit '{unit}'")]
    UnknownUnit { unit: String },
    #[error("this tool does not convert {quantity} ('{unit}')")]
    QuantityNotAllowed {
        unit: String,
        quantity: &'static str,
    },
    #[error("cannot convert {from} ({from_quantity}) to {to} ({to_quantity})")]
    IncompatibleUnits {
        from: String,
        from_quantity: &'static str,
        to: String,
        to_quantity: &'static str,
    },
    #[error("no {what} to convert to: say e.g. \"{example}\"")]
    MissingTarget {
        what: &'static str,
        example: &'static str,
    },
    #[error("the unit of the value to convert is not known: say e.g. \"convert 5 km to miles\"")]
    MissingSourceUnit,
    #[error("unknown currency '{currency}'")]
    UnknownCurrency { currency: String },
    #[error("no exchange rate for {code} in the rates table")]
    NoRate { code: String },
    #[error("invalid date '{text}': {reason}")]
    InvalidDate { text: String, reason: &'static str },
    #[error("unknown time zone or city '{name}'")]
    UnknownTimeZone { name: String },
    #[error("the resulting date is out of range")]
    DateOutOfRange,
    #[error("{message}")]
    NotFound { message: String },
    #[error("template error: {message}")]
    Template { message: String },
    #[error("transform error: {message}")]
    Transform { message: String },
    #[error("no JSON to transform: the request holds no JSON object or array")]
    NoJsonInput,
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("host '{host}' is not on the tenant's allow-list")]
    HostNotAllowed { host: String },
    #[error("no HTTP client is configured for http tools")]
    HttpUnavailable,
    #[error("the HTTP request timed out after {timeout_ms} ms")]
    HttpTimeout { timeout_ms: u64 },
    #[error("the fast path's time limit of {budget_ms} ms ran out")]
    Timeout { budget_ms: u64 },
    #[error("the HTTP response is larger than the limit of {limit} bytes")]
    ResponseTooLarge { limit: usize },
    #[error("the HTTP request failed with status {status}")]
    HttpStatus { status: u16 },
    #[error("the HTTP request failed: {message}")]
    HttpFailed { message: String },
}

impl ToolError {
    /// Stable snake_case name of the problem, used as a result's `error_kind`; calculator
    /// errors keep their own kinds (`division_by_zero`).
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::Empty => "empty",
            ToolError::NotUnderstood { .. } => "not_understood",
            ToolError::InvalidNumber { .. } => "invalid_number",
            ToolError::Overflow { .. } => "overflow",
            ToolError::Calc(e) => e.kind(),
            ToolError::UnknownUnit { .. } => "unknown_unit",
            ToolError::QuantityNotAllowed { .. } => "quantity_not_allowed",
            ToolError::IncompatibleUnits { .. } => "incompatible_units",
            ToolError::MissingTarget { .. } => "missing_target",
            ToolError::MissingSourceUnit => "missing_source_unit",
            ToolError::UnknownCurrency { .. } => "unknown_currency",
            ToolError::NoRate { .. } => "no_rate",
            ToolError::InvalidDate { .. } => "invalid_date",
            ToolError::UnknownTimeZone { .. } => "unknown_time_zone",
            ToolError::DateOutOfRange => "date_out_of_range",
            ToolError::NotFound { .. } => "not_found",
            ToolError::Template { .. } => "template_error",
            ToolError::Transform { .. } => "transform_error",
            ToolError::NoJsonInput => "no_json_input",
            ToolError::InvalidUrl { .. } => "invalid_url",
            ToolError::HostNotAllowed { .. } => "host_not_allowed",
            ToolError::HttpUnavailable => "http_unavailable",
            ToolError::HttpTimeout { .. } => "http_timeout",
            ToolError::Timeout { .. } => "timeout",
            ToolError::ResponseTooLarge { .. } => "response_too_large",
            ToolError::HttpStatus { .. } => "http_status",
            ToolError::HttpFailed { .. } => "http_failed",
        }
    }

    /// Whether running the same request again may succeed: only transient HTTP failures
    /// (timeouts, connection errors, 429 and 5xx); everything else depends on the input.
    pub fn is_retryable(&self) -> bool {
        match self {
            ToolError::HttpTimeout { .. }
            | ToolError::HttpFailed { .. }
            | ToolError::Timeout { .. } => true,
            ToolError::HttpStatus { status } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
