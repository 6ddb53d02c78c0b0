//! Restart safety: [`Engine::snapshot`] captures all rule state as JSON-able data and
//! [`Engine::restore`] rebuilds an engine from it, so pending durations keep their start and
//! open alerts stay open without being announced again.

use crate::eval::Engine;
use crate::model::{Device, Site};
use crate::rule::RulePack;
use crate::state::{
    add_firing, DeviceSnapshot, EngineSnapshot, Phase, SiteSnapshot, SterilizerSnapshot, Tracker,
};

/// Current snapshot format.
pub const SNAPSHOT_FORMAT: u32 = 1;

impl Engine {
    /// Captures the engine's state. Devices are sorted by id so equal states give equal
    /// snapshots (in place: ids are unique, and a stable sort's scratch buffer was half the
    /// capture again).
    pub fn snapshot(&self) -> EngineSnapshot {
        let mut devices: Vec<DeviceSnapshot> = self
            .devices
            .iter()
            .map(|d| DeviceSnapshot {
                device: d.device.id.clone(),
                state: d.state.clone(),
            })
            .collect();
        devices.sort_unstable_by(|a, b| a.device.cmp(&b.device));
        let mut sites: Vec<SiteSnapshot> = self
            .sites
            .iter()
            .filter(|s| !s.state.trackers.is_empty() || s.state.waste.is_some())
            .map(|s| SiteSnapshot {
                site: s.site.id.to_string(),
                trackers: s.state.trackers.clone(),
                waste: s.state.waste.as_deref().cloned(),
            })
            .collect();
        sites.sort_unstable_by(|a, b| a.site.cmp(&b.site));
        EngineSnapshot {
            format: SNAPSHOT_FORMAT,
            pack: self.pack_name.clone(),
            clock: self.clock,
            devices,
            sites,
            sterilizers: self
                .steril
                .states
                .iter()
                .map(|(id, st)| SterilizerSnapshot {
                    device: id.to_string(),
                    state: st.clone(),
                })
                .collect(),
        }
    }

    /// Builds an engine for `pack`, `sites` and `devices` and adopts `snapshot`'s state.
    /// State of devices or sites no longer configured, and trackers of rules no longer in
    /// the pack or no longer applying to the site, are dropped (logged at debug level).
    pub fn restore<S: Into<std::sync::Arc<Site>>>(
        pack: RulePack,
        sites: Vec<S>,
        devices: Vec<Device>,
        snapshot: EngineSnapshot,
    ) -> Engine {
        let mut engine = Engine::new(pack, sites, devices);
        if snapshot.format != SNAPSHOT_FORMAT {
            tracing::warn!(
                format = snapshot.format,
                expected = SNAPSHOT_FORMAT,
                "rule-engine snapshot in an unknown format ignored; starting with empty state"
            );
            return engine;
        }
        engine.clock = snapshot.clock;
        for ds in snapshot.devices {
            let Some(dev) = engine.devices.get_mut(&ds.device) else {
                tracing::debug!(device = %ds.device, "snapshot state of a removed device dropped");
                continue;
            };
            let Some(cx) = engine.sites.at_mut(dev.site) else {
                continue;
            };
            let mut state = ds.state;
            state.trackers = resolve(&engine.rules, &cx.site, state.trackers);
            for t in state.trackers.iter().filter(|t| t.phase == Phase::Firing) {
                add_firing(&mut cx.state.firing, t.rule, engine.rules.len(), 1);
            }
            dev.state = state;
        }
        for ss in snapshot.sterilizers {
            let Some(dev) = engine.devices.get_mut(ss.device.as_str()) else {
                tracing::debug!(device = %ss.device, "snapshot state of a removed sterilizer dropped");
                continue;
            };
            let id = dev.device.id.clone();
            engine.steril.states.insert(id, ss.state);
        }
        for ss in snapshot.sites {
            let Some(cx) = engine.sites.get_mut(ss.site.as_str()) else {
                continue;
            };
            let trackers = resolve(&engine.rules, &cx.site, ss.trackers);
            for t in trackers.iter().filter(|t| t.phase == Phase::Firing) {
                add_firing(&mut cx.state.firing, t.rule, engine.rules.len(), 1);
            }
            cx.state.trackers = trackers;
            cx.state.waste = ss.waste.map(Box::new);
        }
        engine
    }
}

/// Re-resolves rule indices by id; drops trackers whose rule is gone or no longer applies.
fn resolve(rules: &[crate::rule::Rule], site: &Site, trackers: Vec<Tracker>) -> Vec<Tracker> {
    trackers
        .into_iter()
        .filter_map(|mut t| {
            let idx = rules
                .iter()
                .position(|r| r.id == t.rule_id && r.applies_to(site))?;
            t.rule = idx;
            Some(t)
        })
        .collect()
}
