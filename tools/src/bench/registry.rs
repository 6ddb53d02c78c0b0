//! Configuration for benchmark fleets: `N` water monitors `d0..d{N-1}`, each at its own water
//! site `s0..s{N-1}` (outlet, free chlorine), optionally with an HJ 212 MN each, plus a
//! complete weijian configuration around them (`weijian bench --print-config`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// Writes the same fleet as [`water_registry`] as two JSON Lines files, `sites.jsonl` and
/// `devices.jsonl` in `dir` (the `[registry] sites_file` / `devices_file` form, which loads
/// 100,000 devices without a TOML document tree); returns their paths.
///
/// # Errors
/// A file cannot be written.
pub fn write_registry_files(
    dir: &Path,
    devices: usize,
    hj212: bool,
) -> std::io::Result<(PathBuf, PathBuf)> {
    use std::io::Write as _;
    let sites_path = dir.join("sites.jsonl");
    let devices_path = dir.join("devices.jsonl");
    let mut sites = std::io::BufWriter::new(std::fs::File::create(&sites_path)?);
    let mut devs = std::io::BufWriter::new(std::fs::File::create(&devices_path)?);
    for i in 0..devices {
        writeln!(
            sites,
            "{{\"id\":\"s{i}\",\"name\":\"bench water site {i}\",\"kind\":\"water\",\
             \"grid\":{{\"district\":\"bench\",\"street\":\"st{}\",\"community\":\"c{i}\"}},\
             \"water\":{{\"point\":\"outlet\",\"disinfectant\":\"free_chlorine\"}}}}",
            i / 100
        )?;
        write!(
            devs,
            "{{\"id\":\"d{i}\",\"site\":\"s{i}\",\"kind\":\"water_monitor\",\"expected_interval_secs\":60"
        )?;
        if hj212 {
            write!(devs, ",\"hj212\":{{\"mn\":\"{}\"}}", mn(i))?;
        }
        writeln!(devs, "}}")?;
    }
    sites.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    devs.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((sites_path, devices_path))
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
    let mut text = settings_text(c);
    text.push_str(&water_registry(c.devices, c.hj212));
    text
}

/// The same configuration with the registry in files written by [`write_registry_files`]
/// (`[registry] sites_file`, `devices_file`) instead of `[[sites]]`/`[[devices]]` tables.
pub fn config_text_with_files(c: &BenchConfig<'_>, sites: &Path, devices: &Path) -> String {
    let mut text = settings_text(c);
    let _ = write!(
        text,
        "[registry]\nsites_file = \"{}\"\ndevices_file = \"{}\"\n",
        sites.display(),
        devices.display()
    );
    text
}

/// Everything but the registry.
fn settings_text(c: &BenchConfig<'_>) -> String {
    format!(
        "# weijian benchmark configuration ({devices} water monitors d0..d{last} at sites s0..s{last})\n\
         [mqtt]\nhost = \"{host}\"\nport = {port}\nclient_id = \"{client}\"\ninflight = 1000\n\
         session_expiry_secs = 60\ntopic_prefix = \"{topic}\"\n\n\
         [questdb]\nconf = \"{conf}\"\ntable_prefix = \"{table}\"\n\n\
         [spool]\ndir = \"{spool}\"\n\n[http]\nlisten = \"{http}\"\n\n",
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
    )
}

/// Parses a benchmark configuration.
///
/// # Errors
/// The generated configuration does not validate (a bug here).
pub fn parse(c: &BenchConfig<'_>) -> Result<weijian_ingest::config::Config, super::BenchError> {
    let text = config_text(c);
    weijian_ingest::config::Config::parse(&text, "bench", &weijian_ingest::config::ProcessEnv)
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
            // The same fleet from JSON Lines files.
            let files = crate::bench::TempDir::new("bench-registry-test").unwrap();
            let (s, d) = write_registry_files(files.path(), 250, hj212).unwrap();
            let text = config_text_with_files(&c, &s, &d);
            let from_files = weijian_ingest::config::Config::parse(
                &text,
                "bench",
                &weijian_ingest::config::ProcessEnv,
            )
            .unwrap();
            assert!(from_files.registry.sites().eq(config.registry.sites()));
            assert!(from_files.registry.devices().eq(config.registry.devices()));
        }
    }
}
