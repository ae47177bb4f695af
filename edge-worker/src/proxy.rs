//! Forwarding a request to the configured origin.

use worker::wasm_bindgen::JsCast;
use worker::{Fetch, Request, Response, Url};

use crate::error::AppError;

/// Prefix of the headers the Worker sets for the origin; a client's own are dropped so that
/// the origin can trust them.
const TOLLGATE_HEADER_PREFIX: &str = "x-tollgate-";

/// The origin URL for a request URL: the origin's scheme, host and port, the request's path
/// and query.
pub fn origin_url(origin: &str, request: &Url) -> Result<Url, AppError> {
    let mut url =
        Url::parse(origin).map_err(|e| AppError::Internal(format!("TOLLGATE_ORIGIN: {e}")))?;
    let base_path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base_path}{}", request.path()));
    url.set_query(request.query());
    Ok(url)
}

/// Sends `req` to `origin` with `headers` added, and returns the origin's answer as is.
pub async fn forward(
    req: &Request,
    origin: Option<&str>,
    headers: &[(&str, String)],
) -> Result<Response, AppError> {
    let origin = origin.ok_or_else(|| AppError::NotFound(req.path()))?;
    let url = origin_url(
        origin,
        &req.url().map_err(|e| AppError::Internal(e.to_string()))?,
    )?;
    // `new Request(url, request)`: same method, headers and (streamed) body, new URL.
    let init: &worker::web_sys::RequestInit = req.inner().unchecked_ref();
    let outgoing = worker::web_sys::Request::new_with_str_and_init(url.as_str(), init)
        .map_err(|e| AppError::Internal(format!("building the origin request: {e:?}")))?;
    let out_headers = outgoing.headers();
    let inbound: Vec<String> = req
        .headers()
        .keys()
        .filter(|k| k.to_ascii_lowercase().starts_with(TOLLGATE_HEADER_PREFIX))
        .collect();
    for name in inbound {
        out_headers
            .delete(&name)
            .map_err(|e| AppError::Internal(format!("{e:?}")))?;
    }
    for (name, value) in headers {
        out_headers
            .set(name, value)
            .map_err(|e| AppError::Internal(format!("header {name}: {e:?}")))?;
    }
    Fetch::Request(Request::from(outgoing))
        .send()
        .await
        .map_err(|e| AppError::Origin(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_path_and_query_on_the_origin() {
        let req = Url::parse("https://edge.example.com/api/v1/items?page=2").unwrap();
        assert_eq!(
            origin_url("http://127.0.0.1:9000", &req).unwrap().as_str(),
            "http://127.0.0.1:9000/api/v1/items?page=2"
        );
        assert_eq!(
            origin_url("https://app.example.com/base/", &req)
                .unwrap()
                .as_str(),
            "https://app.example.com/base/api/v1/items?page=2"
        );
    }
}
