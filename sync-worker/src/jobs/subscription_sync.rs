//! Subscription sync (every 6 hours): products and live subscriptions, and whatever stopped
//! being live.

use super::Deps;
use super::scheduler::Finished;
use crate::reconcile::{Mode, Resource};
use chrono::{DateTime, Utc};

pub(crate) const NAME: &str = "subscription_sync";

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let resources = [Resource::Products, Resource::Subscriptions];
    super::full_reconcile::reconcile(deps, &resources, Mode::Incremental, now).await
}
