//! Frame level: splitting a payload into frames (`##` + length + data segment + CRC + CRLF),
//! checking length and CRC, and parsing the data-segment header (`QN;ST;CN;PW;MN;Flag;
//! [PNUM;PNO;]CP=&&...&&`) with the real-world deviations listed in docs/payload-contract.md.
//!
//! Everything borrows from the payload; nothing here allocates on the happy path except the
//! output vector.

use super::crc::{crc16, parse_crc_field};
use super::FrameRejection;
use crate::reject::{Reason, Rejection};

/// One piece of a payload: a frame whose length field fits, or a rejected stretch of bytes.
#[derive(Debug)]
pub(crate) enum Piece<'a> {
    Frame(RawFrame<'a>),
    Rejected(FrameRejection),
}

/// A frame whose length field located its CRC; the CRC itself is not checked yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawFrame<'a> {
    /// The whole frame from `##` through the CRC (the CRLF is not included).
    pub raw: &'a [u8],
    /// The data segment the CRC covers.
    pub data: &'a [u8],
    /// The 4 CRC characters as sent.
    pub crc: &'a [u8],
}

/// Bytes that may separate frames without being garbage.
fn is_filler(byte: u8) -> bool {
    matches!(byte, b'\r' | b'\n' | b' ' | b'\t' | 0)
}

/// The next `##` followed by 4 ASCII digits at or after `from`.
fn find_frame_start(payload: &[u8], from: usize) -> Option<usize> {
    let mut search = from;
    loop {
        let rest = payload.get(search..)?;
        let at = search + rest.windows(2).position(|w| w == b"##")?;
        let digits = payload.get(at + 2..at + 6);
        if digits.is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
            return Some(at);
        }
        search = at + 1;
    }
}

/// Whether a data segment ending at `data_end` is followed by 4 CRC characters and then the end
/// of the payload, a filler byte (CR, LF, ...) or the next `##`.
fn crc_fits(payload: &[u8], data_end: usize) -> bool {
    if payload.get(data_end..data_end + 4).is_none() {
        return false;
    }
    match payload.get(data_end + 4..) {
        Some([]) | None => true,
        Some(rest) => rest.first().is_some_and(|b| is_filler(*b)) || rest.starts_with(b"##"),
    }
}

/// Whether the 4 bytes at `data_end` are the correct CRC of `data_start..data_end`: a frame
/// directly followed by garbage (no CRLF) still counts as a frame, the garbage is reported
/// separately.
fn crc_matches(payload: &[u8], data_start: usize, data_end: usize) -> bool {
    match (
        payload.get(data_start..data_end),
        payload.get(data_end..data_end + 4),
    ) {
        (Some(data), Some(crc)) => parse_crc_field(crc) == Some(crc16(data)),
        _ => false,
    }
}

/// Where a data segment of `chars` UTF-8 characters starting at `start` ends, looking no
/// further than `limit` (the next frame start) so that resynchronisation stays linear.
fn char_count_end(payload: &[u8], start: usize, limit: usize, chars: usize) -> Option<usize> {
    let rest = payload.get(start..limit)?;
    let mut count = 0usize;
    for (offset, byte) in rest.iter().enumerate() {
        if byte & 0xC0 != 0x80 {
            if count == chars {
                return Some(start + offset);
            }
            count += 1;
        }
    }
    (count == chars).then_some(limit)
}

fn rejected(reason: Reason, detail: String, raw: &[u8]) -> Piece<'static> {
    Piece::Rejected(FrameRejection {
        rejection: Rejection::new(reason, detail),
        raw: raw.to_vec(),
    })
}

/// Cuts the frame starting at `start` (a `##` followed by 4 digits). Returns the piece and the
/// position to continue from.
fn cut_frame(payload: &[u8], start: usize) -> (Piece<'_>, usize) {
    let data_start = start + 6;
    let declared = payload
        .get(start + 2..data_start)
        .unwrap_or_default()
        .iter()
        .fold(0usize, |acc, b| {
            acc * 10 + usize::from(b.wrapping_sub(b'0'))
        });
    let byte_end = data_start + declared;
    let mut next_start = None;
    let data_end = if crc_fits(payload, byte_end) {
        Some(byte_end)
    } else {
        let next = find_frame_start(payload, data_start).unwrap_or(payload.len());
        next_start = Some(next);
        char_count_end(payload, data_start, next, declared)
            .filter(|&end| end != byte_end && crc_fits(payload, end))
            .or_else(|| {
                (byte_end + 4 <= next && crc_matches(payload, data_start, byte_end))
                    .then_some(byte_end)
            })
    };
    if let Some(data_end) = data_end {
        let frame = RawFrame {
            raw: payload.get(start..data_end + 4).unwrap_or_default(),
            data: payload.get(data_start..data_end).unwrap_or_default(),
            crc: payload.get(data_end..data_end + 4).unwrap_or_default(),
        };
        return (Piece::Frame(frame), data_end + 4);
    }
    // Resynchronise on the next frame start; everything up to it is this (bad) frame.
    let next = next_start.unwrap_or(payload.len());
    let raw = payload.get(start..next).unwrap_or_default();
    let body = payload.get(data_start..next).unwrap_or_default();
    let trimmed = body.len() - body.iter().rev().take_while(|b| is_filler(**b)).count();
    let detail = if next == payload.len() && byte_end + 4 > payload.len() {
        format!(
            "truncated frame: length field says {declared} (+4 CRC) but only {} bytes follow it",
            trimmed
        )
    } else {
        format!(
            "length field says {declared} but the data segment before the CRC has {} bytes",
            trimmed.saturating_sub(4)
        )
    };
    (rejected(Reason::Hj212BadLength, detail, raw), next)
}

/// Splits a payload into frames on `##` + the length field (never on newlines). Garbage
/// between frames becomes one `hj212_malformed` piece; a frame whose length does not fit
/// becomes one `hj212_bad_length` piece and splitting resumes at the next `##`.
pub(crate) fn split_frames(payload: &[u8]) -> Vec<Piece<'_>> {
    let mut pieces = Vec::with_capacity(1);
    let mut pos = 0;
    while pos < payload.len() {
        let start = find_frame_start(payload, pos).unwrap_or(payload.len());
        let gap = payload.get(pos..start).unwrap_or_default();
        let lead = gap.iter().take_while(|b| is_filler(**b)).count();
        let garbage = gap.get(lead..).unwrap_or_default();
        let trail = garbage.iter().rev().take_while(|b| is_filler(**b)).count();
        let garbage = garbage.get(..garbage.len() - trail).unwrap_or_default();
        if !garbage.is_empty() {
            let detail = format!(
                "{} bytes outside any frame (no `##` + 4-digit length)",
                garbage.len()
            );
            pieces.push(rejected(Reason::Hj212Malformed, detail, garbage));
        }
        if start >= payload.len() {
            break;
        }
        let (piece, next) = cut_frame(payload, start);
        pieces.push(piece);
        pos = next.max(start + 1);
    }
    pieces
}

/// Checks the CRC of a frame (case-insensitive hex). The error detail gives both values.
pub(crate) fn check_crc(frame: &RawFrame<'_>) -> Result<(), Rejection> {
    let expected = crc16(frame.data);
    match parse_crc_field(frame.crc) {
        Some(actual) if actual == expected => Ok(()),
        Some(actual) => Err(Rejection::new(
            Reason::Hj212BadCrc,
            format!("CRC expected {expected:04X}, frame carries {actual:04X}"),
        )),
        None => Err(Rejection::new(
            Reason::Hj212BadCrc,
            format!(
                "CRC expected {expected:04X}, frame carries {:?} (not 4 hex digits)",
                String::from_utf8_lossy(frame.crc)
            ),
        )),
    }
}

/// The header of a frame, borrowing from its data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderFields<'a> {
    pub qn: Option<&'a str>,
    pub st: Option<&'a str>,
    pub cn: u16,
    pub pw: Option<&'a str>,
    pub mn: &'a str,
    pub flag: Option<u8>,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    /// The CP data area between `CP=&&` and the closing `&&`, leading spaces removed.
    pub cp: &'a str,
}

fn malformed(detail: String) -> Rejection {
    Rejection::new(Reason::Hj212Malformed, detail)
}

fn parse_number<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, Rejection> {
    value
        .trim()
        .parse()
        .map_err(|_| malformed(format!("header field {field}={value:?} is not a number")))
}

/// Parses the data segment header. Tolerates (B.11): missing QN, missing Flag, `,` instead of
/// `;` after QN, no `;` before `CP=`, spaces after `CP=&&`, MN of any length/charset. Unknown
/// header fields are ignored and described in `notes`.
pub(crate) fn parse_header<'a>(
    data: &'a str,
    notes: &mut Vec<String>,
) -> Result<HeaderFields<'a>, Rejection> {
    let cp_at = data
        .find("CP=&&")
        .ok_or_else(|| malformed("no `CP=&&` in the data segment".to_owned()))?;
    let head = data.get(..cp_at).unwrap_or_default();
    let after = data.get(cp_at + 5..).unwrap_or_default().trim_end();
    // Header fields written after the CP (`...&&;Flag=0`, seen from a public HJ 212 library's
    // writer): read like those before it.
    let (after, trailing) = match after.strip_suffix("&&") {
        Some(_) => (after, ""),
        None => match after.rfind("&&") {
            Some(end) if after[end + 2..].trim_start().starts_with(';') => {
                notes.push("header fields after the CP data area".to_owned());
                (&after[..end + 2], &after[end + 2..])
            }
            _ => (after, ""),
        },
    };
    let cp = after
        .strip_suffix("&&")
        .ok_or_else(|| malformed("CP data area is not closed by `&&`".to_owned()))?
        .trim_start();

    let mut header = HeaderFields {
        qn: None,
        st: None,
        cn: 0,
        pw: None,
        mn: "",
        flag: None,
        pnum: None,
        pno: None,
        cp,
    };
    let mut cn = None;
    let mut mn = None;
    for item in head.split(';').chain(trailing.split(';')) {
        // QN=...,ST=32 (Annex C tables C.22/C.48): a comma ends the QN value.
        let item = item.trim_start();
        let (first, rest) = match item.split_once(',') {
            Some((qn, rest)) if item.starts_with("QN=") => (qn, Some(rest)),
            _ => (item, None),
        };
        let fields = std::iter::once(first).chain(rest.into_iter().flat_map(|r| r.split(',')));
        for field in fields {
            let field = field.trim();
            if field.is_empty() {
                continue;
            }
            let Some((key, value)) = field.split_once('=') else {
                notes.push(format!("ignored header text {field:?} (no `=`)"));
                continue;
            };
            match key {
                "QN" => header.qn = Some(value),
                "ST" => header.st = Some(value),
                "CN" => cn = Some(parse_number::<u16>(key, value)?),
                "PW" => header.pw = Some(value),
                "MN" => mn = Some(value),
                "Flag" => header.flag = Some(parse_number::<u8>(key, value)?),
                "PNUM" => header.pnum = Some(parse_number::<u32>(key, value)?),
                "PNO" => header.pno = Some(parse_number::<u32>(key, value)?),
                _ => notes.push(format!("ignored unknown header field {key:?}")),
            }
        }
    }
    header.cn = cn.ok_or_else(|| malformed("no CN in the header".to_owned()))?;
    header.mn = mn
        .filter(|m| !m.is_empty())
        .ok_or_else(|| malformed("no MN in the header".to_owned()))?;
    Ok(header)
}
