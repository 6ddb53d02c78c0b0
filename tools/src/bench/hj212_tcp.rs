//! `weijian loadgen-tcp`: many data loggers on the HJ 212 TCP listener at once. Opens one
//! connection per benchmark device (MN [`super::registry::mn`], registered by
//! `weijian bench --print-config --hj212`), each sending one real-time frame (CN 2011, Flag=5)
//! per interval and waiting for its 9014, then a burst: every connection sends `burst` frames
//! back to back. Reports connections held, acknowledged frames per second in the steady phase
//! and in the burst, and (with `--pid`) weijian's resident memory per connection: the RSS
//! growth from before the first connection to all connections open, divided by connections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use weijian_ingest::decode::hj212::{format_data_time, FrameBuilder};

/// What to run.
#[derive(Debug, Clone)]
pub struct TcpLoadOptions {
    /// The listener, `host:port`.
    pub addr: String,
    /// Connections (devices `d0..`), each with its own MN.
    pub connections: usize,
    /// One frame per connection per interval in the steady phase.
    pub interval: Duration,
    /// Length of the steady phase.
    pub steady: Duration,
    /// Frames per connection sent back to back after the steady phase.
    pub burst: usize,
    /// weijian's process id, to read its resident memory.
    pub pid: Option<u32>,
}

/// What was measured.
#[derive(Debug, Clone, Default)]
pub struct TcpLoadStats {
    pub connected: usize,
    pub connect_secs: f64,
    pub steady_acked: u64,
    pub steady_secs: f64,
    pub burst_acked: u64,
    pub burst_secs: f64,
    pub failures: u64,
    /// weijian's RSS before the first connection and with all open (bytes).
    pub rss_before: Option<u64>,
    pub rss_open: Option<u64>,
}

impl TcpLoadStats {
    /// Resident memory per open connection, bytes.
    pub fn rss_per_connection(&self) -> Option<f64> {
        let (before, open) = (self.rss_before?, self.rss_open?);
        (self.connected > 0).then(|| open.saturating_sub(before) as f64 / self.connected as f64)
    }
}

/// A real-time frame of device `i`, `n`-th of the run.
fn frame(i: usize, n: u64) -> String {
    let now = weijian_ingest::clock::now();
    FrameBuilder {
        qn: Some(format!("{:017}", n)),
        st: Some("21".into()),
        cn: 2011,
        pw: None,
        mn: super::registry::mn(i),
        flag: Some(5),
        packet: None,
        cp: format!(
            "DataTime={};w01001-Rtd=7.{},w01001-Flag=N;w01003-Rtd=0.3",
            format_data_time(now, 8 * 3600),
            n % 10
        ),
    }
    .build()
}

/// Sends `count` frames back to back and reads their replies.
async fn exchange(
    conn: &mut BufReader<TcpStream>,
    i: usize,
    first: u64,
    count: usize,
) -> std::io::Result<u64> {
    let mut out = String::new();
    for k in 0..count as u64 {
        out.push_str(&frame(i, first + k));
    }
    conn.get_mut().write_all(out.as_bytes()).await?;
    let mut acked = 0;
    let mut line = String::new();
    for _ in 0..count {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.contains("CN=9014") {
            acked += 1;
        }
    }
    Ok(acked)
}

/// Runs the load; prints progress to stderr.
///
/// # Errors
/// No connection could be opened at all.
pub async fn run(options: TcpLoadOptions) -> anyhow::Result<TcpLoadStats> {
    let rss = |pid: Option<u32>| {
        pid.and_then(|p| super::rss::of(Some(p)).ok())
            .map(|r| r.rss)
    };
    let mut stats = TcpLoadStats {
        rss_before: rss(options.pid),
        ..TcpLoadStats::default()
    };
    let started = Instant::now();
    let mut conns = Vec::with_capacity(options.connections);
    for i in 0..options.connections {
        match TcpStream::connect(&options.addr).await {
            Ok(s) => conns.push((i, BufReader::with_capacity(512, s))),
            Err(error) => {
                stats.failures += 1;
                if stats.failures <= 3 {
                    eprintln!("connection {i}: {error}");
                }
            }
        }
    }
    stats.connected = conns.len();
    stats.connect_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(stats.connected > 0, "no connection to {}", options.addr);
    // Let the listener's tasks settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stats.rss_open = rss(options.pid);
    eprintln!(
        "{} connections open in {:.1} s; steady phase: one frame per connection every {} s for {} s",
        stats.connected,
        stats.connect_secs,
        options.interval.as_secs(),
        options.steady.as_secs()
    );

    let steady_acked = Arc::new(AtomicU64::new(0));
    let burst_acked = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(conns.len() + 1));
    let steady_end = Instant::now() + options.steady;
    let n = conns.len();
    let mut tasks = Vec::with_capacity(n);
    for (slot, (i, mut conn)) in conns.into_iter().enumerate() {
        let (steady_acked, burst_acked, failures, barrier) = (
            steady_acked.clone(),
            burst_acked.clone(),
            failures.clone(),
            barrier.clone(),
        );
        let (interval, burst) = (options.interval, options.burst);
        tasks.push(tokio::spawn(async move {
            // Spread the connections over the interval, as loggers' clocks are.
            let offset = interval.mul_f64(slot as f64 / n as f64);
            tokio::time::sleep(offset).await;
            let mut seq = 0u64;
            let mut alive = true;
            while alive && Instant::now() + Duration::from_millis(1) < steady_end {
                match exchange(&mut conn, i, seq, 1).await {
                    Ok(a) => {
                        steady_acked.fetch_add(a, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        alive = false;
                    }
                }
                seq += 1;
                let next = Instant::now() + interval;
                tokio::time::sleep_until(next.min(steady_end).into()).await;
            }
            barrier.wait().await;
            if alive && burst > 0 {
                match exchange(&mut conn, i, 1_000_000 + seq, burst).await {
                    Ok(a) => {
                        burst_acked.fetch_add(a, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            drop(conn);
        }));
    }
    let steady_started = Instant::now();
    barrier.wait().await;
    stats.steady_secs = steady_started.elapsed().as_secs_f64();
    stats.steady_acked = steady_acked.load(Ordering::Relaxed);
    let burst_started = Instant::now();
    for task in tasks {
        let _ = task.await;
    }
    stats.burst_secs = burst_started.elapsed().as_secs_f64();
    stats.burst_acked = burst_acked.load(Ordering::Relaxed);
    stats.failures += failures.load(Ordering::Relaxed);
    Ok(stats)
}
