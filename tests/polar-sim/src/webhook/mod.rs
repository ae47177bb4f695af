//! Polar's webhooks: signing (both secret schemes), delivery with retries, and injected
//! delivery faults.

pub mod delivery;
pub mod faults;
pub mod signing;

pub use delivery::{Attempt, DeliveryConfig, Endpoint, EventRecord, Outcome, Webhooks};
pub use faults::{Fault, FaultRule};
pub use signing::{SecretScheme, SigningError};
