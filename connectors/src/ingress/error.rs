//! The one error type of the REST API. Every failure a client can meet is a variant here, and
//! each becomes a status code and a JSON body `{"error": {"code", "message"}}` that says what is
//! wrong in the client's terms. Internal details (broker addresses, Temporal messages, paths)
//! go to the log, never into a response.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API key (send `Authorization: Bearer <key>` or `X-API-Key`)")]
    Unauthorized,
    #[error("{0}")]
    InvalidInput(String),
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("rate limit of this API key exceeded; retry after {} ms", retry_after.as_millis())]
    RateLimited { retry_after: Duration },
    #[error("{what}; retry after {} s", retry_after.as_secs().max(1))]
    OverQuota { what: String, retry_after: Duration },
    /// A dependency (broker, Temporal) did not answer in time or is down. The message names
    /// which, never how it is reached.
    #[error("{0} is unavailable; retry later")]
    Unavailable(&'static str),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `unauthorized`, `invalid_input`, `not_found`,
    /// `payload_too_large`, `rate_limited`, `over_quota`, `unavailable`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } | ApiError::OverQuota { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidInput(_) => "invalid_input",
            ApiError::NotFound { .. } => "not_found",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::OverQuota { .. } => "over_quota",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::OverQuota { retry_after, .. } => {
                Some(*retry_after)
            }
            ApiError::Unavailable(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(wait) = self.retry_after() {
            // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
