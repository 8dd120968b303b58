//! COM1 as a terminal: QEMU's serial socket, everything the guest sends
//! appended to a log file by a reader thread, and a write half for keys.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub struct Terminal {
    stream: UnixStream,
}

impl Terminal {
    /// Connects to QEMU's COM1 socket (retrying while QEMU starts) and logs
    /// what arrives to `log`.
    pub fn connect(socket: &Path, log: &Path, within: Duration) -> Result<Terminal, String> {
        let stream = crate::connect_unix(socket, within)?;
        let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
        let mut file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || file.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        Ok(Terminal { stream })
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }
}
