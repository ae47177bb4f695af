//! Why a catalog was rejected, with the place named so the operator can fix it.

/// A catalog the engine refuses. `code()` is stable; the message names the place and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("the catalog is not valid TOML: {0}")]
    InvalidToml(String),
    #[error("`default_plan` is missing: name the plan of customers without a subscription")]
    MissingDefaultPlan,
    #[error("`default_plan` is `{0}`, but no plan `{0}` is defined under [plans]")]
    UnknownDefaultPlan(String),
    #[error("`plans.{plan}.limits.{feature}`: feature `{feature}` is not defined under [features]")]
    UnknownFeature { plan: String, feature: String },
    #[error(
        "plans `{first}` and `{second}` both have rank {rank}: ranks order upgrades and must differ"
    )]
    DuplicateRank {
        first: String,
        second: String,
        rank: i64,
    },
    #[error("`{place}`: {problem}")]
    InvalidLimit { place: String, problem: String },
    #[error(
        "`{place}`: `{value}` is not a size: write a whole number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, or \"unlimited\" or \"seats\""
    )]
    InvalidSize { place: String, value: String },
    #[error("`{place}`: `{value}` is not one of {allowed}")]
    InvalidPolicy {
        place: String,
        value: String,
        allowed: &'static str,
    },
    #[error("`features.{feature}`: {problem}")]
    InvalidFeature { feature: String, problem: String },
}

impl CatalogError {
    /// A stable, machine-readable code for this kind of rejection.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::InvalidToml(_) => "invalid_toml",
            CatalogError::MissingDefaultPlan => "missing_default_plan",
            CatalogError::UnknownDefaultPlan(_) => "unknown_default_plan",
            CatalogError::UnknownFeature { .. } => "unknown_feature",
            CatalogError::DuplicateRank { .. } => "duplicate_rank",
            CatalogError::InvalidLimit { .. } => "invalid_limit",
            CatalogError::InvalidSize { .. } => "invalid_size",
            CatalogError::InvalidPolicy { .. } => "invalid_policy",
            CatalogError::InvalidFeature { .. } => "invalid_feature",
        }
    }
}
