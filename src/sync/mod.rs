//! Sync with a Redflag hub (a bridge that many people's checks pass through): devices learn the scam indicators
//! the hub has seen, and still decide everything locally.
//!
//! The design follows Safe Browsing's update API for privacy and Tauri's updater for trust: the hub publishes
//! digests of scammer-side values in signed pages of changes after a cursor ([`feed`]); a device pins the hub's
//! Ed25519 key when it pairs, verifies every page against it, applies pages atomically with their cursor
//! ([`crate::store::SyncState`]) and matches digests of the values in a checked text locally ([`indicators`]),
//! raising the `reported-indicator` red flag with evidence on the value. The hub never learns what was checked.
//!
//! [`client`] is what the CLI and the desktop call: `redflag sync pair`, `redflag sync` (reports out, then the
//! feed in), `redflag sync --status`; [`report`] is a person's "scam" / "not a scam" on a check, queued until sent.

pub mod client;
pub mod feed;
pub mod indicators;
pub mod report;
