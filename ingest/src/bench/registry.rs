//! Configuration for benchmark fleets: `N` water monitors `d0..d{N-1}`, each at its own water
//! site `s0..s{N-1}` (outlet, free chlorine), optionally with an HJ 212 MN each, plus a
//! complete weijian configuration around them (`weijian bench --print-config`).

use std::fmt::Write as _;
use std::path::Path;

/// The HJ 212 MN of benchmark device `i`.
pub fn mn(i: usize) -> String {
    format!("WJBENCH{i:09}")
}

/// The device id of benchmark device `i`.
pub fn device_id(i: usize) -> String {
    format!("d{i}")
}

/// The site id of benchmark device `i`.
pub fn site_id(i: usize) -> String {
    format!("s{i}")
}

/// `[[sites]]` and `[[devices]]` for `devices` water monitors; with `hj212`, each device
/// also gets `hj212 = { mn = "WJBENCH…" }` so it may publish HJ 212 frames.
pub fn water_registry(devices: usize, hj212: bool) -> String {
    let mut toml = String::with_capacity(devices * 320);
    for i in 0..devices {
        let _ = write!(
            toml,
            "[[sites]]\nid = \"s{i}\"\nname = \"bench water site {i}\"\nkind = \"water\"\n\
             grid = {{ district = \"bench\", street = \"st{}\", community = \"c{i}\" }}\n\
             water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n\
             [[devices]]\nid = \"d{i}\"\nsite = \"s{i}\"\nkind = \"water_monitor\"\n\
             expected_interval_secs = 60\n",
            i / 100
        );
        if hj212 {
            let _ = writeln!(toml, "hj212 = {{ mn = \"{}\" }}", mn(i));
        }
        toml.push('\n');
    }
    toml
}

/// Everything a benchmark configuration varies.
#[derive(Debug, Clone)]
pub struct BenchConfig<'a> {
    pub broker_host: &'a str,
    pub broker_port: u16,
    pub client_id: &'a str,
    /// MQTT topic prefix (each benchmark phase uses its own, so sessions left by an earlier
    /// phase never receive a later phase's traffic).
    pub topic_prefix: &'a str,
    /// questdb-rs configuration string (`http::addr=127.0.0.1:PORT;`).
    pub questdb_conf: &'a str,
    pub table_prefix: &'a str,
    pub spool_dir: &'a Path,
    pub http_listen: &'a str,
    pub devices: usize,
    pub hj212: bool,
}

/// A complete weijian configuration (TOML text). Production defaults everywhere except the
/// session expiry (60 s, so a stopped phase's session does not linger) and the prefixes.
pub fn config_text(c: &BenchConfig<'_>) -> String {
    format!(
        "# weijian benchmark configuration ({devices} water monitors d0..d{last} at sites s0..s{last})\n\
         [mqtt]\nhost = \"{host}\"\nport = {port}\nclient_id = \"{client}\"\ninflight = 1000\n\
         session_expiry_secs = 60\ntopic_prefix = \"{topic}\"\n\n\
         [questdb]\nconf = \"{conf}\"\ntable_prefix = \"{table}\"\n\n\
         [spool]\ndir = \"{spool}\"\n\n[http]\nlisten = \"{http}\"\n\n{registry}",
        devices = c.devices,
        last = c.devices.saturating_sub(1),
        host = c.broker_host,
        port = c.broker_port,
        client = c.client_id,
        topic = c.topic_prefix,
        conf = c.questdb_conf,
        table = c.table_prefix,
        spool = c.spool_dir.display(),
        http = c.http_listen,
        registry = water_registry(c.devices, c.hj212),
    )
}

/// Parses a benchmark configuration.
///
/// # Errors
/// The generated configuration does not validate (a bug here).
pub fn parse(c: &BenchConfig<'_>) -> Result<crate::config::Config, super::BenchError> {
    let text = config_text(c);
    crate::config::Config::parse(&text, "bench", &crate::config::ProcessEnv)
        .map_err(|e| super::BenchError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_configuration_validates_with_every_device() {
        let dir = std::env::temp_dir();
        for hj212 in [false, true] {
            let c = BenchConfig {
                broker_host: "127.0.0.1",
                broker_port: 1883,
                client_id: "bench",
                topic_prefix: "bench1/v1",
                questdb_conf: "http::addr=127.0.0.1:9000;",
                table_prefix: "b1_",
                spool_dir: &dir,
                http_listen: "127.0.0.1:0",
                devices: 250,
                hj212,
            };
            let config = parse(&c).unwrap();
            assert_eq!(config.registry.device_count(), 250);
            assert_eq!(config.registry.site_count(), 250);
            let d = config.registry.device("d249").unwrap();
            assert_eq!(&*d.site, "s249");
            assert_eq!(config.mqtt.topic_prefix, "bench1/v1");
        }
    }
}
