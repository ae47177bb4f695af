//! Quantities: limits, sizes and soft-limit ratios, all in exact integer arithmetic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// How much of a gauge or metered feature a plan allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Finite(u64),
    Unlimited,
}

impl Limit {
    /// This limit raised by `more` (a grant), saturating.
    pub(crate) fn plus(self, more: Limit) -> Limit {
        match (self, more) {
            (Limit::Finite(a), Limit::Finite(b)) => Limit::Finite(a.saturating_add(b)),
            _ => Limit::Unlimited,
        }
    }

    /// Whether `level` fits under this limit.
    pub(crate) fn admits(self, level: u64) -> bool {
        match self {
            Limit::Finite(limit) => level <= limit,
            Limit::Unlimited => true,
        }
    }
}

/// A soft-limit threshold, `warn_at`, held in millionths so comparisons are exact
/// (`0.7 × 100` must be 70, which floating point does not give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarnAt(u32);

impl WarnAt {
    const SCALE: u32 = 1_000_000;

    /// Reads a ratio in `(0, 1]`, to six decimals.
    pub fn from_ratio(ratio: f64) -> Option<WarnAt> {
        if !(ratio > 0.0 && ratio <= 1.0) {
            return None;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ratio in (0, 1]"
        )]
        let millionths = (ratio * f64::from(Self::SCALE)).round() as u32;
        (millionths > 0).then_some(WarnAt(millionths))
    }

    pub fn as_ratio(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }

    /// Whether `level` has reached this fraction of `limit`.
    pub(crate) fn reached(self, level: u64, limit: u64) -> bool {
        u128::from(level) * u128::from(Self::SCALE) >= u128::from(self.0) * u128::from(limit)
    }
}

impl Serialize for WarnAt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_ratio())
    }
}

impl<'de> Deserialize<'de> for WarnAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ratio = f64::deserialize(d)?;
        WarnAt::from_ratio(ratio).ok_or_else(|| de::Error::custom("warn_at must be in (0, 1]"))
    }
}

/// Reads a size such as `50GB`, `1.5 GiB`, `1000` or `2TB`: KB/MB/GB/TB are powers of 1000,
/// KiB/MiB/GiB/TiB powers of 1024. The result must be a whole number of units.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') || fraction.len() > 12 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut total = whole.checked_mul(multiplier)?;
    if !fraction.is_empty() {
        let digits: u64 = fraction.parse().ok()?;
        let scale = 10u64.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        let scaled = u128::from(digits) * u128::from(multiplier);
        if scaled % u128::from(scale) != 0 {
            return None;
        }
        total = total.checked_add(u64::try_from(scaled / u128::from(scale)).ok()?)?;
    }
    Some(total)
}

/// A limit as written in snapshots: a number, `"unlimited"`, or `true` for a boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowance {
    Units(Limit),
    Enabled,
}

impl Serialize for Allowance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Allowance::Units(Limit::Finite(n)) => s.serialize_u64(*n),
            Allowance::Units(Limit::Unlimited) => s.serialize_str("unlimited"),
            Allowance::Enabled => s.serialize_bool(true),
        }
    }
}

impl<'de> Deserialize<'de> for Allowance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Allowance;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, \"unlimited\" or true")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Allowance, E> {
                Ok(Allowance::Units(Limit::Finite(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Allowance, E> {
                u64::try_from(v)
                    .map(|v| Allowance::Units(Limit::Finite(v)))
                    .map_err(|_| E::custom("a limit cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Allowance, E> {
                match v {
                    "unlimited" => Ok(Allowance::Units(Limit::Unlimited)),
                    _ => Err(E::custom(format!("`{v}` is not \"unlimited\""))),
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Allowance, E> {
                if v {
                    Ok(Allowance::Enabled)
                } else {
                    Err(E::custom(
                        "an allowance of false is no allowance: leave it out",
                    ))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("50GB"), Some(50_000_000_000));
        assert_eq!(parse_size("1.5 GiB"), Some(1_610_612_736));
        assert_eq!(parse_size("2KiB"), Some(2048));
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("1.0000001KB"), None);
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("GB"), None);
        assert_eq!(parse_size("99999999999TB"), None);
    }

    #[test]
    fn warn_at_is_exact() {
        let w = WarnAt::from_ratio(0.7).unwrap();
        assert!(w.reached(70, 100));
        assert!(!w.reached(69, 100));
        assert!(WarnAt::from_ratio(0.0).is_none());
        assert!(WarnAt::from_ratio(1.5).is_none());
    }

    #[test]
    fn allowance_json() {
        let a: Allowance = serde_json::from_str("\"unlimited\"").unwrap();
        assert_eq!(a, Allowance::Units(Limit::Unlimited));
        assert_eq!(serde_json::to_string(&Allowance::Enabled).unwrap(), "true");
        assert!(serde_json::from_str::<Allowance>("-3").is_err());
    }
}
