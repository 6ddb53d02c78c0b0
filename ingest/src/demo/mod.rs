//! `weijian demo`: an embedded broker, a simulated fleet and the pipeline in one process, with
//! a live status line and readable alerts.

pub mod broker;
