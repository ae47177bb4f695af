//! Catalog setup and the demo data behind `--seed-demo`.
//!
//! The demo catalog matches `examples/catalog.toml`: products select plans by their `plan`
//! metadata (`premium`, `premium_plus`), each with a feature-flag benefit, plus an `api_calls`
//! meter. The demo adds a per-seat product (`team_seats`) and customers covering the
//! interesting states: active, cancelling, trialing, past due, and no subscription. Seeding sends no webhooks: it is the state Polar already had.

use chrono::Months;
use uuid::Uuid;

use crate::error::SimError;
use crate::lifecycle::{Emitter, customers, subscriptions};
use crate::model::{Benefit, Interval, Metadata, Meter, Price, Product, SeatLimits};
use crate::store::State;

/// A product to add to the catalog.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub description: Option<String>,
    /// Minor units per period (per seat when `seats` is set).
    pub price_amount: i64,
    pub currency: String,
    /// `None` for a one-time product.
    pub interval: Option<Interval>,
    pub trial_days: Option<u32>,
    pub metadata: Metadata,
    /// Feature-flag benefits attached to the product: (description, metadata).
    pub benefits: Vec<(String, Metadata)>,
    /// Makes the price seat-based: `price_amount` per seat, this many seats.
    pub seats: Option<SeatLimits>,
}

pub fn add_product(st: &mut State, new: NewProduct) -> Uuid {
    let created_at = st.clock.stamp();
    let mut benefit_ids = Vec::new();
    for (description, metadata) in new.benefits {
        let b = Benefit {
            id: Uuid::new_v4(),
            created_at,
            modified_at: None,
            description,
            metadata,
        };
        benefit_ids.push(b.id);
        st.benefits.insert(b.id, b);
    }
    let id = Uuid::new_v4();
    let product = Product {
        id,
        created_at,
        modified_at: None,
        name: new.name,
        description: new.description,
        recurring_interval: new.interval,
        trial_days: new.trial_days,
        metadata: new.metadata,
        is_archived: false,
        price: Price {
            id: Uuid::new_v4(),
            created_at,
            amount: new.price_amount,
            currency: new.currency,
            seats: new.seats,
        },
        benefit_ids,
    };
    st.products.insert(id, product);
    id
}

pub fn add_meter(st: &mut State, name: &str, event_name: &str) -> Uuid {
    let m = Meter {
        id: Uuid::new_v4(),
        created_at: st.clock.stamp(),
        name: name.to_owned(),
        event_name: event_name.to_owned(),
    };
    let id = m.id;
    st.meters.insert(id, m);
    id
}

fn plan(key: &str) -> Metadata {
    let mut m = Metadata::new();
    m.insert("plan".into(), key.into());
    m
}

/// The products of `examples/catalog.toml` and the `api_calls` meter.
pub fn demo_catalog(st: &mut State) {
    add_product(
        st,
        NewProduct {
            name: "Premium".into(),
            description: Some("Ten projects, five seats, 50 000 API calls a month.".into()),
            price_amount: 1900,
            currency: "usd".into(),
            interval: Some(Interval::Month),
            trial_days: None,
            metadata: plan("premium"),
            benefits: vec![("Premium features".into(), plan("premium"))],
            seats: None,
        },
    );
    add_product(
        st,
        NewProduct {
            name: "Premium Plus".into(),
            description: Some("Unlimited projects, seats and API calls, priority support.".into()),
            price_amount: 4900,
            currency: "usd".into(),
            interval: Some(Interval::Month),
            trial_days: None,
            metadata: plan("premium_plus"),
            benefits: vec![("Premium Plus features".into(), plan("premium_plus"))],
            seats: None,
        },
    );
    add_meter(st, "API calls", "api_calls");
}

/// A per-seat product for seat-based subscriptions: 8.00 USD per seat a month, 1 to 50 seats.
/// Not part of `examples/catalog.toml`, so tollgate maps it to no plan unless told to.
pub fn team_seats(st: &mut State) -> Uuid {
    add_product(
        st,
        NewProduct {
            name: "Team Seats".into(),
            description: Some(
                "Priced per seat; buy seats at checkout, change them any time.".into(),
            ),
            price_amount: 800,
            currency: "usd".into(),
            interval: Some(Interval::Month),
            trial_days: None,
            metadata: plan("team_seats"),
            benefits: vec![("Team Seats features".into(), plan("team_seats"))],
            seats: Some(SeatLimits {
                minimum: 1,
                maximum: Some(50),
            }),
        },
    )
}

/// The demo catalog plus customers in each interesting state.
///
/// Erin's subscription starts a month before the clock's time so that its renewal, which fails,
/// falls exactly at the current time.
pub fn demo(st: &mut State) -> Result<(), SimError> {
    let now = st.clock.now();
    let month_ago = now.checked_sub_months(Months::new(1)).unwrap_or(now);
    st.clock.set(month_ago);
    demo_catalog(st);
    team_seats(st);
    let premium = st.resolve_product("premium")?;
    let premium_plus = st.resolve_product("premium_plus")?;
    let em = &mut Emitter::silent();
    let customer = |st: &mut State, em: &mut Emitter, ext: &str, name: &str| {
        customers::create(
            st,
            em,
            customers::NewCustomer {
                external_id: Some(ext.into()),
                email: Some(format!("{}@example.com", ext.trim_start_matches("user_"))),
                name: Some(name.into()),
                metadata: Metadata::new(),
            },
        )
    };
    let alice = customer(st, em, "user_alice", "Alice Example")?;
    let bob = customer(st, em, "user_bob", "Bob Example")?;
    let carol = customer(st, em, "user_carol", "Carol Example")?;
    customer(st, em, "user_dave", "Dave Example")?;
    let erin = customer(st, em, "user_erin", "Erin Example")?;

    let start = |st: &mut State, em: &mut Emitter, customer_id, product_id, trial_days| {
        subscriptions::start(
            st,
            em,
            subscriptions::Start {
                customer_id,
                product_id,
                trial_days,
                checkout_id: None,
                metadata: Metadata::new(),
                seats: None,
            },
        )
    };
    let erin_sub = start(st, em, erin, premium, None)?;
    st.clock.set(now);
    subscriptions::cycle(st, em, erin_sub, subscriptions::Payment::Fails)?;
    start(st, em, alice, premium, None)?;
    let bob_sub = start(st, em, bob, premium_plus, None)?;
    subscriptions::set_cancel_at_period_end(
        st,
        em,
        bob_sub,
        true,
        Some("too_expensive".into()),
        None,
    )?;
    start(st, em, carol, premium, Some(14))?;
    Ok(())
}
