//! HJ 212 property tests (never panics, round-trips) and the throughput measurement.

use proptest::prelude::*;

use super::*;

// ---- properties ----

fn flag_strategy() -> impl Strategy<Value = DataFlag> {
    prop::sample::select(ALL_FLAGS.to_vec())
}

proptest! {
    #[test]
    fn the_decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut reasm = Reassembler::default();
        let _ = decode_payload(&bytes, &profile(), &mut reasm, Timestamp(0));
        let _ = decode_frames(&bytes, None, &mut reasm, Timestamp(0));
        let _ = reasm.expire(Timestamp(i64::MAX));
    }

    #[test]
    fn the_decoder_never_panics_on_strings_that_look_like_frames(
        len in 0u32..1200,
        body in "[QNSTCPWMFlagDtRdw0-9=;,&#\\-\\. \r\n]{0,300}",
        crc in "[0-9A-Fa-fxX]{0,5}",
    ) {
        let payload = format!("##{len:04}{body}{crc}\r\n##{:04}{body}", body.len());
        let _ = decode(&payload);
        let wrapped = wrap_frame(&body);
        let _ = decode(&wrapped);
    }

    #[test]
    fn encoded_data_frames_decode_to_the_same_values_flags_and_time(
        secs in 946_684_800i64..4_102_444_800,
        offset_hours in -12i32..14,
        values in prop::collection::vec((-1.0e6f64..1.0e6, flag_strategy()), 1..6),
        cn in prop::sample::select(vec![2011u16, 2051, 2061, 2031]),
    ) {
        let ts = Timestamp::from_secs(secs);
        let offset = offset_hours * 3600;
        let stat = if cn == 2011 { Stat::Value } else { Stat::Avg };
        let factors: Vec<FactorValues> = values
            .iter()
            .enumerate()
            .map(|(i, (v, f))| FactorValues { code: format!("w9900{i}"), values: vec![(stat, *v)], flag: Some(*f) })
            .collect();
        let frame = FrameBuilder {
            qn: Some(format_qn(ts, offset)),
            st: Some("21".into()),
            cn,
            pw: Some("123456".into()),
            mn: MN.into(),
            flag: Some(5),
            packet: None,
            cp: data_cp(&format_data_time(ts, offset), &factors),
        }
        .build();
        let mut p = profile();
        p.utc_offset_secs = offset;
        let outcome = decode_with(&frame, &p);
        prop_assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
        prop_assert_eq!(outcome.samples.len(), 1);
        let sample = &outcome.samples[0];
        prop_assert_eq!(sample.ts, ts);
        prop_assert_eq!(sample.stat, stat);
        let got: Vec<(f64, DataFlag)> = sample.values.iter().map(|v| (v.value, v.flag)).collect();
        prop_assert_eq!(got, values);
        prop_assert_eq!(outcome.replies.len(), 1);
    }
}

// ---- throughput (run with --release --ignored --nocapture) ----

#[test]
#[ignore = "measurement; run in release"]
fn decoding_runs_above_200k_frames_per_second() {
    let frames = fixture_frames();
    let payload = frames[5].as_bytes();
    let p = profile();
    let mut reasm = Reassembler::default();
    let n = 300_000;
    let start = std::time::Instant::now();
    let mut total = 0;
    for _ in 0..n {
        total += decode_payload(payload, &p, &mut reasm, Timestamp(0))
            .samples
            .len();
    }
    let elapsed = start.elapsed();
    let rate = f64::from(n) / elapsed.as_secs_f64();
    println!("{n} real-time frames (4 values) in {elapsed:?}: {rate:.0} frames/s");
    assert_eq!(total, n as usize);
    assert!(rate > 200_000.0, "{rate}");
}
