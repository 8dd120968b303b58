//! What the user sees, on the VGA text screen and on COM1 at once.
//!
//! [`log!`] writes a line to COM1 only (the decision log); [`Screen`] is the
//! full-screen model the menu draws into and [`Screen::present`] shows on
//! both: VGA cells in code page 437, COM1 as UTF-8 with ANSI escapes,
//! sending only the rows that changed.
//!
//! COM1 carries both, so they must not land in each other: once a screen
//! has been drawn there, a log line goes below its 25 rows (on a terminal
//! of 25 rows it scrolls the screen up), and the next present draws the
//! whole screen again.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::{serial, vga};
use bootfs::text::to_cp437;

pub const COLS: usize = vga::COLS;
pub const ROWS: usize = vga::ROWS;

/// Attributes (VGA colours); on COM1 any background means reverse video.
pub mod attr {
    pub const NORMAL: u8 = 0x07;
    pub const TITLE: u8 = 0x1F;
    pub const SELECTED: u8 = 0x70;
    pub const HELP: u8 = 0x30;
    pub const ERROR: u8 = 0x4F;
}

/// Writes to COM1 (for [`log!`]).
pub struct SerialLog;

impl Write for SerialLog {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        serial::write_str(s);
        Ok(())
    }
}

/// A screen has been drawn on COM1: log lines go below it.
static SCREEN_ON_SERIAL: AtomicBool = AtomicBool::new(false);
/// A log line went out since the last present: the terminal no longer
/// shows the screen as sent, so the next present sends it whole.
static SERIAL_SCREEN_STALE: AtomicBool = AtomicBool::new(false);

/// One line to COM1: `dropboot: ...`.
#[macro_export]
macro_rules! log {
    ($($t:tt)*) => {
        $crate::console::log_line(format_args!($($t)*))
    };
}

/// [`log!`]'s line: below the drawn screen, if there is one.
pub fn log_line(args: core::fmt::Arguments) {
    let mut out = SerialLog;
    if SCREEN_ON_SERIAL.load(Ordering::Relaxed) {
        let _ = write!(out, "\x1b[{};1H\x1b[0m", ROWS + 1);
        SERIAL_SCREEN_STALE.store(true, Ordering::Relaxed);
    }
    let _ = out.write_str("dropboot: ");
    let _ = out.write_fmt(args);
    let _ = out.write_str("\n");
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Cell {
    ch: char,
    attr: u8,
}

const BLANK: Cell = Cell { ch: ' ', attr: attr::NORMAL };

pub struct Screen {
    cells: Vec<Cell>,
    shown: Vec<Cell>,
    /// Nothing is known of the serial terminal: the next present redraws all.
    fresh: bool,
}

impl Screen {
    pub fn new() -> Self {
        vga::hide_cursor();
        Screen { cells: vec![BLANK; COLS * ROWS], shown: vec![BLANK; COLS * ROWS], fresh: true }
    }

    pub fn clear(&mut self) {
        self.cells.fill(BLANK);
    }

    /// Paints a whole row in `attr`, blank.
    pub fn fill_row(&mut self, row: usize, attr: u8) {
        if row < ROWS {
            self.cells[row * COLS..(row + 1) * COLS].fill(Cell { ch: ' ', attr });
        }
    }

    /// Writes `s` from (row, col), clipped at the right edge. Returns the
    /// column after the text.
    pub fn text(&mut self, row: usize, col: usize, s: &str, attr: u8) -> usize {
        let mut c = col;
        for ch in s.chars() {
            if row >= ROWS || c >= COLS {
                break;
            }
            let ch = if ch.is_control() { '?' } else { ch };
            self.cells[row * COLS + c] = Cell { ch, attr };
            c += 1;
        }
        c
    }

    /// Shows the model on VGA and sends the changed rows to COM1.
    pub fn present(&mut self) {
        let mut out = SerialLog;
        if SERIAL_SCREEN_STALE.swap(false, Ordering::Relaxed) {
            self.fresh = true;
        }
        if self.fresh {
            let _ = out.write_str("\x1b[0m\x1b[2J");
        }
        // The whole VGA frame first: the serial rows take far longer to
        // send, and the screen should not tear while they go out.
        let changed: Vec<usize> =
            (0..ROWS).filter(|&r| self.fresh || self.cells[r * COLS..(r + 1) * COLS] != self.shown[r * COLS..(r + 1) * COLS]).collect();
        for &row in &changed {
            for (col, cell) in self.cells[row * COLS..(row + 1) * COLS].iter().enumerate() {
                vga::put(row, col, to_cp437(cell.ch), cell.attr);
            }
        }
        for &row in &changed {
            serial_row(&mut out, row, &self.cells[row * COLS..(row + 1) * COLS]);
        }
        let _ = out.write_str("\x1b[0m\x1b[25;80H");
        self.shown.copy_from_slice(&self.cells);
        self.fresh = false;
        SCREEN_ON_SERIAL.store(true, Ordering::Relaxed);
    }
}

/// One row to the serial terminal: position, runs of reverse video, trailing
/// blanks left to erase-to-end-of-line.
fn serial_row(out: &mut SerialLog, row: usize, line: &[Cell]) {
    let reverse = |c: &Cell| c.attr & 0x70 != 0;
    let end = line.iter().rposition(|c| c.ch != ' ' || reverse(c)).map_or(0, |p| p + 1);
    let _ = write!(out, "\x1b[{};1H\x1b[0m", row + 1);
    let mut in_reverse = false;
    for cell in &line[..end.min(COLS - 1)] {
        if reverse(cell) != in_reverse {
            in_reverse = reverse(cell);
            let _ = out.write_str(if in_reverse { "\x1b[7m" } else { "\x1b[0m" });
        }
        let _ = out.write_char(cell.ch);
    }
    // A newline after each row keeps a captured log readable; none after
    // the last, which would scroll the terminal.
    let _ = out.write_str(if row + 1 < ROWS { "\x1b[0m\x1b[K\n" } else { "\x1b[0m\x1b[K" });
}

/// Writes one row straight to the VGA screen, for messages before the heap
/// exists and for the panic handler.
pub fn vga_line(row: usize, s: &str, attr: u8) {
    let mut chars = s.chars();
    for col in 0..COLS {
        vga::put(row, col, to_cp437(chars.next().unwrap_or(' ')), attr);
    }
}
