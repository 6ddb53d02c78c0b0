//! End-to-end tests and fixtures for weijian (real Mosquitto, the QuestDB double or a real
//! QuestDB named by `WEIJIAN_TEST_QUESTDB`).
#![forbid(unsafe_code)]
