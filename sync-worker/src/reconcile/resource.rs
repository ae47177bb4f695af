//! The Polar resources reconciliation walks, and where each lives in Polar and in PostgreSQL.

use crate::polar::ObjectKind;

/// A Polar list tollgate mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Resource {
    Products,
    Customers,
    Subscriptions,
    Orders,
    BenefitGrants,
}

impl Resource {
    /// Every resource, in the order a full reconcile walks them: products and customers first,
    /// so that the objects that embed them find them current.
    pub const ALL: [Resource; 5] = [
        Resource::Products,
        Resource::Customers,
        Resource::Subscriptions,
        Resource::Orders,
        Resource::BenefitGrants,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Customers => "customers",
            Self::Subscriptions => "subscriptions",
            Self::Orders => "orders",
            Self::BenefitGrants => "benefit_grants",
        }
    }

    /// One object of this resource, as named in audit subjects (`subscription:<id>`).
    pub(crate) fn singular(self) -> &'static str {
        match self {
            Self::Products => "product",
            Self::Customers => "customer",
            Self::Subscriptions => "subscription",
            Self::Orders => "order",
            Self::BenefitGrants => "benefit_grant",
        }
    }

    /// The list endpoint.
    pub fn list_path(self) -> &'static str {
        match self {
            Self::Products => "/v1/products/",
            Self::Customers => "/v1/customers/",
            Self::Subscriptions => "/v1/subscriptions/",
            Self::Orders => "/v1/orders/",
            Self::BenefitGrants => "/v1/benefit-grants/",
        }
    }

    /// The endpoint of one object, for resources Polar serves one by one.
    pub(crate) fn get_path(self, id: &str) -> Option<String> {
        match self {
            Self::Customers => Some(format!("/v1/customers/{id}")),
            Self::Subscriptions => Some(format!("/v1/subscriptions/{id}")),
            Self::Products => Some(format!("/v1/products/{id}")),
            Self::Orders => Some(format!("/v1/orders/{id}")),
            Self::BenefitGrants => None,
        }
    }

    /// Oldest first, so that objects created while we page land on the last page instead of
    /// shifting earlier pages under us.
    pub(crate) fn sorting(self) -> &'static str {
        match self {
            Self::Subscriptions => "started_at",
            _ => "created_at",
        }
    }

    /// The table that stores it (a fixed name, safe to splice into SQL).
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Customers => "customers",
            Self::Subscriptions => "subscriptions",
            Self::Orders => "orders",
            Self::BenefitGrants => "benefit_grants",
        }
    }

    pub(crate) fn kind(self) -> ObjectKind {
        match self {
            Self::Products => ObjectKind::Product,
            Self::Customers => ObjectKind::Customer,
            Self::Subscriptions => ObjectKind::Subscription,
            Self::Orders => ObjectKind::Order,
            Self::BenefitGrants => ObjectKind::BenefitGrant,
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
