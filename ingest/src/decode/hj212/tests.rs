//! Tests of the HJ 212 decoder: the verified frames of domain-reference B.12, frames built with
//! the encoder for every B.11 tolerance and for 2005-style loggers, negative cases, split
//! packets, the integrator report, and property tests (never panics, round-trips).

use super::*;
use alerting::model::{DataFlag, Metric, Period, Stat};
use proptest::prelude::*;

const FIXTURE: &str = include_str!("testdata/frames.txt");
const MN: &str = "010000A8900016F000169DC0";

/// The verified frames of the fixture, with `\r\n` turned into real CRLF.
fn fixture_frames() -> Vec<String> {
    FIXTURE
        .lines()
        .filter(|l| l.starts_with("##"))
        .map(|l| l.replace("\\r\\n", "\r\n"))
        .collect()
}

fn profile() -> Hj212Profile {
    Hj212Profile::for_mn(MN)
}

fn decode(payload: &str) -> Hj212Outcome {
    decode_payload(
        payload.as_bytes(),
        &profile(),
        &mut Reassembler::default(),
        Timestamp(0),
    )
}

fn decode_with(payload: &str, profile: &Hj212Profile) -> Hj212Outcome {
    decode_payload(
        payload.as_bytes(),
        profile,
        &mut Reassembler::default(),
        Timestamp(0),
    )
}

/// A 2017 real-time data frame for `MN` with the given CP data area.
fn data_frame(cn: u16, flag: Option<u8>, cp: &str) -> String {
    FrameBuilder {
        qn: Some("20240501120000000".into()),
        st: Some("21".into()),
        cn,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag,
        packet: None,
        cp: cp.into(),
    }
    .build()
}

fn reasons(outcome: &Hj212Outcome) -> Vec<Reason> {
    outcome
        .rejections
        .iter()
        .map(|r| r.rejection.reason)
        .collect()
}

fn values_of(outcome: &Hj212Outcome) -> Vec<(String, f64, DataFlag)> {
    outcome
        .samples
        .iter()
        .flat_map(|s| {
            s.values
                .iter()
                .map(|v| (v.metric.name().to_owned(), v.value, v.flag))
        })
        .collect()
}

/// 2024-05-01 12:00:00 at UTC+8 = 04:00:00Z.
const NOON_CST_UTC: Timestamp = Timestamp(1_714_536_000_000_000);

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

// ---- replies ----

#[test]
fn a_data_frame_with_flag_bit_a_gets_the_9014_acknowledgement_echoing_its_qn() {
    let outcome = decode(&fixture_frames()[5]);
    let expected = wrap_frame(
        "QN=20240501120000000;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&",
    );
    assert_eq!(outcome.replies, vec![expected.clone()]);
    assert!(expected.starts_with("##0087QN="));
    assert!(expected.ends_with("\r\n"));
    // The reply is itself a valid frame (an interaction command, not stored).
    let back = decode(&expected);
    assert!(back.rejections.is_empty());
    assert_eq!(back.ignored_commands, vec![9014]);
}

#[test]
fn a_data_frame_without_flag_bit_a_gets_no_reply() {
    let frame = data_frame(2011, Some(4), "DataTime=20240501120000;w01001-Rtd=7.0");
    let outcome = decode(&frame);
    assert_eq!(outcome.samples.len(), 1);
    assert!(outcome.replies.is_empty());
}

#[test]
fn flag_bits_give_version_reply_and_split() {
    let header = |flag| FrameHeader {
        qn: None,
        st: None,
        cn: 2011,
        pw: None,
        mn: MN.into(),
        flag,
        pnum: None,
        pno: None,
    };
    let h = header(Some(7));
    assert_eq!(
        (h.version(), h.reply_wanted(), h.is_split()),
        (1, true, true)
    );
    let h = header(Some(4));
    assert_eq!(
        (h.version(), h.reply_wanted(), h.is_split()),
        (1, false, false)
    );
    let h = header(None);
    assert_eq!(
        (h.version(), h.reply_wanted(), h.is_split()),
        (0, false, false)
    );
}

// ---- splitting ----

#[test]
fn frames_concatenated_without_crlf_all_decode() {
    let frames = fixture_frames();
    let payload = format!(
        "{}{}{}",
        frames[5].trim_end(),
        frames[6].trim_end(),
        frames[0].trim_end()
    );
    let outcome = decode(&payload);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(outcome.samples.len(), 4);
    assert_eq!(outcome.ignored_commands, vec![1062]);
}

#[test]
fn garbage_between_frames_is_one_malformed_rejection_and_the_frames_still_decode() {
    let frames = fixture_frames();
    let payload = format!("{}hello ## world\r\n{}", frames[5], frames[6]);
    let outcome = decode(&payload);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212Malformed]);
    assert_eq!(outcome.rejections[0].raw, b"hello ## world");
    assert_eq!(outcome.samples.len(), 4);
}

#[test]
fn a_payload_of_only_garbage_is_one_malformed_rejection() {
    let outcome = decode("not a frame at all");
    assert_eq!(reasons(&outcome), vec![Reason::Hj212Malformed]);
    assert!(decode("").rejections.is_empty());
    assert!(decode("\r\n  \r\n").rejections.is_empty());
}

#[test]
fn a_bad_crc_rejects_only_its_frame_and_names_both_values() {
    let frames = fixture_frames();
    let bad = frames[5].replace("7EC0", "7EC1");
    let payload = format!("{}{}{}", frames[0], bad, frames[6]);
    let outcome = decode(&payload);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212BadCrc]);
    let detail = &outcome.rejections[0].rejection.detail;
    assert!(
        detail.contains("7EC0") && detail.contains("7EC1"),
        "{detail}"
    );
    assert_eq!(outcome.rejections[0].raw, bad.trim_end().as_bytes());
    assert_eq!(outcome.samples.len(), 3);
    assert_eq!(outcome.ignored_commands, vec![1062]);
}

#[test]
fn a_changed_byte_in_the_data_segment_fails_the_crc() {
    let frame = fixture_frames()[5].replace("7.21", "7.31");
    assert_eq!(reasons(&decode(&frame)), vec![Reason::Hj212BadCrc]);
}

#[test]
fn a_non_hex_crc_field_is_a_bad_crc() {
    let frame = fixture_frames()[0].replace("1C80", "1CZ0");
    assert_eq!(reasons(&decode(&frame)), vec![Reason::Hj212BadCrc]);
}

#[test]
fn a_lower_case_crc_is_accepted() {
    let frame = fixture_frames()[5].replace("7EC0", "7ec0");
    let outcome = decode(&frame);
    assert!(outcome.rejections.is_empty());
    assert_eq!(outcome.samples.len(), 1);
}

#[test]
fn a_truncated_frame_is_a_bad_length() {
    let frame = &fixture_frames()[5];
    let outcome = decode(&frame[..120]);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212BadLength]);
    assert!(outcome.rejections[0].rejection.detail.contains("truncated"));
}

#[test]
fn a_wrong_length_field_is_a_bad_length_and_the_next_frame_still_decodes() {
    let frames = fixture_frames();
    let wrong = frames[5].replacen("##0229", "##0228", 1);
    let too_long = frames[0].replacen("##0101", "##0150", 1);
    let payload = format!("{wrong}{}{too_long}{}", frames[6], frames[0]);
    let outcome = decode(&payload);
    assert_eq!(
        reasons(&outcome),
        vec![Reason::Hj212BadLength, Reason::Hj212BadLength]
    );
    assert_eq!(outcome.samples.len(), 3);
    assert_eq!(outcome.ignored_commands, vec![1062]);
}

#[test]
fn a_length_counting_utf8_characters_instead_of_bytes_is_accepted() {
    let data = format!(
        "QN=20240501120000000;ST=21;CN=2011;PW=123456;MN={MN};Flag=4;CP=&&DataTime=20240501120000;w01001-Rtd=7.1;i11001-Info=//设备正常//&&"
    );
    let chars = data.chars().count();
    assert_ne!(chars, data.len());
    let frame = format!("##{chars:04}{data}{}\r\n", crc_hex(data.as_bytes()));
    let outcome = decode(&frame);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.1, DataFlag::N)]);
    // The byte count (what the encoder writes) is accepted too.
    assert!(decode(&wrap_frame(&data)).rejections.is_empty());
}

#[test]
fn a_data_segment_that_is_not_utf8_is_malformed() {
    let data = b"QN=1;CN=2011;MN=A\xff;CP=&&&&";
    let mut frame = format!("##{:04}", data.len()).into_bytes();
    frame.extend_from_slice(data);
    frame.extend_from_slice(crc_hex(data).as_bytes());
    let outcome = decode_payload(
        &frame,
        &profile(),
        &mut Reassembler::default(),
        Timestamp(0),
    );
    assert_eq!(reasons(&outcome), vec![Reason::Hj212Malformed]);
}

#[test]
fn a_frame_without_cp_is_malformed() {
    let frame = wrap_frame(&format!("QN=1;ST=21;CN=2011;MN={MN};Flag=4"));
    assert_eq!(reasons(&decode(&frame)), vec![Reason::Hj212Malformed]);
    let frame = wrap_frame(&format!(
        "QN=1;ST=21;CN=2011;MN={MN};Flag=4;CP=&&DataTime=20240501120000"
    ));
    assert_eq!(reasons(&decode(&frame)), vec![Reason::Hj212Malformed]);
}

#[test]
fn a_frame_without_cn_or_mn_or_with_a_non_numeric_flag_is_malformed() {
    for data in [
        format!("QN=1;ST=21;MN={MN};Flag=4;CP=&&&&"),
        "QN=1;ST=21;CN=2011;Flag=4;CP=&&&&".to_owned(),
        format!("QN=1;ST=21;CN=2011;MN={MN};Flag=x;CP=&&&&"),
        format!("QN=1;ST=21;CN=20a1;MN={MN};Flag=4;CP=&&&&"),
    ] {
        assert_eq!(
            reasons(&decode(&wrap_frame(&data))),
            vec![Reason::Hj212Malformed],
            "{data}"
        );
    }
}

// ---- B.11 tolerances ----

#[test]
fn a_frame_without_qn_decodes_and_its_reply_has_no_qn() {
    let frame = FrameBuilder {
        qn: None,
        st: Some("32".into()),
        cn: 2011,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(5),
        packet: None,
        cp: "DataTime=20240501120000;w01001-Rtd=7.5".into(),
    }
    .build();
    let outcome = decode(&frame);
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.5, DataFlag::N)]);
    assert_eq!(
        outcome.replies,
        vec![wrap_frame(&format!(
            "ST=91;CN=9014;PW=123456;MN={MN};Flag=4;CP=&&&&"
        ))]
    );
}

#[test]
fn a_frame_without_flag_is_2005_and_gets_no_reply() {
    let frame = data_frame(2011, None, "DataTime=20240501120000;w01001-Rtd=7.5");
    let outcome = decode(&frame);
    assert_eq!(outcome.samples.len(), 1);
    assert!(outcome.replies.is_empty());
    let results = decode_frames(
        frame.as_bytes(),
        None,
        &mut Reassembler::default(),
        Timestamp(0),
    );
    let FrameResult::Decoded(decoded) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(decoded.header.version(), 0);
    assert_eq!(decoded.header.flag, None);
}

#[test]
fn a_comma_instead_of_a_semicolon_after_qn_is_tolerated() {
    let data = format!(
        "QN=20160801085857534,ST=32;CN=2011;PW=123456;MN={MN};Flag=4;CP=&&DataTime=20240501120000;w01001-Rtd=7.5&&"
    );
    let results = decode_frames(
        wrap_frame(&data).as_bytes(),
        Some(&profile()),
        &mut Reassembler::default(),
        Timestamp(0),
    );
    let FrameResult::Decoded(decoded) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(decoded.header.qn.as_deref(), Some("20160801085857534"));
    assert_eq!(decoded.header.st.as_deref(), Some("32"));
    assert_eq!(decoded.samples.len(), 1);
}

#[test]
fn a_missing_semicolon_before_cp_is_tolerated() {
    let data = format!(
        "QN=20160801085857534;ST=32;CN=2011;PW=123456;MN={MN};Flag=5CP=&&DataTime=20240501120000;w01001-Rtd=7.5&&"
    );
    let outcome = decode(&wrap_frame(&data));
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(outcome.samples.len(), 1);
    assert_eq!(outcome.replies.len(), 1);
}

#[test]
fn spaces_after_cp_and_a_trailing_semicolon_before_the_closing_ampersands_are_tolerated() {
    let frame = data_frame(
        2011,
        Some(4),
        " DataTime=20240501120000;w01001-Rtd=7.5,w01001-Flag=N;&&",
    );
    assert!(frame.contains("CP=&& DataTime") && frame.contains("-Flag=N;&&"));
    let outcome = decode(&frame);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.5, DataFlag::N)]);
}

#[test]
fn an_mn_of_any_length_and_charset_is_accepted_when_registered() {
    for mn in ["ZLDSZ20210127", "JLYP01_AIR01_0001", "LD130133000015"] {
        let frame = FrameBuilder {
            qn: Some("1".into()),
            st: Some("32".into()),
            cn: 2011,
            pw: Some("123456".into()),
            mn: mn.into(),
            flag: Some(4),
            packet: None,
            cp: "DataTime=20240501120000;w01001-Rtd=7.5".into(),
        }
        .build();
        let outcome = decode_with(&frame, &Hj212Profile::for_mn(mn));
        assert_eq!(outcome.samples.len(), 1, "{mn}: {:?}", outcome.rejections);
    }
}

#[test]
fn a_17_digit_datatime_carries_milliseconds() {
    let frame = data_frame(2011, Some(4), "DataTime=20240501120000250;w01001-Rtd=7.5");
    let outcome = decode(&frame);
    assert_eq!(outcome.samples[0].ts, Timestamp(NOON_CST_UTC.0 + 250_000));
}

#[test]
fn a_five_digit_code_missing_its_w_is_normalised() {
    let frame = data_frame(
        2011,
        Some(4),
        "DataTime=20240501120000;01001-Rtd=7.5;01018-Rtd=20.1",
    );
    let outcome = decode(&frame);
    assert_eq!(
        outcome.samples[0]
            .values
            .iter()
            .map(|v| v.metric.clone())
            .collect::<Vec<_>>(),
        vec![
            MetricRef::Known(Metric::Ph),
            MetricRef::Unknown("w01018".into())
        ]
    );
}

#[test]
fn a_misspelled_tag_is_ignored_with_a_note_and_the_frame_decodes() {
    let frame = data_frame(
        2011,
        Some(4),
        "DataTime=20240501120000;LA-td=50.1;w01001-Rtd=7.5;Foo=1",
    );
    let outcome = decode(&frame);
    assert!(outcome.rejections.is_empty());
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.5, DataFlag::N)]);
    assert!(
        outcome.notes.iter().any(|n| n.contains("LA-td")),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome.notes.iter().any(|n| n.contains("Foo")),
        "{:?}",
        outcome.notes
    );
}

#[test]
fn an_unknown_header_field_is_ignored_with_a_note() {
    let data = format!("QN=1;ST=32;CN=2011;XX=9;PW=123456;MN={MN};Flag=4;CP=&&DataTime=20240501120000;w01001-Rtd=7.5&&");
    let outcome = decode(&wrap_frame(&data));
    assert_eq!(outcome.samples.len(), 1);
    assert!(outcome.notes.iter().any(|n| n.contains("XX")));
}

#[test]
fn a_2005_frame_without_qn_and_flag_with_a_14_char_mn_and_3_char_codes_decodes() {
    let frame = FrameBuilder {
        qn: None,
        st: Some("32".into()),
        cn: 2011,
        pw: Some("123456".into()),
        mn: "0873HHMZWSLH02".into(),
        flag: None,
        packet: None,
        cp: "DataTime=20240501120000;001-Rtd=7.05,001-Flag=P;011-Rtd=21.5,011-Flag=N".into(),
    }
    .build();
    assert!(frame.starts_with("##") && !frame.contains("QN=") && !frame.contains("Flag=;"));
    let outcome = decode_with(&frame, &Hj212Profile::for_mn("0873HHMZWSLH02"));
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(
        values_of(&outcome),
        vec![
            ("ph".into(), 7.05, DataFlag::P),
            ("011".into(), 21.5, DataFlag::N)
        ]
    );
    assert!(outcome.replies.is_empty());
}

#[test]
fn every_data_flag_letter_is_kept_per_value() {
    for flag in [
        DataFlag::N,
        DataFlag::F,
        DataFlag::M,
        DataFlag::S,
        DataFlag::D,
        DataFlag::C,
        DataFlag::T,
        DataFlag::B,
        DataFlag::P,
    ] {
        let cp = format!(
            "DataTime=20240501120000;w01003-Rtd=0.5,w01003-Flag={}",
            flag.as_char()
        );
        let outcome = decode(&data_frame(2011, Some(4), &cp));
        assert_eq!(
            values_of(&outcome),
            vec![("turbidity_ntu".into(), 0.5, flag)]
        );
    }
}

// ---- strictness ----

#[test]
fn a_non_numeric_value_rejects_the_frame_naming_the_field() {
    for bad in ["abc", "", "NaN", "inf", "1,2", "7.2.1"] {
        let cp = format!("DataTime=20240501120000;w01010-Rtd=18.5;w01001-Rtd={bad}");
        let outcome = decode(&data_frame(2011, Some(5), &cp));
        if bad == "1,2" {
            // `,` separates values: `2` is then text without `=`, a note; 1 is the value.
            assert!(outcome.rejections.is_empty());
            continue;
        }
        assert_eq!(reasons(&outcome), vec![Reason::Hj212BadValue], "{bad:?}");
        assert!(outcome.rejections[0]
            .rejection
            .detail
            .contains("w01001-Rtd"));
        assert!(outcome.samples.is_empty() && outcome.replies.is_empty());
    }
}

#[test]
fn an_unknown_flag_letter_rejects_the_frame_as_a_bad_value() {
    let cp = "DataTime=20240501120000;w01001-Rtd=7.2,w01001-Flag=X";
    let outcome = decode(&data_frame(2011, Some(4), cp));
    assert_eq!(reasons(&outcome), vec![Reason::Hj212BadValue]);
    assert!(outcome.rejections[0]
        .rejection
        .detail
        .contains("w01001-Flag"));
}

#[test]
fn a_data_frame_without_a_parseable_datatime_is_rejected() {
    for cp in [
        "w01001-Rtd=7.2",
        "DataTime=2024050112;w01001-Rtd=7.2",
        "DataTime=20241301120000;w01001-Rtd=7.2",
        "DataTime=20230229120000;w01001-Rtd=7.2",
        "DataTime=2024050112000x;w01001-Rtd=7.2",
    ] {
        let outcome = decode(&data_frame(2051, Some(4), cp));
        assert_eq!(
            reasons(&outcome),
            vec![Reason::Hj212MissingDataTime],
            "{cp}"
        );
    }
    // A leap day is a real date.
    assert!(decode(&data_frame(
        2011,
        Some(4),
        "DataTime=20240229235959;w01001-Rtd=7.2"
    ))
    .rejections
    .is_empty());
}

#[test]
fn a_non_data_command_without_datatime_is_only_counted() {
    let outcome = decode(&data_frame(9014, Some(4), ""));
    assert!(outcome.rejections.is_empty());
    assert_eq!(outcome.ignored_commands, vec![9014]);
}

// ---- binding ----

#[test]
fn a_frame_from_another_mn_is_rejected_naming_both() {
    let outcome = decode_with(&fixture_frames()[5], &Hj212Profile::for_mn("OTHER"));
    assert_eq!(reasons(&outcome), vec![Reason::Hj212UnknownMn]);
    let detail = &outcome.rejections[0].rejection.detail;
    assert!(detail.contains(MN) && detail.contains("OTHER"));
    let outcome = decode_with(&fixture_frames()[5], &Hj212Profile::default());
    assert_eq!(reasons(&outcome), vec![Reason::Hj212UnknownMn]);
}

#[test]
fn a_wrong_password_is_rejected_when_one_is_configured() {
    let mut p = profile();
    p.password = Some("654321".into());
    let outcome = decode_with(&fixture_frames()[5], &p);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212BadPassword]);
    assert!(!outcome.rejections[0].rejection.detail.contains("654321"));
    p.password = Some("123456".into());
    assert!(decode_with(&fixture_frames()[5], &p).rejections.is_empty());
}

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
        outcome.samples[0]
            .values
            .iter()
            .map(|v| v.metric.clone())
            .collect::<Vec<_>>(),
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

// ---- split packets ----

fn split_part(pno: u32, flag: u8, cp: &str) -> String {
    FrameBuilder {
        qn: Some("20240501120000000".into()),
        st: Some("21".into()),
        cn: 2051,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(flag),
        packet: Some((3, pno)),
        cp: cp.into(),
    }
    .build()
}

#[test]
fn split_parts_are_combined_once_all_arrived_in_any_order() {
    let mut reasm = Reassembler::default();
    let p = profile();
    let parts = [
        split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1"),
        split_part(2, 6, "w01003-Avg=0.3"),
        split_part(3, 7, "w01010-Avg=18.0"),
    ];
    let first = decode_payload(parts[2].as_bytes(), &p, &mut reasm, Timestamp::from_secs(0));
    assert!(first.samples.is_empty() && first.rejections.is_empty());
    assert_eq!(first.replies.len(), 1, "part with bit A is acknowledged");
    let second = decode_payload(parts[0].as_bytes(), &p, &mut reasm, Timestamp::from_secs(1));
    assert!(second.samples.is_empty());
    assert_eq!(reasm.pending_sets(), 1);
    let last = decode_payload(parts[1].as_bytes(), &p, &mut reasm, Timestamp::from_secs(2));
    assert!(last.rejections.is_empty(), "{:?}", last.rejections);
    assert_eq!(reasm.pending_sets(), 0);
    assert_eq!(
        values_of(&last),
        vec![
            ("ph".into(), 7.1, DataFlag::N),
            ("turbidity_ntu".into(), 0.3, DataFlag::N),
            ("temperature_c".into(), 18.0, DataFlag::N)
        ]
    );
    assert_eq!(last.samples[0].ts, NOON_CST_UTC);
}

#[test]
fn an_incomplete_split_set_expires_with_its_raw_parts_after_the_timeout() {
    let mut reasm = Reassembler::new(60);
    let part = split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1");
    decode_payload(
        part.as_bytes(),
        &profile(),
        &mut reasm,
        Timestamp::from_secs(100),
    );
    assert!(reasm.expire(Timestamp::from_secs(159)).is_empty());
    let expired = reasm.expire(Timestamp::from_secs(160));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].rejection.reason, Reason::Hj212SplitTimeout);
    assert!(expired[0].rejection.detail.contains("1 of 3"));
    assert_eq!(expired[0].raw, part.as_bytes());
    assert_eq!(reasm.pending_sets(), 0);
}

#[test]
fn a_split_part_numbered_beyond_pnum_or_without_pnum_is_malformed() {
    let bad = split_part(4, 6, "w01001-Avg=7.1");
    assert_eq!(reasons(&decode(&bad)), vec![Reason::Hj212Malformed]);
    let no_pnum = data_frame(2051, Some(6), "DataTime=20240501120000;w01001-Avg=7.1");
    assert_eq!(reasons(&decode(&no_pnum)), vec![Reason::Hj212Malformed]);
}

#[test]
fn too_many_pending_split_sets_evict_the_oldest() {
    let mut reasm = Reassembler::new(60).with_max_pending(1);
    let a = split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1");
    let b = a.replace("20240501120000000", "20240501120100000");
    let b = wrap_frame(&b[6..b.len() - 6]);
    decode_payload(
        a.as_bytes(),
        &profile(),
        &mut reasm,
        Timestamp::from_secs(0),
    );
    let outcome = decode_payload(
        b.as_bytes(),
        &profile(),
        &mut reasm,
        Timestamp::from_secs(1),
    );
    assert_eq!(reasons(&outcome), vec![Reason::Hj212SplitTimeout]);
    assert_eq!(reasm.pending_sets(), 1);
}

#[test]
fn a_split_upload_larger_than_the_byte_bound_is_dropped_and_memory_stays_bounded() {
    let mut reasm = Reassembler::new(60).with_max_bytes(600);
    let part1 = split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1");
    let part2 = split_part(
        2,
        6,
        &format!("w01003-Avg=0.3;{}", "w01010-Avg=1;".repeat(40)),
    );
    let first = decode_payload(part1.as_bytes(), &profile(), &mut reasm, Timestamp(0));
    assert!(first.rejections.is_empty());
    let second = decode_payload(part2.as_bytes(), &profile(), &mut reasm, Timestamp(0));
    assert_eq!(
        reasons(&second),
        vec![Reason::Hj212SplitTimeout, Reason::Hj212Malformed]
    );
    assert_eq!(reasm.pending_sets(), 0);
}

#[test]
fn a_bad_value_in_a_completed_split_set_quarantines_all_its_parts() {
    let mut reasm = Reassembler::default();
    let parts = [
        split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1"),
        split_part(2, 6, "w01003-Avg=zz"),
        split_part(3, 6, "w01010-Avg=18.0"),
    ];
    let outcome = decode_payload(
        parts.concat().as_bytes(),
        &profile(),
        &mut reasm,
        Timestamp(0),
    );
    assert_eq!(reasons(&outcome), vec![Reason::Hj212BadValue]);
    assert!(outcome.samples.is_empty());
    assert!(outcome.rejections[0].raw.len() > parts[0].len() * 2);
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

// ---- report ----

#[test]
fn the_report_prints_one_json_line_per_frame_and_is_ok_for_the_fixture() {
    let mut out = Vec::new();
    let ok = report(FIXTURE.as_bytes(), &mut out, None).unwrap();
    assert!(ok);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(r#"{"ok":true,"header":{"qn":"20160801085857223","st":"32","cn":1062,"#),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|l| l["ok"] == true));
    let realtime = &lines[5];
    assert_eq!(realtime["header"]["cn"], 2011);
    assert_eq!(realtime["header"]["version"], 1);
    assert_eq!(realtime["header"]["reply_wanted"], true);
    assert_eq!(realtime["readings"][0]["metric"], "ph");
    assert_eq!(realtime["readings"][0]["ts"], "2024-05-01T04:00:00.000Z");
    assert_eq!(realtime["readings"][0]["flag"], "N");
    assert!(realtime["reply"].as_str().unwrap().contains("CN=9014"));
}

#[test]
fn the_report_flags_bad_frames_and_returns_false() {
    let frames = fixture_frames();
    let input = format!(
        "{}garbage{}\n",
        frames[5].replace("\r\n", "\\r\\n"),
        frames[6].replace("7EC0", "0000").replace("9741", "9742")
    );
    let mut out = Vec::new();
    let ok = report(input.as_bytes(), &mut out, Some(&profile())).unwrap();
    assert!(!ok);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["reason"], "hj212_malformed");
    assert_eq!(lines[2]["reason"], "hj212_bad_crc");
}

#[test]
fn the_report_reports_split_sets_left_incomplete_at_the_end() {
    let input = split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1");
    let mut out = Vec::new();
    assert!(!report(input.as_bytes(), &mut out, None).unwrap());
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("split_pending") && text.contains("hj212_split_timeout"),
        "{text}"
    );
}

// ---- properties ----

fn flag_strategy() -> impl Strategy<Value = DataFlag> {
    prop::sample::select(vec![
        DataFlag::N,
        DataFlag::F,
        DataFlag::M,
        DataFlag::S,
        DataFlag::D,
        DataFlag::C,
        DataFlag::T,
        DataFlag::B,
        DataFlag::P,
    ])
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

#[test]
fn an_extra_hash_before_a_frame_is_garbage_and_the_frame_still_decodes() {
    let payload = format!("#{}", fixture_frames()[5]);
    let outcome = decode(&payload);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212Malformed]);
    assert_eq!(outcome.samples.len(), 1);
}

#[test]
fn many_bogus_length_fields_are_rejected_in_linear_time() {
    let payload = "##9999".repeat(50_000);
    let start = std::time::Instant::now();
    let outcome = decode(&payload);
    assert_eq!(outcome.rejections.len(), 50_000);
    assert!(outcome
        .rejections
        .iter()
        .all(|r| r.rejection.reason == Reason::Hj212BadLength));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn garbage_glued_to_a_frame_without_crlf_is_reported_apart_from_the_frame() {
    let frames = fixture_frames();
    let payload = format!("{}xyz{}", frames[5].trim_end(), frames[6]);
    let outcome = decode(&payload);
    assert_eq!(reasons(&outcome), vec![Reason::Hj212Malformed]);
    assert_eq!(outcome.rejections[0].raw, b"xyz");
    assert_eq!(outcome.samples.len(), 4);
}
