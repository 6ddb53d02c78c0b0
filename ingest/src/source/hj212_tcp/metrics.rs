//! The listener's metrics, `weijian_hj212_tcp_*` (listed in docs/operations.md). Labels are
//! reasons and outcomes, never a device, an MN or an address.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// `reason` labels of `weijian_hj212_tcp_connections_closed_total`: why weijian ended a
/// connection (`peer` = the logger closed it, `max_connections` = refused at accept).
pub const CLOSE_REASONS: [&str; 7] = [
    "max_connections",
    "idle_timeout",
    "frame_too_large",
    "source_not_allowed",
    "spool_error",
    "shutdown",
    "peer",
];

/// `outcome` labels of `weijian_hj212_tcp_frames_total`.
pub const FRAME_OUTCOMES: [&str; 5] = [
    "spooled",
    "unknown_mn",
    "bad_password",
    "source_not_allowed",
    "no_mn",
];

/// Every listener metric.
#[derive(Debug, Clone)]
pub struct Hj212TcpMetrics {
    /// Connections open now.
    pub connections_open: IntGauge,
    /// Connections accepted (below `max_connections`).
    pub connections_accepted: IntCounter,
    /// Connections ended by weijian or the logger, by reason (refused at accept included).
    pub connections_closed: IntCounterVec,
    /// Frames received, by outcome: spooled (then answered) or refused and why.
    pub frames: IntCounterVec,
    /// Replies sent on connections, by command: `9014` (data acknowledged) or `9011` (refused,
    /// with QnRtn).
    pub replies: IntCounterVec,
    /// Bytes outside any frame that were not separators.
    pub garbage_bytes: IntCounter,
}

impl Hj212TcpMetrics {
    /// Creates and registers the metrics.
    ///
    /// # Errors
    /// A name registered twice in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.connections_open.clone()))?;
        registry.register(Box::new(m.connections_accepted.clone()))?;
        registry.register(Box::new(m.connections_closed.clone()))?;
        registry.register(Box::new(m.frames.clone()))?;
        registry.register(Box::new(m.replies.clone()))?;
        registry.register(Box::new(m.garbage_bytes.clone()))?;
        Ok(m)
    }

    /// Metrics not registered anywhere (tests).
    ///
    /// # Errors
    /// Never in practice: the options are constant and valid.
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        let m = Self {
            connections_open: IntGauge::new(
                "weijian_hj212_tcp_connections_open",
                "HJ 212 TCP connections open now.",
            )?,
            connections_accepted: IntCounter::new(
                "weijian_hj212_tcp_connections_accepted_total",
                "HJ 212 TCP connections accepted.",
            )?,
            connections_closed: IntCounterVec::new(
                Opts::new(
                    "weijian_hj212_tcp_connections_closed_total",
                    "HJ 212 TCP connections ended, by reason (max_connections: refused at accept; peer: the logger closed it).",
                ),
                &["reason"],
            )?,
            frames: IntCounterVec::new(
                Opts::new(
                    "weijian_hj212_tcp_frames_total",
                    "HJ 212 frames received over TCP, by outcome (spooled, or refused and why).",
                ),
                &["outcome"],
            )?,
            replies: IntCounterVec::new(
                Opts::new(
                    "weijian_hj212_tcp_replies_total",
                    "Replies sent on HJ 212 TCP connections, by command (9014 data acknowledged, 9011 refused with QnRtn).",
                ),
                &["cn"],
            )?,
            garbage_bytes: IntCounter::new(
                "weijian_hj212_tcp_garbage_bytes_total",
                "Bytes outside any HJ 212 frame on TCP connections (separators not counted).",
            )?,
        };
        for reason in CLOSE_REASONS {
            m.connections_closed.with_label_values(&[reason]);
        }
        for outcome in FRAME_OUTCOMES {
            m.frames.with_label_values(&[outcome]);
        }
        for cn in ["9014", "9011"] {
            m.replies.with_label_values(&[cn]);
        }
        Ok(m)
    }
}
