//! Prometheus's response envelope: `{status, data, errorType, error, warnings}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Prometheus's error types, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// 400: a parameter or the query is invalid.
    BadData,
    /// 422: the query failed while running.
    Execution,
    /// 503: the query ran out of time.
    Timeout,
    /// 499: the client went away.
    Canceled,
    /// 500: our own failure.
    Internal,
    /// 404
    NotFound,
    /// 503: the server cannot take the request now (retry later).
    Unavailable,
}

impl ErrorType {
    fn name(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An API failure, rendered in the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Its type (and so its HTTP status).
    pub kind: ErrorType,
    /// The message a user reads.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::Internal,
            message: message.into(),
        }
    }

    /// `invalid parameter "<name>": <why>`, as Prometheus words it.
    pub fn param(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter {name:?}: {why}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "errorType": self.kind.name(),
            "error": self.message,
        });
        (self.kind.status(), Json(body)).into_response()
    }
}

/// `{"status":"success","data":…}`, with `warnings` when there are any.
pub fn success(data: Value, warnings: &[String]) -> Response {
    let mut body = json!({ "status": "success", "data": data });
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    Json(body).into_response()
}

/// Result of an API handler.
pub type ApiResult = Result<Response, ApiError>;
