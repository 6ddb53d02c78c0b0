//! The HJ 212 link between the registry and the frame decoder: each device's profile (MN,
//! password, clock offset, vendor codes) and its split-packet reassembly state.
//!
//! Split uploads survive a restart: each set remembers the spool record its first part came
//! in, the drain commits the spool no further than the oldest pending set
//! ([`Hj212State::oldest_pending`]), so after a restart the parts are read again and the set is
//! completed by the parts still to come. Incomplete sets expire
//! `limits.hj212_split_timeout_secs` after their first part, judged on every message and on the
//! drain's own pass ([`Hj212State::expire`]), whether or not the device sends again.

use std::collections::HashMap;

use alerting::model::{Id, Timestamp};

use crate::config::DeviceEntry;
use crate::decode::hj212::{decode_payload, ExpiredSet, Hj212Profile, Reassembler};
use crate::decode::Sample;
use crate::reject::Rejection;

/// What one HJ 212 payload produced.
#[derive(Debug, Default)]
pub struct Hj212Decoded {
    pub samples: Vec<Sample>,
    pub rejections: Vec<(Rejection, Vec<u8>)>,
    pub replies: Vec<String>,
    /// Sets of this device that expired meanwhile (quarantined under their first part).
    pub expired: Vec<ExpiredSet>,
}

/// Per-device HJ 212 state.
#[derive(Debug)]
pub struct Hj212State {
    devices: HashMap<Id, Hj212Device>,
    split_timeout_secs: u32,
}

#[derive(Debug)]
struct Hj212Device {
    /// The device's site (to name the topic of an expired set's quarantine row).
    site: Id,
    profile: Hj212Profile,
    reasm: Reassembler,
}

impl Default for Hj212State {
    fn default() -> Self {
        Self::new(crate::decode::hj212::DEFAULT_SPLIT_TIMEOUT_SECS)
    }
}

impl Hj212State {
    /// State whose incomplete split sets expire `split_timeout_secs` after their first part.
    pub fn new(split_timeout_secs: u32) -> Self {
        Self {
            devices: HashMap::new(),
            split_timeout_secs,
        }
    }

    /// Decodes a payload from `device`, spool record `seq`, received at `now` (also expiring
    /// the device's stale split sets).
    pub fn decode(
        &mut self,
        device: &DeviceEntry,
        seq: u64,
        payload: &[u8],
        now: Timestamp,
    ) -> Hj212Decoded {
        let timeout = self.split_timeout_secs;
        let state = self
            .devices
            .entry(device.id.clone())
            .or_insert_with(|| Hj212Device {
                site: device.site.clone(),
                profile: profile_of(device),
                reasm: Reassembler::new(timeout),
            });
        state.reasm.set_tag(seq);
        let outcome = decode_payload(payload, &state.profile, &mut state.reasm, now);
        let expired = state.reasm.expire_sets(now);
        if !outcome.ignored_commands.is_empty() || !outcome.instrument_status.is_empty() {
            tracing::debug!(device = %device.id, ignored_commands = ?outcome.ignored_commands, instrument_status = ?outcome.instrument_status, "HJ 212 frames without readings.");
        }
        Hj212Decoded {
            samples: outcome.samples,
            rejections: outcome
                .rejections
                .into_iter()
                .map(|r| (r.rejection, r.raw))
                .collect(),
            replies: outcome.replies,
            expired,
        }
    }

    /// Drops every device's split sets whose first part arrived `split_timeout_secs` or more
    /// before `now`: (site, device, set) for each.
    pub fn expire(&mut self, now: Timestamp) -> Vec<(Id, Id, ExpiredSet)> {
        let mut out = Vec::new();
        for (id, state) in &mut self.devices {
            if state.reasm.pending_sets() == 0 {
                continue;
            }
            for set in state.reasm.expire_sets(now) {
                out.push((state.site.clone(), id.clone(), set));
            }
        }
        // Deterministic order for the rows.
        out.sort_by(|a, b| (a.2.first_tag, &a.2.set).cmp(&(b.2.first_tag, &b.2.set)));
        out
    }

    /// The spool record the oldest incomplete split set began in.
    pub fn oldest_pending(&self) -> Option<u64> {
        self.devices
            .values()
            .filter_map(|d| d.reasm.oldest_tag())
            .min()
    }

    /// Forgets the state of devices `keep` says are gone or changed (a reloaded registry):
    /// their pending sets are handed back to be quarantined.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Id) -> Option<Hj212Profile>,
    ) -> Vec<(Id, Id, ExpiredSet)> {
        let mut dropped = Vec::new();
        self.devices.retain(|id, state| match keep(id) {
            Some(profile) => {
                state.profile = profile;
                true
            }
            None => {
                for set in state.reasm.expire_sets(Timestamp(i64::MAX)) {
                    dropped.push((state.site.clone(), id.clone(), set));
                }
                false
            }
        });
        dropped
    }
}

/// The decoder's view of a registered device. A device without `[devices.hj212]` has no MN,
/// so every frame on its topic is quarantined as `hj212_unknown_mn`.
pub(super) fn profile_of(device: &DeviceEntry) -> Hj212Profile {
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
