//! Prometheus's response envelope: `{status, data, errorType, error, warnings}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hourglass_query::ErrorKind;
use serde_json::{Value, json};

/// The HTTP status of each Prometheus error type.
fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadData => StatusCode::BAD_REQUEST,
        ErrorKind::Execution => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A one-line plain-text answer, for the endpoints outside the envelope
/// (remote write, the Pushgateway).
pub(crate) fn plain(code: StatusCode, msg: impl Into<String>) -> Response {
    let mut msg = msg.into();
    msg.push('\n');
    (code, msg).into_response()
}

/// An API failure, rendered in the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Its type (and so its HTTP status).
    pub kind: ErrorKind,
    /// The message a user reads.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::BadData,
            message: message.into(),
        }
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }

    /// `invalid parameter "<name>": <why>`, as Prometheus words it.
    pub fn param(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter {name:?}: {why}"))
    }
}

impl ApiError {
    /// The envelope with another HTTP status than its type's own (413 or
    /// 415 for a `bad_data` body, as Prometheus answers).
    pub fn with_status(self, code: StatusCode) -> Response {
        let body = json!({
            "status": "error",
            "errorType": self.kind.error_type(),
            "error": self.message,
        });
        (code, Json(body)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = status(self.kind);
        self.with_status(code)
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
