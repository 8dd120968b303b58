//! dropboot stage2: loaded by stage1 below 1 MiB, entered in real mode
//! (arch: entry.S), runs here in 32-bit protected mode. It finds the data
//! partition, lists the boot files and shows the menu on the screen and
//! COM1 at once. Every failure is a message on both, never a silent hang.
#![no_std]
#![no_main]

extern crate alloc;

mod added_files;
mod arch;
mod boot;
mod checksum;
mod choice;
mod console;
mod disk;
mod frame;
mod hook;
mod input;
mod iso_partition;
mod launch;
mod memory;
mod menu;
mod serial;
mod vga;
mod volume;

use alloc::format;
use core::fmt::Write;

use arch::{bios_int, RmRegs};
use console::{attr, vga_line, Screen};
use input::Input;
use memory::ALLOCATOR;

/// Called by entry.S in protected mode with the BIOS boot drive.
#[no_mangle]
extern "C" fn stage2_main(boot_drive: u32) -> ! {
    let drive = boot_drive as u8;
    serial::init();
    // 80x25 colour text, screen cleared.
    bios_int(0x10, &mut RmRegs { eax: 0x0003, ..Default::default() });
    log!("stage2 {} started from drive {drive:02X}h", bootfs::layout::Version(bootfs::layout::VERSION));
    vga_line(0, "dropboot: starting...", attr::NORMAL);

    let Some((start, end)) = memory::heap_range() else {
        log!("no usable memory above 1 MiB");
        vga_line(1, "dropboot: no usable memory above 1 MiB. Press a key to reboot.", attr::ERROR);
        wait_any_key_and_reboot();
    };
    ALLOCATOR.init(start, end);
    log!("heap {start:#x}..{end:#x} ({} MiB)", (end - start) >> 20);

    if !hook::blob_ok() {
        panic!("the INT 13h hook blob does not carry its header");
    }
    let mut screen = Screen::new();
    let mut input = Input::default();
    let mut volume = match volume::Volume::open(drive) {
        Ok(v) => v,
        Err(e) => menu::fatal(&mut screen, &mut input, &format!("{e}"), e.hint()),
    };
    let report = match volume.scan() {
        Ok(r) => r,
        Err(e) => menu::fatal(&mut screen, &mut input, &format!("{e}"), e.hint()),
    };
    let report_len = report.files.len();
    log!("{report_len} boot files ({} reads of the stick so far)", volume.disk().calls);
    // The first ones by name; a serial line costs more than the scan of
    // the folder it names (5,000 took half a second under QEMU).
    for f in report.files.iter().take(LOGGED_FILES) {
        log!("  {} ({} bytes)", f.path, f.size);
    }
    if report_len > LOGGED_FILES {
        log!("  ... and {} more", report_len - LOGGED_FILES);
    }
    for p in &report.problems {
        log!("  skipped {p}");
    }
    let loaded = match volume.load_config() {
        Ok(l) => l,
        Err(e) => {
            log!("config: cannot search for it: {e}");
            None
        }
    };
    let config = loaded.as_ref().map(bootfs::config::Loaded::config).unwrap_or_default();
    let mut status = match &loaded {
        None => alloc::string::String::new(),
        Some(l) => {
            log!("config {}: {}", l.path, if l.result.is_ok() { "read" } else { "not used" });
            if let Ok((c, problems)) = &l.result {
                for p in problems {
                    log!("  problem at {p}");
                }
                if !c.ignored.is_empty() {
                    log!("  ignored: {}", c.ignored.join(", "));
                }
            }
            l.first_problem().unwrap_or_default()
        }
    };
    if !status.is_empty() {
        log!("{status}");
    } else if let Some(p) = report.problems.first() {
        status = match report.problems.len() {
            1 => format!("Skipped {p}"),
            n => format!("Skipped {n} folders; first: {p}"),
        };
    }
    // A volume its last writer did not close (an NTFS one Windows left dirty
    // or hibernated) is said over a config or folder problem.
    if let Some(warning) = volume.warning() {
        log!("{warning}");
        status = warning.into();
    }
    // A table that could not be put back matters most (undo_last logged it).
    if let Some(problem) = volume.undo_problem.take() {
        status = problem;
    }
    let entries = config.arrange(report.files);
    if entries.len() != report_len {
        log!("{} boot files after the configuration's root, levels and lists", entries.len());
    }
    let name = volume.describe();
    menu::Menu::new(entries, config, loaded, name, status).run(&mut volume, &mut screen, &mut input)
}

/// Boot files the log names one by one.
const LOGGED_FILES: usize = 40;

fn wait_any_key_and_reboot() -> ! {
    let mut r = RmRegs::default();
    bios_int(0x16, &mut r);
    arch::reboot()
}

/// A formatter into a fixed buffer, for the panic screen (no heap needed).
struct LineBuf {
    buf: [u8; 240],
    len: usize,
}

impl LineBuf {
    fn as_str(&self) -> &str {
        // Cut at a character boundary if the buffer filled mid-character.
        let mut end = self.len;
        while core::str::from_utf8(&self.buf[..end]).is_err() {
            end -= 1;
        }
        core::str::from_utf8(&self.buf[..end]).unwrap_or("")
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    static mut PANICKING: bool = false;
    // SAFETY: one CPU, interrupts off.
    unsafe {
        if PANICKING {
            loop {
                arch::idle();
            }
        }
        PANICKING = true;
    }
    // COM1 gets one line; the screen gets the message and the place on
    // rows of their own.
    let mut what = LineBuf { buf: [0; 240], len: 0 };
    let _ = write!(what, "dropboot: internal error: {}", info.message());
    let mut place = LineBuf { buf: [0; 240], len: 0 };
    if let Some(loc) = info.location() {
        let _ = write!(place, "at {}:{}", loc.file(), loc.line());
    }
    stop(what.as_str(), place.as_str())
}

/// The Ctrl+D self-test: `cpu_exception` faults itself.
static FAULT_IN_EXCEPTION_HANDLER: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A CPU exception in protected mode (entry.S's stubs come here, on a
/// fresh stack): the vector, its name, EIP and the error code on the
/// screen and COM1, then a key reboots.
#[no_mangle]
extern "C" fn cpu_exception(vector: u32, error_code: u32, eip: u32) -> ! {
    if FAULT_IN_EXCEPTION_HANDLER.load(core::sync::atomic::Ordering::Relaxed) {
        // SAFETY: UD2 raises #UD inside this handler, which entry.S's
        // nested_exception reports; it never returns here.
        unsafe { core::arch::asm!("ud2", options(noreturn)) }
    }
    let mut what = LineBuf { buf: [0; 240], len: 0 };
    let _ = write!(what, "dropboot: CPU exception {vector:02X}h ({}) at EIP {eip:08X}h", arch::exception_name(vector));
    let mut place = LineBuf { buf: [0; 240], len: 0 };
    let _ = write!(place, "error code {error_code:08X}h, in stage2 {}", bootfs::layout::Version(bootfs::layout::VERSION));
    stop(what.as_str(), place.as_str())
}

/// The end of a stage2 bug: `what` and `place` on COM1 as one line and on
/// the screen's last rows, then a key reboots.
fn stop(what: &str, place: &str) -> ! {
    serial::write_str(what);
    serial::write_str(" ");
    serial::write_str(place);
    serial::write_str("\n");
    for (row, text) in [(20, ""), (21, what), (22, place), (23, "Please report this. Press a key to reboot.")] {
        vga_line(row, text, attr::ERROR);
    }
    wait_any_key_and_reboot()
}
