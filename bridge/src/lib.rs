//! `redflag-bridge`: the companion server that lets people forward a suspicious job message to a WhatsApp or SMS
//! number (Twilio) or a Telegram bot and get Redflag's verdict back, and gives API clients `/v1/analyze`.
//!
//! Persist first, answer second: a webhook is validated ([`twilio::signature`], Telegram's secret token), written
//! to the durable [`queue`] in one statement, and acknowledged at once; [`worker`]s claim messages with a lease,
//! coalesce a sender's burst, analyse it with the same core as the CLI and the desktop app ([`engine`]: rules and
//! the local model on their own threads, the LLM when unsure), render the reply ([`reply`]) and send it
//! ([`outbox`]), recording each state change so a crash loses nothing and answers once.
//!
//! Layout: [`settings`] (TOML + environment), [`app`] (router and layers) with [`routes`], [`server`] (startup
//! and graceful shutdown), [`cli`]. The queue, per-user state and API keys sit behind traits
//! ([`queue::BridgeStore`]) so a Postgres or Redis implementation can replace SQLite for several nodes.
//!
//! The bridge is also a **hub** ([`hub`]): it keeps scam indicators (operator-curated, and from the scams it
//! judges) and serves them to paired desktops as signed pages of changes (`routes::sync`), which devices match
//! locally.

pub mod admin;
pub mod alerts;
pub mod app;
pub mod at_rest;
pub mod audit;
pub mod cli;
pub mod engine;
pub mod hub;
pub mod listen;
pub mod metrics;
pub mod migrate;
pub mod outbox;
pub mod pause;
pub mod privacy;
pub mod pseudonym;
pub mod queue;
pub mod reply;
pub mod review;
pub mod routes;
pub mod server;
pub mod settings;
pub mod tasks;
pub mod telegram;
pub mod twilio;
pub mod worker;
