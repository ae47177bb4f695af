//! Order sync (every 30 minutes): orders created since the last successful sync.

use super::Deps;
use super::scheduler::Finished;
use crate::reconcile::{Mode, Resource};
use chrono::{DateTime, Utc};

pub const NAME: &str = "order_sync";

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    super::full_reconcile::reconcile(deps, &[Resource::Orders], Mode::Incremental, now).await
}
