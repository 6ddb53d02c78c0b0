//! Benchmark payloads per docs/payload-contract.md: water-monitor telemetry for device `d{i}`
//! at site `s{i}`, as JSON (one object, or an array of K objects like a gateway flushing its
//! buffer) or as HJ 212-2017 real-time frames (CN=2011, one frame per reading, K frames per
//! payload).
//!
//! Values are realistic and in range (turbidity ~0.3 NTU, free chlorine ~0.6 mg/L, pH ~7.3,
//! 15 C, ~420 uS/cm) with a little noise, so they raise no alert; `seq` increases per device
//! without gaps; timestamps are the wall clock at generation, objects of an array 10 ms
//! apart going back from now (RFC 3339 at +08:00, as the simulator sends them), and never
//! earlier than 1 ms after the device's previous reading: a device's readings have distinct
//! timestamps, so QuestDB's DEDUP on (ts, device) keeps every one of them.
//!
//! HJ 212 times have whole seconds (`DataTime`), and a device may publish faster than once a
//! second (loadgen without `--rate`): a device's frames take the current seconds while those
//! are still unused by it, else the seconds just before the earliest it has used (never the
//! future, which validation bounds at `max_future_secs`; going back one second per excess
//! frame stays within `max_age_days` for millions of frames). So every HJ 212 reading has its
//! own (device, ts) too.

use std::fmt::Write as _;

use alerting::model::{DataFlag, Stat, Timestamp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::simulate::rfc3339_cst;
use weijian_ingest::decode::hj212::{
    data_cp, format_data_time, format_qn, FactorValues, FrameBuilder,
};

/// Payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON on `.../telemetry`.
    Json,
    /// HJ 212 frames on `.../hj212` (the registry needs an MN per device: `--hj212`).
    Hj212,
}

/// Metric values in one JSON reading (one row of `water_quality`).
pub const JSON_VALUES_PER_READING: usize = 5;

/// Generates topics and payloads for a fleet of benchmark devices.
#[derive(Debug)]
pub struct PayloadGen {
    prefix: String,
    format: Format,
    per_message: usize,
    rng: SmallRng,
    seq: Vec<u64>,
    /// Per device, the timestamp of its latest JSON reading (microseconds).
    last_ts: Vec<i64>,
    /// Per device, the earliest and latest second (epoch seconds) its HJ 212 frames used.
    hj212_seconds: Vec<Option<(i64, i64)>>,
}

/// The current wall-clock time.
pub fn wall_clock() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_micros())
}

impl PayloadGen {
    /// `per_message` readings per payload (1 = a single JSON object, not an array).
    pub fn new(
        prefix: &str,
        format: Format,
        devices: usize,
        per_message: usize,
        seed: u64,
    ) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_string(),
            format,
            per_message: per_message.max(1),
            rng: SmallRng::seed_from_u64(seed),
            seq: vec![0; devices.max(1)],
            last_ts: vec![i64::MIN; devices.max(1)],
            hj212_seconds: vec![None; devices.max(1)],
        }
    }

    pub fn per_message(&self) -> usize {
        self.per_message
    }

    /// The topic of device `i`.
    pub fn topic(&self, i: usize) -> String {
        let channel = match self.format {
            Format::Json => "telemetry",
            Format::Hj212 => "hj212",
        };
        format!("{}/s{i}/d{i}/{channel}", self.prefix)
    }

    /// One message from device `i % devices` at `now`.
    pub fn message(&mut self, i: usize, now: Timestamp) -> (String, Vec<u8>) {
        let i = i % self.seq.len();
        let payload = match self.format {
            Format::Json => self.json(i, now),
            Format::Hj212 => self.hj212(i, now),
        };
        (self.topic(i), payload)
    }

    fn values(&mut self) -> [f64; JSON_VALUES_PER_READING] {
        let mut noise = |scale: f64| (self.rng.random::<f64>() - 0.5) * scale;
        [
            round3(0.30 + noise(0.1)),
            round3(0.62 + noise(0.1)),
            round3(7.30 + noise(0.2)),
            round3(15.0 + noise(1.0)),
            round3(420.0 + noise(20.0)),
        ]
    }

    fn json(&mut self, i: usize, now: Timestamp) -> Vec<u8> {
        let k = self.per_message;
        let mut out = String::with_capacity(160 * k + 2);
        if k > 1 {
            out.push('[');
        }
        for j in 0..k {
            if j > 0 {
                out.push(',');
            }
            let back = i64::try_from(k - 1 - j).unwrap_or(0) * 10_000;
            // Timestamps are sent to the millisecond.
            let micros = (now.0 - back).max(self.last_ts[i].saturating_add(1_000)) / 1_000 * 1_000;
            self.last_ts[i] = micros;
            let ts = rfc3339_cst(Timestamp(micros));
            let seq = self.next_seq(i);
            let [turb, cl, ph, temp, cond] = self.values();
            let _ = write!(
                out,
                "{{\"ts\":\"{ts}\",\"seq\":{seq},\"values\":{{\"turbidity_ntu\":{turb},\
                 \"free_chlorine_mg_l\":{cl},\"ph\":{ph},\"temperature_c\":{temp},\
                 \"conductivity_us_cm\":{cond}}}}}"
            );
        }
        if k > 1 {
            out.push(']');
        }
        out.into_bytes()
    }

    fn hj212(&mut self, i: usize, now: Timestamp) -> Vec<u8> {
        const CST: i32 = 8 * 3600;
        let k = self.per_message;
        let mut out = String::with_capacity(200 * k);
        let first = self.hj212_first_second(i, now);
        for j in 0..k {
            let ts = Timestamp((first + i64::try_from(j).unwrap_or(0)) * 1_000_000);
            let [turb, _cl, ph, temp, cond] = self.values();
            let factor = |code: &str, v: f64| FactorValues {
                code: code.to_string(),
                values: vec![(Stat::Value, v)],
                flag: Some(DataFlag::N),
            };
            let cp = data_cp(
                &format_data_time(ts, CST),
                &[
                    factor("w01001", ph),
                    factor("w01003", turb),
                    factor("w01010", temp),
                    factor("w01014", cond),
                ],
            );
            let frame = FrameBuilder {
                qn: Some(format_qn(ts, CST)),
                st: Some("32".into()),
                cn: 2011,
                pw: Some("123456".into()),
                mn: super::registry::mn(i),
                flag: Some(4),
                packet: None,
                cp,
            };
            out.push_str(&frame.build());
        }
        out.into_bytes()
    }

    /// The first of `per_message` consecutive seconds for device `i`'s next HJ 212 frames:
    /// the latest ones up to `now` if the device has not used them, else the ones just before
    /// the earliest second it has used.
    fn hj212_first_second(&mut self, i: usize, now: Timestamp) -> i64 {
        let k = i64::try_from(self.per_message).unwrap_or(1);
        let natural = now.0.div_euclid(1_000_000) - (k - 1);
        let (first, used) = match self.hj212_seconds[i] {
            None => (natural, (natural, natural + k - 1)),
            // Moving forward, the seconds in between count as used (one range is kept).
            Some((earliest, latest)) if natural > latest => (natural, (earliest, natural + k - 1)),
            Some((earliest, latest)) => (earliest - k, (earliest - k, latest)),
        };
        self.hj212_seconds[i] = Some(used);
        first
    }

    fn next_seq(&mut self, i: usize) -> u64 {
        let s = &mut self.seq[i];
        *s += 1;
        *s
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A breaching reading for the latency probe: turbidity 5000 NTU is outside the physical
/// range (0-4000), so it is quarantined and rule G3 fires at once (level IV).
pub fn breaching_json(now: Timestamp) -> Vec<u8> {
    format!(
        "{{\"ts\":\"{}\",\"values\":{{\"turbidity_ntu\":5000}}}}",
        rfc3339_cst(now)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_devices_array_readings_never_share_a_timestamp_across_messages() {
        let mut g = super::PayloadGen::new("wj/v1", super::Format::Json, 2, 100, 7);
        let now = super::Timestamp(1_800_000_000_000_000);
        let mut seen = std::collections::BTreeSet::new();
        for m in 0..20 {
            let (_, payload) = g.message(0, super::Timestamp(now.0 + m * 50_000));
            let readings: Vec<serde_json::Value> = serde_json::from_slice(&payload).unwrap();
            for r in readings {
                assert!(seen.insert(r["ts"].as_str().unwrap().to_owned()), "{r}");
            }
        }
        assert_eq!(seen.len(), 2_000);
    }

    use std::sync::Arc;

    use super::*;
    use weijian_ingest::message::Message;
    use weijian_ingest::validate::Validator;

    fn validator(devices: usize, hj212: bool) -> Validator {
        let dir = std::env::temp_dir();
        let c = super::super::registry::BenchConfig {
            broker_host: "127.0.0.1",
            broker_port: 1883,
            client_id: "bench",
            topic_prefix: "weijian/v1",
            questdb_conf: "http::addr=127.0.0.1:9000;",
            table_prefix: "",
            spool_dir: &dir,
            http_listen: "127.0.0.1:0",
            devices,
            hj212,
        };
        let config = super::super::registry::parse(&c).unwrap();
        Validator::new(Arc::clone(&config.registry), config.limits, "weijian/v1")
    }

    fn process(
        v: &mut Validator,
        topic: String,
        payload: Vec<u8>,
    ) -> weijian_ingest::validate::Processed {
        v.process(&Message {
            received_at: wall_clock(),
            qos: 1,
            topic,
            payload,
        })
    }

    #[test]
    fn json_single_and_array_payloads_are_accepted_in_full() {
        let mut v = validator(10, false);
        for k in [1, 100] {
            let mut g = PayloadGen::new("weijian/v1", Format::Json, 10, k, 7);
            for i in 0..25 {
                let (topic, payload) = g.message(i, wall_clock());
                let p = process(&mut v, topic, payload);
                assert!(p.rejected.is_empty(), "{:?}", p.rejected);
                assert_eq!(p.readings, k * JSON_VALUES_PER_READING);
                assert_eq!(p.rows.len(), k);
            }
        }
    }

    #[test]
    fn hj212_payloads_are_accepted_in_full() {
        let mut v = validator(4, true);
        let mut g = PayloadGen::new("weijian/v1", Format::Hj212, 4, 3, 7);
        for i in 0..8 {
            let (topic, payload) = g.message(i, wall_clock());
            assert!(topic.ends_with("/hj212"));
            let p = process(&mut v, topic, payload);
            assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            assert_eq!(p.readings, 3 * 4);
            assert!(p.replies.is_empty());
        }
    }

    /// The readings of `messages` loadgen messages (device taking turns, generated as fast as
    /// the loop runs, like `weijian loadgen` without `--rate`) as (device, ts) pairs.
    fn device_ts_pairs(format: Format, per_message: usize, messages: usize) -> Vec<(String, i64)> {
        let devices = 100;
        let mut v = validator(devices, format == Format::Hj212);
        let mut g = PayloadGen::new("weijian/v1", format, devices, per_message, 7);
        let mut pairs = Vec::new();
        for n in 0..messages {
            let (topic, payload) = g.message(n, wall_clock());
            let p = process(&mut v, topic, payload);
            assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            for row in p.rows {
                if let weijian_ingest::sink::rows::Row::Reading(r) = row {
                    pairs.push((r.device.to_string(), r.ts.0));
                }
            }
        }
        pairs
    }

    #[test]
    fn every_loadgen_reading_has_its_own_device_and_timestamp_so_dedup_keeps_it() {
        for (format, k) in [(Format::Json, 1), (Format::Hj212, 1), (Format::Hj212, 3)] {
            let pairs = device_ts_pairs(format, k, 20_000 / k);
            let distinct: std::collections::BTreeSet<_> = pairs.iter().collect();
            assert_eq!(pairs.len(), 20_000 / k * k, "{format:?} x{k}");
            assert_eq!(
                distinct.len(),
                pairs.len(),
                "{format:?} x{k}: (device, ts) repeats"
            );
        }
    }

    #[test]
    fn the_probe_reading_is_a_sensor_fault() {
        let mut v = validator(2, false);
        let p = process(
            &mut v,
            "weijian/v1/s1/d1/telemetry".into(),
            breaching_json(wall_clock()),
        );
        assert!(p
            .inputs
            .iter()
            .any(|i| matches!(i, alerting::Input::SensorFault { .. })));
    }
}
