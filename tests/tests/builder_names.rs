//! The builder under hostile names and concurrent use, as a new user would
//! try it: every path is normalised or refused in words before anything is
//! written, so a refused command leaves the image byte for byte as it was;
//! one dropboot writes to a stick at a time, and readers say when someone
//! writes; exit codes are the README's. On exFAT and FAT32.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use tests::media::{dropboot, dropboot_bin, stalled_add, third_party};
use tests::stick::{Case, Fs};

fn run(args: &[&OsStr]) -> Output {
    tests::media::output(Command::new(dropboot_bin()).args(args))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `dropboot ARGS` fails with `code`, says `words`, and leaves `image`
/// byte for byte as it was.
fn refused(image: &Path, args: &[&OsStr], code: i32, words: &str) {
    let before = fs::read(image).expect("the image");
    let out = run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(words), "{args:?} said {:?}, not {words:?}", stderr(&out));
    assert!(fs::read(image).expect("the image") == before, "{args:?} changed the image");
}

fn listed(image: &Path) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&dropboot([OsStr::new("list"), image.as_os_str(), "--json".as_ref()])).expect("list --json");
    json.as_array().expect("a list").iter().map(|e| e["path"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn an_add_to_a_folder_that_climbs_out_of_the_root_is_refused_and_the_stick_is_untouched() {
    let case = Case::new("names_climbing");
    let iso = case.random_file("x.iso", 100_000, 1);
    for fs in [Fs::Exfat, Fs::Fat32] {
        let stick = case.stick().size("128M").fs(fs).file(third_party("ipxe.iso")).build();
        let image = &stick.path;
        for to in ["/../../etc", "/../x", "/a/../b"] {
            refused(image, &[OsStr::new("add"), image.as_os_str(), iso.as_os_str(), "--to".as_ref(), to.as_ref()], 2, "'..'");
        }
        stick.fsck_passes();
    }
}

#[test]
fn dots_and_doubled_slashes_in_a_folder_are_dropped_and_fsck_stays_clean() {
    let case = Case::new("names_dots");
    let iso = case.random_file("x.iso", 100_000, 1);
    for fs in [Fs::Exfat, Fs::Fat32] {
        let stick = case.stick().size("128M").fs(fs).file(third_party("ipxe.iso")).build();
        stick.add(&iso, "/./y//z/.");
        assert!(listed(&stick.path).contains(&"/y/z/x.iso".to_string()), "{fs}: {:?}", listed(&stick.path));
        stick.fsck_passes();
    }
}

#[test]
fn names_windows_cannot_open_or_that_are_too_long_are_refused_before_a_byte_is_written() {
    let case = Case::new("names_forbidden");
    let iso = case.random_file("x.iso", 100_000, 1);
    // Linux names stop at 255 bytes, so only a folder can be longer.
    let long_folder = format!("/{}", "n".repeat(256));
    let trailing = case.file("trailing.iso.");
    fs::write(&trailing, b"0123").expect("a file whose name ends in a dot");
    for fs in [Fs::Exfat, Fs::Fat32] {
        let stick = case.stick().size("128M").fs(fs).file(third_party("ipxe.iso")).build();
        let image = &stick.path;
        let add = |to: &str| vec![OsStr::new("add").to_owned(), image.clone().into(), iso.clone().into(), "--to".into(), to.into()];
        for to in ["/a:b*c", "/what?", "/pipe|", "/back\\slash", "/quote\"", "/less<", "/more>"] {
            let args = add(to);
            refused(image, &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(), 2, "is not allowed in names on FAT32, exFAT or NTFS");
        }
        refused(
            image,
            &[OsStr::new("add"), image.as_os_str(), iso.as_os_str(), "--to".as_ref(), long_folder.as_ref()],
            2,
            "256 characters long (UTF-16); FAT32 and exFAT hold 255",
        );
        refused(image, &[OsStr::new("add"), image.as_os_str(), trailing.as_os_str()], 2, "ends in a dot or a space");
        refused(image, &[OsStr::new("add"), image.as_os_str(), iso.as_os_str(), "--to".as_ref(), "/dir. ".as_ref()], 2, "ends in a dot or a space");
        stick.fsck_passes();
    }
}

#[test]
fn a_file_already_on_the_stick_by_another_case_is_refused_with_its_path_written_once() {
    let case = Case::new("names_already_there");
    let upper = case.file("IPXE.ISO");
    fs::copy(third_party("ipxe.iso"), &upper).expect("a copy named in capitals");
    for fs in [Fs::Exfat, Fs::Fat32] {
        let image = case.stick().size("128M").fs(fs).file(third_party("ipxe.iso")).build().path;
        refused(&image, &[OsStr::new("add"), image.as_os_str(), upper.as_os_str()], 2, "/IPXE.ISO is already on");
        let out = run(&[OsStr::new("add"), image.as_os_str(), upper.as_os_str()]);
        assert!(!stderr(&out).contains("//"), "{}", stderr(&out));
    }
}

#[test]
fn a_missing_source_file_and_a_missing_image_exit_2_and_say_so() {
    let case = Case::new("names_missing");
    let image = case.stick().size("128M").file(third_party("ipxe.iso")).build().path;
    refused(&image, &[OsStr::new("add"), image.as_os_str(), case.file("nothing.iso").as_os_str()], 2, "no such file");
    let out = run(&[OsStr::new("list"), case.file("no-stick.img").as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such image or device"), "{}", stderr(&out));
}

#[test]
fn a_file_deeper_than_the_menu_searches_is_refused_and_one_level_less_is_listed() {
    let case = Case::new("names_deep");
    let iso = case.random_file("x.iso", 4096, 1);
    let image = case.stick().size("128M").fs(Fs::Fat32).file(third_party("ipxe.iso")).build().path;
    let folders = |n: usize| (0..n).map(|i| format!("/d{i}")).collect::<String>();
    let too_deep = folders(bootfs::scan::MAX_DEPTH);
    refused(&image, &[OsStr::new("add"), image.as_os_str(), iso.as_os_str(), "--to".as_ref(), too_deep.as_ref()], 2, "it would not show");
    let deepest = folders(bootfs::scan::MAX_DEPTH - 1);
    dropboot([OsStr::new("add"), image.as_os_str(), iso.as_os_str(), "--to".as_ref(), deepest.as_ref()]);
    assert!(listed(&image).contains(&format!("{deepest}/x.iso")), "{:?}", listed(&image));
}

#[test]
fn two_adds_at_once_one_is_refused_naming_the_other_and_readers_wait_their_turn() {
    let case = Case::new("names_two_writers");
    let first = case.random_file("first.iso", 32 << 20, 1);
    let second = case.random_file("second.iso", 1 << 20, 2);
    for fs in [Fs::Exfat, Fs::Fat32] {
        let stick = case.stick().size("128M").fs(fs).file(third_party("ipxe.iso")).build();
        let image = &stick.path;
        let mut child = stalled_add(image, &first, "/");
        let out = run(&[OsStr::new("add"), image.as_os_str(), second.as_os_str()]);
        assert_eq!(out.status.code(), Some(3), "{fs}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("pid {} (", child.id())) && stderr(&out).contains("dropboot add"), "{}", stderr(&out));
        assert!(stderr(&out).contains("one dropboot writes to a stick at a time, so nothing was written"), "{}", stderr(&out));
        for reader in ["list", "check", "info"] {
            let out = run(&[OsStr::new(reader), image.as_os_str()]);
            assert_eq!(out.status.code(), Some(3), "{reader}: {}", stderr(&out));
            assert!(stderr(&out).contains("is writing to it"), "{reader}: {}", stderr(&out));
        }
        child.kill().expect("kill");
        child.wait().expect("wait");
        stick.fsck_passes();
        assert_eq!(listed(image), ["/ipxe.iso"], "{fs}: neither half-written nor refused file is listed");
        dropboot([OsStr::new("add"), image.as_os_str(), second.as_os_str()]);
        assert_eq!(listed(image), ["/ipxe.iso", "/second.iso"]);
        stick.fsck_passes();
    }
}

#[test]
fn config_check_names_a_configured_path_no_stick_can_hold() {
    let case = Case::new("names_config");
    let config = r#"{ "menu_alias": [ { "image": "/iso/a:b.iso", "alias": "A" }, { "image": "/ipxe.iso", "alias": "iPXE" } ] }"#;
    let image = case.stick().size("128M").file(third_party("ipxe.iso")).ventoy_json(config).build().path;
    let out = run(&[OsStr::new("config"), "check".as_ref(), image.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warning: /iso/a:b.iso can never be on a stick") && text.contains("':' is not allowed"), "{text}");
    assert!(!text.contains("warning: /ipxe.iso"), "{text}");
}

#[test]
fn an_add_of_several_files_one_of_them_already_there_copies_none() {
    let case = Case::new("names_several");
    let fresh = case.random_file("fresh.iso", 100_000, 3);
    let image = case.stick().size("128M").fs(Fs::Fat32).file(third_party("ipxe.iso")).build().path;
    refused(&image, &[OsStr::new("add"), image.as_os_str(), fresh.as_os_str(), third_party("ipxe.iso").as_os_str()], 2, "nothing was copied");
    let out = run(&[OsStr::new("info"), case.file("no-stick.img").as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "info of a missing image: {}", stderr(&out));
}
