//! The score of a site on a day, its grade and its explanation.

use serde::{Deserialize, Serialize};

use super::ledger::AlertDay;
use super::{cst_date, Grade, RiskParams};
use crate::level::Level;

/// Points are exact in units of 1/10,000.
const UNITS: f64 = 10_000.0;

/// What one alert-day adds to a site's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub alert_id: String,
    pub rule: String,
    pub device: String,
    /// The day (`YYYY-MM-DD`, China Standard Time).
    pub date: String,
    /// Days before the day scored (0 = that day).
    pub age_days: u32,
    pub level: Level,
    /// Points before decay.
    pub base_points: f64,
    /// Points after decay, rounded to 4 decimals.
    pub points: f64,
}

/// A site's risk on one day: score, grade and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRisk {
    pub site: String,
    /// The day scored (`YYYY-MM-DD`, China Standard Time), its last day included.
    pub date: String,
    /// Its day number (days since 1970-01-01 in China Standard Time).
    pub day: i64,
    pub score: f64,
    pub grade: Grade,
    /// Alert-days in the window.
    pub alert_days: usize,
    /// Distinct alerts in the window.
    pub alerts: usize,
    /// Every alert-day of the window with its points: newest day first, then by points
    /// (highest first), then alert id.
    pub contributions: Vec<Contribution>,
    /// The lowest score of the grade reached (0 for A) and of the next grade (none for D).
    pub grade_floor: f64,
    pub next_grade_at: Option<f64>,
}

fn units(x: f64) -> i64 {
    (x * UNITS).round() as i64
}

/// The grade of `score` under `params`.
pub fn grade_of(score: f64, params: &RiskParams) -> Grade {
    let s = units(score);
    let [b, c, d] = params.grade_min.map(units);
    if s >= d {
        Grade::D
    } else if s >= c {
        Grade::C
    } else if s >= b {
        Grade::B
    } else {
        Grade::A
    }
}

/// The decay factor of an alert-day `age` days old: 0.5^(age / half-life).
pub fn decay(age_days: u32, params: &RiskParams) -> f64 {
    0.5f64.powf(f64::from(age_days) / params.half_life_days)
}

/// Scores `site` on `day` from its alert-days (others, and those outside the window, are
/// ignored).
pub fn score_site(site: &str, day: i64, days: &[AlertDay], params: &RiskParams) -> SiteRisk {
    let window = i64::from(params.window_days);
    let mut contributions: Vec<(i64, Contribution)> = days
        .iter()
        .filter(|d| d.site == site && d.day <= day && day - d.day < window)
        .map(|d| {
            let age = (day - d.day) as u32;
            let base = params.points_of(d.level);
            let pts = units(base * decay(age, params));
            (
                pts,
                Contribution {
                    alert_id: d.alert_id.clone(),
                    rule: d.rule.clone(),
                    device: d.device.clone(),
                    date: cst_date(d.day),
                    age_days: age,
                    level: d.level,
                    base_points: base,
                    points: pts as f64 / UNITS,
                },
            )
        })
        .collect();
    contributions.sort_by(|(pa, a), (pb, b)| {
        a.age_days
            .cmp(&b.age_days)
            .then(pb.cmp(pa))
            .then_with(|| a.alert_id.cmp(&b.alert_id))
    });
    let total: i64 = contributions.iter().map(|(p, _)| p).sum();
    let score = total as f64 / UNITS;
    let grade = grade_of(score, params);
    let [b, c, d] = params.grade_min;
    let (grade_floor, next_grade_at) = match grade {
        Grade::A => (0.0, Some(b)),
        Grade::B => (b, Some(c)),
        Grade::C => (c, Some(d)),
        Grade::D => (d, None),
    };
    let mut ids: Vec<&str> = contributions
        .iter()
        .map(|(_, c)| c.alert_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    SiteRisk {
        site: site.to_owned(),
        date: cst_date(day),
        day,
        score,
        grade,
        alert_days: contributions.len(),
        alerts: ids.len(),
        contributions: contributions.into_iter().map(|(_, c)| c).collect(),
        grade_floor,
        next_grade_at,
    }
}

/// Scores every site of `sites` on `day`, in the order given.
pub fn score_sites<'a>(
    sites: impl IntoIterator<Item = &'a str>,
    day: i64,
    days: &[AlertDay],
    params: &RiskParams,
) -> Vec<SiteRisk> {
    sites
        .into_iter()
        .map(|s| {
            // `days` is sorted by site (AlertDayLedger::alert_days): only this site's slice.
            let from = days.partition_point(|d| d.site.as_str() < s);
            let to = days.partition_point(|d| d.site.as_str() <= s);
            score_site(s, day, days.get(from..to).unwrap_or(&[]), params)
        })
        .collect()
}

impl SiteRisk {
    /// Contributions summed per rule and level: `(rule, level, alert-days, points)`, the most
    /// points first.
    pub fn by_rule(&self) -> Vec<(String, Level, usize, f64)> {
        let mut out: Vec<(String, Level, usize, i64)> = Vec::new();
        for c in &self.contributions {
            match out
                .iter_mut()
                .find(|(r, l, _, _)| *r == c.rule && *l == c.level)
            {
                Some(e) => {
                    e.2 += 1;
                    e.3 += units(c.points);
                }
                None => out.push((c.rule.clone(), c.level, 1, units(c.points))),
            }
        }
        out.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
        out.into_iter()
            .map(|(r, l, n, p)| (r, l, n, p as f64 / UNITS))
            .collect()
    }

    /// One paragraph in Chinese: grade, score, thresholds and what made it.
    pub fn explain_zh(&self, params: &RiskParams) -> String {
        let mut s = format!(
            "{} 截至 {}（北京时间）近 {} 天风险等级 {}（{}），得分 {}",
            self.site,
            self.date,
            params.window_days,
            self.grade,
            self.grade.name_zh(),
            fmt_points(self.score)
        );
        match self.next_grade_at {
            Some(n) if self.grade == Grade::A => s.push_str(&format!("（低于 {}）", fmt_points(n))),
            Some(n) => s.push_str(&format!(
                "（不低于 {}、低于 {}）",
                fmt_points(self.grade_floor),
                fmt_points(n)
            )),
            None => s.push_str(&format!("（不低于 {}）", fmt_points(self.grade_floor))),
        }
        if self.contributions.is_empty() {
            s.push_str("：窗口内无预警日。");
            return s;
        }
        s.push_str(&format!(
            "：{} 个预警的 {} 个预警日，",
            self.alerts, self.alert_days
        ));
        let parts: Vec<String> = self
            .by_rule()
            .iter()
            .map(|(r, l, n, p)| format!("{r} {}×{n} 天 {} 分", l.label_zh(), fmt_points(*p)))
            .collect();
        s.push_str(&parts.join("，"));
        s.push('。');
        s
    }

    /// The same in English.
    pub fn explain_en(&self, params: &RiskParams) -> String {
        let mut s = format!(
            "{}: grade {} ({} risk) on {} (China Standard Time, last {} days), score {}",
            self.site,
            self.grade,
            self.grade.name_en(),
            self.date,
            params.window_days,
            fmt_points(self.score)
        );
        match self.next_grade_at {
            Some(n) if self.grade == Grade::A => s.push_str(&format!(" (below {})", fmt_points(n))),
            Some(n) => s.push_str(&format!(
                " (at least {}, below {})",
                fmt_points(self.grade_floor),
                fmt_points(n)
            )),
            None => s.push_str(&format!(" (at least {})", fmt_points(self.grade_floor))),
        }
        if self.contributions.is_empty() {
            s.push_str(": no alert-day in the window.");
            return s;
        }
        s.push_str(&format!(
            ": {} alert-day(s) of {} alert(s): ",
            self.alert_days, self.alerts
        ));
        let parts: Vec<String> = self
            .by_rule()
            .iter()
            .map(|(r, l, n, p)| format!("{r} level {l} x {n} day(s) {} pts", fmt_points(*p)))
            .collect();
        s.push_str(&parts.join(", "));
        s.push('.');
        s
    }
}

/// A score or points with at most 4 decimals and no trailing zeros: `8`, `4.3528`.
pub fn fmt_points(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}
