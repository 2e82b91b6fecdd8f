//! Trade bill (placeholder until the parser lands).

/// Bill type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillType {
    /// All.
    All,
    /// Success.
    Success,
    /// Refund.
    Refund,
}
impl BillType {
    /// Query value.
    pub fn as_query(self) -> &'static str {
        match self {
            BillType::All => "ALL",
            BillType::Success => "SUCCESS",
            BillType::Refund => "REFUND",
        }
    }
}
/// Hex SHA-1.
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
