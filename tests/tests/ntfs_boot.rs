//! A stick whose data partition Windows users reformatted NTFS: made by
//! mkntfs and filled by ntfs-3g (not by dropboot), its files list and boot
//! from stage2's own NTFS reader, its ventoy.json applies, and a file the
//! loader cannot read in place gets its reason while the menu stays.

use std::ffi::OsStr;
use std::path::Path;

use tests::media::{copy_into, dropboot, dropboot_bin, fill_ntfs, output, read_at, run, third_party};
use tests::probe::{boot_and_check, build_iso};
use tests::stick::{Case, Fs};

#[test]
fn an_ntfs_stick_lists_nested_non_ascii_folders_applies_its_ventoy_json_and_boots_the_probe_exactly() {
    let case = Case::new("ntfs_probe");
    let iso = build_iso(&case.dir, 1 << 20);
    let config = r#"{ "menu_alias": [ { "image": "/Образы/Système/probe.iso", "alias": "Probe on NTFS" } ] }"#;
    let stick = case.stick().size("128M").fs(Fs::NtfsByMkntfs).file_in(&iso.path, "/Образы/Système").ventoy_json(config).build();
    let image = &stick.path;
    let listed = stick.run("list", &[]);
    assert!(listed.contains("/Образы/Système/probe.iso"), "dropboot list reads NTFS through bootfs: {listed}");
    let verdict = stick.run("check", &["/Образы/Système/probe.iso"]);
    assert!(verdict.contains("boots as CD E0h"), "{verdict}");
    let info = stick.run("info", &[]);
    assert!(info.contains("NTFS") && info.contains("WINSTICK"), "{info}");
    assert!(dropboot([OsStr::new("config"), "check".as_ref(), image.as_os_str()]).contains("ventoy.json"));
    // dropboot reads NTFS but leaves writing it to Windows and ntfs-3g.
    let before = std::fs::read(image).unwrap();
    let other = case.random_file("other.iso", 10_000, 3);
    let add = tests::media::output(std::process::Command::new(tests::media::dropboot_bin()).arg("add").arg(image).arg(&other));
    let said = String::from_utf8_lossy(&add.stderr);
    assert!(!add.status.success() && said.contains("dropboot reads but does not write") && said.contains("ntfs-3g"), "{said}");
    assert!(std::fs::read(image).unwrap() == before, "a refused add writes nothing");

    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("1 boot file on NTFS");
    assert!(screen.text().contains("Probe on NTFS"), "the alias from ventoy.json on NTFS:\n{}", screen.text());
    boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, image);
}

#[test]
fn grubs_rescue_cd_boots_from_an_ntfs_stick_and_a_compressed_file_is_refused_in_words() {
    let case = Case::new("ntfs_grub");
    let stick = case.stick().size("128M").fs(Fs::NtfsByMkntfs).file(third_party("grub-rescue-cdrom.iso")).filled_by(|mnt| {
        std::fs::create_dir(mnt.join("packed")).unwrap();
        // FILE_ATTRIBUTE_COMPRESSED on the folder: what is written in it is compressed.
        tests::media::run(
            std::process::Command::new("python3")
                .args(["-c", "import os, sys; os.setxattr(sys.argv[1], 'system.ntfs_attrib_be', bytes.fromhex('00000810'))"])
                .arg(mnt.join("packed")),
        );
        std::fs::write(mnt.join("packed/a-compressed.iso"), vec![b'A'; 256 << 10]).unwrap();
    });
    let mut vm = case.boot(stick.build());
    vm.wait_screen("2 boot files on NTFS");
    // The compressed file (second) is refused, and the menu stays.
    vm.keys(&["down", "ret"]);
    let screen = vm.wait_screen("NTFS-compressed");
    assert!(screen.text().contains("/grub-rescue-cdrom.iso"), "the menu stays:\n{}", screen.text());
    vm.wait_serial("NTFS-compressed");
    vm.keys(&["up", "ret"]);
    vm.wait_screen("GNU GRUB  version");
}

#[test]
fn dropboot_create_fs_ntfs_makes_a_volume_ntfs_3g_checks_and_fills_and_the_menu_boots_from() {
    let case = Case::new("ntfs_create");
    let iso = build_iso(&case.dir, 256 << 10);
    let image = case.file("stick.img");
    // Files are copied onto NTFS by Windows or ntfs-3g, not by dropboot.
    let refused = output(std::process::Command::new(dropboot_bin()).args(["create", "--fs", "ntfs", "--size", "128M"]).arg(&image).arg(&iso.path));
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("does not copy files to NTFS"));
    assert!(!image.exists(), "nothing was written");
    let stick = case.stick().size("128M").fs(Fs::Ntfs).build();
    assert_eq!(read_at(&image, 446 + 4, 1), [0x07], "the partition type Windows gives NTFS");
    // ntfs-3g's own checker finds the volume clean.
    let partition = case.file("partition.img");
    std::fs::write(&partition, read_at(&image, 2048 * 512, (128 << 20) - 2048 * 512)).unwrap();
    let fix = run(std::process::Command::new("ntfsfix").arg("-n").arg(&partition));
    assert!(fix.contains("NTFS partition") && !fix.to_lowercase().contains("error"), "{fix}");
    fill_ntfs(&image, |mnt| copy_into(mnt, &[(&iso.path, "/")]));
    let info = stick.run("info", &[]);
    assert!(info.contains("NTFS \"DROPBOOT\""), "{info}");

    let mut vm = case.boot(&stick);
    vm.wait_screen("1 boot file on NTFS \"DROPBOOT\"");
    boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, &image);
}

#[test]
fn a_probe_iso_in_over_1000_runs_on_ntfs_boots_and_reads_exactly_through_the_hook() {
    let case = Case::new("ntfs_fragmented");
    // A 10 MiB ISO whose last MiB is the data the probe reads.
    let mut iso = build_iso(&case.dir, 1 << 20);
    tests::probe::move_data_to(&mut iso, 9 << 20);
    let stick = case.stick().fs(Fs::NtfsByMkntfs).filled_by(|mnt| {
        // Fill the volume with one-cluster files, free every other one,
        // then copy the ISO: it can only go into the holes.
        std::fs::create_dir(mnt.join("filler")).unwrap();
        let mut n = 0;
        while std::fs::write(mnt.join(format!("filler/{n:05}")), [n as u8; 4096]).is_ok() {
            n += 1;
        }
        for i in (0..n).step_by(2) {
            std::fs::remove_file(mnt.join(format!("filler/{i:05}"))).unwrap();
        }
        copy_into(mnt, &[(&iso.path, "/")]);
    });
    let stick = stick.build();
    let checked = stick.run("check", &["/probe.iso"]);
    assert!(checked.contains("boots as CD E0h"), "{checked}");
    let mut vm = case.boot(&stick);
    vm.wait_screen("1 boot file on NTFS");
    let serial = boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, &stick.path);
    let hook = serial.lines().find(|l| l.contains("INT 13h hook at")).unwrap_or_default();
    let extents: usize = hook.split(" extents").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(extents > 1000, "the hook maps it in over 1,000 pieces: {hook}\n{checked}");
}

#[test]
fn a_probe_iso_over_4_gib_on_an_ntfs_stick_reads_its_data_past_4_gib() {
    let case = Case::new("ntfs_large");
    let mut iso = build_iso(&case.dir, 1 << 20);
    // The data from 4.5 GiB on: the file is over 4 GiB, its data past the mark.
    tests::probe::move_data_to(&mut iso, 9 << 29);
    // ntfs-3g writes the hole as zeros: NTFS would keep a sparse file, which
    // the loader refuses.
    let stick = case.stick().size("6G").fs(Fs::NtfsByMkntfs).file(&iso.path).build();
    let listed = stick.run("list", &[]);
    assert!(listed.contains(&format!("{}  /probe.iso", iso.blocks as u64 * 2048)), "{listed}");
    let mut vm = case.boot(&stick);
    vm.wait_screen("1 boot file on NTFS");
    boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, &stick.path);
    drop(vm);
    let _ = std::fs::remove_file(&stick.path);
}

#[test]
fn ipxe_and_memtest86_plus_boot_from_an_ntfs_stick_and_upgrade_leaves_its_data_alone() {
    let case = Case::new("ntfs_ipxe_memtest");
    let (ipxe, memtest) = (third_party("ipxe.iso"), third_party("memtest86+x64.iso"));
    let stick = case.stick().size("128M").fs(Fs::NtfsByMkntfs).file_in(&ipxe, "/tools").file_in(&memtest, "/tools").build();
    let partition = |image: &Path| read_at(image, 2048 * 512, (128 << 20) - 2048 * 512);
    let before = partition(&stick.path);
    stick.run("upgrade", &[]);
    assert!(partition(&stick.path) == before, "upgrade rewrites the boot code only");
    for (entry, keys, shown) in [("ipxe", &["ret"][..], "iPXE initialising devices"), ("memtest", &["down", "ret"][..], "Memtest86+")] {
        let mut vm = case.step(entry).boot(&stick);
        vm.wait_screen("2 boot files on NTFS");
        vm.keys(keys);
        vm.wait_screen(shown);
    }
}
