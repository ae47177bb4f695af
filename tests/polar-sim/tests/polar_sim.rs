//! Integration tests of the Polar simulator: its API as a Polar client sees it, its webhooks as
//! a receiver sees them, and both against Polar's published contract.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod polar_sim {
    pub mod api;
    pub mod cli;
    pub mod consistency;
    pub mod fidelity;
    pub mod lifecycle;
    pub mod seats;
    pub mod support;
    pub mod webhooks;
}
