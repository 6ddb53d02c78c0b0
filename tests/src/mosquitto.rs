//! Runs a real Mosquitto broker for tests (work in progress).
