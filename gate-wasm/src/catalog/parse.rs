//! From TOML text to a validated `Catalog`.
//!
//! serde reads the shape (and rejects unknown keys, so a typo such as `grace_day` is an error,
//! not a silently ignored setting); this module then checks meaning and names each place.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{
    Catalog, CatalogError, Feature, FeatureType, OnStale, Overage, Plan, PlanIndex, PlanLimit,
    Reset,
};
use crate::order::sorted_by;
use crate::quantity::{Allowance, Limit, WarnAt, parse_size};

const DEFAULT_STALE_AFTER_HOURS: u32 = 7 * 24;

/// The limit written for "as many as the subscription has seats".
const SEATS: &str = "seats";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    default_plan: Option<String>,
    stale_after_hours: Option<u32>,
    #[serde(default)]
    features: Entries<RawFeature>,
    #[serde(default)]
    plans: Entries<RawPlan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    #[serde(rename = "type")]
    kind: String,
    unit: Option<String>,
    reset: Option<String>,
    on_stale: Option<String>,
    // Read as TOML values, whose reader the limits already need: a `bool` and a `u64` field
    // would each add a copy of basic-toml's visitor code to the WebAssembly module.
    exact: Option<Value>,
    lease: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    rank: i64,
    #[serde(default)]
    polar_products: Vec<String>,
    #[serde(default)]
    polar_metadata: BTreeMap<String, Value>,
    #[serde(default)]
    grace_days: u32,
    #[serde(default)]
    limits: BTreeMap<String, Value>,
}

/// A TOML table's entries, in key order like a `BTreeMap`'s. A `Vec`, because every distinct
/// map type adds its own copy of the B-tree code to the WebAssembly module; the TOML reader
/// already rejects a key written twice, so no key repeats.
struct Entries<T>(Vec<(String, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(sorted_by(entries, |(a, _), (b, _)| a.cmp(b))))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

pub(super) fn parse(text: &str) -> Result<Catalog, CatalogError> {
    let raw: RawCatalog = basic_toml::from_str(text)
        .map_err(|e| CatalogError::InvalidToml(e.to_string().trim().to_owned()))?;

    let features = raw
        .features
        .0
        .into_iter()
        .map(|(key, f)| feature(key, f))
        .collect::<Result<Vec<_>, _>>()?;

    let plans = raw
        .plans
        .0
        .into_iter()
        .map(|(key, p)| plan(key, p, &features))
        .collect::<Result<Vec<_>, _>>()?;
    let plans = sorted_by(plans, |a, b| a.rank.cmp(&b.rank));
    if let Some([a, b]) = plans
        .windows(2)
        .find(|w| matches!(w, [a, b] if a.rank == b.rank))
    {
        let (first, second) = if a.key < b.key { (a, b) } else { (b, a) };
        return Err(CatalogError::DuplicateRank {
            first: first.key.clone(),
            second: second.key.clone(),
            rank: a.rank,
        });
    }

    let default_key = raw.default_plan.ok_or(CatalogError::MissingDefaultPlan)?;
    let default_plan = plans
        .iter()
        .position(|p| p.key == default_key)
        .map(PlanIndex::new)
        .ok_or(CatalogError::UnknownDefaultPlan(default_key))?;
    if let Some(plan) = plans.get(default_plan.get()) {
        seatless(plan)?;
    }

    let stale_after_hours = raw.stale_after_hours.unwrap_or(DEFAULT_STALE_AFTER_HOURS);
    if stale_after_hours == 0 {
        return Err(CatalogError::InvalidPolicy {
            place: "stale_after_hours".into(),
            value: "0".into(),
            allowed: "a whole number of hours, at least 1",
        });
    }

    Ok(Catalog {
        features,
        plans,
        default_plan,
        stale_after_hours,
    })
}

fn feature(key: String, raw: RawFeature) -> Result<Feature, CatalogError> {
    let kind = match raw.kind.as_str() {
        "gauge" => FeatureType::Gauge,
        "metered" => FeatureType::Metered,
        "boolean" => FeatureType::Boolean,
        other => {
            return Err(CatalogError::InvalidFeature {
                problem: format!("type `{other}` is not one of gauge, metered, boolean"),
                feature: key,
            });
        }
    };
    let reset = match (kind, raw.reset.as_deref()) {
        (FeatureType::Metered, None) => Some(Reset::BillingPeriod),
        (FeatureType::Metered, Some(text)) => Some(policy(
            &format!("features.{key}.reset"),
            text,
            "billing_period, month, day, never",
            |t| match t {
                "billing_period" => Some(Reset::BillingPeriod),
                "month" => Some(Reset::Month),
                "day" => Some(Reset::Day),
                "never" => Some(Reset::Never),
                _ => None,
            },
        )?),
        (_, Some(_)) => {
            return Err(CatalogError::InvalidFeature {
                problem: format!(
                    "`reset` applies to metered features only, and `{key}` is a {}",
                    raw.kind
                ),
                feature: key,
            });
        }
        (_, None) => None,
    };
    let on_stale = match raw.on_stale.as_deref() {
        None => OnStale::default(),
        Some(text) => policy(
            &format!("features.{key}.on_stale"),
            text,
            "last_known_good, open, closed",
            |t| match t {
                "last_known_good" => Some(OnStale::LastKnownGood),
                "open" => Some(OnStale::Open),
                "closed" => Some(OnStale::Closed),
                _ => None,
            },
        )?,
    };
    let (exact, lease) = exactness(&key, kind, &raw)?;
    Ok(Feature {
        key,
        kind,
        reset,
        unit: raw.unit,
        on_stale,
        exact,
        lease,
    })
}

/// `exact` counts uses in a period, so only metered features take it; `lease` sizes its
/// allowances, so it needs `exact` and at least one unit.
fn exactness(
    key: &str,
    kind: FeatureType,
    raw: &RawFeature,
) -> Result<(bool, Option<u64>), CatalogError> {
    let exact = match &raw.exact {
        None => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => None,
    };
    let lease = raw.lease.as_ref().map(|v| v.as_u64().filter(|n| *n > 0));
    let problem = match (exact, lease) {
        (None, _) => "`exact` is true or false",
        (Some(true), _) if kind != FeatureType::Metered => {
            "`exact` applies to metered features only"
        }
        (Some(false), Some(_)) => "`lease` needs `exact = true`",
        (_, Some(None)) => "`lease` is a whole number of units, at least 1",
        (Some(exact), lease) => return Ok((exact, lease.flatten())),
    };
    Err(CatalogError::InvalidFeature {
        feature: key.to_owned(),
        problem: problem.to_owned(),
    })
}

fn plan(key: String, raw: RawPlan, features: &[Feature]) -> Result<Plan, CatalogError> {
    let mut limits = BTreeMap::new();
    for (feature_key, value) in raw.limits {
        let Some(feature) = features.iter().find(|f| f.key == feature_key) else {
            return Err(CatalogError::UnknownFeature {
                plan: key,
                feature: feature_key,
            });
        };
        let place = format!("plans.{key}.limits.{feature_key}");
        if let Some(limit) = plan_limit(&place, feature, &value)? {
            limits.insert(feature_key, limit);
        }
    }
    // Inserted one by one: `collect` into a map would add another copy of the sort.
    let mut polar_metadata = BTreeMap::new();
    for (k, v) in raw.polar_metadata {
        let text = metadata_text(&v);
        polar_metadata.insert(k, text);
    }
    Ok(Plan {
        key,
        name: raw.name,
        rank: raw.rank,
        polar_products: raw.polar_products,
        polar_metadata,
        grace_days: raw.grace_days,
        limits,
    })
}

/// One plan's limit for one feature; `None` when a boolean is listed as `false`.
fn plan_limit(
    place: &str,
    feature: &Feature,
    value: &Value,
) -> Result<Option<PlanLimit>, CatalogError> {
    let invalid = |problem: String| CatalogError::InvalidLimit {
        place: place.to_owned(),
        problem,
    };
    if feature.kind == FeatureType::Boolean {
        return match value {
            Value::Bool(true) => Ok(Some(PlanLimit {
                limit: Allowance::Enabled,
                overage: Overage::Block,
                warn_at: None,
                seats: false,
            })),
            Value::Bool(false) => Ok(None),
            other => Err(invalid(format!(
                "`{}` is a boolean feature: write true or false, not {}",
                feature.key,
                describe(other)
            ))),
        };
    }
    let Value::Object(table) = value else {
        let (limit, seats) = amount(place, feature, value)?;
        return Ok(Some(PlanLimit {
            limit: Allowance::Units(limit),
            overage: Overage::Block,
            warn_at: None,
            seats,
        }));
    };
    if let Some(unknown) = table
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "overage" | "warn_at"))
    {
        return Err(invalid(format!(
            "unknown key `{unknown}`: a limit takes limit, overage and warn_at"
        )));
    }
    let (limit, seats) = match table.get("limit") {
        Some(v) => amount(&format!("{place}.limit"), feature, v)?,
        None => return Err(invalid("`limit` is missing".into())),
    };
    let overage = match table.get("overage") {
        None => Overage::Block,
        Some(Value::String(text)) => policy(
            &format!("{place}.overage"),
            text,
            "block, bill, warn",
            |t| match t {
                "block" => Some(Overage::Block),
                "bill" => Some(Overage::Bill),
                "warn" => Some(Overage::Warn),
                _ => None,
            },
        )?,
        Some(other) => {
            return Err(CatalogError::InvalidPolicy {
                place: format!("{place}.overage"),
                value: describe(other),
                allowed: "block, bill, warn",
            });
        }
    };
    if feature.exact && !overage.is_block() {
        return Err(invalid(
            "the feature is exact, so its limit blocks: remove `overage` or `exact`".to_owned(),
        ));
    }
    let warn_at =
        match table.get("warn_at") {
            None => None,
            Some(v) => {
                let ratio = v.as_f64();
                Some(ratio.and_then(WarnAt::from_ratio).ok_or_else(|| {
                    CatalogError::InvalidLimit {
                        place: format!("{place}.warn_at"),
                        problem: format!(
                            "{} is not a fraction of the limit in (0, 1], such as 0.8",
                            describe(v)
                        ),
                    }
                })?)
            }
        };
    Ok(Some(PlanLimit {
        limit: Allowance::Units(limit),
        overage,
        warn_at,
        seats,
    }))
}

/// A gauge or metered limit as written: a quantity, or `"seats"` — the entitling subscription's
/// units, known only per customer (the limit here is then 0, for readers without seat limits).
fn amount(place: &str, feature: &Feature, value: &Value) -> Result<(Limit, bool), CatalogError> {
    if value.as_str() == Some(SEATS) {
        return Ok((Limit::Finite(0), true));
    }
    Ok((quantity(place, feature, value)?, false))
}

/// A gauge or metered limit: a whole number, a size, or `"unlimited"`.
fn quantity(place: &str, feature: &Feature, value: &Value) -> Result<Limit, CatalogError> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            n.as_u64()
                .map(Limit::Finite)
                .ok_or_else(|| CatalogError::InvalidLimit {
                    place: place.to_owned(),
                    problem: format!("{n} is negative: a limit is a whole number of units"),
                })
        }
        Value::String(s) if s == "unlimited" => Ok(Limit::Unlimited),
        Value::String(s) => {
            parse_size(s)
                .map(Limit::Finite)
                .ok_or_else(|| CatalogError::InvalidSize {
                    place: place.to_owned(),
                    value: s.clone(),
                })
        }
        other => Err(CatalogError::InvalidLimit {
            place: place.to_owned(),
            problem: format!(
                "`{}` is a {} feature: give a whole number, a size such as \"50GB\", \"unlimited\" or \"seats\", not {}",
                feature.key,
                match feature.kind {
                    FeatureType::Gauge => "gauge",
                    _ => "metered",
                },
                describe(other)
            ),
        }),
    }
}

/// The default plan is the plan without a subscription, so it has no seats to count.
fn seatless(plan: &Plan) -> Result<(), CatalogError> {
    match plan.limits.iter().find(|(_, limit)| limit.seats) {
        Some((feature, _)) => Err(CatalogError::InvalidLimit {
            place: format!("plans.{}.limits.{feature}", plan.key),
            problem: format!(
                "`{}` is the default plan, which has no subscription to count seats from: give a number",
                plan.key
            ),
        }),
        None => Ok(()),
    }
}

fn policy<T>(
    place: &str,
    text: &str,
    allowed: &'static str,
    read: impl Fn(&str) -> Option<T>,
) -> Result<T, CatalogError> {
    read(text).ok_or_else(|| CatalogError::InvalidPolicy {
        place: place.to_owned(),
        value: text.to_owned(),
        allowed,
    })
}

/// Metadata values compare as strings: `2`, `"2"` and `true`, `"true"` are the same.
fn metadata_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => describe(other),
    }
}

/// A TOML value as an error message quotes it.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "nothing".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}
