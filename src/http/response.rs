//! Building responses: SCIM JSON bodies with `application/scim+json`, and SCIM
//! error bodies that say what went wrong without leaking internals.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use crate::scim::ScimError;
use crate::store::StoreError;

/// The body type of every response.
pub type Body = Full<Bytes>;

/// The media type scimd answers with.
pub const SCIM_JSON: &str = "application/scim+json";

/// A JSON response with the SCIM media type.
pub fn json(status: u16, value: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// An empty response (204, 304).
pub fn empty(status: u16) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    r
}

/// A plain-text response, for the health endpoints and metrics.
pub fn text(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A SCIM error response.
pub fn error(e: &ScimError) -> Response<Body> {
    let mut r = json(e.status, &e.to_json());
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimd\""),
        );
    }
    r
}

/// Maps a store error: rejections go to the client as they are; outages and bugs are
/// logged here and answered with a generic body.
pub fn store_error(e: StoreError) -> ScimError {
    match e {
        StoreError::Rejected(e) => e,
        StoreError::Unavailable(msg) => {
            tracing::error!(error = %msg, "state store unavailable");
            ScimError::new(503, "the state store is unavailable; retry later")
        }
        StoreError::Internal(msg) => {
            tracing::error!(error = %msg, "state store error");
            ScimError::internal()
        }
    }
}

/// Sets a header from a string that is known to be a valid header value.
pub fn set_header(r: &mut Response<Body>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}
