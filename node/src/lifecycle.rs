//! The server's lifecycle as a type: [`Phase`] and the cell every part reads it from.
//!
//! `idnode serve` goes Starting → Serving → Draining → Stopped. SIGINT or SIGTERM (or the
//! shutdown signal of an in-process node) starts draining: listeners stop accepting, open
//! connections finish the requests they are serving, and then the node stops. `/healthz`
//! answers 200 only while Serving, so a load balancer takes a draining node out at once.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening the data directory and binding the listeners.
    Starting,
    /// Accepting and answering requests.
    Serving,
    /// No longer accepting; finishing the requests in flight.
    Draining,
    /// Every listener has finished.
    Stopped,
}

impl Phase {
    /// The phase's name, as `/healthz` and the logs say it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Serving => "serving",
            Self::Draining => "draining",
            Self::Stopped => "stopped",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Starting,
            1 => Self::Serving,
            2 => Self::Draining,
            _ => Self::Stopped,
        }
    }
}

/// The current phase, shared by every part of the node.
#[derive(Debug, Default)]
pub struct PhaseCell(AtomicU8);

impl PhaseCell {
    /// The current phase.
    pub fn get(&self) -> Phase {
        Phase::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Moves to `phase`; phases only move forward.
    pub fn set(&self, phase: Phase) {
        let value = phase as u8;
        self.0.fetch_max(value, Ordering::AcqRel);
        tracing::info!(phase = phase.name(), "server phase");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward() {
        let cell = PhaseCell::default();
        assert_eq!(cell.get(), Phase::Starting);
        cell.set(Phase::Serving);
        cell.set(Phase::Starting);
        assert_eq!(cell.get(), Phase::Serving);
        cell.set(Phase::Draining);
        cell.set(Phase::Stopped);
        assert_eq!(cell.get(), Phase::Stopped);
    }
}
