//! tollgate sync worker.
