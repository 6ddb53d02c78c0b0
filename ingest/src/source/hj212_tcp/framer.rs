//! Finding HJ 212 frames in a TCP byte stream: `##` + 4-digit length + data segment + 4 CRC
//! characters, then normally `\r\n`.
//!
//! What real loggers send and how it is taken (docs/payload-contract.md, "HJ 212 over TCP"):
//!
//! - bytes before a `##` + 4 digits (garbage, a half frame after a reconnect, heartbeats of
//!   other protocols) are skipped and counted; line ends, blanks and NULs between frames
//!   (blank lines, a doubled `\r\n`, a lone `\n`, no terminator at all) are not even counted;
//! - a frame ends where its length field says; when the CRC does not match there (a length
//!   counted in characters, not bytes, or simply wrong), the frame ends at the next line end
//!   or the next `##` + 4 digits instead, and the drain's decoder judges it (quarantined if it
//!   is bad, like over MQTT);
//! - a length field describing more than `max_frame_bytes` ends the connection (the bound on a
//!   connection's memory): [`Framed::TooLarge`].
//!
//! The buffer never holds more than `max_frame_bytes` + one read.

use bytes::{Buf, BytesMut};

use crate::decode::hj212::crc16;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Framed {
    /// A frame from `##` through the CRC (no line end).
    Frame(Vec<u8>),
    /// A length field over the bound: the declared frame size.
    TooLarge(usize),
}

/// The stream state of one connection.
#[derive(Debug)]
pub(super) struct Framer {
    buf: BytesMut,
    max_frame_bytes: usize,
    /// Bytes skipped outside frames that were not separators.
    pub(super) garbage: u64,
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b'\r' | b'\n' | b' ' | b'\t' | 0)
}

/// Where `##` + 4 digits starts at or after `from`; `None` also when the buffer ends inside a
/// possible start (the caller keeps those bytes).
fn frame_start(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from;
    while at < buf.len() {
        if buf[at] != b'#' {
            at += 1;
            continue;
        }
        let head = &buf[at..buf.len().min(at + 6)];
        let digits_so_far = head.iter().skip(2).all(u8::is_ascii_digit);
        if head.len() < 6 {
            // Maybe a start, cut by the read: keep from here.
            if head.get(1).is_none_or(|b| *b == b'#') && digits_so_far {
                return Err(at);
            }
            at += 1;
            continue;
        }
        if head[1] == b'#' && digits_so_far {
            return Ok(at);
        }
        at += 1;
    }
    Err(buf.len())
}

fn declared_len(head: &[u8]) -> usize {
    head[2..6]
        .iter()
        .fold(0, |acc, b| acc * 10 + usize::from(b - b'0'))
}

impl Framer {
    pub(super) fn new(max_frame_bytes: usize, read_buffer_bytes: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(read_buffer_bytes.min(max_frame_bytes)),
            max_frame_bytes,
            garbage: 0,
        }
    }

    /// Room for the next read, never past `max_frame_bytes` + `read` in all.
    pub(super) fn buffer(&mut self, read: usize) -> &mut BytesMut {
        let room = (self.max_frame_bytes + read).saturating_sub(self.buf.len());
        self.buf.reserve(read.min(room).max(1));
        &mut self.buf
    }

    /// Bytes held (for the memory bound).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buf.len()
    }

    fn skip(&mut self, n: usize) {
        let skipped = &self.buf[..n];
        self.garbage += skipped.iter().filter(|b| !is_separator(**b)).count() as u64;
        self.buf.advance(n);
    }

    /// The next complete frame in the buffer, if any; call until `None`, then read more.
    pub(super) fn next_frame(&mut self) -> Option<Framed> {
        let start = match frame_start(&self.buf, 0) {
            Ok(start) => start,
            Err(keep_from) => {
                self.skip(keep_from);
                return None;
            }
        };
        self.skip(start);
        let declared = declared_len(&self.buf);
        let total = 6 + declared + 4;
        if total > self.max_frame_bytes {
            // The connection ends: nothing of it is kept.
            self.buf.clear();
            return Some(Framed::TooLarge(total));
        }
        if self.buf.len() < total {
            return None;
        }
        let data = &self.buf[6..6 + declared];
        let crc = &self.buf[6 + declared..total];
        let crc_ok = std::str::from_utf8(crc)
            .ok()
            .and_then(|c| u16::from_str_radix(c, 16).ok())
            == Some(crc16(data));
        let end = if crc_ok {
            total
        } else {
            // The length did not locate the CRC: the frame ends at the next line end or frame
            // start; wait for one (bounded by the buffer limit).
            let line_end = self.buf[6..]
                .iter()
                .position(|b| *b == b'\n' || *b == b'\r');
            let next = frame_start(&self.buf, 6).ok();
            match (line_end.map(|p| p + 6), next) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) if self.buf.len() >= self.max_frame_bytes => self.buf.len(),
                (None, None) => return None,
            }
        };
        Some(Framed::Frame(self.buf.split_to(end).to_vec()))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::hj212::wrap_frame;

    fn frames(framer: &mut Framer, input: &[u8]) -> Vec<Framed> {
        framer.buffer(input.len()).extend_from_slice(input);
        std::iter::from_fn(|| framer.next_frame()).collect()
    }

    fn frame(data: &str) -> Vec<u8> {
        wrap_frame(data).into_bytes()
    }

    fn body(f: &[u8]) -> Framed {
        Framed::Frame(f.strip_suffix(b"\r\n").unwrap_or(f).to_vec())
    }

    #[test]
    fn frames_are_found_whatever_separates_them_and_however_the_reads_cut_them() {
        let a = frame("ST=21;CN=2011;MN=A;Flag=5;CP=&&DataTime=20240101000000&&");
        let b = frame("ST=21;CN=2011;MN=B;Flag=4;CP=&&&&");
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(&a);
        stream.extend_from_slice(b"\r\n\n");
        stream.extend_from_slice(a.strip_suffix(b"\r\n").unwrap());
        stream.extend_from_slice(b"\n");
        stream.extend_from_slice(b.strip_suffix(b"\r\n").unwrap());
        stream.extend_from_slice(&b);
        let want = vec![body(&a), body(&a), body(&b), body(&b)];
        for chunk in [1, 2, 5, 7, 64, stream.len()] {
            let mut framer = Framer::new(4096, chunk);
            let got: Vec<Framed> = stream
                .chunks(chunk)
                .flat_map(|c| frames(&mut framer, c))
                .collect();
            assert_eq!(got, want, "reads of {chunk} bytes");
            assert_eq!(framer.garbage, 0);
            assert_eq!(framer.held(), 0);
        }
    }

    #[test]
    fn garbage_is_skipped_and_counted_and_the_stream_resynchronises() {
        let a = frame("ST=21;CN=2011;MN=A;CP=&&&&");
        let mut stream = b"HELLO##12".to_vec();
        stream.extend_from_slice(b"#x");
        stream.extend_from_slice(&a);
        let mut framer = Framer::new(4096, 64);
        assert_eq!(frames(&mut framer, &stream), vec![body(&a)]);
        assert_eq!(framer.garbage, 11);
    }

    #[test]
    fn a_frame_whose_length_is_wrong_ends_at_its_line_end_for_the_decoder_to_judge() {
        let good = frame("ST=21;CN=2011;MN=A;CP=&&&&");
        let mut bad = good.clone();
        bad[5] = b'0'; // ##0026 -> ##0020: the CRC is not where the length says
        let mut stream = bad.clone();
        stream.extend_from_slice(&good);
        let mut framer = Framer::new(4096, 64);
        assert_eq!(frames(&mut framer, &stream), vec![body(&bad), body(&good)]);
    }

    #[test]
    fn a_length_over_the_bound_is_refused_before_it_is_buffered() {
        let mut framer = Framer::new(100, 64);
        assert_eq!(
            frames(&mut framer, b"##9999QN=1"),
            vec![Framed::TooLarge(10_009)]
        );
    }

    #[test]
    fn a_stream_of_garbage_holds_no_more_than_a_few_bytes() {
        let mut framer = Framer::new(128, 64);
        for _ in 0..100 {
            assert!(frames(&mut framer, &[b'x'; 64]).is_empty());
            assert!(framer.held() <= 1);
        }
        assert_eq!(framer.garbage, 6400);
    }
}
