//! Twilio: webhook signatures, sender addresses and the REST client for replies.

pub mod address;
pub mod client;
pub mod signature;
