//! Polar's webhook envelope and the few fields of each object tollgate reads.
//!
//! The objects themselves are kept whole as raw JSON; the views here only pull out what the
//! database queries on. Polar adds fields often, so every view ignores unknown fields, and an
//! unknown event type is a valid delivery that tollgate stores without applying.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// Why a verified body is not a webhook tollgate can store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("the body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the body is not a Polar webhook envelope: {0}")]
    Envelope(#[source] serde_json::Error),
    #[error("the `data` of a `{event_type}` event does not match Polar's {object}: {source}")]
    Object {
        event_type: String,
        object: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the `data` of a `{0}` event is not an object Polar's engine types accept: {1}")]
    Engine(String, String),
    #[error(
        "the `data` of a `{0}` event holds a \\u0000, an unpaired surrogate escape or a number beyond 64-bit floating point, which tollgate cannot store and read back"
    )]
    Unstorable(String),
}

/// `{"type", "timestamp", "data", "api_version"?}` as Polar sends it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Envelope {
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    #[serde(default)]
    pub(crate) timestamp: Option<DateTime<Utc>>,
    pub(crate) data: Box<RawValue>,
}

/// The object an event carries, by the event's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Subscription,
    Customer,
    Order,
    Refund,
    Product,
    BenefitGrant,
    Checkout,
}

impl ObjectKind {
    /// The kind of object `event_type` carries, or `None` for a type tollgate does not apply
    /// (stored and acknowledged all the same, so Polar does not retry it).
    pub(crate) fn of_event(event_type: &str) -> Option<Self> {
        Some(match event_type {
            "subscription.created"
            | "subscription.updated"
            | "subscription.active"
            | "subscription.canceled"
            | "subscription.uncanceled"
            | "subscription.cycled"
            | "subscription.revoked"
            | "subscription.past_due"
            | "subscription.paused"
            | "subscription.resumed"
            | "subscription.migrated" => Self::Subscription,
            "customer.created"
            | "customer.updated"
            | "customer.deleted"
            | "customer.state_changed" => Self::Customer,
            "order.created" | "order.updated" | "order.paid" | "order.refunded" => Self::Order,
            "refund.created" | "refund.updated" => Self::Refund,
            "product.created" | "product.updated" => Self::Product,
            "benefit_grant.created"
            | "benefit_grant.updated"
            | "benefit_grant.cycled"
            | "benefit_grant.revoked" => Self::BenefitGrant,
            "checkout.created" | "checkout.updated" | "checkout.expired" => Self::Checkout,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Subscription => "Subscription",
            Self::Customer => "Customer",
            Self::Order => "Order",
            Self::Refund => "Refund",
            Self::Product => "Product",
            Self::BenefitGrant => "BenefitGrant",
            Self::Checkout => "Checkout",
        }
    }
}

/// Fields every Polar object has. `version_at` orders two versions of one object.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Versioned {
    pub(crate) id: String,
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) modified_at: Option<DateTime<Utc>>,
}

impl Versioned {
    /// `modified_at`, or `created_at` for an object Polar never modified.
    pub(crate) fn version_at(&self) -> DateTime<Utc> {
        self.modified_at.unwrap_or(self.created_at)
    }
}

/// A typed view of a Polar object; read one with [`view`].
pub(crate) trait View: DeserializeOwned {
    fn version_mut(&mut self) -> &mut Versioned;
}

/// Reads the view `T` of the object `raw`. The fields every object has are read in a second
/// pass over the text rather than with `#[serde(flatten)]`, which would first copy the whole
/// object, embedded objects included, into a buffer: webhooks are parsed on the hot path.
pub(crate) fn view<T: View>(raw: &RawValue) -> Result<T, serde_json::Error> {
    let mut view: T = serde_json::from_str(raw.get())?;
    *view.version_mut() = serde_json::from_str(raw.get())?;
    Ok(view)
}

/// Whether `raw` is a JSON object (views read only objects).
pub(crate) fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

macro_rules! views {
    ($($view:ty),*) => {$(
        impl View for $view {
            fn version_mut(&mut self) -> &mut Versioned {
                &mut self.version
            }
        }
    )*};
}
views!(
    Customer,
    Product,
    Subscription,
    Order,
    Refund,
    BenefitGrant,
    Checkout
);

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Customer {
    #[serde(skip)]
    pub(crate) version: Versioned,
    #[serde(default)]
    pub(crate) external_id: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Product {
    #[serde(skip)]
    pub(crate) version: Versioned,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) is_archived: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Subscription {
    #[serde(skip)]
    pub(crate) version: Versioned,
    pub(crate) customer_id: String,
    pub(crate) product_id: String,
    pub(crate) status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Order {
    #[serde(skip)]
    pub(crate) version: Versioned,
    pub(crate) customer_id: String,
    #[serde(default)]
    pub(crate) subscription_id: Option<String>,
    #[serde(default)]
    pub(crate) product_id: Option<String>,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) billing_reason: Option<String>,
    pub(crate) currency: String,
    pub(crate) total_amount: i64,
    #[serde(default)]
    pub(crate) refunded_amount: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Refund {
    #[serde(skip)]
    pub(crate) version: Versioned,
    pub(crate) order_id: String,
    pub(crate) customer_id: String,
    #[serde(default)]
    pub(crate) subscription_id: Option<String>,
    pub(crate) status: String,
    pub(crate) currency: String,
    pub(crate) amount: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BenefitGrant {
    #[serde(skip)]
    pub(crate) version: Versioned,
    pub(crate) customer_id: String,
    pub(crate) benefit_id: String,
    #[serde(default)]
    pub(crate) subscription_id: Option<String>,
    #[serde(default)]
    pub(crate) order_id: Option<String>,
    pub(crate) is_granted: bool,
    pub(crate) is_revoked: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Checkout {
    #[serde(skip)]
    pub(crate) version: Versioned,
    #[serde(default)]
    pub(crate) customer_id: Option<String>,
    pub(crate) status: String,
}

/// A verified delivery, parsed: its envelope and the typed view of its object.
#[derive(Debug, Clone)]
pub struct Event {
    pub(crate) event_type: String,
    pub(crate) timestamp: Option<DateTime<Utc>>,
    pub(crate) object: Option<Object>,
}

/// The typed view of an event's object, with the JSON text it came from (stored as it is,
/// never parsed into values and encoded again).
#[derive(Debug, Clone)]
pub(crate) enum Object {
    Subscription(Subscription, Box<RawValue>),
    Customer(Customer, Box<RawValue>),
    Order(Order, Box<RawValue>),
    Refund(Refund, Box<RawValue>),
    Product(Product, Box<RawValue>),
    BenefitGrant(BenefitGrant, Box<RawValue>),
    Checkout(Checkout, Box<RawValue>),
}

impl Event {
    /// Parses a webhook body. Unknown event types parse to an event without an object.
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                PayloadError::Envelope(error)
            } else {
                PayloadError::Json(error)
            }
        })?;
        if !is_object(&envelope.data) {
            return Err(PayloadError::Envelope(
                <serde_json::Error as serde::de::Error>::custom("`data` is not a JSON object"),
            ));
        }
        let object = match ObjectKind::of_event(&envelope.event_type) {
            None => None,
            Some(kind) => Some(Object::parse(kind, &envelope.event_type, envelope.data)?),
        };
        Ok(Self {
            event_type: envelope.event_type,
            timestamp: envelope.timestamp,
            object,
        })
    }
}

impl Object {
    /// The Polar customer the object concerns, or its own id for a product or a checkout
    /// without a customer. Deliveries with one key are applied one batch at a time.
    pub(crate) fn customer_key(&self) -> &str {
        match self {
            Self::Subscription(s, _) => &s.customer_id,
            Self::Customer(c, _) => &c.version.id,
            Self::Order(o, _) => &o.customer_id,
            Self::Refund(r, _) => &r.customer_id,
            Self::Product(p, _) => &p.version.id,
            Self::BenefitGrant(g, _) => &g.customer_id,
            Self::Checkout(c, _) => c.customer_id.as_deref().unwrap_or(&c.version.id),
        }
    }

    /// The typed view of an object read from Polar's REST API (`kind` says which list or
    /// endpoint it came from), so that it is applied exactly like the same object in a webhook.
    pub(crate) fn from_api(kind: ObjectKind, raw: Value) -> Result<Self, PayloadError> {
        let wrap = |source| PayloadError::Object {
            event_type: "api".to_owned(),
            object: kind.name(),
            source,
        };
        if !raw.is_object() {
            return Err(wrap(<serde_json::Error as serde::de::Error>::custom(
                "expected a JSON object",
            )));
        }
        let raw = serde_json::value::to_raw_value(&raw).map_err(wrap)?;
        Self::parse(kind, "api", raw)
    }

    fn parse(kind: ObjectKind, event_type: &str, raw: Box<RawValue>) -> Result<Self, PayloadError> {
        // Stored objects are read back with serde_json (the support view, reconciliation), which
        // refuses a number beyond f64 that the parsing above skipped over.
        if !storable(raw.get().as_bytes()) || serde_json::from_str::<Value>(raw.get()).is_err() {
            return Err(PayloadError::Unstorable(event_type.to_owned()));
        }
        let wrap = |source| PayloadError::Object {
            event_type: event_type.to_owned(),
            object: kind.name(),
            source,
        };
        Ok(match kind {
            ObjectKind::Subscription => Self::Subscription(view(&raw).map_err(wrap)?, raw),
            ObjectKind::Customer => Self::Customer(view(&raw).map_err(wrap)?, raw),
            ObjectKind::Order => Self::Order(view(&raw).map_err(wrap)?, raw),
            ObjectKind::Refund => Self::Refund(view(&raw).map_err(wrap)?, raw),
            ObjectKind::Product => Self::Product(view(&raw).map_err(wrap)?, raw),
            ObjectKind::BenefitGrant => Self::BenefitGrant(view(&raw).map_err(wrap)?, raw),
            ObjectKind::Checkout => Self::Checkout(view(&raw).map_err(wrap)?, raw),
        })
    }
}

/// Whether every `\u` escape of the JSON text `json` is a character PostgreSQL's `jsonb` holds:
/// not NUL, and no UTF-16 surrogate without its other half. serde_json accepts both (and does
/// not look inside the fields it skips), but the database refuses them, so an object carrying
/// one would be acknowledged and then fail to apply forever.
fn storable(json: &[u8]) -> bool {
    let mut rest = json;
    while let Some(at) = rest.iter().position(|b| *b == b'\\') {
        let escape = rest.get(at + 1..).unwrap_or_default();
        if escape.first() != Some(&b'u') {
            // A one-character escape (`\n`, `\\`, …): skip it.
            rest = escape.get(1..).unwrap_or_default();
            continue;
        }
        rest = escape.get(5..).unwrap_or_default();
        match hex4(escape.get(1..5)) {
            Some(0xD800..=0xDBFF) => {
                let low = (rest.get(..2) == Some(b"\\u".as_slice()))
                    .then(|| hex4(rest.get(2..6)))
                    .flatten();
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return false;
                }
                rest = rest.get(6..).unwrap_or_default();
            }
            Some(0 | 0xDC00..=0xDFFF) | None => return false,
            Some(_) => {}
        }
    }
    true
}

/// The four hex digits of a `\u` escape.
fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = std::str::from_utf8(digits?).ok()?;
    digits
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| u32::from_str_radix(digits, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `polar_payload` fuzz target: an unpaired surrogate escape in a field
    /// tollgate skips passed parsing, so the delivery was acknowledged and then failed to apply
    /// forever (PostgreSQL's `jsonb` refuses it, and `\u0000` too).
    #[test]
    fn an_unpaired_surrogate_or_nul_escape_is_refused_before_storing() {
        let customer = |name: &str| {
            format!(
                r#"{{"type":"customer.updated","data":{{"id":"c","created_at":"2026-09-14T09:13:58Z","note":"{name}"}}}}"#
            )
        };
        for bad in [
            r"ae2\ud800e9f1",
            r"\udc00",
            r"\ud800\u0041",
            r"a\u0000b",
            r"\ud83d",
        ] {
            let err = Event::parse(customer(bad).as_bytes()).unwrap_err();
            assert!(matches!(err, PayloadError::Unstorable(_)), "{bad}: {err}");
        }
        // Found by the same target: a number beyond f64 in a skipped field.
        let huge = br#"{"type":"customer.updated","data":{"id":"c","created_at":"2026-09-14T09:13:58Z","x":1e400}}"#;
        assert!(matches!(
            Event::parse(huge),
            Err(PayloadError::Unstorable(_))
        ));
        for good in [r"\ud83d\ude00", r"\\ud800", r"\u00e9\n", r"\\\u0041"] {
            assert!(Event::parse(customer(good).as_bytes()).is_ok(), "{good}");
        }
    }

    #[test]
    fn every_fixture_parses_to_its_object() {
        let fixtures = [
            ("webhook.subscription.active.json", "Subscription"),
            ("webhook.customer.state_changed.json", "Customer"),
            ("webhook.order.refunded.json", "Order"),
            ("webhook.product.updated.json", "Product"),
            ("webhook.benefit_grant.created.json", "BenefitGrant"),
            ("webhook.checkout.updated.json", "Checkout"),
        ];
        for (file, kind) in fixtures {
            let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
            let event = Event::parse(&std::fs::read(path).unwrap()).unwrap();
            let got = match event.object.unwrap() {
                Object::Subscription(..) => "Subscription",
                Object::Customer(..) => "Customer",
                Object::Order(..) => "Order",
                Object::Refund(..) => "Refund",
                Object::Product(..) => "Product",
                Object::BenefitGrant(..) => "BenefitGrant",
                Object::Checkout(..) => "Checkout",
            };
            assert_eq!(got, kind, "{file}");
        }
    }

    #[test]
    fn an_unknown_type_parses_without_an_object() {
        let body = br#"{"type":"member.created","timestamp":"2026-09-14T09:13:58.399612Z","data":{"x":1}}"#;
        let event = Event::parse(body).unwrap();
        assert!(event.object.is_none());
    }

    #[test]
    fn a_known_type_with_a_foreign_object_is_refused() {
        let body = br#"{"type":"subscription.updated","data":{"id":"s"}}"#;
        let err = Event::parse(body).unwrap_err();
        assert!(err.to_string().contains("subscription.updated"), "{err}");
        assert!(matches!(
            Event::parse(b"[1]"),
            Err(PayloadError::Envelope(_))
        ));
        assert!(matches!(Event::parse(b"{"), Err(PayloadError::Json(_))));
    }
}
