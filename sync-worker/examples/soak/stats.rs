//! What the load saw: requests by kind, their latencies, and refusals by `code`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Latencies and outcomes since the last report, and over the whole run.
#[derive(Debug, Default)]
pub struct Stats {
    interval: Mutex<Window>,
    total: Mutex<Window>,
}

#[derive(Debug, Default, Clone)]
pub struct Window {
    /// Microseconds, by request kind.
    latencies: BTreeMap<&'static str, Vec<u32>>,
    /// Non-2xx answers by `kind status code`, and requests with no answer.
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record(&self, kind: &'static str, took: Duration, error: Option<String>) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        for window in [&self.interval, &self.total] {
            let mut window = window.lock().unwrap();
            window.latencies.entry(kind).or_default().push(micros);
            if let Some(error) = &error {
                *window.errors.entry(format!("{kind} {error}")).or_default() += 1;
            }
        }
    }

    /// The window since the last call, emptied.
    pub fn take_interval(&self) -> Window {
        std::mem::take(&mut *self.interval.lock().unwrap())
    }

    pub fn total(&self) -> Window {
        self.total.lock().unwrap().clone()
    }
}

impl Window {
    /// `kind n p50 p99` for each kind, then every kind together.
    pub fn lines(&mut self, seconds: f64) -> Vec<String> {
        let mut all: Vec<u32> = Vec::new();
        let mut lines = Vec::new();
        for (kind, latencies) in &mut self.latencies {
            all.extend_from_slice(latencies);
            lines.push(line(kind, latencies, seconds));
        }
        lines.push(line("all", &mut all, seconds));
        lines
    }
}

fn line(kind: &str, latencies: &mut [u32], seconds: f64) -> String {
    latencies.sort_unstable();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    format!(
        "{kind:<12} {:>8} req {:>8.1}/s  p50 {:>7.2} ms  p99 {:>8.2} ms",
        latencies.len(),
        latencies.len() as f64 / seconds.max(0.001),
        at(0.50),
        at(0.99)
    )
}
