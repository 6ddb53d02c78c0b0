//! HJ 212 tests of mapping: instrument status codes, per-device codes, periods and the
//! device's UTC offset.

use super::*;

// ---- mapping ----

#[test]
fn instrument_status_codes_are_returned_apart_from_readings() {
    let cp = "DataTime=20240501120000;w01001-Rtd=7.2;i12001-Rtd=2;i12002-Info=0,i12002-Flag=N;i11001-Info=//log//";
    let outcome = decode(&data_frame(2011, Some(4), cp));
    assert!(outcome.rejections.is_empty());
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.2, DataFlag::N)]);
    assert_eq!(
        outcome.instrument_status,
        vec![("i12001".into(), 2.0), ("i12002".into(), 0.0)]
    );
}

#[test]
fn per_device_codes_override_and_extend_the_defaults_and_unmapped_codes_stay_raw() {
    let mut p = profile();
    p.codes.insert("w99001".into(), Metric::FreeChlorineMgL);
    p.codes.insert("w01010".into(), Metric::ChamberTempC);
    let cp = "DataTime=20240501120000;w99001-Rtd=0.5;w01010-Rtd=20;w21003-Rtd=0.1";
    let outcome = decode_with(&data_frame(2011, Some(4), cp), &p);
    assert_eq!(
        metrics_of(&outcome),
        vec![
            MetricRef::Known(Metric::FreeChlorineMgL),
            MetricRef::Known(Metric::ChamberTempC),
            MetricRef::Unknown("w21003".into())
        ]
    );
}

#[test]
fn hour_and_day_frames_map_to_their_periods_with_cumulative_values() {
    let cp = "DataTime=20240501000000;w01001-Min=7,w01001-Avg=7.1,w01001-Max=7.3,w01001-Cou=100";
    let hour = decode(&data_frame(2061, Some(4), cp));
    assert_eq!(hour.samples.len(), 4);
    assert!(hour.samples.iter().all(|s| s.period == Period::Hour));
    assert_eq!(hour.samples[3].stat, Stat::Cou);
    let day = decode(&data_frame(2031, Some(4), cp));
    assert!(day.samples.iter().all(|s| s.period == Period::Day));
    assert_eq!(day.samples[0].ts.to_string(), "2024-04-30T16:00:00.000Z");
}

#[test]
fn the_device_utc_offset_shifts_the_timestamp() {
    let mut p = profile();
    p.utc_offset_secs = 0;
    let outcome = decode_with(&fixture_frames()[5], &p);
    assert_eq!(
        outcome.samples[0].ts.to_string(),
        "2024-05-01T12:00:00.000Z"
    );
}

#[test]
fn a_factor_given_twice_rejects_the_frame_as_a_duplicate_metric() {
    for cp in [
        // The same field twice: today the second value silently replaces the first.
        "DataTime=20240501120000;w01001-Rtd=7.0;w01003-Rtd=0.3;w01001-Rtd=9.9",
        // The same flag twice.
        "DataTime=20240501120000;w01001-Rtd=7.0,w01001-Flag=N;w01001-Flag=D",
        // Two codes of one metric (the 2017 and 2005 codes of pH).
        "DataTime=20240501120000;w01001-Rtd=7.0;001-Rtd=9.9",
    ] {
        let outcome = decode(&data_frame(2011, Some(4), cp));
        assert!(outcome.samples.is_empty(), "{cp}: {:?}", outcome.samples);
        let reasons: Vec<_> = outcome
            .rejections
            .iter()
            .map(|r| r.rejection.reason.code())
            .collect();
        assert_eq!(reasons, vec!["duplicate_metric"], "{cp}");
        assert!(
            outcome.rejections[0].rejection.detail.contains("w01001")
                || outcome.rejections[0].rejection.detail.contains("ph"),
            "{:?}",
            outcome.rejections[0].rejection.detail
        );
    }
}
