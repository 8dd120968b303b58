//! The foundation's user stories: a stick boots under SeaBIOS to a menu of
//! its boot files, on the screen and on COM1, and says so in words when
//! something is wrong.

use std::process::Command;

use bootfs::layout::{DATA_PARTITION_LBA, STAGE2_END_LIMIT, STAGE2_LBA, STAGE2_LOAD_ADDR};
use tests::media::{forget_next_free_hint, mtools_target, patch, run};
use tests::stick::{Case, Fs, Stick};
use tests::Qemu;

const NON_ASCII: &str = "Übersicht für Anfänger – Installationsmedium.img";
/// The same name as a VGA screen shows it: code page 437 has no en dash.
const NON_ASCII_ON_VGA: &str = "Übersicht für Anfänger ? Installationsmedium.img";

/// The stick of these stories: 64 MiB, made by `dropboot create` on `fs`,
/// holding three boot files: one at the root, one two folders down, one
/// with a long non-ASCII name.
fn three_files(case: &Case, fs: Fs) -> Stick {
    let alpha = case.random_file("alpha.iso", 1 << 20, 1);
    let deep = case.random_file("deep.iso", 70_000, 2);
    let long = case.random_file(NON_ASCII, 3_000, 3);
    case.stick().fs(fs).file(alpha).file(long).file_in(deep, "/linux/debian").build()
}

#[test]
fn a_stick_made_by_dropboot_create_lists_its_three_files_in_order_on_screen_and_serial() {
    for (fs, shown) in [(Fs::Exfat, "3 boot files on exFAT \"DROPBOOT\""), (Fs::Fat32, "3 boot files on FAT32 \"DROPBOOT\"")] {
        lists_three_files_in_order(fs, shown);
    }
}

fn lists_three_files_in_order(fs: Fs, shown: &str) {
    let case = Case::new(&format!("three_files_menu_{fs}"));
    let mut vm = case.boot(three_files(&case, fs));
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
    let case = Case::new("keys_and_details");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
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
    let case = Case::new("mkfs_fat_mtools");
    let stick = case.stick().build();
    let image = &stick.path;
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    run(Command::new("mkfs.fat")
        .args(["-F", "32", "-s", "1", "-n", "OTHERTOOLS", "--offset"])
        .arg(DATA_PARTITION_LBA.to_string())
        .arg(image)
        .arg((sectors / 2).to_string()));
    let target = mtools_target(image);
    let mt = |args: &[&str]| run(Command::new(args[0]).env("MTOOLS_SKIP_CHECK", "1").args(["-i", &target]).args(&args[1..]));
    let small = case.random_file("small.iso", 5_000, 4);
    let filler = case.random_file("filler.bin", 20_000, 5);
    let big = case.random_file("Big Image.IMG", 300_000, 6);
    // small, filler, then small deleted: the big file fills its hole and
    // goes on after the filler, so its chain has at least two runs.
    mt(&["mmd", "::/tools"]);
    mt(&["mcopy", small.to_str().unwrap(), "::/small.iso"]);
    mt(&["mcopy", filler.to_str().unwrap(), "::/filler.bin"]);
    mt(&["mdel", "::/small.iso"]);
    forget_next_free_hint(image, DATA_PARTITION_LBA as u64 * 512);
    mt(&["mcopy", big.to_str().unwrap(), "::/tools/Big Image.IMG"]);
    mt(&["mcopy", small.to_str().unwrap(), "::/small.iso"]);
    // The outside view of the big file's chain: mshowfat's cluster runs.
    let fat = mt(&["mshowfat", "::/tools/Big Image.IMG"]);
    let runs = fat.matches('<').count();
    assert!(runs >= 2, "the big file should be fragmented: {fat}");

    let listed = stick.run("list", &[]);
    assert!(listed.contains("/small.iso") && listed.contains("/tools/Big Image.IMG"), "{listed}");

    let mut vm = case.boot(&stick);
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
    let case = Case::new("stage2_corrupt");
    let stick = three_files(&case, Fs::Exfat);
    let at = (STAGE2_LBA as u64 + 4) * 512 + 17;
    let old = tests::media::read_at(&stick.path, at, 1)[0];
    patch(&stick.path, at, &[old ^ 0x5A]);
    let mut vm = case.boot(&stick);
    vm.wait_screen("dropboot: stage2 checksum bad");
}

#[test]
fn an_empty_stage2_area_makes_stage1_say_stage2_is_missing() {
    let case = Case::new("stage2_missing");
    let stick = three_files(&case, Fs::Exfat);
    patch(&stick.path, STAGE2_LBA as u64 * 512, &[0u8; 512]);
    let mut vm = case.boot(&stick);
    vm.wait_screen("dropboot: stage2 missing");
}

#[test]
fn a_disk_without_a_data_partition_says_so_and_enter_reboots() {
    let case = Case::new("no_data_partition");
    let stick = three_files(&case, Fs::Exfat);
    patch(&stick.path, 446, &[0u8; 64]);
    let mut vm = case.boot(&stick);
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
    let case = Case::new("unknown_filesystem");
    let stick = three_files(&case, Fs::Fat32);
    patch(&stick.path, DATA_PARTITION_LBA as u64 * 512, &[0u8; 512]);
    let mut vm = case.boot(&stick);
    vm.wait_screen("Partition 1 (type 0Ch) is not exFAT, FAT32 or NTFS.");
    vm.wait_serial("cannot start: Partition 1 (type 0Ch) is not exFAT, FAT32 or NTFS.");
}

#[test]
fn the_panic_screen_shows_the_message_and_where_it_happened() {
    let case = Case::new("panic_screen");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
    vm.wait_screen("3 boot files");
    vm.press(&["ctrl", "p"]);
    let screen = vm.wait_screen("internal error: self-test requested with Ctrl+P");
    assert!(screen.text().contains("at stage2/src/menu.rs:"), "{}", screen.text());
    vm.wait_serial("dropboot: internal error: self-test requested with Ctrl+P in the menu at stage2/src/menu.rs:");
    vm.wait_screen("Press a key to reboot.");
}

#[test]
fn a_cpu_exception_in_stage2_names_its_vector_eip_and_error_code_and_waits_for_a_key() {
    let case = Case::new("cpu_exception");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
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
    let code = tests::media::read_at(&stick.path, STAGE2_LBA as u64 * 512 + (eip - STAGE2_LOAD_ADDR) as u64, 2);
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
    let case = Case::new("nested_exception");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
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
    let case = Case::new("serial_one_screen");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
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
    let case = Case::new("serial_keys");
    let stick = three_files(&case, Fs::Exfat);
    let mut vm = case.boot(&stick);
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
