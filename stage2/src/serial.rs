//! COM1 at 115200 baud, 8N1, polled.

use crate::arch::{inb, outb};

/// COM1's I/O base (entry.S's messages before Rust runs use it too).
pub const COM1: u16 = 0x3F8;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;

pub fn init() {
    outb(COM1 + 1, 0x00); // no interrupts
    outb(COM1 + 3, 0x80); // divisor latch
    outb(COM1, 0x01); // 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); // 8N1
    outb(COM1 + 2, 0xC7); // FIFO on, cleared
    outb(COM1 + 4, 0x03); // DTR, RTS
}

pub fn write_byte(b: u8) {
    // Bounded: a machine without COM1 must not hang here.
    for _ in 0..100_000 {
        if inb(COM1 + 5) & LSR_THR_EMPTY != 0 {
            break;
        }
    }
    outb(COM1, b);
}

pub fn write_str(s: &str) {
    for b in s.bytes() {
        if b == b'\n' {
            write_byte(b'\r');
        }
        write_byte(b);
    }
}

/// A received byte, if one is waiting. A missing port reads as 0xFF.
pub fn read_byte() -> Option<u8> {
    let lsr = inb(COM1 + 5);
    (lsr != 0xFF && lsr & LSR_DATA_READY != 0).then(|| inb(COM1))
}
