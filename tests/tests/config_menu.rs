//! The menu people expect, shaped by a ventoy.json: a default with a
//! countdown, aliases, tips, hidden files; the tree view, search, details,
//! the SHA-256 check, and the entries that leave dropboot; all driven by
//! keys sent through QMP, as a person at the keyboard would.

use std::fs;
use std::path::Path;
use std::process::Command;

use tests::media::run;
use tests::probe::{build_iso, EXIT_DONE};
use tests::stick::{Case, Stick};
use tests::{BootOptions, Usb};

/// A ventoy.json as Ventoy's documentation writes one: a timeout, a
/// default image, aliases for a file and a folder, a tip, a blacklist, and
/// settings a BIOS loader has no use for.
const VENTOY_JSON: &str = r#"{
    "control": [
        { "VTOY_DEFAULT_MENU_MODE": "0" },
        { "VTOY_MENU_TIMEOUT": "5" },
        { "VTOY_DEFAULT_IMAGE": "/ISO/probe.iso" },
        { "VTOY_MENU_LANGUAGE": "en_US" }
    ],
    "theme": {
        "file": "/ventoy/theme/blur/theme.txt",
        "gfxmode": "1920x1080"
    },
    "menu_alias": [
        { "image": "/ISO/probe.iso", "alias": "Probe CD (default)" },
        { "image": "/ISO/Linux/debian-netinst.iso", "alias": "Debian 12 netinst" },
        { "dir": "/ISO/Linux", "alias": "[Linux installers]" }
    ],
    "menu_tip": {
        "left": "10%", "top": "81%", "color": "blue",
        "tips": [ { "image": "/ISO/Linux/debian-netinst.iso", "tip": "Needs a network cable" } ]
    },
    "image_blacklist": [ "/ISO/old/*****.iso" ]
}
"#;

/// A name longer than a menu row.
const LONG_NAME: &str = "A very long file name that goes on and on past the width of a menu row - 2026 edition.img";

/// The stick of Ventoy's documented example, its countdown set to
/// `seconds`: the probe as the default, a Debian-named file with an alias
/// and a tip, a file the blacklist hides.
fn ventoy_example(case: &Case, seconds: u32) -> Stick {
    let probe = build_iso(&case.dir, 64 * 1024);
    let config = VENTOY_JSON.replace(r#""VTOY_MENU_TIMEOUT": "5""#, &format!(r#""VTOY_MENU_TIMEOUT": "{seconds}""#));
    case.stick()
        .size("128M")
        .file_in(&probe.path, "/ISO")
        .file_in(case.random_file("debian-netinst.iso", 200_000, 1), "/ISO/Linux")
        .file_in(case.random_file("ghost.iso", 3_000, 2), "/ISO/old")
        .file(case.random_file("tools.img", 5_000, 3))
        .file(case.random_file(LONG_NAME, 6_000, 4))
        .ventoy_json(&config)
        .build()
}

#[test]
fn a_ventoy_json_from_ventoys_documentation_sets_the_default_the_labels_and_the_hidden_files_then_the_countdown_boots_the_default() {
    let case = Case::new("ventoy_json_default");
    let mut vm = case.boot(ventoy_example(&case, 5));
    let screen = vm.wait_screen("Press any key to stop");
    let text = screen.text();
    assert!(text.contains("4 boot files on exFAT"), "the blacklisted file is not counted:\n{text}");
    let cut: String = format!("/{LONG_NAME}").chars().take(63).collect();
    assert!(text.contains(&format!(" {cut}...  ")), "a long name ends in an ellipsis before the size:\n{text}");
    assert!(!text.contains("ghost.iso"), "the blacklisted file is hidden:\n{text}");
    let probe = screen.find("Probe CD (default)").unwrap_or_else(|| panic!("the default's alias:\n{text}"));
    assert_eq!(screen.row_attr(probe), 0x70, "the default starts selected:\n{text}");
    assert!(screen.find("Debian 12 netinst").is_some(), "the second alias:\n{text}");
    assert!(!text.contains("/ISO/probe.iso") && text.contains("/tools.img"), "aliases replace paths, others keep theirs:\n{text}");
    assert!(text.contains("Booting Probe CD (default) in "), "the countdown names the default:\n{text}");

    // No key: the countdown runs out and the default boots (the probe ends QEMU).
    let status = vm.wait_exit();
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe ran:\n{}", vm.serial_text());
    let serial = vm.serial_text();
    assert!(serial.contains("countdown: Probe CD (default) in 5 s"), "{serial}");
    assert!(serial.contains("countdown over: Probe CD (default)") && serial.contains("boot /ISO/probe.iso"), "{serial}");
    assert!(serial.contains("ignored: VTOY_MENU_LANGUAGE, theme"), "{serial}");
}

#[test]
fn a_key_stops_the_countdown_and_the_tip_shows_for_its_file() {
    // A countdown long enough that the key lands inside it however busy
    // the machine is.
    let seconds = 8;
    let case = Case::new("countdown_stopped");
    let mut vm = case.boot(ventoy_example(&case, seconds));
    vm.wait_screen("Press any key to stop");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds.into());
    vm.keys(&["up"]);
    let screen = vm.wait_screen("Needs a network cable");
    let row = screen.find("Debian 12 netinst").expect("the alias");
    assert_eq!(screen.row_attr(row), 0x70, "Up moved to the entry above the default:\n{}", screen.text());
    assert!(!screen.text().contains("Press any key to stop"), "{}", screen.text());
    // Well past the countdown's end: still the menu, nothing booted.
    vm.wait_serial("countdown stopped by a key");
    std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()) + std::time::Duration::from_secs(2));
    assert!(vm.exited().is_none(), "nothing boots once a key was pressed");
    let serial = vm.serial_text();
    assert!(serial.contains("countdown stopped by a key") && !serial.contains("countdown over"), "{serial}");
}

#[test]
fn the_tree_view_search_and_details_follow_the_keys() {
    let case = Case::new("tree_search_details");
    let mut vm = case.boot(ventoy_example(&case, 30));
    vm.wait_screen("Press any key to stop");

    // F3: the tree view, folders first, the folder alias in place of its name.
    vm.keys(&["f3"]);
    let screen = vm.wait_screen("[DIR] ISO");
    assert!(screen.text().contains("tools.img"), "the root's own file:\n{}", screen.text());
    vm.keys(&["home", "ret"]);
    let screen = vm.wait_screen("Folder: /ISO");
    assert!(screen.text().contains("[DIR] [Linux installers]") && screen.text().contains("Probe CD (default)"), "{}", screen.text());
    vm.keys(&["down", "ret"]);
    let screen = vm.wait_screen("Folder: [Linux installers]");
    assert!(screen.text().contains("Debian 12 netinst"), "{}", screen.text());
    vm.keys(&["esc", "esc"]);
    vm.wait_screen("[DIR] ISO");

    // Typing filters every file, in any folder; Esc clears the search.
    vm.keys(&["f3", "t", "o", "o"]);
    let screen = vm.wait_screen("Search: too_   1 found");
    assert!(screen.text().contains("/tools.img") && !screen.text().contains("Debian"), "{}", screen.text());
    vm.keys(&["esc", "n", "e", "t"]);
    let screen = vm.wait_screen("Search: net_   1 found");
    assert!(screen.text().contains("Debian 12 netinst"), "alias or path matches:\n{}", screen.text());

    // Tab: the details of the probe's ISO (found by search), its El
    // Torito entry among them.
    vm.keys(&["backspace", "backspace", "backspace", "p", "r", "o", "b", "e"]);
    vm.wait_screen("Search: probe_   1 found");
    vm.keys(&["tab"]);
    let screen = vm.wait_screen("El Torito 1:");
    let text = screen.text();
    assert!(text.contains("Path:          /ISO/probe.iso"), "{text}");
    assert!(text.contains("bootable, no emulation"), "{text}");
    assert!(text.contains("Boots as:      CD E0h"), "{text}");
    assert!(text.contains("Config:        /ventoy/ventoy.json (in use)"), "{text}");
    assert!(text.contains("Ignored keys:  VTOY_MENU_LANGUAGE, theme"), "{text}");
    vm.keys(&["esc"]);
    vm.wait_screen("Type: search");
}

#[test]
fn sha256_compares_the_file_with_its_sidecar_and_with_sha256sums() {
    let case = Case::new("sha256_check");
    let good = case.random_file("good.iso", 1 << 20, 7);
    let bad = case.random_file("bad.iso", 300_000, 8);
    let sum = |p: &Path| run(Command::new("sha256sum").arg(p)).split_whitespace().next().expect("a digest").to_string();
    let good_sum = sum(&good);
    fs::write(case.file("good.iso.sha256"), format!("{good_sum}  good.iso\n")).expect("sidecar");
    let wrong = "0".repeat(64);
    fs::write(case.file("SHA256SUMS"), format!("{good_sum}  good.iso\n{wrong}  bad.iso\n")).expect("SHA256SUMS");
    let stick = case.stick().size("128M").files([&good, &bad, &case.file("good.iso.sha256"), &case.file("SHA256SUMS")]).build();
    let mut vm = case.boot(&stick);
    vm.wait_screen("2 boot files");

    // The list: /bad.iso, /good.iso.
    vm.keys(&["down", "f2"]);
    let screen = vm.wait_screen("It matches good.iso.sha256.");
    assert!(screen.text().contains(&good_sum), "the digest on screen:\n{}", screen.text());
    vm.keys(&["esc", "home", "f2"]);
    let screen = vm.wait_screen("It does NOT match SHA256SUMS");
    let row = screen.find("does NOT match").expect("verdict row");
    assert_eq!(screen.row_attr(row), 0x4F, "a mismatch shows as an error");
    assert!(screen.text().contains(&format!("Listed:   {wrong}")), "what SHA256SUMS says:\n{}", screen.text());
    assert!(vm.serial_text().contains(&format!("SHA-256 {}", sum(&bad))), "the digest on COM1 too");
}

#[test]
fn boot_the_next_disk_starts_the_second_disk_as_80h_with_the_stick_moved_to_81h() {
    boot_the_next_disk("next_disk", None);
}

#[test]
fn boot_the_next_disk_from_a_stick_on_a_uhci_port_starts_the_pcs_disk_as_80h() {
    boot_the_next_disk("next_disk_usb_uhci", Some(Usb::Uhci));
}

/// The menu's "Boot the next disk" with a second disk whose MBR reports
/// how it was started and what 80h and 81h are then.
fn boot_the_next_disk(name: &str, usb: Option<Usb>) {
    let case = Case::new(name);
    let mbr = case.file("next-disk.bin");
    tests::probe::assemble("next_disk.asm", &mbr);
    let second = case.file("second-disk.img");
    let mut bytes = fs::read(&mbr).expect("next-disk.bin");
    bytes.resize(1 << 20, 0);
    fs::write(&second, &bytes).expect("second disk");
    let image = case.stick().size("128M").file(case.random_file("any.iso", 4_000, 1)).build().path;
    let opts = BootOptions { extra_disks: vec![second], usb, ..BootOptions::default() };
    let mut vm = case.boot_with(&image, &opts);
    vm.wait_screen("1 boot file");
    // The last three rows: next disk, reboot, power off.
    vm.keys(&["end", "up", "up"]);
    // The keys wait in the BIOS's buffer while stage2 reads its check of
    // 128 sectors (on UHCI that takes a while): the row turns selected.
    vm.wait_for("the next disk's row to be selected", |q| {
        let screen = q.screen();
        screen.find("<Boot the next disk>").is_some_and(|row| screen.row_attr(row) == 0x70)
    });
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    assert_eq!(status.code(), Some(0x33 * 2 + 1), "the next disk's MBR ran:\n{}", vm.serial_text());
    // The two disks traded numbers: the next disk is 80h, the stick 81h.
    let stick = tests::media::read_at(&image, 440, 4);
    let signature = u32::from_le_bytes([stick[0], stick[1], stick[2], stick[3]]);
    let expected = format!("next-disk: booted with DL=80h; 80h reads as this disk: yes; 81h disk signature {signature:08X}");
    assert!(vm.serial_text().contains(&expected), "{expected}\n{}", vm.serial_text());
    assert!(vm.serial_text().contains("swaps disks 80h and 81h"), "{}", vm.serial_text());
}

#[test]
fn power_off_switches_the_machine_off() {
    let case = Case::new("power_off");
    let mut vm = case.boot(case.stick().size("128M").file(case.random_file("any.iso", 4_000, 1)).build());
    vm.wait_screen("<Power off>");
    vm.keys(&["end", "ret"]);
    let status = vm.wait_exit();
    assert!(status.success(), "QEMU ended as a machine switched off does: {status:?}");
    assert!(vm.serial_text().contains("power off"), "{}", vm.serial_text());
}

#[test]
fn a_config_with_a_syntax_error_names_its_line_and_column_and_the_menu_still_shows() {
    let case = Case::new("config_syntax_error");
    let broken = "{\n  \"control\": [\n    { \"VTOY_MENU_TIMEOUT\": \"5\" }\n    { \"VTOY_DEFAULT_IMAGE\": \"/rescue.iso\" }\n  ]\n}\n";
    let stick = case.stick().size("128M").file(case.random_file("rescue.iso", 4_000, 1)).ventoy_json(broken).build();
    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("/rescue.iso");
    let where_ = "line 4, column 5: expected ',' or ']', found '{'";
    let status = screen.find(where_).unwrap_or_else(|| panic!("the error on screen:\n{}", screen.text()));
    assert!(screen.row(status).contains("/ventoy/ventoy.json: "), "{}", screen.row(status));
    assert!(!screen.text().contains("Press any key to stop"), "a broken file sets no countdown");
    assert!(vm.serial_text().contains(where_), "and on COM1");

    let out = tests::media::output(Command::new(tests::media::dropboot_bin()).args(["config", "check"]).arg(&stick.path));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains(&format!("stick.img:/ventoy/ventoy.json: {where_}")), "the same place:\n{stdout}");
}

#[test]
fn a_stick_with_5000_boot_files_in_200_folders_shows_its_menu_and_scrolls() {
    let case = Case::new("five_thousand");
    let mut vm = case.boot(case.stick().size("256M").many_files(200, 25).build());
    let screen = vm.wait_screen("5000 boot files");
    assert!(screen.text().contains("/folder000/file00.iso"), "{}", screen.text());
    vm.keys(&["end", "up", "up", "up"]);
    let screen = vm.wait_screen("/folder199/file24.iso");
    let last = screen.find("/folder199/file24.iso").expect("last file");
    assert_eq!(screen.row_attr(last), 0x70, "End, then up past the three actions:\n{}", screen.text());
    vm.keys(&["pgup", "pgup"]);
    let screen = vm.wait_screen("/folder198/");
    assert!(!screen.text().contains("/folder000/"), "{}", screen.text());
    // Searching all 5000 names.
    vm.keys(&["1", "2", "3", "slash"]);
    vm.wait_screen("Search: 123/_   25 found");
}

#[test]
fn boot_the_next_disk_without_another_disk_says_so_and_the_menu_stays() {
    let case = Case::new("no_next_disk");
    let mut vm = case.boot(case.stick().size("128M").file(case.random_file("any.iso", 4_000, 1)).build());
    vm.wait_screen("<Boot the next disk>");
    vm.keys(&["end", "up", "up", "ret"]);
    let screen = vm.wait_screen("Cannot boot the next disk: this PC has no hard disk besides the stick");
    assert!(screen.text().contains("/any.iso"), "the menu stays:\n{}", screen.text());
}

#[test]
fn a_bad_setting_is_named_with_its_place_and_the_rest_of_the_file_applies() {
    let case = Case::new("config_bad_setting");
    let config = "{\n  \"control\": [\n    { \"VTOY_MENU_TIMEOUT\": \"30\" },\n    { \"VTOY_MAX_SEARCH_LEVEL\": \"deep\" }\n  ],\n  \"menu_alias\": [ { \"image\": \"/rescue.iso\", \"alias\": \"Rescue\" } ]\n}\n";
    let stick = case.stick().size("128M").file(case.random_file("rescue.iso", 4_000, 1)).ventoy_json(config).build();
    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("Press any key to stop");
    let text = screen.text();
    assert!(text.contains("Booting Rescue in "), "the timeout and the alias apply:\n{text}");
    let problem = "line 4, column 32: VTOY_MAX_SEARCH_LEVEL must be \"max\" or a number, not \"deep\"";
    assert!(vm.serial_text().contains(problem), "{}", vm.serial_text());
    // The status row holds its start; COM1 and `config check` the whole.
    assert!(text.contains("/ventoy/ventoy.json: line 4, column 32: VTOY_MAX_SEARCH_LEVEL must be"), "the problem under the countdown:\n{text}");
    vm.keys(&["esc"]);
    vm.wait_for("the countdown to stop", |q| !q.screen().text().contains("Press any key to stop"));
}
