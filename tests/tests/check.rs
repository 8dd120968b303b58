//! `dropboot check` says, before anyone boots, what the loader will do with
//! each file: the same plan stage2 follows.

use std::ffi::OsStr;
use std::process::Command;

use tests::media::{dropboot, dropboot_bin, random_file, run, third_party};
use tests::probe::build_iso;
use tests::work_dir;

#[test]
fn check_gives_a_verdict_in_words_and_json_for_each_kind_of_file() {
    let dir = work_dir("check_verdicts");
    let probe = build_iso(&dir, 64 * 1024);
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("casper")).unwrap();
    std::fs::write(root.join("efi.img"), vec![0u8; 64 * 1024]).unwrap();
    std::fs::copy(dir.join("probe-root/probe.bin"), root.join("boot.bin")).unwrap();
    let xorriso = |out: &str, args: &[&str]| {
        let path = dir.join(out);
        run(Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-o"]).arg(&path).args(args).arg(&root));
        path
    };
    let efi = xorriso("efi-only.iso", &["-e", "efi.img", "-no-emul-boot"]);
    let live = xorriso("live.iso", &["-b", "boot.bin", "-no-emul-boot", "-boot-load-size", "4"]);
    let junk = random_file(&dir.join("junk.iso"), 100_000, 5);
    let image = dir.join("stick.img");
    let files = [probe.path.clone(), third_party("memtest86+x64.iso"), efi, live, junk];
    let mut args = vec![OsStr::new("create").to_owned(), image.clone().into(), "--size".into(), "64M".into()];
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    dropboot(&args);

    let out = tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("check"), image.as_os_str()]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "two files will not boot:\n{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 5 boot files will not boot"));
    let verdict = |path: &str| {
        let at = text.find(&format!("{path}  (")).unwrap_or_else(|| panic!("{path} missing:\n{text}"));
        text[at..].lines().skip(1).take_while(|l| l.starts_with("  ")).map(str::trim).collect::<Vec<_>>().join("\n")
    };
    assert!(verdict("/probe.iso").ends_with("boots as CD E0h; its system finds its ISO as partition 2"), "{text}");
    assert!(verdict("/probe.iso").contains("El Torito: x86 BIOS, no emulation"), "{text}");
    assert!(
        verdict("/memtest86+x64.iso")
            .contains("boots as 1.44 MB floppy 00h; an emulated disk is not a filesystem Linux can use whole, so no partition is written for it"),
        "{text}"
    );
    assert!(verdict("/efi-only.iso").ends_with("not bootable: no BIOS boot entry in this image (it boots with UEFI only)"), "{text}");
    assert!(verdict("/junk.iso").starts_with("not bootable: not an ISO9660 image"), "{text}");
    assert!(verdict("/live.iso").ends_with("boots as CD E0h; a Linux live system (casper): its system finds its ISO as partition 2"), "{text}");

    let out =
        tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("check"), image.as_os_str(), "/probe.iso".as_ref(), "--json".as_ref()]));
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    assert_eq!(json[0]["path"], "/probe.iso");
    assert_eq!(json[0]["boots"], true);
    assert_eq!(json[0]["pieces"], 1);
    assert_eq!(json[0]["presented_as"], "CD E0h");
    assert_eq!(json[0]["iso_partition"], 2);
    assert_eq!(json[0]["eltorito"][0]["platform"], "x86 BIOS");

    let listed: serde_json::Value = serde_json::from_str(&dropboot([OsStr::new("list"), image.as_os_str(), "--json".as_ref()])).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(5));
    let info: serde_json::Value = serde_json::from_str(&dropboot([OsStr::new("info"), image.as_os_str(), "--json".as_ref()])).unwrap();
    assert_eq!(info["filesystem"], "exFAT");
    assert_eq!(info["boot_code"]["state"], "current");
}
