//! The QEMU/SeaBIOS harness for dropboot's boot tests and benchmarks.
//!
//! [`Qemu::boot_with`] starts QEMU (TCG, SeaBIOS) on a disk image with COM1 and
//! SeaBIOS's debug port logged to files and a QMP socket for keys, screen
//! memory and screendumps. Every boot has a wall-clock limit enforced by a
//! watchdog thread; every wait has its own timeout. When a test fails, the
//! QEMU command, COM1's log, SeaBIOS's log and a screendump stay in
//! `target/qemu-tests/<test>/` and their paths are printed. Every wait and
//! every whole run is recorded in `target/qemu-tests/waits.tsv` (test,
//! what, took, limit), so `tools/wait-report` shows which tests use more
//! than a third of their limit: a test must pass beside another QEMU.
//! [`stick::Case`] names a test once and [`stick::Stick`] makes the stick
//! it boots; [`media`] makes the other disk images and files the tests
//! use; [`bochs`] boots them under Bochs and its own BIOS (rombios), which
//! is not SeaBIOS.

pub mod bochs;
pub mod installed;
pub mod media;
pub mod probe;
pub mod qmp;
pub mod seeds;
pub mod stick;
pub mod terminal;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bootfs::text::from_cp437;

/// Where QEMU's command lines go instead of stderr (`make bench` keeps
/// its terminal for its table): set once with [`log_commands_to`].
static COMMAND_LOG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Appends every QEMU command line from now on to `path`.
pub fn log_commands_to(path: &Path) {
    let _ = COMMAND_LOG.set(path.into());
}

/// How long one boot may run before the watchdog kills QEMU.
pub const BOOT_LIMIT: Duration = Duration::from_secs(180);
/// How long a test waits for one thing to show.
pub const WAIT: Duration = Duration::from_secs(60);

/// Connects to a unix socket QEMU is still creating, retrying until `within`.
/// Every 2 ms: QEMU holds the guest until COM1's socket is connected
/// (wait=on), so each millisecond here is one the bench's "QEMU start to"
/// figures would count (20 ms steps added 10 ms to them on average).
pub fn connect_unix(path: &Path, within: Duration) -> Result<std::os::unix::net::UnixStream, String> {
    let start = Instant::now();
    loop {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > within => return Err(format!("{}: {e}", path.display())),
            Err(_) => thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A fresh folder for one test's files: `target/qemu-tests/<name>`.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("qemu-tests").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("making the test's work folder");
    dir
}

/// Extra drives and options for a boot.
#[derive(Clone, Debug, Default)]
pub struct BootOptions {
    /// More raw disks after the boot disk (IDE, in order).
    pub extra_disks: Vec<PathBuf>,
    pub memory_mib: Option<u32>,
    /// An ISO in QEMU's own CD drive, booted first (for comparisons).
    pub boot_cdrom: Option<PathBuf>,
    /// An ISO in a CD drive that is there but not booted (a PC's drive).
    pub cdrom: Option<PathBuf>,
    /// A blkdebug rule file for the boot disk: reads of the sectors it
    /// names fail, as on a failing stick.
    pub blkdebug: Option<PathBuf>,
    /// Attach the boot disk as USB storage on this controller, as a real
    /// stick is, instead of IDE.
    pub usb: Option<Usb>,
    /// The boot disk is read-only (a write-protected stick).
    pub read_only: bool,
    /// The watchdog's limit instead of [`BOOT_LIMIT`] (a Linux system).
    pub limit: Option<Duration>,
    /// A floppy image in drive A:, booted before the disks (the old PC
    /// of [`probe::old_bios_floppy`]).
    pub boot_floppy: Option<PathBuf>,
    /// An ISA PC of the 1990s with this CPU (QEMU's `isapc` machine and
    /// `-cpu 486`, `pentium`, ...): no PCI, so no USB.
    pub isa_pc_cpu: Option<&'static str>,
}

/// The USB host controller a stick hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usb {
    Xhci,
    Ehci,
    Uhci,
}

impl Usb {
    fn device(self) -> &'static str {
        match self {
            Usb::Xhci => "qemu-xhci",
            Usb::Ehci => "usb-ehci",
            Usb::Uhci => "piix3-usb-uhci",
        }
    }
}

/// The text screen: 25 rows of 80 (character, attribute) cells.
#[derive(Clone, Debug)]
pub struct Screen {
    pub cells: Vec<(char, u8)>,
}

impl Screen {
    /// The screen from a dump of the 4,000 bytes of text memory at 0xB8000.
    pub fn from_text_memory(bytes: &[u8]) -> Screen {
        Screen { cells: bytes.chunks_exact(2).map(|c| (from_cp437(c[0]), c[1])).collect() }
    }

    pub fn row(&self, r: usize) -> String {
        self.cells[r * 80..(r + 1) * 80].iter().map(|c| c.0).collect::<String>().trim_end().to_string()
    }

    pub fn text(&self) -> String {
        (0..25).map(|r| self.row(r)).collect::<Vec<_>>().join("\n")
    }

    /// The attribute of row `r`'s second cell (menu bars are whole rows).
    pub fn row_attr(&self, r: usize) -> u8 {
        self.cells[r * 80 + 1].1
    }

    /// The row containing `needle`, if any.
    pub fn find(&self, needle: &str) -> Option<usize> {
        (0..25).find(|&r| self.row(r).contains(needle))
    }
}

pub struct Qemu {
    pub name: String,
    pub dir: PathBuf,
    pub serial_path: PathBuf,
    pub seabios_path: PathBuf,
    pub command_line: String,
    child: Arc<Mutex<Child>>,
    qmp: qmp::Qmp,
    com1: terminal::Terminal,
    /// Just before QEMU was started.
    spawned: Instant,
    started: Instant,
    limit: Duration,
    done: Arc<AtomicBool>,
}

/// Appends one wait to `target/qemu-tests/waits.tsv`: the test, what it
/// waited for, how long that took and its limit, in milliseconds.
pub(crate) fn record_wait(name: &str, what: &str, took: Duration, limit: Duration) {
    use std::io::Write;
    let path = target_dir().join("qemu-tests").join("waits.tsv");
    let line = format!("{name}\t{}\t{}\t{}\n", what.replace(['\t', '\n'], " "), took.as_millis(), limit.as_millis());
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The last 30 lines of a log file, for a failed test's report.
pub(crate) fn log_tail(path: &Path) -> String {
    let s = String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Kills `child` (an emulator called `what`) once it has run `limit`,
/// unless the flag it returns is set first (when the test is done with it).
pub(crate) fn watchdog(name: &str, what: &'static str, child: &Arc<Mutex<Child>>, limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let (child, flag, name) = (child.clone(), done.clone(), name.to_string());
    thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        eprintln!("[{name}] watchdog: {what} ran past {}s, killing it", limit.as_secs());
        let _ = child.lock().map(|mut c| c.kill());
    });
    done
}

impl Qemu {
    /// Boots `disk` as the first hard disk (or on USB, as `opts` say),
    /// its logs in `dir`; tests call it through [`stick::Case::boot`].
    pub fn boot_with(name: &str, dir: &Path, disk: &Path, opts: &BootOptions) -> Qemu {
        let serial_path = dir.join("serial.log");
        let seabios_path = dir.join("seabios.log");
        let qmp_path = dir.join("qmp.sock");
        let com1_path = dir.join("com1.sock");
        let _ = fs::remove_file(&qmp_path);
        let _ = fs::remove_file(&com1_path);
        let machine = match opts.isa_pc_cpu {
            Some(_) => "isapc,accel=tcg",
            None => "pc,accel=tcg",
        };
        let mut args: Vec<String> = vec![
            "-machine".into(),
            machine.into(),
            "-m".into(),
            opts.memory_mib.unwrap_or(256).to_string(),
            "-display".into(),
            "none".into(),
            "-no-reboot".into(),
            // No network card: its option ROM would boot after a failure and
            // print iPXE's own banner.
            "-nic".into(),
            "none".into(),
            // COM1 is a socket this harness connects to, as a terminal
            // would: QEMU waits for it, so no byte is lost.
            "-chardev".into(),
            format!("socket,id=com1,path={},server=on,wait=on", com1_path.display()),
            "-serial".into(),
            "chardev:com1".into(),
            "-chardev".into(),
            format!("file,id=seabios,path={}", seabios_path.display()),
            "-device".into(),
            "isa-debugcon,iobase=0x402,chardev=seabios".into(),
            "-device".into(),
            "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", qmp_path.display()),
        ];
        if let Some(cpu) = opts.isa_pc_cpu {
            args.extend(["-cpu".into(), cpu.into()]);
        }
        let file = match &opts.blkdebug {
            Some(rules) => format!("file=blkdebug:{}:{}", rules.display(), disk.display()),
            None => format!("file={}", disk.display()),
        };
        let read_only = if opts.read_only { ",readonly=on" } else { "" };
        match opts.usb {
            None => args.extend(["-drive".into(), format!("{file},format=raw,if=ide,index=0{read_only}")]),
            Some(usb) => args.extend([
                "-device".into(),
                format!("{},id=usb", usb.device()),
                "-drive".into(),
                format!("if=none,id=stick,{file},format=raw{read_only}"),
                "-device".into(),
                // A boot floppy (an old PC's BIOS) comes first; with a boot
                // CD the stick is only plugged in.
                match (&opts.boot_cdrom, opts.boot_floppy.is_some()) {
                    (Some(_), _) => String::from("usb-storage,bus=usb.0,drive=stick"),
                    (None, floppy) => format!("usb-storage,bus=usb.0,drive=stick,bootindex={}", floppy as u8),
                },
            ]),
        }
        for (i, d) in opts.extra_disks.iter().enumerate() {
            args.push("-drive".into());
            args.push(format!("file={},format=raw,if=ide,index={}", d.display(), i + 1));
        }
        if let Some(iso) = &opts.cdrom {
            args.extend(["-drive".into(), format!("file={},media=cdrom,if=ide,index=2", iso.display())]);
        }
        if let Some(floppy) = &opts.boot_floppy {
            args.extend(["-drive".into(), format!("file={},format=raw,if=floppy,index=0", floppy.display())]);
            args.extend(["-global".into(), "isa-fdc.bootindexA=0".into()]);
        }
        if let Some(iso) = &opts.boot_cdrom {
            args.extend(["-drive".into(), format!("file={},media=cdrom,if=ide,index=3", iso.display())]);
            args.extend(["-boot".into(), "d".into()]);
        }
        let command_line = format!("qemu-system-x86_64 {}", args.join(" "));
        match COMMAND_LOG.get() {
            Some(log) => {
                use std::io::Write;
                let line = format!("[{name}] {command_line}\n");
                let _ = fs::OpenOptions::new().create(true).append(true).open(log).and_then(|mut f| f.write_all(line.as_bytes()));
            }
            None => eprintln!("[{name}] {command_line}"),
        }
        let spawned = Instant::now();
        fs::write(dir.join("qemu-command.txt"), &command_line).ok();
        let child = Command::new("qemu-system-x86_64")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("qemu-stderr.log")).expect("qemu stderr log"))
            .spawn()
            .expect("starting qemu-system-x86_64 (run `make deps`)");
        let child = Arc::new(Mutex::new(child));
        let done = watchdog(name, "QEMU", &child, opts.limit.unwrap_or(BOOT_LIMIT));
        let com1 = terminal::Terminal::connect(&com1_path, &serial_path, Duration::from_secs(20)).expect("connecting to QEMU's COM1 socket");
        let qmp = qmp::Qmp::connect(&qmp_path, Duration::from_secs(20)).expect("connecting to QEMU's QMP socket");
        Qemu {
            name: name.into(),
            dir: dir.into(),
            serial_path,
            seabios_path,
            command_line,
            child,
            qmp,
            com1,
            spawned,
            started: Instant::now(),
            limit: opts.limit.unwrap_or(BOOT_LIMIT),
            done,
        }
    }

    /// The instant just before QEMU was started.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// When the end of the first `needle` in what COM1 sent (escapes
    /// included) arrived, if it came.
    pub fn serial_arrival(&self, needle: &str) -> Option<Instant> {
        let raw = fs::read(&self.serial_path).ok()?;
        let at = raw.windows(needle.len()).position(|w| w == needle.as_bytes())?;
        self.com1.arrival_of(at + needle.len() - 1)
    }

    /// Waits until COM1 has sent `needle`; returns when it arrived.
    pub fn wait_serial_arrival(&mut self, needle: &str, limit: Duration) -> Instant {
        self.wait_serial_within(needle, limit);
        self.serial_arrival(needle).unwrap_or_else(Instant::now)
    }

    /// Waits until the VGA text screen shows `needle`, reading it every
    /// 25 ms; returns when the first read that showed it began. For
    /// timing; tests use [`Qemu::wait_screen`].
    pub fn wait_screen_arrival(&mut self, needle: &str, limit: Duration) -> Instant {
        let mut seen = None;
        let start = Instant::now();
        while start.elapsed() < limit {
            let asked = Instant::now();
            if self.screen().text().contains(needle) {
                seen = Some(asked);
                break;
            }
            if self.exited().is_some() {
                break;
            }
            thread::sleep(Duration::from_millis(25));
        }
        seen.unwrap_or_else(|| panic!("[{}] the screen did not show {needle:?} within {}s", self.name, limit.as_secs()))
    }

    /// Everything COM1 has received, as UTF-8 (lossy).
    pub fn serial(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.serial_path).unwrap_or_default()).into_owned()
    }

    /// COM1's text with ANSI escape sequences removed.
    pub fn serial_text(&self) -> String {
        strip_ansi(&self.serial())
    }

    /// Waits until COM1's text (escapes removed) contains `needle`.
    pub fn wait_serial(&mut self, needle: &str) {
        self.wait_serial_within(needle, WAIT);
    }

    /// [`Qemu::wait_serial`] with a longer limit, for payloads that take
    /// long under software emulation (a Linux installer).
    pub fn wait_serial_within(&mut self, needle: &str, limit: Duration) {
        self.wait_for_within(&format!("COM1 to show {needle:?}"), limit, |q| q.serial_text().contains(needle));
    }

    /// Waits until the VGA text screen has shown `needle` in two reads in
    /// a row (100 ms apart, so a frame being painted is not taken for the
    /// finished one); returns the second.
    pub fn wait_screen(&mut self, needle: &str) -> Screen {
        let mut last: Option<Screen> = None;
        self.wait_for(&format!("the screen to show {needle:?}"), |q| {
            let s = q.screen();
            let before = last.as_ref().is_some_and(|l| l.text().contains(needle));
            let hit = before && s.text().contains(needle);
            last = Some(s);
            hit
        });
        last.expect("screen read")
    }

    /// Polls `cond` until it holds or [`WAIT`] runs out (then fails the test).
    pub fn wait_for(&mut self, what: &str, cond: impl FnMut(&mut Qemu) -> bool) {
        self.wait_for_within(what, WAIT, cond)
    }

    fn wait_for_within(&mut self, what: &str, limit: Duration, mut cond: impl FnMut(&mut Qemu) -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond(self) {
                return record_wait(&self.name, what, start.elapsed(), limit);
            }
            if self.exited().is_some() {
                if cond(self) {
                    return record_wait(&self.name, what, start.elapsed(), limit);
                }
                panic!("[{}] QEMU exited while waiting for {what}", self.name);
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("[{}] timed out after {}s waiting for {what}", self.name, limit.as_secs());
    }

    /// The VGA text screen, read from guest memory at 0xB8000.
    pub fn screen(&mut self) -> Screen {
        let path = self.dir.join("screen.bin");
        self.qmp.execute("pmemsave", serde_json::json!({"val": 0xB8000, "size": 4000, "filename": path})).expect("pmemsave");
        Screen::from_text_memory(&fs::read(&path).expect("reading the saved screen"))
    }

    /// Presses keys together (QEMU qcodes: "down", "ret", "esc", "ctrl", "p").
    pub fn press(&mut self, keys: &[&str]) {
        let keys: Vec<_> = keys.iter().map(|k| serde_json::json!({"type": "qcode", "data": k})).collect();
        self.qmp.execute("send-key", serde_json::json!({ "keys": keys })).expect("send-key");
        // Let the guest take the key before the next one.
        thread::sleep(Duration::from_millis(150));
    }

    /// Presses one key after another.
    pub fn keys(&mut self, keys: &[&str]) {
        for k in keys {
            self.press(&[k]);
        }
    }

    /// Types `text` on the serial terminal (ANSI sequences for special keys:
    /// "\x1b[B" is Down).
    pub fn type_serial(&mut self, text: &str) {
        self.com1.write(text.as_bytes()).expect("writing to COM1");
        thread::sleep(Duration::from_millis(150));
    }

    /// Saves what the display shows as a PNG.
    pub fn screendump(&mut self, path: &Path) {
        let _ = self.qmp.execute("screendump", serde_json::json!({"filename": path, "format": "png"}));
    }

    /// QEMU's exit status, if it has exited.
    pub fn exited(&self) -> Option<std::process::ExitStatus> {
        self.child.lock().ok()?.try_wait().ok().flatten()
    }

    /// Waits for QEMU to exit by itself; its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.wait_exit_within(WAIT)
    }

    /// [`Qemu::wait_exit`] with another limit.
    pub fn wait_exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.exited() {
                record_wait(&self.name, "QEMU to exit", start.elapsed(), limit);
                return s;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("[{}] QEMU did not exit within {}s", self.name, limit.as_secs());
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if thread::panicking() {
            let png = self.dir.join("screen.png");
            self.screendump(&png);
            thread::sleep(Duration::from_millis(300));
            eprintln!(
                "[{}] FAILED. Kept in {}:\n  command: {}\n  COM1: {}\n  SeaBIOS: {}\n  screen: {}\n--- COM1 (last lines, escapes removed) ---\n{}\n--- SeaBIOS (last lines) ---\n{}",
                self.name,
                self.dir.display(),
                self.command_line,
                self.serial_path.display(),
                self.seabios_path.display(),
                png.display(),
                strip_ansi(&log_tail(&self.serial_path)),
                log_tail(&self.seabios_path),
            );
        }
        self.done.store(true, Ordering::Relaxed);
        record_wait(&self.name, "the whole run (watchdog)", self.started.elapsed(), self.limit);
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Removes ANSI escape sequences (CSI ... final byte) from `s`.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}
