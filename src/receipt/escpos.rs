//! ESC/POS encoder: turns a [`Receipt`] into the bytes a thermal receipt printer understands,
//! with Chinese text in GB18030 (printer in Chinese character mode) and a QR code printed either
//! by the printer's firmware or as a raster bitmap.
//!
//! # Why the commands are written here and not taken from the `escpos` crate
//!
//! The `escpos` crate (0.20.1, `default-features = false`, `codes_2d`) was read and rejected.
//! It can write into memory (a `Driver` whose `write(&self)` fills an `Rc<RefCell<Vec<u8>>>`)
//! and it can encode text as GB18030 (`Encoder::new(GB18030)`), but it does not fit cleanly:
//! its cash-drawer command is truncated (`ESC p m` without the `t1 t2` pulse times, pinned by
//! its own test `test_cash_drawer`), so the printer would take the next two bytes of the receipt
//! as pulse timings — the bug reported in python-escpos #10 and node-escpos #151 and fixed in
//! ESC-POS-.NET #112; it has no Chinese-mode commands (`FS &`, `FS C`); its raster image needs
//! the `graphics` feature and so the `image` crate; `writeln` ends a line with `ESC d 1`, not
//! `LF`; and every call returns a `Result` although [`encode`] cannot fail. Three of the
//! required commands would have been raw `custom()` bytes anyway, and what was left for the
//! crate (`ESC @`, `ESC a`, `ESC E`, `GS !`, `GS V`, five fixed `GS ( k` headers) are constants
//! of two to eight bytes. Writing them as the named constants below keeps the output exact and
//! testable byte for byte, with two small dependencies: `encoding_rs` (the GB18030 encoder) and
//! `qrcode` without default features (QR matrix for the raster mode and the capacity check).
//!
//! # What is sent
//!
//! | when | bytes | meaning |
//! |---|---|---|
//! | start | `1B 40` | `ESC @`: initialise (clears styles left by an earlier job) |
//! | start | `1C 26` | `FS &`: Chinese (Kanji) character mode on: bytes ≥ 0x81 are read as GB codes |
//! | start | `1C 43 00` | `FS C 0`: select the Chinese code system; 0 is GB18030/GBK, the power-on default, on printers sold in China (0 means JIS only on Japanese-market Epson models). Sent so the choice is explicit instead of trusting a setting a technician may have changed. No `ESC t`/`ESC R`: single-byte code pages do not apply in Chinese mode, and `ESC R 15` (China) would swap some ASCII symbols for others |
//! | text | `1B 61 n` | `ESC a n`: align 0 left, 1 centre, 2 right |
//! | text | `1B 45 n` | `ESC E n`: bold off/on |
//! | text | `1D 21 n` | `GS ! n`: size `00` normal, `11` double width and height |
//! | text | GB18030 bytes, `0A` | the line, then `LF` |
//! | text | `1B 45 00 1D 21 00 1B 61 00` | reset bold, size, alignment: no block leaks style |
//! | rule | `2D`×width, `0A` | `receipt.width` dashes (at most 128) |
//! | feed | `1B 64 n` | `ESC d n`: feed n lines |
//! | QR (firmware) | `1B 61 01`, then `GS ( k` fn 65 model 2, fn 67 module size, fn 69 level M, fn 80 store (pL pH = len+3), fn 81 print, `0A`, `1B 61 00` | |
//! | QR (raster) | `1B 61 01`, `1D 76 30 00 xL xH yL yH` + rows MSB first, `1B 61 00` | `GS v 0` |
//! | end | `1B 70 00 19 FA` | `ESC p 0 25 250`: drawer pulse on pin 2, 50 ms on, 500 ms off |
//! | end | `1B 64 03` | feed 3 lines, so the last line clears the tear bar |
//! | end | `1D 56 41 00` | `GS V 65 0`: function B full cut (feed to the cutter, then cut) |
//!
//! `GS V 66 n` would be function B *partial* cut in Epson's command reference, so the full cut is
//! sent as `GS V 65 0`.
//!
//! # Text
//!
//! Text is encoded by [`gb18030`]: `¥` (U+00A5) is first replaced by the full-width `￥`
//! (U+FFE5, GB `A3 A4`), because GB18030 encodes `¥` as the four-byte `81 30 84 36`, which
//! GBK-only printer fonts print as garbage (python-escpos #269, node-escpos #332,
//! ESC-POS-.NET #88). Every other character is encodable in GB18030; the one code point the
//! WHATWG encoder refuses (U+E5E5, private use) becomes a numeric character reference instead of
//! a panic. Characters outside GBK take four bytes, which older GBK-only printers show as two
//! wrong glyphs: that is a printer limit, not an encoding error. [`encode`] also turns control
//! characters (newline, tab, `ESC`, …) in text into spaces, so no text can inject a printer
//! command or break a line the layout did not break; GB18030 multi-byte sequences never contain
//! a byte below 0x30, so encoded text cannot either.
//!
//! # QR codes
//!
//! The payload's UTF-8 bytes are encoded at error-correction level M. Both modes first check with
//! the `qrcode` crate that the payload fits in a QR code at level M (2331 bytes of binary data,
//! more for digits or upper-case text); a payload that does not fit is printed as left-aligned
//! plain text instead (the printer wraps it), and an empty payload prints nothing. The module
//! size is 6 dots (firmware) or 4 dots (raster) and shrinks, down to 1 dot, so that the symbol
//! plus a 4-module quiet zone fits the paper (`width` × 12 dots, between 384 dots for 58 mm and
//! 576 dots for 80 mm). The raster bitmap includes that quiet zone.

use encoding_rs::GB18030;
use qrcode::{Color, EcLevel, QrCode};

use super::model::{Align, Block, Receipt, Size};

/// How the QR code is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrMode {
    /// By the printer's own QR generator (`GS ( k`): small and sharp, needs a printer with it.
    Firmware,
    /// As a bitmap drawn here (`GS v 0`): works on any printer with raster graphics.
    Raster,
}

/// What the printer does besides printing the receipt.
#[derive(Clone, Debug)]
pub struct EscPosOptions {
    /// Cut the paper at the end (full cut).
    pub cut: bool,
    /// Pulse the cash drawer (pin 2) at the end.
    pub drawer: bool,
    /// How QR codes are printed.
    pub qr: QrMode,
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;

/// `ESC @`: initialise the printer.
const INIT: [u8; 2] = [ESC, b'@'];
/// `FS &`: select Chinese (Kanji) character mode.
const CHINESE_MODE_ON: [u8; 2] = [FS, b'&'];
/// `FS C 0`: select code system 0 (GB18030/GBK on Chinese printers).
const CHINESE_CODE_GB18030: [u8; 3] = [FS, b'C', 0];
/// `ESC a` + n: justification.
const ALIGN: [u8; 2] = [ESC, b'a'];
const ALIGN_LEFT: u8 = 0;
const ALIGN_CENTER: u8 = 1;
const ALIGN_RIGHT: u8 = 2;
/// `ESC E` + n: emphasis (bold).
const BOLD: [u8; 2] = [ESC, b'E'];
/// `GS !` + n: character size.
const SIZE: [u8; 2] = [GS, b'!'];
const SIZE_NORMAL: u8 = 0x00;
const SIZE_DOUBLE: u8 = 0x11;
/// `ESC d` + n: print and feed n lines.
const FEED_LINES: [u8; 2] = [ESC, b'd'];
/// Lines fed at the end of the receipt.
const END_FEED_LINES: u8 = 3;
/// `ESC p 0 25 250`: pulse drawer pin 2, on 25×2 ms, off 250×2 ms.
const DRAWER_PULSE_PIN2: [u8; 5] = [ESC, b'p', 0, 25, 250];
/// `GS V 65 0`: feed to the cutting position and cut fully (function B).
const CUT_FULL: [u8; 4] = [GS, b'V', 65, 0];
/// `GS ( k`: 2D symbol commands; followed by pL pH cn fn [parameters].
const SYMBOL: [u8; 3] = [GS, b'(', b'k'];
/// `cn` of the QR code functions.
const QR_CN: u8 = 49;
/// fn 65: select model; parameters n1 = 50 (model 2), n2 = 0.
const QR_FN_MODEL: u8 = 65;
const QR_MODEL_2: u8 = 50;
/// fn 67: module size in dots.
const QR_FN_MODULE_SIZE: u8 = 67;
/// fn 69: error-correction level; 49 = M.
const QR_FN_ERROR_CORRECTION: u8 = 69;
const QR_LEVEL_M: u8 = 49;
/// fn 80: store data; m = 48.
const QR_FN_STORE: u8 = 80;
/// fn 81: print the stored symbol; m = 48.
const QR_FN_PRINT: u8 = 81;
const QR_M: u8 = 48;
/// Bytes of `cn fn m` counted in pL pH of the store command.
const QR_STORE_OVERHEAD: usize = 3;
/// `GS v 0 0`: print raster bit image, normal density; followed by xL xH yL yH and the rows.
const RASTER: [u8; 4] = [GS, b'v', b'0', 0];

/// Module size of a firmware QR code, in dots, when the paper is wide enough.
const FIRMWARE_MODULE_DOTS: usize = 6;
/// Module size of a raster QR code, in dots, when the paper is wide enough.
const RASTER_MODULE_DOTS: usize = 4;
/// Quiet zone around a QR code, in modules.
const QUIET_MODULES: usize = 4;
/// Dots per column of text (font A is 12 dots wide).
const DOTS_PER_COLUMN: usize = 12;
/// Printable width of 58 mm paper, in dots: the narrowest assumed.
const MIN_PAPER_DOTS: usize = 384;
/// Printable width of 80 mm paper, in dots: the widest assumed.
const MAX_PAPER_DOTS: usize = 576;
/// Longest rule printed, in columns (a guard against absurd widths).
const MAX_RULE_COLUMNS: usize = 128;

/// `¥` (U+00A5): not in GB2312/GBK; GB18030 needs four bytes for it.
const YEN: char = '\u{00A5}';
/// `￥` (U+FFE5): full-width yen/yuan sign, GB `A3 A4`.
const FULLWIDTH_YEN: char = '\u{FFE5}';

/// Encodes `receipt` as ESC/POS bytes. Never fails and never panics: see the module docs for
/// every command sent and for what happens to unprintable input.
pub fn encode(receipt: &Receipt, opts: &EscPosOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&INIT);
    out.extend_from_slice(&CHINESE_MODE_ON);
    out.extend_from_slice(&CHINESE_CODE_GB18030);
    let paper = paper_dots(receipt.width);
    for block in &receipt.blocks {
        match block {
            Block::Text {
                text,
                align,
                bold,
                size,
            } => push_text(&mut out, text, *align, *bold, *size),
            Block::Rule => {
                let columns = receipt.width.min(MAX_RULE_COLUMNS);
                out.extend(std::iter::repeat_n(b'-', columns));
                out.push(LF);
            }
            Block::Qr(payload) => push_qr(&mut out, payload, opts.qr, paper),
            Block::Feed(lines) => {
                out.extend_from_slice(&FEED_LINES);
                out.push(*lines);
            }
        }
    }
    if opts.drawer {
        out.extend_from_slice(&DRAWER_PULSE_PIN2);
    }
    out.extend_from_slice(&FEED_LINES);
    out.push(END_FEED_LINES);
    if opts.cut {
        out.extend_from_slice(&CUT_FULL);
    }
    out
}

/// Encodes `text` as GB18030, after replacing `¥` (U+00A5) by the full-width `￥` (U+FFE5,
/// `A3 A4`). ASCII is unchanged; characters outside GBK take four bytes. Never panics.
pub fn gb18030(text: &str) -> Vec<u8> {
    let mapped: String = text
        .chars()
        .map(|c| if c == YEN { FULLWIDTH_YEN } else { c })
        .collect();
    let (bytes, _encoding, _replaced) = GB18030.encode(&mapped);
    bytes.into_owned()
}

/// Paper width in dots for a receipt `width` in columns.
fn paper_dots(width: usize) -> usize {
    width
        .saturating_mul(DOTS_PER_COLUMN)
        .clamp(MIN_PAPER_DOTS, MAX_PAPER_DOTS)
}

/// Dots per module so that `span` modules fit in `paper` dots, at most `preferred`, at least 1.
fn module_dots(paper: usize, span: usize, preferred: usize) -> usize {
    (paper / span.max(1)).clamp(1, preferred)
}

/// One text line with its style, then the style reset.
fn push_text(out: &mut Vec<u8>, text: &str, align: Align, bold: bool, size: Size) {
    out.extend_from_slice(&ALIGN);
    out.push(match align {
        Align::Left => ALIGN_LEFT,
        Align::Center => ALIGN_CENTER,
        Align::Right => ALIGN_RIGHT,
    });
    out.extend_from_slice(&BOLD);
    out.push(u8::from(bold));
    out.extend_from_slice(&SIZE);
    out.push(match size {
        Size::Normal => SIZE_NORMAL,
        Size::Double => SIZE_DOUBLE,
    });
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    out.extend_from_slice(&gb18030(&clean));
    out.push(LF);
    push_style_reset(out);
}

/// Bold off, normal size, left alignment.
fn push_style_reset(out: &mut Vec<u8>) {
    out.extend_from_slice(&BOLD);
    out.push(0);
    out.extend_from_slice(&SIZE);
    out.push(SIZE_NORMAL);
    out.extend_from_slice(&ALIGN);
    out.push(ALIGN_LEFT);
}

/// A centred QR code of `payload`, or its text when it does not fit in a QR code.
fn push_qr(out: &mut Vec<u8>, payload: &str, mode: QrMode, paper: usize) {
    let data = payload.as_bytes();
    if data.is_empty() {
        return;
    }
    let Ok(code) = QrCode::with_error_correction_level(data, EcLevel::M) else {
        push_text(out, payload, Align::Left, false, Size::Normal);
        return;
    };
    let span = code.width() + 2 * QUIET_MODULES;
    let mut symbol = Vec::new();
    let built = match mode {
        QrMode::Firmware => firmware_qr(
            &mut symbol,
            data,
            module_dots(paper, span, FIRMWARE_MODULE_DOTS),
        ),
        QrMode::Raster => raster_qr(
            &mut symbol,
            &code,
            module_dots(paper, span, RASTER_MODULE_DOTS),
        ),
    };
    if built.is_none() {
        // Only reachable for sizes no QR code has; kept so that no input can panic.
        push_text(out, payload, Align::Left, false, Size::Normal);
        return;
    }
    out.extend_from_slice(&ALIGN);
    out.push(ALIGN_CENTER);
    out.extend_from_slice(&symbol);
    out.extend_from_slice(&ALIGN);
    out.push(ALIGN_LEFT);
}

/// One `GS ( k` QR function with its parameters.
fn push_qr_function(out: &mut Vec<u8>, function: u8, params: &[u8]) -> Option<()> {
    let [pl, ph] = u16::try_from(params.len() + 2).ok()?.to_le_bytes();
    out.extend_from_slice(&SYMBOL);
    out.extend_from_slice(&[pl, ph, QR_CN, function]);
    out.extend_from_slice(params);
    Some(())
}

/// Model 2, module size, level M, store `data`, print, then `LF` below the symbol.
fn firmware_qr(out: &mut Vec<u8>, data: &[u8], dots: usize) -> Option<()> {
    let dots = u8::try_from(dots).ok()?;
    push_qr_function(out, QR_FN_MODEL, &[QR_MODEL_2, 0])?;
    push_qr_function(out, QR_FN_MODULE_SIZE, &[dots])?;
    push_qr_function(out, QR_FN_ERROR_CORRECTION, &[QR_LEVEL_M])?;
    let [pl, ph] = u16::try_from(data.len() + QR_STORE_OVERHEAD)
        .ok()?
        .to_le_bytes();
    out.extend_from_slice(&SYMBOL);
    out.extend_from_slice(&[pl, ph, QR_CN, QR_FN_STORE, QR_M]);
    out.extend_from_slice(data);
    push_qr_function(out, QR_FN_PRINT, &[QR_M])?;
    out.push(LF);
    Some(())
}

/// `GS v 0` bitmap of `code`, `scale` dots per module, with the quiet zone, rows MSB first.
fn raster_qr(out: &mut Vec<u8>, code: &QrCode, scale: usize) -> Option<()> {
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_MODULES).checked_mul(scale)?;
    let row_bytes = side.div_ceil(8);
    let [xl, xh] = u16::try_from(row_bytes).ok()?.to_le_bytes();
    let [yl, yh] = u16::try_from(side).ok()?.to_le_bytes();
    out.extend_from_slice(&RASTER);
    out.extend_from_slice(&[xl, xh, yl, yh]);
    let is_dark = |x: usize, y: usize| -> bool {
        let (mx, my) = (x / scale, y / scale);
        let (Some(cx), Some(cy)) = (mx.checked_sub(QUIET_MODULES), my.checked_sub(QUIET_MODULES))
        else {
            return false;
        };
        cx < modules && cy < modules && colors.get(cy * modules + cx) == Some(&Color::Dark)
    };
    for y in 0..side {
        for byte_index in 0..row_bytes {
            let mut byte = 0u8;
            for bit in 0..8 {
                let x = byte_index * 8 + bit;
                if x < side && is_dark(x, y) {
                    byte |= 0x80 >> bit;
                }
            }
            out.push(byte);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn text(t: &str, align: Align, bold: bool, size: Size) -> Block {
        Block::Text {
            text: t.to_string(),
            align,
            bold,
            size,
        }
    }

    fn opts(qr: QrMode) -> EscPosOptions {
        EscPosOptions {
            cut: false,
            drawer: false,
            qr,
        }
    }

    fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    }

    #[test]
    fn golden_receipt() {
        let receipt = Receipt {
            width: 32,
            blocks: vec![
                text("示例便利店", Align::Center, true, Size::Double),
                text("金额 ¥12.34", Align::Left, false, Size::Normal),
                Block::Rule,
                Block::Qr("POS01-20251125-AB-000001".to_string()),
            ],
        };
        let got = encode(
            &receipt,
            &EscPosOptions {
                cut: true,
                drawer: true,
                qr: QrMode::Firmware,
            },
        );
        // Built from the command table, not from the encoder's constants.
        let payload_hex = hex(b"POS01-20251125-AB-000001");
        let expected = [
            "1b40",   // ESC @
            "1c26",   // FS &
            "1c4300", // FS C 0
            // 示例便利店: centre, bold, double
            "1b6101 1b4501 1d2111",
            "cabec0fdb1e3c0fbb5ea 0a", // python3: '示例便利店'.encode('gb18030')
            "1b4500 1d2100 1b6100",
            // 金额 ¥12.34: left, normal; ¥ → ￥ = a3a4
            "1b6100 1b4500 1d2100",
            "bdf0b6ee 20 a3a4 31322e3334 0a",
            "1b4500 1d2100 1b6100",
            // Rule: 32 dashes
            &"2d".repeat(32),
            "0a",
            // QR, centred
            "1b6101",
            "1d286b 0400 31 41 3200", // model 2
            "1d286b 0300 31 43 06",   // module 6 dots
            "1d286b 0300 31 45 31",   // level M
            "1d286b 1b00 31 50 30",   // store, pL = 24 + 3 = 0x1b
            &payload_hex,
            "1d286b 0300 31 51 30", // print
            "0a",
            "1b6100",
            "1b700019fa", // drawer pin 2, 25, 250
            "1b6403",     // feed 3
            "1d564100",   // GS V 65 0
        ]
        .concat();
        assert_eq!(hex(&got), hex(&unhex(&expected)));
    }

    #[test]
    fn yen_ascii_and_four_byte() {
        assert_eq!(hex(&gb18030("¥")), "a3a4");
        assert_eq!(hex(&gb18030("￥")), "a3a4");
        assert_eq!(gb18030("Total 12.34 ok~"), b"Total 12.34 ok~".to_vec());
        assert_eq!(hex(&gb18030("𠀀")), "95328236");
        assert_eq!(hex(&gb18030("示例")), "cabec0fd");
        // The one code point the encoder refuses: replaced, no panic.
        assert!(!gb18030("\u{E5E5}").is_empty());
    }

    #[test]
    fn control_characters_become_spaces() {
        let receipt = Receipt {
            width: 32,
            blocks: vec![text("a\x1b@b\nc", Align::Left, false, Size::Normal)],
        };
        let out = encode(&receipt, &opts(QrMode::Firmware));
        assert!(find(&out, b"a @b c\n", 0).is_some());
        assert_eq!(find(&out, &[0x1b, b'@'], 2), None);
    }

    fn store_header(out: &[u8]) -> (usize, [u8; 2]) {
        let at = (0..out.len())
            .find(|&i| {
                out[i..].starts_with(&[0x1d, 0x28, 0x6b])
                    && out.get(i + 5..i + 8) == Some(&[0x31, 0x50, 0x30])
            })
            .expect("store command");
        (at + 8, [out[at + 3], out[at + 4]])
    }

    #[test]
    fn firmware_pl_ph() {
        for (payload, pl, ph) in [("X".repeat(24), 27u8, 0u8), ("a".repeat(300), 0x2f, 0x01)] {
            let receipt = Receipt {
                width: 32,
                blocks: vec![Block::Qr(payload.clone())],
            };
            let out = encode(&receipt, &opts(QrMode::Firmware));
            let (data_at, p) = store_header(&out);
            assert_eq!(p, [pl, ph], "payload of {} bytes", payload.len());
            assert_eq!(usize::from(pl) + 256 * usize::from(ph), payload.len() + 3);
            assert_eq!(&out[data_at..data_at + payload.len()], payload.as_bytes());
            // Followed by the print command.
            assert_eq!(
                &out[data_at + payload.len()..data_at + payload.len() + 8],
                &[0x1d, 0x28, 0x6b, 3, 0, 0x31, 0x51, 0x30]
            );
        }
    }

    #[test]
    fn raster_header_and_finder() {
        let receipt = Receipt {
            width: 32,
            blocks: vec![Block::Qr("POS01-20251125-AB-000001".to_string())],
        };
        let out = encode(&receipt, &opts(QrMode::Raster));
        assert_eq!(find(&out, &[0x1d, 0x28, 0x6b], 0), None);
        let at = find(&out, &[0x1d, 0x76, 0x30, 0x00], 0).expect("GS v 0");
        assert_eq!(&out[at - 3..at], &[0x1b, 0x61, 0x01]);
        let x = usize::from(out[at + 4]) + 256 * usize::from(out[at + 5]);
        let y = usize::from(out[at + 6]) + 256 * usize::from(out[at + 7]);
        // Version 2 (25 modules) + 2×4 quiet, 4 dots each = 132 dots; 17 bytes a row.
        assert_eq!((x, y), (17, 132));
        let data = &out[at + 8..at + 8 + x * y];
        // Right after the bitmap: alignment back to left.
        assert_eq!(
            &out[at + 8 + x * y..at + 8 + x * y + 3],
            &[0x1b, 0x61, 0x00]
        );
        let dot = |dx: usize, dy: usize| data[dy * x + dx / 8] & (0x80 >> (dx % 8)) != 0;
        let q = 16; // quiet zone: 4 modules × 4 dots
        // Quiet zone blank.
        assert!((0..132).all(|d| !dot(d, 0) && !dot(0, d)));
        // Top-left finder: outer ring dark, then a light ring, then the dark 3×3 centre.
        for i in 0..28 {
            assert!(dot(q + i, q), "top edge {i}");
            assert!(dot(q, q + i), "left edge {i}");
            assert!(dot(q + i, q + 27), "bottom edge {i}");
            assert!(dot(q + 27, q + i), "right edge {i}");
        }
        assert!(!dot(q + 4, q + 4));
        assert!(dot(q + 8, q + 8) && dot(q + 19, q + 19));
        // Separator column right of the finder is light.
        assert!(!dot(q + 28, q + 2));
    }

    #[test]
    fn no_style_leaks() {
        let blocks = vec![
            text("一", Align::Center, true, Size::Double),
            text("two", Align::Right, false, Size::Double),
            text("三", Align::Left, true, Size::Normal),
            Block::Rule,
            text("four", Align::Right, true, Size::Normal),
            Block::Feed(2),
            text("五", Align::Center, false, Size::Normal),
        ];
        let receipt = Receipt {
            width: 32,
            blocks: blocks.clone(),
        };
        let out = encode(&receipt, &opts(QrMode::Firmware));
        let reset = [0x1b, 0x45, 0x00, 0x1d, 0x21, 0x00, 0x1b, 0x61, 0x00];
        let mut from = 0;
        let mut checked = 0;
        for block in &blocks {
            if let Block::Text { text, .. } = block {
                let mut line = gb18030(text);
                line.push(LF);
                let at = find(&out, &line, from).expect("text present");
                let after = at + line.len();
                assert_eq!(&out[after..after + reset.len()], &reset, "after {text}");
                from = after;
                checked += 1;
            }
        }
        assert_eq!(checked, 5);
    }

    #[test]
    fn too_long_or_empty_payload() {
        let long = "长".repeat(1000); // 3000 UTF-8 bytes: more than a QR code holds at level M
        let receipt = Receipt {
            width: 32,
            blocks: vec![Block::Qr(long.clone()), Block::Qr(String::new())],
        };
        for mode in [QrMode::Firmware, QrMode::Raster] {
            let out = encode(&receipt, &opts(mode));
            assert_eq!(find(&out, &[0x1d, 0x28, 0x6b], 0), None);
            assert_eq!(find(&out, &[0x1d, 0x76, 0x30], 0), None);
            assert!(find(&out, &gb18030(&long), 0).is_some());
        }
    }

    #[test]
    fn big_qr_shrinks_to_fit_paper() {
        let payload = "a".repeat(2000); // version 37-ish
        let receipt = Receipt {
            width: 32,
            blocks: vec![Block::Qr(payload)],
        };
        let out = encode(&receipt, &opts(QrMode::Raster));
        let at = find(&out, &[0x1d, 0x76, 0x30, 0x00], 0).expect("GS v 0");
        let x = usize::from(out[at + 4]) + 256 * usize::from(out[at + 5]);
        assert!(x * 8 <= 384 + 7);
        let out = encode(&receipt, &opts(QrMode::Firmware));
        let at = find(&out, &[0x1d, 0x28, 0x6b, 3, 0, 0x31, 0x43], 0).expect("module size");
        assert_eq!(out[at + 7], 2);
    }

    #[test]
    fn end_without_cut_or_drawer() {
        let out = encode(&Receipt::default(), &opts(QrMode::Firmware));
        assert_eq!(hex(&out), "1b401c261c43001b6403");
    }

    fn any_block() -> impl Strategy<Value = Block> {
        let align = prop_oneof![Just(Align::Left), Just(Align::Center), Just(Align::Right)];
        let size = prop_oneof![Just(Size::Normal), Just(Size::Double)];
        prop_oneof![
            (any::<String>(), align, any::<bool>(), size).prop_map(|(text, align, bold, size)| {
                Block::Text {
                    text,
                    align,
                    bold,
                    size,
                }
            }),
            Just(Block::Rule),
            any::<String>().prop_map(Block::Qr),
            "[ -~]{0,3000}".prop_map(Block::Qr),
            any::<u8>().prop_map(Block::Feed),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_never_panics(
            width in prop_oneof![0usize..200, Just(usize::MAX)],
            blocks in prop::collection::vec(any_block(), 0..8),
            cut in any::<bool>(),
            drawer in any::<bool>(),
            raster in any::<bool>(),
        ) {
            let qr = if raster { QrMode::Raster } else { QrMode::Firmware };
            let out = encode(&Receipt { width, blocks }, &EscPosOptions { cut, drawer, qr });
            prop_assert!(out.starts_with(&[0x1b, 0x40, 0x1c, 0x26, 0x1c, 0x43, 0x00]));
        }
    }
}
