//! tollgate edge worker (see edge-worker/README.md).
