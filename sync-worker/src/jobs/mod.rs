//! Background jobs. Each exposes `run_once`, which tests and the CLI call directly, and the
//! service runs on a timer.

pub mod usage_cleanup;
pub mod usage_freshness;
pub mod usage_processing;
pub mod webhook_retry;
