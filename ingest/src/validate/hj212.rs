//! The HJ 212 link between the registry and the frame decoder: each device's profile (MN,
//! password, clock offset, vendor codes) and its split-packet reassembly state.

use std::collections::HashMap;

use alerting::model::{Id, Timestamp};

use crate::config::DeviceEntry;
use crate::decode::hj212::{decode_payload, Hj212Profile, Reassembler};
use crate::decode::Sample;
use crate::reject::Rejection;

/// What one HJ 212 payload produced.
#[derive(Debug, Default)]
pub struct Hj212Decoded {
    pub samples: Vec<Sample>,
    pub rejections: Vec<(Rejection, Vec<u8>)>,
    pub replies: Vec<String>,
}

/// Per-device HJ 212 state.
#[derive(Debug, Default)]
pub struct Hj212State {
    devices: HashMap<Id, (Hj212Profile, Reassembler)>,
}

impl Hj212State {
    /// Decodes a payload from `device` received at `now` (also expiring its stale split sets).
    pub fn decode(&mut self, device: &DeviceEntry, payload: &[u8], now: Timestamp) -> Hj212Decoded {
        let (profile, reasm) = self
            .devices
            .entry(device.id.clone())
            .or_insert_with(|| (profile_of(device), Reassembler::default()));
        let outcome = decode_payload(payload, profile, reasm, now);
        let expired = reasm.expire(now);
        if !outcome.ignored_commands.is_empty() || !outcome.instrument_status.is_empty() {
            tracing::debug!(device = %device.id, ignored_commands = ?outcome.ignored_commands, instrument_status = ?outcome.instrument_status, "HJ 212 frames without readings.");
        }
        Hj212Decoded {
            samples: outcome.samples,
            rejections: outcome
                .rejections
                .into_iter()
                .chain(expired)
                .map(|r| (r.rejection, r.raw))
                .collect(),
            replies: outcome.replies,
        }
    }
}

/// The decoder's view of a registered device. A device without `[devices.hj212]` has no MN,
/// so every frame on its topic is quarantined as `hj212_unknown_mn`.
fn profile_of(device: &DeviceEntry) -> Hj212Profile {
    match &device.hj212 {
        Some(h) => Hj212Profile {
            mn: Some(h.mn.clone()),
            password: h.password.clone(),
            utc_offset_secs: h.utc_offset_secs,
            codes: h.codes.clone(),
        },
        None => Hj212Profile::default(),
    }
}
