//! `weijian check-config`: validate a configuration file (supervisors' channels checked as
//! their notifiers read them) and explain what it sets up; run the rule pack's shipped tests;
//! with `--probe`, see whether the broker, QuestDB and SMTP answer.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::common::{config_path, load, print_stdout};

/// The arguments of `weijian check-config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file; default: $WEIJIAN_CONFIG.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Also connect to the broker, QuestDB and the SMTP relay and report which answer (exit 1
    /// if one does not).
    #[arg(long)]
    pub probe: bool,
}

/// Validates, prints the summary, runs the pack tests.
pub fn main(args: Args) -> ExitCode {
    match config_path(args.config) {
        Ok(path) => check_config(&path, args.probe),
        Err(code) => code,
    }
}

/// Appends a formatted line to the report.
macro_rules! say {
    ($out:ident, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

fn check_config(path: &std::path::Path, probe: bool) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut out = String::new();
    let code = report(path, &config, probe, &mut out);
    print_stdout(&out, code)
}

/// Writes the summary (and with `probe`, what answered) to `out`; the exit code says whether
/// the pack tests pass and, with `probe`, every service answered.
fn report(
    path: &std::path::Path,
    config: &weijian_ingest::config::Config,
    probe: bool,
    out: &mut String,
) -> ExitCode {
    say!(out, "{}: configuration is valid.", path.display());
    say!(
        out,
        "  broker      {}:{} (MQTT {}, client id {:?}, inflight window {})",
        config.mqtt.host,
        config.mqtt.port,
        match config.mqtt.protocol {
            weijian_ingest::config::MqttProtocol::V5 => "5",
            weijian_ingest::config::MqttProtocol::V311 => "3.1.1",
        },
        config.mqtt.client_id,
        config.mqtt.inflight
    );
    say!(
        out,
        "  topics      {}/{{site}}/{{device}}/{{telemetry|event|hj212|status}}",
        config.mqtt.topic_prefix
    );
    say!(
        out,
        "  questdb     {} (table prefix {:?})",
        config.questdb.endpoint.redacted(),
        config.questdb.table_prefix
    );
    say!(
        out,
        "  spool       {} (max {} MiB)",
        config.spool.dir.display(),
        config.spool.max_bytes >> 20
    );
    say!(out, "  http        {}", config.http.listen);
    let pack = &config.alerts.pack;
    say!(
        out,
        "  rules       {} rules from {} ({} {})",
        pack.rules.len(),
        config.alerts.pack_source,
        pack.name,
        pack.version
    );
    say!(out, "{}", crate::risk::describe(&pack.risk));
    say!(
        out,
        "  registry    {} sites, {} devices",
        config.registry.site_count(),
        config.registry.device_count()
    );
    for site in config.registry.sites() {
        let devices: Vec<_> = config
            .registry
            .devices()
            .filter(|d| d.site == site.id)
            .map(|d| format!("{} ({})", d.id, d.kind))
            .collect();
        say!(
            out,
            "    {:<20} {:<22} {}  [{}]",
            &*site.id,
            site.attributes.kind().as_str(),
            site.grid,
            devices.join(", ")
        );
    }
    match (
        &config.delivery.supervisors,
        &config.delivery.supervisors_source,
    ) {
        (Some(d), Some(source)) => {
            let t = &d.timing;
            say!(
            out,
                "  delivery    {} supervisors from {source}; ack deadlines I/II/III/IV {}/{}/{}/{} min, group window {} s{}",
                d.supervisors.len(),
                t.ack_deadline_mins.i,
                t.ack_deadline_mins.ii,
                t.ack_deadline_mins.iii,
                t.ack_deadline_mins.iv,
                t.group_window_secs,
                if config.delivery.smtp.is_some() { ", e-mail on" } else { "" }
            );
            for s in &d.supervisors {
                let channels: Vec<&str> = s.channels.iter().map(|c| c.kind.as_str()).collect();
                say!(
                    out,
                    "    {:<20} {:<10} {}  [{}]",
                    s.id,
                    s.tier().as_str(),
                    s.cell,
                    channels.join(", ")
                );
            }
            for w in &config.delivery.warnings {
                say!(out, "  warning: {w}");
            }
        }
        _ => say!(
            out,
            "  delivery    off (no [delivery] supervisors_file): nobody is notified, no alert API"
        ),
    }
    let failures = alerting::run_pack_tests(pack);
    let answered = !probe || crate::probe::probe_all(config, out);
    if failures.is_empty() {
        say!(
            out,
            "  rule tests  {} shipped test cases pass",
            pack.tests.len()
        );
        if answered {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    } else {
        say!(
            out,
            "  rule tests  {} of {} FAILED:",
            failures.len(),
            pack.tests.len()
        );
        for f in &failures {
            say!(out, "    {f}");
        }
        ExitCode::FAILURE
    }
}
