//! HJ 212 tests of replies: the 9014 acknowledgement, version and split flag bits.

use super::*;

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
