//! `check` must not allocate: it runs on every gated request at the edge.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tollgate_gate::{Gate, build_snapshot};

mod support;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn check_does_not_allocate() {
    let snapshot = build_snapshot(
        &support::catalog_20(),
        &support::premium_account(),
        support::now(),
    );
    let gate = Gate::new(&snapshot).unwrap();
    let later = tollgate_gate::Timestamp::parse("2027-03-01T00:00:00Z").unwrap();

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut allowed = 0;
    for feature in [
        "api_calls",
        "projects",
        "storage",
        "advanced_analytics",
        "priority_support",
        "nope",
    ] {
        for amount in [0, 1, 60, 1_000_000] {
            for now in [support::now(), later] {
                allowed += usize::from(gate.check(feature, amount, now).allowed);
                allowed += usize::from(gate.check_with_pending(feature, amount, 7, now).allowed);
            }
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "check allocated {} times",
        after - before
    );
    assert!(allowed > 0);
}
