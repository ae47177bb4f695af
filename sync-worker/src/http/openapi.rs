//! The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`), built from the handlers.
//!
//! Every route is registered with `routes!(handler)` on a `utoipa_axum` `OpenApiRouter`, and a
//! handler can only be given to `routes!` when it carries `#[utoipa::path(...)]`: registering a
//! route registers its operation, so the router and the document cannot drift apart. Besides
//! its method, path, body and answers, each operation names two extensions:
//!
//! - `x-role`: the least role of its Bearer token (`app`, `viewer`, `support`, `admin`); absent
//!   on the routes that take no token (webhooks, probes, this document);
//! - `x-codes`: the stable codes it may refuse with, beyond those every `/v1` call shares.
//!
//! [`finish`] then writes what they imply into the document, in one place: the `bearer`
//! security requirement and the role (in the description and in `x-role`), and one error
//! response per status whose body is `Error` with `code` restricted to the operation's codes —
//! its own, plus `unauthorized` and `rate_limited` on every `/v1` call, `forbidden` above role
//! `app`, and `internal` everywhere. A code's status and meaning come from [`CODES`], the one
//! table of them.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

/// Every refusal's body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// Stable: clients branch on it.
    pub(crate) code: String,
    /// Names the problem, for a person.
    pub(crate) message: String,
}

/// Every stable code: its status and when it is answered.
pub(crate) const CODES: &[(&str, u16, &str)] = &[
    ("missing_header", 400, "a required header is absent"),
    (
        "invalid_header",
        400,
        "a header is not in its documented form",
    ),
    ("unreadable_body", 400, "the body could not be read"),
    (
        "invalid_json",
        400,
        "the body is not the JSON the call takes",
    ),
    (
        "invalid_request",
        400,
        "the body, path or query does not parse",
    ),
    (
        "invalid_query",
        400,
        "an analytics query parameter that does not parse or is out of range",
    ),
    (
        "range_too_large",
        400,
        "an analytics range of more than 366 intervals",
    ),
    (
        "idempotency_key_required",
        400,
        "a refund without `Idempotency-Key`",
    ),
    (
        "unauthorized",
        401,
        "missing, unknown or revoked Bearer token",
    ),
    (
        "invalid_signature",
        401,
        "no signature matches the body under the configured secret",
    ),
    (
        "stale_timestamp",
        401,
        "the signed timestamp is more than 5 minutes from now",
    ),
    (
        "forbidden",
        403,
        "the token's role is below the call's; the message names the role needed",
    ),
    ("unknown_customer", 404, "a customer tollgate does not know"),
    ("unknown_order", 404, "an order tollgate has not stored"),
    ("unknown_grant", 404, "not a live grant's id"),
    ("unknown_api_key", 404, "not a live API key's id"),
    (
        "unknown_webhook",
        404,
        "a `webhook-id` tollgate has not stored",
    ),
    ("unknown_export", 404, "not one of the exports"),
    ("unknown_lease", 404, "a lease id that was never granted"),
    (
        "not_configured",
        404,
        "the endpoint is off: its secret is not configured",
    ),
    (
        "not_found",
        404,
        "no route serves the path (an empty path segment, say)",
    ),
    (
        "method_not_allowed",
        405,
        "the path does not take the method",
    ),
    (
        "already_subscribed",
        409,
        "the customer already holds a paid plan (change plans instead)",
    ),
    ("already_on_plan", 409, "a plan change to the plan held"),
    (
        "no_subscription",
        409,
        "no entitling subscription (use a checkout)",
    ),
    (
        "idempotency_key_in_use",
        409,
        "the first request with that key has not answered yet",
    ),
    (
        "duplicate_event",
        409,
        "the event id was already counted by a usage event",
    ),
    (
        "payload_too_large",
        413,
        "the body is over the call's limit",
    ),
    ("batch_too_large", 413, "more events than a batch holds"),
    (
        "invalid_payload",
        422,
        "JSON, but not the event its type names",
    ),
    ("unknown_plan", 422, "a plan the catalog does not have"),
    (
        "plan_not_for_sale",
        422,
        "the default plan, or a plan no Polar product sells",
    ),
    (
        "refund_exceeds_order",
        422,
        "a refund above what is left of the order",
    ),
    (
        "idempotency_key_reused",
        422,
        "the key was used in the last 24 h with another request",
    ),
    (
        "unknown_feature",
        422,
        "a feature the catalog does not have",
    ),
    (
        "not_gauge",
        422,
        "a level set on a feature that is not a gauge",
    ),
    (
        "invalid_amount",
        422,
        "an amount that does not fit its feature",
    ),
    (
        "invalid_expiry",
        422,
        "an `expires_at` that is not in the future",
    ),
    ("reason_required", 422, "no `reason`, or a blank one"),
    ("invalid_reason", 422, "a `reason` over 1 000 bytes"),
    ("not_metered", 422, "the feature is not metered"),
    (
        "not_exact",
        422,
        "a lease of a feature without `exact = true`",
    ),
    ("invalid_want", 422, "a lease of 0 units"),
    ("invalid_ttl", 422, "a `ttl_seconds` outside 1 to 3 600"),
    (
        "invalid_used",
        422,
        "a settlement's `used` above the lease's `granted`",
    ),
    (
        "invalid_delta",
        422,
        "a `delta` that is not a whole number other than 0",
    ),
    ("invalid_customer", 422, "an empty customer"),
    (
        "invalid_name",
        422,
        "an API key's name empty or over 200 bytes",
    ),
    ("invalid_range", 422, "`from` after `to`"),
    (
        "query_too_short",
        422,
        "a search of fewer than 2 characters",
    ),
    (
        "polar_rejected",
        422,
        "Polar refused the call; the message is Polar's",
    ),
    (
        "rate_limited",
        429,
        "too many requests (or failed authentications); see `Retry-After`",
    ),
    (
        "internal",
        500,
        "logged once with its cause; nothing more is said",
    ),
    (
        "polar_unavailable",
        503,
        "Polar failed or the circuit is open; see `Retry-After`",
    ),
    ("unavailable", 503, "the database is not reachable"),
];

/// The codes every `/v1` call may answer.
const BEARER_CODES: &[&str] = &["unauthorized", "rate_limited"];

/// The document as served: `finish`ed once when the router is built.
#[derive(Debug, Clone)]
pub(crate) struct Document(pub(crate) Bytes);

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub(crate) async fn serve(Extension(Document(document)): Extension<Document>) -> Response {
    // Bytes are shared: every answer is the one document built at start-up, not a copy.
    ([(CONTENT_TYPE, "application/json")], document).into_response()
}

/// The document with the roles, the security scheme and the error responses written out.
pub(crate) fn finish(document: OpenApi) -> Value {
    let mut document = serde_json::to_value(document).unwrap_or_else(|_| json!({}));
    let Some(root) = document.as_object_mut() else {
        return document;
    };
    root.insert("info".to_owned(), info());
    if let Some(components) = object(root, "components") {
        if let Some(schemes) = object(components, "securitySchemes") {
            schemes.insert(
                "bearer".to_owned(),
                json!({
                    "type": "http",
                    "scheme": "bearer",
                    "description": "TOLLGATE_API_TOKEN (role admin) or a token from `tollgate tokens create`",
                }),
            );
        }
        let schema = serde_json::to_value(<ErrorBody as utoipa::PartialSchema>::schema())
            .unwrap_or_else(|_| json!({}));
        if let Some(schemas) = object(components, "schemas") {
            schemas.insert("Error".to_owned(), schema);
        }
    }
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut().filter_map(Value::as_object_mut) {
                operation_errors(operation);
            }
        }
    }
    document
}

fn info() -> Value {
    json!({
        "title": "tollgate sync worker",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Polar's and Clerk's webhooks, and the `/v1` API: entitlements, checks, \
    usage, billing through Polar, and the admin calls. Errors are `{\"code\", \"message\"}` with a \
    stable `code`; each operation lists the codes it may answer. `/v1` calls take \
    `Authorization: Bearer <token>`; each names the least role its token needs (`x-role`): \
    app < viewer < support < admin.",
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
    })
}

/// `map[key]` as an object, made if it is absent.
fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Writes one operation's role and error responses from its `x-role` and `x-codes`.
fn operation_errors(operation: &mut Map<String, Value>) {
    let mut codes: Vec<String> = operation
        .remove("x-codes")
        .and_then(|codes| serde_json::from_value(codes).ok())
        .unwrap_or_default();
    if let Some(role) = operation
        .get("x-role")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        operation.insert("security".to_owned(), json!([{ "bearer": [] }]));
        let line = format!("Role: `{role}` or higher.");
        let description = match operation.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
            _ => line,
        };
        operation.insert("description".to_owned(), json!(description));
        codes.extend(BEARER_CODES.iter().map(|&code| code.to_owned()));
        if role != "app" {
            codes.push("forbidden".to_owned());
        }
    }
    // Any path may fail to route (an empty segment) or hold `%00` (refused by `guard`).
    let located = |place: &str| {
        operation
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == place))
    };
    if located("path") {
        codes.push("not_found".to_owned());
    }
    if located("path") || located("query") {
        codes.push("invalid_request".to_owned());
    }
    codes.push("internal".to_owned());
    if let Some(responses) = object(operation, "responses") {
        for (status, codes) in by_status(codes) {
            responses.insert(status, error_response(&codes));
        }
    }
}

/// The codes grouped by their status; a code missing from [`CODES`] goes under `default`, which
/// the document's tests refuse.
fn by_status(codes: Vec<String>) -> BTreeMap<String, Vec<String>> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for code in codes {
        let status = CODES
            .iter()
            .find(|(known, ..)| *known == code)
            .map_or_else(|| "default".to_owned(), |(_, status, _)| status.to_string());
        let group = grouped.entry(status).or_default();
        if !group.contains(&code) {
            group.push(code);
        }
    }
    grouped
}

fn error_response(codes: &[String]) -> Value {
    let description = codes
        .iter()
        .map(|code| {
            let when = CODES
                .iter()
                .find(|(known, ..)| known == code)
                .map_or("", |(.., when)| when);
            format!("`{code}`: {when}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    json!({
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Error" },
                        { "type": "object", "properties": { "code": { "enum": codes } } },
                    ],
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_status() {
        for (index, (code, ..)) in CODES.iter().enumerate() {
            assert!(
                !CODES
                    .iter()
                    .skip(index + 1)
                    .any(|(other, ..)| other == code),
                "`{code}` is listed twice"
            );
        }
    }

    #[test]
    fn an_operation_gets_its_role_and_every_code_it_may_answer() {
        let mut operation = json!({
            "description": "Ends a grant.",
            "x-role": "support",
            "x-codes": ["unknown_grant", "invalid_request"],
            "responses": { "200": { "description": "ended" } },
        });
        operation_errors(operation.as_object_mut().expect("an object"));
        assert_eq!(operation["security"], json!([{ "bearer": [] }]));
        assert_eq!(
            operation["description"],
            "Ends a grant.\n\nRole: `support` or higher."
        );
        let codes = |status: &str| {
            operation["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
                ["properties"]["code"]["enum"]
                .clone()
        };
        assert_eq!(codes("404"), json!(["unknown_grant"]));
        assert_eq!(codes("400"), json!(["invalid_request"]));
        assert_eq!(codes("401"), json!(["unauthorized"]));
        assert_eq!(codes("403"), json!(["forbidden"]));
        assert_eq!(codes("429"), json!(["rate_limited"]));
        assert_eq!(codes("500"), json!(["internal"]));
        assert!(operation.get("x-codes").is_none());
        assert_eq!(operation["x-role"], "support");
    }
}
