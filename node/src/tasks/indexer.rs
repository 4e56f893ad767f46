//! The indexer task that keeps `<data>/search/` in step with the database: a sync of the index
//! with the store's change feed every [`POLL`], in a blocking thread. The first sync builds or
//! catches up the index (logging its progress); `/readyz` reports whether it is done.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use idnode_search::{ResolverTemplates, SearchIndex};
use tokio::sync::watch;

use crate::core::Core;

/// How often the indexer looks for new changes. Every pass that finds changes commits a
/// tantivy segment, and small segments are merged in the background, so the interval trades
/// search freshness against CPU under write load: at 100 ms, indexing and merging took about
/// half of the node's CPU during a bulk of REST creates; at one second a write is searchable
/// within about a second for a tenth of the segments.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// The longest pause after repeated indexing failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Opens the index in `<data>/search/`, or logs why it cannot and runs without search.
pub(crate) fn open(data: &Path, config: &crate::config::SearchConfig) -> Option<Arc<SearchIndex>> {
    let dir = data.join("search");
    let options = idnode_search::IndexOptions {
        writer_memory: config.writer_memory_bytes.max(15 << 20),
        ..idnode_search::IndexOptions::default()
    };
    match SearchIndex::open_with(&dir, options) {
        Ok(index) => Some(Arc::new(index)),
        Err(error) => {
            tracing::error!(dir = %dir.display(), %error, "cannot open the search index; search is off");
            None
        }
    }
}

/// Keeps the index in step with the store until shutdown: the first sync builds or catches up
/// the index (logging its progress), later ones apply new changes.
pub(crate) async fn run_indexer(
    state: Arc<Core>,
    index: Arc<SearchIndex>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        let mut running = {
            let state = Arc::clone(&state);
            let index = Arc::clone(&index);
            tokio::task::spawn_blocking(move || {
                let templates = ResolverTemplates::new(&state.resolver);
                index.sync(state.resolver.change_feed(), &templates)
            })
        };
        // A rebuild can take a minute; shutting down stops it at its next page.
        let sync = tokio::select! {
            sync = &mut running => sync,
            _ = shutdown.changed() => {
                index.stop();
                let _ = running.await;
                return;
            }
        };
        let pause = match sync {
            Ok(Ok(report)) => {
                if report.applied > 0 || report.rebuilt.is_some() {
                    tracing::debug!(?report, "search index synced");
                }
                failures = 0;
                POLL
            }
            Ok(Err(error)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "cannot update the search index");
                backoff(failures)
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(%error, "the search indexer failed");
                backoff(failures)
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(pause) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// The pause after `failures` failures in a row: doubling from [`POLL`] up to [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    POLL.saturating_mul(1 << failures.min(9)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_limit() {
        assert_eq!(backoff(1), POLL * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
