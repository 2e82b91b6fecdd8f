//! The receipt as a list of blocks: what every output (screen preview, text spool, ESC/POS
//! printer) renders. The layout (`layout.rs`) builds it; renderers only draw it.

/// Horizontal alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left,
    /// Centred.
    Center,
    /// Right.
    Right,
}

/// Character size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Normal.
    Normal,
    /// Double width and double height.
    Double,
}

/// One block of a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A line of text, already wrapped to fit the paper at its size (a `Double` line fits in
    /// half the columns).
    Text {
        /// The text (never wider than the paper).
        text: String,
        /// Alignment.
        align: Align,
        /// Bold.
        bold: bool,
        /// Size.
        size: Size,
    },
    /// A separator line across the paper.
    Rule,
    /// A QR code of this payload, centred.
    Qr(String),
    /// Empty lines.
    Feed(u8),
}

/// A whole receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Paper width in columns (32 for 58 mm, 42 or 48 for 80 mm).
    pub width: usize,
    /// The blocks, top to bottom.
    pub blocks: Vec<Block>,
}
