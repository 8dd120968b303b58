//! Bochs with its own BIOS (rombios: 16-bit code much like the BIOSes of
//! the 1990s, not SeaBIOS), for the boot tests that must hold on another
//! BIOS. [`Bochs::boot`] runs `bochs` on a raw disk image as the IDE
//! master, COM1 logged to a file; Debian's Bochs is built with its
//! debugger, which runs the machine (`c`) from a pipe, and the text screen
//! is read by stopping it (SIGINT) and saving 0xB8000 (`writemem`). Its
//! display is the VNC server (no window, no client) with no wait for a
//! client. There is no keyboard: a test picks its boot file with the
//! stick's ventoy.json (a default and a countdown). A watchdog kills it
//! after its limit; waits are recorded like QEMU's.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{log_tail, record_wait, strip_ansi, watchdog, Screen};

pub struct Bochs {
    pub name: String,
    pub dir: PathBuf,
    pub serial_path: PathBuf,
    pub log_path: PathBuf,
    child: Arc<Mutex<Child>>,
    debugger: ChildStdin,
    done: Arc<AtomicBool>,
}

/// The configuration: `memory_mib` of RAM, `disk` as ata0-master (its
/// geometry found by Bochs from its size), booted from the hard disk.
/// Sound goes nowhere: Bochs opens ALSA for its PC speaker, and on a
/// machine without a sound card Debian's Bochs 2.7 died there ("buffer
/// overflow detected") before its BIOS ran.
fn bochsrc(dir: &Path, disk: &Path, memory_mib: u32) -> String {
    format!(
        "megs: {memory_mib}\n\
         romimage: file=/usr/share/bochs/BIOS-bochs-latest\n\
         vgaromimage: file=/usr/share/vgabios/vgabios.bin\n\
         display_library: rfb, options=\"timeout=0\"\n\
         ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14\n\
         ata0-master: type=disk, path=\"{}\", mode=flat\n\
         boot: disk\n\
         com1: enabled=1, mode=file, dev=\"{}\"\n\
         log: \"{}\"\n\
         panic: action=fatal\n\
         error: action=report\n\
         info: action=report\n\
         debug: action=ignore\n\
         clock: sync=none, time0=local\n\
         sound: driver=dummy\n",
        disk.display(),
        dir.join("serial.log").display(),
        dir.join("bochs.log").display()
    )
}

impl Bochs {
    /// Boots `disk` with `memory_mib` of RAM; the watchdog kills Bochs
    /// after `limit`.
    pub fn boot(name: &str, dir: &Path, disk: &Path, memory_mib: u32, limit: Duration) -> Bochs {
        let rc = dir.join("bochsrc");
        fs::write(&rc, bochsrc(dir, disk, memory_mib)).expect("writing bochsrc");
        let _ = fs::remove_file(dir.join("serial.log"));
        let mut child = Command::new("bochs")
            .arg("-q")
            .arg("-f")
            .arg(&rc)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(fs::File::create(dir.join("bochs-stdout.log")).expect("bochs stdout log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("starting bochs (run `make deps`)");
        let mut debugger = child.stdin.take().expect("bochs's stdin");
        debugger.write_all(b"c\n").expect("starting the machine");
        let child = Arc::new(Mutex::new(child));
        let done = watchdog(name, "Bochs", &child, limit);
        eprintln!("[{name}] bochs -q -f {}", rc.display());
        Bochs { name: name.into(), dir: dir.into(), serial_path: dir.join("serial.log"), log_path: dir.join("bochs.log"), child, debugger, done }
    }

    /// Everything COM1 has received, escapes removed.
    pub fn serial_text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&fs::read(&self.serial_path).unwrap_or_default()))
    }

    fn exited(&self) -> bool {
        self.child.lock().map(|mut c| c.try_wait().ok().flatten().is_some()).unwrap_or(true)
    }

    /// Waits up to `limit` until COM1 shows `needle`.
    pub fn wait_serial(&mut self, needle: &str, limit: Duration) {
        self.wait_for(&format!("COM1 to show {needle:?}"), limit, |b| b.serial_text().contains(needle));
    }

    /// Waits up to `limit` until the text screen shows `needle`; returns it.
    pub fn wait_screen(&mut self, needle: &str, limit: Duration) -> Screen {
        let mut last = None;
        self.wait_for(&format!("the screen to show {needle:?}"), limit, |b| {
            let s = b.screen();
            let hit = s.text().contains(needle);
            last = Some(s);
            hit
        });
        last.expect("a screen read")
    }

    fn wait_for(&mut self, what: &str, limit: Duration, mut cond: impl FnMut(&mut Bochs) -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond(self) {
                return record_wait(&self.name, what, start.elapsed(), limit);
            }
            if self.exited() {
                panic!("[{}] Bochs exited while waiting for {what}", self.name);
            }
            thread::sleep(Duration::from_millis(500));
        }
        panic!("[{}] timed out after {}s waiting for {what}", self.name, limit.as_secs());
    }

    /// The text screen: stops the machine in the debugger, saves the
    /// 4,000 bytes at 0xB8000 and runs it on.
    pub fn screen(&mut self) -> Screen {
        let path = self.dir.join("screen.bin");
        let _ = fs::remove_file(&path);
        let pid = self.child.lock().map(|c| c.id()).expect("bochs's pid");
        let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
        let command = format!("writemem \"{}\" 0xb8000 4000\nc\n", path.display());
        let _ = self.debugger.write_all(command.as_bytes());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(bytes) = fs::read(&path) {
                if bytes.len() == 4000 {
                    return Screen::from_text_memory(&bytes);
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("[{}] Bochs's debugger saved no screen", self.name);
    }
}

impl Drop for Bochs {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if thread::panicking() {
            eprintln!(
                "[{}] FAILED. Kept in {}:\n--- COM1 (last lines, escapes removed) ---\n{}\n--- bochs.log (last lines) ---\n{}",
                self.name,
                self.dir.display(),
                strip_ansi(&log_tail(&self.serial_path)),
                log_tail(&self.log_path)
            );
        }
        let _ = self.child.lock().map(|mut c| {
            let _ = c.kill();
            let _ = c.wait();
        });
    }
}
