//! The TCP listener: a stream of envelope + message units per connection, answered in order.
//!
//! Unlike the reference server, which closes a connection after one answer, a connection stays
//! open for further requests (IDIS clients pool connections and log in once per connection)
//! until the client closes it, it is idle for `tcp_idle_timeout_secs`, or the node shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use idnode_proto::wire::{ENVELOPE_LEN, Envelope};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument as _;

use super::{ConnCtx, Now, Transport};
use crate::state::State;

/// How long the rest of a message may take once its envelope has arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let span = tracing::debug_span!("conn", %peer, proto = "tcp");
        tokio::spawn(connection(stream, peer, state.clone(), shutdown.clone()).instrument(span));
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = Duration::from_secs(state.native.config().tcp_idle_timeout_secs.max(1));
    let mut ctx = ConnCtx::new(Transport::Tcp, peer);
    loop {
        let mut envelope_bytes = [0u8; ENVELOPE_LEN];
        let read = tokio::select! {
            read = tokio::time::timeout(idle, stream.read_exact(&mut envelope_bytes)) => read,
            _ = shutdown.changed() => return,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!("idle timeout");
                return;
            }
        }
        let mut message = envelope_bytes.to_vec();
        let envelope = Envelope::decode(&envelope_bytes);
        let valid = envelope.is_ok();
        if let Ok(envelope) = envelope {
            let len = envelope.message_length as usize;
            message.resize(ENVELOPE_LEN + len, 0);
            match tokio::time::timeout(
                BODY_TIMEOUT,
                stream.read_exact(&mut message[ENVELOPE_LEN..]),
            )
            .await
            {
                Ok(Ok(_)) => {}
                _ => return,
            }
        }
        let now = Now::current();
        let span = tracing::debug_span!("req", request_id = envelope.map_or(0, |e| e.request_id));
        let responses = state
            .native
            .handle_message(&state, &message, &mut ctx, now)
            .instrument(span)
            .await;
        for response in &responses {
            if stream.write_all(response).await.is_err() {
                return;
            }
        }
        if stream.flush().await.is_err() {
            return;
        }
        state.native.mark_verified(peer, now.instant);
        if !valid {
            // After an unreadable envelope the stream cannot be re-synchronised.
            return;
        }
    }
}
