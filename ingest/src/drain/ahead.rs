//! Decoding a batch's records ahead of the validator and the rules: the batch is cut into
//! chunks, and while the drain judges one chunk, the next one is decoded (spool record to
//! message, and a telemetry payload's JSON) on tokio's blocking pool. Judging stays in spool
//! order on the drain; only stateless decoding moves, so the outcome is the same as decoding
//! each record just before judging it (`a_chunked_batch_decodes_as_record_by_record`).
//!
//! A batch of one chunk (a trickle, or small messages) is decoded inline: no thread hop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::message::{Message, RecordError};
use crate::spool::Record;
use crate::validate::{AheadDecoder, DecodedAhead};

/// A chunk closes at this many record bytes: about eight arrays of 100 readings, or the 1,000
/// single readings of a full read in two chunks (for those, decoding is a small part of the
/// work, and more thread hops cost more than they save).
const CHUNK_BYTES: usize = 128 * 1024;
/// Chunks decoding at once while the drain judges one: decoding a chunk takes about as long
/// as judging it, and one thread alone kept the drain waiting a third of its time.
const AHEAD: usize = 2;

/// One record, decoded.
#[derive(Debug)]
pub(super) struct Decoded {
    /// Its spool sequence number.
    pub seq: u64,
    pub msg: Result<Message, RecordError>,
    /// Its telemetry payload, decoded (see [`AheadDecoder::decode`]).
    pub ahead: Option<DecodedAhead>,
}

/// A batch's records, handed out chunk by chunk, the next chunk decoding meanwhile.
pub(super) struct Ahead {
    records: Arc<Vec<Record>>,
    decoder: AheadDecoder,
    /// Record ranges not yet handed out, the next first.
    chunks: VecDeque<std::ops::Range<usize>>,
    /// The next chunks, decoding on the blocking pool, the next first.
    running: VecDeque<(std::ops::Range<usize>, JoinHandle<Vec<Decoded>>)>,
    /// How long the drain waited for chunks decoding ahead.
    waited: Duration,
}

impl Ahead {
    pub(super) fn new(records: Vec<Record>, decoder: AheadDecoder) -> Self {
        let chunks = chunks(&records);
        Self {
            records: Arc::new(records),
            decoder,
            chunks,
            running: VecDeque::new(),
            waited: Duration::ZERO,
        }
    }

    /// How long [`Ahead::next_chunk`] waited for chunks still decoding.
    pub(super) fn waited(&self) -> Duration {
        self.waited
    }

    /// The next chunk, in spool order; first starts decoding the next [`AHEAD`] chunks.
    pub(super) async fn next_chunk(&mut self) -> Option<Vec<Decoded>> {
        let current = match self.running.pop_front() {
            Some((range, handle)) => {
                let started = Instant::now();
                let joined = handle.await;
                self.waited += started.elapsed();
                match joined {
                    Ok(decoded) => decoded,
                    Err(error) => {
                        // Decoding does not panic on any input (fuzzed); should the task die
                        // anyway, the chunk is decoded here rather than lost.
                        tracing::error!(%error, "Decoding records ahead failed; decoding them on the drain.");
                        decode(&self.records, range, &self.decoder)
                    }
                }
            }
            None => {
                let range = self.chunks.pop_front()?;
                decode(&self.records, range, &self.decoder)
            }
        };
        while self.running.len() < AHEAD {
            let Some(range) = self.chunks.pop_front() else {
                break;
            };
            let (records, decoder, r) = (self.records.clone(), self.decoder.clone(), range.clone());
            let handle = tokio::task::spawn_blocking(move || decode(&records, r, &decoder));
            self.running.push_back((range, handle));
        }
        Some(current)
    }
}

fn decode(
    records: &[Record],
    range: std::ops::Range<usize>,
    decoder: &AheadDecoder,
) -> Vec<Decoded> {
    records[range]
        .iter()
        .map(|record| {
            let msg = Message::decode(&record.data);
            let ahead = msg.as_ref().ok().and_then(|m| decoder.decode(m));
            Decoded {
                seq: record.pos.seq(),
                msg,
                ahead,
            }
        })
        .collect()
}

/// Cuts `records` into chunks of at most [`CHUNK_BYTES`] (a larger record alone).
fn chunks(records: &[Record]) -> VecDeque<std::ops::Range<usize>> {
    let mut out = VecDeque::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, record) in records.iter().enumerate() {
        if i > start && bytes + record.data.len() > CHUNK_BYTES {
            out.push_back(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += record.data.len();
    }
    if start < records.len() {
        out.push_back(start..records.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use alerting::model::Timestamp;

    use super::*;
    use crate::message::encode_record;
    use crate::spool::Position;

    fn record(seq: u64, topic: &str, payload: &str) -> Record {
        Record {
            pos: Position(seq),
            data: encode_record(
                Timestamp(1_700_000_000_000_000),
                1,
                topic,
                payload.as_bytes(),
            ),
            appended_at: SystemTime::now(),
        }
    }

    fn array(n: usize) -> String {
        let one = r#"{"ts":1700000000000,"values":{"ph":7.1,"turbidity_ntu":0.3}}"#;
        format!("[{}]", vec![one; n].join(","))
    }

    #[test]
    fn chunks_close_at_their_bytes_and_cover_every_record_once() {
        let big = array(3_000); // over CHUNK_BYTES alone
        let mut records: Vec<Record> = (0..6_000)
            .map(|i| {
                record(
                    i,
                    "weijian/v1/s0/d0/telemetry",
                    r#"{"ts":1,"values":{"ph":7}}"#,
                )
            })
            .collect();
        records.insert(300, record(1_000, "weijian/v1/s0/d0/telemetry", &big));
        let ranges = chunks(&records);
        let mut next = 0;
        for r in &ranges {
            assert_eq!(r.start, next, "in order, without gaps");
            assert!(!r.is_empty());
            let bytes: usize = records[r.clone()].iter().map(|x| x.data.len()).sum();
            assert!(bytes <= CHUNK_BYTES || r.len() == 1, "{r:?}: {bytes} bytes");
            next = r.end;
        }
        assert_eq!(next, records.len());
        assert!(
            ranges.iter().any(|r| r.len() == 1 && r.start == 300),
            "the big record alone"
        );
        assert!(chunks(&[]).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chunked_batch_decodes_as_record_by_record() {
        let topics = [
            "weijian/v1/s0/d0/telemetry",
            "weijian/v1/s0/d0/events",
            "elsewhere/s0/d0/telemetry",
            "weijian/v1/s0/d0/telemetry",
        ];
        let payloads = [array(100), "{not json".to_string(), array(3), String::new()];
        let mut records: Vec<Record> = (0..400u64)
            .map(|i| {
                let k = usize::try_from(i).unwrap() % 4;
                record(
                    i,
                    topics[k],
                    &payloads[(k + usize::try_from(i / 4).unwrap()) % 4],
                )
            })
            .collect();
        records.push(Record {
            pos: Position(400),
            data: vec![9, 9, 9],
            appended_at: SystemTime::now(),
        });
        let decoder = crate::validate::Validator::new(
            Arc::new(crate::config::Registry::default()),
            crate::config::Limits::default(),
            "weijian/v1",
        )
        .decoder();
        let expected = decode(&records, 0..records.len(), &decoder);
        let mut ahead = Ahead::new(records, decoder);
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = ahead.next_chunk().await {
            chunks += 1;
            got.extend(chunk);
        }
        assert!(chunks > 2, "the batch was cut into chunks ({chunks})");
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));
        assert!(
            got.iter().any(|d| d.ahead.is_some()),
            "telemetry decoded ahead"
        );
        assert!(
            got.iter().any(|d| d.msg.is_err()),
            "a bad record stays an error"
        );
    }
}
