//! Keys from the keyboard (BIOS INT 16h) and from COM1 (ANSI sequences),
//! whichever comes first.

use crate::arch::{bios_int, idle, ticks, RmRegs};
use crate::serial;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Backspace,
    Tab,
    /// Function keys F1..F12.
    F(u8),
    Char(char),
    Other,
}

/// Ticks (55 ms) a lone ESC on COM1 waits for the rest of a sequence.
const ESC_WAIT_TICKS: u32 = 3;

/// BIOS timer ticks per second (18.2), times ten.
const TICKS_PER_SECOND_X10: u32 = 182;

/// A countdown of whole seconds from the tick it started at: the menu's
/// default boot and the question before a boot show one.
#[derive(Clone, Copy, Debug)]
pub struct Countdown {
    started: u32,
    seconds: u32,
}

/// What a wait during a countdown ended with.
pub enum Counted {
    Key(Key),
    /// A whole second passed: redraw the count.
    Second,
    Over,
}

impl Countdown {
    pub fn start(seconds: u32) -> Countdown {
        Countdown { started: ticks(), seconds }
    }

    /// Tenths of ticks left (0: over).
    fn left_x10(&self) -> u32 {
        (self.seconds * TICKS_PER_SECOND_X10).saturating_sub(ticks().wrapping_sub(self.started) * 10)
    }

    /// Whole seconds left, rounded up (0: over).
    pub fn seconds_left(&self) -> u32 {
        self.left_x10().div_ceil(TICKS_PER_SECOND_X10)
    }
}

#[derive(Default)]
pub struct Input {
    seq: [u8; 8],
    seq_len: usize,
    seq_started: u32,
}

impl Input {
    /// Waits for the next key, idling the CPU between polls.
    pub fn wait_key(&mut self) -> Key {
        loop {
            if let Some(k) = self.poll() {
                return k;
            }
            idle();
        }
    }

    /// Waits for the next key until the BIOS tick count reaches `deadline`
    /// (compared by wrapping difference, so midnight does not matter).
    pub fn wait_key_until(&mut self, deadline: u32) -> Option<Key> {
        loop {
            if let Some(k) = self.poll() {
                return Some(k);
            }
            if (deadline.wrapping_sub(ticks()) as i32) <= 0 {
                return None;
            }
            idle();
        }
    }

    /// Waits for the next key, or for the next whole second of
    /// `countdown` (to redraw its count), or for its end.
    pub fn wait_key_counting(&mut self, countdown: &Countdown) -> Counted {
        let left_x10 = countdown.left_x10();
        if left_x10 == 0 {
            return Counted::Over;
        }
        let next = left_x10 % TICKS_PER_SECOND_X10;
        let next = if next == 0 { TICKS_PER_SECOND_X10 } else { next };
        match self.wait_key_until(ticks().wrapping_add(next.div_ceil(10))) {
            Some(k) => Counted::Key(k),
            None => Counted::Second,
        }
    }

    /// The next key if one is waiting.
    pub fn poll(&mut self) -> Option<Key> {
        keyboard().or_else(|| self.serial())
    }

    fn serial(&mut self) -> Option<Key> {
        while let Some(b) = serial::read_byte() {
            if self.seq_len == 0 {
                match b {
                    0x1B => {
                        self.seq[0] = b;
                        self.seq_len = 1;
                        self.seq_started = ticks();
                    }
                    b'\r' | b'\n' => return Some(Key::Enter),
                    b'\t' => return Some(Key::Tab),
                    0x08 | 0x7F => return Some(Key::Backspace),
                    0x20..=0x7E => return Some(Key::Char(b as char)),
                    _ => return Some(Key::Other),
                }
                continue;
            }
            if self.seq_len < self.seq.len() {
                self.seq[self.seq_len] = b;
                self.seq_len += 1;
            }
            let done = self.seq_len >= 3 && (0x40..=0x7E).contains(&b) || self.seq_len == self.seq.len();
            if self.seq_len == 2 && b != b'[' && b != b'O' {
                self.seq_len = 0;
                return Some(Key::Esc);
            }
            if done {
                let key = ansi_key(&self.seq[1..self.seq_len]);
                self.seq_len = 0;
                return Some(key);
            }
        }
        if self.seq_len > 0 && ticks().wrapping_sub(self.seq_started) >= ESC_WAIT_TICKS {
            self.seq_len = 0;
            return Some(Key::Esc);
        }
        None
    }
}

fn ansi_key(seq: &[u8]) -> Key {
    match seq {
        b"[A" | b"OA" => Key::Up,
        b"[B" | b"OB" => Key::Down,
        b"[5~" => Key::PageUp,
        b"[6~" => Key::PageDown,
        b"[H" | b"OH" | b"[1~" | b"[7~" => Key::Home,
        b"[F" | b"OF" | b"[4~" | b"[8~" => Key::End,
        b"OP" | b"[11~" => Key::F(1),
        b"OQ" | b"[12~" => Key::F(2),
        b"OR" | b"[13~" => Key::F(3),
        b"OS" | b"[14~" => Key::F(4),
        b"[15~" => Key::F(5),
        b"[17~" => Key::F(6),
        b"[18~" => Key::F(7),
        b"[19~" => Key::F(8),
        b"[20~" => Key::F(9),
        b"[21~" => Key::F(10),
        b"[23~" => Key::F(11),
        b"[24~" => Key::F(12),
        _ => Key::Other,
    }
}

/// A key from the BIOS keyboard buffer (enhanced functions 10h/11h).
fn keyboard() -> Option<Key> {
    let mut r = RmRegs { eax: 0x1100, ..Default::default() };
    bios_int(0x16, &mut r);
    if r.zero() {
        return None;
    }
    let mut r = RmRegs { eax: 0x1000, ..Default::default() };
    bios_int(0x16, &mut r);
    let (scan, ascii) = ((r.eax >> 8) as u8, r.eax as u8);
    Some(match (ascii, scan) {
        (0x0D, _) => Key::Enter,
        (0x1B, _) => Key::Esc,
        (0x08, _) => Key::Backspace,
        (0x09, _) => Key::Tab,
        (0x00 | 0xE0, 0x48) => Key::Up,
        (0x00 | 0xE0, 0x50) => Key::Down,
        (0x00 | 0xE0, 0x49) => Key::PageUp,
        (0x00 | 0xE0, 0x51) => Key::PageDown,
        (0x00 | 0xE0, 0x47) => Key::Home,
        (0x00 | 0xE0, 0x4F) => Key::End,
        (0x00, 0x3B..=0x44) => Key::F(scan - 0x3A),
        (0x00, 0x85 | 0x86) => Key::F(scan - 0x85 + 11),
        (0x00 | 0xE0, _) => Key::Other,
        (c, _) => Key::Char(c as char),
    })
}
