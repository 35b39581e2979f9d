//! The one error type of every handler: an HTTP status and a JSON body
//! `{"message": ..., "error": ...}`, as GoDoxy's API answers errors.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: status, a short message (GoDoxy's fixed texts such as `invalid request`
/// or `node not found`) and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The short message.
    pub message: Cow<'static, str>,
    /// What exactly went wrong (may be empty).
    pub error: String,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error: &'a str,
}

impl ApiError {
    /// An error with this status, message and detail.
    pub fn new(
        status: StatusCode,
        message: impl Into<Cow<'static, str>>,
        error: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            error: error.into(),
        }
    }

    /// 400 `invalid request`, with what is wrong.
    pub fn invalid(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid request", error)
    }

    /// 401: no credentials, or credentials that match nothing.
    pub fn unauthorized(error: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", error)
    }

    /// 403 with the reason.
    pub fn forbidden(error: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", error)
    }

    /// 404 with this message (GoDoxy's `node not found`, ...).
    pub fn not_found(message: impl Into<Cow<'static, str>>, error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message, error)
    }

    /// An error of a Proxmox VE call: the server's own 4xx answers are passed on as 4xx
    /// (a guest that does not exist, a template that cannot start), everything else
    /// (timeouts, transport, 5xx) is 502 Bad Gateway. The text never holds a secret: the
    /// library's errors do not.
    pub fn upstream(e: &pvekit::Error) -> Self {
        let status = match e {
            pvekit::Error::Api { status, .. } if (400..500).contains(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            pvekit::Error::NotFound { .. } | pvekit::Error::NodeNotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            pvekit::Error::TaskFailed { .. } => StatusCode::CONFLICT,
            pvekit::Error::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        };
        // 401/403 of the upstream are not the caller's: they mean pvekit's own login lacks
        // a right, which is a gateway problem.
        let status = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            StatusCode::BAD_GATEWAY
        } else {
            status
        };
        Self::new(status, "proxmox ve error", e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.error.is_empty() {
            write!(f, "{} {}", self.status.as_u16(), self.message)
        } else {
            write!(
                f,
                "{} {}: {}",
                self.status.as_u16(),
                self.message,
                self.error
            )
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            message: &self.message,
            error: &self.error,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(e.status(), "invalid request", e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::new(e.status(), "invalid request", e.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(e.status(), "invalid request", e.body_text())
    }
}

/// `Query<T>` whose rejection is an [`ApiError`] (400 JSON).
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `Path<T>` whose rejection is an [`ApiError`] (400 JSON).
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
