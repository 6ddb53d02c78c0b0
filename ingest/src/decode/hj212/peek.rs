//! A first look at one frame for the HJ 212 TCP listener: who sent it (MN, PW), whether it
//! wants a reply (Flag bit A), the QN a reply echoes and whether the CRC holds. The listener
//! needs this before the frame is spooled (to bind the connection's frame to a registered
//! device and to answer it); the full decoding happens later in the drain, as for MQTT.
//!
//! Header fields are read loosely (`;` or `,` between fields, anything before `CP=`), so a
//! frame the decoder will quarantine still names its sender when it can.

use super::crc::{crc16, parse_crc_field};
use super::frame::{split_frames, Piece};

/// What the listener learns from a frame before spooling it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FramePeek {
    /// `QN=` as sent (replies echo it).
    pub qn: Option<String>,
    /// `MN=` as sent.
    pub mn: Option<String>,
    /// `PW=` as sent.
    pub pw: Option<String>,
    /// `CN=`, when it is a number.
    pub cn: Option<u16>,
    /// `Flag=`, when it is a number.
    pub flag: Option<u8>,
    /// The length field located the CRC and the CRC matches the data segment.
    pub crc_ok: bool,
}

impl FramePeek {
    /// Flag bit A: the sender waits for a reply.
    pub fn reply_wanted(&self) -> bool {
        self.flag.unwrap_or(0) & 1 != 0
    }
}

/// Looks at the first frame of `bytes` (`##` + length + data segment + CRC, line end optional).
pub fn peek_frame(bytes: &[u8]) -> FramePeek {
    let (data, crc_ok) = match split_frames(bytes)
        .into_iter()
        .find_map(|piece| match piece {
            Piece::Frame(raw) => Some(raw),
            Piece::Rejected(_) => None,
        }) {
        Some(raw) => (raw.data, parse_crc_field(raw.crc) == Some(crc16(raw.data))),
        // The length field did not locate a CRC: read the header from what follows it.
        None => (bytes.get(6..).unwrap_or_default(), false),
    };
    let text = String::from_utf8_lossy(data);
    let head = text.find("CP=").map_or(&*text, |at| &text[..at]);
    let mut peek = FramePeek {
        crc_ok,
        ..FramePeek::default()
    };
    for field in head.split([';', ',']) {
        let Some((key, value)) = field.trim().split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key {
            "QN" => peek.qn = Some(value.to_owned()),
            "MN" if !value.is_empty() => peek.mn = Some(value.to_owned()),
            "PW" => peek.pw = Some(value.to_owned()),
            "CN" => peek.cn = value.parse().ok(),
            "Flag" => peek.flag = value.parse().ok(),
            _ => {}
        }
    }
    peek
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::hj212::FrameBuilder;

    #[test]
    fn a_good_frame_names_its_sender_and_wants_a_reply() {
        let frame = FrameBuilder {
            qn: Some("20240101000000000".into()),
            st: Some("21".into()),
            cn: 2011,
            pw: Some("123456".into()),
            mn: "MN01".into(),
            flag: Some(5),
            packet: None,
            cp: "DataTime=20240101000000;w01001-Rtd=7.1".into(),
        }
        .build();
        let peek = peek_frame(frame.as_bytes());
        assert!(peek.crc_ok);
        assert!(peek.reply_wanted());
        assert_eq!(peek.mn.as_deref(), Some("MN01"));
        assert_eq!(peek.pw.as_deref(), Some("123456"));
        assert_eq!(peek.qn.as_deref(), Some("20240101000000000"));
        assert_eq!(peek.cn, Some(2011));
    }

    #[test]
    fn a_frame_with_a_bad_crc_still_names_its_sender() {
        let mut frame = FrameBuilder {
            cn: 2011,
            mn: "MN02".into(),
            flag: Some(5),
            cp: "DataTime=20240101000000".into(),
            ..FrameBuilder::default()
        }
        .build()
        .into_bytes();
        let crc_at = frame.len() - 6;
        frame[crc_at] = if frame[crc_at] == b'0' { b'1' } else { b'0' };
        let peek = peek_frame(&frame);
        assert!(!peek.crc_ok);
        assert_eq!(peek.mn.as_deref(), Some("MN02"));
    }

    #[test]
    fn garbage_has_no_sender() {
        let peek = peek_frame(b"##00zzhello");
        assert_eq!(peek.mn, None);
        assert!(!peek.crc_ok);
    }
}
