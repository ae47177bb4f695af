//! tollgate engine.
