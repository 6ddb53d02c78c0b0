//! Topic grammar (docs/payload-contract.md, topics): `{prefix}/{site}/{device}/{channel}`.

use crate::config::is_valid_id;
use crate::reject::{Reason, Rejection};

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Telemetry,
    Event,
    Hj212,
    Status,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Self::Telemetry, Self::Event, Self::Hj212, Self::Status];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Event => "event",
            Self::Hj212 => "hj212",
            Self::Status => "status",
        }
    }
}

/// A parsed inbound topic, borrowing from the topic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    pub site: &'a str,
    pub device: &'a str,
    pub channel: Channel,
}

impl<'a> Topic<'a> {
    /// Parses `topic` under `prefix` (without a trailing slash).
    ///
    /// # Errors
    /// `bad_topic` with what is wrong.
    pub fn parse(prefix: &str, topic: &'a str) -> Result<Topic<'a>, Rejection> {
        let rest = topic
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| {
                Rejection::new(
                    Reason::BadTopic,
                    format!("topic {topic:?} is not under {prefix}/"),
                )
            })?;
        let mut parts = rest.split('/');
        let (Some(site), Some(device), Some(channel), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::new(
                Reason::BadTopic,
                format!("topic {topic:?} is not {prefix}/{{site}}/{{device}}/{{channel}}"),
            ));
        };
        for (what, id) in [("site", site), ("device", device)] {
            if !is_valid_id(id) {
                return Err(Rejection::new(
                    Reason::BadTopic,
                    format!("{what} id {id:?} in topic {topic:?} must match [A-Za-z0-9_-]{{1,64}}"),
                ));
            }
        }
        let channel = Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == channel)
            .ok_or_else(|| {
                Rejection::new(
                    Reason::BadTopic,
                    format!("channel {channel:?} in topic {topic:?} is not telemetry, event, hj212 or status"),
                )
            })?;
        Ok(Topic {
            site,
            device,
            channel,
        })
    }

    /// The subscription filters for `prefix`.
    pub fn filters(prefix: &str) -> Vec<String> {
        Channel::ALL
            .iter()
            .map(|c| format!("{prefix}/+/+/{}", c.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_telemetry_topic() {
        let t = Topic::parse("weijian/v1", "weijian/v1/site-1/dev_2/telemetry").unwrap();
        assert_eq!(
            (t.site, t.device, t.channel),
            ("site-1", "dev_2", Channel::Telemetry)
        );
    }

    #[test]
    fn rejects_topics_outside_the_grammar() {
        for bad in [
            "other/v1/s/d/telemetry",
            "weijian/v1/s/d",
            "weijian/v1/s/d/telemetry/x",
            "weijian/v1/s/d/metrics",
            "weijian/v1/s.x/d/telemetry",
            "weijian/v1//d/telemetry",
            "weijian/v1/s/d/hj212/ack",
        ] {
            let err = Topic::parse("weijian/v1", bad).unwrap_err();
            assert_eq!(err.reason, Reason::BadTopic, "{bad}");
        }
        let long = format!("weijian/v1/{}/d/telemetry", "s".repeat(65));
        assert!(Topic::parse("weijian/v1", &long).is_err());
    }
}
