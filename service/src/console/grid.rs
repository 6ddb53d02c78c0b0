//! The grid as a tree: 区 -> 街道 -> 社区 -> sites -> devices, limited to the supervisor's
//! subtree. Each site shows its worst open level, its open and unacknowledged alerts, its last
//! data time and its offline devices; a medical-waste store its ledger (bags, oldest bag, last
//! disinfection); a dental clinic its sterilizers' day (cycles, Bowie-Dick test, recall).
//! Collapsible with `<details>`, so it needs no script.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use alerting::model::{SiteAttributes, SiteKind};
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::page::{self, beijing, esc, level_of, Lang};
use super::{ConsoleState, Signed};
use crate::api::sites::{head, open_alerts, SiteHead};
use crate::api::sterilizers::{of_site, CycleVerdict, SterilizerView};
use crate::api::waste::{ledger, WasteLedger};
use weijian_ingest::config::{DeviceEntry, SiteEntry};

/// One device as the tree shows it.
struct DeviceLine {
    id: String,
    kind: &'static str,
    last_data: Option<alerting::model::Timestamp>,
    offline: bool,
}

/// One site as the tree shows it.
struct SiteNode {
    head: SiteHead,
    open: usize,
    devices: Vec<DeviceLine>,
    waste: Option<WasteLedger>,
    sterilizers: Option<Vec<SterilizerView>>,
}

type Tree = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<SiteNode>>>>;

/// `GET /grid`.
pub async fn page(State(state): State<ConsoleState>, signed: Signed) -> Response {
    let lang = signed.lang;
    let desk = &state.api.desk;
    let now = desk.now();
    let registry = desk.registry();
    let activity = desk.devices();
    let visible: Vec<&SiteEntry> = desk.read(|st| {
        registry
            .sites()
            .filter(|s| st.engine.can_see(signed.caller.id(), &s.id))
            .collect()
    });
    // Devices by site, once: a city's grid has 100,000 of them.
    let mut by_site: HashMap<&str, Vec<&DeviceEntry>> = HashMap::new();
    for d in registry.devices() {
        by_site.entry(&*d.site).or_default().push(d);
    }
    let mut tree = Tree::new();
    for s in visible {
        let (site_head, open) = desk.read(|st| {
            let open = open_alerts(st, s);
            (head(s, &open), open.len())
        });
        let devices = by_site
            .get(&*s.id)
            .into_iter()
            .flatten()
            .map(|d| {
                let a = activity.get(&d.id);
                DeviceLine {
                    id: d.id.to_string(),
                    kind: d.kind.as_str(),
                    last_data: a.and_then(|a| a.last_data),
                    offline: a.is_some_and(|a| a.offline),
                }
            })
            .collect();
        let waste = matches!(s.attributes, SiteAttributes::WasteStore(_))
            .then(|| ledger(desk.waste().get(&s.id).as_ref(), now));
        let sterilizers =
            (s.attributes.kind() == SiteKind::DentalSterilization).then(|| of_site(desk, s, now));
        tree.entry(s.grid.district.clone())
            .or_default()
            .entry(s.grid.street.clone())
            .or_default()
            .entry(s.grid.community.clone())
            .or_default()
            .push(SiteNode {
                head: site_head,
                open,
                devices,
                waste,
                sterilizers,
            });
    }
    let mut h = String::new();
    let _ = write!(h, "<h1>{}</h1>", lang.t("网格", "Grid"));
    if tree.is_empty() {
        let _ = write!(
            h,
            "<p class=\"empty\">{}</p>",
            lang.t("您的网格内没有场所。", "No sites in your grid cell.")
        );
    }
    h.push_str("<div class=\"tree\">");
    for (district, streets) in &tree {
        node_open(&mut h, "district", lang.t("区", "District"), district);
        for (street, communities) in streets {
            node_open(&mut h, "street", lang.t("街道", "Street"), street);
            for (community, sites) in communities {
                node_open(&mut h, "community", lang.t("社区", "Community"), community);
                h.push_str("<ul class=\"sites\">");
                for site in sites {
                    site_line(&mut h, lang, site);
                }
                h.push_str("</ul></details>");
            }
            h.push_str("</details>");
        }
        h.push_str("</details>");
    }
    h.push_str("</div>");
    page::frame(
        lang,
        lang.t("网格", "Grid"),
        Some(&signed.who()),
        "/grid",
        &h,
    )
    .into_response()
}

fn node_open(h: &mut String, class: &str, what: &str, name: &str) {
    let _ = write!(
        h,
        "<details open class=\"node {class}\"><summary><small>{}</small> {}</summary>",
        esc(what),
        esc(name)
    );
}

fn site_line(h: &mut String, lang: Lang, site: &SiteNode) {
    let s = &site.head;
    let worst = s.worst_level.and_then(level_of).map_or_else(
        || format!("<span class=\"ok\">{}</span>", lang.t("正常", "All clear")),
        |l| page::level_badge(lang, l),
    );
    let last = site.devices.iter().filter_map(|d| d.last_data).max();
    let offline = site.devices.iter().filter(|d| d.offline).count();
    let alerts_link = format!("/alerts?site={}", page::enc(&s.id));
    let counts = match lang {
        Lang::Zh => format!(
            "未解除 {} 条，未确认 {} 条",
            site.open, s.unacknowledged_alerts
        ),
        Lang::En => format!(
            "{} open, {} unacknowledged",
            site.open, s.unacknowledged_alerts
        ),
    };
    let _ = write!(
        h,
        "<li class=\"site\" id=\"site-{id}\"><div class=\"sitehead\">{worst} <a href=\"{link}\"><b>{name}</b></a> <small>{id}</small></div>\
         <div class=\"meta\">{counts} · {last_label} {last} · {off_label} {offline}</div>",
        id = esc(&s.id),
        link = esc(&alerts_link),
        name = esc(&s.name),
        last_label = lang.t("最新数据", "last data"),
        last = last.map_or_else(|| lang.t("无", "none").to_owned(), beijing),
        off_label = lang.t("离线设备", "offline devices"),
    );
    if let Some(w) = &site.waste {
        waste_line(h, lang, w);
    }
    if let Some(list) = &site.sterilizers {
        for st in list {
            sterilizer_line(h, lang, st);
        }
    }
    h.push_str("<ul class=\"devices\">");
    for d in &site.devices {
        let state = if d.offline {
            format!("<span class=\"off\">{}</span>", lang.t("离线", "offline"))
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<li>{} <small>{}</small> · {} {} {state}</li>",
            esc(&d.id),
            esc(d.kind),
            lang.t("最新数据", "last data"),
            d.last_data
                .map_or_else(|| lang.t("无", "none").to_owned(), beijing),
        );
    }
    h.push_str("</ul></li>");
}

fn waste_line(h: &mut String, lang: Lang, w: &WasteLedger) {
    let oldest = w.oldest_bag.as_ref().map_or(String::new(), |b| match lang {
        Lang::Zh => format!("，最久一袋 {:.1} 小时", b.age_hours),
        Lang::En => format!("; oldest bag {:.1} h", b.age_hours),
    });
    let disinfection = w.hours_since_disinfection.map_or_else(
        || lang.t("无消毒记录", "no disinfection recorded").to_owned(),
        |hrs| match lang {
            Lang::Zh => format!("距上次消毒 {hrs:.1} 小时"),
            Lang::En => format!("{hrs:.1} h since disinfection"),
        },
    );
    let text = match lang {
        Lang::Zh => format!(
            "医废暂存：{} 袋，{:.1} 千克{oldest}；{disinfection}",
            w.bags, w.kg
        ),
        Lang::En => format!(
            "Medical waste: {} bags, {:.1} kg{oldest}; {disinfection}",
            w.bags, w.kg
        ),
    };
    let _ = write!(h, "<div class=\"domain waste\">{}</div>", esc(&text));
}

fn sterilizer_line(h: &mut String, lang: Lang, view: &SterilizerView) {
    let text = match view {
        SterilizerView::Unseen(u) => match lang {
            Lang::Zh => format!("灭菌器 {}：尚无数据", u.device),
            Lang::En => format!("Sterilizer {}: no data yet", u.device),
        },
        SterilizerView::Seen(s) => {
            let failed = s
                .cycles_today
                .iter()
                .filter(|c| c.verdict == CycleVerdict::Fail)
                .count();
            let bd = if s.bowie_dick_ok_today {
                lang.t("B-D 试验今日合格", "Bowie-Dick passed today")
            } else {
                lang.t("B-D 试验今日未合格", "no passed Bowie-Dick today")
            };
            let recall = if s.recall.is_some() {
                lang.t("；生物监测阳性，需召回", "; positive BI: recall")
            } else {
                ""
            };
            match lang {
                Lang::Zh => format!(
                    "灭菌器 {}：今日 {} 锅次，不合格 {failed}；{bd}{recall}",
                    s.device,
                    s.cycles_today.len()
                ),
                Lang::En => format!(
                    "Sterilizer {}: {} cycles today, {failed} failed; {bd}{recall}",
                    s.device,
                    s.cycles_today.len()
                ),
            }
        }
    };
    let _ = write!(h, "<div class=\"domain steril\">{}</div>", esc(&text));
}
