//! Scenario knobs: how often the simulated fleet misbehaves, and the presets
//! ([`Scenario::calm`], [`Scenario::realistic`], [`Scenario::demo`]).
//!
//! Rates are *expected episodes per device per simulated hour*; an episode starts on a tick with
//! probability `rate x tick length`, and a device has at most one episode of a family at a time.

/// How often each kind of incident is injected. See the module docs of
/// [`crate::simulate`] for what each incident looks like on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Sensor faults (out-of-physical-range values for a few minutes, or a stuck value for over
    /// an hour), per device per simulated hour.
    pub fault_rate: f64,
    /// Limit breaches (water residual low/high, turbidity high; waste door left open,
    /// refrigeration failure, short handover weight, missed pickup, a bag left over by the
    /// pickups, a handed-over bag never weighed in, no disinfection), per device per hour.
    pub breach_rate: f64,
    /// Outages (the device stops publishing, then comes back), per device per simulated hour.
    pub offline_rate: f64,
    /// Outage length in minutes, inclusive range.
    pub offline_minutes: (u32, u32),
    /// Fraction of autoclave load cycles that go wrong (too-short hold, air in the chamber,
    /// aborted), 0..=1.
    pub cycle_fault_rate: f64,
    /// Water-monitor maintenance/calibration windows, per device per simulated hour.
    pub maintenance_rate: f64,
    /// Whether a device that comes back after an outage flushes the telemetry it buffered
    /// (as one JSON array) as well as its events. Events are always buffered: a scale's ledger
    /// is never lost.
    pub buffer_telemetry_when_offline: bool,
}

impl Scenario {
    /// Nothing goes wrong: every value is inside its limits, every cycle passes.
    pub fn calm() -> Self {
        Self {
            fault_rate: 0.0,
            breach_rate: 0.0,
            offline_rate: 0.0,
            offline_minutes: (20, 40),
            cycle_fault_rate: 0.0,
            maintenance_rate: 0.0,
            buffer_telemetry_when_offline: true,
        }
    }

    /// Rates of a plausible real district: a few incidents per device per month.
    pub fn realistic() -> Self {
        Self {
            fault_rate: 0.002,
            breach_rate: 0.003,
            offline_rate: 0.002,
            offline_minutes: (20, 180),
            cycle_fault_rate: 0.01,
            maintenance_rate: 1.0 / (24.0 * 7.0),
            buffer_telemetry_when_offline: true,
        }
    }

    /// For a live demo: with a dozen devices something happens every few minutes.
    pub fn demo() -> Self {
        Self {
            fault_rate: 0.3,
            breach_rate: 0.5,
            offline_rate: 0.06,
            offline_minutes: (18, 30),
            cycle_fault_rate: 0.25,
            maintenance_rate: 0.05,
            buffer_telemetry_when_offline: false,
        }
    }
}

impl Scenario {
    /// The preset names accepted by [`Scenario::by_name`].
    pub const NAMES: [&'static str; 3] = ["calm", "realistic", "demo"];

    /// A preset by name (`calm`, `realistic`, `demo`), e.g. for a `--scenario` flag.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "calm" => Some(Self::calm()),
            "realistic" => Some(Self::realistic()),
            "demo" => Some(Self::demo()),
            _ => None,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self::realistic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_name_resolves_and_others_do_not() {
        for name in Scenario::NAMES {
            assert!(Scenario::by_name(name).is_some(), "{name}");
        }
        assert_eq!(Scenario::by_name("demo"), Some(Scenario::demo()));
        assert_eq!(Scenario::by_name("Demo"), None);
    }

    #[test]
    fn the_calm_preset_injects_nothing() {
        let c = Scenario::calm();
        assert_eq!(
            (
                c.fault_rate,
                c.breach_rate,
                c.offline_rate,
                c.cycle_fault_rate,
                c.maintenance_rate
            ),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
    }
}
