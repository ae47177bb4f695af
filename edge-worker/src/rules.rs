//! Route rules: which requests are gated, and against which feature.
//!
//! Configured as JSON (`TOLLGATE_ROUTES`), a list tried in order; the first rule whose method
//! and path pattern match decides the feature and the amount:
//!
//! ```json
//! [ { "method": "POST", "path": "/api/projects",       "feature": "projects" },
//!   { "method": "*",    "path": "/api/v1/reports/:id", "feature": "advanced_analytics" },
//!   { "path": "/api/v1/*", "feature": "api_calls", "amount": 1 } ]
//! ```
//!
//! A pattern is a list of `/`-separated segments: a literal, `:name` (any one segment), or a
//! final `*` (any number of remaining segments, none included). `method` defaults to `*`,
//! `amount` to 1. A request no rule matches passes through to the origin ungated.

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    #[error("route rule {index}: path `{path}` must start with `/`")]
    RelativePath { index: usize, path: String },
    #[error("route rule {index}: `*` may only be the last segment of `{path}`")]
    InnerWildcard { index: usize, path: String },
    #[error("route rule {index}: feature must not be empty")]
    EmptyFeature { index: usize },
    #[error("route rule {index}: amount must be at least 1")]
    ZeroAmount { index: usize },
    #[error("route rule {index}: method `{method}` is not an HTTP method token")]
    BadMethod { index: usize, method: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default = "any_method")]
    method: String,
    path: String,
    feature: String,
    #[serde(default = "one")]
    amount: u64,
}

fn any_method() -> String {
    "*".to_owned()
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
    Rest,
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Upper-case method, or `None` for any.
    method: Option<String>,
    segments: Vec<Segment>,
    pub feature: String,
    pub amount: u64,
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        let mut parts = path_segments(path);
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::Param => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(lit) => {
                    if parts.next() != Some(lit.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// Segments of a path, ignoring empty ones (`//`, a trailing `/`).
fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The configured rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Parses the JSON list described in the module docs.
    pub fn parse(json: &str) -> Result<Self, RulesParseError> {
        let raw: Vec<RawRule> = serde_json::from_str(json).map_err(RulesParseError::Json)?;
        let rules = raw
            .into_iter()
            .enumerate()
            .map(|(index, r)| compile(index, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RulesParseError::Rule)?;
        Ok(Self(rules))
    }

    /// The first rule matching this request, if any.
    pub fn find(&self, method: &str, path: &str) -> Option<&Rule> {
        self.0.iter().find(|r| r.matches(method, path))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RulesParseError {
    #[error("not a JSON list of rules: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Rule(RuleError),
}

fn compile(index: usize, raw: RawRule) -> Result<Rule, RuleError> {
    if !raw.path.starts_with('/') {
        return Err(RuleError::RelativePath {
            index,
            path: raw.path,
        });
    }
    if raw.feature.trim().is_empty() {
        return Err(RuleError::EmptyFeature { index });
    }
    if raw.amount == 0 {
        return Err(RuleError::ZeroAmount { index });
    }
    let method = match raw.method.as_str() {
        "*" => None,
        m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Some(m.to_ascii_uppercase())
        }
        _ => {
            return Err(RuleError::BadMethod {
                index,
                method: raw.method,
            });
        }
    };
    let parts: Vec<&str> = path_segments(&raw.path).collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let segment = match *part {
            "*" if i + 1 == parts.len() => Segment::Rest,
            "*" => {
                return Err(RuleError::InnerWildcard {
                    index,
                    path: raw.path.clone(),
                });
            }
            p if p.starts_with(':') => Segment::Param,
            p => Segment::Literal(p.to_owned()),
        };
        segments.push(segment);
    }
    Ok(Rule {
        method,
        segments,
        feature: raw.feature,
        amount: raw.amount,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::parse(
            r#"[
              {"method": "POST", "path": "/api/projects", "feature": "projects"},
              {"method": "get", "path": "/api/reports/:id", "feature": "advanced_analytics"},
              {"path": "/api/v1/*", "feature": "api_calls", "amount": 2}
            ]"#,
        )
        .unwrap()
    }

    fn feature(method: &str, path: &str) -> Option<(String, u64)> {
        rules()
            .find(method, path)
            .map(|r| (r.feature.clone(), r.amount))
    }

    #[test]
    fn literal_paths_match_only_their_method() {
        assert_eq!(
            feature("POST", "/api/projects"),
            Some(("projects".into(), 1))
        );
        assert_eq!(
            feature("post", "/api/projects/"),
            Some(("projects".into(), 1))
        );
        assert_eq!(feature("GET", "/api/projects"), None);
        assert_eq!(feature("POST", "/api/projects/7"), None);
    }

    #[test]
    fn params_match_exactly_one_segment() {
        assert_eq!(
            feature("GET", "/api/reports/42"),
            Some(("advanced_analytics".into(), 1))
        );
        assert_eq!(feature("GET", "/api/reports"), None);
        assert_eq!(feature("GET", "/api/reports/42/pdf"), None);
    }

    #[test]
    fn a_trailing_wildcard_matches_the_rest() {
        assert_eq!(feature("DELETE", "/api/v1"), Some(("api_calls".into(), 2)));
        assert_eq!(
            feature("GET", "/api/v1/a/b/c"),
            Some(("api_calls".into(), 2))
        );
        assert_eq!(feature("GET", "/api/v2/a"), None);
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let rules = Rules::parse(
            r#"[{"path": "/a/special", "feature": "x"}, {"path": "/a/*", "feature": "y"}]"#,
        )
        .unwrap();
        assert_eq!(rules.find("GET", "/a/special").unwrap().feature, "x");
        assert_eq!(rules.find("GET", "/a/other").unwrap().feature, "y");
    }

    #[test]
    fn bad_rules_are_rejected_with_their_index() {
        let err = |json: &str| match Rules::parse(json) {
            Err(RulesParseError::Rule(e)) => e,
            other => panic!("expected a rule error, got {other:?}"),
        };
        assert_eq!(
            err(r#"[{"path": "/ok", "feature": "a"}, {"path": "api", "feature": "a"}]"#),
            RuleError::RelativePath {
                index: 1,
                path: "api".into()
            }
        );
        assert_eq!(
            err(r#"[{"path": "/a/*/b", "feature": "a"}]"#),
            RuleError::InnerWildcard {
                index: 0,
                path: "/a/*/b".into()
            }
        );
        assert_eq!(
            err(r#"[{"path": "/a", "feature": " "}]"#),
            RuleError::EmptyFeature { index: 0 }
        );
        assert_eq!(
            err(r#"[{"path": "/a", "feature": "a", "amount": 0}]"#),
            RuleError::ZeroAmount { index: 0 }
        );
        assert!(matches!(
            Rules::parse(r#"[{"path": "/a", "feature": "a", "weight": 3}]"#),
            Err(RulesParseError::Json(_))
        ));
    }
}
