//! The access password (`PW=`) of HJ 212 frames kept out of stored payloads: a quarantined
//! frame's bytes are stored for the integrator, but its password is a credential of the
//! device (HJ 212-2017 §6.3.2 `PW`), so its value is replaced by `***`.

use std::borrow::Cow;

/// `payload` with the value of every `PW=` field (after `;`, up to the next `;`, `&` or the end
/// of the line) replaced by `***`; borrowed when there is none.
pub fn redact_password(payload: &[u8]) -> Cow<'_, [u8]> {
    const FIELD: &[u8] = b"PW=";
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = payload[at..].windows(FIELD.len()).position(|w| w == FIELD) {
        let start = at + found + FIELD.len();
        let preceded = at + found > 0 && payload[at + found - 1] == b';';
        let end = payload[start..]
            .iter()
            .position(|b| matches!(b, b';' | b'&' | b'\r' | b'\n'))
            .map_or(payload.len(), |n| start + n);
        if preceded && end > start {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(payload.len()));
            buf.extend_from_slice(&payload[copied..start]);
            buf.extend_from_slice(b"***");
            copied = end;
        }
        at = end.max(start);
    }
    match out {
        None => Cow::Borrowed(payload),
        Some(mut buf) => {
            buf.extend_from_slice(&payload[copied..]);
            Cow::Owned(buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn the_password_of_every_frame_is_masked_and_the_rest_kept() {
        let payload = b"##0101QN=1;ST=32;CN=2011;PW=123456;MN=A1;CP=&&a&&ABCD\r\n##0090ST=32;CN=2011;PW=pw2;MN=A2;CP=&&&&1234\r\n";
        let out = redact_password(payload);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "##0101QN=1;ST=32;CN=2011;PW=***;MN=A1;CP=&&a&&ABCD\r\n##0090ST=32;CN=2011;PW=***;MN=A2;CP=&&&&1234\r\n"
        );
        assert!(matches!(
            redact_password(b"{\"values\":{\"ph\":7}}"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(&*redact_password(b"ST=32;PW=x"), b"ST=32;PW=***");
    }
}
