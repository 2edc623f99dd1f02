//! Concurrency tests (filled in below).
