//! The frame every full screen of the menu shares: the title bar, the two
//! help rows at the bottom, text cut to fit a row, and a page of lines
//! shown until Esc. The menu list, the details screen and the SHA-256
//! screen draw inside it.

use alloc::format;
use alloc::string::String;

use crate::console::{attr, Screen, COLS, ROWS};
use crate::input::{Input, Key};

/// The first row of a screen's body, under the title bar and one spare row.
pub const LIST_TOP: usize = 2;
/// The body's rows above the tip, status and help rows.
pub const LIST_ROWS: usize = ROWS - 6;
const HELP_ROWS: [usize; 2] = [ROWS - 2, ROWS - 1];

/// The title bar: dropboot's name and version on the left, `right` on the right.
pub fn title(screen: &mut Screen, right: &str) {
    screen.fill_row(0, attr::TITLE);
    let left = format!(" dropboot {}", bootfs::layout::Version(bootfs::layout::VERSION));
    screen.text(0, 0, &left, attr::TITLE);
    let right = fit(right, COLS - left.len() - 3);
    screen.text(0, COLS - 1 - right.chars().count(), &right, attr::TITLE);
}

/// The two help rows at the bottom of the screen.
pub fn help(screen: &mut Screen, lines: [&str; 2]) {
    for (row, text) in HELP_ROWS.into_iter().zip(lines) {
        screen.fill_row(row, attr::HELP);
        screen.text(row, 1, text, attr::HELP);
    }
}

/// `s` cut to `width` characters, with "..." where it was cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.into();
    }
    let mut out: String = s.chars().take(width.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// A screen of lines under a title, until Esc (or Enter, or Tab).
pub fn page(screen: &mut Screen, input: &mut Input, what: &str, lines: &[String]) {
    screen.clear();
    title(screen, what);
    for (i, line) in lines.iter().take(LIST_ROWS + 1).enumerate() {
        screen.text(LIST_TOP + i, 1, &fit(line, COLS - 2), attr::NORMAL);
    }
    help(screen, ["Esc: back to the menu", ""]);
    screen.present();
    while !matches!(input.wait_key(), Key::Esc | Key::Enter | Key::Tab) {}
}
