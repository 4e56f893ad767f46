//! The checkpoint task: signs a checkpoint of the trace log whenever it has grown (at most every
//! `trace.checkpoint_interval_ms`), and collects the configured witnesses' cosignatures for it
//! (c2sp.org/tlog-witness), retrying them now and then.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::trace::{Collector, TraceApi, latest_size, sign_checkpoint};

/// Signs a checkpoint whenever the log has grown, at most once per configured interval, and
/// asks the witnesses to cosign it. Ends when `shutdown` turns true.
pub(crate) async fn run_checkpointer(state: Arc<TraceApi>, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.trace.config.checkpoint_interval_ms.max(1));
    let mut witnesses = Collector::new(&state);
    loop {
        match sign_checkpoint(&state).await {
            Ok(Some((size, note))) => witnesses.collect(&state, size, &note).await,
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "cannot sign a checkpoint"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if *shutdown.borrow() {
            return;
        }
        // Wait for new entries unless some arrived while sleeping.
        let grown = latest_size(&state).is_some_and(|(checkpointed, size)| size > checkpointed);
        if !grown {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = state.trace.appended.notified() => {}
                // Retry cosignatures now and then even without new entries.
                () = tokio::time::sleep(interval * 30) => {}
            }
        }
    }
}
