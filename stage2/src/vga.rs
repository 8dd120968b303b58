//! The VGA text screen: 80x25 cells of (CP437 byte, attribute) at 0xB8000.

use crate::arch::outb;

pub const COLS: usize = 80;
pub const ROWS: usize = 25;
const BUFFER: *mut u16 = 0xB8000 as *mut u16;

/// Writes one cell.
pub fn put(row: usize, col: usize, byte: u8, attr: u8) {
    if row < ROWS && col < COLS {
        // SAFETY: the index is inside the 80x25 text buffer, identity-mapped.
        unsafe { BUFFER.add(row * COLS + col).write_volatile(u16::from(attr) << 8 | u16::from(byte)) }
    }
}

/// Moves the hardware cursor off the screen (the menu shows its own bar).
pub fn hide_cursor() {
    outb(0x3D4, 0x0A);
    outb(0x3D5, 0x20);
}
