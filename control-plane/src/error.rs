//! The one place REST errors become responses: `application/problem+json` (RFC 9457).
//! Database and crypto error text is logged here, once, and never sent to the client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use api_types::Problem;

/// Every way a REST request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("internal token missing or invalid")]
    InternalUnauthorized,
    #[error("the internal API is disabled: set GATEHOUSE_INTERNAL_TOKEN")]
    InternalDisabled,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the object changed since version {0}: read it again and retry")]
    PreconditionFailed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    BadBody { status: StatusCode, message: String },
    #[error("database error")]
    Database(sqlx::Error),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 422 naming the offending field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::InternalUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InternalDisabled => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadBody { status, .. } => *status,
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem_type(&self) -> &'static str {
        match self {
            ApiError::Unauthorized | ApiError::InternalUnauthorized => "unauthorized",
            ApiError::InternalDisabled => "internal-api-disabled",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Invalid { .. } => "validation-error",
            ApiError::PreconditionFailed(_) => "version-mismatch",
            ApiError::Conflict(_) => "conflict",
            ApiError::BadBody { .. } => "bad-request-body",
            ApiError::Database(_) | ApiError::Internal(_) => "internal-error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Database(e) => tracing::error!(error = %e, "database error"),
            ApiError::Internal(e) => tracing::error!(error = %e, "internal error"),
            ApiError::Unauthorized
            | ApiError::InternalUnauthorized
            | ApiError::InternalDisabled
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Invalid { .. }
            | ApiError::PreconditionFailed(_)
            | ApiError::Conflict(_)
            | ApiError::BadBody { .. } => {}
        }
        let status = self.status();
        let problem = Problem {
            type_: format!("https://gatehouse.dev/problems/{}", self.problem_type()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(self.to_string()),
            invalid_params: if let ApiError::Invalid { field, reason } = &self {
                vec![api_types::InvalidParam {
                    name: field.clone(),
                    reason: reason.clone(),
                }]
            } else {
                Vec::new()
            },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    /// Data exceptions (SQLSTATE class 22: a NUL character, a number out of range) come from
    /// what the client sent, so they are a 422, not a 500; everything else is a 500.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.code().is_some_and(|c| c.starts_with("22")) {
                tracing::debug!(error = %db, "database rejected a value");
                return ApiError::invalid(
                    "body",
                    "contains a value that cannot be stored (for example a NUL character)",
                );
            }
        }
        ApiError::Database(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::BadBody {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadBody {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadBody {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

/// `axum::Json` whose rejection is an [`ApiError`], so bad bodies get problem+json too.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with an [`ApiError`] rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` with an [`ApiError`] rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Maps unique and foreign-key violations to a 409 with a readable message.
pub fn conflict_or(e: sqlx::Error, what: &str) -> ApiError {
    if let sqlx::Error::Database(db) = &e {
        match db.code().as_deref() {
            Some("23505") => {
                return ApiError::Conflict(format!(
                    "a {what} with that name (or that default) already exists ({})",
                    db.constraint().unwrap_or("unique")
                ))
            }
            Some("23503") => {
                return ApiError::Conflict(format!(
                    "the {what} refers to, or is referred to by, another object ({})",
                    db.constraint().unwrap_or("foreign key")
                ))
            }
            _ => {}
        }
    }
    e.into()
}
