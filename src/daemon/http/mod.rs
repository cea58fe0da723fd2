//! Placeholder until the HTTP skeleton lands (replaced by main's file on merge).
pub mod adapters;
