//! Resident memory and CPU time of a process, from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (Linux).

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

/// CPU time (user + system, all threads) of process `pid` (`None` = this process), from
/// `/proc/<pid>/stat` fields 14 and 15 in clock ticks (100 per second on Linux).
///
/// # Errors
/// Not Linux, or the process is gone.
pub fn cpu(pid: Option<u32>) -> std::io::Result<std::time::Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path)?;
    Ok(parse_cpu(&stat))
}

fn parse_cpu(stat: &str) -> std::time::Duration {
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": field 3 is fields[0]; utime (14) is fields[11], stime (15) fields[12].
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    std::time::Duration::from_millis((ticks(11) + ticks(12)) * 10)
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
        let stat = "1234 (a b) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0";
        assert_eq!(parse_cpu(stat), std::time::Duration::from_millis(2000));
        assert!(cpu(None).is_ok());
    }
}
