//! The HJ 212 link between the registry and the frame decoder: per-device profiles and
//! split-packet state. (Temporary until the decoder lands: every frame is quarantined.)

use alerting::model::Timestamp;

use crate::config::DeviceEntry;
use crate::decode::Sample;
use crate::reject::{Reason, Rejection};

/// What one HJ 212 payload produced.
#[derive(Debug, Default)]
pub struct Hj212Decoded {
    pub samples: Vec<Sample>,
    pub rejections: Vec<(Rejection, Vec<u8>)>,
    pub replies: Vec<String>,
}

/// Per-device HJ 212 state (split packets in progress).
#[derive(Debug, Default)]
pub struct Hj212State {}

impl Hj212State {
    pub fn decode(
        &mut self,
        _device: &DeviceEntry,
        payload: &[u8],
        _now: Timestamp,
    ) -> Hj212Decoded {
        Hj212Decoded {
            rejections: vec![(
                Rejection::new(
                    Reason::Hj212Malformed,
                    "HJ 212 decoding is not available in this build",
                ),
                payload.to_vec(),
            )],
            ..Hj212Decoded::default()
        }
    }
}
