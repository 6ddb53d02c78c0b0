//! HJ 212-2017 real-time frames (CN=2011) for water monitors registered with a
//! `[devices.hj212]` section: such a device publishes its readings to `.../hj212` as a real
//! data logger would, instead of JSON telemetry (HJ 212-2017; docs/payload-contract.md, HJ 212).
//!
//! Frame: `##` + 4-digit length + data segment + CRC (HJ 212 "ANSI CRC16" of the data segment,
//! upper-case hex) + CRLF. Data segment:
//! `QN=<local ms time>;ST=21;CN=2011;PW=<password or 123456>;MN=<mn>;Flag=4;CP=&&DataTime=<local
//! time>;w01001-Rtd=7.21,w01001-Flag=N;...&&`, with times in the device's configured zone.
//! Factor codes: the standard ones (`w01001` pH, `w01003` turbidity, `w01010` temperature,
//! `w01014` conductivity) and, for the residual metrics, the device's `codes` map; a metric with
//! no code is not sent. Values are flagged `N`, or `M` while the monitor is in maintenance (an
//! HJ 212 logger has no `maintenance` event: the flag says it).

use alerting::model::{Metric, Timestamp};
use chrono::{FixedOffset, TimeZone};
use serde_json::Value;

use weijian_ingest::config::Hj212Settings;

/// The decoder's CRC and frame wrapper: one implementation of Annex A for both directions.
pub use weijian_ingest::decode::hj212::{crc16, wrap_frame as frame};

/// The standard factor code of a metric, or the device's configured one.
fn factor_code(metric: Metric, settings: &Hj212Settings) -> Option<String> {
    let standard = match metric {
        Metric::Ph => Some("w01001"),
        Metric::TurbidityNtu => Some("w01003"),
        Metric::TemperatureC => Some("w01010"),
        Metric::ConductivityUsCm => Some("w01014"),
        _ => None,
    };
    if let Some(code) = standard {
        return Some(code.to_string());
    }
    let mut codes: Vec<&String> = settings
        .codes
        .iter()
        .filter(|(_, m)| **m == metric)
        .map(|(c, _)| c)
        .collect();
    codes.sort();
    codes.first().map(|c| (*c).clone())
}

/// A CN=2011 real-time frame for `values` at `ts`; None when no value has a factor code.
pub(super) fn realtime_frame(
    ts: Timestamp,
    settings: &Hj212Settings,
    values: &[(Metric, Value)],
    maintenance: bool,
) -> Option<(String, usize)> {
    let zone = FixedOffset::east_opt(settings.utc_offset_secs)?;
    let micros = ts.as_micros();
    let secs = micros.div_euclid(Timestamp::MICROS_PER_SEC);
    let millis = micros.rem_euclid(Timestamp::MICROS_PER_SEC) / 1_000;
    let local = zone.timestamp_opt(secs, 0).single()?;
    let data_time = local.format("%Y%m%d%H%M%S").to_string();
    let flag = if maintenance { 'M' } else { 'N' };
    let items: Vec<String> = values
        .iter()
        .filter_map(|(m, v)| {
            let code = factor_code(*m, settings)?;
            let x = v.as_f64()?;
            Some(format!("{code}-Rtd={x},{code}-Flag={flag}"))
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    let segment = format!(
        "QN={data_time}{millis:03};ST=21;CN=2011;PW={};MN={};Flag=4;CP=&&DataTime={data_time};{}&&",
        settings.password.as_deref().unwrap_or("123456"),
        settings.mn,
        items.join(";")
    );
    Some((frame(&segment), items.len()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_crc_matches_the_standards_vectors() {
        assert_eq!(crc16(b"123456789"), 0x2F80);
        assert_eq!(crc16(b""), 0xFFFF);
        let official = "QN=20160801085857223;ST=32;CN=1062;PW=100000;\
                        MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
        assert_eq!(
            frame(official),
            format!("##0101{official}1C80\r\n"),
            "HJ 212-2017 Annex A example"
        );
    }

    #[test]
    fn a_realtime_frame_carries_local_time_codes_and_flags() {
        let settings = Hj212Settings {
            mn: "010000A8900016F000169DC0".into(),
            password: None,
            utc_offset_secs: 8 * 3600,
            codes: HashMap::from([("w99001".to_string(), Metric::FreeChlorineMgL)]),
            allowed_sources: Vec::new(),
        };
        // 2026-11-22T08:00:00.250+08:00
        let ts = Timestamp::from_millis(1_795_305_600_250);
        let values = [
            (Metric::Ph, serde_json::json!(7.21)),
            (Metric::FreeChlorineMgL, serde_json::json!(0.52)),
            (Metric::ChlorineDioxideMgL, serde_json::json!(0.3)),
        ];
        let (f, n) = realtime_frame(ts, &settings, &values, false).unwrap();
        assert_eq!(n, 2);
        let segment = "QN=20261122080000250;ST=21;CN=2011;PW=123456;MN=010000A8900016F000169DC0;\
                       Flag=4;CP=&&DataTime=20261122080000;w01001-Rtd=7.21,w01001-Flag=N;\
                       w99001-Rtd=0.52,w99001-Flag=N&&";
        assert_eq!(f, frame(segment));
        let (m, _) = realtime_frame(ts, &settings, &values, true).unwrap();
        assert!(m.contains("w01001-Flag=M"));
        assert!(realtime_frame(ts, &settings, &values[2..], false).is_none());
    }
}
