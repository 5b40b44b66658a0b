//! Helpers shared by the bridge's integration tests.
//!
//! The fakes stand at the network boundary and speak real HTTP on loopback, so the same ones serve tests of the
//! clients and tests that spawn the real `redflag-bridge` binary: [`fake_twilio::FakeTwilio`] (Messages API and
//! status callbacks) and [`fake_telegram::FakeTelegram`] (Bot API `sendMessage`). Each starts on its own thread
//! and port and stops when dropped.

#![allow(dead_code)] // each test file uses a different subset

pub mod fake_telegram;
pub mod fake_twilio;

// Helpers that run the `redflag-bridge` binary (isolated config, database and ports, pointed at the fakes) go
// below this line.

pub mod bridge;
pub mod postgres;
