//! Barcode scanners. A serial / USB-CDC scanner is read by [`serial`] on its own thread; a
//! keyboard-wedge scanner types into the terminal and is told from typing by
//! `tui::wedge`. Both end as the same scan message, normalised and classified by
//! `auth_code`.

pub mod serial;
