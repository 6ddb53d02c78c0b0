//! Mapping the CP data area of a data frame (CN 2011/2051/2061/2031) to [`Sample`]s:
//! `DataTime` -> timestamp, `xxxxxx-Rtd/Min/Avg/Max/Cou` -> values, `xxxxxx-Flag` -> data flag,
//! factor code -> catalogue metric, `i…` codes -> instrument status.

use std::borrow::Cow;

use alerting::model::{DataFlag, Period, Stat, Timestamp};

use super::time::parse_data_time;
use super::Hj212Profile;
use crate::decode::{Sample, SampleValue};
use crate::reject::{Reason, Rejection};

/// The data commands that carry readings, with the period they report.
pub(crate) fn data_period(cn: u16) -> Option<Period> {
    match cn {
        2011 => Some(Period::Instant),
        2051 => Some(Period::Minute),
        2061 => Some(Period::Hour),
        2031 => Some(Period::Day),
        _ => None,
    }
}

/// What one data frame (or one reassembled split set) holds.
#[derive(Debug, Default)]
pub(crate) struct MappedData {
    pub samples: Vec<Sample>,
    pub instrument_status: Vec<(String, f64)>,
}

/// The values of one factor code in one frame.
#[derive(Debug)]
struct Factor<'a> {
    code: Cow<'a, str>,
    /// Indexed by [`stat_slot`]: Rtd (Value), Min, Avg, Max, Cou.
    values: [Option<f64>; 5],
    flag: Option<DataFlag>,
}

const STATS: [Stat; 5] = [Stat::Value, Stat::Min, Stat::Avg, Stat::Max, Stat::Cou];

fn stat_slot(suffix: &str) -> Option<usize> {
    match suffix {
        "Rtd" => Some(0),
        "Min" => Some(1),
        "Avg" => Some(2),
        "Max" => Some(3),
        "Cou" => Some(4),
        _ => None,
    }
}

/// Suffixes defined by HJ 212 that are not readings we store (converted values, extended
/// flags, sample times, serials, equipment run state): skipped without a note.
fn is_known_other_suffix(suffix: &str) -> bool {
    matches!(
        suffix,
        "ZsRtd"
            | "ZsMin"
            | "ZsAvg"
            | "ZsMax"
            | "EFlag"
            | "SampleTime"
            | "SN"
            | "Info"
            | "RS"
            | "RT"
    )
}

/// CP fields without a factor code that may appear in data frames and carry no reading.
fn is_known_plain_field(name: &str) -> bool {
    matches!(
        name,
        "RtdInterval"
            | "MinInterval"
            | "BeginTime"
            | "EndTime"
            | "SystemTime"
            | "RestartTime"
            | "PolId"
            | "InfoId"
            | "QnRtn"
            | "ExeRtn"
            | "OverTime"
            | "ReCount"
    )
}

/// Normalises a factor code: a bare 5-digit water code (`01018`, Annex C table C.14) gets its
/// missing `w`.
fn normalise_code(code: &str) -> Cow<'_, str> {
    if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
        Cow::Owned(format!("w{code}"))
    } else {
        Cow::Borrowed(code)
    }
}

/// A strict number: what Rust parses as a finite `f64` (sign, point, exponent allowed;
/// `NaN`/`inf` and empty text refused).
pub(crate) fn parse_value(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b".+-eE".contains(&b))
    {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn bad_value(detail: String) -> Rejection {
    Rejection::new(Reason::Hj212BadValue, detail)
}

fn duplicate(detail: String) -> Rejection {
    Rejection::new(Reason::DuplicateMetric, detail)
}

/// Maps the CP data area of a data frame with command `cn`. Unknown or misspelled fields are
/// skipped and described in `notes`; a non-numeric value or an unknown flag letter rejects the
/// frame (`hj212_bad_value`), a missing or unparseable `DataTime` too (`hj212_missing_datatime`),
/// and so does a factor field given twice or two factors of one metric (`duplicate_metric`).
pub(crate) fn map_data_cp(
    cp: &str,
    cn: u16,
    profile: &Hj212Profile,
    notes: &mut Vec<String>,
) -> Result<MappedData, Rejection> {
    let period = data_period(cn).unwrap_or(Period::Instant);
    let mut data_time: Option<&str> = None;
    let mut factors: Vec<Factor<'_>> = Vec::with_capacity(8);
    let mut mapped = MappedData::default();

    for field in cp.split([';', ',']) {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let Some((name, value)) = field.split_once('=') else {
            notes.push(format!("ignored CP text {field:?} (no `=`)"));
            continue;
        };
        if name == "DataTime" {
            data_time.get_or_insert(value);
            continue;
        }
        let Some((raw_code, suffix)) = name.split_once('-') else {
            if !is_known_plain_field(name) {
                notes.push(format!("ignored unknown CP field {name:?}"));
            }
            continue;
        };
        if raw_code.is_empty() || !raw_code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            notes.push(format!("ignored CP field {name:?} (not a factor code)"));
            continue;
        }
        if raw_code.starts_with('i') {
            // Instrument / site status (Table B.10): not a reading.
            if suffix == "Flag" || suffix == "EFlag" {
                continue;
            }
            match parse_value(value) {
                Some(v) => mapped.instrument_status.push((raw_code.to_owned(), v)),
                None => notes.push(format!("ignored non-numeric status field {name:?}")),
            }
            continue;
        }
        let slot = stat_slot(suffix);
        let is_flag = suffix == "Flag";
        if slot.is_none() && !is_flag {
            if !is_known_other_suffix(suffix) {
                notes.push(format!("ignored unknown CP field {name:?}"));
            }
            continue;
        }
        let code = normalise_code(raw_code);
        let index = match factors.iter().position(|f| f.code == code) {
            Some(i) => i,
            None => {
                factors.push(Factor {
                    code,
                    values: [None; 5],
                    flag: None,
                });
                factors.len() - 1
            }
        };
        let Some(factor) = factors.get_mut(index) else {
            continue;
        };
        if let Some(slot) = slot {
            let v = parse_value(value).ok_or_else(|| {
                bad_value(format!("field {name:?} has value {value:?}, not a number"))
            })?;
            if let Some(cell) = factor.values.get_mut(slot) {
                if cell.is_some() {
                    return Err(duplicate(format!(
                        "field {name:?} appears more than once (factor {})",
                        factor.code
                    )));
                }
                *cell = Some(v);
            }
        } else {
            if factor.flag.is_some() {
                return Err(duplicate(format!(
                    "field {name:?} appears more than once (factor {})",
                    factor.code
                )));
            }
            let mut chars = value.trim().chars();
            let flag = match (chars.next(), chars.next()) {
                (Some(c), None) => DataFlag::from_char(c),
                _ => None,
            };
            factor.flag = Some(flag.ok_or_else(|| {
                bad_value(format!("field {name:?} has unknown data flag {value:?}"))
            })?);
        }
    }

    let data_time = data_time.ok_or_else(|| {
        Rejection::new(
            Reason::Hj212MissingDataTime,
            format!("CN {cn} data frame without DataTime"),
        )
    })?;
    let ts: Timestamp =
        parse_data_time(data_time.trim(), profile.utc_offset_secs).ok_or_else(|| {
            Rejection::new(
                Reason::Hj212MissingDataTime,
                format!("CN {cn} DataTime {data_time:?} is not YYYYMMDDhhmmss[zzz]"),
            )
        })?;

    let wanted: &[usize] = if period == Period::Instant {
        &[0]
    } else {
        &[1, 2, 3, 4]
    };
    for (slot, stat) in STATS.iter().enumerate() {
        let values: Vec<SampleValue> = factors
            .iter()
            .filter_map(|f| {
                let v = f.values.get(slot).copied().flatten()?;
                Some(SampleValue {
                    metric: profile.resolve(&f.code),
                    value: v,
                    flag: f.flag.unwrap_or_default(),
                })
            })
            .collect();
        if values.is_empty() {
            continue;
        }
        // Two factor codes the profile maps to one metric: which value is meant is unknown.
        for (i, v) in values.iter().enumerate() {
            if values.iter().skip(i + 1).any(|w| w.metric == v.metric) {
                return Err(duplicate(format!(
                    "two factors of the frame map to the metric {:?}",
                    v.metric.name()
                )));
            }
        }
        if !wanted.contains(&slot) {
            notes.push(format!(
                "ignored {} -{} values in CN {cn}",
                values.len(),
                ["Rtd", "Min", "Avg", "Max", "Cou"]
                    .get(slot)
                    .copied()
                    .unwrap_or("?")
            ));
            continue;
        }
        mapped.samples.push(Sample {
            ts,
            seq: None,
            cycle_id: None,
            period,
            stat: *stat,
            values,
        });
    }
    Ok(mapped)
}
