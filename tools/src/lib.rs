//! # weijian tools
//!
//! What developers, integrators and benchmarks use around weijian, kept out of the production
//! binary (`cargo build -p weijian --no-default-features` links none of it, so neither the
//! embedded broker rumqttd nor the benchmark code).
//!
//! # Layout
//!
//! - [`simulate`]: the simulated fleet (water plants and network points, medical-waste stores,
//!   dental sterilizers) with scenarios of incidents; `weijian simulate`.
//! - [`demo`]: `weijian demo` (embedded rumqttd broker + fleet + the service).
//! - [`bench`](mod@bench): `weijian loadgen` and `weijian bench` (load generator, bare-limit
//!   subscriber, ILP sink, private Mosquitto, throughput, steady load, alert latency, memory).
//!
//! Inside the crate: `simulate` at the bottom, `demo` and `bench` over it.
#![forbid(unsafe_code)]

pub mod bench;
pub mod demo;
pub mod simulate;
