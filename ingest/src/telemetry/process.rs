//! The standard Prometheus process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, ...), read from `/proc/self` at each
//! scrape. On a system without `/proc` (not Linux) the collector yields nothing.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts};

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat` (`USER_HZ`): 100 on every
/// Linux architecture (a kernel ABI constant, whatever the kernel's internal HZ).
const USER_HZ: f64 = 100.0;

/// Collects the process metrics on each scrape.
#[derive(Debug)]
pub struct ProcessCollector {
    cpu: Counter,
    resident: IntGauge,
    virtual_memory: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    /// # Panics
    /// Never: the names and help texts are constant and valid.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help)).expect("a valid constant metric name")
        };
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))
        .expect("a valid constant metric name");
        let start_time = Gauge::with_opts(Opts::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        ))
        .expect("a valid constant metric name");
        let resident = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        );
        let virtual_memory = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        );
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.");
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        );
        let threads = gauge("process_threads", "Number of OS threads in the process.");
        let descs = [
            cpu.desc(),
            resident.desc(),
            virtual_memory.desc(),
            open_fds.desc(),
            max_fds.desc(),
            threads.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Self {
            cpu,
            resident,
            virtual_memory,
            open_fds,
            max_fds,
            threads,
            start_time,
            descs,
        }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// A `Key:   value kB` line of `/proc/self/status`, in bytes (or as a count without unit).
fn status_value(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].trim_start_matches(':').split_whitespace();
    let value: i64 = words.next()?.parse().ok()?;
    Some(if words.next() == Some("kB") {
        value * 1024
    } else {
        value
    })
}

/// Fields 14-15 (utime, stime) and 22 (starttime) of `/proc/self/stat`, in ticks.
fn stat_times(stat: &str) -> Option<(u64, u64, u64)> {
    // The command name (field 2) may hold spaces: count fields after its closing paren.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some((field(14)?, field(15)?, field(22)?))
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
            return Vec::new();
        };
        let mut families = Vec::new();
        if let Some((utime, stime, start)) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(stat_times)
        {
            let total = (utime + stime) as f64 / USER_HZ;
            self.cpu.inc_by((total - self.cpu.get()).max(0.0));
            families.extend(self.cpu.collect());
            let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
            if let Some(boot) = boot_time {
                self.start_time.set(boot as f64 + start as f64 / USER_HZ);
                families.extend(self.start_time.collect());
            }
        }
        for (gauge, key) in [
            (&self.resident, "VmRSS"),
            (&self.virtual_memory, "VmSize"),
            (&self.threads, "Threads"),
        ] {
            if let Some(v) = status_value(&status, key) {
                gauge.set(v);
                families.extend(gauge.collect());
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as i64);
            families.extend(self.open_fds.collect());
        }
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(3))
                    .and_then(|soft| soft.parse::<i64>().ok())
            });
        if let Some(max) = max_fds {
            self.max_fds.set(max);
            families.extend(self.max_fds.collect());
        }
        families
    }
}

/// Raises the soft limit of open files (`RLIMIT_NOFILE`) to the hard limit, so many TCP
/// connections (the HJ 212 listener, the load tool) do not run out of descriptors at the
/// default soft limit of 1024. Returns `(before, after)`; `None` when the limit cannot be read
/// or set (not Linux, or refused), which the caller logs.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current?;
    let Some(hard) = limit.maximum else {
        // Unlimited hard limit: a large, safe soft value.
        let raised = before.max(1 << 20);
        return setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: None,
            },
        )
        .ok()
        .map(|()| (before, raised));
    };
    if hard <= before {
        return Some((before, before));
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        },
    )
    .ok()
    .map(|()| (before, hard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_a_command_name_with_spaces() {
        let stat =
            "42 (tokio rt) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 12345 1000 200";
        assert_eq!(stat_times(stat), Some((250, 50, 12345)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_metrics_render_with_real_values() {
        let registry = prometheus::Registry::new();
        registry
            .register(Box::new(ProcessCollector::new()))
            .unwrap();
        let text = super::super::metrics::render(&registry);
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(&format!("\n{name} ")), "{name} in {text}");
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(rss > 1_000_000.0, "{rss}");
    }
}
