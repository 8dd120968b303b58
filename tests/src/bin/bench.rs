//! `make bench`: records (never asserts) how fast and how big dropboot is,
//! under QEMU/TCG with SeaBIOS. Prints a table for the record.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tests::media::{copy_fragmented, third_party};
use tests::probe::{build_iso_mode, report, MODE_BENCH};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Qemu, Usb};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds from QEMU's start to the menu of a stick with 20 files.
fn time_to_menu() -> f64 {
    let case = Case::new("bench-menu");
    let files: Vec<_> = (0..20).map(|i| case.random_file(&format!("image-{i:02}.iso"), 4096, i)).collect();
    let stick = case.stick().size("256M").files(&files).build();
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut vm = case.boot(&stick);
            vm.wait_screen("20 boot files");
            start.elapsed().as_secs_f64()
        })
        .collect();
    median(runs)
}

/// Seconds from QEMU's start to the menu of a stick with 5000 files in
/// 200 folders (median of 3), and from the last search key to the
/// filtered list (one run; the screen is polled every 100 ms).
fn time_to_menu_5000(ntfs: bool) -> (f64, f64) {
    let case = Case::new(if ntfs { "bench-menu-5000-ntfs" } else { "bench-menu-5000" });
    let stick = case.stick().size("256M").fs(if ntfs { Fs::NtfsByMkntfs } else { Fs::Exfat }).many_files(200, 25).build();
    let mut search = 0.0;
    let runs: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let mut vm = case.boot(&stick);
            vm.wait_screen("5000 boot files");
            let ready = start.elapsed().as_secs_f64();
            vm.keys(&["1", "2", "3"]);
            let typed = Instant::now();
            vm.press(&["slash"]);
            vm.wait_screen("25 found");
            search = typed.elapsed().as_secs_f64();
            ready
        })
        .collect();
    (median(runs), search)
}

/// How a payload shows that it is up.
enum Shown {
    Screen(&'static str),
    Serial(&'static str),
}

fn wait_shown(vm: &mut Qemu, shown: &Shown) {
    match shown {
        Shown::Screen(t) => {
            vm.wait_screen(t);
        }
        Shown::Serial(t) => vm.wait_serial_within(t, Duration::from_secs(150)),
    }
}

/// Seconds from Enter in dropboot's menu to the payload, and from QEMU's
/// start to the same payload booted from QEMU's CD drive.
fn time_real_iso(name: &str, shown: Shown, memory: u32) -> (f64, f64) {
    let iso = third_party(name);
    let case = Case::new(&format!("bench-{name}"));
    let stick = case.stick().size("128M").file(&iso).build();
    let opts = BootOptions { memory_mib: Some(memory), ..Default::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file on");
    let start = Instant::now();
    vm.keys(&["ret"]);
    wait_shown(&mut vm, &shown);
    let through_dropboot = start.elapsed().as_secs_f64();
    drop(vm);
    let opts = BootOptions { memory_mib: Some(memory), boot_cdrom: Some(iso), ..Default::default() };
    let start = Instant::now();
    let mut vm = case.step("cdrom").boot_with(&stick, &opts);
    wait_shown(&mut vm, &shown);
    (through_dropboot, start.elapsed().as_secs_f64())
}

/// What the probe in bench mode reports: MiB/s through its boot drive and
/// from drive 80h directly, and (hook KiB, extents) when booted by dropboot;
/// the stick on IDE or on a USB controller.
fn probe_read(case: &Case, stick: &Stick, cdrom: Option<PathBuf>, usb: Option<Usb>) -> (f64, f64, Option<(u32, u32)>) {
    let direct = cdrom.is_some();
    let opts = BootOptions { boot_cdrom: cdrom, usb, ..Default::default() };
    let mut vm = case.boot_with(stick, &opts);
    if !direct {
        vm.wait_screen("1 boot file on");
        vm.keys(&["ret"]);
    }
    vm.wait_exit_within(Duration::from_secs(170));
    let text = vm.serial_text();
    let lines = report(&text);
    let field = |prefix: &str, k: &str| {
        let line = lines.iter().find(|l| l.starts_with(prefix)).expect("the probe's bench lines");
        let v = line.split(' ').find_map(|w| w.strip_prefix(k)).expect("a field");
        u32::from_str_radix(v, 16).expect("hex") as f64
    };
    let mib_s = |bytes: f64, ticks: f64| bytes / (1 << 20) as f64 / (ticks.max(1.0) / 18.2065);
    let boot_drive = mib_s(field("probe: bench blocks", "blocks=") * 2048.0, field("probe: bench blocks", "ticks="));
    let raw = mib_s(field("probe: bench80", "sectors=") * 512.0, field("probe: bench80", "ticks="));
    // "INT 13h hook at SSSS:0000 (N KiB, M extents)"
    let hook = text.find("INT 13h hook at").map(|at| {
        let rest = &text[at..];
        let kib = rest[rest.find('(').unwrap() + 1..].split(' ').next().unwrap().parse().unwrap_or(0);
        let ext = rest[rest.find("KiB, ").unwrap() + 5..].split(' ').next().unwrap().parse().unwrap_or(0);
        (kib, ext)
    });
    (boot_drive, raw, hook)
}

fn main() {
    // `bench WORD`: only the sections whose name contains WORD (menu, probe, iso, exfat, live, togo, persistence).
    let only = std::env::args().nth(1).unwrap_or_default();
    let want = |section: &str| section.contains(only.as_str());
    println!("dropboot bench (QEMU x86_64 with SeaBIOS, TCG); seconds are wall clock");
    let stage2 = include_bytes!("../../../build/stage2.bin").len();
    let hook = include_bytes!("../../../build/int13_hook.bin").len();
    println!("  sizes: stage1 440 bytes (MBR code); stage2 {stage2} bytes ({} sectors); INT 13h hook code {hook} bytes", stage2.div_ceil(512));
    if want("menu") {
        println!("  QEMU start to menu (20 files), median of 5: {:.2} s", time_to_menu());
        let (ready, search) = time_to_menu_5000(false);
        println!("  QEMU start to menu (5000 files in 200 folders, exFAT), median of 3: {ready:.2} s");
        println!("  search over 5000 files, last key to the filtered list (incl. 150 ms key pacing): {search:.2} s");
        let (ready, _) = time_to_menu_5000(true);
        println!("  QEMU start to menu (the same 5000 files on NTFS, written by ntfs-3g), median of 3: {ready:.2} s");
    }
    if want("probe") {
        probe_section();
    }
    if want("iso") {
        iso_section();
    }
    if want("exfat") {
        exfat_section();
    }
    if want("live") {
        live_section();
    }
    if want("togo") {
        togo_section();
    }
    if want("persistence") {
        persistence_section();
    }
}

/// Seconds from Enter in the menu of `stick` (its one boot file) to
/// `line` on COM1, attached on `usb` or IDE, with 1 GiB of memory.
fn enter_to_line(case: &Case, stick: &Stick, usb: Option<Usb>, line: &str, wait: Duration) -> f64 {
    let opts = BootOptions { memory_mib: Some(1024), usb, limit: Some(wait), ..Default::default() };
    let mut vm = case.boot_with(stick, &opts);
    vm.wait_screen("1 boot file on");
    let start = Instant::now();
    vm.keys(&["ret"]);
    vm.wait_serial_within(line, wait);
    start.elapsed().as_secs_f64()
}

/// Seconds from Enter in the menu to a live system's root line with a
/// persistence backend (the ISO's initrd grown by stage2, the backend one
/// more partition) and without, through dropboot on USB storage (xHCI)
/// and with persistence on IDE; against QEMU's start to the same line
/// from its CD drive, the backend a second disk, with the parameter a
/// person would type (written into a copy of the ISO's isolinux.cfg) and
/// without it.
fn persistence_section() {
    use std::process::Command;
    for (iso, label, parameter) in
        [("debian-live.iso", "persistence", "persistence"), ("dracut-live.iso", "vtoycow", "rd.live.overlay=LABEL=vtoycow:/vtoyoverlayfs/overlayfs")]
    {
        let path = tests::media::live_medium(iso);
        let line = format!("dropboot-live-root: {} reached its root", iso.trim_end_matches(".iso"));
        let case = Case::new(&format!("bench-persist-{iso}"));
        let wait = Duration::from_secs(400);
        let through = |usb: Option<Usb>, persist: bool| {
            let backend = tests::media::ventoy_style_backend(&case.file(""), label);
            let config = format!(
                "{{ \"persistence\": [ {{ \"image\": \"/{iso}\", \"backend\": \"/persistence/{label}.dat\", \"autosel\": {} }} ] }}",
                persist as u8
            );
            let stick = case.stick().size("320M").file(&path).file_in(&backend, "/persistence").ventoy_json(&config).build();
            enter_to_line(&case, &stick, usb, &line, wait)
        };
        let (usb, usb_without, ide) = (through(Some(Usb::Xhci), true), through(Some(Usb::Xhci), false), through(None, true));
        // The CD with the parameter typed: a copy whose isolinux.cfg says it.
        let cfg = case.file("isolinux.cfg");
        tests::media::run(
            Command::new("xorriso").args(["-osirrox", "on", "-indev"]).arg(&path).args(["-extract", "/isolinux/isolinux.cfg"]).arg(&cfg),
        );
        let text = std::fs::read_to_string(&cfg).expect("isolinux.cfg");
        let typed: String =
            text.lines().map(|l| if l.trim_start().starts_with("append") { format!("{l} {parameter}\n") } else { format!("{l}\n") }).collect();
        std::fs::write(&cfg, typed).expect("isolinux.cfg with the parameter");
        let typed_iso = case.file("typed.iso");
        let _ = std::fs::remove_file(&typed_iso);
        tests::media::run(
            Command::new("xorriso")
                .arg("-indev")
                .arg(&path)
                .arg("-outdev")
                .arg(&typed_iso)
                .args(["-boot_image", "any", "replay", "-map"])
                .arg(&cfg)
                .args(["/isolinux/isolinux.cfg", "-commit"]),
        );
        let cd = |iso: &std::path::Path, step: &str| {
            let backend = tests::media::ventoy_style_backend(&case.file(""), label);
            let opts = BootOptions {
                memory_mib: Some(1024),
                boot_cdrom: Some(iso.into()),
                extra_disks: vec![backend],
                limit: Some(wait),
                ..Default::default()
            };
            // A blank first disk: the stick's table may still show the
            // last boot's backend, which would be a second one.
            let blank = case.file("blank.img");
            std::fs::File::create(&blank).and_then(|f| f.set_len(1 << 20)).expect("a blank disk");
            let start = Instant::now();
            let mut vm = case.step(step).boot_with(&blank, &opts);
            vm.wait_serial_within(&line, wait);
            start.elapsed().as_secs_f64()
        };
        let (cd_typed, cd_plain) = (cd(&typed_iso, "cd_typed"), cd(&path, "cd_plain"));
        println!(
            "  {iso} with a backend: Enter to its live root {usb:.1} s through dropboot on USB storage (ratio {:.2}), {ide:.1} s on IDE (ratio {:.2}); QEMU start to it from -cdrom with `{parameter}` typed {cd_typed:.1} s",
            usb / cd_typed,
            ide / cd_typed
        );
        println!(
            "  {iso} without persistence: {usb_without:.1} s through dropboot on USB storage (ratio {:.2}); from -cdrom {cd_plain:.1} s",
            usb_without / cd_plain
        );
    }
}

/// Seconds from Enter in the menu to an installed system's COM1 line
/// (its root mounted from inside its image file, its boot counted), through
/// dropboot on IDE and on USB storage (xHCI), against QEMU's start to the
/// same line with the raw image as QEMU's own first disk.
fn togo_section() {
    for (image, raw) in [("debian-mbr.img", "debian-mbr.img"), ("debian-mbr.vhd", "debian-mbr.img"), ("dracut-mbr.img", "dracut-mbr.img")] {
        let system = raw.trim_end_matches(".img");
        let case = Case::new(&format!("bench-{image}"));
        let wait = Duration::from_secs(300);
        let through = |usb: Option<Usb>| {
            let stick = case.stick().size("256M").file(tests::installed::installed_medium(image)).build();
            let opts = BootOptions { memory_mib: Some(1024), usb, limit: Some(wait), ..Default::default() };
            let mut vm = case.boot_with(&stick, &opts);
            vm.wait_screen("1 boot file on");
            let start = Instant::now();
            vm.keys(&["ret"]);
            vm.wait_serial_within(&tests::installed::boot_line(system, 1), wait);
            start.elapsed().as_secs_f64()
        };
        let (ide, usb) = (through(None), through(Some(Usb::Xhci)));
        let own = case.file(raw);
        std::fs::copy(tests::installed::installed_medium(raw), &own).expect("a copy of the image");
        let opts = BootOptions { memory_mib: Some(1024), limit: Some(wait), ..Default::default() };
        let start = Instant::now();
        let mut vm = case.step("own_disk").boot_with(&own, &opts);
        vm.wait_serial_within(&tests::installed::boot_line(system, 1), wait);
        let direct = start.elapsed().as_secs_f64();
        println!(
            "  {image}: Enter to its boot line {ide:.1} s through dropboot on IDE (ratio {:.2}), {usb:.1} s on USB storage (ratio {:.2}); QEMU start to it as its own disk {direct:.1} s",
            ide / direct,
            usb / direct
        );
    }
}

/// Seconds from Enter in the menu to a live system's root line, through
/// dropboot on IDE and on USB storage (xHCI), against QEMU's start to the
/// same line with the ISO in QEMU's CD drive.
fn live_section() {
    for iso in ["debian-live.iso", "debian-live-grub.iso", "dracut-live.iso"] {
        let path = tests::media::live_medium(iso);
        let line = format!("dropboot-live-root: {} reached its root", iso.trim_end_matches(".iso"));
        let case = Case::new(&format!("bench-{iso}"));
        let wait = Duration::from_secs(240);
        let through = |usb: Option<Usb>| {
            let stick = case.stick().size("256M").file(&path).build();
            enter_to_line(&case, &stick, usb, &line, wait)
        };
        let (ide, usb) = (through(None), through(Some(Usb::Xhci)));
        let opts = BootOptions { memory_mib: Some(1024), boot_cdrom: Some(path.clone()), limit: Some(wait), ..Default::default() };
        let start = Instant::now();
        let mut vm = case.step("cdrom").boot_with(case.file("stick.img"), &opts);
        vm.wait_serial_within(&line, wait);
        let cdrom = start.elapsed().as_secs_f64();
        println!(
            "  {iso}: Enter to its live root {ide:.1} s through dropboot on IDE (ratio {:.2}), {usb:.1} s on USB storage (ratio {:.2}); QEMU start to it from -cdrom {cdrom:.1} s",
            ide / cdrom,
            usb / cdrom
        );
    }
}

/// `dropboot create` (exFAT) with a 4 GiB file, next to `cp` of the same
/// file on the same disk, both flushed to the disk.
fn exfat_section() {
    use std::io::Write;
    let case = Case::new("bench-exfat");
    let big = case.file("big.iso");
    {
        // A pattern, not zeros: nothing may be skipped as a hole.
        let mut f = std::fs::File::create(&big).expect("the 4 GiB file");
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1).collect();
        for _ in 0..4096 {
            f.write_all(&chunk).expect("writing the 4 GiB file");
        }
        f.sync_all().expect("sync");
    }
    let sync = || {
        let _ = tests::media::output(&mut std::process::Command::new("sync"));
    };
    let image = case.file("stick.img");
    let copy = case.file("copy.iso");
    // Two rounds, alternating, the best of each: the first writer to run
    // otherwise pays for the page cache's state.
    let (mut ours, mut cp) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        let _ = std::fs::remove_file(&image);
        sync();
        let start = Instant::now();
        Stick::at(&image).size("6G").file(&big).build();
        sync();
        ours = ours.min(start.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&copy);
        sync();
        let start = Instant::now();
        tests::media::run(std::process::Command::new("cp").arg(&big).arg(&copy));
        sync();
        cp = cp.min(start.elapsed().as_secs_f64());
    }
    let mib = 4096.0;
    println!(
        "  dropboot create (exFAT) with a 4 GiB file: {ours:.1} s ({:.0} MiB/s); cp of it: {cp:.1} s ({:.0} MiB/s); ratio {:.2}",
        mib / ours,
        mib / cp,
        ours / cp
    );
    let _ = std::fs::remove_dir_all(&case.dir);
}

fn probe_section() {
    let case = Case::new("bench-probe");
    let iso = build_iso_mode(&case.dir, 64 << 20, MODE_BENCH);
    let contiguous = case.stick().size("256M").file(&iso.path).build();
    let (hook_mib_s, raw_mib_s, hook_mem) = probe_read(&case, &contiguous, None, None);
    let (cdrom_mib_s, _, _) = probe_read(&case, &contiguous, Some(iso.path.clone()), None);
    let (kib, ext) = hook_mem.unwrap_or_default();
    println!("  probe reading 64 MiB in 64 KiB requests: through the hook {hook_mib_s:.1} MiB/s, from QEMU's CD drive {cdrom_mib_s:.1} MiB/s (ratio {:.2})", hook_mib_s / cdrom_mib_s);
    println!("    the stick itself (INT 13h on 80h, no hook, 127-sector requests): {raw_mib_s:.1} MiB/s; hook / stick {:.2}", hook_mib_s / raw_mib_s);
    println!("  low memory the hook takes (BDA 413h): {kib} KiB for a contiguous ISO ({ext} extent)");
    for (usb, name) in [(Usb::Xhci, "xHCI"), (Usb::Ehci, "EHCI")] {
        let (hook_usb, raw_usb, _) = probe_read(&case, &contiguous, None, Some(usb));
        println!(
            "  the stick on USB storage ({name}): through the hook {hook_usb:.1} MiB/s, the stick itself {raw_usb:.1} MiB/s; hook / stick {:.2}",
            hook_usb / raw_usb
        );
    }

    let small = build_iso_mode(&case.dir, 1 << 20, MODE_BENCH);
    let fragmented = case.stick().fs(Fs::Fat32).build();
    let runs = copy_fragmented(&fragmented.path, &small.path, 60);
    let (_, _, frag_mem) = probe_read(&case, &fragmented, None, None);
    let (kib, ext) = frag_mem.unwrap_or_default();
    println!("  low memory the hook takes: {kib} KiB for an ISO in {ext} extents (mshowfat: {runs} runs)");
}

fn iso_section() {
    for (name, shown, memory) in [
        ("grub-rescue-cdrom.iso", Shown::Screen("GNU GRUB  version"), 256),
        ("ipxe.iso", Shown::Screen("iPXE initialising devices"), 256),
        ("debian-installer.iso", Shown::Serial("Select a language"), 1024),
        ("memtest86+x64.iso", Shown::Screen("Memtest86+ v6"), 256),
    ] {
        let (ours, cdrom) = time_real_iso(name, shown, memory);
        println!(
            "  {name}: Enter to first screen {ours:.2} s through dropboot; QEMU start to it from -cdrom {cdrom:.2} s (ratio {:.2})",
            ours / cdrom
        );
    }
}
