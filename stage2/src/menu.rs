//! The boot menu: every boot file with its size, a moving selection; Enter
//! boots, Tab shows a file's details. A boot that fails comes back here
//! with its reason on the status row.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bootfs::scan::BootFile;
use bootfs::text::human_size;

use crate::console::{attr, Screen, COLS, ROWS};
use crate::input::{Input, Key};
use crate::volume::Volume;

const LIST_TOP: usize = 2;
const LIST_ROWS: usize = ROWS - 5;
const STATUS_ROW: usize = ROWS - 2;
const HELP_ROW: usize = ROWS - 1;
const SIZE_COLS: usize = 10;

/// Ctrl+P: the panic self-test (proves the panic screen works).
const SELF_TEST_PANIC: char = '\u{10}';

pub struct Menu {
    files: Vec<BootFile>,
    selected: usize,
    top: usize,
    /// Shown on the status row until the next key.
    status: String,
    status_attr: u8,
}

impl Menu {
    pub fn new(files: Vec<BootFile>, status: String) -> Self {
        Menu { files, selected: 0, top: 0, status, status_attr: attr::NORMAL }
    }

    /// Runs the menu forever.
    pub fn run(&mut self, volume: &mut Volume, screen: &mut Screen, input: &mut Input) -> ! {
        loop {
            self.draw(screen, volume);
            let key = input.wait_key();
            self.status.clear();
            self.status_attr = attr::NORMAL;
            match key {
                Key::Enter if !self.files.is_empty() => self.boot(volume, screen),
                Key::Tab if !self.files.is_empty() => details(&self.files[self.selected], volume, screen, input),
                Key::Char(SELF_TEST_PANIC) => panic!("self-test requested with Ctrl+P in the menu"),
                other => self.move_selection(other),
            }
        }
    }

    /// Boots the selected file; on failure, its reason on the status row.
    fn boot(&mut self, volume: &mut Volume, screen: &mut Screen) {
        let file = self.files[self.selected].clone();
        let mut say = |line: &str| {
            crate::log!("{line}");
            screen.fill_row(STATUS_ROW, attr::NORMAL);
            screen.text(STATUS_ROW, 1, &fit(line, COLS - 2), attr::NORMAL);
            screen.present();
        };
        if let Err(e) = crate::boot::boot(volume, &file, &mut say) {
            self.status = format!("Cannot boot {}: {e}", file.name());
            self.status_attr = attr::ERROR;
            crate::log!("{}", self.status);
        }
    }

    fn move_selection(&mut self, key: Key) {
        let last = self.files.len().saturating_sub(1);
        self.selected = match key {
            Key::Up => self.selected.saturating_sub(1),
            Key::Down => (self.selected + 1).min(last),
            Key::PageUp => self.selected.saturating_sub(LIST_ROWS),
            Key::PageDown => (self.selected + LIST_ROWS).min(last),
            Key::Home => 0,
            Key::End => last,
            _ => self.selected,
        };
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + LIST_ROWS {
            self.top = self.selected + 1 - LIST_ROWS;
        }
    }

    fn draw(&self, screen: &mut Screen, volume: &Volume) {
        screen.clear();
        title(screen, &format!("{} boot files on {}", self.files.len(), volume.describe()));
        if self.files.is_empty() {
            screen.text(LIST_TOP, 2, "No .iso or .img files on this stick.", attr::NORMAL);
            screen.text(LIST_TOP + 1, 2, "Copy boot files onto its data partition, then restart.", attr::NORMAL);
        }
        for (row, (i, f)) in self.files.iter().enumerate().skip(self.top).take(LIST_ROWS).enumerate() {
            let a = if i == self.selected { attr::SELECTED } else { attr::NORMAL };
            let row = LIST_TOP + row;
            screen.fill_row(row, a);
            screen.text(row, 1, &fit(&f.path, COLS - SIZE_COLS - 4), a);
            let size = human_size(f.size);
            screen.text(row, COLS - 1 - size.chars().count(), &size, a);
        }
        if !self.status.is_empty() {
            screen.fill_row(STATUS_ROW, self.status_attr);
            screen.text(STATUS_ROW, 1, &fit(&self.status, COLS - 2), self.status_attr);
        }
        help(screen, "Up/Down PgUp/PgDn Home/End: move   Enter: boot   Tab: details");
        screen.present();
    }
}

fn title(screen: &mut Screen, right: &str) {
    screen.fill_row(0, attr::TITLE);
    let left = format!(" dropboot {}", bootfs::layout::Version(bootfs::layout::VERSION));
    screen.text(0, 0, &left, attr::TITLE);
    let right = fit(right, COLS - left.len() - 3);
    screen.text(0, COLS - 1 - right.chars().count(), &right, attr::TITLE);
}

fn help(screen: &mut Screen, text: &str) {
    screen.fill_row(HELP_ROW, attr::HELP);
    screen.text(HELP_ROW, 1, text, attr::HELP);
}

/// `s` cut to `width` characters, with "..." where it was cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.into();
    }
    let mut out: String = s.chars().take(width.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// The details view of one file, until Esc.
fn details(file: &BootFile, volume: &mut Volume, screen: &mut Screen, input: &mut Input) {
    let extents = match volume.extent_map(file) {
        Ok(map) => format!("{}", map.len()),
        Err(e) => format!("unreadable: {e}"),
    };
    crate::log!("details {}: {} bytes, first cluster {}, extents {}", file.path, file.size, file.first_cluster, extents);
    loop {
        screen.clear();
        title(screen, "details");
        let lines = [
            format!("Path:          {}", file.path),
            format!("Size:          {} bytes ({})", file.size, human_size(file.size)),
            format!("First cluster: {}", file.first_cluster),
            format!("Extents:       {extents}"),
        ];
        for (i, line) in lines.iter().enumerate() {
            screen.text(LIST_TOP + i, 2, &fit(line, COLS - 3), attr::NORMAL);
        }
        help(screen, "Esc: back to the menu");
        screen.present();
        if input.wait_key() == Key::Esc {
            return;
        }
    }
}

/// A screen that says what went wrong and offers a reboot.
pub fn fatal(screen: &mut Screen, input: &mut Input, what: &str, hint: &str) -> ! {
    crate::log!("cannot start: {what}");
    screen.clear();
    title(screen, "cannot start");
    screen.fill_row(LIST_TOP, attr::ERROR);
    screen.text(LIST_TOP, 1, &fit(what, COLS - 2), attr::ERROR);
    screen.text(LIST_TOP + 2, 1, &fit(hint, COLS - 2), attr::NORMAL);
    help(screen, "Enter: reboot");
    screen.present();
    while input.wait_key() != Key::Enter {}
    crate::log!("rebooting");
    crate::arch::reboot()
}
