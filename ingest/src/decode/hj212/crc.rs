//! The HJ 212 frame checksum (HJ 212-2017 Annex A, "ANSI CRC16").
//!
//! Not CRC-16/MODBUS: each byte is XORed into the register shifted right by 8
//! (`reg = (reg >> 8) ^ byte`), then 8 shift/XOR rounds with polynomial `0xA001`. The CRC
//! covers the data segment only and is written as 4 hex digits, high byte first.

/// The HJ 212 CRC of `data` (the data segment of a frame, without `##`, length, CRC, CRLF).
pub fn crc16(data: &[u8]) -> u16 {
    let mut reg: u16 = 0xFFFF;
    for &byte in data {
        reg = (reg >> 8) ^ u16::from(byte);
        for _ in 0..8 {
            let lsb = reg & 1;
            reg >>= 1;
            if lsb != 0 {
                reg ^= 0xA001;
            }
        }
    }
    reg
}

/// The CRC of `data` as it is written on the wire: 4 upper-case hex digits.
pub fn crc_hex(data: &[u8]) -> String {
    format!("{:04X}", crc16(data))
}

/// Parses the 4-character CRC field of a frame, case-insensitively. `None` unless it is
/// exactly 4 hex digits.
pub(crate) fn parse_crc_field(field: &[u8]) -> Option<u16> {
    if field.len() != 4 || !field.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(field).ok()?;
    u16::from_str_radix(text, 16).ok()
}
