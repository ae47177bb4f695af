//! `check` on a loaded 20-feature snapshot (budget: ≤ 100 ns median).
//!
//! `cargo bench -p tollgate-gate --bench check`

#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot set up should stop"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_gate::{Gate, build_snapshot};

#[path = "../tests/support/mod.rs"]
mod support;

fn check(c: &mut Criterion) {
    let catalog = support::catalog_20();
    let snapshot = build_snapshot(&catalog, &support::premium_account(), support::now());
    let gate = Gate::new(&snapshot).expect("snapshot compiles");
    let now = support::now();
    let api_calls = gate.resolve("api_calls");

    let mut group = c.benchmark_group("check");
    group.bench_function("metered by name", |b| {
        b.iter(|| {
            gate.check(black_box("api_calls"), black_box(1), black_box(now))
                .allowed
        })
    });
    group.bench_function("metered resolved", |b| {
        b.iter(|| {
            gate.check_ref(black_box(api_calls), black_box(1), black_box(now))
                .allowed
        })
    });
    group.bench_function("gauge by name", |b| {
        b.iter(|| {
            gate.check(black_box("projects"), black_box(1), black_box(now))
                .allowed
        })
    });
    group.bench_function("boolean by name", |b| {
        b.iter(|| {
            gate.check(black_box("priority_support"), black_box(1), black_box(now))
                .allowed
        })
    });
    group.bench_function("refused with upgrade", |b| {
        b.iter(|| {
            gate.check(black_box("projects"), black_box(50), black_box(now))
                .upgrade
                .is_some()
        })
    });
    group.finish();

    c.bench_function("compile snapshot", |b| {
        b.iter(|| Gate::new(black_box(&snapshot)).is_ok())
    });
    let json = serde_json::to_string(&snapshot).expect("serializes");
    c.bench_function("parse and compile snapshot JSON", |b| {
        b.iter(|| Gate::from_json(black_box(&json)).is_ok())
    });
}

criterion_group!(benches, check);
criterion_main!(benches);
