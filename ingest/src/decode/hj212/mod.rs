//! HJ 212-2017 / HJ/T 212-2005 decoder (docs/payload-contract.md, HJ 212; HJ 212-2017 §6).
//!
//! A payload holds one or more frames `##LLLL<data segment>CCCC\r\n`. [`decode_payload`] splits
//! it on `##` + the length field, checks length and CRC, parses the header with the real-world
//! deviations loggers show, binds the frame to the device's registered MN/PW ([`Hj212Profile`]),
//! reassembles split packets ([`Reassembler`]), maps data commands (CN 2011/2051/2061/2031) to
//! [`Sample`]s and builds the 9014 acknowledgement when a frame asks for a reply. One bad frame
//! never drops the good frames beside it; nothing here panics on any input.
//!
//! Files: [`crc`](crc16) (checksum), `frame` (split + header), `map` (CP -> samples),
//! `reassemble` (PNUM/PNO), `encode` (frame builder, 9014), `time` (DataTime), `redact` (`PW=`
//! out of stored payloads), `report` (the `weijian decode hj212` integrator tool), `peek` (a
//! frame's sender and reply wish, for the TCP listener before it spools the frame).

mod crc;
mod encode;
mod frame;
mod map;
mod peek;
mod reassemble;
mod redact;
mod report;
mod time;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use alerting::model::{Metric, Timestamp};

pub use crc::{crc16, crc_hex};
pub use encode::{
    ack_9014, data_cp, qn_rtn, reply_9011, stat_suffix, wrap_frame, FactorValues, FrameBuilder,
};
pub use peek::{peek_frame, FramePeek};
pub use reassemble::{
    ExpiredSet, Reassembler, DEFAULT_MAX_PENDING_BYTES, DEFAULT_MAX_PENDING_SETS,
    DEFAULT_SPLIT_TIMEOUT_SECS, MAX_PNUM,
};
pub use redact::redact_password;
pub use report::report;
pub use time::{format_data_time, format_qn, parse_data_time};

use crate::decode::{MetricRef, Sample};
use crate::reject::{Reason, Rejection};
use frame::{Piece, RawFrame};
use reassemble::Offered;

/// China Standard Time, the default device clock offset.
pub const DEFAULT_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// What weijian knows about one HJ 212 device: its registered MN, password, clock offset and
/// vendor factor codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Hj212Profile {
    /// The registered MN; `None` => every frame is rejected `hj212_unknown_mn`.
    pub mn: Option<String>,
    /// The password; checked against `PW` when `Some`.
    pub password: Option<String>,
    /// Offset of the device clock (`DataTime`) from UTC, seconds. Default +08:00.
    pub utc_offset_secs: i32,
    /// Per-device factor code -> metric overrides (chlorine, ClO2, ozone have no standard
    /// code), merged over [`default_metric`]. Keys are normalised codes (`w01018`, not `01018`).
    pub codes: HashMap<String, Metric>,
}

impl Default for Hj212Profile {
    fn default() -> Self {
        Self {
            mn: None,
            password: None,
            utc_offset_secs: DEFAULT_UTC_OFFSET_SECS,
            codes: HashMap::new(),
        }
    }
}

impl Hj212Profile {
    /// A profile for the device registered with `mn`, default offset and codes, no password.
    pub fn for_mn(mn: impl Into<String>) -> Self {
        Self {
            mn: Some(mn.into()),
            ..Self::default()
        }
    }

    /// The metric a (normalised) factor code maps to: the override, else the default, else
    /// `MetricRef::Unknown(code)`.
    pub fn resolve(&self, code: &str) -> MetricRef {
        match self
            .codes
            .get(code)
            .copied()
            .or_else(|| default_metric(code))
        {
            Some(metric) => MetricRef::Known(metric),
            None => MetricRef::Unknown(code.to_owned()),
        }
    }
}

/// The standard factor codes weijian maps by default: `w01001` pH (2005: `001`), `w01003`
/// turbidity, `w01010` water temperature, `w01014` conductivity.
pub fn default_metric(code: &str) -> Option<Metric> {
    match code {
        "w01001" | "001" => Some(Metric::Ph),
        "w01003" => Some(Metric::TurbidityNtu),
        "w01010" => Some(Metric::TemperatureC),
        "w01014" => Some(Metric::ConductivityUsCm),
        _ => None,
    }
}

/// A rejected frame (or stretch of bytes) with the bytes to quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRejection {
    /// Reason code and human-readable detail.
    pub rejection: Rejection,
    /// The frame (from `##` through the CRC), the garbage, or the parts of a split set.
    pub raw: Vec<u8>,
}

/// The parsed header of a decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHeader {
    /// Request code `YYYYMMDDhhmmsszzz` (often absent in 2005 uploads); replies echo it.
    pub qn: Option<String>,
    /// System code (not checked: there is no ST for drinking water).
    pub st: Option<String>,
    /// Command code.
    pub cn: u16,
    /// Access password as sent.
    pub pw: Option<String>,
    /// Device identifier as sent (any length and charset).
    pub mn: String,
    /// `None` when the frame has no `Flag` (2005): version 0, no reply, not split.
    pub flag: Option<u8>,
    /// Total packets of a split upload.
    pub pnum: Option<u32>,
    /// Packet number (1-based) of a split upload.
    pub pno: Option<u32>,
}

impl FrameHeader {
    /// Protocol version bits (`Flag >> 2`): 0 = HJ/T 212-2005, 1 = HJ 212-2017.
    pub fn version(&self) -> u8 {
        self.flag.unwrap_or(0) >> 2
    }
    /// Flag bit A: the sender wants a reply.
    pub fn reply_wanted(&self) -> bool {
        self.flag.unwrap_or(0) & 1 != 0
    }
    /// Flag bit D: the frame is one part of a split upload (`PNUM`/`PNO`).
    pub fn is_split(&self) -> bool {
        self.flag.unwrap_or(0) & 2 != 0
    }
}

/// A frame that passed CRC, grammar and binding checks, and what it yielded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFrame {
    /// The parsed header.
    pub header: FrameHeader,
    /// Readings (empty for ignored commands and for split parts still waiting for others).
    pub samples: Vec<Sample>,
    /// `i…` codes (instrument/site status, Table B.10): (code, value).
    pub instrument_status: Vec<(String, f64)>,
    /// The 9014 acknowledgement to publish, when Flag bit A = 1 on a data command.
    pub reply: Option<String>,
    /// `Some(CN)` when the command is not a stored data command.
    pub ignored_command: Option<u16>,
    /// `Some((parts held, PNUM))` while a split upload is incomplete.
    pub split_pending: Option<(usize, u32)>,
    /// Tolerated oddities (unknown header fields, misspelled tags, ...).
    pub notes: Vec<String>,
}

/// The result for one frame (or stretch of garbage) of a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameResult {
    /// The frame passed every check.
    Decoded(DecodedFrame),
    /// The frame (or stretch of garbage) is to be quarantined.
    Rejected(FrameRejection),
}

/// Everything one payload yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hj212Outcome {
    /// Readings of all data frames (and completed split sets), in frame order.
    pub samples: Vec<Sample>,
    /// Rejected frames, garbage and dropped split sets, each with its raw bytes.
    pub rejections: Vec<FrameRejection>,
    /// 9014 acknowledgement frames to publish, in frame order.
    pub replies: Vec<String>,
    /// `i…` status codes: (code, value), for logging and equipment alerts.
    pub instrument_status: Vec<(String, f64)>,
    /// CN of decoded frames that are not data commands (counted, not stored).
    pub ignored_commands: Vec<u16>,
    /// Tolerated oddities, for debug logging.
    pub notes: Vec<String>,
}

/// Decodes one payload for the device described by `profile`. Split packets are collected in
/// `reasm` (one per device); `now` is the receive time, used only for split timeouts.
pub fn decode_payload(
    payload: &[u8],
    profile: &Hj212Profile,
    reasm: &mut Reassembler,
    now: Timestamp,
) -> Hj212Outcome {
    let mut outcome = Hj212Outcome::default();
    for result in decode_frames(payload, Some(profile), reasm, now) {
        match result {
            FrameResult::Decoded(frame) => {
                outcome.samples.extend(frame.samples);
                outcome.instrument_status.extend(frame.instrument_status);
                outcome.replies.extend(frame.reply);
                outcome.ignored_commands.extend(frame.ignored_command);
                outcome.notes.extend(frame.notes);
            }
            FrameResult::Rejected(rejection) => outcome.rejections.push(rejection),
        }
    }
    outcome
}

/// Decodes one payload frame by frame. With `profile = None` the MN/PW binding is skipped and
/// default codes and UTC+8 are used (the integrator tool).
pub fn decode_frames(
    payload: &[u8],
    profile: Option<&Hj212Profile>,
    reasm: &mut Reassembler,
    now: Timestamp,
) -> Vec<FrameResult> {
    let default_profile;
    let (mapping_profile, binding) = match profile {
        Some(p) => (p, Some(p)),
        None => {
            default_profile = Hj212Profile::default();
            (&default_profile, None)
        }
    };
    let mut results = Vec::with_capacity(1);
    for piece in frame::split_frames(payload) {
        match piece {
            Piece::Rejected(rejection) => results.push(FrameResult::Rejected(rejection)),
            Piece::Frame(raw) => {
                let mut evicted = Vec::new();
                let result = decode_frame(raw, mapping_profile, binding, reasm, now, &mut evicted);
                results.extend(evicted.into_iter().map(FrameResult::Rejected));
                results.push(match result {
                    Ok(frame) => FrameResult::Decoded(frame),
                    Err(rejection) => FrameResult::Rejected(FrameRejection {
                        rejection,
                        raw: raw.raw.to_vec(),
                    }),
                });
            }
        }
    }
    results
}

/// Checks that the frame belongs to the device: MN registered, PW matching when configured.
fn check_binding(mn: &str, pw: Option<&str>, profile: &Hj212Profile) -> Result<(), Rejection> {
    match &profile.mn {
        None => {
            return Err(Rejection::new(
                Reason::Hj212UnknownMn,
                format!("frame MN {mn:?} but no MN is registered for this device"),
            ))
        }
        Some(registered) if !registered.trim().eq_ignore_ascii_case(mn.trim()) => {
            return Err(Rejection::new(
                Reason::Hj212UnknownMn,
                format!("frame MN {mn:?} is not the registered MN {registered:?}"),
            ))
        }
        Some(_) => {}
    }
    if let Some(password) = &profile.password {
        if pw != Some(password.as_str()) {
            let detail = if pw.is_some() {
                "frame PW does not match the configured password"
            } else {
                "frame has no PW but a password is configured"
            };
            return Err(Rejection::new(Reason::Hj212BadPassword, detail));
        }
    }
    Ok(())
}

/// Decodes one frame whose length fitted. A rejection of an earlier split set evicted to make
/// room goes to `evicted`.
fn decode_frame(
    raw: RawFrame<'_>,
    profile: &Hj212Profile,
    binding: Option<&Hj212Profile>,
    reasm: &mut Reassembler,
    now: Timestamp,
    evicted: &mut Vec<FrameRejection>,
) -> Result<DecodedFrame, Rejection> {
    frame::check_crc(&raw)?;
    let text = std::str::from_utf8(raw.data).map_err(|e| {
        Rejection::new(
            Reason::Hj212Malformed,
            format!("data segment is not UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let mut notes = Vec::new();
    let fields = frame::parse_header(text, &mut notes)?;
    if let Some(profile) = binding {
        check_binding(fields.mn, fields.pw, profile)?;
    }
    let header = FrameHeader {
        qn: fields.qn.map(str::to_owned),
        st: fields.st.map(str::to_owned),
        cn: fields.cn,
        pw: fields.pw.map(str::to_owned),
        mn: fields.mn.to_owned(),
        flag: fields.flag,
        pnum: fields.pnum,
        pno: fields.pno,
    };
    let mut decoded = DecodedFrame {
        header,
        samples: Vec::new(),
        instrument_status: Vec::new(),
        reply: None,
        ignored_command: None,
        split_pending: None,
        notes,
    };
    if map::data_period(fields.cn).is_none() {
        decoded.ignored_command = Some(fields.cn);
        return Ok(decoded);
    }

    // Real loggers set the split bit on whole frames (no PNUM/PNO): such a frame is one
    // frame, not a part (docs/payload-contract.md, deviations).
    let split = match (decoded.header.is_split(), fields.pnum, fields.pno) {
        (true, Some(pnum), Some(pno)) => Some((pnum, pno)),
        (true, _, _) => {
            decoded
                .notes
                .push("Flag bit D set without PNUM/PNO: taken as one whole frame".to_owned());
            None
        }
        (false, _, _) => None,
    };
    let mapped = if let Some((pnum, pno)) = split {
        let key = (fields.mn, fields.qn.unwrap_or_default(), fields.cn);
        match reasm.offer(key, pnum, pno, fields.cp, raw.raw, now, evicted) {
            Offered::Invalid(rejection) => return Err(rejection),
            Offered::Incomplete { have } => {
                decoded.split_pending = Some((have, pnum));
                None
            }
            Offered::Complete { cp, raw: all_raw } => {
                match map::map_data_cp(&cp, fields.cn, profile, &mut decoded.notes) {
                    Ok(mapped) => Some(mapped),
                    Err(rejection) => {
                        // Quarantine the whole set, not just the last part.
                        evicted.push(FrameRejection {
                            rejection,
                            raw: all_raw,
                        });
                        None
                    }
                }
            }
        }
    } else {
        Some(map::map_data_cp(
            fields.cp,
            fields.cn,
            profile,
            &mut decoded.notes,
        )?)
    };
    if let Some(mapped) = mapped {
        decoded.samples = mapped.samples;
        decoded.instrument_status = mapped.instrument_status;
    }
    if decoded.header.reply_wanted() {
        decoded.reply = Some(ack_9014(fields.qn, fields.pw, fields.mn));
    }
    Ok(decoded)
}
