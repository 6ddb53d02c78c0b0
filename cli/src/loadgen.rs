//! `weijian loadgen`: publish telemetry from simulated devices as fast as possible or at a
//! rate (needs the `tools` feature).

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::{host_port, on_signals, runtime_then, PayloadFormat, EX_USAGE};

/// The arguments of `weijian loadgen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Broker as host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Simulated devices d0..d{N-1} at sites s0..s{N-1}.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Messages per second (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// MQTT QoS (0 or 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Readings per message: 1 = a single JSON object; K > 1 = an array of K (HJ 212: K frames).
    #[arg(long, default_value_t = 1)]
    pub per_message: usize,
    /// Payload format (hj212 needs a registry with MNs: `bench --print-config --hj212`).
    #[arg(long, value_enum, default_value = "json")]
    pub format: PayloadFormat,
    /// Stop after this many seconds ...
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// ... or after this many messages (default: 10 s if neither is given).
    #[arg(long)]
    pub count: Option<u64>,
    #[arg(long, default_value = "weijian/v1")]
    pub topic_prefix: String,
    #[arg(long, default_value = "weijian-loadgen")]
    pub client_id: String,
    /// QoS 1 messages in flight.
    #[arg(long, default_value_t = 1000)]
    pub inflight: u16,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Publishes the load and prints what was sent.
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    let Args {
        broker,
        devices,
        rate,
        qos,
        per_message,
        format: payload_format,
        duration_secs,
        count,
        topic_prefix,
        client_id,
        inflight,
        seed,
    } = args;
    logging::init(format, "warn");
    let Some((host, port)) = host_port(&broker) else {
        eprintln!("--broker {broker:?} is not host:port");
        return ExitCode::from(EX_USAGE);
    };
    let duration = match (duration_secs, count) {
        (None, None) => Some(std::time::Duration::from_secs(10)),
        (d, _) => d.map(std::time::Duration::from_secs_f64),
    };
    let options = weijian_tools::bench::loadgen::LoadgenOptions {
        host,
        port,
        client_id,
        topic_prefix,
        devices: devices.max(1),
        rate,
        qos,
        per_message: per_message.max(1),
        format: match payload_format {
            PayloadFormat::Json => weijian_tools::bench::payload::Format::Json,
            PayloadFormat::Hj212 => weijian_tools::bench::payload::Format::Hj212,
        },
        duration,
        count,
        inflight,
        seed,
    };
    runtime_then(|| async move { loadgen(options).await })
}

async fn loadgen(options: weijian_tools::bench::loadgen::LoadgenOptions) -> ExitCode {
    use weijian_tools::bench::loadgen;
    let cancel = CancellationToken::new();
    on_signals(cancel.clone());
    eprintln!(
        "loadgen: {} devices -> {}:{} ({}), QoS {}, {} reading(s) per message, {}",
        options.devices,
        options.host,
        options.port,
        options.topic_prefix,
        options.qos,
        options.per_message,
        match options.rate {
            Some(r) => format!("{r} msg/s"),
            None => "as fast as possible".to_string(),
        }
    );
    match loadgen::run(&options, cancel, |s| {
        eprintln!("{}", loadgen::progress_line(s))
    })
    .await
    {
        Ok(stats) => {
            println!(
                "sent {} messages ({} readings, {} bytes) in {:.2} s: {:.0} msg/s, {:.0} readings/s; {} written to the connection, {} acknowledged by the broker (QoS 1)",
                stats.messages,
                stats.readings,
                stats.bytes,
                stats.elapsed.as_secs_f64(),
                stats.rate(),
                stats.readings_rate(),
                stats.written,
                stats.acked
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen failed: {error}");
            ExitCode::FAILURE
        }
    }
}
