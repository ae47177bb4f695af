//! One exact feature's leases as its Durable Object holds them: what is left to spend, what to
//! settle, and when to wake up. Pure bookkeeping, tested natively; `object` does the I/O.

use tollgate_gate::Timestamp;

/// After the sync worker had nothing left, how long requests are refused without asking it
/// again (units returned by a settlement or a plan change are seen after this long).
pub const EXHAUSTED_RETRY_MS: i64 = 1_000;
/// How long before its expiry a lease stops being spent: the sync worker counts an expired
/// lease as fully used, so the holder settles it, with what it really used, before then.
pub const EXPIRY_MARGIN_MS: i64 = 30_000;

/// A lease being spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub granted: u64,
    pub spent: u64,
    /// Spent until this instant (its expiry less a margin), then settled.
    pub usable_until_ms: i64,
}

impl Lease {
    /// A lease granted now for `ttl_ms`, spent until a fifth of its life (at most
    /// [`EXPIRY_MARGIN_MS`]) before its expiry.
    pub fn new(id: String, granted: u64, expires_at_ms: i64, ttl_ms: i64) -> Self {
        let margin = (ttl_ms / 5).min(EXPIRY_MARGIN_MS);
        Self {
            id,
            granted,
            spent: 0,
            usable_until_ms: expires_at_ms.saturating_sub(margin),
        }
    }

    fn left(&self) -> u64 {
        self.granted.saturating_sub(self.spent)
    }
}

/// A lease no longer spent, waiting for its settlement to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub id: String,
    pub used: u64,
}

/// The leases of one exact feature in one period.
#[derive(Debug, Default, Clone)]
pub struct Allowance {
    /// The end of the period the leases belong to; `None` until one was seen.
    period_end: Option<Option<Timestamp>>,
    held: Vec<Lease>,
    pub settling: Vec<Settlement>,
    exhausted_at_ms: Option<i64>,
    /// Units this object allowed in the period, from leases or, cut off from the sync worker,
    /// by the snapshot.
    pub period_spent: u64,
    pub last_used_ms: i64,
}

impl Allowance {
    /// Moves to the period ending at `period_end`: leases of another period, or past their
    /// usable time, stop being spent and are queued for settlement.
    pub fn roll(&mut self, period_end: Option<Timestamp>, now_ms: i64) {
        if self.period_end != Some(period_end) {
            self.retire_all();
            self.period_end = Some(period_end);
            self.exhausted_at_ms = None;
            self.period_spent = 0;
        }
        self.retire_unusable(now_ms);
    }

    /// Units left in the held leases.
    pub fn left(&self) -> u64 {
        self.held.iter().map(Lease::left).sum()
    }

    /// Spends `amount` units from the held leases, oldest first; `false` (nothing spent) when
    /// they hold fewer.
    pub fn spend(&mut self, amount: u64, now_ms: i64) -> bool {
        if self.left() < amount {
            return false;
        }
        let mut owed = amount;
        for lease in &mut self.held {
            let take = lease.left().min(owed);
            lease.spent += take;
            owed -= take;
        }
        self.record_spent(amount, now_ms);
        true
    }

    /// Units allowed without a lease (the sync worker could not be reached).
    pub fn spend_offline(&mut self, amount: u64, now_ms: i64) {
        self.record_spent(amount, now_ms);
    }

    fn record_spent(&mut self, amount: u64, now_ms: i64) {
        self.period_spent = self.period_spent.saturating_add(amount);
        self.last_used_ms = now_ms;
    }

    /// A lease granted in the period ending at `lease_period_end`, arriving at `now_ms`. A
    /// lease of a period that has ended and that this allowance has already left (asked for
    /// in the background just before the roll-over, answered after it) goes back unspent: its
    /// units would be counted in the old period while spent in the new one, past its limit.
    pub fn add_granted(&mut self, lease: Lease, lease_period_end: Option<Timestamp>, now_ms: i64) {
        let ended = lease_period_end.is_some_and(|end| end.as_millis() <= now_ms);
        if ended && self.period_end != Some(lease_period_end) {
            self.settling.push(Settlement {
                id: lease.id,
                used: 0,
            });
        } else {
            self.add(lease);
        }
    }

    /// A lease granted for this period.
    pub fn add(&mut self, lease: Lease) {
        self.exhausted_at_ms = None;
        self.held.push(lease);
    }

    pub fn mark_exhausted(&mut self, now_ms: i64) {
        self.exhausted_at_ms = Some(now_ms);
    }

    /// Whether the sync worker said moments ago that nothing is left.
    pub fn exhausted(&self, now_ms: i64) -> bool {
        self.exhausted_at_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < EXHAUSTED_RETRY_MS)
    }

    /// Whether to ask for the next lease now: under half a lease is left.
    pub fn wants_refill(&self, lease_size: u64, now_ms: i64) -> bool {
        self.left().saturating_mul(2) < lease_size && !self.exhausted(now_ms)
    }

    /// Settles every held lease (idle, or the period ended).
    pub fn retire_all(&mut self) {
        self.retire(|_| true);
    }

    /// Queues for settlement what is due at `now_ms`: everything when idle for `idle_ms` or
    /// when the period ended, else the leases past their usable time.
    pub fn retire_due(&mut self, now_ms: i64, idle_ms: i64) {
        if self.idle(now_ms, idle_ms) || self.period_ended(now_ms) {
            self.retire_all();
        } else {
            self.retire_unusable(now_ms);
        }
    }

    /// Queues for settlement the leases past their usable time.
    fn retire_unusable(&mut self, now_ms: i64) {
        self.retire(|lease| lease.usable_until_ms <= now_ms);
    }

    /// Whether nothing was spent for `idle_ms`.
    pub fn idle(&self, now_ms: i64, idle_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_used_ms) >= idle_ms
    }

    /// Whether the period the leases belong to has ended at `now_ms`.
    pub fn period_ended(&self, now_ms: i64) -> bool {
        matches!(self.period_end, Some(Some(end)) if end.as_millis() <= now_ms)
    }

    /// When the object must wake to settle: the idle time after the last use, a lease's usable
    /// time, the period's end; `None` when nothing is held.
    pub fn next_wake(&self, idle_ms: i64) -> Option<i64> {
        let first_usable_end = self.held.iter().map(|l| l.usable_until_ms).min()?;
        let mut wake = first_usable_end.min(self.last_used_ms.saturating_add(idle_ms));
        if let Some(Some(end)) = self.period_end {
            wake = wake.min(end.as_millis());
        }
        Some(wake)
    }

    fn retire(&mut self, which: impl Fn(&Lease) -> bool) {
        let (retired, kept): (Vec<Lease>, Vec<Lease>) = self.held.drain(..).partition(which);
        self.held = kept;
        self.settling
            .extend(retired.into_iter().map(|lease| Settlement {
                id: lease.id,
                used: lease.spent,
            }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lease(id: &str, granted: u64) -> Lease {
        Lease::new(id.into(), granted, 300_000, 300_000)
    }

    #[test]
    fn spends_leases_oldest_first_and_never_past_what_they_hold() {
        let mut a = Allowance::default();
        a.roll(Some(Timestamp::from_millis(1_000_000)), 0);
        a.add(lease("a", 3));
        a.add(lease("b", 5));
        assert!(a.spend(2, 1));
        assert!(a.spend(4, 2));
        assert_eq!(a.left(), 2);
        assert!(!a.spend(3, 3), "three more than the leases hold");
        assert_eq!(a.left(), 2, "a refused spend takes nothing");
        a.retire_all();
        assert_eq!(
            a.settling,
            vec![
                Settlement {
                    id: "a".into(),
                    used: 3
                },
                Settlement {
                    id: "b".into(),
                    used: 3
                }
            ]
        );
        assert_eq!(a.period_spent, 6);
    }

    #[test]
    fn a_new_period_starts_at_zero_and_settles_the_old_leases() {
        let november = Some(Timestamp::from_millis(1_000));
        let december = Some(Timestamp::from_millis(2_000));
        let mut a = Allowance::default();
        a.roll(november, 0);
        a.add(lease("nov", 10));
        assert!(a.spend(4, 10));
        a.mark_exhausted(10);
        a.roll(december, 20);
        assert_eq!(a.left(), 0, "nothing carried over");
        assert_eq!(a.period_spent, 0);
        assert!(!a.exhausted(20), "the new period asks again");
        assert_eq!(
            a.settling,
            vec![Settlement {
                id: "nov".into(),
                used: 4
            }]
        );
    }

    #[test]
    fn a_lease_of_a_period_already_left_goes_back_unspent() {
        let november = Some(Timestamp::from_millis(1_000));
        let december = Some(Timestamp::from_millis(2_000));
        let mut a = Allowance::default();
        a.roll(november, 900);
        // Asked for before November ended, answered after the roll-over to December.
        a.roll(december, 1_100);
        a.add_granted(lease("late", 5), november, 1_150);
        assert_eq!(a.left(), 0, "November's units are not spent in December");
        assert_eq!(
            a.settling,
            vec![Settlement {
                id: "late".into(),
                used: 0
            }]
        );
        a.add_granted(lease("dec", 5), december, 1_200);
        assert_eq!(a.left(), 5);
    }

    #[test]
    fn a_lease_answered_after_its_period_ended_is_spent_until_the_roll_over() {
        let november = Some(Timestamp::from_millis(1_000));
        let mut a = Allowance::default();
        a.roll(november, 900);
        // A request of November waiting for its lease: still decided in November.
        a.add_granted(lease("nov", 5), november, 1_050);
        assert_eq!(a.left(), 5);
        assert!(a.settling.is_empty());
    }

    #[test]
    fn a_lease_near_its_expiry_is_settled_not_spent() {
        let mut a = Allowance::default();
        a.roll(None, 0);
        a.add(Lease::new("a".into(), 10, 60_000, 60_000));
        assert_eq!(
            a.next_wake(1_000_000),
            Some(48_000),
            "a fifth of 60 s before expiry"
        );
        a.roll(None, 48_000);
        assert_eq!(a.left(), 0);
        assert_eq!(a.settling.len(), 1);
    }

    #[test]
    fn refills_below_half_a_lease_unless_just_exhausted() {
        let mut a = Allowance::default();
        a.roll(None, 0);
        a.add(lease("a", 10));
        assert!(!a.wants_refill(10, 0));
        assert!(a.spend(6, 0));
        assert!(a.wants_refill(10, 0));
        a.mark_exhausted(100);
        assert!(!a.wants_refill(10, 500));
        assert!(a.wants_refill(10, 100 + EXHAUSTED_RETRY_MS));
    }

    #[test]
    fn wakes_when_idle_or_at_the_period_end() {
        let mut a = Allowance::default();
        assert_eq!(a.next_wake(30_000), None);
        a.roll(Some(Timestamp::from_millis(20_000)), 0);
        a.add(lease("a", 10));
        assert!(a.spend(1, 5_000));
        assert_eq!(a.next_wake(30_000), Some(20_000));
        assert!(a.period_ended(20_000));
        assert!(a.idle(35_000, 30_000));
        assert!(!a.idle(34_999, 30_000));
    }
}
