//! HJ 212 tests of the B.11 tolerances and 2005-style loggers: what the decoder accepts beyond
//! the letter of the standard.

use super::*;

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
        metrics_of(&outcome),
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
    for flag in ALL_FLAGS {
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

// ---- Deviations reported by users of public HJ 212 parsers ----

/// xiaoyao9184/hj-t212-parser#22: a writer put `Flag` after the CP data area
/// (`CP=&&...&&;Flag=5`); the header fields after it are read like those before it.
#[test]
fn header_fields_after_the_cp_data_area_are_read() {
    let frame = wrap_frame(&format!(
        "QN=20240501120000000;ST=21;CN=2011;PW=123456;MN={MN};CP=&&DataTime=20240501120000;w01001-Rtd=7.4&&;Flag=5"
    ));
    let outcome = decode(&frame);
    assert_eq!(reasons(&outcome), vec![]);
    assert_eq!(values_of(&outcome), vec![("ph".into(), 7.4, DataFlag::N)]);
    assert_eq!(
        outcome.replies.len(),
        1,
        "Flag=5 after the CP still asks for a reply"
    );
    assert!(outcome.notes.iter().any(|n| n.contains("after the CP")));
}

/// xiaoyao9184/hj-t212-parser#6: `MN` before `PW`, `Flag=0`, vendor codes without the
/// standard's letter and status tags without `-`: the frame decodes, the known code is read,
/// the rest are left to the device's `codes` table (unknown here).
#[test]
fn field_order_flag_0_and_vendor_tags_of_a_reported_frame_decode() {
    let frame = wrap_frame(&format!(
        "QN=20180728132826005;ST=51;CN=2011;MN={MN};PW=123456;Flag=0;CP=&&DataTime=20240501120000;w01001-Rtd=7.3;CONC-Rtd=0.82;FANSTATUS=1;&&"
    ));
    let outcome = decode(&frame);
    assert_eq!(reasons(&outcome), vec![]);
    let values = values_of(&outcome);
    assert!(
        values.contains(&("ph".into(), 7.3, DataFlag::N)),
        "{values:?}"
    );
    assert!(outcome.replies.is_empty(), "Flag=0 asks for no reply");
}
