//! The payment engine: a pure state machine for one payment-code charge
//! ([`micropay`]), the driver that runs its commands against the client, the shift log and
//! the clock ([`driver`]), and start-up recovery of orders left in flight ([`recovery`]).
//! See `docs/payment-flow.md`.

pub mod driver;
pub mod micropay;
pub mod recovery;
pub mod refund;

pub use driver::{
    DESCRIPTION_MAX_CHARS, Engine, EngineError, Progress, REASON_MAX_BYTES, Sale,
    sanitize_description, sanitize_reason,
};
pub use micropay::{Machine, OrderState, Reason, Timing};
