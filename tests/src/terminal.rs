//! COM1 as a terminal: QEMU's serial socket, everything the guest sends
//! appended to a log file by a reader thread, and a write half for keys.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Terminal {
    stream: UnixStream,
    /// When each piece arrived: (bytes received by then, the instant).
    arrivals: Arc<Mutex<Vec<(usize, Instant)>>>,
}

impl Terminal {
    /// Connects to QEMU's COM1 socket (retrying while QEMU starts) and logs
    /// what arrives to `log`.
    pub fn connect(socket: &Path, log: &Path, within: Duration) -> Result<Terminal, String> {
        let stream = crate::connect_unix(socket, within)?;
        let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
        let mut file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let arrived = arrivals.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut total = 0;
            while let Ok(n) = reader.read(&mut buf) {
                let now = Instant::now();
                if n == 0 || file.write_all(&buf[..n]).is_err() {
                    break;
                }
                total += n;
                if let Ok(mut a) = arrived.lock() {
                    a.push((total, now));
                }
            }
        });
        Ok(Terminal { stream, arrivals })
    }

    /// When the byte at `offset` of what COM1 sent arrived (as the reader
    /// thread read it, so within a read's latency).
    pub fn arrival_of(&self, offset: usize) -> Option<Instant> {
        let a = self.arrivals.lock().ok()?;
        a.iter().find(|(end, _)| *end > offset).map(|&(_, at)| at)
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }
}

/// What an 80x25 serial terminal (VT100, auto-wrap, scrolling at the
/// bottom) shows after the bytes dropboot sent it: the cursor moves,
/// erases and text of COM1, applied as such a terminal applies them.
/// Colours and reverse video are not kept: only the characters.
pub struct TerminalScreen {
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl TerminalScreen {
    pub const COLS: usize = 80;
    pub const ROWS: usize = 25;

    /// The screen after `bytes` (UTF-8 text with ANSI escapes).
    pub fn after(bytes: &[u8]) -> TerminalScreen {
        let mut t = TerminalScreen { rows: vec![vec![' '; Self::COLS]; Self::ROWS], row: 0, col: 0 };
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut command = ' ';
                    for p in chars.by_ref() {
                        if p.is_ascii_digit() || p == ';' || p == '?' {
                            params.push(p);
                        } else {
                            command = p;
                            break;
                        }
                    }
                    t.escape(&params, command);
                }
                '\r' => t.col = 0,
                '\n' => t.line_feed(),
                c if c.is_control() => {}
                c => {
                    if t.col == Self::COLS {
                        t.col = 0;
                        t.line_feed();
                    }
                    t.rows[t.row][t.col] = c;
                    t.col += 1;
                }
            }
        }
        t
    }

    fn line_feed(&mut self) {
        if self.row + 1 == Self::ROWS {
            self.rows.remove(0);
            self.rows.push(vec![' '; Self::COLS]);
        } else {
            self.row += 1;
        }
    }

    fn escape(&mut self, params: &str, command: char) {
        let numbers: Vec<usize> = params.split(';').map(|n| n.parse().unwrap_or(0)).collect();
        let at = |i: usize| numbers.get(i).copied().filter(|&n| n > 0).unwrap_or(1);
        match command {
            'H' => {
                self.row = at(0).min(Self::ROWS) - 1;
                self.col = at(1).min(Self::COLS) - 1;
            }
            'K' => self.rows[self.row][self.col.min(Self::COLS)..].fill(' '),
            'J' if numbers.first() == Some(&2) => self.rows.iter_mut().for_each(|r| r.fill(' ')),
            _ => {}
        }
    }

    /// Row `r`, trailing blanks removed.
    pub fn row(&self, r: usize) -> String {
        self.rows[r].iter().collect::<String>().trim_end().to_string()
    }
}
