//! The simulator's objects, as it stores them.
//!
//! These are the facts; `render` turns them into Polar's JSON shapes (with nested customer,
//! product and benefit objects) at the moment a response or webhook is produced.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Polar metadata: a flat map of string keys to strings, numbers or booleans.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The instant `count` intervals after `from` (calendar months and years, like Polar).
    pub fn after(self, from: DateTime<Utc>, count: u32) -> DateTime<Utc> {
        let shifted = match self {
            Self::Day => Some(from + chrono::Duration::days(i64::from(count))),
            Self::Week => Some(from + chrono::Duration::weeks(i64::from(count))),
            Self::Month => from.checked_add_months(Months::new(count)),
            Self::Year => from.checked_add_months(Months::new(count.saturating_mul(12))),
        };
        shifted.unwrap_or(from)
    }
}

/// How many seats a seat-based price sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatLimits {
    pub minimum: u32,
    /// `None` for unlimited.
    pub maximum: Option<u32>,
}

impl SeatLimits {
    pub fn allows(self, seats: u32) -> bool {
        seats >= self.minimum && self.maximum.is_none_or(|m| seats <= m)
    }
}

#[derive(Debug, Clone)]
pub struct Price {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Minor units per period; per seat when the price is seat-based.
    pub amount: i64,
    pub currency: String,
    /// Set for a seat-based price (one volume tier).
    pub seats: Option<SeatLimits>,
}

impl Price {
    /// What a period costs for `seats` seats (ignored unless the price is seat-based).
    pub fn total(&self, seats: Option<u32>) -> i64 {
        match (self.seats, seats) {
            (Some(_), Some(n)) => self.amount.saturating_mul(i64::from(n)),
            _ => self.amount,
        }
    }

    /// The seats a purchase gets when it names none: the price's minimum.
    pub fn default_seats(&self) -> Option<u32> {
        self.seats.map(|s| s.minimum)
    }
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: Option<DateTime<Utc>>,
    pub name: String,
    pub description: Option<String>,
    /// `None` for one-time products.
    pub recurring_interval: Option<Interval>,
    pub trial_days: Option<u32>,
    pub metadata: Metadata,
    pub is_archived: bool,
    pub price: Price,
    pub benefit_ids: Vec<Uuid>,
}

/// A feature-flag benefit; its metadata is the flag payload.
#[derive(Debug, Clone)]
pub struct Benefit {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: Option<DateTime<Utc>>,
    pub description: String,
    pub metadata: Metadata,
}

/// A meter counting ingested events of one name.
#[derive(Debug, Clone)]
pub struct Meter {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub event_name: String,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: Option<DateTime<Utc>>,
    pub external_id: Option<String>,
    pub email: String,
    pub name: Option<String>,
    pub metadata: Metadata,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
        }
    }

    /// Polar's "active set": the statuses that count as an active subscription.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Trialing | Self::Active)
    }

    /// Polar's "revoked set": the subscription has ended.
    pub fn is_revoked(self) -> bool {
        matches!(self, Self::Canceled | Self::Unpaid)
    }
}

/// A product change scheduled for the next period (`proration_behavior = next_period`).
#[derive(Debug, Clone)]
pub struct PendingUpdate {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub applies_at: DateTime<Utc>,
    pub product_id: Uuid,
    /// A seat change scheduled for the next period.
    pub seats: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub amount: i64,
    pub currency: String,
    pub interval: Interval,
    pub status: SubscriptionStatus,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub trial_start: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub past_due_at: Option<DateTime<Utc>>,
    pub customer_id: Uuid,
    pub product_id: Uuid,
    pub checkout_id: Option<Uuid>,
    pub cancellation_reason: Option<String>,
    pub cancellation_comment: Option<String>,
    pub metadata: Metadata,
    pub pending_update: Option<PendingUpdate>,
    /// Seats bought, for a seat-based product; `None` otherwise.
    pub seats: Option<u32>,
    /// The discount applied to the subscription's invoices, if any.
    pub discount: Option<Discount>,
}

/// How long a discount applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscountDuration {
    /// The next invoice only.
    Once,
    #[default]
    Forever,
    /// The invoices of `duration_in_months` months from when it was applied.
    Repeating,
}

/// What a discount takes off an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DiscountOff {
    /// A share of the amount, in basis points (2 500 = 25 %).
    Percentage { basis_points: u32 },
    /// A fixed amount in the subscription's currency, minor units.
    Fixed { amount: i64 },
}

/// A discount as applied to one subscription.
#[derive(Debug, Clone)]
pub struct Discount {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub off: DiscountOff,
    pub duration: DiscountDuration,
    pub duration_in_months: Option<u32>,
    /// Invoices it has reduced so far (a `once` discount stops after one).
    pub invoices: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingReason {
    Purchase,
    SubscriptionCreate,
    SubscriptionCycle,
    SubscriptionUpdate,
}

impl BillingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::SubscriptionCreate => "subscription_create",
            Self::SubscriptionCycle => "subscription_cycle",
            Self::SubscriptionUpdate => "subscription_update",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderItem {
    pub id: Uuid,
    pub label: String,
    pub amount: i64,
    pub proration: bool,
    pub price_id: Option<Uuid>,
    /// The period the item pays for (a subscription's items only).
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub currency: String,
    pub billing_reason: BillingReason,
    /// The customer's name when the order was made; a later rename does not change it.
    pub billing_name: Option<String>,
    pub invoice_number: String,
    pub customer_id: Uuid,
    pub product_id: Uuid,
    pub subscription_id: Option<Uuid>,
    pub checkout_id: Option<Uuid>,
    pub items: Vec<OrderItem>,
    pub refunded_amount: i64,
    pub metadata: Metadata,
    pub next_payment_attempt_at: Option<DateTime<Utc>>,
    /// The subscription's seats when the order was made (seat-based products only).
    pub seats: Option<u32>,
}

impl Order {
    /// Sum of the items; the simulator charges no tax.
    pub fn subtotal(&self) -> i64 {
        self.items.iter().map(|i| i.amount).sum()
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub reason: String,
    pub amount: i64,
    pub currency: String,
    pub order_id: Uuid,
    pub subscription_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub revoke_benefits: bool,
    pub metadata: Metadata,
}

#[derive(Debug, Clone)]
pub struct BenefitGrant {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub granted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub subscription_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub benefit_id: Uuid,
}

impl BenefitGrant {
    pub fn is_granted(&self) -> bool {
        self.granted_at.is_some() && self.revoked_at.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Open,
    Expired,
    Confirmed,
    Succeeded,
    Failed,
}

impl CheckoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Expired => "expired",
            Self::Confirmed => "confirmed",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: Option<DateTime<Utc>>,
    pub status: CheckoutStatus,
    pub client_secret: String,
    pub expires_at: DateTime<Utc>,
    pub success_url: String,
    pub return_url: Option<String>,
    pub product_ids: Vec<Uuid>,
    pub product_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub external_customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub metadata: Metadata,
    pub customer_metadata: Metadata,
    pub allow_trial: bool,
    /// A trial set on the checkout itself, overriding the product's.
    pub trial_days: Option<u32>,
    pub subscription_id: Option<Uuid>,
    /// Seats chosen for a seat-based product; the price's minimum when none was given.
    pub seats: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub return_url: Option<String>,
    pub customer_id: Uuid,
}

/// An ingested usage event.
#[derive(Debug, Clone)]
pub struct UsageEvent {
    pub name: String,
    pub customer_id: Option<Uuid>,
    pub external_customer_id: Option<String>,
}

/// The (customer, meter) pair Polar tracks once a customer has usage on a meter.
#[derive(Debug, Clone)]
pub struct CustomerMeter {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub customer_id: Uuid,
    pub meter_id: Uuid,
    pub consumed_units: u64,
}
