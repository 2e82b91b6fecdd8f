//! Shared by the integration tests (each test crate uses a part of it).
//!
//! - `rig`: the in-process rig (demo config, in-process simulator, SQLite log in a temporary
//!   folder, an open shift, an `Engine`) for tests on tokio's paused clock;
//! - `fixtures`: the simulator's scripted customers by code suffix, the till, amounts;
//! - `config`: configurations from a template through the TOML parser (never by text edits);
//! - `pty`: the real binary in a pseudo-terminal, its screen parsed as a VT100 shows it;
//! - `binary`: the real `scanpay` binary and a standalone `scanpay sim` as child processes
//!   (its items are re-exported here);
//! - `pg`: a throw-away PostgreSQL cluster per test binary, a fresh database per test.
#![allow(dead_code)]

pub mod binary;
pub mod config;
pub mod fixtures;
pub mod pg;
pub mod pty;
pub mod rig;

#[allow(unused_imports)] // used by the crates that run the binary, not by the others
pub use binary::*;
