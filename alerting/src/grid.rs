//! The supervision grid as delivery sees it: tiers (社区 -> 街道 -> 区 -> 市) and cells.
//!
//! A [`Cell`] is a node of the grid: the city (no district), a district, a street of a district
//! or a community of a street. A supervisor owns one cell and is responsible for, and sees,
//! every site in its subtree (定格、定员、定责).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::GridPath;

/// A tier of the supervision grid, ordered from the bottom (community) to the top (city).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 社区: the cell a site belongs to, where an alert is first routed.
    Community,
    /// 街道.
    Street,
    /// 区.
    District,
    /// 市: the top; sees every site.
    City,
}

impl Tier {
    /// All tiers, bottom first.
    pub const ALL: [Tier; 4] = [Self::Community, Self::Street, Self::District, Self::City];

    /// The next tier up, `None` at the city.
    pub const fn up(self) -> Option<Tier> {
        match self {
            Self::Community => Some(Self::Street),
            Self::Street => Some(Self::District),
            Self::District => Some(Self::City),
            Self::City => None,
        }
    }

    /// snake_case name, as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Community => "community",
            Self::Street => "street",
            Self::District => "district",
            Self::City => "city",
        }
    }

    /// Chinese name: 社区, 街道, 区, 市.
    pub const fn zh(self) -> &'static str {
        match self {
            Self::Community => "社区",
            Self::Street => "街道",
            Self::District => "区",
            Self::City => "市",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node of the grid. Invariant (checked by the config loader): `community` implies
/// `street`, `street` implies `district`. No district at all is the city.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Cell {
    pub district: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
}

impl Cell {
    /// The city cell (the root).
    pub const fn city() -> Cell {
        Cell {
            district: None,
            street: None,
            community: None,
        }
    }

    /// The tier of this cell, from the deepest field present.
    pub fn tier(&self) -> Tier {
        match (&self.district, &self.street, &self.community) {
            (None, _, _) => Tier::City,
            (Some(_), None, _) => Tier::District,
            (Some(_), Some(_), None) => Tier::Street,
            (Some(_), Some(_), Some(_)) => Tier::Community,
        }
    }

    /// The cell at `tier` that contains a site at `grid`.
    pub fn of(grid: &GridPath, tier: Tier) -> Cell {
        let d = Some(grid.district.clone());
        let s = Some(grid.street.clone());
        let c = Some(grid.community.clone());
        match tier {
            Tier::City => Cell::city(),
            Tier::District => Cell {
                district: d,
                ..Cell::city()
            },
            Tier::Street => Cell {
                district: d,
                street: s,
                community: None,
            },
            Tier::Community => Cell {
                district: d,
                street: s,
                community: c,
            },
        }
    }

    /// Whether a site at `grid` lies in this cell's subtree.
    pub fn contains(&self, grid: &GridPath) -> bool {
        let ok = |f: &Option<String>, v: &str| f.as_deref().is_none_or(|f| f == v);
        ok(&self.district, &grid.district)
            && ok(&self.street, &grid.street)
            && ok(&self.community, &grid.community)
    }
}

impl fmt::Display for Cell {
    /// `市`, `示范区`, `示范区/东城街道`, `示范区/东城街道/水厂社区`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [&self.district, &self.street, &self.community]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        if parts.is_empty() {
            f.write_str("市")
        } else {
            f.write_str(&parts.join("/"))
        }
    }
}
