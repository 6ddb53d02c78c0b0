//! The spool's on-disk byte layout: segment header, record frame, committed-position file.
//!
//! Everything is little-endian. This file only encodes and decodes bytes; it does no I/O, so the
//! layout can be read (and tested) in one place. The layout is documented in `spool/mod.rs`.

/// Magic bytes at the start of every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"WJSPOOL\0";
/// Magic bytes at the start of the committed-position file.
pub(crate) const COMMITTED_MAGIC: [u8; 8] = *b"WJCOMMIT";
/// Version of the segment and committed-file layout. Bump on any incompatible change.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Size of the segment header in bytes.
pub(crate) const SEGMENT_HEADER_LEN: u64 = 32;
/// Size of a record frame header (crc, len, seq, appended_at) in bytes.
pub(crate) const FRAME_HEADER_LEN: usize = 24;
/// Size of the committed-position file in bytes.
pub(crate) const COMMITTED_LEN: usize = 28;
/// Hard upper bound on a payload length, whatever the segment size. A length field above the
/// limit of the segment it is in is corruption, never an allocation request.
pub(crate) const MAX_PAYLOAD_LEN: u64 = 1 << 30;

/// Encodes a segment header for a segment whose first record has sequence number `base_seq`.
pub(crate) fn encode_segment_header(base_seq: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // 12..16 reserved (zero).
    h[16..24].copy_from_slice(&base_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[0..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    // 28..32 reserved (zero).
    h
}

/// Why a segment header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer bytes than a header (a segment whose creation was torn by a crash).
    Short,
    /// Wrong magic, version or checksum.
    Invalid(&'static str),
}

/// Decodes a segment header and returns its base sequence number.
pub(crate) fn decode_segment_header(buf: &[u8]) -> Result<u64, HeaderError> {
    if buf.len() < SEGMENT_HEADER_LEN as usize {
        return Err(HeaderError::Short);
    }
    if buf[0..8] != SEGMENT_MAGIC {
        return Err(HeaderError::Invalid("bad segment magic"));
    }
    if le_u32(&buf[8..12]) != FORMAT_VERSION {
        return Err(HeaderError::Invalid("unsupported segment version"));
    }
    if le_u32(&buf[24..28]) != crc32fast::hash(&buf[0..24]) {
        return Err(HeaderError::Invalid("segment header checksum mismatch"));
    }
    Ok(le_u64(&buf[16..24]))
}

/// Total on-disk size of a record with a payload of `payload_len` bytes.
pub(crate) fn frame_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_LEN + payload_len) as u64
}

/// Appends one framed record to `out`.
///
/// Layout: `crc32 u32 | len u32 | seq u64 | appended_at_ms u64 | payload`, where the crc covers
/// every byte after itself (len, seq, appended_at and payload).
pub(crate) fn encode_frame(out: &mut Vec<u8>, seq: u64, appended_at_ms: u64, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 4]);
    // The caller bounds payloads by the segment size, which config validation keeps below u32.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&appended_at_ms.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A decoded frame borrowing its payload from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) seq: u64,
    pub(crate) appended_at_ms: u64,
    pub(crate) payload: &'a [u8],
}

impl Frame<'_> {
    /// On-disk size of this frame.
    pub(crate) fn len(&self) -> u64 {
        frame_len(self.payload.len())
    }
}

/// The outcome of decoding a frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A whole, checksummed frame.
    Frame(Frame<'a>),
    /// The buffer ends before the frame does; `needed` is the frame's full size (or the header
    /// size when even the header is incomplete).
    Incomplete { needed: u64 },
    /// The bytes cannot be a frame.
    Corrupt(&'static str),
}

/// Decodes the frame at the start of `buf`. `max_payload` bounds the length field.
pub(crate) fn decode_frame(buf: &[u8], max_payload: u64) -> Decoded<'_> {
    if buf.len() < FRAME_HEADER_LEN {
        return Decoded::Incomplete {
            needed: FRAME_HEADER_LEN as u64,
        };
    }
    let crc = le_u32(&buf[0..4]);
    let len = u64::from(le_u32(&buf[4..8]));
    if len > max_payload.min(MAX_PAYLOAD_LEN) {
        return Decoded::Corrupt("record length out of range");
    }
    let total = FRAME_HEADER_LEN as u64 + len;
    if (buf.len() as u64) < total {
        return Decoded::Incomplete { needed: total };
    }
    // `total <= buf.len()`, so it fits in usize.
    let total = total as usize;
    if crc32fast::hash(&buf[4..total]) != crc {
        return Decoded::Corrupt("record checksum mismatch");
    }
    Decoded::Frame(Frame {
        seq: le_u64(&buf[8..16]),
        appended_at_ms: le_u64(&buf[16..24]),
        payload: &buf[FRAME_HEADER_LEN..total],
    })
}

/// Encodes the committed-position file: `magic | version u32 | reserved u32 | next_seq u64 |
/// crc32 u32` (crc over the first 24 bytes).
pub(crate) fn encode_committed(next_seq: u64) -> [u8; COMMITTED_LEN] {
    let mut b = [0u8; COMMITTED_LEN];
    b[0..8].copy_from_slice(&COMMITTED_MAGIC);
    b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&next_seq.to_le_bytes());
    let crc = crc32fast::hash(&b[0..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes the committed-position file and returns the first sequence number not yet committed.
pub(crate) fn decode_committed(buf: &[u8]) -> Result<u64, &'static str> {
    if buf.len() != COMMITTED_LEN {
        return Err("committed file has the wrong length");
    }
    if buf[0..8] != COMMITTED_MAGIC {
        return Err("bad committed-file magic");
    }
    if le_u32(&buf[8..12]) != FORMAT_VERSION {
        return Err("unsupported committed-file version");
    }
    if le_u32(&buf[24..28]) != crc32fast::hash(&buf[0..24]) {
        return Err("committed-file checksum mismatch");
    }
    Ok(le_u64(&buf[16..24]))
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_any_flipped_bit_is_detected() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 42, 1_700_000_000_000, b"hello spool");
        match decode_frame(&buf, 1024) {
            Decoded::Frame(f) => {
                assert_eq!(f.seq, 42);
                assert_eq!(f.appended_at_ms, 1_700_000_000_000);
                assert_eq!(f.payload, b"hello spool");
                assert_eq!(f.len(), buf.len() as u64);
            }
            other => panic!("unexpected {other:?}"),
        }
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[i] ^= 1 << bit;
                assert!(
                    !matches!(decode_frame(&b, 1024), Decoded::Frame(_)),
                    "flip at byte {i} bit {bit} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_truncated_frame_is_incomplete_not_corrupt() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 1, 2, &[7u8; 100]);
        for cut in 0..buf.len() {
            assert!(matches!(
                decode_frame(&buf[..cut], 1024),
                Decoded::Incomplete { .. }
            ));
        }
    }

    #[test]
    fn headers_and_committed_files_round_trip() {
        assert_eq!(decode_segment_header(&encode_segment_header(77)), Ok(77));
        assert_eq!(
            decode_segment_header(&encode_segment_header(77)[..10]),
            Err(HeaderError::Short)
        );
        assert_eq!(decode_committed(&encode_committed(9)), Ok(9));
        let mut c = encode_committed(9);
        c[17] ^= 1;
        assert!(decode_committed(&c).is_err());
    }
}
