//! # weijian service
//!
//! The running weijian service around the ingestion path (`weijian-ingest`): alert delivery
//! to supervisors (notifiers, the durable notice outbox, the alert desk), the supervisors'
//! HTTP API, the operators' endpoints, and the pipeline that starts and stops every task.
//!
//! # Layout
//!
//! - [`notify`]: notifiers (webhook, DingTalk, WeCom, e-mail, MQTT) and the retry decision
//!   for the outbox.
//! - [`supervision`]: alert delivery in the service: the alert desk the API reads and submits
//!   to, supervisors' requests journaled in the ingest spool, the delivery stage the drain
//!   drives (it implements `weijian_ingest::delivery::AlertDelivery`), and the outbox.
//! - [`api`]: the supervisors' HTTP API under `/api/v1` (alerts, acknowledge, resolve,
//!   silences, site status; its OpenAPI document), over the alert desk.
//! - [`console`]: the supervisors' web console at `/` (sign-in, alerts, an alert's page with
//!   its chart, acknowledge / resolve / silence, the grid tree), over the API's state.
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`, and serving a router.
//! - [`pipeline`]: starting and stopping the tasks (source, acks, drain, outbox, HTTP) and how
//!   they hand work over.
//!
//! Inside the crate: `notify` at the bottom, `supervision` over it, `api` and `http` over
//! that, `console` over `api`, `pipeline` on top.
#![forbid(unsafe_code)]

pub mod api;
pub mod console;
pub mod http;
pub mod notify;
pub mod pipeline;
pub mod reload;
pub mod supervision;
