//! scanpay: a terminal point-of-sale for WeChat Pay payment-code (付款码) payments.
//!
//! The library holds everything; `src/main.rs` is the command line around it. See
//! `README.md` for use and `docs/` for the design of each part.

#![deny(missing_docs)]

pub mod auth_code;
pub mod clock;
pub mod config;
pub mod connect;
pub mod engine;
pub mod failpoint;
pub mod hq;
pub mod i18n;
pub mod lock;
pub mod logging;
pub mod money;
pub mod order;
pub mod receipt;
pub mod reconcile;
pub mod sanitize;
pub mod scanner;
pub mod sim;
pub mod store;
pub mod supervisor;
pub mod sync;
pub mod till;
pub mod tui;
pub mod wechat;
