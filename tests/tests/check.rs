//! `dropboot check` says, before anyone boots, what the loader will do with
//! each file: the same plan stage2 follows.

use std::ffi::OsStr;
use std::process::Command;

use tests::media::{dropboot, dropboot_bin, partitioned_image, run, third_party};
use tests::probe::build_iso;
use tests::stick::Case;

#[test]
fn check_gives_a_verdict_in_words_and_json_for_each_kind_of_file() {
    let case = Case::new("check_verdicts");
    let dir = &case.dir;
    let probe = build_iso(dir, 64 * 1024);
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
    let junk = case.random_file("junk.iso", 100_000, 5);
    let stick = case.stick().files([probe.path.clone(), third_party("memtest86+x64.iso"), efi, live, junk]).build();
    let image = &stick.path;

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

#[test]
fn check_says_which_partitions_an_installed_systems_kernel_will_see_in_every_format_and_refuses_a_dynamic_vhd_naming_the_fix() {
    let case = Case::new("check_installed_systems");
    let dir = &case.dir;
    let mbr = partitioned_image(
        &dir.join("debian.img"),
        64 << 20,
        "label: dos\nstart=2048, size=60000, type=83\nstart=63488, type=5\nstart=65536, size=40000, type=83\n",
    );
    let gpt = partitioned_image(
        &dir.join("fedora.img"),
        64 << 20,
        "label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\nstart=4096, size=50000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=60000, size=40000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
    );
    let convert = |args: &[&str], to: &str| {
        let out = dir.join(to);
        run(Command::new("qemu-img").arg("convert").args(args).arg(&mbr).arg(&out));
        out
    };
    let vhd = convert(&["-O", "vpc", "-o", "subformat=fixed"], "debian.vhd");
    let vdi = convert(&["-O", "vdi", "-o", "static=on"], "debian.vdi");
    let dynamic = convert(&["-O", "vpc"], "growing.vhd");
    let stick = case.stick().size("512M").files([&mbr, &gpt, &vhd, &vdi, &dynamic]).build();

    let text = String::from_utf8_lossy(&stick.output("check", &[]).stdout).into_owned();
    let verdict = |path: &str| {
        let at = text.find(&format!("{path}  (")).unwrap_or_else(|| panic!("{path} missing:\n{text}"));
        text[at..].lines().nth(1).map(str::trim).unwrap_or_default().to_string()
    };
    let seen = "root=UUID and LABEL work, root=/dev/sda1 and PARTUUID do not";
    for (path, format) in [("/debian.img", "raw disk image"), ("/debian.vhd", "fixed VHD"), ("/debian.vdi", "fixed VDI")] {
        assert_eq!(
            verdict(path),
            format!(
                "boots as hard disk 80h (9/255/63) from a {format}; an installed system: its partitions 1 and 5 will be sda2 and sda5 (on a stick that is sda); {seen}"
            ),
            "{text}"
        );
    }
    // The GPT's BIOS boot partition holds no filesystem: the other two are shown.
    assert!(verdict("/fedora.img").ends_with(&format!("its partitions 2 and 3 will be sda2 and sda3 (on a stick that is sda); {seen}")), "{text}");
    // create made the dynamic VHD fixed as it copied it.
    assert!(verdict("/growing.vhd").starts_with("boots as hard disk 80h (9/255/63) from a fixed VHD"), "{text}");

    // Copied by another tool, it stays dynamic: refused, naming the fix.
    let other = dir.join("fat32.img");
    dropboot([OsStr::new("create"), other.as_os_str(), OsStr::new("--size"), OsStr::new("128M"), OsStr::new("--fs"), OsStr::new("fat32")]);
    run(Command::new("mcopy").arg("-i").arg(tests::media::mtools_target(&other)).arg(&dynamic).arg("::/growing.vhd"));
    let out = tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("check"), other.as_os_str()]));
    let refused = String::from_utf8_lossy(&out.stdout);
    assert!(refused.contains("not bootable: it is a dynamic VHD"), "{refused}");
    assert!(refused.contains("copy it with dropboot add, which makes it fixed"), "{refused}");

    let out = stick.output("check", &["/debian.vhd", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    assert_eq!(json[0]["installed_system"]["partitions"], serde_json::json!([{ "own": 1, "stick": 2 }, { "own": 5, "stick": 5 }]));
}
