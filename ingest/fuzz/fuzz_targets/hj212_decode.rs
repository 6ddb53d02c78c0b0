//! Fuzz target: the HJ 212 decoder must never panic on any payload, and every 9014 reply it
//! produces must itself be a frame it accepts.
#![no_main]

use alerting::model::Timestamp;
use libfuzzer_sys::fuzz_target;
use weijian_ingest::decode::hj212::{decode_frames, decode_payload, report, Hj212Profile, Reassembler};

fuzz_target!(|data: &[u8]| {
    let profile = Hj212Profile::for_mn("010000A8900016F000169DC0");
    let mut reasm = Reassembler::new(60).with_max_pending(4);
    let outcome = decode_payload(data, &profile, &mut reasm, Timestamp(0));
    for reply in &outcome.replies {
        let back = decode_payload(
            reply.as_bytes(),
            &profile,
            &mut Reassembler::default(),
            Timestamp(0),
        );
        assert!(
            back.rejections.is_empty() || reply.len() > 9000,
            "reply {reply:?} does not decode: {:?}",
            back.rejections
        );
    }
    let _ = decode_frames(data, None, &mut reasm, Timestamp(1_000_000));
    let _ = reasm.expire(Timestamp(i64::MAX));
    let _ = report(data, std::io::sink(), None);
});
