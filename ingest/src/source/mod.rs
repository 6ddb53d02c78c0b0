//! Sources of messages: MQTT (`mqtt`) and HJ 212 data loggers over TCP (`hj212_tcp`).

pub mod hj212_tcp;
pub mod mqtt;
