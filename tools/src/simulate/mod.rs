//! # Simulated fleet
//!
//! Realistic gateway traffic for every device of a [`Registry`](weijian_ingest::config::Registry):
//! drinking-water monitors, medical-waste stores and dental autoclaves, publishing JSON per
//! docs/payload-contract.md to `{prefix}/{site}/{device}/{telemetry|event|status}`, with `ts`
//! in RFC 3339 at +08:00 (China Standard Time) and a per-device `seq` on telemetry.
//!
//! - [`Fleet`] is the pure, deterministic core: `Fleet::new(&registry, prefix, seed, scenario)`,
//!   then [`Fleet::birth_messages`] once and [`Fleet::step`]`(now)` with the caller's clock. Each
//!   device reports at its `expected_interval_secs`; the messages carry their own simulated
//!   times, so the output depends only on registry, seed, scenario and start time.
//! - Water monitors registered with `[devices.hj212]` publish HJ 212-2017 real-time frames to
//!   `.../hj212` instead of JSON telemetry (see [`hj212`]).
//! - [`run_publisher`] drives a fleet against an MQTT broker at a [`Pace`]; [`mqtt_options`] and
//!   [`spawn_client`] build the client.
//!
//! ```no_run
//! # async fn demo(registry: &weijian_ingest::config::Registry) -> Result<(), weijian_tools::simulate::SimulateError> {
//! use weijian_tools::simulate::{self, Fleet, Pace, Scenario};
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let fleet = Fleet::new(registry, "weijian/v1", 42, Scenario::demo());
//! let client = simulate::spawn_client(simulate::mqtt_options("127.0.0.1", 1883, "weijian-sim"), cancel.clone());
//! let stats = simulate::run_publisher(client, fleet, Pace::accelerated(6, 60.0), cancel, |s| {
//!     tracing::info!(messages = s.messages, "published");
//! })
//! .await?;
//! # let _ = stats; Ok(()) }
//! ```
//!
//! ## What a viewer should expect
//!
//! Normal traffic (every scenario):
//!
//! - **Water monitors** (`turbidity_ntu`, `ph`, the site's residual metric, `temperature_c`,
//!   `conductivity_us_cm` every interval): free chlorine ~0.5-0.8 mg/L at an outlet and ~0.15-0.27 at a
//!   network end (chloramine sites report `total_chlorine_mg_l` ~1.2 / 0.65, ClO2 ~0.3 / 0.1,
//!   ozone ~0.12 / 0.05), lowest in the afternoon; turbidity 0.1-0.4 NTU rising for some hours
//!   after a rain-like episode; pH 7.0-7.8; conductivity 300-500 uS/cm.
//! - **Waste stores**: 5-14 C (refrigerated) or 16-24 C, 50-75 % humidity; the door opens once per
//!   collection window while 4-12 `bag_in` events are recorded; in the day's last window a
//!   `handover` of every bag (weight within 1 % of the sum) and a `spray` `disinfection`; the UV
//!   lamp from ~22:00 for an hour, then a `uv` `disinfection`. The first waste device of a site
//!   is the ledger (scale, door contact, lamp); any further one is a climate probe only.
//! - **Autoclaves**: see [`autoclave`]: a B-D test each morning, loads through the day, telemetry
//!   every interval during cycles with hold pressure = IF97 saturation pressure, standby
//!   telemetry once a minute, a negative BI at least weekly.
//!
//! Incidents, at the [`Scenario`]'s rates ([`Scenario::demo`]: something every few minutes on
//! a dozen devices; [`Scenario::calm`]: never). Each is also recorded as an [`Incident`]
//! ([`Fleet::take_incidents`]; the publisher logs them at INFO):
//!
//! | family | what is published | rules it should trip |
//! |---|---|---|
//! | sensor fault | for 1-5 min a value outside the physical range (pH 14.3-15.9, water temperature -99.9, turbidity 4500, humidity > 100 %, chamber temperature 850, chamber pressure > 500 kPa), or one metric stuck at the same value for 65-100 min (water monitors: residual or turbidity, which G2 watches; stores: humidity and sterilizers: the load probe, which G2 deliberately does not watch) | G3, G2 (water) |
//! | water breach | residual below the standard's residual (e.g. free chlorine < 0.3 at an outlet) for 15-70 min; or turbidity above 1 NTU (3 at a small supply) for 10-45 min; or residual above the upper limit for 20-50 min; each ramps in and recovers | W2, W1, W3 (W5 if they overlap at an outlet) |
//! | waste breach | door left open 18-35 min (possibly outside the collection windows); refrigeration failure (above `max_temp_c` for 40-80 min); the next handover 4-14 % short of its bags; the next pickup missed | M5, M6, M2, M4/M1 |
//! | cycle fault (autoclave loads) | hold of 2-3.3 min (121 C: 10-17 min); air in the chamber (pressure of saturated steam 3.5 K hotter); both with device verdict `pass` (false pass) or `fail`; or `cycle_end aborted` | S1, S2, S6 |
//! | outage | nothing for `offline_minutes`; 45 s in (1.5 x keep-alive), the retained last-will-like `status {"online": false}`; then `status {"online": true}` and the buffered events (and, with `buffer_telemetry_when_offline`, telemetry) as one JSON array per channel (HJ 212 monitors: the held frames in one payload); `seq` continues (a network outage, not a gateway restart). Without telemetry buffering an autoclave cycle that overlaps the outage cannot be proven | G1 (S1 for such a cycle) |
//! | maintenance (water) | `maintenance start`, calibration values (pH 7.00/4.01, residual 0), `maintenance end` after 20-45 min (HJ 212 monitors: no event, the values carry flag `M`) | W6 only if it lasts > 4 h; values are flagged, no quality alert |
//!
//! ## Time acceleration
//!
//! weijian rejects timestamps more than 5 minutes in the future, so a fast run must never get
//! ahead of the wall clock. [`Pace::Accelerated`] therefore *back-dates* the start: the fleet
//! starts `backfill` before now, simulated time runs `speedup` times faster than real time (60 =
//! one simulated minute per real second) until it catches up with the wall clock, and from then
//! on the run continues in real time. Every timestamp is in the past or present when published.
//! `Pace::accelerated(6, 60.0)` replays the last 6 hours in 6 minutes, then runs live.
//! [`Pace::RealTime`] starts at now.
#![warn(missing_docs)]

pub mod autoclave;
mod fleet;
pub mod hj212;
mod publish;
mod scenario;
pub mod steam;
mod step;
pub mod waste;
pub mod water;

#[cfg(test)]
mod tests;

pub use fleet::Fleet;
pub use publish::{mqtt_options, run_publisher, spawn_client, Pace, PublishStats, SimulateError};
pub use scenario::Scenario;
pub use step::{rfc3339_cst, Incident, IncidentKind, Outbound, OutboundKind};
