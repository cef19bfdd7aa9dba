//! Errors of the REST API: a stable code and a message for people, never internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String, Option<&'static str>),
    #[error("sign in first")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("too many requests; try again in {} seconds", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
    #[error("internal error")]
    Internal(String),
    /// Another node serves the desk and cannot be reached just now (several nodes).
    #[error("the desk's server cannot be reached just now; try again in a few seconds")]
    Unavailable(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::BadRequest(_, f) => (StatusCode::BAD_REQUEST, "invalid_input", *f),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", None),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "not_allowed", None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "request not forwarded");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
            }
        };
        let retry = match &self {
            ApiError::RateLimited(d) => Some(d.as_secs().max(1).to_string()),
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message: self.to_string(),
                field,
            }),
        )
            .into_response();
        if let Some(v) = retry.and_then(|r| axum::http::HeaderValue::from_str(&r).ok()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<super::limits::RetryAfter> for ApiError {
    fn from(r: super::limits::RetryAfter) -> Self {
        ApiError::RateLimited(r.0)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => ApiError::NotFound,
            // What the store refuses to write on every backend (e.g. a NUL character).
            crate::store::StoreError::Invalid(message) => ApiError::BadRequest(message, None),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// `Json<T>` whose rejections (wrong content type, bad JSON, wrong fields) are typed
/// `ApiError`s like every other error of the API.
pub struct Body<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text(), None)),
        }
    }
}

/// `Query<T>` with typed rejections.
pub struct Params<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text(), None)),
        }
    }
}
