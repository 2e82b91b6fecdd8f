//! The cashier's screen: an Elm-style loop around one [`app::App`]. `update` (pure) turns
//! messages into state changes and commands, `view` (pure) draws the state, and `run` does
//! the I/O: terminal, keys, scanner, engine, shift log.

pub mod app;
pub mod bigtext;
pub mod form;
pub mod keys;
pub mod run;
pub mod screen;
pub mod update;
pub mod view;
pub mod wedge;

/// The text table moved to the crate root (both faces use it); kept here as a path too.
pub use crate::i18n;
