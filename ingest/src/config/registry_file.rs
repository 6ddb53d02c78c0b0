//! Registry files for large fleets: `[registry] sites_file` and `devices_file`, in JSON Lines
//! (one JSON object per line, the same keys as a TOML `[[sites]]` / `[[devices]]` table).
//!
//! A 100,000-device registry in TOML is ~30 MB of text parsed into a document tree that costs
//! ~900 MiB at its peak (BENCHMARKS.md); these files are read line by line instead, so loading
//! holds one row at a time. Each row is turned into the same raw structures as a TOML table
//! and checked by the same validation code; its errors name the file and the line.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize;
use toml::Spanned;

use super::raw::{RawDental, RawDevice, RawGrid, RawHj212, RawSite, RawWasteStore, RawWater};

/// One `sites_file` line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteRow {
    id: String,
    name: String,
    kind: String,
    grid: RawGrid,
    #[serde(default)]
    water: Option<WaterRow>,
    #[serde(default)]
    waste_store: Option<RawWasteStore>,
    #[serde(default)]
    dental: Option<DentalRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaterRow {
    point: String,
    disinfectant: String,
    #[serde(default)]
    small_supply: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DentalRow {
    sterilizer: String,
    #[serde(default = "default_bi_interval_days")]
    bi_interval_days: u32,
}

/// One `devices_file` line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceRow {
    id: String,
    site: String,
    kind: String,
    expected_interval_secs: u32,
    #[serde(default)]
    hj212: Option<Hj212Row>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hj212Row {
    mn: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default = "default_utc_offset")]
    utc_offset: String,
    #[serde(default)]
    codes: BTreeMap<String, String>,
    #[serde(default)]
    allowed_sources: Vec<String>,
}

fn default_bi_interval_days() -> u32 {
    7
}
fn default_utc_offset() -> String {
    "+08:00".into()
}

/// A value without a position: errors about it are placed by the row's line instead.
fn at<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

impl From<SiteRow> for RawSite {
    fn from(r: SiteRow) -> RawSite {
        RawSite {
            id: at(r.id),
            name: r.name,
            kind: at(r.kind),
            grid: r.grid,
            water: r.water.map(|w| {
                at(RawWater {
                    point: at(w.point),
                    disinfectant: at(w.disinfectant),
                    small_supply: w.small_supply,
                })
            }),
            waste_store: r.waste_store.map(at),
            dental: r.dental.map(|d| {
                at(RawDental {
                    sterilizer: at(d.sterilizer),
                    bi_interval_days: d.bi_interval_days,
                })
            }),
        }
    }
}

impl From<DeviceRow> for RawDevice {
    fn from(r: DeviceRow) -> RawDevice {
        RawDevice {
            id: at(r.id),
            site: at(r.site),
            kind: at(r.kind),
            expected_interval_secs: at(r.expected_interval_secs),
            hj212: r.hj212.map(|h| {
                at(RawHj212 {
                    mn: at(h.mn),
                    password: h.password,
                    password_env: h.password_env.map(at),
                    utc_offset: at(h.utc_offset),
                    codes: h.codes.into_iter().map(|(k, v)| (k, at(v))).collect(),
                    allowed_sources: h.allowed_sources.into_iter().map(at).collect(),
                })
            }),
        }
    }
}

/// Why a line did not become a row.
#[derive(Debug)]
pub(super) enum LineError {
    /// Not a JSON object of the expected shape: serde_json's message and the column.
    Parse { message: String, column: usize },
    /// Reading the file failed (the rest of the file is not read).
    Io(std::io::Error),
}

/// Calls `row(line_number, parsed)` for every non-empty line of `reader` that is not a `#`
/// comment, in order, reusing one line buffer. Stops at the first I/O error (reported as the
/// last row) but continues past lines that do not parse, so every bad line is reported.
pub(super) fn for_each_row<T, R, F>(reader: R, mut row: F)
where
    T: for<'de> Deserialize<'de>,
    R: BufRead,
    F: FnMut(usize, Result<T, LineError>),
{
    let mut reader = reader;
    let mut buf = String::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        match reader.read_line(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                row(line + 1, Err(LineError::Io(error)));
                return;
            }
        }
        line += 1;
        let text = buf.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        row(
            line,
            serde_json::from_str::<T>(text).map_err(|error| LineError::Parse {
                column: error.column(),
                message: strip_position(&error.to_string()),
            }),
        );
    }
}

/// serde_json ends its messages with " at line L column C"; the line is always 1 here.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_line_by_line_skipping_blanks_and_comments() {
        let text = "# sites\n\n{\"id\":\"d1\",\"site\":\"s1\",\"kind\":\"water_monitor\",\"expected_interval_secs\":60}\n{\"id\":\"d2\",\"sit\":\"s1\"}\n{\"id\":\"d3\",\"site\":\"s1\",\"kind\":\"autoclave\",\"expected_interval_secs\":5,\"hj212\":{\"mn\":\"X\",\"codes\":{\"a\":\"ph\"}}}";
        let mut seen = Vec::new();
        for_each_row::<DeviceRow, _, _>(text.as_bytes(), |line, row| {
            seen.push((line, row.map(RawDevice::from)));
        });
        assert_eq!(seen.len(), 3);
        let (line, first) = &seen[0];
        assert_eq!(*line, 3);
        let first = first.as_ref().unwrap();
        assert_eq!(first.id.get_ref(), "d1");
        assert_eq!(*first.expected_interval_secs.get_ref(), 60);
        match &seen[1] {
            (4, Err(LineError::Parse { message, column })) => {
                assert!(message.contains("unknown field `sit`"), "{message}");
                assert!(!message.contains("at line"), "{message}");
                assert!(*column > 0);
            }
            other => panic!("{other:?}"),
        }
        let third = seen[2].1.as_ref().unwrap();
        let hj = third.hj212.as_ref().unwrap().get_ref();
        assert_eq!(hj.utc_offset.get_ref(), "+08:00");
        assert_eq!(hj.codes.get("a").unwrap().get_ref(), "ph");
    }
}
