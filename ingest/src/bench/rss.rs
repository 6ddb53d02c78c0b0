//! Resident memory of a process, from `/proc/<pid>/status` (Linux).

/// `VmRSS` and `VmHWM` (peak) in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rss {
    pub rss: u64,
    pub peak: u64,
}

/// Memory of process `pid` (`None` = this process).
///
/// # Errors
/// Not Linux, or the process is gone.
pub fn of(pid: Option<u32>) -> std::io::Result<Rss> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    Ok(parse(&std::fs::read_to_string(path)?))
}

fn parse(status: &str) -> Rss {
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |n| n * 1024)
    };
    Rss {
        rss: kib("VmRSS:"),
        peak: kib("VmHWM:"),
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_parsed_and_this_process_has_memory() {
        let r = parse("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n");
        assert_eq!(
            r,
            Rss {
                rss: 1 << 20,
                peak: 2 << 20
            }
        );
        let me = of(None).unwrap();
        assert!(me.rss > 0 && me.peak >= me.rss);
    }
}
