//! The site and device registry: who may publish what, where. Built from the validated
//! configuration and shared read-only (`Arc<Registry>`) by every stage; a reload (SIGHUP,
//! `weijian_service::reload`) replaces it whole, never edits it.
//!
//! It is sized for 100,000+ devices: entries live in two vectors in configuration order, and
//! the by-id indexes ([`IdIndex`]) hold only positions (the ids are read from the vectors).

use std::collections::HashMap;
use std::sync::Arc;

use alerting::index::IdIndex;
use alerting::model::{Device, DeviceKind, Id, Metric, Site};

/// A configured site: the rule engine's [`Site`], held once behind an `Arc` and shared with
/// the engine (`Engine::new` takes the same `Arc`s), so names and grid paths are not copied.
pub type SiteEntry = Site;

/// A configured device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEntry {
    pub id: Id,
    pub site: Id,
    pub kind: DeviceKind,
    pub expected_interval_secs: u32,
    /// Boxed: most devices have none, and the settings are five times the size of the rest.
    pub hj212: Option<Box<Hj212Settings>>,
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
    /// Where frames of this device may come from over TCP (`[hj212_tcp]`); empty: anywhere.
    pub allowed_sources: Vec<super::hj212_tcp::SourceNet>,
}

/// Sites and devices by id, in configuration order.
#[derive(Debug, Default)]
pub struct Registry {
    sites: Vec<Arc<SiteEntry>>,
    devices: Vec<DeviceEntry>,
    site_index: IdIndex,
    device_index: IdIndex,
}

impl Registry {
    pub fn new(sites: Vec<SiteEntry>, devices: Vec<DeviceEntry>) -> Self {
        let mut registry = Self::default();
        for s in sites {
            registry.push_site(s);
        }
        for d in devices {
            registry.push_device(d);
        }
        registry.shrink_to_fit();
        registry
    }

    /// Adds a site; a site with the same id replaces the earlier one in the index (validation
    /// reports duplicates before a registry is used).
    pub(super) fn push_site(&mut self, site: SiteEntry) {
        let at = u32::try_from(self.sites.len()).unwrap_or(u32::MAX);
        self.sites.push(Arc::new(site));
        let sites = &self.sites;
        if let Some(id) = sites.get(at as usize).map(|s| &*s.id) {
            self.site_index.insert(id, at, |p| site_id(sites, p));
        }
    }

    /// Adds a device (see [`Registry::push_site`] on duplicates).
    pub(super) fn push_device(&mut self, device: DeviceEntry) {
        let at = u32::try_from(self.devices.len()).unwrap_or(u32::MAX);
        self.devices.push(device);
        let devices = &self.devices;
        if let Some(id) = devices.get(at as usize).map(|d| &*d.id) {
            self.device_index.insert(id, at, |p| device_id(devices, p));
        }
    }

    /// Releases the growth slack of the vectors and indexes once loading is done.
    pub(super) fn shrink_to_fit(&mut self) {
        self.sites.shrink_to_fit();
        self.devices.shrink_to_fit();
        let (sites, devices) = (&self.sites, &self.devices);
        self.site_index.shrink_to_fit(|p| site_id(sites, p));
        self.device_index.shrink_to_fit(|p| device_id(devices, p));
    }

    pub fn device(&self, id: &str) -> Option<&DeviceEntry> {
        self.device_index
            .get(id, |p| device_id(&self.devices, p))
            .and_then(|i| self.devices.get(i as usize))
    }

    pub fn site(&self, id: &str) -> Option<&SiteEntry> {
        self.site_index
            .get(id, |p| site_id(&self.sites, p))
            .and_then(|i| self.sites.get(i as usize))
            .map(|s| &**s)
    }

    /// Sites in configuration order.
    pub fn sites(&self) -> impl Iterator<Item = &SiteEntry> {
        self.sites.iter().map(|s| &**s)
    }

    /// Devices in configuration order.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceEntry> {
        self.devices.iter()
    }

    pub fn site_count(&self) -> usize {
        self.site_index.len()
    }

    pub fn device_count(&self) -> usize {
        self.device_index.len()
    }

    /// The sites as the rule engine sees them: the registry's own, shared (give these to
    /// `Engine::new`, so 100,000 sites are held once).
    pub fn shared_sites(&self) -> Vec<Arc<Site>> {
        self.sites.clone()
    }

    /// Owned copies of the sites, for code that needs `&[Site]`.
    pub fn alerting_sites(&self) -> Vec<Site> {
        self.sites().cloned().collect()
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

/// The id of the site at position `p` (the key of the site index).
fn site_id(sites: &[Arc<SiteEntry>], p: u32) -> Option<&str> {
    sites.get(p as usize).map(|s| &*s.id)
}

/// The id of the device at position `p` (the key of the device index).
fn device_id(devices: &[DeviceEntry], p: u32) -> Option<&str> {
    devices.get(p as usize).map(|d| &*d.id)
}
