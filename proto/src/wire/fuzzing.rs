//! Fuzz targets (placeholder).
