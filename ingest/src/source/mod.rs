//! Sources of messages. Only MQTT today.

pub mod mqtt;
