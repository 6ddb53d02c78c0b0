//! HJ 212 tests of framing: splitting a payload into frames, garbage between frames, CRC and
//! length checks, malformed frames.

use super::*;

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

// ---- garbage and bogus lengths ----

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
