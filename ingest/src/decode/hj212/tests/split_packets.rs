//! HJ 212 tests of split packets: reassembly in any order, expiry, eviction and bounds.

use super::*;

// ---- split packets ----

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
fn a_split_part_numbered_beyond_pnum_is_malformed() {
    let bad = split_part(4, 6, "w01001-Avg=7.1");
    assert_eq!(reasons(&decode(&bad)), vec![Reason::Hj212Malformed]);
}

/// Real loggers set the split bit (Flag=6/7) on whole frames without PNUM/PNO: one frame.
#[test]
fn the_split_bit_without_pnum_and_pno_is_one_whole_frame() {
    let no_pnum = data_frame(2051, Some(7), "DataTime=20240501120000;w01001-Avg=7.1");
    let outcome = decode(&no_pnum);
    assert_eq!(reasons(&outcome), vec![]);
    assert_eq!(outcome.samples.len(), 1);
    assert_eq!(outcome.replies.len(), 1, "Flag=7 asks for a 9014");
    assert!(outcome.notes.iter().any(|n| n.contains("without PNUM/PNO")));
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
