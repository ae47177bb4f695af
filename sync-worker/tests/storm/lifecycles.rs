//! Customers' lifecycles in the Polar simulator: what Polar would go through with a thousand
//! customers, and so the webhooks it would send.
//!
//! Every customer starts (a subscription to Premium or Premium Plus, sometimes with a trial,
//! or only an account), then takes a few random steps that fit its state: upgrades and
//! downgrades under every proration, cancellations and their reversal, renewals (a cancelled
//! one ends), failed payments and their recovery, refunds (some revoking), revocations,
//! new subscriptions after an end, and profile changes. Steps go round-robin over the
//! customers, so one customer's webhooks are spread among everyone else's.

use polar_sim::{Action, Payment, Proration, SimHandle};
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;

/// Rounds of steps after the start.
const ROUNDS: usize = 4;

/// What the generator knows of a customer, to pick steps that make sense.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    NoSubscription,
    Live { plus: bool, cancelling: bool },
    PastDue { plus: bool },
}

/// How many of each step Polar accepted (a step it refuses changes nothing and sends nothing).
pub type Steps = BTreeMap<&'static str, usize>;

/// The external id of customer `n`.
pub fn customer(n: usize) -> String {
    format!("storm_user_{n:05}")
}

/// Runs `customers` lifecycles in the simulator; returns the steps taken.
pub fn run(sim: &SimHandle, customers: usize, rng: &mut StdRng) -> Steps {
    let mut steps = Steps::new();
    let mut standing = vec![Standing::NoSubscription; customers];
    for round in 0..=ROUNDS {
        for (n, standing) in standing.iter_mut().enumerate() {
            let chosen = if round == 0 {
                start(&customer(n), rng)
            } else if rng.random_bool(0.7) {
                next(&customer(n), *standing, round, rng)
            } else {
                continue;
            };
            let (name, action, after) = chosen;
            if sim.run(action).is_ok() {
                *steps.entry(name).or_default() += 1;
                *standing = after.unwrap_or(*standing);
            } else {
                *steps.entry("refused").or_default() += 1;
            }
        }
    }
    steps
}

/// A step: its name, the action, and the standing after it (`None`: unchanged).
type Step = (&'static str, Action, Option<Standing>);

fn start(user: &str, rng: &mut StdRng) -> Step {
    if rng.random_bool(0.08) {
        let action = Action::CreateCustomer {
            external_id: Some(user.to_owned()),
            email: None,
            name: None,
            metadata: serde_json::Map::new(),
        };
        return ("create_customer", action, None);
    }
    subscribe(user, rng)
}

fn subscribe(user: &str, rng: &mut StdRng) -> Step {
    let plus = rng.random_bool(0.4);
    let trial = rng.random_bool(0.15);
    let action = Action::Subscribe {
        customer: user.to_owned(),
        product: plan(plus).to_owned(),
        trial_days: trial.then_some(14),
        direct: false,
    };
    let name = if trial {
        "subscribe_trial"
    } else {
        "subscribe"
    };
    let after = Standing::Live {
        plus,
        cancelling: false,
    };
    (name, action, Some(after))
}

fn plan(plus: bool) -> &'static str {
    if plus { "premium_plus" } else { "premium" }
}

fn next(user: &str, standing: Standing, round: usize, rng: &mut StdRng) -> Step {
    let subscription = user.to_owned();
    match standing {
        Standing::NoSubscription => match rng.random_range(0..10) {
            0..6 => subscribe(user, rng),
            6..8 => refund(user, rng),
            _ => rename(user, round),
        },
        Standing::PastDue { plus } => {
            if rng.random_bool(0.6) {
                let after = Standing::Live {
                    plus,
                    cancelling: false,
                };
                let action = Action::Recover { subscription };
                ("recover", action, Some(after))
            } else {
                revoke(user)
            }
        }
        Standing::Live {
            plus,
            cancelling: true,
        } => match rng.random_range(0..10) {
            0..5 => {
                let after = Standing::Live {
                    plus,
                    cancelling: false,
                };
                ("uncancel", Action::Uncancel { subscription }, Some(after))
            }
            5..8 => {
                let action = Action::Cycle {
                    subscription,
                    payment: Payment::Succeeds,
                };
                ("period_end", action, Some(Standing::NoSubscription))
            }
            _ => revoke(user),
        },
        Standing::Live {
            plus,
            cancelling: false,
        } => match rng.random_range(0..20) {
            0..5 => {
                let proration = match rng.random_range(0..4) {
                    0 => Proration::Invoice,
                    1 => Proration::Prorate,
                    2 => Proration::Reset,
                    _ => Proration::NextPeriod,
                };
                let action = Action::ChangeProduct {
                    subscription,
                    product: plan(!plus).to_owned(),
                    proration,
                };
                let name = if plus { "downgrade" } else { "upgrade" };
                let after = (proration != Proration::NextPeriod).then_some(Standing::Live {
                    plus: !plus,
                    cancelling: false,
                });
                (name, action, after)
            }
            5..9 => {
                let action = Action::Cancel {
                    subscription,
                    reason: Some("too_expensive".to_owned()),
                    comment: None,
                };
                let after = Standing::Live {
                    plus,
                    cancelling: true,
                };
                ("cancel", action, Some(after))
            }
            9..13 => {
                let action = Action::Cycle {
                    subscription,
                    payment: Payment::Succeeds,
                };
                ("renew", action, None)
            }
            13..15 => {
                let action = Action::FailPayment { subscription };
                ("fail_payment", action, Some(Standing::PastDue { plus }))
            }
            15..17 => refund(user, rng),
            17..19 => revoke(user),
            _ => rename(user, round),
        },
    }
}

fn revoke(user: &str) -> Step {
    let action = Action::Revoke {
        subscription: user.to_owned(),
    };
    ("revoke", action, Some(Standing::NoSubscription))
}

/// Refunds the customer's latest order: in part or whole, sometimes revoking the subscription.
fn refund(user: &str, rng: &mut StdRng) -> Step {
    let revoke_benefits = rng.random_bool(0.3);
    let action = Action::Refund {
        order: user.to_owned(),
        amount: rng.random_bool(0.5).then_some(500),
        reason: None,
        revoke_benefits,
    };
    if revoke_benefits {
        ("refund_and_revoke", action, Some(Standing::NoSubscription))
    } else {
        ("refund", action, None)
    }
}

fn rename(user: &str, round: usize) -> Step {
    let action = Action::UpdateCustomer {
        customer: user.to_owned(),
        email: None,
        name: Some(format!("Storm customer {user}, renamed in round {round}")),
        metadata: None,
    };
    ("rename", action, None)
}
