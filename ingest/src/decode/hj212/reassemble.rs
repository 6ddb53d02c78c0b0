//! Split packets (Flag bit D = 1, `PNUM`/`PNO`): collecting the parts of one upload and
//! releasing the concatenated CP data when all parts arrived, or a timeout rejection when
//! they did not. Pure and deterministic: the caller passes the current time in.
//!
//! Each set remembers a tag of the record its first part came in (the drain's spool sequence
//! number, [`Reassembler::set_tag`]): the drain never commits the spool past the oldest
//! pending set ([`Reassembler::oldest_tag`]), so the parts are read again after a restart and
//! the set is reassembled; an expired set is reported with that tag ([`ExpiredSet`]), so its
//! quarantine row is the same whenever and however often it expires.

use std::collections::BTreeMap;

use alerting::model::Timestamp;

use super::FrameRejection;
use crate::reject::{Reason, Rejection};

/// Default time a split set may stay incomplete before [`Reassembler::expire`] drops it.
pub const DEFAULT_SPLIT_TIMEOUT_SECS: u32 = 60;
/// Default bound on incomplete split sets held at once (the oldest is dropped beyond it).
pub const DEFAULT_MAX_PENDING_SETS: usize = 64;
/// Default bound on the bytes (CP data + raw frames) held for incomplete sets.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 1 << 20;
/// The largest `PNUM` accepted (the field holds 4 digits).
pub const MAX_PNUM: u32 = 9999;

/// Identifies one split upload: (MN, QN, CN). A 2005 frame without QN uses an empty QN.
type SetKey = (String, String, u16);

#[derive(Debug)]
struct PendingSet {
    key: SetKey,
    pnum: u32,
    first_seen: Timestamp,
    /// The tag current when the first part arrived (the drain: its spool sequence number).
    first_tag: u64,
    /// PNO -> (CP data area, raw frame bytes).
    parts: BTreeMap<u32, (String, Vec<u8>)>,
}

impl PendingSet {
    fn bytes(&self) -> usize {
        self.parts
            .values()
            .map(|(cp, raw)| cp.len() + raw.len())
            .sum()
    }

    fn raw(&self) -> Vec<u8> {
        let mut raw = Vec::new();
        for (_, part_raw) in self.parts.values() {
            raw.extend_from_slice(part_raw);
            raw.extend_from_slice(b"\r\n");
        }
        raw
    }

    fn has_key(&self, key: (&str, &str, u16)) -> bool {
        self.key.0 == key.0 && self.key.1 == key.1 && self.key.2 == key.2
    }

    fn timeout_rejection(&self, why: &str) -> FrameRejection {
        let have: Vec<String> = self.parts.keys().map(u32::to_string).collect();
        FrameRejection {
            rejection: Rejection::new(
                Reason::Hj212SplitTimeout,
                format!(
                    "split upload MN={} QN={} CN={} {why}: {} of {} parts arrived (PNO {})",
                    self.key.0,
                    self.key.1,
                    self.key.2,
                    self.parts.len(),
                    self.pnum,
                    have.join(",")
                ),
            ),
            raw: self.raw(),
        }
    }
}

/// What [`Reassembler::offer`] did with a part.
#[derive(Debug)]
pub(crate) enum Offered {
    /// Stored; more parts are needed.
    Incomplete { have: usize },
    /// The part completed its set: the CP data of all parts in PNO order, joined by `;`, and
    /// the raw frames.
    Complete { cp: String, raw: Vec<u8> },
    /// The part contradicts the set (PNUM differs, PNO out of range).
    Invalid(Rejection),
}

/// Collects split packets of one device. Own one per device and call [`Reassembler::expire`]
/// periodically.
#[derive(Debug)]
pub struct Reassembler {
    timeout_secs: u32,
    max_pending: usize,
    max_bytes: usize,
    /// Bytes held in `pending` (see [`PendingSet::bytes`]).
    held_bytes: usize,
    pending: Vec<PendingSet>,
    /// Stamped on sets created from now on (see [`Reassembler::set_tag`]).
    tag: u64,
}

/// An incomplete set dropped by [`Reassembler::expire_sets`]: the tag and receive time of
/// its first part, and its `hj212_split_timeout` rejection with the raw parts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredSet {
    /// `MN/QN/CN` of the set.
    pub set: String,
    pub first_tag: u64,
    pub first_seen: Timestamp,
    pub rejection: FrameRejection,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(DEFAULT_SPLIT_TIMEOUT_SECS)
    }
}

impl Reassembler {
    /// A reassembler whose incomplete sets expire `timeout_secs` after their first part.
    pub fn new(timeout_secs: u32) -> Self {
        Self {
            timeout_secs,
            max_pending: DEFAULT_MAX_PENDING_SETS,
            max_bytes: DEFAULT_MAX_PENDING_BYTES,
            held_bytes: 0,
            pending: Vec::new(),
            tag: 0,
        }
    }

    /// The tag stamped on sets whose first part arrives from now on (the drain passes the
    /// spool sequence number of the record being decoded).
    pub fn set_tag(&mut self, tag: u64) {
        self.tag = tag;
    }

    /// The smallest tag of the incomplete sets held, if any.
    pub fn oldest_tag(&self) -> Option<u64> {
        self.pending.iter().map(|s| s.first_tag).min()
    }

    /// Sets the bound on incomplete sets held at once (at least 1).
    pub fn with_max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending.max(1);
        self
    }

    /// Sets the bound on bytes held for incomplete sets; a part that cannot fit even after
    /// dropping every other set drops its own set.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Number of incomplete split sets held.
    pub fn pending_sets(&self) -> usize {
        self.pending.len()
    }

    /// Drops the incomplete sets whose first part arrived `timeout_secs` or more before `now`
    /// and returns one `hj212_split_timeout` rejection (with the raw parts) for each.
    pub fn expire(&mut self, now: Timestamp) -> Vec<FrameRejection> {
        self.expire_sets(now)
            .into_iter()
            .map(|set| set.rejection)
            .collect()
    }

    /// [`Reassembler::expire`], saying which record each expired set began in.
    pub fn expire_sets(&mut self, now: Timestamp) -> Vec<ExpiredSet> {
        let timeout = i64::from(self.timeout_secs);
        let mut expired = Vec::new();
        self.pending.retain(|set| {
            if now.secs_since(set.first_seen) >= timeout {
                expired.push(ExpiredSet {
                    set: format!("{}/{}/{}", set.key.0, set.key.1, set.key.2),
                    first_tag: set.first_tag,
                    first_seen: set.first_seen,
                    rejection: set.timeout_rejection("timed out"),
                });
                false
            } else {
                true
            }
        });
        self.recount();
        expired
    }

    fn recount(&mut self) {
        self.held_bytes = self.pending.iter().map(PendingSet::bytes).sum();
    }

    /// Removes the oldest set other than `keep` (a key), returning its rejection.
    fn evict_oldest(
        &mut self,
        keep: Option<(&str, &str, u16)>,
        why: &str,
    ) -> Option<FrameRejection> {
        let index = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, s)| keep.is_none_or(|k| !s.has_key(k)))
            .min_by_key(|(_, s)| s.first_seen)
            .map(|(i, _)| i)?;
        let set = self.pending.remove(index);
        self.held_bytes = self.held_bytes.saturating_sub(set.bytes());
        Some(set.timeout_rejection(why))
    }

    /// Drops every incomplete set (end of input) with a rejection for each.
    pub fn flush(&mut self) -> Vec<FrameRejection> {
        self.held_bytes = 0;
        self.pending
            .drain(..)
            .map(|set| set.timeout_rejection("never completed"))
            .collect()
    }

    /// Adds one part. `evicted` receives the rejection of the oldest set if the bound on
    /// pending sets is exceeded.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn offer(
        &mut self,
        key: (&str, &str, u16),
        pnum: u32,
        pno: u32,
        cp: &str,
        raw: &[u8],
        now: Timestamp,
        evicted: &mut Vec<FrameRejection>,
    ) -> Offered {
        if pnum == 0 || pnum > MAX_PNUM || pno == 0 || pno > pnum {
            return Offered::Invalid(Rejection::new(
                Reason::Hj212Malformed,
                format!("split packet PNO={pno} PNUM={pnum} is out of range"),
            ));
        }
        // Make room (bytes) by dropping the oldest other sets.
        let part_bytes = cp.len() + raw.len();
        while self.held_bytes + part_bytes > self.max_bytes {
            match self.evict_oldest(
                Some(key),
                "dropped (pending split data over the byte bound)",
            ) {
                Some(rejection) => evicted.push(rejection),
                None => break,
            }
        }
        if self.held_bytes + part_bytes > self.max_bytes {
            if let Some(index) = self.pending.iter().position(|s| s.has_key(key)) {
                let set = self.pending.remove(index);
                self.held_bytes = self.held_bytes.saturating_sub(set.bytes());
                evicted.push(set.timeout_rejection("dropped (larger than the byte bound)"));
            }
            return Offered::Invalid(Rejection::new(
                Reason::Hj212Malformed,
                format!(
                    "split upload larger than the {} bytes a reassembler holds",
                    self.max_bytes
                ),
            ));
        }
        let position = self.pending.iter().position(|s| s.has_key(key));
        let index = match position {
            Some(i) => i,
            None => {
                if self.pending.len() >= self.max_pending {
                    if let Some(rejection) =
                        self.evict_oldest(None, "dropped (too many pending sets)")
                    {
                        evicted.push(rejection);
                    }
                }
                self.pending.push(PendingSet {
                    key: (key.0.to_owned(), key.1.to_owned(), key.2),
                    pnum,
                    first_seen: now,
                    first_tag: self.tag,
                    parts: BTreeMap::new(),
                });
                self.pending.len() - 1
            }
        };
        let Some(set) = self.pending.get_mut(index) else {
            return Offered::Incomplete { have: 0 };
        };
        if set.pnum != pnum {
            return Offered::Invalid(Rejection::new(
                Reason::Hj212Malformed,
                format!(
                    "split packet PNUM={pnum} contradicts PNUM={} of earlier parts",
                    set.pnum
                ),
            ));
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = set.parts.entry(pno) {
            slot.insert((cp.to_owned(), raw.to_vec()));
            self.held_bytes += part_bytes;
        }
        if set.parts.len() < usize::try_from(pnum).unwrap_or(usize::MAX) {
            return Offered::Incomplete {
                have: set.parts.len(),
            };
        }
        let set = self.pending.remove(index);
        self.held_bytes = self.held_bytes.saturating_sub(set.bytes());
        let raw = set.raw();
        let cp = set
            .parts
            .into_values()
            .map(|(cp, _)| cp)
            .collect::<Vec<_>>()
            .join(";");
        Offered::Complete { cp, raw }
    }
}
