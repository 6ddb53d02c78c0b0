//! The site and device registry: who may publish what, where. Built once from the validated
//! configuration and shared read-only (`Arc<Registry>`) by every stage.

use std::collections::HashMap;

use alerting::model::{Device, DeviceKind, GridPath, Id, Metric, Site, SiteAttributes};

/// A configured site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteEntry {
    pub id: Id,
    pub name: String,
    pub grid: GridPath,
    pub attributes: SiteAttributes,
}

/// A configured device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEntry {
    pub id: Id,
    pub site: Id,
    pub kind: DeviceKind,
    pub expected_interval_secs: u32,
    pub hj212: Option<Hj212Settings>,
}

/// How to read one device's HJ 212 frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Hj212Settings {
    /// The registered MN: frames from any other MN on this device's topic are quarantined.
    pub mn: String,
    /// When set, a frame's PW must equal it.
    pub password: Option<String>,
    /// The zone of `DataTime`, seconds east of UTC (China Standard Time +08:00 by default).
    pub utc_offset_secs: i32,
    /// Factor code -> metric overrides (chlorine, ClO2 and ozone have no standard code).
    pub codes: HashMap<String, Metric>,
}

/// Sites and devices by id.
#[derive(Debug, Default)]
pub struct Registry {
    sites: HashMap<Id, SiteEntry>,
    devices: HashMap<Id, DeviceEntry>,
    site_order: Vec<Id>,
    device_order: Vec<Id>,
}

impl Registry {
    pub fn new(sites: Vec<SiteEntry>, devices: Vec<DeviceEntry>) -> Self {
        let site_order = sites.iter().map(|s| s.id.clone()).collect();
        let device_order = devices.iter().map(|d| d.id.clone()).collect();
        Self {
            sites: sites.into_iter().map(|s| (s.id.clone(), s)).collect(),
            devices: devices.into_iter().map(|d| (d.id.clone(), d)).collect(),
            site_order,
            device_order,
        }
    }

    pub fn device(&self, id: &str) -> Option<&DeviceEntry> {
        self.devices.get(id)
    }

    pub fn site(&self, id: &str) -> Option<&SiteEntry> {
        self.sites.get(id)
    }

    /// Sites in configuration order.
    pub fn sites(&self) -> impl Iterator<Item = &SiteEntry> {
        self.site_order.iter().filter_map(|id| self.sites.get(id))
    }

    /// Devices in configuration order.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceEntry> {
        self.device_order
            .iter()
            .filter_map(|id| self.devices.get(id))
    }

    pub fn site_count(&self) -> usize {
        self.sites.len()
    }

    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// The sites as the rule engine sees them.
    pub fn alerting_sites(&self) -> Vec<Site> {
        self.sites()
            .map(|s| Site {
                id: s.id.clone(),
                name: s.name.clone(),
                grid: s.grid.clone(),
                attributes: s.attributes.clone(),
            })
            .collect()
    }

    /// The devices as the rule engine sees them.
    pub fn alerting_devices(&self) -> Vec<Device> {
        self.devices()
            .map(|d| Device {
                id: d.id.clone(),
                site: d.site.clone(),
                kind: d.kind,
                expected_interval_secs: d.expected_interval_secs,
            })
            .collect()
    }
}
