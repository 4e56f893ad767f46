//! In-memory store (placeholder).
