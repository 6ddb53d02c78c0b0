//! HJ 212 tests against the verified frames of `testdata/frames.txt`: CRC, decoding every
//! fixture frame, and the encoder rebuilding them byte for byte.

use super::*;

// ---- CRC ----

#[test]
fn the_crc_of_123456789_is_2f80_and_of_nothing_ffff() {
    assert_eq!(crc16(b"123456789"), 0x2F80);
    assert_eq!(crc16(b""), 0xFFFF);
    assert_eq!(crc_hex(b"123456789"), "2F80");
}

#[test]
fn the_crc_of_the_official_annex_a_example_is_1c80() {
    let data = "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
    assert_eq!(crc_hex(data.as_bytes()), "1C80");
    assert_ne!(crc16(data.as_bytes()), 0x0759, "must not be CRC-16/MODBUS");
}

// ---- fixture ----

#[test]
fn every_fixture_frame_passes_length_and_crc_and_decodes() {
    let frames = fixture_frames();
    assert_eq!(frames.len(), 7);
    for frame in &frames {
        let outcome = decode(frame);
        assert!(
            outcome.rejections.is_empty(),
            "{frame}: {:?}",
            outcome.rejections
        );
    }
}

#[test]
fn every_fixture_frame_decodes_when_all_are_sent_in_one_payload() {
    let payload: String = fixture_frames().concat();
    let outcome = decode(&payload);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(outcome.ignored_commands, vec![1062, 1000, 9011, 9012, 2081]);
    assert_eq!(outcome.samples.len(), 1 + 3);
}

#[test]
fn the_fixture_real_time_frame_yields_one_instant_sample_with_four_metrics() {
    let frame = &fixture_frames()[5];
    let outcome = decode(frame);
    assert_eq!(outcome.samples.len(), 1);
    let sample = &outcome.samples[0];
    assert_eq!((sample.period, sample.stat), (Period::Instant, Stat::Value));
    assert_eq!(sample.ts, NOON_CST_UTC);
    assert_eq!(sample.ts.to_string(), "2024-05-01T04:00:00.000Z");
    assert_eq!(
        values_of(&outcome),
        vec![
            ("ph".into(), 7.21, DataFlag::N),
            ("turbidity_ntu".into(), 0.32, DataFlag::N),
            ("temperature_c".into(), 18.6, DataFlag::N),
            ("conductivity_us_cm".into(), 356.0, DataFlag::N),
        ]
    );
}

#[test]
fn the_fixture_minute_frame_yields_min_avg_max_samples_at_the_interval_start() {
    let outcome = decode(&fixture_frames()[6]);
    let stats: Vec<_> = outcome
        .samples
        .iter()
        .map(|s| (s.period, s.stat, s.values.len()))
        .collect();
    assert_eq!(
        stats,
        vec![
            (Period::Minute, Stat::Min, 2),
            (Period::Minute, Stat::Avg, 2),
            (Period::Minute, Stat::Max, 2)
        ]
    );
    assert!(outcome.samples.iter().all(|s| s.ts == NOON_CST_UTC));
    assert_eq!(outcome.samples[2].values[1].value, 1.35);
}

// ---- encoder ----

#[test]
fn the_encoder_rebuilds_the_fixture_frames_byte_for_byte() {
    for frame in fixture_frames() {
        let data = &frame[6..frame.len() - 6];
        assert_eq!(wrap_frame(data), frame);
    }
}

#[test]
fn datatime_and_qn_format_in_device_local_time() {
    assert_eq!(
        format_data_time(NOON_CST_UTC, DEFAULT_UTC_OFFSET_SECS),
        "20240501120000"
    );
    assert_eq!(
        format_qn(Timestamp(NOON_CST_UTC.0 + 7_000), DEFAULT_UTC_OFFSET_SECS),
        "20240501120000007"
    );
    assert_eq!(
        parse_data_time("20240501120000", DEFAULT_UTC_OFFSET_SECS),
        Some(NOON_CST_UTC)
    );
}
