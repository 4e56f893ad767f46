//! The UDP listener: datagrams in, reassembled into messages; responses split into datagrams of
//! at most 512 bytes with TC and sequence numbers (§9), under the amplification policy of
//! [`super::limits`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use idnode_proto::wire::udp::{MAX_DATAGRAM_LEN, Reassembler, ReassemblyLimits, split_datagrams};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::Instrument as _;

use super::{ConnCtx, Now, Transport};
use crate::state::State;

/// Multi-packet requests are small (queries only); this bounds reassembly memory.
const MAX_UDP_REQUEST: usize = 16 * 1024;

/// Serves UDP until `shutdown` turns true.
pub(crate) async fn serve_udp(
    socket: UdpSocket,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let socket = Arc::new(socket);
    let mut reassembler: Reassembler<SocketAddr> = Reassembler::new(ReassemblyLimits {
        max_message_len: MAX_UDP_REQUEST,
        max_partial: 1024,
        max_buffered: 4 << 20,
        timeout: Duration::from_secs(5),
    });
    let mut buf = vec![0u8; 2 * MAX_DATAGRAM_LEN];
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buf) => received,
            _ = shutdown.changed() => break,
        };
        let (n, peer) = match received {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                continue;
            }
        };
        let now = Now::current();
        let admitted = state
            .native
            .udp_policy
            .lock()
            .map(|mut p| p.admit_request(peer.ip(), now.instant))
            .unwrap_or(false);
        if !admitted {
            metrics::counter!("idnode_native_udp_dropped_total", "reason" => "rate").increment(1);
            continue;
        }
        let message = match reassembler.push(peer, &buf[..n], now.instant) {
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
                    send(&socket, &state, peer, &response, now).await;
                }
            }
            .instrument(span),
        );
    }
}

/// Sends one response message, split into datagrams, if the policy allows that many bytes.
async fn send(socket: &UdpSocket, state: &State, peer: SocketAddr, message: &[u8], now: Now) {
    let Ok(datagrams) = split_datagrams(message) else {
        return;
    };
    let total: usize = datagrams.iter().map(Vec::len).sum();
    let allowed = state
        .native
        .udp_policy
        .lock()
        .map(|mut p| p.admit_response(peer.ip(), total, now.instant))
        .unwrap_or(false);
    if !allowed {
        metrics::counter!("idnode_native_udp_dropped_total", "reason" => "bytes").increment(1);
        tracing::debug!(%peer, bytes = total, "response over the unverified byte budget; not sent");
        return;
    }
    for datagram in datagrams {
        if let Err(e) = socket.send_to(&datagram, peer).await {
            tracing::debug!(%peer, error = %e, "UDP send failed");
            return;
        }
    }
}
