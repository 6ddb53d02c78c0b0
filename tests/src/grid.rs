//! A small supervision grid for delivery tests: district `d`, street `st`, communities `c0`
//! and `c1`, one water site with one monitor in each, and a supervisor per cell whose
//! notices go to a local webhook receiver path named after the cell.

use std::path::PathBuf;

use crate::harness::Env;
use crate::receiver::Receiver;

/// The API token of a supervisor in [`supervisors_toml`] (`token-<id>`).
pub fn token(supervisor: &str) -> String {
    format!("token-{supervisor}")
}

/// Sites `s0` (community `c0`) and `s1` (community `c1`) with monitors `d0`, `d1`, plus
/// `extra_devices_at_s0` more monitors `x0..` at `s0`.
pub fn registry(extra_devices_at_s0: usize) -> String {
    let mut toml = String::new();
    for i in 0..2 {
        toml.push_str(&format!(
            "[[sites]]\nid = \"s{i}\"\nname = \"水厂{i}\"\nkind = \"water\"\n\
             grid = {{ district = \"d\", street = \"st\", community = \"c{i}\" }}\n\
             water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n\
             [[devices]]\nid = \"d{i}\"\nsite = \"s{i}\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\n"
        ));
    }
    for i in 0..extra_devices_at_s0 {
        toml.push_str(&format!(
            "[[devices]]\nid = \"x{i}\"\nsite = \"s0\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\n"
        ));
    }
    toml
}

/// Supervisors: `sq-c0`, `sq-c1` (communities), `jd-st` (street), `qu-d` (district), each
/// with a webhook to `receiver` at the path `c0`, `c1`, `st`, `d`. `timing` is the
/// `[delivery]` table of the supervisors file.
pub fn supervisors_toml(receiver: &Receiver, timing: &str) -> String {
    let mut toml = format!("[delivery]\n{timing}\n\n");
    for (id, cell, path) in [
        (
            "sq-c0",
            "{ district = \"d\", street = \"st\", community = \"c0\" }",
            "c0",
        ),
        (
            "sq-c1",
            "{ district = \"d\", street = \"st\", community = \"c1\" }",
            "c1",
        ),
        ("jd-st", "{ district = \"d\", street = \"st\" }", "st"),
        ("qu-d", "{ district = \"d\" }", "d"),
    ] {
        toml.push_str(&format!(
            "[[supervisors]]\nid = \"{id}\"\nname = \"{id} 值班\"\ncell = {cell}\n\
             token_sha256 = \"{}\"\n\
             channels = [{{ kind = \"webhook\", target = \"{}\" }}]\n\n",
            weijian_service::supervision::desk::token_sha256(&token(id)),
            receiver.url(path),
        ));
    }
    toml
}

/// Writes the supervisors file into the environment's directory and returns the weijian
/// configuration text with delivery on, timers every second and `extra` appended.
///
/// # Errors
/// The file cannot be written.
pub fn config_with_delivery(
    env: &Env,
    registry: &str,
    supervisors: &str,
    extra: &str,
) -> anyhow::Result<String> {
    let path: PathBuf = env.spool_dir.path().join("supervisors.toml");
    std::fs::write(&path, supervisors)?;
    Ok(format!(
        "{}\n[alerts]\ntick_interval_secs = 1\n\n[delivery]\nsupervisors_file = \"{}\"\nretry_initial_secs = 1\nretry_max_secs = 2\n\n{extra}\n",
        env.config_text(registry, ""),
        path.display()
    ))
}
