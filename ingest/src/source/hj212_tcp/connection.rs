//! One logger's connection: read, find frames, identify each, append it to the spool, and
//! answer each frame in order once it is durable (see the module docs of `hj212_tcp`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::framer::{Framed, Framer};
use super::Shared;
use crate::decode::hj212::{ack_9014, peek_frame, qn_rtn, reply_9011};
use crate::message::{encode_record, ORIGIN_HJ212_TCP};
use crate::spool::{Position, SpoolError};

type Durable = Pin<Box<dyn Future<Output = Result<Position, SpoolError>> + Send>>;

/// What to do for one frame, in stream order.
enum Step {
    /// Spooled: wait until durable, then send the reply (if the frame asked for one).
    Spooled(Durable, Option<String>),
    /// Refused: send the reply (if any) now, in order.
    Refused(Option<String>),
}

/// What a frame leads to.
enum Admitted {
    Step(Step),
    /// The connection is to be closed: (reason, detail).
    Close(&'static str, String),
}

/// Serves one connection until the logger closes it, it idles, it breaks a limit, or
/// shutdown (after the frames already read are durable and answered).
pub(super) async fn serve(
    mut stream: TcpStream,
    peer: IpAddr,
    shared: &Shared,
    shutdown: &CancellationToken,
) {
    let settings = &shared.settings;
    let read_size = settings.read_buffer_bytes;
    let mut framer = Framer::new(settings.max_frame_bytes, read_size);
    // Replies are small and answer a waiting logger: no Nagle delay.
    let _ = stream.set_nodelay(true);
    let mut counted_garbage = 0;
    let reason: &'static str = loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => break "shutdown",
            read = tokio::time::timeout(settings.idle_timeout, stream.read_buf(framer.buffer(read_size))) => read,
        };
        match read {
            Err(_) => {
                shared.closed(
                    "idle_timeout",
                    peer,
                    &format!(
                        "nothing received for {} s ([hj212_tcp] idle_timeout_secs)",
                        settings.idle_timeout.as_secs()
                    ),
                );
                break "";
            }
            Ok(Ok(0) | Err(_)) => break "peer",
            Ok(Ok(_)) => {}
        }
        let mut steps = Vec::new();
        let mut close = None;
        while let Some(framed) = framer.next_frame() {
            match framed {
                Framed::TooLarge(total) => {
                    close = Some((
                        "frame_too_large",
                        format!(
                            "a length field announces a {total}-byte frame; the limit is {} ([hj212_tcp] max_frame_bytes)",
                            settings.max_frame_bytes
                        ),
                    ));
                    break;
                }
                Framed::Frame(bytes) => match admit(&bytes, peer, shared) {
                    Admitted::Step(step) => steps.push(step),
                    Admitted::Close(reason, detail) => {
                        close = Some((reason, detail));
                        break;
                    }
                },
            }
        }
        shared
            .metrics
            .garbage_bytes
            .inc_by(framer.garbage - counted_garbage);
        counted_garbage = framer.garbage;
        if let Err(reason) = answer(&mut stream, steps, shared).await {
            break reason;
        }
        if let Some((reason, detail)) = close {
            shared.closed(reason, peer, &detail);
            break "";
        }
    };
    match reason {
        "" => {}
        "peer" => shared
            .metrics
            .connections_closed
            .with_label_values(&["peer"])
            .inc(),
        reason => shared.closed(reason, peer, "weijian is stopping or could not store"),
    }
    let _ = stream.shutdown().await;
}

/// Waits for each spooled frame to be durable and sends the replies in frame order.
async fn answer(
    stream: &mut TcpStream,
    steps: Vec<Step>,
    shared: &Shared,
) -> Result<(), &'static str> {
    for step in steps {
        let reply = match step {
            Step::Spooled(durable, reply) => match durable.await {
                Ok(_) => reply,
                Err(error) => {
                    // Not durable, not acknowledged: the logger sends it again.
                    tracing::error!(%error, "An HJ 212 frame received over TCP could not be made durable; closing the connection without acknowledging it.");
                    return Err("spool_error");
                }
            },
            Step::Refused(reply) => reply,
        };
        if let Some(reply) = reply {
            if stream.write_all(reply.as_bytes()).await.is_err() {
                return Err("peer");
            }
            let cn = if reply.contains("CN=9014") {
                "9014"
            } else {
                "9011"
            };
            shared.metrics.replies.with_label_values(&[cn]).inc();
        }
    }
    Ok(())
}

/// Identifies a frame and appends it to the spool, or refuses it.
fn admit(bytes: &[u8], peer: IpAddr, shared: &Shared) -> Admitted {
    let peek = peek_frame(bytes);
    let wants_reply = peek.reply_wanted();
    let Some(mn) = peek.mn.as_deref() else {
        shared.refused_frame("no_mn", peer, None);
        return Admitted::Step(Step::Refused(None));
    };
    let refusal =
        |code| wants_reply.then(|| reply_9011(peek.qn.as_deref(), peek.pw.as_deref(), mn, code));
    let Some(route) = shared.directory.lookup(mn) else {
        shared.refused_frame("unknown_mn", peer, Some(mn));
        // A damaged frame's MN may be damaged too: say CRC when the CRC is what failed.
        let code = if peek.crc_ok {
            qn_rtn::MN_ERROR
        } else {
            qn_rtn::CRC_ERROR
        };
        return Admitted::Step(Step::Refused(refusal(code)));
    };
    if !route.allowed_sources.is_empty() && !route.allowed_sources.iter().any(|n| n.contains(peer))
    {
        shared.refused_frame("source_not_allowed", peer, Some(mn));
        return Admitted::Close(
            "source_not_allowed",
            format!(
                "device {} sends only from its allowed_sources, not from {peer}",
                route.device
            ),
        );
    }
    if let Some(password) = &route.password {
        if peek.pw.as_deref() != Some(password.as_str()) {
            shared.refused_frame("bad_password", peer, Some(mn));
            return Admitted::Step(Step::Refused(refusal(qn_rtn::PW_ERROR)));
        }
    }
    let record = encode_record(crate::clock::now(), ORIGIN_HJ212_TCP, &route.topic, bytes);
    let durable: Durable = Box::pin(shared.spool.append(record));
    shared.metrics.frames.with_label_values(&["spooled"]).inc();
    let reply = wants_reply.then(|| {
        if peek.crc_ok {
            ack_9014(peek.qn.as_deref(), peek.pw.as_deref(), mn)
        } else {
            reply_9011(
                peek.qn.as_deref(),
                peek.pw.as_deref(),
                mn,
                qn_rtn::CRC_ERROR,
            )
        }
    });
    Admitted::Step(Step::Spooled(durable, reply))
}
