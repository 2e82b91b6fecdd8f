//! A three-line block font for the one big number on the screen: the amount.

/// Glyph rows for a character (each 3 cells wide), or `None` if the font has no glyph.
fn glyph(c: char) -> Option<[&'static str; 3]> {
    Some(match c {
        '0' => ["█▀█", "█ █", "█▄█"],
        '1' => ["▄█ ", " █ ", "▄█▄"],
        '2' => ["▀▀█", "█▀▀", "█▄▄"],
        '3' => ["▀▀█", " ▀█", "▄▄█"],
        '4' => ["█ █", "▀▀█", "  █"],
        '5' => ["█▀▀", "▀▀█", "▄▄█"],
        '6' => ["█▀▀", "█▀█", "█▄█"],
        '7' => ["▀▀█", "  █", "  █"],
        '8' => ["█▀█", "█▀█", "█▄█"],
        '9' => ["█▀█", "▀▀█", "▄▄█"],
        '.' => [" ", " ", "▄"],
        ',' => [" ", " ", "▗"],
        '¥' => ["█ █", "▀█▀", "▀█▀"],
        ' ' => [" ", " ", " "],
        '_' => ["   ", "   ", "▀▀▀"],
        _ => return None,
    })
}

/// The three lines of `text` in the block font (unknown characters are skipped). All three
/// rows have the same width, so they stay aligned when centred.
pub fn render(text: &str) -> [String; 3] {
    let mut rows = [String::new(), String::new(), String::new()];
    let mut first = true;
    for c in text.chars() {
        if let Some(g) = glyph(c) {
            for (row, part) in rows.iter_mut().zip(g) {
                if !first {
                    row.push(' ');
                }
                row.push_str(part);
            }
            first = false;
        }
    }
    rows
}

/// The width in cells of `text` in the block font.
pub fn width(text: &str) -> usize {
    text.chars()
        .filter_map(glyph)
        .map(|g| g[0].chars().count() + 1)
        .sum::<usize>()
        .saturating_sub(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_amount() {
        let r = super::render("¥12.5");
        assert_eq!(r[0], "█ █ ▄█  ▀▀█   █▀▀");
        assert_eq!(r[2], "▀█▀ ▄█▄ █▄▄ ▄ ▄▄█");
        assert_eq!(super::width("¥12.5"), r[2].chars().count());
    }
}
