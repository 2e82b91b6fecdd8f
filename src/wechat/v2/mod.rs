//! WeChat Pay APIv2: XML over HTTPS, signed with the merchant's APIv2 key (protocol reference §9;
//! `docs/protocol.md`, "APIv2 (XML): signing, envelope, answers").
//!
//! Only the self-contained protocol pieces live here, each pure and tested on its own:
//! - [`sign`]: the key-signed MD5 / HMAC-SHA256 signature and its verification;
//! - [`xml`]: the flat `<xml><field>…</field>…</xml>` envelope, read with a bounded parser that
//!   refuses DTDs (XXE) and written with every value in CDATA;
//! - [`answer`]: `return_code` (communication) versus `result_code` (business), the signature
//!   checked on every answer that carries one, APIv2 error codes onto
//!   [`crate::wechat::model::ErrorCode`];
//! - [`request`]: typed requests for `/pay/micropay`, `/pay/orderquery`, `/secapi/pay/reverse`,
//!   `/secapi/pay/refund`, `/pay/refundquery` and `/pay/downloadbill`, serialised to the sorted,
//!   signed XML.
//!
//! Nothing here sends a request or reads scanpay's configuration: the transport (client
//! certificate for `/secapi/*`), the engine and the simulator use these pieces.

pub mod answer;
pub mod client;
pub mod request;
pub mod sign;
pub mod xml;

/// The ordered field map both directions use. Keys sort by their bytes, which for the ASCII
/// field names of APIv2 is the "ASCII ascending" order the signature needs.
pub type Fields = std::collections::BTreeMap<String, String>;
