//! Validation of the site and device registry: `[[sites]]` and `[[devices]]` tables, the
//! registry files (JSON Lines) they may name, site attributes per kind, and the HJ 212 bindings
//! of devices (MN, password, factor codes).

use std::collections::{HashMap, HashSet};

use alerting::model::{
    DentalSite, DeviceKind, Disinfectant, GridPath, Id, Metric, SiteAttributes, SterilizerType,
    WasteStoreSite, WaterPoint, WaterSite,
};
use toml::Spanned;

use super::super::raw;
use super::super::registry_file::{self, DeviceRow, LineError, SiteRow};
use super::super::{ConfigError, DeviceEntry, Hj212Settings, Registry, SiteEntry};
use super::Validator;

/// At most this many errors are listed per registry file (a wrong column in a 100,000-line
/// file would otherwise print 100,000 lines).
const MAX_FILE_ERRORS: usize = 100;

/// What registry validation keeps while sites and devices come in (TOML tables first, then
/// the files): the registry being built doubles as the index for duplicate and site checks.
#[derive(Default)]
struct RegistryState {
    registry: Registry,
    /// Ids of devices left out of the registry (unknown kind), still taken for duplicates.
    unregistered_ids: HashSet<String>,
    /// HJ 212 MN -> the device it is registered to.
    mns: HashMap<String, String>,
}

impl Validator<'_> {
    fn id(&mut self, id: &Spanned<String>, key: &str) {
        if !is_valid_id(id.get_ref()) {
            self.err(
                id,
                key,
                format!(
                    "{:?} must match [A-Za-z0-9_-]{{1,64}} (it is a topic level)",
                    id.get_ref()
                ),
            );
        }
    }

    pub(super) fn registry(
        &mut self,
        sites: Vec<Spanned<raw::RawSite>>,
        devices: Vec<Spanned<raw::RawDevice>>,
        files: raw::RawRegistry,
    ) -> Registry {
        let mut state = RegistryState::default();
        for (i, site) in sites.into_iter().enumerate() {
            self.site(site.into_inner(), &format!("sites[{i}]"), &mut state);
        }
        if let Some(path) = &files.sites_file {
            self.registry_file::<SiteRow>(path, "registry.sites_file", |v, row| {
                v.site(row.into(), "site", &mut state);
            });
        }
        for (i, device) in devices.into_iter().enumerate() {
            self.device(device.into_inner(), &format!("devices[{i}]"), &mut state);
        }
        if let Some(path) = &files.devices_file {
            self.registry_file::<DeviceRow>(path, "registry.devices_file", |v, row| {
                v.device(row.into(), "device", &mut state);
            });
        }
        state.registry.shrink_to_fit();
        state.registry
    }

    /// Reads a JSON Lines registry file row by row, handing each row to `row`; every error
    /// found on a line (a parse error, or any the row's validation adds) names the file and
    /// the line. At most [`MAX_FILE_ERRORS`] are listed, then how many more there were.
    fn registry_file<T>(
        &mut self,
        path: &Spanned<String>,
        key: &str,
        mut row: impl FnMut(&mut Self, T),
    ) where
        T: for<'de> serde::Deserialize<'de>,
    {
        let resolved = self.path(path);
        let name = resolved.display().to_string();
        let name = name.as_str();
        let file = match std::fs::File::open(&resolved) {
            Ok(f) => f,
            Err(error) => {
                self.err(path, key, format!("cannot read {name:?}: {error}"));
                return;
            }
        };
        let (mut listed, mut more) = (0usize, 0usize);
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        registry_file::for_each_row::<T, _, _>(reader, |line, parsed| {
            let before = self.errors.len();
            match parsed {
                Ok(r) => row(self, r),
                Err(LineError::Parse { message, column }) => self.errors.push(ConfigError {
                    line: None,
                    key: "(syntax)".into(),
                    message: format!("{message} (column {column})"),
                }),
                Err(LineError::Io(error)) => self.errors.push(ConfigError {
                    line: None,
                    key: "(file)".into(),
                    message: format!("cannot read further: {error}"),
                }),
            }
            let added = self.errors.len() - before;
            if listed >= MAX_FILE_ERRORS {
                self.errors.truncate(before);
                more += added;
                return;
            }
            listed += added;
            for e in self.errors.iter_mut().skip(before) {
                e.key = format!("{name}:{line}: {}", e.key);
            }
        });
        if more > 0 {
            self.errors.push(ConfigError {
                line: None,
                key: name.to_string(),
                message: format!("{more} more errors in this file are not listed"),
            });
        }
    }

    fn site(&mut self, site: raw::RawSite, key: &str, state: &mut RegistryState) {
        self.id(&site.id, &format!("{key}.id"));
        if state.registry.site(site.id.get_ref()).is_some() {
            self.err(
                &site.id,
                format!("{key}.id"),
                format!("duplicate site id {:?}", site.id.get_ref()),
            );
        }
        let Some(attributes) = self.site_attributes(&site, key) else {
            return;
        };
        state.registry.push_site(SiteEntry {
            id: site.id.into_inner().into(),
            name: site.name,
            grid: GridPath {
                district: site.grid.district,
                street: site.grid.street,
                community: site.grid.community,
            },
            attributes,
        });
    }

    fn device(&mut self, d: raw::RawDevice, key: &str, state: &mut RegistryState) {
        self.id(&d.id, &format!("{key}.id"));
        if state.registry.device(d.id.get_ref()).is_some()
            || state.unregistered_ids.contains(d.id.get_ref())
        {
            self.err(
                &d.id,
                format!("{key}.id"),
                format!("duplicate device id {:?}", d.id.get_ref()),
            );
        }
        let kind = match parse_device_kind(d.kind.get_ref()) {
            Some(k) => k,
            None => {
                self.err(
                    &d.kind,
                    format!("{key}.kind"),
                    format!(
                        "{:?} is not water_monitor, waste_store or autoclave",
                        d.kind.get_ref()
                    ),
                );
                state.unregistered_ids.insert(d.id.into_inner());
                return;
            }
        };
        match state
            .registry
            .site(d.site.get_ref())
            .map(|s| s.attributes.kind())
        {
            None => self.err(
                &d.site,
                format!("{key}.site"),
                format!("no site with id {:?} is configured", d.site.get_ref()),
            ),
            Some(sk) if sk.device_kind() != kind => self.err(
                &d.kind,
                format!("{key}.kind"),
                format!(
                    "a {kind} cannot report at site {:?}, which is a {} site",
                    d.site.get_ref(),
                    sk.as_str()
                ),
            ),
            Some(_) => {}
        }
        if *d.expected_interval_secs.get_ref() == 0 {
            self.err(
                &d.expected_interval_secs,
                format!("{key}.expected_interval_secs"),
                "must be at least 1",
            );
        }
        let hj212 = d.hj212.map(|h| {
            let h = h.into_inner();
            Box::new(self.hj212(
                h,
                kind,
                &format!("{key}.hj212"),
                d.id.get_ref(),
                &mut state.mns,
            ))
        });
        // The device shares its site's id string (one allocation per site, not per device).
        let site: Id = match state.registry.site(d.site.get_ref()) {
            Some(s) => s.id.clone(),
            None => d.site.into_inner().into(),
        };
        state.registry.push_device(DeviceEntry {
            id: d.id.into_inner().into(),
            site,
            kind,
            expected_interval_secs: d.expected_interval_secs.into_inner(),
            hj212,
        });
    }

    fn site_attributes(&mut self, site: &raw::RawSite, key: &str) -> Option<SiteAttributes> {
        let kind = site.kind.get_ref().as_str();
        let present = [
            ("water", site.water.is_some()),
            ("waste_store", site.waste_store.is_some()),
            ("dental", site.dental.is_some()),
        ];
        let wanted = match kind {
            "water" => "water",
            "waste_store" => "waste_store",
            "dental_sterilization" => "dental",
            other => {
                self.err(
                    &site.kind,
                    format!("{key}.kind"),
                    format!("{other:?} is not water, waste_store or dental_sterilization"),
                );
                return None;
            }
        };
        for (table, is_there) in present {
            if is_there && table != wanted {
                self.err(
                    &site.kind,
                    format!("{key}.{table}"),
                    format!("a {kind} site takes [{key}.{wanted}] attributes, not {table}"),
                );
            }
        }
        match kind {
            "water" => {
                let Some(w) = &site.water else {
                    self.err(
                        &site.kind,
                        format!("{key}.water"),
                        "a water site needs water = { point, disinfectant } (they select its limits)",
                    );
                    return None;
                };
                let w = w.get_ref();
                let point = match w.point.get_ref().as_str() {
                    "outlet" => WaterPoint::Outlet,
                    "network_end" => WaterPoint::NetworkEnd,
                    other => {
                        self.err(
                            &w.point,
                            format!("{key}.water.point"),
                            format!("{other:?} is not outlet or network_end"),
                        );
                        return None;
                    }
                };
                let disinfectant = match w.disinfectant.get_ref().as_str() {
                    "free_chlorine" => Disinfectant::FreeChlorine,
                    "chloramine" => Disinfectant::Chloramine,
                    "chlorine_dioxide" => Disinfectant::ChlorineDioxide,
                    "ozone" => Disinfectant::Ozone,
                    other => {
                        self.err(
                            &w.disinfectant,
                            format!("{key}.water.disinfectant"),
                            format!("{other:?} is not free_chlorine, chloramine, chlorine_dioxide or ozone"),
                        );
                        return None;
                    }
                };
                Some(SiteAttributes::Water(WaterSite {
                    point,
                    disinfectant,
                    small_supply: w.small_supply,
                }))
            }
            "waste_store" => {
                let w = site.waste_store.as_ref().map(|w| w.get_ref());
                let windows = w.map(|w| w.collection_windows.clone()).unwrap_or_default();
                for (j, win) in windows.iter().enumerate() {
                    if !is_time_window(win) {
                        self.err(
                            &site.kind,
                            format!("{key}.waste_store.collection_windows[{j}]"),
                            format!("{win:?} is not a window like \"08:00-10:00\""),
                        );
                    }
                }
                Some(SiteAttributes::WasteStore(WasteStoreSite {
                    refrigerated: w.is_some_and(|w| w.refrigerated),
                    max_temp_c: w.and_then(|w| w.max_temp_c),
                    collection_windows: windows,
                }))
            }
            _ => {
                let Some(d) = &site.dental else {
                    self.err(
                        &site.kind,
                        format!("{key}.dental"),
                        "a dental site needs dental = { sterilizer = \"prevac\" | \"gravity\" }",
                    );
                    return None;
                };
                let d = d.get_ref();
                let sterilizer = match d.sterilizer.get_ref().as_str() {
                    "prevac" => SterilizerType::Prevac,
                    "gravity" => SterilizerType::Gravity,
                    other => {
                        self.err(
                            &d.sterilizer,
                            format!("{key}.dental.sterilizer"),
                            format!("{other:?} is not prevac or gravity"),
                        );
                        return None;
                    }
                };
                Some(SiteAttributes::DentalSterilization(DentalSite {
                    sterilizer,
                    bi_interval_days: d.bi_interval_days.max(1),
                }))
            }
        }
    }

    fn hj212(
        &mut self,
        h: raw::RawHj212,
        kind: DeviceKind,
        key: &str,
        device: &str,
        mns: &mut HashMap<String, String>,
    ) -> Hj212Settings {
        if kind != DeviceKind::WaterMonitor {
            self.err(
                &h.mn,
                key.to_string(),
                "only water_monitor devices speak HJ 212 here",
            );
        }
        if h.mn.get_ref().trim().is_empty() {
            self.err(&h.mn, format!("{key}.mn"), "must not be empty");
        } else if let Some(other) = mns.insert(h.mn.get_ref().clone(), device.to_string()) {
            self.err(
                &h.mn,
                format!("{key}.mn"),
                format!(
                    "MN {:?} is already registered to device {other:?}",
                    h.mn.get_ref()
                ),
            );
        }
        let utc_offset_secs = match parse_utc_offset(h.utc_offset.get_ref()) {
            Some(s) => s,
            None => {
                self.err(
                    &h.utc_offset,
                    format!("{key}.utc_offset"),
                    format!("{:?} is not an offset like +08:00", h.utc_offset.get_ref()),
                );
                8 * 3600
            }
        };
        let mut codes = HashMap::new();
        for (code, metric) in h.codes {
            match Metric::from_name(metric.get_ref()) {
                Some(m) if m.belongs_to(kind) => {
                    codes.insert(code, m);
                }
                _ => self.err(
                    &metric,
                    format!("{key}.codes.{code}"),
                    format!(
                        "{:?} is not a {kind} metric of the catalogue",
                        metric.get_ref()
                    ),
                ),
            }
        }
        let password = self.secret(
            h.password,
            h.password_env.as_ref(),
            &format!("{key}.password_env"),
        );
        let allowed_sources = self.allowed_sources(&h.allowed_sources, key);
        Hj212Settings {
            mn: h.mn.into_inner(),
            password,
            utc_offset_secs,
            codes,
            allowed_sources,
        }
    }
}

/// `[A-Za-z0-9_-]{1,64}`: the form of site and device ids (they are topic levels).
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_device_kind(s: &str) -> Option<DeviceKind> {
    DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
}

/// `+08:00` / `-03:30` / `Z` -> seconds east of UTC.
pub(in crate::config) fn parse_utc_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "+00:00" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m) && h.to_string().len() <= 2)
        .then_some(sign * (h * 3600 + m * 60))
}

fn is_time_window(s: &str) -> bool {
    let hhmm = |t: &str| {
        t.split_once(':').is_some_and(|(h, m)| {
            h.len() == 2
                && m.len() == 2
                && h.parse::<u8>().is_ok_and(|h| h < 24)
                && m.parse::<u8>().is_ok_and(|m| m < 60)
        })
    };
    s.split_once('-').is_some_and(|(a, b)| hhmm(a) && hhmm(b))
}
