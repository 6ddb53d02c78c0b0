//! Validation of `[delivery]`: the supervisors file (loaded against the sites, every channel
//! checked so that a notice never fails for a reason visible at start), notifier timing and
//! `[delivery.smtp]`.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;

use super::super::delivery::{SmtpSettings, SmtpTls};
use super::super::raw;
use super::super::{DeliverySettings, Registry};
use super::Validator;

impl Validator<'_> {
    pub(super) fn delivery(
        &mut self,
        d: raw::RawDelivery,
        registry: &Registry,
    ) -> DeliverySettings {
        let mut out = DeliverySettings::default();
        for (value, key) in [
            (&d.http_timeout_secs, "delivery.http_timeout_secs"),
            (&d.retry_initial_secs, "delivery.retry_initial_secs"),
            (&d.retry_max_secs, "delivery.retry_max_secs"),
            (&d.outbox_max_mib, "delivery.outbox_max_mib"),
        ] {
            if *value.get_ref() == 0 {
                self.err(value, key, "must be at least 1");
            }
        }
        if d.retry_max_secs.get_ref() < d.retry_initial_secs.get_ref() {
            self.err(
                &d.retry_max_secs,
                "delivery.retry_max_secs",
                format!(
                    "must be at least retry_initial_secs ({})",
                    d.retry_initial_secs.get_ref()
                ),
            );
        }
        out.http_timeout = Duration::from_secs((*d.http_timeout_secs.get_ref()).max(1));
        out.retry.initial_delay = Duration::from_secs((*d.retry_initial_secs.get_ref()).max(1));
        out.retry.max_delay =
            Duration::from_secs(*d.retry_max_secs.get_ref()).max(out.retry.initial_delay);
        out.outbox_max_bytes = (*d.outbox_max_mib.get_ref()).max(1).saturating_mul(1 << 20);
        let timeout = out.http_timeout;
        out.smtp = d.smtp.map(|s| self.smtp(s, timeout));
        let Some(path) = d.supervisors_file else {
            return out;
        };
        let file = self.path(&path).display().to_string();
        let Some(text) = self.read_interpolated(&path, "delivery.supervisors_file") else {
            return out;
        };
        let sites = registry.alerting_sites();
        match alerting::delivery::DeliveryConfig::from_toml(&text, &file, &sites) {
            Ok(loaded) => {
                out.warnings = loaded.warnings.iter().map(ToString::to_string).collect();
                // The secrets the channels name, from the configuration's environment.
                let secrets: HashMap<String, String> = loaded
                    .config
                    .supervisors
                    .iter()
                    .flat_map(|s| &s.channels)
                    .filter_map(|ch| ch.secret_env.as_ref())
                    .filter_map(|name| {
                        self.env
                            .var(name)
                            .filter(|v| !v.is_empty())
                            .map(|v| (name.clone(), v))
                    })
                    .collect();
                for s in &loaded.config.supervisors {
                    for ch in &s.channels {
                        let problem = if ch.kind == alerting::delivery::ChannelKind::Email
                            && out.smtp.is_none()
                        {
                            Some("e-mail channels need [delivery.smtp] in this file".to_owned())
                        } else {
                            self.channels.check(ch, &secrets).err()
                        };
                        if let Some(problem) = problem {
                            self.err(
                                &path,
                                "delivery.supervisors_file",
                                format!(
                                    "{file}: supervisor {} channel {}: {problem}",
                                    s.id,
                                    ch.kind.as_str()
                                ),
                            );
                        }
                    }
                }
                out.supervisors = Some(loaded.config);
                out.supervisors_source = Some(file);
            }
            Err(errors) => {
                let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
                self.err(
                    &path,
                    "delivery.supervisors_file",
                    format!(
                        "the supervisors file {file:?} is invalid:\n    {}",
                        shown.join("\n    ")
                    ),
                );
            }
        }
        out
    }

    fn smtp(&mut self, s: raw::RawSmtp, timeout: Duration) -> SmtpSettings {
        let tls = match s.tls.get_ref().as_str() {
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            other => {
                self.err(
                    &s.tls,
                    "delivery.smtp.tls",
                    format!("{other:?} is not one of starttls, tls, none"),
                );
                SmtpTls::StartTls
            }
        };
        if s.host.get_ref().trim().is_empty() {
            self.err(&s.host, "delivery.smtp.host", "must not be empty");
        }
        if !s.from.get_ref().contains('@') {
            self.err(
                &s.from,
                "delivery.smtp.from",
                format!(
                    "{:?} is not a mailbox like \"weijian <alerts@example.org>\"",
                    s.from.get_ref()
                ),
            );
        }
        if s.username.is_some() != s.password_env.is_some() {
            self.err(
                &s.host,
                "delivery.smtp",
                "set username and password_env together (or neither, for a relay without login)",
            );
        }
        if let Some(env) = &s.password_env {
            if self.env.var(env.get_ref()).is_none() {
                self.err(
                    env,
                    "delivery.smtp.password_env",
                    format!("environment variable {} is not set", env.get_ref()),
                );
            }
        }
        SmtpSettings {
            host: s.host.into_inner(),
            port: s.port.into_inner(),
            tls,
            from: s.from.into_inner(),
            username: s.username,
            password_env: s.password_env.map(Spanned::into_inner),
            timeout,
        }
    }
}
