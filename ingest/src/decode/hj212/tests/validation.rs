//! HJ 212 tests of strictness and binding: bad values, flags and times, the MN and password
//! of the device.

use super::*;

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
