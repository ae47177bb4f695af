//! Reading snapshots from Workers KV into the isolate's cache.

use std::rc::Rc;

use worker::{Context, Env, KvStore};

use super::cache::{Entry, Freshness, Installed};
use super::{Compiled, StoreError, snapshot_key};
use crate::config::Config;
use crate::identity::resolve::KV_BINDING;
use crate::isolate;

/// Whether a usable snapshot is in the isolate's cache after [`load`], and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// The cache holds the current snapshot.
    Current,
    /// KV has no snapshot for the customer.
    Missing,
    /// KV could not be read, or held something unusable.
    Failed,
}

/// Makes sure the isolate's cache holds the customer's snapshot, reading KV at most once:
/// not at all when the cached one is fresh; in the background (`ctx.wait_until`) when it is
/// due for a refresh; before answering when there is none or it is too old.
pub async fn load(customer: &str, env: &Env, ctx: &Context, config: &Config) -> Availability {
    let now = isolate::now_ms();
    let freshness = isolate::with(|s| {
        s.snapshots
            .freshness(customer, now, config.refresh_after_ms, config.max_age_ms)
    });
    match freshness {
        Some(Freshness::Fresh) => Availability::Current,
        Some(Freshness::Revalidate) => {
            if let Ok(kv) = env.kv(KV_BINDING)
                && isolate::with(|s| s.snapshots.start_refresh(customer))
            {
                let (customer, ttl) = (customer.to_owned(), config.kv_cache_ttl);
                ctx.wait_until(async move {
                    refresh(&kv, &customer, ttl).await;
                });
            }
            Availability::Current
        }
        Some(Freshness::Expired) | None => match env.kv(KV_BINDING) {
            Ok(kv) => refresh(&kv, customer, config.kv_cache_ttl).await,
            Err(e) => {
                worker::console_error!("KV binding {KV_BINDING}: {e}");
                Availability::Failed
            }
        },
    }
}

/// Reads the customer's snapshot and installs it; a failure leaves the cached one in place.
pub(crate) async fn refresh(kv: &KvStore, customer: &str, cache_ttl: u64) -> Availability {
    match read(kv, customer, cache_ttl).await {
        Ok(Some(compiled)) => {
            let installed = isolate::with(|s| s.snapshots.install(compiled, isolate::now_ms()));
            if installed == Installed::Ignored {
                // An older value from another location: keep the newer one, and read again soon.
                isolate::with(|s| s.snapshots.end_refresh(customer));
            }
            Availability::Current
        }
        Ok(None) => {
            isolate::with(|s| s.snapshots.end_refresh(customer));
            Availability::Missing
        }
        Err(e) => {
            worker::console_error!("{e}");
            isolate::with(|s| s.snapshots.end_refresh(customer));
            Availability::Failed
        }
    }
}

pub(crate) async fn read(
    kv: &KvStore,
    customer: &str,
    cache_ttl: u64,
) -> Result<Option<Rc<Compiled>>, StoreError> {
    let Some(json) = kv
        .get(&snapshot_key(customer))
        .cache_ttl(cache_ttl)
        .text()
        .await
        .map_err(|e| StoreError::Kv(e.to_string()))?
    else {
        return Ok(None);
    };
    // Re-reading the revision already compiled costs a header parse, not a compile.
    let cached = isolate::with(|s| s.snapshots.revision(customer));
    if let Some(cached) = cached
        && let Ok(header) = super::SnapshotHeader::from_json(&json)
        && header.revision <= cached
        && header.customer == customer
        && let Some(compiled) = isolate::with(|s| s.snapshots.compiled(customer))
    {
        return Ok(Some(compiled));
    }
    Compiled::from_json(customer, &json).map(Some)
}

/// Runs `f` on the customer's cache entry, if any.
pub fn with_entry<R>(customer: &str, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
    isolate::with(|s| s.snapshots.get_mut(customer).map(f))
}
