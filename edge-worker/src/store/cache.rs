//! The isolate's cache of compiled snapshots.
//!
//! One entry per customer: the compiled snapshot of the highest revision seen, when it was
//! read, whether a background refresh is under way, and the usage counted against it. A read
//! older than the one cached never replaces it (KV is eventually consistent: another
//! location may still serve an older value), and re-reading the same revision only renews
//! the entry, keeping its counts.

use std::collections::HashMap;
use std::rc::Rc;

use super::Compiled;
use crate::metering::LocalUsage;

/// How many customers one isolate keeps; beyond, the least recently read is dropped.
pub const CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct Entry {
    pub compiled: Rc<Compiled>,
    /// When KV last confirmed this entry, ms since the epoch (the isolate's clock).
    pub read_at: i64,
    pub refreshing: bool,
    pub usage: LocalUsage,
}

/// How a cached entry may be used at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Use it.
    Fresh,
    /// Use it, and refresh it in the background.
    Revalidate,
    /// Too old to answer from without reading KV first.
    Expired,
}

/// What [`SnapshotCache::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    New,
    Replaced,
    /// Same revision: renewed.
    Renewed,
    /// Older than the cached one: ignored.
    Ignored,
}

#[derive(Debug, Default)]
pub struct SnapshotCache {
    entries: HashMap<String, Entry>,
}

impl SnapshotCache {
    pub fn get_mut(&mut self, customer: &str) -> Option<&mut Entry> {
        self.entries.get_mut(customer)
    }

    pub fn freshness(
        &self,
        customer: &str,
        now_ms: i64,
        refresh_after_ms: i64,
        max_age_ms: i64,
    ) -> Option<Freshness> {
        let entry = self.entries.get(customer)?;
        let age = now_ms.saturating_sub(entry.read_at);
        Some(if age >= max_age_ms {
            Freshness::Expired
        } else if age >= refresh_after_ms {
            Freshness::Revalidate
        } else {
            Freshness::Fresh
        })
    }

    /// Marks a refresh as started; `false` when one already is.
    pub fn start_refresh(&mut self, customer: &str) -> bool {
        match self.entries.get_mut(customer) {
            Some(e) if !e.refreshing => {
                e.refreshing = true;
                true
            }
            _ => false,
        }
    }

    /// Ends a refresh that brought nothing new (KV missing or failing): the entry stays as
    /// the last known good one.
    pub fn end_refresh(&mut self, customer: &str) {
        if let Some(e) = self.entries.get_mut(customer) {
            e.refreshing = false;
        }
    }

    pub fn install(&mut self, compiled: Rc<Compiled>, now_ms: i64) -> Installed {
        let customer = compiled.customer().to_owned();
        if let Some(entry) = self.entries.get_mut(&customer) {
            entry.refreshing = false;
            let (cached, read) = (entry.compiled.revision(), compiled.revision());
            return if read > cached {
                *entry = fresh_entry(compiled, now_ms);
                Installed::Replaced
            } else if read == cached {
                entry.read_at = now_ms;
                Installed::Renewed
            } else {
                Installed::Ignored
            };
        }
        if self.entries.len() >= CAPACITY {
            self.evict_oldest();
        }
        self.entries.insert(customer, fresh_entry(compiled, now_ms));
        Installed::New
    }

    /// The snapshot cached for a customer, if any.
    pub fn compiled(&self, customer: &str) -> Option<Rc<Compiled>> {
        self.entries.get(customer).map(|e| e.compiled.clone())
    }

    /// The revision cached for a customer, if any.
    pub fn revision(&self, customer: &str) -> Option<u64> {
        self.entries.get(customer).map(|e| e.compiled.revision())
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.read_at)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.entries.remove(&k);
        }
    }
}

fn fresh_entry(compiled: Rc<Compiled>, now_ms: i64) -> Entry {
    Entry {
        compiled,
        read_at: now_ms,
        refreshing: false,
        usage: LocalUsage::default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use tollgate_gate::{Account, Catalog, Timestamp, build_snapshot};

    use super::*;

    pub(crate) const CATALOG: &str = include_str!("../../../examples/catalog.toml");

    pub(crate) fn compiled(customer: &str, revision: u64, api_calls_used: u64) -> Rc<Compiled> {
        let catalog = Catalog::parse(CATALOG).unwrap();
        let account: Account = serde_json::from_value(serde_json::json!({
            "customer": customer, "revision": revision, "usage": {"api_calls": api_calls_used}
        }))
        .unwrap();
        let now = Timestamp::parse("2026-11-25T10:00:00Z").unwrap();
        Compiled::new(&build_snapshot(&catalog, &account, now)).unwrap()
    }

    #[test]
    fn newer_revisions_replace_older_ones_are_ignored() {
        let mut cache = SnapshotCache::default();
        assert_eq!(cache.install(compiled("c", 5, 0), 0), Installed::New);
        cache.get_mut("c").unwrap().usage.add("api_calls", None, 3);
        assert_eq!(cache.install(compiled("c", 4, 0), 10), Installed::Ignored);
        assert_eq!(cache.revision("c"), Some(5));
        assert_eq!(cache.install(compiled("c", 5, 0), 20), Installed::Renewed);
        assert_eq!(
            cache.get_mut("c").unwrap().usage.pending("api_calls", None),
            3
        );
        assert_eq!(cache.get_mut("c").unwrap().read_at, 20);
        assert_eq!(cache.install(compiled("c", 6, 3), 30), Installed::Replaced);
        assert_eq!(
            cache.get_mut("c").unwrap().usage.pending("api_calls", None),
            0
        );
    }

    #[test]
    fn freshness_follows_the_age_of_the_read() {
        let mut cache = SnapshotCache::default();
        assert_eq!(cache.freshness("c", 0, 10, 100), None);
        cache.install(compiled("c", 1, 0), 1_000);
        assert_eq!(cache.freshness("c", 1_009, 10, 100), Some(Freshness::Fresh));
        assert_eq!(
            cache.freshness("c", 1_010, 10, 100),
            Some(Freshness::Revalidate)
        );
        assert_eq!(
            cache.freshness("c", 1_100, 10, 100),
            Some(Freshness::Expired)
        );
    }

    #[test]
    fn one_refresh_at_a_time() {
        let mut cache = SnapshotCache::default();
        assert!(!cache.start_refresh("c"));
        cache.install(compiled("c", 1, 0), 0);
        assert!(cache.start_refresh("c"));
        assert!(!cache.start_refresh("c"));
        cache.end_refresh("c");
        assert!(cache.start_refresh("c"));
        cache.install(compiled("c", 2, 0), 5);
        assert!(cache.start_refresh("c"), "installing ends the refresh");
    }
}
