//! WeChat Pay APIv3: the protocol and nothing else — signing, verification, typed calls, the
//! trade bill. See `docs/protocol.md`.

pub mod bill;
pub mod client;
pub mod keys;
pub mod model;
pub mod sign;

pub use client::{ApiError, Client, PayAnswer, Settings};
