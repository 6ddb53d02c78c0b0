//! Risk levels (风险分级): the four-level Chinese warning convention, I (red) the most severe.
//!
//! docs/alert-rules.md, "Risk levels"; colours after 《突发事件应对法》 (2007) Art. 42.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The level of an alert. `I` is the most severe; the ordering follows severity, so
/// `Level::I > Level::IV` and `max()` picks the more severe of two levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 一级 特别严重, red: immediate public-health risk.
    I = 1,
    /// 二级 严重, orange: a legal limit is breached.
    II = 2,
    /// 三级 较重, yellow: a limit is at risk or a control is missing.
    III = 3,
    /// 四级 一般, blue: equipment or data problem, early warning.
    IV = 4,
}

impl Level {
    /// All levels, most severe first.
    pub const ALL: [Level; 4] = [Self::I, Self::II, Self::III, Self::IV];

    /// The level number, 1 (most severe) .. 4.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Roman numeral as written in the pack and in events: `I`, `II`, `III`, `IV`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::I => "I",
            Self::II => "II",
            Self::III => "III",
            Self::IV => "IV",
        }
    }

    /// Warning colour in English: red, orange, yellow, blue.
    pub const fn colour(self) -> &'static str {
        match self {
            Self::I => "red",
            Self::II => "orange",
            Self::III => "yellow",
            Self::IV => "blue",
        }
    }

    /// Warning colour in Chinese: 红色, 橙色, 黄色, 蓝色.
    pub const fn colour_zh(self) -> &'static str {
        match self {
            Self::I => "红色",
            Self::II => "橙色",
            Self::III => "黄色",
            Self::IV => "蓝色",
        }
    }

    /// Level label in Chinese: 一级 .. 四级.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Self::I => "一级",
            Self::II => "二级",
            Self::III => "三级",
            Self::IV => "四级",
        }
    }

    /// Severity name in Chinese: 特别严重, 严重, 较重, 一般.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::I => "特别严重",
            Self::II => "严重",
            Self::III => "较重",
            Self::IV => "一般",
        }
    }

    /// Severity name in English.
    pub const fn name_en(self) -> &'static str {
        match self {
            Self::I => "critical",
            Self::II => "severe",
            Self::III => "serious",
            Self::IV => "general",
        }
    }

    /// Parses `I`, `II`, `III` or `IV`.
    pub fn parse(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl Ord for Level {
    /// By severity: `I` is the greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.number().cmp(&self.number())
    }
}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_one_is_the_most_severe_and_max_picks_it() {
        assert!(Level::I > Level::II && Level::II > Level::III && Level::III > Level::IV);
        assert_eq!(Level::IV.max(Level::I), Level::I);
        assert_eq!(Level::I.number(), 1);
    }

    #[test]
    fn levels_carry_the_chinese_colour_convention() {
        assert_eq!((Level::I.colour(), Level::I.name_zh()), ("red", "特别严重"));
        assert_eq!(
            (Level::II.colour(), Level::II.name_zh()),
            ("orange", "严重")
        );
        assert_eq!(
            (Level::III.colour(), Level::III.name_zh()),
            ("yellow", "较重")
        );
        assert_eq!((Level::IV.colour(), Level::IV.name_zh()), ("blue", "一般"));
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
    }

    #[test]
    fn levels_serialize_as_roman_numerals() {
        assert_eq!(serde_json::to_string(&Level::III).unwrap(), "\"III\"");
    }
}
