//! Every HTTP request counted and timed by method, matched route (`/v1/customers/:c/plan`,
//! never the raw path, so customer ids stay out of the labels) and status.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::borrow::Cow;
use std::time::Instant;

/// The route of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// axum's `/v1/customers/{c}/plan` as `/v1/customers/:c/plan`: braces inside label values are
/// valid Prometheus text, but trip common parsers and query tools.
fn label(route: &str) -> Cow<'_, str> {
    if !route.contains('{') {
        return Cow::Borrowed(route);
    }
    let labelled = route
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    Cow::Owned(labelled)
}

pub(crate) async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // A matched path is shared, not copied: labelling waits until the answer is known.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = matched
        .as_ref()
        .map_or(Cow::Borrowed(UNMATCHED), |path| label(path.as_str()));
    crate::metrics::http_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_labelled_with_colon_parameters() {
        assert_eq!(
            super::label("/v1/customers/{c}/plan"),
            "/v1/customers/:c/plan"
        );
        assert_eq!(super::label("/webhooks/polar"), "/webhooks/polar");
    }
}
