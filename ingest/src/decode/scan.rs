//! A hand-written scanner for the usual telemetry payload: an object, or an array of objects,
//! of `ts`, `seq`, `values` and `cycle_id` with plain strings and plain numbers. It gives the
//! samples serde's one-pass decoding gives, in a third of the time (arrays of 100 readings
//! spent a quarter of weijian's CPU in serde_json), and gives up (`None`) on anything else:
//! an escape in a string, an exponent or more than 15 digits in a number, an unknown or
//! repeated field, a repeated metric, anything malformed. What it gives up on goes to
//! [`super::json`]'s serde paths, which decode it or say precisely why not. The objects of an
//! array usually name the same metrics in the same order: each name is first compared with
//! the one at its place in the last object, and looked up only when it differs.
//!
//! Numbers are computed as serde_json computes them (an integer as `i64`/`u64` then `f64`; a
//! decimal as its digits divided by a power of ten, then negated), which for at most 15
//! digits is the correctly rounded value: the same bits either way
//! (`scan::tests::gives_what_serde_gives`).

use alerting::model::{DataFlag, Metric, Period, Stat, Timestamp};

use super::rfc3339::parse_rfc3339;
use super::{MetricRef, Sample, SampleValue};

/// Decimal digits a number may have here: below 2^53, so its digits are exact in an `f64`.
const MAX_DIGITS: usize = 15;

/// Powers of ten exact in an `f64` (as serde_json's table), for up to [`MAX_DIGITS`] decimals.
const POW10: [f64; MAX_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The samples of a telemetry payload whose every object is good and plain, or `None`.
pub(super) fn telemetry(text: &str, max_objects: usize) -> Option<Vec<Sample>> {
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
        layout: Vec::new(),
    };
    s.space();
    let samples = if s.eat(b'[') {
        let mut samples = Vec::with_capacity(text.len() / 160 + 1);
        loop {
            s.space();
            samples.push(s.object()?);
            s.space();
            if s.eat(b']') {
                break;
            }
            if !s.eat(b',') {
                return None;
            }
        }
        if samples.len() > max_objects {
            return None;
        }
        samples
    } else {
        vec![s.object()?]
    };
    s.space();
    (s.at == s.bytes.len()).then_some(samples)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// The metrics of the last `values` read, in their order: the objects of an array
    /// usually name the same metrics in the same order, so the next object's names are
    /// first compared with these.
    layout: Vec<Metric>,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.at += 1;
        }
        found
    }

    /// JSON whitespace.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat_word(&mut self, word: &[u8]) -> bool {
        let found = self.bytes.get(self.at..self.at + word.len()) == Some(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// One telemetry object.
    fn object(&mut self) -> Option<Sample> {
        if !self.eat(b'{') {
            return None;
        }
        let (mut ts, mut seq, mut values, mut cycle_id) = (None, None, None, None);
        loop {
            let key = self.key()?;
            // A repeated field is an error for serde: leave it to that path.
            match key {
                "ts" if ts.is_none() => ts = Some(self.ts()?),
                "seq" if seq.is_none() => seq = Some(self.seq()?),
                "values" if values.is_none() => values = Some(self.values()?),
                "cycle_id" if cycle_id.is_none() => cycle_id = Some(self.cycle_id()?),
                _ => return None,
            }
            if self.end_of_object()? {
                break;
            }
        }
        Some(Sample {
            ts: ts?,
            seq: seq.flatten(),
            cycle_id: cycle_id.flatten(),
            period: Period::Instant,
            stat: Stat::Value,
            values: values?,
        })
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        // The closing quote (found a word at a time), then no escape or control character
        // before it (give up on those).
        let len = memchr::memchr(b'"', self.bytes.get(start..)?)?;
        let body = self.bytes.get(start..start + len)?;
        if body.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so they are character boundaries.
        self.text.get(start..start + len)
    }

    fn null(&mut self) -> bool {
        self.eat_word(b"null")
    }

    /// `ts`: RFC 3339 with an offset, or integer epoch milliseconds.
    fn ts(&mut self) -> Option<Timestamp> {
        if self.peek() == Some(b'"') {
            return parse_rfc3339(self.string()?);
        }
        match self.number()? {
            Number::Int(v) => Some(Timestamp::from_millis(v)),
            Number::Decimal(_) => None,
        }
    }

    /// `seq`: an unsigned integer or null.
    fn seq(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        match self.number()? {
            Number::Int(v) => u64::try_from(v).ok().map(Some),
            Number::Decimal(_) => None,
        }
    }

    /// `cycle_id`: a string or null.
    fn cycle_id(&mut self) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(|s| Some(s.to_owned()))
    }

    /// `values`: a non-empty object of distinct metric names -> number or boolean.
    fn values(&mut self) -> Option<Vec<SampleValue>> {
        if !self.eat(b'{') {
            return None;
        }
        let mut out: Vec<SampleValue> = Vec::with_capacity(self.layout.len().max(8));
        // While the names follow the last object's, they are those metrics, all different.
        let mut as_before = true;
        loop {
            let known = match self.layout.get(out.len()).copied() {
                Some(m) if as_before && self.eat_name(m.name()) => Some(m),
                _ => None,
            };
            as_before = known.is_some();
            let metric = match known {
                Some(m) => MetricRef::Known(m),
                None => new_metric(&out, self.key()?)?,
            };
            let value = if self.eat_word(b"true") {
                1.0
            } else if self.eat_word(b"false") {
                0.0
            } else {
                match self.number()? {
                    Number::Int(v) => v as f64,
                    Number::Decimal(v) => v,
                }
            };
            out.push(SampleValue {
                metric,
                value,
                flag: DataFlag::N,
            });
            if self.end_of_object()? {
                if !as_before || out.len() != self.layout.len() {
                    self.layout = out
                        .iter()
                        .map_while(|v| match v.metric {
                            MetricRef::Known(m) => Some(m),
                            MetricRef::Unknown(_) => None,
                        })
                        .collect();
                }
                return Some(out);
            }
        }
    }

    /// `"name":` (with the whitespace around as [`Scanner::key`] takes it), if that is what
    /// comes; otherwise nothing is consumed.
    fn eat_name(&mut self, name: &str) -> bool {
        let start = self.at;
        self.space();
        let name = name.as_bytes();
        let at = self.at;
        let found = self.bytes.get(at) == Some(&b'"')
            && self.bytes.get(at + 1..at + 1 + name.len()) == Some(name)
            && self.bytes.get(at + 1 + name.len()) == Some(&b'"');
        if !found {
            self.at = start;
            return false;
        }
        self.at = at + name.len() + 2;
        if !self.colon() {
            self.at = start;
            return false;
        }
        true
    }

    /// A member's name and the colon after it, with the whitespace around.
    fn key(&mut self) -> Option<&'a str> {
        self.space();
        let key = self.string()?;
        self.colon().then_some(key)
    }

    /// The colon after a member's name, with the whitespace around it.
    fn colon(&mut self) -> bool {
        self.space();
        let found = self.eat(b':');
        self.space();
        found
    }

    /// After a member: `}` ends the object (`true`), `,` announces another (`false`).
    fn end_of_object(&mut self) -> Option<bool> {
        self.space();
        if self.eat(b'}') {
            return Some(true);
        }
        self.eat(b',').then_some(false)
    }

    /// A JSON number of at most [`MAX_DIGITS`] digits and no exponent.
    fn number(&mut self) -> Option<Number> {
        let negative = self.eat(b'-');
        let first = self.at;
        // One pass over the digits and at most one dot; the significand wraps on more than
        // 18 digits, but then there are more than MAX_DIGITS and it is not used.
        let (mut at, mut significand, mut dot) = (first, 0i64, None);
        while let Some(&b) = self.bytes.get(at) {
            if b.is_ascii_digit() {
                significand = significand
                    .wrapping_mul(10)
                    .wrapping_add(i64::from(b - b'0'));
            } else if b == b'.' && dot.is_none() {
                dot = Some(at);
            } else {
                break;
            }
            at += 1;
        }
        self.at = at;
        let int_digits = dot.unwrap_or(at) - first;
        let decimals = dot.map(|d| at - d - 1);
        let digits = int_digits + decimals.unwrap_or(0);
        // JSON: an integer part of one digit at least, no leading zero, decimals after a dot.
        let leading_zero = self.bytes.get(first) == Some(&b'0') && int_digits > 1;
        if int_digits == 0
            || leading_zero
            || decimals == Some(0)
            || digits > MAX_DIGITS
            || matches!(self.peek(), Some(b'e' | b'E'))
        {
            return None;
        }
        Some(match decimals {
            // serde_json reads `-0` as the float -0.0, not as an integer.
            None if negative && significand == 0 => Number::Decimal(-0.0),
            None => Number::Int(if negative { -significand } else { significand }),
            Some(d) => {
                // serde_json: the digits as an f64, divided by 10^decimals, then the sign.
                let v = significand as f64 / POW10[d];
                Number::Decimal(if negative { -v } else { v })
            }
        })
    }
}

/// The metric `name` names, or `None` if `out` has it already (a repeat is serde's to judge).
fn new_metric(out: &[SampleValue], name: &str) -> Option<MetricRef> {
    match Metric::from_name(name) {
        // A known name is one metric: comparing metrics finds a repeat without comparing
        // strings.
        Some(m) if out.iter().any(|v| v.metric == MetricRef::Known(m)) => None,
        Some(m) => Some(MetricRef::Known(m)),
        None if out.iter().any(|v| v.metric.name() == name) => None,
        None => Some(MetricRef::Unknown(name.to_owned())),
    }
}

enum Number {
    Int(i64),
    Decimal(f64),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::json::telemetry_in_one_pass;
    use super::*;

    #[test]
    fn scans_the_usual_payloads() {
        let payloads = [
            r#"{"ts":"2026-11-22T08:00:00.250+08:00","seq":1042,"values":{"turbidity_ntu":0.31,"free_chlorine_mg_l":0.52,"ph":7.21}}"#,
            r#"[{"ts":1,"seq":3,"values":{"ph":7.1,"turbidity_ntu":0.2}},{"ts":"2026-11-22T08:00:00+08:00","values":{"colour":3},"cycle_id":"c9"}]"#,
            " [ { \"values\" : { \"door_open\" : true , \"temperature_c\" : -0.0 } ,\n\t\"ts\" : 5 , \"seq\" : null } ] \r\n",
            r#"{"ts":-1,"values":{"ph":-7,"x":0,"y":0.00000000000001,"z":999999999999999},"cycle_id":null}"#,
        ];
        for text in payloads {
            let scanned = telemetry(text, 10);
            assert!(scanned.is_some(), "{text}");
            assert_eq!(scanned, telemetry_in_one_pass(text, 10), "{text}");
        }
    }

    #[test]
    fn gives_up_on_what_serde_must_judge() {
        let payloads = [
            r#"{"ts":1,"values":{"ph":1e2}}"#,
            r#"{"ts":1,"values":{"ph":1234567890123456}}"#,
            r#"{"ts":1,"values":{"p\u0068":7}}"#,
            r#"{"ts":1,"values":{"ph":7,"ph":7}}"#,
            r#"{"ts":1,"values":{}}"#,
            r#"{"ts":1,"values":{"ph":07}}"#,
            r#"{"ts":1,"values":{"ph":7.}}"#,
            r#"{"ts":1,"values":{"ph":.5}}"#,
            r#"{"ts":1,"ts":2,"values":{"ph":7}}"#,
            r#"{"ts":1,"device":"d1","values":{"ph":7}}"#,
            r#"{"values":{"ph":7}}"#,
            r#"{"ts":1,"seq":-1,"values":{"ph":7}}"#,
            r#"{"ts":1.5,"values":{"ph":7}}"#,
            r#"[]"#,
            r#"[{"ts":1,"values":{"ph":7}},]"#,
            r#"[{"ts":1,"values":{"ph":7}},{"ts":2,"values":{"ph":7}},{"ts":3,"values":{"ph":7}}]"#,
            r#"{"ts":1,"values":{"ph":7}} x"#,
            r#"{"ts":1,"values":{"ph":null}}"#,
        ];
        for text in payloads {
            assert_eq!(telemetry(text, 2), None, "{text}");
        }
    }

    #[test]
    fn objects_naming_the_last_objects_metrics_are_read_as_serde_reads_them() {
        let same = |values: &[&str]| {
            let objects: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!(r#"{{"ts":{i},"values":{{{v}}}}}"#))
                .collect();
            format!("[{}]", objects.join(","))
        };
        let accepted = [
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#""ph":7.5,"turbidity_ntu":2"#,
            ]),
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#" "ph" : 7 ,"turbidity_ntu" :1 "#,
            ]),
            same(&[r#""ph":7,"turbidity_ntu":1"#, r#""turbidity_ntu":1,"ph":7"#]),
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#""ph":7"#,
                r#""ph":7,"turbidity_ntu":1"#,
            ]),
            same(&[
                r#""ph":7"#,
                r#""ph":7,"turbidity_ntu":1,"x":2"#,
                r#""ph":1,"x":2"#,
            ]),
            same(&[r#""ph":7"#, r#""phx":7"#, r#""ph":7"#]),
        ];
        for text in &accepted {
            let scanned = telemetry(text, 10);
            assert!(scanned.is_some(), "{text}");
            assert_eq!(scanned, telemetry_in_one_pass(text, 10), "{text}");
        }
        // A metric named twice is still caught after a run of names as before.
        let refused = [
            same(&[r#""ph":7,"turbidity_ntu":1"#, r#""ph":7,"ph":8"#]),
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#""ph":7,"turbidity_ntu":1,"ph":8"#,
            ]),
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#""ph":7"#,
                r#""ph":7,"turbidity_ntu":1,"ph":8"#,
            ]),
            same(&[
                r#""ph":7,"turbidity_ntu":1"#,
                r#""ph":7,"turbidity_ntu":1,"turbidity_ntu":8"#,
            ]),
            same(&[r#""ph":7"#, r#""ph":7,"x":1,"x":2"#]),
        ];
        for text in &refused {
            assert_eq!(telemetry(text, 10), None, "{text}");
        }
    }

    /// One JSON fragment of a telemetry object, good or bad.
    fn number_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i32>().prop_map(|v| v.to_string()),
            (-99_999_999i64..99_999_999, 0u32..9).prop_map(|(v, d)| {
                let s = format!("{:0width$}", v.unsigned_abs(), width = d as usize + 1);
                let (int, frac) = s.split_at(s.len() - d as usize);
                let sign = if v < 0 { "-" } else { "" };
                if d == 0 {
                    format!("{sign}{int}")
                } else {
                    format!("{sign}{int}.{frac}")
                }
            }),
            "-?[0-9]{1,18}(\\.[0-9]{0,18})?([eE][+-]?[0-9]{1,3})?",
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
            Just("\"7\"".to_owned()),
        ]
    }

    fn object_text() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("ph"),
            Just("turbidity_ntu"),
            Just("door_open"),
            Just("colour"),
            Just("p\\u0068"),
            Just("温度"),
        ];
        let values = proptest::collection::vec((name, number_text()), 0..4).prop_map(|vs| {
            let inner: Vec<String> = vs.iter().map(|(n, v)| format!("\"{n}\": {v}")).collect();
            format!("{{{}}}", inner.join(","))
        });
        let ts = prop_oneof![
            Just("\"2026-11-22T08:00:00.250+08:00\"".to_owned()),
            Just("\"2026-11-22 08:00:00\"".to_owned()),
            number_text(),
        ];
        let fields = (
            proptest::option::of(ts),
            proptest::option::of(number_text()),
            proptest::option::of(values),
            proptest::option::of(prop_oneof![
                Just("\"c1\"".to_owned()),
                Just("null".to_owned())
            ]),
            any::<bool>(),
        );
        fields.prop_map(|(ts, seq, values, cycle, spaced)| {
            let sep = if spaced { " ,\n " } else { "," };
            let parts: Vec<String> = [
                ("ts", ts),
                ("seq", seq),
                ("values", values),
                ("cycle_id", cycle),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| format!("\"{k}\":{v}")))
            .collect();
            format!("{{{}}}", parts.join(sep))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever the scanner accepts, serde's one-pass decoding gives bit for bit; and a
        /// payload serde decodes with plain numbers is one the scanner accepts too.
        #[test]
        fn gives_what_serde_gives(objects in proptest::collection::vec(object_text(), 1..4), array in any::<bool>()) {
            let text = if array || objects.len() > 1 {
                format!("[{}]", objects.join(","))
            } else {
                objects[0].clone()
            };
            let scanned = telemetry(&text, 3);
            let serde = telemetry_in_one_pass(&text, 3);
            if let Some(samples) = &scanned {
                let serde = serde.as_ref().expect("serde decodes what the scanner accepts");
                prop_assert_eq!(samples.len(), serde.len());
                for (a, b) in samples.iter().zip(serde) {
                    prop_assert_eq!(a.ts, b.ts);
                    prop_assert_eq!(a.seq, b.seq);
                    prop_assert_eq!(&a.cycle_id, &b.cycle_id);
                    let bits = |s: &Sample| s.values.iter().map(|v| (v.metric.clone(), v.value.to_bits())).collect::<Vec<_>>();
                    prop_assert_eq!(bits(a), bits(b));
                }
            } else if serde.is_some() && !text.contains(['e', 'E', '\\']) {
                // Long numbers are the only other thing the scanner leaves to serde.
                let long = text
                    .split(|c: char| !c.is_ascii_digit() && c != '.')
                    .any(|number| number.chars().filter(char::is_ascii_digit).count() > MAX_DIGITS);
                prop_assert!(long, "the scanner gave up on {}", text);
            }
        }
    }
}
