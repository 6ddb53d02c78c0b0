//! Group commit: appends share fsyncs, under load and at a trickle, and never wait when enough
//! of them are queued.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn concurrent_appends_share_fsyncs_and_resolve_in_call_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20, 4 << 20);
    cfg.group_commit_delay_ms = 5;
    let (writer, mut reader, _) = open_spool(cfg).await;
    let futures: Vec<_> = (0..500).map(|i| writer.append(payload(i))).collect();
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut positions = Vec::new();
    for h in handles {
        positions.push(h.await.unwrap().unwrap().seq());
    }
    assert_eq!(positions, (0..500).collect::<Vec<_>>());
    let stats = writer.stats();
    assert_eq!(stats.appended_records, 500);
    assert!(
        stats.group_commits < 50,
        "{} fsyncs for 500 records",
        stats.group_commits
    );
    assert_eq!(datas(&drain(&mut reader).await), payloads(0..500));
}

#[tokio::test]
async fn a_trickle_shares_fsyncs_an_interval_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20, 4 << 20);
    cfg.group_commit_interval_ms = 20;
    let (writer, mut reader, _) = open_spool(cfg).await;
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    // One append every 2 ms: 10 per interval.
    for i in 0..100 {
        handles.push(tokio::spawn(writer.append(payload(i))));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap().unwrap().seq(), i as u64);
    }
    let elapsed = started.elapsed();
    let fsyncs = writer.stats().group_commits;
    // At most one fsync per interval (plus the first, which does not wait).
    let most = elapsed.as_millis() as u64 / 20 + 2;
    assert!(fsyncs <= most, "{fsyncs} fsyncs in {elapsed:?}");
    assert!(fsyncs < 50, "{fsyncs} fsyncs for 100 appends 2 ms apart");
    assert_eq!(datas(&drain(&mut reader).await), payloads(0..100));
}

#[tokio::test]
async fn enough_waiting_appends_are_written_without_waiting_for_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20, 4 << 20);
    cfg.group_commit_interval_ms = 60_000;
    cfg.group_commit_records = 8;
    let (writer, _reader, _) = open_spool(cfg).await;
    let started = std::time::Instant::now();
    // After a quiet spell the first append is written at once ...
    writer.append(payload(0)).await.unwrap();
    // ... and within the interval, 8 waiting appends start the next fsync at once.
    append_all(&writer, 1..9).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(writer.stats().group_commits, 2);
}

#[tokio::test]
async fn under_load_a_pause_of_the_senders_does_not_hold_a_record_for_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 4 << 20, 16 << 20);
    cfg.group_commit_interval_ms = 60_000;
    cfg.group_commit_records = 32;
    let (writer, _reader, _) = open_spool(cfg).await;
    // A load of ~10 appends per millisecond for a while: the writer learns the rate ...
    let mut handles = Vec::new();
    for i in 0..2_000 {
        handles.push(tokio::spawn(writer.append(payload(i))));
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    // ... then one append and the senders pause: fewer than `group_commit_records` wait, but
    // at the recent rate that many would have come within milliseconds, so it is written then,
    // not after the 60 s interval.
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), writer.append(payload(2_000)))
        .await
        .expect("the last append waited for the whole interval")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
}
