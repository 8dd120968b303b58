//! The foundation's user stories: a stick boots under SeaBIOS to a menu of
//! its boot files, on the screen and on COM1, and says so in words when
//! something is wrong.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use bootfs::layout::{DATA_PARTITION_LBA, STAGE2_END_LIMIT, STAGE2_LBA, STAGE2_LOAD_ADDR};
use tests::media::{dropboot, forget_next_free_hint, mtools_target, patch, random_file, run};
use tests::{work_dir, Qemu};

const NON_ASCII: &str = "Übersicht für Anfänger – Installationsmedium.img";
/// The same name as a VGA screen shows it: code page 437 has no en dash.
const NON_ASCII_ON_VGA: &str = "Übersicht für Anfänger ? Installationsmedium.img";

/// A 64 MiB stick made by `dropboot create` (exFAT unless `fs` says
/// otherwise) holding three boot files: one at the root, one two folders
/// down, one with a long non-ASCII name.
fn three_file_stick(name: &str) -> (PathBuf, PathBuf) {
    three_file_stick_on(name, "exfat")
}

fn three_file_stick_on(name: &str, fs: &str) -> (PathBuf, PathBuf) {
    let dir = work_dir(name);
    let alpha = random_file(&dir.join("alpha.iso"), 1 << 20, 1);
    let deep = random_file(&dir.join("deep.iso"), 70_000, 2);
    let long = random_file(&dir.join(NON_ASCII), 3_000, 3);
    let image = dir.join("stick.img");
    dropboot([
        OsStr::new("create"),
        image.as_os_str(),
        "--size".as_ref(),
        "64M".as_ref(),
        "--fs".as_ref(),
        fs.as_ref(),
        alpha.as_os_str(),
        long.as_os_str(),
    ]);
    dropboot([OsStr::new("add"), image.as_os_str(), deep.as_os_str(), "--to".as_ref(), "/linux/debian".as_ref()]);
    (dir, image)
}

#[test]
fn a_stick_made_by_dropboot_create_lists_its_three_files_in_order_on_screen_and_serial() {
    for (fs, shown) in [("exfat", "3 boot files on exFAT \"DROPBOOT\""), ("fat32", "3 boot files on FAT32 \"DROPBOOT\"")] {
        lists_three_files_in_order(fs, shown);
    }
}

fn lists_three_files_in_order(fs: &str, shown: &str) {
    let name = format!("three_files_menu_{fs}");
    let (dir, image) = three_file_stick_on(&name, fs);
    let mut vm = Qemu::boot(&name, &dir, &image);
    let screen = vm.wait_screen(shown);
    let rows: Vec<usize> = ["/alpha.iso", "/linux/debian/deep.iso", NON_ASCII_ON_VGA]
        .iter()
        .map(|n| screen.find(n).unwrap_or_else(|| panic!("{n} is not on the screen:\n{}", screen.text())))
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "files out of order on screen:\n{}", screen.text());
    assert!(screen.text().contains("1.0 MiB") && screen.text().contains("68.3 KiB"), "{}", screen.text());

    vm.wait_serial(NON_ASCII);
    let serial = vm.serial_text();
    let menu = &serial[serial.find("dropboot 0.1.0 ").expect("menu title on COM1")..];
    let at: Vec<usize> = ["/alpha.iso", "/linux/debian/deep.iso", &format!("/{NON_ASCII}")]
        .iter()
        .map(|n| menu.find(n).unwrap_or_else(|| panic!("{n} is not in COM1's menu:\n{menu}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "files out of order on COM1:\n{menu}");
}

#[test]
fn keys_move_the_selection_and_tab_shows_the_files_details() {
    let (dir, image) = three_file_stick("keys_and_details");
    let mut vm = Qemu::boot("keys_and_details", &dir, &image);
    let screen = vm.wait_screen("3 boot files");
    let first = screen.find("/alpha.iso").expect("first file");
    assert_eq!(screen.row_attr(first), 0x70, "the first file starts selected");

    vm.keys(&["down", "down", "up", "end", "home", "down"]);
    let deep = loop {
        let s = vm.screen();
        let row = s.find("/linux/debian/deep.iso").expect("deep.iso listed");
        if s.row_attr(row) == 0x70 {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(vm.elapsed() < tests::WAIT, "selection never reached deep.iso:\n{}", s.text());
    };
    assert_ne!(deep.row_attr(first), 0x70, "only one row is selected");

    vm.keys(&["tab"]);
    let details = vm.wait_screen("Extents:");
    let text = details.text();
    assert!(text.contains("Path:          /linux/debian/deep.iso"), "{text}");
    assert!(text.contains("Size:          70000 bytes"), "{text}");
    assert!(text.contains("Extents:       1 (first cluster"), "{text}");
    vm.wait_serial("details /linux/debian/deep.iso:");
    vm.wait_serial("Size:          70000 bytes (68.3 KiB)");

    vm.keys(&["esc"]);
    vm.wait_screen("3 boot files");
}

#[test]
fn a_fat32_made_by_mkfs_fat_and_mtools_is_read_the_same_with_its_fragments_counted() {
    let dir = work_dir("mkfs_fat_mtools");
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref()]);
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    run(Command::new("mkfs.fat")
        .args(["-F", "32", "-s", "1", "-n", "OTHERTOOLS", "--offset"])
        .arg(DATA_PARTITION_LBA.to_string())
        .arg(&image)
        .arg((sectors / 2).to_string()));
    let target = mtools_target(&image);
    let mt = |args: &[&str]| run(Command::new(args[0]).env("MTOOLS_SKIP_CHECK", "1").args(["-i", &target]).args(&args[1..]));
    let small = random_file(&dir.join("small.iso"), 5_000, 4);
    let filler = random_file(&dir.join("filler.bin"), 20_000, 5);
    let big = random_file(&dir.join("Big Image.IMG"), 300_000, 6);
    // small, filler, then small deleted: the big file fills its hole and
    // goes on after the filler, so its chain has at least two runs.
    mt(&["mmd", "::/tools"]);
    mt(&["mcopy", small.to_str().unwrap(), "::/small.iso"]);
    mt(&["mcopy", filler.to_str().unwrap(), "::/filler.bin"]);
    mt(&["mdel", "::/small.iso"]);
    forget_next_free_hint(&image, DATA_PARTITION_LBA as u64 * 512);
    mt(&["mcopy", big.to_str().unwrap(), "::/tools/Big Image.IMG"]);
    mt(&["mcopy", small.to_str().unwrap(), "::/small.iso"]);
    // The outside view of the big file's chain: mshowfat's cluster runs.
    let fat = mt(&["mshowfat", "::/tools/Big Image.IMG"]);
    let runs = fat.matches('<').count();
    assert!(runs >= 2, "the big file should be fragmented: {fat}");

    let listed = dropboot([OsStr::new("list"), image.as_os_str()]);
    assert!(listed.contains("/small.iso") && listed.contains("/tools/Big Image.IMG"), "{listed}");

    let mut vm = Qemu::boot("mkfs_fat_mtools", &dir, &image);
    let screen = vm.wait_screen("2 boot files");
    let (s, b) = (screen.find("/small.iso").expect("small"), screen.find("/tools/Big Image.IMG").expect("big"));
    assert!(s < b, "{}", screen.text());
    vm.keys(&["down", "tab"]);
    let details = vm.wait_screen("Extents:").text();
    assert!(details.contains("Size:          300000 bytes"), "{details}");
    assert!(details.contains(&format!("Extents:       {runs} (first cluster")), "mshowfat says {runs} runs ({fat}); stage2:\n{details}");
}

#[test]
fn a_corrupted_stage2_area_makes_stage1_name_the_checksum() {
    let (dir, image) = three_file_stick("stage2_corrupt");
    let at = (STAGE2_LBA as u64 + 4) * 512 + 17;
    let old = tests::media::read_at(&image, at, 1)[0];
    patch(&image, at, &[old ^ 0x5A]);
    let mut vm = Qemu::boot("stage2_corrupt", &dir, &image);
    vm.wait_screen("dropboot: stage2 checksum bad");
}

#[test]
fn an_empty_stage2_area_makes_stage1_say_stage2_is_missing() {
    let (dir, image) = three_file_stick("stage2_missing");
    patch(&image, STAGE2_LBA as u64 * 512, &[0u8; 512]);
    let mut vm = Qemu::boot("stage2_missing", &dir, &image);
    vm.wait_screen("dropboot: stage2 missing");
}

#[test]
fn a_disk_without_a_data_partition_says_so_and_enter_reboots() {
    let (dir, image) = three_file_stick("no_data_partition");
    patch(&image, 446, &[0u8; 64]);
    let mut vm = Qemu::boot("no_data_partition", &dir, &image);
    vm.wait_screen("The boot disk has no data partition.");
    vm.wait_serial("cannot start: The boot disk has no data partition.");
    vm.wait_screen("Enter: reboot");
    vm.keys(&["ret"]);
    vm.wait_serial("rebooting");
    // -no-reboot turns the reset into QEMU's exit.
    vm.wait_exit();
}

#[test]
fn a_partition_that_is_not_exfat_fat32_or_ntfs_is_named() {
    let (dir, image) = three_file_stick_on("unknown_filesystem", "fat32");
    patch(&image, DATA_PARTITION_LBA as u64 * 512, &[0u8; 512]);
    let mut vm = Qemu::boot("unknown_filesystem", &dir, &image);
    vm.wait_screen("Partition 1 (type 0Ch) is not exFAT, FAT32 or NTFS.");
    vm.wait_serial("cannot start: Partition 1 (type 0Ch) is not exFAT, FAT32 or NTFS.");
}

#[test]
fn the_panic_screen_shows_the_message_and_where_it_happened() {
    let (dir, image) = three_file_stick("panic_screen");
    let mut vm = Qemu::boot("panic_screen", &dir, &image);
    vm.wait_screen("3 boot files");
    vm.press(&["ctrl", "p"]);
    let screen = vm.wait_screen("internal error: self-test requested with Ctrl+P");
    assert!(screen.text().contains("at stage2/src/menu.rs:"), "{}", screen.text());
    vm.wait_serial("dropboot: internal error: self-test requested with Ctrl+P in the menu at stage2/src/menu.rs:");
    vm.wait_screen("Press a key to reboot.");
}

#[test]
fn a_cpu_exception_in_stage2_names_its_vector_eip_and_error_code_and_waits_for_a_key() {
    let (dir, image) = three_file_stick("cpu_exception");
    let mut vm = Qemu::boot("cpu_exception", &dir, &image);
    vm.wait_screen("3 boot files");
    // Ctrl+E executes UD2 in the menu: vector 06h, no error code.
    vm.press(&["ctrl", "e"]);
    let screen = vm.wait_screen("dropboot: CPU exception 06h (invalid opcode) at EIP ");
    vm.wait_serial("dropboot: CPU exception 06h (invalid opcode) at EIP ");
    let text = screen.text();
    assert!(text.contains("error code 00000000h, in stage2 "), "{text}");
    let at = text.find(" at EIP ").expect("the EIP") + " at EIP ".len();
    let eip = u32::from_str_radix(&text[at..at + 8], 16).expect("EIP in hex");
    assert!((STAGE2_LOAD_ADDR..STAGE2_END_LIMIT).contains(&eip), "EIP {eip:08X}h is not in stage2");
    // EIP names the very instruction: UD2 (0F 0B) where stage2 holds it.
    let code = tests::media::read_at(&image, STAGE2_LBA as u64 * 512 + (eip - STAGE2_LOAD_ADDR) as u64, 2);
    assert_eq!(code, [0x0F, 0x0B], "the bytes at EIP {eip:08X}h");
    vm.wait_screen("Press a key to reboot.");
    // No triple-fault reset: QEMU runs with -no-reboot, so a reset would end it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(vm.exited().is_none(), "the machine reset by itself");
    vm.press(&["ret"]);
    vm.wait_exit();
}

#[test]
fn an_exception_inside_the_exception_handler_ends_in_one_message_and_a_halt_not_a_loop() {
    let (dir, image) = three_file_stick("nested_exception");
    let mut vm = Qemu::boot("nested_exception", &dir, &image);
    vm.wait_screen("3 boot files");
    // Ctrl+D: UD2 in the menu, and another inside cpu_exception.
    vm.press(&["ctrl", "d"]);
    let message = "dropboot: CPU exception 06h inside the exception handler; halted.";
    let screen = vm.wait_screen(message);
    assert_eq!(screen.row(0), message, "{}", screen.text());
    vm.wait_serial(message);
    // Halted: no reset (QEMU runs with -no-reboot), no second message.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(vm.exited().is_none(), "the machine reset by itself");
    assert_eq!(vm.serial_text().matches("inside the exception handler").count(), 1, "{}", vm.serial_text());
    assert!(!vm.serial_text().contains("(invalid opcode) at EIP"), "the handler went on:\n{}", vm.serial_text());
}

/// Waits until an 80x25 terminal on COM1 shows what the VGA screen shows
/// (the first 79 columns, which dropboot sends; characters the VGA font
/// lacks are `?` there), and returns that screen's text.
fn terminal_matches_vga(vm: &mut Qemu, when: &str) -> String {
    let mut last = (String::new(), String::new());
    let vga_text =
        |s: &tests::Screen| (0..25).map(|r| s.row(r).chars().take(79).collect::<String>().trim_end().to_string()).collect::<Vec<_>>().join("\n");
    let same = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let vga = vga_text(&vm.screen());
        let terminal = tests::terminal::TerminalScreen::after(&std::fs::read(&vm.serial_path).unwrap_or_default());
        let shown = (0..25)
            .map(|r| {
                let row: String = terminal.row(r).chars().take(79).map(|c| bootfs::text::from_cp437(bootfs::text::to_cp437(c))).collect();
                row.trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n");
        last = (vga, shown);
        last.0 == last.1
    });
    assert!(same, "{when}: the serial terminal shows another screen than VGA.\n--- VGA ---\n{}\n--- terminal ---\n{}", last.0, last.1);
    last.0
}

#[test]
fn the_serial_terminal_shows_the_same_screen_as_vga_while_the_log_goes_on() {
    let (dir, image) = three_file_stick("serial_one_screen");
    let mut vm = Qemu::boot("serial_one_screen", &dir, &image);
    vm.wait_screen("3 boot files");
    terminal_matches_vga(&mut vm, "the menu");
    // Tab logs the details it shows, F3 logs the view: neither line may
    // land inside the drawn screen.
    vm.keys(&["tab"]);
    vm.wait_screen("Extents:");
    let details = terminal_matches_vga(&mut vm, "the details page");
    assert!(!details.contains("dropboot: "), "{details}");
    vm.keys(&["esc", "f3"]);
    vm.wait_screen("Tab: details");
    terminal_matches_vga(&mut vm, "the tree view after a log line");
    vm.wait_serial("dropboot: tree view");
}

#[test]
fn the_serial_terminal_drives_the_menu_with_ansi_keys() {
    let (dir, image) = three_file_stick("serial_keys");
    let mut vm = Qemu::boot("serial_keys", &dir, &image);
    vm.wait_screen("3 boot files");
    // Down, End, Home, Down: the second file, then Tab for its details.
    vm.type_serial("\x1b[B\x1b[F\x1b[H\x1b[B");
    vm.type_serial("\t");
    let details = vm.wait_screen("Extents:").text();
    assert!(details.contains("Path:          /linux/debian/deep.iso"), "{details}");
    // A lone Esc (no sequence follows) goes back to the menu.
    vm.type_serial("\x1b");
    vm.wait_screen("3 boot files");
}
