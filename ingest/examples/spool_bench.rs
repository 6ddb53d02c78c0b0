//! Spool throughput and commit-latency measurement.
//!
//! Appends `--records` records of `--size` bytes from `--tasks` concurrent tasks, each keeping
//! one append in flight (like an MQTT in-flight window of `--tasks` messages), while a reader
//! drains and commits. Prints appends/s, append latency (call to durable) percentiles, and the
//! group-commit (write + fsync) duration from the `weijian_spool_commit_duration_seconds`
//! histogram.
//!
//! ```text
//! cargo run --release -p weijian-ingest --example spool_bench -- \
//!     --records 200000 --tasks 256 --size 200 --delay-ms 0 --commit-interval-ms 100 \
//!     [--dir /path/on/the/spool/disk]
//! ```
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weijian_ingest::spool::{self, SpoolConfig, SpoolMetrics};

struct Args {
    records: usize,
    tasks: usize,
    size: usize,
    delay_ms: u64,
    commit_interval_ms: u64,
    dir: Option<String>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut a = Args {
        records: 200_000,
        tasks: 256,
        size: 200,
        delay_ms: 0,
        commit_interval_ms: 100,
        dir: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--records" => a.records = value.parse()?,
            "--tasks" => a.tasks = value.parse()?,
            "--size" => a.size = value.parse()?,
            "--delay-ms" => a.delay_ms = value.parse()?,
            "--commit-interval-ms" => a.commit_interval_ms = value.parse()?,
            "--dir" => a.dir = Some(value.clone()),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Upper bound of the bucket holding the `p` quantile of a histogram.
fn histogram_quantile(h: &prometheus::Histogram, p: f64) -> String {
    let buckets = spool::COMMIT_DURATION_BUCKETS;
    let total = h.get_sample_count();
    let target = (total as f64 * p).ceil() as u64;
    // Re-derive cumulative counts from the gathered proto.
    let families = prometheus::core::Collector::collect(h);
    let buckets_seen = families
        .iter()
        .flat_map(|f| f.get_metric())
        .flat_map(|m| m.get_histogram().get_bucket());
    for b in buckets_seen {
        if b.cumulative_count() >= target {
            return format!("<= {:.2} ms", b.upper_bound() * 1000.0);
        }
    }
    format!(
        "> {:.0} ms",
        buckets.last().copied().unwrap_or(1.0) * 1000.0
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let tmp;
    let dir = match &args.dir {
        Some(d) => std::path::PathBuf::from(d).join(format!("spool-bench-{}", std::process::id())),
        None => {
            tmp = tempfile_dir();
            tmp.clone()
        }
    };
    let registry = prometheus::Registry::new();
    let metrics = SpoolMetrics::register(&registry)?;
    let mut config = SpoolConfig::new(&dir);
    config.group_commit_delay_ms = args.delay_ms;
    let (writer, mut reader, _) = spool::open(config, metrics.clone()).await?;

    // Drains like the QuestDB writer: reads continuously, commits at most every interval.
    let commit_interval = Duration::from_millis(args.commit_interval_ms);
    let drain = tokio::spawn(async move {
        let mut n = 0usize;
        let mut last_commit = Instant::now();
        loop {
            match reader.next_batch(10_000, Duration::from_millis(100)).await {
                Ok(batch) => {
                    if let Some(last) = batch.last() {
                        if last_commit.elapsed() >= commit_interval {
                            reader.commit(last.pos).await?;
                            last_commit = Instant::now();
                        }
                    }
                    n += batch.len();
                }
                Err(spool::SpoolError::Closed) => return Ok::<_, spool::SpoolError>(n),
                Err(e) => return Err(e),
            }
        }
    });

    let per_task = args.records / args.tasks;
    let payload = Arc::new(vec![0x5Au8; args.size]);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.tasks {
        let w = writer.clone();
        let p = Arc::clone(&payload);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                w.append(p.to_vec()).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, spool::SpoolError>(lat)
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await??);
    }
    let elapsed = started.elapsed();
    let stats = writer.stats();
    writer.shutdown().await;
    let drained = drain.await??;
    lat.sort();

    let n = lat.len();
    println!(
        "records={n} size={}B tasks={} group_commit_delay_ms={} commit_interval_ms={} dir={}",
        args.size,
        args.tasks,
        args.delay_ms,
        args.commit_interval_ms,
        dir.display()
    );
    println!(
        "appends/s={:.0} elapsed={:.2}s group_commits={} records/commit={:.1} drained={drained}",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        stats.group_commits,
        stats.appended_records as f64 / stats.group_commits.max(1) as f64
    );
    println!(
        "append latency (call -> durable): p50={:.2}ms p99={:.2}ms max={:.2}ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        percentile(&lat, 1.0).as_secs_f64() * 1e3
    );
    let h = &metrics_histogram(&metrics);
    println!(
        "group commit (write+fsync): mean={:.2}ms p50 {} p99 {}",
        h.get_sample_sum() / h.get_sample_count().max(1) as f64 * 1e3,
        histogram_quantile(h, 0.50),
        histogram_quantile(h, 0.99)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn metrics_histogram(m: &SpoolMetrics) -> prometheus::Histogram {
    m.commit_duration_histogram()
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("weijian-spool-bench-{}", std::process::id()))
}
