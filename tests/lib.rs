//! Shared helpers for sendlake's end-to-end tests (`tests/it`).
