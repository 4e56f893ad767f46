//! The UDP listener: datagrams in, reassembled into messages; responses split into datagrams of
//! at most 512 bytes with TC and sequence numbers (§9), under the amplification policy of
//! [`crate::native::limits`].
//!
//! Each worker thread of the runtime runs one receive loop on the shared socket. A loop answers
//! plain anonymous resolutions that are in the answer cache ([`crate::native::answers`]) itself, with
//! no task, span or allocation per datagram; every other message is handed to a task of its own,
//! so that slow work (challenge answers with PBKDF2, writes) never holds up the loop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use idnode_proto::wire::fast::truncated_answer;
use idnode_proto::wire::udp::{MAX_DATAGRAM_LEN, Reassembler, ReassemblyLimits, split_datagrams};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::native::NativeNode;
use crate::native::answers::Scratch;
use crate::native::{ConnCtx, Now, Transport};

/// Multi-packet requests are small (queries only); this bounds reassembly memory.
const MAX_UDP_REQUEST: usize = 16 * 1024;

/// Serves UDP until `shutdown` turns true.
pub(crate) async fn serve_udp(
    socket: UdpSocket,
    state: Arc<NativeNode>,
    mut shutdown: watch::Receiver<bool>,
) {
    let socket = Arc::new(socket);
    // Fragments of one multi-packet request may reach different loops.
    let reassembler: Arc<Mutex<Reassembler<SocketAddr>>> =
        Arc::new(Mutex::new(Reassembler::new(ReassemblyLimits {
            max_message_len: MAX_UDP_REQUEST,
            max_partial: 1024,
            max_buffered: 4 << 20,
            timeout: Duration::from_secs(5),
        })));
    let loops = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            tokio::spawn(receive_loop(
                socket.clone(),
                state.clone(),
                reassembler.clone(),
            ))
        })
        .collect();
    // The loops wait on the socket alone (no shutdown future per datagram) and are stopped
    // here; tasks already handed a message finish on their own.
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// One receive → answer → send loop; runs until aborted.
async fn receive_loop(
    socket: Arc<UdpSocket>,
    state: Arc<NativeNode>,
    reassembler: Arc<Mutex<Reassembler<SocketAddr>>>,
) {
    let mut buf = vec![0u8; 2 * MAX_DATAGRAM_LEN];
    let mut scratch = Scratch::default();
    let mut answer = Vec::with_capacity(MAX_DATAGRAM_LEN);
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                continue;
            }
        };
        let instant = Instant::now();
        let datagram = &buf[..n];
        if state.answer_from_cache(datagram, peer.ip(), &mut scratch, &mut answer) {
            if state
                .native
                .udp_policy
                .amplifies(datagram.len(), answer.len())
                && !state.native.udp_policy.is_verified(peer.ip(), instant)
                && let Some(truncated) = truncated_answer(&answer)
            {
                answer = truncated;
            }
            if answer.len() > MAX_DATAGRAM_LEN {
                // A multi-packet answer: admitted and split as any other.
                if state.native.udp_policy.admit_request(peer.ip(), instant) {
                    let now = Now {
                        unix: crate::core::unix_now(),
                        instant,
                    };
                    send(&socket, &state, peer, &answer, now).await;
                } else {
                    refused_rate();
                }
                continue;
            }
            // The request's rate and the answer's bytes are admitted in one look-up.
            match state
                .native
                .udp_policy
                .admit_exchange(peer.ip(), answer.len(), instant)
            {
                (true, true) => {
                    if let Err(e) = socket.send_to(&answer, peer).await {
                        tracing::debug!(%peer, error = %e, "UDP send failed");
                    }
                }
                (true, false) => refused_bytes(peer, answer.len()),
                (false, _) => refused_rate(),
            }
            continue;
        }
        if !state.native.udp_policy.admit_request(peer.ip(), instant) {
            refused_rate();
            continue;
        }
        let now = Now {
            unix: crate::core::unix_now(),
            instant,
        };
        let pushed = reassembler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(peer, datagram, instant);
        let message = match pushed {
            Ok(Some(message)) => message,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "dropped a UDP datagram");
                continue;
            }
        };
        let state = state.clone();
        let socket = socket.clone();
        let span = tracing::debug_span!("req", %peer, proto = "udp");
        tokio::spawn(
            async move {
                let mut ctx = ConnCtx::new(Transport::Udp, peer);
                let responses = state
                    .native
                    .handle_message(&state, &message, &mut ctx, now)
                    .await;
                for response in responses {
                    let response = limit_amplification(&state, peer, message.len(), response, now);
                    send(&socket, &state, peer, &response, now).await;
                }
            }
            .instrument(span),
        );
    }
}

fn refused_rate() {
    metrics::counter!("idnode_native_udp_dropped_total", "reason" => "rate").increment(1);
}

fn refused_bytes(peer: SocketAddr, bytes: usize) {
    metrics::counter!("idnode_native_udp_dropped_total", "reason" => "bytes").increment(1);
    tracing::debug!(%peer, bytes, "response over the unverified byte budget; not sent");
}

/// `response`, or its truncated form (TC) when it would amplify a request of `request_len`
/// bytes from a source that has not proven it receives what is sent to it more than
/// `udp_max_amplification` times, as DNS response rate limiting does; the client then asks
/// again over TCP.
fn limit_amplification(
    state: &NativeNode,
    peer: SocketAddr,
    request_len: usize,
    response: Vec<u8>,
    now: Now,
) -> Vec<u8> {
    if !state
        .native
        .udp_policy
        .amplifies(request_len, response.len())
        || state.native.udp_policy.is_verified(peer.ip(), now.instant)
    {
        return response;
    }
    match truncated_answer(&response) {
        Some(truncated) => {
            metrics::counter!("idnode_native_udp_truncated_total").increment(1);
            truncated
        }
        None => response,
    }
}

/// Sends one response message, split into datagrams when it is longer than one, if the policy
/// allows that many bytes.
async fn send(socket: &UdpSocket, state: &NativeNode, peer: SocketAddr, message: &[u8], now: Now) {
    if message.len() <= MAX_DATAGRAM_LEN {
        if !admit(state, peer, message.len(), now) {
            return;
        }
        if let Err(e) = socket.send_to(message, peer).await {
            tracing::debug!(%peer, error = %e, "UDP send failed");
        }
        return;
    }
    let Ok(datagrams) = split_datagrams(message) else {
        return;
    };
    let total: usize = datagrams.iter().map(Vec::len).sum();
    if !admit(state, peer, total, now) {
        return;
    }
    for datagram in datagrams {
        if let Err(e) = socket.send_to(&datagram, peer).await {
            tracing::debug!(%peer, error = %e, "UDP send failed");
            return;
        }
    }
}

/// Whether `bytes` may be sent to `peer` under the amplification policy.
fn admit(state: &NativeNode, peer: SocketAddr, bytes: usize, now: Now) -> bool {
    if state
        .native
        .udp_policy
        .admit_response(peer.ip(), bytes, now.instant)
    {
        return true;
    }
    refused_bytes(peer, bytes);
    false
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Arbitrary datagrams from a few senders, with the listener's limits: no panic, and
        /// never more buffered than the limits allow.
        #[test]
        fn reassembly_of_arbitrary_datagrams_is_bounded(
            datagrams in proptest::collection::vec(
                (0u8..3, proptest::collection::vec(any::<u8>(), 0..600)),
                0..40,
            ),
        ) {
            let limits = ReassemblyLimits {
                max_message_len: MAX_UDP_REQUEST,
                max_partial: 4,
                max_buffered: 4096,
                timeout: Duration::from_secs(5),
            };
            let mut reassembler: Reassembler<u8> = Reassembler::new(limits);
            let now = Instant::now();
            for (sender, mut datagram) in datagrams {
                // Make some datagrams plausible fragments: a small total length.
                if datagram.len() >= 20 && sender == 0 {
                    datagram[16..20].copy_from_slice(&1000u32.to_be_bytes());
                }
                if let Ok(Some(message)) = reassembler.push(sender, &datagram, now) {
                    prop_assert!(message.len() <= 20 + MAX_UDP_REQUEST);
                }
                prop_assert!(reassembler.buffered() <= limits.max_buffered);
                prop_assert!(reassembler.len() <= limits.max_partial);
            }
        }
    }
}
