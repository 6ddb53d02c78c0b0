//! Strict parser for InfluxDB Line Protocol as QuestDB accepts it over HTTP (ILP v1 text and
//! the ILP v2 binary double encoding used by questdb-rs), used by the QuestDB double.
//!
//! Grammar (one line, `\n` terminated):
//! `table[,tag=value...][ field=value[,field=value...]][ timestamp]\n`
//!
//! * table names, tag keys/values and field keys are "unquoted": `\` escapes space, comma, `=`,
//!   newline, carriage return and `\` itself;
//! * string field values are double-quoted; `\` escapes `"`, `\`, newline and carriage return;
//! * `123i` is an integer, `t/f/true/false` (any case) a boolean, `123t` a timestamp in
//!   microseconds and `123n` one in nanoseconds, anything else must parse as a float
//!   (`NaN`, `Infinity`, `-Infinity` included);
//! * ILP v2: `name==` followed by the type byte `16` and 8 little-endian bytes is a binary f64;
//! * the designated timestamp is a number in the request's `precision` (nanoseconds by default),
//!   optionally (v2) suffixed with `t` (micros) or `n` (nanos).

use std::fmt;

/// A value as it arrives on the wire (the "protocol type" in QuestDB's error messages).
#[derive(Debug, Clone, PartialEq)]
pub enum IlpValue {
    /// A tag (`,key=value` before the first space).
    Symbol(String),
    /// A float field (text or ILP v2 binary).
    Float(f64),
    /// An integer field (`i` suffix).
    Integer(i64),
    /// A boolean field.
    Bool(bool),
    /// A quoted string field.
    Str(String),
    /// A timestamp field (`t` / `n` suffix), normalised to microseconds.
    TimestampMicros(i64),
}

impl IlpValue {
    /// The protocol type name QuestDB uses in cast errors.
    pub fn protocol_type(&self) -> &'static str {
        match self {
            IlpValue::Symbol(_) => "SYMBOL",
            IlpValue::Float(_) => "FLOAT",
            IlpValue::Integer(_) => "INTEGER",
            IlpValue::Bool(_) => "BOOLEAN",
            IlpValue::Str(_) => "STRING",
            IlpValue::TimestampMicros(_) => "TIMESTAMP",
        }
    }
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct IlpLine {
    /// 1-based line number within the request.
    pub line_no: usize,
    /// Target table.
    pub table: String,
    /// Tags then fields, in wire order. Tags are [`IlpValue::Symbol`].
    pub columns: Vec<(String, IlpValue)>,
    /// Designated timestamp in microseconds, if the line carried one.
    pub timestamp_micros: Option<i64>,
}

/// The `precision` query parameter of `/write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (the default).
    #[default]
    Nanos,
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
}

impl Precision {
    /// Parse the `precision` query parameter as QuestDB does.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "n" | "ns" => Precision::Nanos,
            "u" | "us" => Precision::Micros,
            "ms" => Precision::Millis,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    fn to_micros(self, v: i64) -> Option<i64> {
        match self {
            Precision::Nanos => Some(v.div_euclid(1000)),
            Precision::Micros => Some(v),
            Precision::Millis => v.checked_mul(1_000),
            Precision::Seconds => v.checked_mul(1_000_000),
            Precision::Minutes => v.checked_mul(60_000_000),
            Precision::Hours => v.checked_mul(3_600_000_000),
        }
    }
}

/// A parse error, naming the 1-based line of the request it occurred on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IlpError {
    /// 1-based line number.
    pub line: usize,
    /// Human readable reason.
    pub message: String,
}

impl fmt::Display for IlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error in line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for IlpError {}

/// ILP v2 binary type tag for a double.
pub const DOUBLE_BINARY_FORMAT_TYPE: u8 = 16;

/// Characters QuestDB refuses in column names.
const ILLEGAL_COLUMN_CHARS: &[char] = &[
    '.', '?', ',', '\'', '"', '\\', '/', ':', ')', '(', '+', '-', '*', '%', '~', '\0',
];
/// Characters QuestDB refuses in table names.
const ILLEGAL_TABLE_CHARS: &[char] = &[
    '?', ',', '\'', '"', '\\', '/', ':', ')', '(', '+', '*', '%', '~', '\0',
];

/// Parse a whole request body. Fails on the first bad line (the request is all-or-nothing).
/// Empty lines are skipped; the last line must be newline-terminated.
pub fn parse_request(body: &[u8], precision: Precision) -> Result<Vec<IlpLine>, IlpError> {
    let mut p = Parser {
        buf: body,
        pos: 0,
        line_no: 0,
        precision,
    };
    let mut out = Vec::new();
    while p.pos < p.buf.len() {
        p.line_no += 1;
        if p.peek() == Some(b'\n') {
            p.pos += 1;
            continue;
        }
        if p.buf[p.pos..].starts_with(b"\r\n") {
            p.pos += 2;
            continue;
        }
        out.push(p.line()?);
    }
    Ok(out)
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    line_no: usize,
    precision: Precision,
}

/// What ended an unquoted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Comma,
    Space,
    Equals,
    Newline,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, IlpError> {
        Err(IlpError {
            line: self.line_no,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Read an unquoted, escaped token up to (and consuming) one of the stop bytes allowed.
    fn token(&mut self, allow_eq_stop: bool) -> Result<(String, Stop), IlpError> {
        let mut bytes = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return self.err("unexpected end of input (line is not newline-terminated)");
            };
            self.pos += 1;
            match b {
                b'\\' => {
                    let Some(n) = self.peek() else {
                        return self.err("unexpected end of input after '\\'");
                    };
                    if matches!(n, b' ' | b',' | b'=' | b'\n' | b'\r' | b'\\') {
                        bytes.push(n);
                        self.pos += 1;
                    } else {
                        bytes.push(b'\\');
                    }
                }
                b',' => return self.finish_token(bytes, Stop::Comma),
                b' ' => return self.finish_token(bytes, Stop::Space),
                b'\n' => return self.finish_token(bytes, Stop::Newline),
                b'=' if allow_eq_stop => return self.finish_token(bytes, Stop::Equals),
                b'=' => return self.err("unexpected '=' (must be escaped)"),
                b'\r' if self.peek() == Some(b'\n') => {
                    self.pos += 1;
                    return self.finish_token(bytes, Stop::Newline);
                }
                _ => bytes.push(b),
            }
        }
    }

    fn finish_token(&self, bytes: Vec<u8>, stop: Stop) -> Result<(String, Stop), IlpError> {
        match String::from_utf8(bytes) {
            Ok(s) => Ok((s, stop)),
            Err(_) => self.err("invalid UTF-8"),
        }
    }

    fn line(&mut self) -> Result<IlpLine, IlpError> {
        let (table, mut stop) = self.token(false)?;
        if table.is_empty() {
            return self.err("empty table name");
        }
        if table.contains(ILLEGAL_TABLE_CHARS) || table.starts_with('.') || table.contains("..") {
            return self.err(format!("invalid table name [table={table}]"));
        }
        let mut line = IlpLine {
            line_no: self.line_no,
            table,
            columns: Vec::new(),
            timestamp_micros: None,
        };

        // Tags.
        while stop == Stop::Comma {
            let (key, s) = self.token(true)?;
            if s != Stop::Equals {
                return self.err(format!("tag '{key}' has no '=' and value"));
            }
            let (value, s) = self.token(false)?;
            if value.is_empty() {
                return self.err(format!("empty value for tag '{key}'"));
            }
            self.push_column(&mut line, key, IlpValue::Symbol(value))?;
            stop = s;
        }
        match stop {
            Stop::Newline => return self.err("line has no fields and no timestamp"),
            Stop::Space => {}
            Stop::Comma | Stop::Equals => return self.err("unexpected character after table name"),
        }

        // Fields (optional if there were tags), then the timestamp (optional).
        if self.rest_of_token_has_unescaped_eq() {
            loop {
                let (key, s) = self.token(true)?;
                if s != Stop::Equals {
                    return self.err(format!("field '{key}' has no '=' and value"));
                }
                let (value, s) = self.field_value(&key)?;
                self.push_column(&mut line, key, value)?;
                match s {
                    Stop::Comma => continue,
                    Stop::Space => break,
                    Stop::Newline => return self.finish_line(line, false),
                    Stop::Equals => return self.err("unexpected '='"),
                }
            }
        } else if line.columns.is_empty() {
            return self.err("line has no tags and no fields");
        }
        self.finish_line(line, true)
    }

    fn finish_line(&mut self, mut line: IlpLine, expect_ts: bool) -> Result<IlpLine, IlpError> {
        if expect_ts {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'\n' {
                    break;
                }
                self.pos += 1;
            }
            if self.peek() != Some(b'\n') {
                return self.err("unexpected end of input (line is not newline-terminated)");
            }
            let raw = &self.buf[start..self.pos];
            self.pos += 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let Ok(raw) = std::str::from_utf8(raw) else {
                return self.err("invalid timestamp");
            };
            if raw.is_empty() {
                return self.err("trailing space without timestamp");
            }
            let (digits, micros) = if let Some(d) = raw.strip_suffix('t') {
                (d, d.parse::<i64>().ok())
            } else if let Some(d) = raw.strip_suffix('n') {
                (d, d.parse::<i64>().ok().map(|n| n.div_euclid(1000)))
            } else {
                (
                    raw,
                    raw.parse::<i64>()
                        .ok()
                        .and_then(|v| self.precision.to_micros(v)),
                )
            };
            match micros {
                Some(m) if !digits.starts_with('+') && m >= 0 => line.timestamp_micros = Some(m),
                Some(_) => return self.err(format!("invalid timestamp: '{raw}' (must be >= 0)")),
                None => return self.err(format!("invalid timestamp: '{raw}'")),
            }
        }
        Ok(line)
    }

    /// Does the token starting at `pos` (up to an unescaped space or newline) contain an
    /// unescaped `=` (i.e. is it a field set rather than a timestamp)? Quoted strings and v2
    /// binary values only occur after an `=`, so stopping at the first `=` is enough.
    fn rest_of_token_has_unescaped_eq(&self) -> bool {
        let mut i = self.pos;
        while let Some(&b) = self.buf.get(i) {
            match b {
                b'\\' => i += 2,
                b'=' => return true,
                b' ' | b'\n' => return false,
                _ => i += 1,
            }
        }
        false
    }

    fn push_column(
        &self,
        line: &mut IlpLine,
        key: String,
        value: IlpValue,
    ) -> Result<(), IlpError> {
        if key.is_empty() {
            return self.err("empty column name");
        }
        if key.contains(ILLEGAL_COLUMN_CHARS) {
            return self.err(format!(
                "invalid column name [table={}, column={key}]",
                line.table
            ));
        }
        if line
            .columns
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            return self.err(format!(
                "duplicate column [table={}, column={key}]",
                line.table
            ));
        }
        line.columns.push((key, value));
        Ok(())
    }

    fn field_value(&mut self, key: &str) -> Result<(IlpValue, Stop), IlpError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let s = self.quoted()?;
                let stop = match self.peek() {
                    Some(b',') => Stop::Comma,
                    Some(b' ') => Stop::Space,
                    Some(b'\n') => Stop::Newline,
                    _ => {
                        return self.err(format!(
                            "unexpected character after string value of '{key}'"
                        ))
                    }
                };
                self.pos += 1;
                Ok((IlpValue::Str(s), stop))
            }
            Some(b'=') => {
                self.pos += 1;
                let Some(ty) = self.peek() else {
                    return self.err("unexpected end of input in binary value");
                };
                self.pos += 1;
                if ty != DOUBLE_BINARY_FORMAT_TYPE {
                    return self.err(format!(
                        "unsupported binary format type {ty} for column '{key}'"
                    ));
                }
                let Some(bytes) = self.buf.get(self.pos..self.pos + 8) else {
                    return self.err("unexpected end of input in binary double");
                };
                let mut arr = [0u8; 8];
                arr.copy_from_slice(bytes);
                self.pos += 8;
                let stop = match self.peek() {
                    Some(b',') => Stop::Comma,
                    Some(b' ') => Stop::Space,
                    Some(b'\n') => Stop::Newline,
                    _ => {
                        return self
                            .err(format!("unexpected character after binary double '{key}'"))
                    }
                };
                self.pos += 1;
                Ok((IlpValue::Float(f64::from_le_bytes(arr)), stop))
            }
            _ => {
                let (raw, stop) = self.token(false)?;
                if stop == Stop::Equals {
                    return self.err("unexpected '='");
                }
                Ok((self.unquoted_value(key, &raw)?, stop))
            }
        }
    }

    fn quoted(&mut self) -> Result<String, IlpError> {
        let mut bytes = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return self.err("unterminated string value");
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => match self.peek() {
                    Some(n @ (b'"' | b'\\' | b'\n' | b'\r')) => {
                        bytes.push(n);
                        self.pos += 1;
                    }
                    _ => bytes.push(b'\\'),
                },
                b'\n' => return self.err("unescaped newline in string value"),
                _ => bytes.push(b),
            }
        }
        match String::from_utf8(bytes) {
            Ok(s) => Ok(s),
            Err(_) => self.err("invalid UTF-8 in string value"),
        }
    }

    fn unquoted_value(&self, key: &str, raw: &str) -> Result<IlpValue, IlpError> {
        if raw.is_empty() {
            return self.err(format!("empty value for field '{key}'"));
        }
        match raw {
            "t" | "T" | "true" | "True" | "TRUE" => return Ok(IlpValue::Bool(true)),
            "f" | "F" | "false" | "False" | "FALSE" => return Ok(IlpValue::Bool(false)),
            _ => {}
        }
        let bad = || self.err(format!("invalid field value '{raw}' for column '{key}'"));
        if let Some(d) = raw.strip_suffix('i') {
            return match d.parse::<i64>() {
                Ok(v) if !d.starts_with('+') => Ok(IlpValue::Integer(v)),
                _ => bad(),
            };
        }
        if let Some(d) = raw.strip_suffix('t') {
            return match d.parse::<i64>() {
                Ok(v) if !d.starts_with('+') => Ok(IlpValue::TimestampMicros(v)),
                _ => bad(),
            };
        }
        if let Some(d) = raw.strip_suffix('n') {
            return match d.parse::<i64>() {
                Ok(v) if !d.starts_with('+') => Ok(IlpValue::TimestampMicros(v.div_euclid(1000))),
                _ => bad(),
            };
        }
        match raw {
            "NaN" => return Ok(IlpValue::Float(f64::NAN)),
            "Infinity" => return Ok(IlpValue::Float(f64::INFINITY)),
            "-Infinity" => return Ok(IlpValue::Float(f64::NEG_INFINITY)),
            _ => {}
        }
        // Rust's f64 parser accepts "inf", "nan", "infinity" etc.; QuestDB does not.
        let numeric = raw
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E' | b'+'));
        match raw.parse::<f64>() {
            Ok(v) if numeric && raw.bytes().any(|b| b.is_ascii_digit()) => Ok(IlpValue::Float(v)),
            _ => bad(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> IlpLine {
        let mut v = parse_request(s, Precision::Nanos).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn parses_full_line() {
        let l = one(b"tab,a=x\\ y,b=1 f=1.5,i=-3i,s=\"q\\\"u\\\\o\",bo=t,ts=12t 1000000000\n");
        assert_eq!(l.table, "tab");
        assert_eq!(
            l.columns,
            vec![
                ("a".into(), IlpValue::Symbol("x y".into())),
                ("b".into(), IlpValue::Symbol("1".into())),
                ("f".into(), IlpValue::Float(1.5)),
                ("i".into(), IlpValue::Integer(-3)),
                ("s".into(), IlpValue::Str("q\"u\\o".into())),
                ("bo".into(), IlpValue::Bool(true)),
                ("ts".into(), IlpValue::TimestampMicros(12)),
            ]
        );
        assert_eq!(l.timestamp_micros, Some(1_000_000));
    }

    #[test]
    fn binary_double_may_contain_newlines() {
        let v = f64::from_bits(0x0a0a_200a_2c0a_3d0a);
        let mut buf = b"t x==".to_vec();
        buf.push(DOUBLE_BINARY_FORMAT_TYPE);
        buf.extend_from_slice(&v.to_le_bytes());
        buf.extend_from_slice(b" 5n\n");
        let l = one(&buf);
        assert_eq!(l.columns, vec![("x".into(), IlpValue::Float(v))]);
        assert_eq!(l.timestamp_micros, Some(0));
    }

    #[test]
    fn tags_only_and_no_timestamp() {
        let l = one(b"t,a=b 1000\n");
        assert_eq!(l.timestamp_micros, Some(1));
        let l = one(b"t,a=b\\=c x=1i\n");
        assert_eq!(l.columns[0].1, IlpValue::Symbol("b=c".into()));
        assert_eq!(l.timestamp_micros, None);
    }

    #[test]
    fn quotes_are_plain_characters_in_tag_values() {
        let l = one(b"t,a=x\"y\\ z x=1i\n");
        assert_eq!(l.columns[0].1, IlpValue::Symbol("x\"y z".into()));
    }

    #[test]
    fn precision() {
        let v = parse_request(b"t x=1i 2\n", Precision::Seconds).unwrap();
        assert_eq!(v[0].timestamp_micros, Some(2_000_000));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"t x=1i"[..],
            b"t x=1i 1\nnot a line\n",
            b"t x=\"abc\n",
            b"t x=abc 1\n",
            b"t x=1i abc\n",
            b"t x=1i,x=2i 1\n",
            b",a=b x=1i\n",
            b"t,a x=1i\n",
            b"t x=1i \n",
            b"t x=inf\n",
            b"t x.y=1i\n",
            b"t\n",
        ] {
            assert!(
                parse_request(bad, Precision::Nanos).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let e = parse_request(b"t x=1i\nt y=zz\n", Precision::Nanos).unwrap_err();
        assert_eq!(e.line, 2);
    }
}
