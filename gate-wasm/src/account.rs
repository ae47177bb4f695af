//! What the sync worker knows about one customer: the input of `build_snapshot`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::polar::Subscription;
use crate::quantity::Limit;
use crate::time::Timestamp;

/// One customer's billing facts. The same JSON shape in Rust, JavaScript and the CLI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The app's id for the customer (Polar's `external_id`).
    pub customer: String,
    /// Polar subscription objects, as Polar sends them.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Metered counts of the current period, by feature.
    #[serde(default)]
    pub usage: BTreeMap<String, u64>,
    /// Gauge levels, by feature.
    #[serde(default)]
    pub gauges: BTreeMap<String, u64>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Grows with every change; snapshots carry it so stale writes can be refused.
    #[serde(default)]
    pub revision: u64,
}

/// Extra allowance given to one customer, on top of the plan, until it expires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub feature: String,
    pub amount: GrantAmount,
    /// `None`: no expiry.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// A grant's amount: units added to a limit, `"unlimited"`, or `true` for a boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantAmount {
    Units(u64),
    Unlimited,
    Enabled,
}

impl GrantAmount {
    /// As a limit increment, for gauge and metered features.
    pub(crate) fn as_limit(self) -> Option<Limit> {
        match self {
            GrantAmount::Units(n) => Some(Limit::Finite(n)),
            GrantAmount::Unlimited => Some(Limit::Unlimited),
            GrantAmount::Enabled => None,
        }
    }
}

impl Serialize for GrantAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            GrantAmount::Units(n) => s.serialize_u64(*n),
            GrantAmount::Unlimited => s.serialize_str("unlimited"),
            GrantAmount::Enabled => s.serialize_bool(true),
        }
    }
}

impl<'de> Deserialize<'de> for GrantAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = GrantAmount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of units, \"unlimited\" or true")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GrantAmount, E> {
                Ok(GrantAmount::Units(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GrantAmount, E> {
                u64::try_from(v)
                    .map(GrantAmount::Units)
                    .map_err(|_| E::custom("a grant cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GrantAmount, E> {
                if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked"
                    )]
                    Ok(GrantAmount::Units(v as u64))
                } else {
                    Err(E::custom("a grant is a whole number of units"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GrantAmount, E> {
                match v {
                    "unlimited" => Ok(GrantAmount::Unlimited),
                    _ => Err(E::custom(format!("`{v}` is not \"unlimited\""))),
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<GrantAmount, E> {
                if v {
                    Ok(GrantAmount::Enabled)
                } else {
                    Err(E::custom("a grant of false grants nothing"))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}
