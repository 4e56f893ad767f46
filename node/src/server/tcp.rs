//! The TCP listener: a stream of envelope + message units per connection, answered in order.
//!
//! Unlike the reference server, which closes a connection after one answer, a connection stays
//! open for further requests (IDIS clients pool connections and log in once per connection)
//! until the client closes it, it is idle for `tcp_idle_timeout_secs`, or the node shuts down.
//! Requests are answered in order; answers to pipelined requests are gathered and written
//! when no further request is buffered, and plain anonymous resolutions are answered from the
//! answer cache ([`crate::native::answers`]) as on UDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use idnode_proto::wire::{ENVELOPE_LEN, Envelope};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument as _;

use super::limits::{ConnLimits, ConnSlot};
use crate::native::NativeNode;
use crate::native::answers::Scratch;
use crate::native::{ConnCtx, Now, Transport};

/// Answers gathered for pipelined requests are written once they reach this size.
const MAX_GATHERED: usize = 64 * 1024;

/// How long the rest of a message may take once its envelope has arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long open connections may take to finish after shutdown is signalled.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` turns true, then waits (at most [`DRAIN_TIMEOUT`]) for
/// open connections to finish the message they are answering.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    state: Arc<NativeNode>,
    limits: Arc<ConnLimits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Forget connections that ended, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer, slot) = tokio::select! {
            accepted = limits.accept(&listener, "native") => accepted,
            _ = shutdown.changed() => break,
        };
        let span = tracing::debug_span!("conn", %peer, proto = "tcp");
        let served = connection(
            stream,
            peer,
            state.clone(),
            (Arc::clone(&limits), slot),
            shutdown.clone(),
        );
        connections.spawn(served.instrument(span));
    }
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("native TCP connections still open after 10 s; closing them");
        connections.abort_all();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<NativeNode>,
    (limits, slot): (Arc<ConnLimits>, ConnSlot),
    mut shutdown: watch::Receiver<bool>,
) {
    let conn_state = Arc::clone(slot.state());
    let idle = Duration::from_secs(state.native.config().tcp_idle_timeout_secs.max(1));
    let mut ctx = ConnCtx::new(Transport::Tcp, peer);
    let (reader, mut writer) = stream.into_split();
    let mut reader = tokio::io::BufReader::with_capacity(8 * 1024, reader);
    let mut message = Vec::with_capacity(1024);
    let mut out: Vec<u8> = Vec::with_capacity(4 * 1024);
    let mut scratch = Scratch::default();
    let mut answer = Vec::new();
    loop {
        // Answers are written when no further whole request is already buffered (or they
        // grow large), so that pipelined requests are answered with few writes.
        if !out.is_empty() && (out.len() > MAX_GATHERED || !holds_whole_frame(reader.buffer())) {
            if writer.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        let read = tokio::select! {
            read = read_frame(&mut reader, &mut message, idle) => read,
            _ = shutdown.changed() => {
                // Draining: send what was answered, then close.
                let _ = writer.write_all(&out).await;
                return;
            }
            // Room was needed for another client while this one waited for a request.
            () = conn_state.shed() => return,
        };
        let valid = match read {
            Frame::Message => true,
            Frame::Unreadable => false,
            Frame::Closed => return,
        };
        let now = Now::current();
        let charge = if !valid {
            None
        } else if !limits.admit_rate(peer.ip(), || now.instant) {
            out.extend_from_slice(&state.native.busy_answer(
                &state,
                &message,
                "This source sends too many requests; slow down",
            ));
            continue;
        } else {
            Some(limits.charge_request())
        };
        if valid
            && ctx.login.is_none()
            && state.answer_from_cache(&message, ctx.peer.ip(), &mut scratch, &mut answer)
        {
            out.extend_from_slice(&answer);
        } else if charge.as_ref().is_some_and(Option::is_none) {
            out.extend_from_slice(&state.native.busy_answer(
                &state,
                &message,
                "The server is too busy; try again shortly",
            ));
        } else {
            let _busy = conn_state.busy();
            let span = tracing::debug_span!(
                "req",
                request_id = message
                    .get(8..12)
                    .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            );
            let responses = state
                .native
                .handle_message(&state, &message, &mut ctx, now)
                .instrument(span)
                .await;
            for response in &responses {
                out.extend_from_slice(response);
            }
        }
        state.native.mark_verified(peer, now.instant);
        trim(&mut message);
        if !valid {
            // After an unreadable envelope the stream cannot be re-synchronised.
            let _ = writer.write_all(&out).await;
            return;
        }
    }
}

/// Whether `buffered` starts with a whole envelope + message unit.
fn holds_whole_frame(buffered: &[u8]) -> bool {
    match Envelope::decode(buffered) {
        Ok(envelope) => {
            buffered.len().saturating_sub(ENVELOPE_LEN) >= envelope.message_length as usize
        }
        Err(_) => false,
    }
}

/// What [`read_frame`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A whole message (envelope and `message_length` bytes).
    Message,
    /// Only an envelope that does not decode; the stream cannot go on after it.
    Unreadable,
    /// The peer closed, went idle for `idle`, or stalled within a message.
    Closed,
}

/// Reads one envelope + message unit into `message` (cleared first). Memory is bounded by the
/// envelope decoder, which refuses lengths over `MAX_MESSAGE_LEN`.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    message: &mut Vec<u8>,
    idle: Duration,
) -> Frame {
    message.clear();
    let mut envelope_bytes = [0u8; ENVELOPE_LEN];
    match tokio::time::timeout(idle, reader.read_exact(&mut envelope_bytes)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return Frame::Closed,
        Err(_) => {
            tracing::debug!("idle timeout");
            return Frame::Closed;
        }
    }
    message.extend_from_slice(&envelope_bytes);
    let Ok(envelope) = Envelope::decode(&envelope_bytes) else {
        return Frame::Unreadable;
    };
    let len = envelope.message_length as usize;
    // The buffer grows with the bytes that arrive, not with the length the envelope claims: a
    // client that claims a large message and sends nothing holds no more than it sent.
    let total = ENVELOPE_LEN + len;
    let body = async {
        let mut chunk = [0u8; READ_CHUNK];
        while message.len() < total {
            let want = (total - message.len()).min(READ_CHUNK);
            match reader.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => message.extend_from_slice(&chunk[..n]),
            }
        }
        true
    };
    match tokio::time::timeout(BODY_TIMEOUT, body).await {
        Ok(true) => Frame::Message,
        _ => Frame::Closed,
    }
}

/// How much of a message body is read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A message buffer larger than this is given back after its message is answered, so an idle
/// connection does not keep the memory of its largest request.
const KEEP_BUFFER: usize = 64 * 1024;

/// Gives back the memory of a buffer that grew past [`KEEP_BUFFER`].
fn trim(buffer: &mut Vec<u8>) {
    if buffer.capacity() > KEEP_BUFFER {
        buffer.clear();
        buffer.shrink_to(KEEP_BUFFER / 16);
    }
}

#[cfg(test)]
mod tests {
    use idnode_proto::wire::MAX_MESSAGE_LEN;
    use proptest::prelude::*;

    use super::*;

    fn frames(input: &[u8], chunk: usize) -> (Vec<Frame>, usize) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(chunk.max(1));
            let input = input.to_vec();
            let writer = tokio::spawn(async move {
                for piece in input.chunks(chunk.max(1)) {
                    if client.write_all(piece).await.is_err() {
                        return;
                    }
                }
            });
            let mut reader = tokio::io::BufReader::new(server);
            let mut message = Vec::new();
            let mut seen = Vec::new();
            let mut largest = 0;
            loop {
                let frame = read_frame(&mut reader, &mut message, Duration::from_secs(5)).await;
                largest = largest.max(message.capacity());
                seen.push(frame);
                if frame != Frame::Message {
                    break;
                }
            }
            drop(reader);
            let _ = writer.await;
            (seen, largest)
        })
    }

    fn unit(body: &[u8], request_id: u32) -> Vec<u8> {
        let envelope = Envelope {
            version: idnode_proto::wire::Version::V2_11,
            request_id,
            message_length: body.len() as u32,
            ..Envelope::default()
        };
        [envelope.to_bytes().to_vec(), body.to_vec()].concat()
    }

    #[test]
    fn units_are_split_at_their_lengths() {
        let input = [unit(b"abc", 1), unit(b"", 2), unit(&[7; 600], 3)].concat();
        for chunk in [1, 7, 20, 4096] {
            let (seen, _) = frames(&input, chunk);
            assert_eq!(
                seen,
                [
                    Frame::Message,
                    Frame::Message,
                    Frame::Message,
                    Frame::Closed
                ]
            );
        }
        let mut bad = unit(b"", 1);
        bad[16..20].copy_from_slice(&(MAX_MESSAGE_LEN as u32 + 1).to_be_bytes());
        assert_eq!(frames(&bad, 20).0, [Frame::Unreadable]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_streams_never_panic_and_stay_bounded(
            input in proptest::collection::vec(any::<u8>(), 0..2000),
            chunk in 1usize..64,
        ) {
            let (seen, largest) = frames(&input, chunk);
            prop_assert!(largest <= ENVELOPE_LEN + MAX_MESSAGE_LEN + 64);
            let messages = seen.iter().filter(|f| **f == Frame::Message).count();
            prop_assert!(messages * ENVELOPE_LEN <= input.len());
            prop_assert!(seen.last() != Some(&Frame::Message));
        }
    }
}
