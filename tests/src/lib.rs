//! End-to-end tests and fixtures for weijian (real Mosquitto, the QuestDB double or a real
//! QuestDB named by `WEIJIAN_TEST_QUESTDB`). The tests themselves are in `tests/tests/`, one
//! file per behaviour (`architecture.rs` checks the workspace's structure).
//!
//! # Layout
//!
//! * [`harness`]: an environment for one end-to-end test (broker, store, spool, configuration).
//! * [`process`]: the `weijian` binary of this build, run as a child process.
//! * [`questdb_double`]: an in-process QuestDB double speaking ILP over HTTP strictly, with
//!   fault injection; [`ilp`] is its line-protocol parser.
//! * [`store`]: [`store::TestStore`], the same assertions against the double or a real QuestDB.
//! * [`mosquitto`]: runs a real Mosquitto broker for a test.
//! * [`grid`]: a small supervision grid with supervisors on local webhooks.
//! * [`api_client`]: a client for the alert API.
//! * [`console_client`]: a signed-in client of the web console (no browser).
//! * [`receiver`]: a local webhook receiver (records notices, can play "down").
//! * [`webdriver`]: a minimal WebDriver client and chromedriver with headless chromium.
#![forbid(unsafe_code)]

pub mod api_client;
pub mod console_client;
pub mod grid;
pub mod harness;
pub mod ilp;
pub mod mosquitto;
pub mod process;
pub mod questdb_double;
pub mod receiver;
pub mod store;
pub mod webdriver;
