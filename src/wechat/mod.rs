//! WeChat Pay APIv3: the protocol and nothing else — signing, verification, typed calls, the
//! trade bill, and which host a request may go to. See `docs/protocol.md`.
//!
//! Who owns what: this module owns the wire (request signing, answer verification, the
//! routing rule, body caps) and the key types ([`keys`]). It does not read scanpay's
//! configuration: a [`Client`] is built from a [`Settings`], a [`sign::Signer`], a
//! [`keys::TrustStore`] and a clock, all handed in. Turning the configuration into those is
//! `crate::connect`'s job, in one place.

pub mod bill;
pub mod certs;
pub mod client;
pub mod keys;
pub mod model;
pub mod partner;
pub mod probe;
pub mod sign;
pub mod v2;

pub use client::{ApiError, Client, PayAnswer, Settings, TransportKind};
pub use partner::{Party, PayRequest};
