//! Query strings as Polar reads them: `page`/`limit` pagination, repeated parameters for lists
//! (`?status=active&status=trialing`), `metadata[key]=value`, and `sorting` with `-` for
//! descending. Bad values are a 422 naming the parameter.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ApiError;

/// Polar's largest page; larger `limit`s are clamped to it.
pub const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn one<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).last()
    }

    fn positive(&self, name: &str, default: usize) -> Result<usize, ApiError> {
        match self.one(name) {
            None => Ok(default),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                Ok(_) => Err(ApiError::invalid(
                    &["query", name],
                    "Input should be greater than 0",
                    "greater_than",
                    json!(raw),
                )),
                Err(_) => Err(ApiError::invalid(
                    &["query", name],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                    json!(raw),
                )),
            },
        }
    }

    /// `page` (≥ 1, default 1) and `limit` (≥ 1, default 10, clamped to 100).
    pub fn page(&self) -> Result<Page, ApiError> {
        let page = self.positive("page", 1)?;
        let limit = self.positive("limit", DEFAULT_LIMIT)?.min(MAX_LIMIT);
        Ok(Page { page, limit })
    }

    pub fn uuids(&self, name: &str) -> Result<Vec<Uuid>, ApiError> {
        self.all(name)
            .map(|raw| {
                Uuid::parse_str(raw).map_err(|_| {
                    ApiError::invalid(
                        &["query", name],
                        "Input should be a valid UUID",
                        "uuid_parsing",
                        json!(raw),
                    )
                })
            })
            .collect()
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        self.all(name).map(str::to_owned).collect()
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.one(name).map(str::to_owned)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.one(name) {
            None => Ok(None),
            Some("true" | "1" | "yes" | "on" | "True") => Ok(Some(true)),
            Some("false" | "0" | "no" | "off" | "False") => Ok(Some(false)),
            Some(raw) => Err(ApiError::invalid(
                &["query", name],
                "Input should be a valid boolean, unable to interpret input",
                "bool_parsing",
                json!(raw),
            )),
        }
    }

    pub fn datetime(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        match self.one(name) {
            None => Ok(None),
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map(|t| Some(t.to_utc()))
                .map_err(|_| {
                    ApiError::invalid(
                        &["query", name],
                        "Input should be a valid datetime",
                        "datetime_parsing",
                        json!(raw),
                    )
                }),
        }
    }

    /// `metadata[key]=value` filters.
    pub fn metadata(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((key.to_owned(), v.clone()))
            })
            .collect()
    }

    /// The `sorting` criteria, each a field of `allowed` with an optional `-` prefix.
    pub fn sorting(
        &self,
        allowed: &[&str],
        default: &str,
    ) -> Result<Vec<(String, bool)>, ApiError> {
        let raw: Vec<&str> = self.all("sorting").collect();
        let raw = if raw.is_empty() { vec![default] } else { raw };
        raw.into_iter()
            .map(|s| {
                let (field, desc) = s.strip_prefix('-').map_or((s, false), |f| (f, true));
                if allowed.contains(&field) {
                    Ok((field.to_owned(), desc))
                } else {
                    Err(ApiError::invalid(
                        &["query", "sorting", "0"],
                        format!("Input should be {}", allowed.join(", ")),
                        "enum",
                        json!(s),
                    ))
                }
            })
            .collect()
    }
}

/// Whether a metadata map satisfies every `metadata[key]=value` filter.
pub fn metadata_matches(
    meta: &serde_json::Map<String, Value>,
    filters: &[(String, String)],
) -> bool {
    filters.iter().all(|(k, want)| match meta.get(k) {
        Some(Value::String(s)) => s == want,
        Some(other) => want.as_str() == other.to_string().as_str(),
        None => false,
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: usize,
    pub limit: usize,
}

/// A value to sort by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    /// Nulls sort first, as PostgreSQL sorts them descending-last.
    Null,
    Int(i64),
    Time(DateTime<Utc>),
    Text(String),
}

impl From<Option<DateTime<Utc>>> for SortKey {
    fn from(t: Option<DateTime<Utc>>) -> Self {
        t.map_or(Self::Null, Self::Time)
    }
}

/// Sorts `items` by the criteria (ties broken by creation time, then id, so pages are stable),
/// cuts out the page and renders it as `{items, pagination}`.
pub fn list<T>(
    mut items: Vec<&T>,
    sorting: &[(String, bool)],
    key: impl Fn(&T, &str) -> SortKey,
    tiebreak: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    page: Page,
    render: impl Fn(&T) -> Value,
) -> Value {
    items.sort_by(|a, b| {
        for (field, desc) in sorting {
            let ord = key(a, field).cmp(&key(b, field));
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        tiebreak(b).cmp(&tiebreak(a))
    });
    let total = items.len();
    let max_page = total.div_ceil(page.limit);
    let start = page.page.saturating_sub(1).saturating_mul(page.limit);
    let rendered: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(page.limit)
        .map(render)
        .collect();
    json!({ "items": rendered, "pagination": { "total_count": total, "max_page": max_page } })
}
