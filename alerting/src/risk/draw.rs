//! The risk-weighted 双随机 draw: which sites to inspect and who inspects them, chosen by a
//! seeded generator so that anyone holding the published inputs and seed gets the same result.
//!
//! # The algorithm (`weijian-draw-v1`), exactly
//!
//! 1. **Eligible sites**: the sites of [`DrawInput::sites`] inside `scope` (a grid cell and its
//!    subtree) and of `kind` if given, whose grade has a weight above 0, minus those with an
//!    inspection less than `exclude_days` days before `date` (`date - day < exclude_days`),
//!    sorted by site id (byte order).
//! 2. **Generator**: SplitMix64 (Steele, Lea and Flood, 2014) seeded with `seed`:
//!    `state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//!    z = (z ^ (z >> 27)) * 0x94D049BB133111EB; output z ^ (z >> 31)` (wrapping arithmetic).
//!    A uniform integer below `n` rejects outputs below `(2^64 - n) mod n` and takes the
//!    first accepted output modulo `n` (no bias).
//! 3. **Sites**, `n` times (or until none is left): with `W` the sum of the remaining eligible
//!    sites' weights, draw `r` uniform below `W` and take the site where the running sum of
//!    weights, in site-id order, first exceeds `r`; remove it. (The first pick is proportional
//!    to the weights; later picks are the same among those left.)
//! 4. **Inspectors**, for each picked site in pick order, `inspectors_per_site` times: the
//!    candidates are the inspectors (sorted, byte order) not already sent to this site and not
//!    among those of the site's latest inspection (回避); among them those with the fewest
//!    assignments so far in this draw; draw one uniformly (uniform below their count).
//!
//! Nothing else is random, and nothing depends on the order of the inputs, on a crate's
//! version or on the platform: the arithmetic is integer.

use serde::{Deserialize, Serialize};

use super::params::GradeWeights;
use super::{cst_date, Grade};
use crate::grid::Cell;
use crate::model::{GridPath, SiteKind};

/// The name of the algorithm above; a result records it.
pub const ALGORITHM: &str = "weijian-draw-v1 (SplitMix64)";

/// SplitMix64, the documented generator of the draw.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` without bias; `n` must be above 0 (0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= threshold {
                return x % n;
            }
        }
    }
}

/// A site as the draw sees it: where it is, what it is, its grade as of the draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawSite {
    pub site: String,
    pub kind: SiteKind,
    pub grid: GridPath,
    pub grade: Grade,
}

/// A past inspection of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastInspection {
    pub site: String,
    /// The day (`YYYY-MM-DD`, China Standard Time).
    pub date: String,
    pub inspectors: Vec<String>,
}

/// Everything a draw depends on; published with its result so anyone can re-run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawInput {
    /// The day of the draw (`YYYY-MM-DD`, China Standard Time).
    pub date: String,
    /// The day the sites' grades are of (informational; the service uses the day before
    /// `date`, the last complete day).
    #[serde(default)]
    pub grades_as_of: Option<String>,
    pub scope: Cell,
    pub kind: Option<SiteKind>,
    /// Sites to draw.
    pub n: u32,
    pub exclude_days: u32,
    pub inspectors_per_site: u32,
    pub weights: GradeWeights,
    pub seed: u64,
    pub inspectors: Vec<String>,
    /// Every site that could be in scope, with its grade.
    pub sites: Vec<DrawSite>,
    pub inspections: Vec<PastInspection>,
}

/// One drawn site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    /// 1-based order of the pick.
    pub order: u32,
    pub site: String,
    pub grade: Grade,
    pub weight: u32,
    /// The sum of the weights it was drawn from (its chance was `weight / of_weight`).
    pub of_weight: u64,
    pub inspectors: Vec<String>,
}

/// A site in scope that could not be drawn, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    pub site: String,
    /// `inspected <date>` or `weight 0`.
    pub reason: String,
}

/// The result of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawResult {
    pub algorithm: String,
    /// Sites in scope, eligible (after exclusions), and drawn.
    pub in_scope: u32,
    pub eligible: u32,
    pub picks: Vec<Pick>,
    pub excluded: Vec<Excluded>,
    /// `n` minus the sites drawn (fewer eligible sites than asked for).
    pub shortfall: u32,
}

/// Why a draw cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("the draw needs n of at least 1 site")]
    NoSites,
    #[error("the inspector list is empty")]
    NoInspectors,
    #[error("inspector {0:?} is listed twice")]
    DuplicateInspector(String),
    #[error("the date {0:?} is not a YYYY-MM-DD date")]
    BadDate(String),
    #[error("inspectors_per_site must be at least 1")]
    NoInspectorsPerSite,
    #[error("{needed} inspectors are sent to each site but only {listed} are listed")]
    TooFewInspectors { needed: u32, listed: u32 },
    #[error(
        "site {site}: {needed} inspector(s) needed but only {available} are available once those of its last inspection ({recused}) stand aside (回避); add inspectors to the list"
    )]
    NotEnoughInspectors {
        site: String,
        needed: u32,
        available: u32,
        recused: String,
    },
}

/// Makes the draw described by `input` (see the module documentation for the algorithm).
///
/// # Errors
/// [`DrawError`] when the input cannot give a draw (no inspectors, too few of them after
/// 回避, a bad date).
pub fn draw(input: &DrawInput) -> Result<DrawResult, DrawError> {
    if input.n == 0 {
        return Err(DrawError::NoSites);
    }
    if input.inspectors_per_site == 0 {
        return Err(DrawError::NoInspectorsPerSite);
    }
    if input.inspectors.is_empty() {
        return Err(DrawError::NoInspectors);
    }
    let mut inspectors: Vec<&str> = input.inspectors.iter().map(String::as_str).collect();
    inspectors.sort_unstable();
    if let Some(w) = inspectors.windows(2).find(|w| w[0] == w[1]) {
        return Err(DrawError::DuplicateInspector(w[0].to_owned()));
    }
    if inspectors.len() < input.inspectors_per_site as usize {
        return Err(DrawError::TooFewInspectors {
            needed: input.inspectors_per_site,
            listed: inspectors.len() as u32,
        });
    }
    let today =
        super::parse_date(&input.date).ok_or_else(|| DrawError::BadDate(input.date.clone()))?;
    let mut in_scope: Vec<&DrawSite> = input
        .sites
        .iter()
        .filter(|s| input.scope.contains(&s.grid) && input.kind.is_none_or(|k| k == s.kind))
        .collect();
    in_scope.sort_by(|a, b| a.site.cmp(&b.site));
    in_scope.dedup_by(|a, b| a.site == b.site);
    // The latest inspection of each site (by date, then the later entry).
    let latest = |site: &str| -> Option<(i64, &PastInspection)> {
        input
            .inspections
            .iter()
            .filter(|i| i.site == site)
            .filter_map(|i| super::parse_date(&i.date).map(|d| (d, i)))
            .max_by_key(|(d, _)| *d)
    };
    let mut excluded = Vec::new();
    let mut eligible: Vec<(&DrawSite, u32)> = Vec::new();
    for s in &in_scope {
        let w = input.weights.of(s.grade);
        if let Some((d, _)) = latest(&s.site)
            .filter(|(d, _)| today - d < i64::from(input.exclude_days) && *d <= today)
        {
            excluded.push(Excluded {
                site: s.site.clone(),
                reason: format!("inspected {}", cst_date(d)),
            });
        } else if w == 0 {
            excluded.push(Excluded {
                site: s.site.clone(),
                reason: format!("weight 0 (grade {})", s.grade),
            });
        } else {
            eligible.push((s, w));
        }
    }
    let eligible_count = eligible.len() as u32;
    let mut rng = SplitMix64::new(input.seed);
    let mut picks: Vec<Pick> = Vec::new();
    let mut load: Vec<u32> = vec![0; inspectors.len()];
    while picks.len() < input.n as usize && !eligible.is_empty() {
        let total: u64 = eligible.iter().map(|(_, w)| u64::from(*w)).sum();
        let r = rng.below(total);
        let mut acc = 0u64;
        let mut at = eligible.len() - 1;
        for (i, (_, w)) in eligible.iter().enumerate() {
            acc += u64::from(*w);
            if r < acc {
                at = i;
                break;
            }
        }
        let (site, weight) = eligible.remove(at);
        let recused: Vec<&str> = latest(&site.site)
            .map(|(_, i)| i.inspectors.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut chosen: Vec<String> = Vec::new();
        for _ in 0..input.inspectors_per_site {
            let free: Vec<usize> = (0..inspectors.len())
                .filter(|&i| {
                    let name = inspectors[i];
                    !recused.contains(&name) && !chosen.iter().any(|c| c == name)
                })
                .collect();
            let Some(min_load) = free.iter().map(|&i| load[i]).min() else {
                let available = inspectors.iter().filter(|n| !recused.contains(n)).count() as u32;
                return Err(DrawError::NotEnoughInspectors {
                    site: site.site.clone(),
                    needed: input.inspectors_per_site,
                    available,
                    recused: if recused.is_empty() {
                        "none".to_owned()
                    } else {
                        recused.join(", ")
                    },
                });
            };
            let least: Vec<usize> = free.into_iter().filter(|&i| load[i] == min_load).collect();
            let k = rng.below(least.len() as u64) as usize;
            let i = least[k];
            load[i] += 1;
            chosen.push(inspectors[i].to_owned());
        }
        picks.push(Pick {
            order: picks.len() as u32 + 1,
            site: site.site.clone(),
            grade: site.grade,
            weight,
            of_weight: total,
            inspectors: chosen,
        });
    }
    Ok(DrawResult {
        algorithm: ALGORITHM.to_owned(),
        in_scope: in_scope.len() as u32,
        eligible: eligible_count,
        shortfall: input.n - picks.len() as u32,
        picks,
        excluded,
    })
}

impl DrawResult {
    /// The picks as CSV (`order,site,grade,weight,of_weight,inspectors`), inspectors joined
    /// with `;`, with a header line.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("order,site,grade,weight,of_weight,inspectors\n");
        for p in &self.picks {
            s.push_str(&format!(
                "{},{},{},{},{},{}\n",
                p.order,
                csv_field(&p.site),
                p.grade,
                p.weight,
                p.of_weight,
                csv_field(&p.inspectors.join(";"))
            ));
        }
        s
    }

    /// The picks as an aligned text table.
    pub fn to_table(&self) -> String {
        let w = self
            .picks
            .iter()
            .map(|p| p.site.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut s = format!("{:>3}  {:<w$}  grade  chance  inspectors\n", "#", "site");
        for p in &self.picks {
            let chance = format!("{}/{}", p.weight, p.of_weight);
            s.push_str(&format!(
                "{:>3}  {:<w$}  {:<5}  {:<6}  {}\n",
                p.order,
                p.site,
                p.grade.as_str(),
                chance,
                p.inspectors.join(", ")
            ));
        }
        s
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
