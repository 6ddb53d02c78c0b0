//! Alert delivery, the pure core: who hears about an alert, when, and what they are told.
//!
//! - [`config`]: supervisors per grid cell with their channels, and notice timing
//!   (`config/supervisors.example.toml`), validated against the sites' grid.
//! - [`grid`]: tiers (社区 -> 街道 -> 区 -> 市) and cells; the subtree visibility rule.
//! - [`engine`]: [`DeliveryEngine`]: routing, grouping, repeats, escalation, acknowledgement,
//!   manual resolution, silences, snapshot/restore (the core in `engine.rs`; `engine/`
//!   holds `escalation`, `acknowledge`, `silences` and `snapshot`).
//! - [`notice`]: its outputs: [`Notice`]s for the outbox and [`DeliveryEvent`] lifecycle records.
//! - [`silence`]: silences and maintenance windows.
//! - `text` (private): bilingual notice text with what to do per rule family.
//! - `tests` (test builds): shared fixtures in `tests/mod.rs`, one file per concern.
//!
//! No I/O, no clock: every call takes `now`. The caller (the service) feeds it every rule-engine
//! [`crate::AlertEvent`] and calls [`DeliveryEngine::tick`] periodically (every few seconds;
//! a late tick only delays), hands notices to the durable outbox (one delivery per recipient
//! channel, deduplicated by [`Notice::id`]), writes and publishes the [`DeliveryEvent`]s, and
//! persists [`DeliveryEngine::snapshot`] with the rule engine's.
//!
//! ```no_run
//! use alerting::delivery::{DeliveryConfig, DeliveryEngine, Silence, SilenceScope};
//! # fn demo(src: &str, sites: Vec<alerting::model::Site>, events: Vec<alerting::AlertEvent>,
//! #         now: alerting::model::Timestamp) -> Result<(), Box<dyn std::error::Error>> {
//! let loaded = DeliveryConfig::from_toml(src, "supervisors.toml", &sites)
//!     .map_err(|errs| format!("{errs:?}"))?;
//! let mut delivery = DeliveryEngine::new(loaded.config, &sites);
//! for e in &events {
//!     let out = delivery.on_alert_event(e, now); // out.notices -> outbox, out.events -> store
//! }
//! let out = delivery.tick(now); // groups, repeats, escalations, expired silences
//! let out = delivery.acknowledge("W2/wp-east-outlet/wm-1/1795305600000000", "sq-shuichang",
//!                                "已派人到场", now)?;
//! let json = serde_json::to_string(&delivery.snapshot())?;
//! # Ok(()) }
//! ```
//!
//! # Semantics (decisions)
//!
//! - **Routing.** An alert goes to the supervisors of its site's community cell; if that cell
//!   has none, to the nearest tier up that has some. Its *tier* is where it currently sits.
//! - **Grouping.** `firing` alerts of one site are collected for `group_window_secs` from the
//!   first and flushed by `tick` as one `new` notice (0 = no grouping). Escalations and repeats
//!   due in the same tick for one site and tier are also one notice. A member's later level
//!   change is its own notice. An alert that resolves or is acknowledged inside the window is
//!   never announced.
//! - **Deadlines** start when the alert is first announced (a supervisor cannot acknowledge what
//!   they were not told), restart on escalation and level change, and pause while silenced.
//!   Past the deadline the alert escalates one tier up (to the next tier that has
//!   supervisors) and the deadline restarts from that moment, so even after a long gap
//!   between ticks it climbs one tier per deadline; at the city it stays, and repeats go on.
//!   Escalated notices go to the new tier (the lower tiers already know).
//! - **Repeats** go to the current tier at the level's interval while unacknowledged; they do
//!   not restart the ack deadline. An escalation due at the same time wins.
//! - **Acknowledging** stops escalation and repeats (the alert stays open) and tells everyone
//!   who was notified. A later change to a *more severe* level clears the acknowledgement
//!   (record `acknowledgement_cleared`) and the deadline runs again; a less severe one keeps it.
//! - **Resolved** (by the rule engine or manually) tells everyone who was notified of the
//!   alert, even during a silence: it closes what they were told. Likewise an
//!   **acknowledgement** is told during a silence (a person acted; it is not noise).
//! - **Silences** hold every other notice for the alerts they cover (records are still
//!   produced). When a silence ends (expiry or lifted), its still-open unacknowledged alerts
//!   are notified (`new` if never announced, else `repeat`) and their deadlines restart.
//! - **Visibility.** A supervisor sees and acts on the sites in their cell's subtree only
//!   (`Forbidden` otherwise), for acknowledging, resolving and silences.

pub mod config;
pub mod engine;
pub use crate::grid;
pub mod notice;
pub mod silence;
mod text;

pub use text::alert_page;

pub use config::{
    Channel, ChannelKind, DeliveryConfig, DeliveryTiming, Language, Loaded, PerLevel, Supervisor,
    SupervisorId,
};
pub use engine::{
    Acknowledgement, DeliveryEngine, DeliverySnapshot, PendingGroup, ResolvedAlert, TrackedAlert,
    RESOLVED_RETENTION_SECS, SNAPSHOT_VERSION,
};
pub use grid::{Cell, Tier};
pub use notice::{
    DeliveryError, DeliveryEvent, DeliveryEventKind, Notice, NoticeKind, Outcome, Recipient,
};
pub use silence::{Silence, SilenceScope};

#[cfg(test)]
mod tests;
