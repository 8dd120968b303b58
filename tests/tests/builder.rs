//! `dropboot create`, `add` and `list` as a user runs them, checked by
//! outside tools: fsck.vfat, mtools and the mbrman crate.

use std::ffi::OsStr;
use std::fs;
use std::process::Command;

use bootfs::layout::{verify_stage2, DATA_PARTITION_LBA, MBR_CODE_BYTES, STAGE2_LBA};
use bootfs::mbr::Mbr;
use tests::media::{dropboot, mtools_target, pseudo_random, read_at, run};
use tests::stick::{Case, Fs};

#[test]
fn a_created_fat32_image_has_our_mbr_boot_code_and_a_fat32_that_fsck_passes() {
    let case = Case::new("builder_create");
    let a = case.random_file("a.iso", 300_000, 11);
    let image = case.stick().size("96M").fs(Fs::Fat32).file(&a).build().path;
    assert_eq!(fs::metadata(&image).unwrap().len(), 96 << 20);

    // The MBR: bootfs and mbrman read the same table.
    let sector: [u8; 512] = read_at(&image, 0, 512).try_into().unwrap();
    let ours = Mbr::parse(&sector).unwrap();
    let (index, p) = ours.data_partition().unwrap();
    assert_eq!((index, p.bootable, p.kind, p.start_lba), (0, true, 0x0C, DATA_PARTITION_LBA));
    assert_eq!(p.sectors as u64, (96 << 20) / 512 - DATA_PARTITION_LBA as u64);
    let theirs = mbrman::MBR::read_from(&mut fs::File::open(&image).unwrap(), 512).unwrap();
    assert_eq!((theirs[1].sys, theirs[1].starting_lba, theirs[1].sectors), (p.kind, p.start_lba, p.sectors));
    assert_eq!(theirs[1].boot, mbrman::BOOT_ACTIVE);
    assert_eq!(u32::from_le_bytes(theirs.header.disk_signature), ours.disk_signature);
    assert_ne!(ours.disk_signature, 0);

    // The boot code: stage1 in the first 440 bytes, a sealed stage2 after.
    assert!(sector[..MBR_CODE_BYTES].iter().any(|&b| b != 0));
    let stage2 = read_at(&image, STAGE2_LBA as u64 * 512, (DATA_PARTITION_LBA - STAGE2_LBA) as usize * 512);
    verify_stage2(&stage2).expect("a sealed stage2");

    // The data partition: fsck.vfat passes it and mtools reads the file back.
    let part = case.file("partition.img");
    fs::write(&part, read_at(&image, DATA_PARTITION_LBA as u64 * 512, p.sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
    let back = case.file("a.back");
    run(Command::new("mcopy").env("MTOOLS_SKIP_CHECK", "1").args(["-i", &mtools_target(&image), "::/a.iso"]).arg(&back));
    assert_eq!(fs::read(&back).unwrap(), pseudo_random(300_000, 11));
}

#[test]
fn files_added_to_folders_of_a_fat32_stick_are_listed_in_menu_order_and_fsck_still_passes() {
    let case = Case::new("builder_add_list");
    let stick = case.stick().fs(Fs::Fat32).build();
    let image = &stick.path;
    let z = case.random_file("zeta.ISO", 1000, 1);
    let b = case.random_file("Beta.img", 2000, 2);
    let n = case.random_file("notes.txt", 10, 3);
    dropboot([OsStr::new("add"), image.as_os_str(), z.as_os_str(), n.as_os_str()]);
    stick.add(&b, "/rescue/old");
    let listed = stick.run("list", &[]);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(lines, ["2000  /rescue/old/Beta.img", "1000  /zeta.ISO"]);

    let part = case.file("partition.img");
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    fs::write(&part, read_at(image, DATA_PARTITION_LBA as u64 * 512, sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
}

#[test]
fn create_refuses_to_overwrite_an_existing_file_and_says_why() {
    let case = Case::new("builder_refuse");
    let image = case.file("precious.img");
    fs::write(&image, b"my data").unwrap();
    let out = tests::media::output(Command::new(tests::media::dropboot_bin()).args([
        OsStr::new("create"),
        image.as_os_str(),
        "--size".as_ref(),
        "64M".as_ref(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read(&image).unwrap(), b"my data");
}

/// The data partition of `image` on a loop device, for fsck.exfat and
/// exfat-fuse (root, as CI runs); `f` gets the device.
fn with_partition_device<T>(image: &std::path::Path, f: impl FnOnce(&str) -> T) -> T {
    let dev = run(Command::new("losetup").args(["-f", "--show", "-o", &(DATA_PARTITION_LBA as u64 * 512).to_string()]).arg(image)).trim().to_string();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&dev)));
    let _ = tests::media::output(Command::new("losetup").args(["-d", &dev]));
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// fsck.exfat must call the data partition of `image` clean; then each
/// path (relative to its root) is read back through exfat-fuse, None where
/// it does not exist.
fn exfat_checked_read_back(image: &std::path::Path, paths: &[&str]) -> Vec<Option<Vec<u8>>> {
    with_partition_device(image, |dev| {
        let report = run(Command::new("fsck.exfat").arg("-n").arg(dev));
        assert!(report.contains("clean"), "{report}");
        let mnt = image.with_extension("mnt");
        fs::create_dir_all(&mnt).unwrap();
        run(Command::new("mount.exfat-fuse").arg(dev).arg(&mnt));
        let back = paths.iter().map(|p| fs::read(mnt.join(p)).ok()).collect();
        let _ = tests::media::output(Command::new("umount").arg(&mnt));
        back
    })
}

#[test]
fn create_makes_exfat_by_default_and_fsck_exfat_and_exfat_fuse_agree_with_it() {
    let case = Case::new("builder_exfat");
    let a = case.random_file("a.iso", 3_000_000, 21);
    let b = case.random_file("Übung für alle – 日本.img", 70_000, 22);
    // No --fs: exFAT is what `create` makes unless told.
    let stick = case.stick().size("96M").file(&a).file_in(&b, "/deep/er/folder").build();
    let sector: [u8; 512] = read_at(&stick.path, 0, 512).try_into().unwrap();
    let (_, p) = Mbr::parse(&sector).unwrap().data_partition().unwrap();
    assert_eq!((p.kind, p.bootable), (0x07, true));
    let listed = stick.run("list", &[]);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(lines, ["3000000  /a.iso", "70000  /deep/er/folder/Übung für alle – 日本.img"]);

    let back = exfat_checked_read_back(&stick.path, &["a.iso", "deep/er/folder/Übung für alle – 日本.img"]);
    assert_eq!(back, [Some(pseudo_random(3_000_000, 21)), Some(pseudo_random(70_000, 22))]);
}

#[test]
fn a_folder_that_outgrows_its_first_cluster_keeps_every_file_and_fsck_passes() {
    let case = Case::new("builder_exfat_grow");
    let stick = case.stick().build();
    // 4 KiB clusters hold 128 entries; 60 files of 3+ entries each need more.
    let files: Vec<_> = (0..60).map(|i| case.random_file(&format!("installer number {i:02}.iso"), 100, i)).collect();
    let mut args = vec![OsStr::new("add").to_owned(), stick.path.clone().into_os_string()];
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    args.extend(["--to".into(), "/many".into()]);
    dropboot(&args);
    let listed = stick.run("list", &[]);
    assert_eq!(listed.lines().count(), 60, "{listed}");
    with_partition_device(&stick.path, |dev| {
        let report = run(Command::new("fsck.exfat").arg("-n").arg(dev));
        assert!(report.contains("clean"), "{report}");
    });
}

#[test]
fn a_fat32_root_that_grows_into_clusters_earlier_adds_used_lists_only_its_folders_and_fsck_passes() {
    // 256 MiB of FAT32 has 512-byte clusters: 16 entries, so the root
    // (its label and two entries a folder) outgrows a cluster at the 8th
    // folder, into a cluster that an earlier add's journal had used.
    // The fatfs crate does not zero a cluster it adds to FAT32's root.
    let case = Case::new("builder_fat32_root_grows");
    let stick = case.stick().size("256M").fs(Fs::Fat32).build();
    let iso = case.random_file("disc.iso", 4096, 1);
    for folder in 0..20 {
        stick.add(&iso, &format!("/folder{folder:02}"));
    }
    let listed = stick.run("list", &[]);
    let expected: Vec<String> = (0..20).map(|f| format!("4096  /folder{f:02}/disc.iso")).collect();
    assert_eq!(listed.lines().map(str::trim).collect::<Vec<_>>(), expected);
    stick.fsck_passes();
}

/// The clusters of the FAT32 folder `/name` of `image`, in chain order.
fn fat32_folder_chain(image: &std::path::Path, name: &str) -> Vec<u32> {
    use bootfs::tree::FileTree;
    let mut fs = bootfs::fat::Fat32::open(tests::media::data_partition(image)).unwrap();
    let folder = fs.read_root().unwrap().into_iter().find(|e| e.is_dir && e.name == name).unwrap_or_else(|| panic!("no folder {name}"));
    let mut chain = vec![folder.node.fat_cluster()];
    while let Some(next) = fs.next_cluster(chain[chain.len() - 1]).unwrap() {
        chain.push(next);
    }
    chain
}

#[test]
fn folders_of_25_files_added_in_one_go_each_lie_in_one_run_of_clusters_and_fsck_passes() {
    // 512-byte clusters hold 16 entries: 25 files need 4 clusters. Left to
    // grow as files come, a folder took a cluster between each few files'
    // data, and the loader read each in a call of its own. Ten folders:
    // the root grows (at the 8th) into the cluster after a folder made in
    // the same add, which then moves whole into a run.
    let case = Case::new("builder_fat32_folder_runs");
    let stick = case.stick().size("256M").fs(Fs::Fat32).build();
    let files: Vec<_> = (0..25).map(|i| case.random_file(&format!("installer {i:02}.iso"), 4096, i)).collect();
    for folder in 0..10 {
        let mut args = vec![OsStr::new("add").to_owned(), stick.path.clone().into_os_string()];
        args.extend(files.iter().map(|f| f.clone().into_os_string()));
        args.extend(["--to".into(), format!("/folder{folder:02}").into()]);
        dropboot(&args);
    }
    for folder in 0..10 {
        let chain = fat32_folder_chain(&stick.path, &format!("folder{folder:02}"));
        assert!(chain.len() >= 4 && chain.windows(2).all(|w| w[1] == w[0] + 1), "folder{folder:02} lies in clusters {chain:?}");
    }
    // A later add to a full folder grows it again, and keeps what it held.
    let late = case.random_file("late.iso", 4096, 99);
    stick.add(&late, "/folder03");
    let listed = stick.run("list", &[]);
    assert_eq!(listed.lines().count(), 251, "{listed}");
    assert!(listed.contains("4096  /folder03/late.iso") && listed.contains("4096  /folder09/installer 24.iso"), "{listed}");
    let back = case.file("back.iso");
    tests::media::copy_out(&stick.path, "/folder07/installer 13.iso", &back);
    assert_eq!(fs::read(&back).unwrap(), pseudo_random(4096, 13));
    stick.fsck_passes();
}

/// Free clusters of the FAT32 data partition of `image`, counted in its FAT.
fn fat32_free_clusters(image: &std::path::Path) -> usize {
    let g = bootfs::fat::Fat32::open(tests::media::data_partition(image)).unwrap().geometry;
    let fat = read_at(image, (DATA_PARTITION_LBA as u64 + g.fat_start) * 512, g.fat_sectors as usize * 512);
    (2..g.cluster_count as usize + 2).filter(|&c| u32::from_le_bytes(fat[c * 4..c * 4 + 4].try_into().unwrap()) & 0x0FFF_FFFF == 0).count()
}

/// Adds a file that leaves about `left` clusters free: the largest one
/// `add` takes, trying larger leftovers in `step`s.
fn fill_fat32_to(case: &Case, stick: &tests::stick::Stick, left: usize, step: usize, name: &str) {
    let free = fat32_free_clusters(&stick.path);
    let filler = case.file(name);
    for k in (left..free).step_by(step) {
        fs::File::create(&filler).unwrap().set_len(((free - k) * 512) as u64).unwrap();
        if stick.output("add", &[filler.to_str().unwrap()]).status.success() {
            return;
        }
    }
    panic!("no filler fits");
}

#[test]
fn on_a_nearly_full_fat32_stick_one_add_of_many_files_copies_as_many_as_adds_one_by_one() {
    // The room a folder makes for the names to come is a speed-up: on a
    // stick too full for it, it must not take the place of a file. 30
    // one-byte files with 105-character names (10 slots each) into about
    // 45 free clusters of 512 bytes: as many fit in one add as in 30.
    let case = Case::new("builder_fat32_room_when_full");
    let stick = case.stick().size("64M").fs(Fs::Fat32).build();
    fill_fat32_to(&case, &stick, 1000, 500, "filler-1.bin");
    fill_fat32_to(&case, &stick, 45, 1, "filler-2.bin");
    let free = fat32_free_clusters(&stick.path);
    assert!((45..80).contains(&free), "{free} clusters free");
    let names: Vec<_> = (0..30).map(|i| case.random_file(&format!("n{i:03}_{}.iso", "0".repeat(100)), 1, i)).collect();
    let one_by_one = case.file("one-by-one.img");
    fs::copy(&stick.path, &one_by_one).unwrap();
    let mut refusal = String::new();
    for n in &names {
        let out = tests::media::output(Command::new(tests::media::dropboot_bin()).arg("add").arg(&one_by_one).arg(n).args(["--to", "/l"]));
        if !out.status.success() {
            refusal = String::from_utf8_lossy(&out.stderr).into_owned();
        }
    }
    // The refusal says what the add needs and what is free in the same
    // unit, and the first is the larger.
    let kib = |before: &str, after: &str| -> f64 {
        let from = refusal.find(before).map(|i| i + before.len()).unwrap_or_else(|| panic!("{before:?} in {refusal}"));
        let rest = &refusal[from..];
        rest[..rest.find(after).unwrap_or_else(|| panic!("{after:?} in {refusal}"))].trim().parse().unwrap_or_else(|e| panic!("{e}: {refusal}"))
    };
    let (needs, free_kib) = (kib("it needs ", " KiB ("), kib("journal), ", " KiB are free"));
    assert!(needs > free_kib, "{refusal}");
    let mut args = vec![OsStr::new("add").to_owned(), stick.path.clone().into_os_string()];
    args.extend(names.iter().map(|f| f.clone().into_os_string()));
    args.extend(["--to".into(), "/l".into()]);
    let out = tests::media::output(Command::new(tests::media::dropboot_bin()).args(&args));
    let count = |image: &std::path::Path| {
        let listed =
            String::from_utf8_lossy(&tests::media::output(Command::new(tests::media::dropboot_bin()).arg("list").arg(image)).stdout).into_owned();
        listed.lines().filter(|l| l.contains("/l/n")).count()
    };
    let (together, apart) = (count(&stick.path), count(&one_by_one));
    assert!(apart > 5 && apart < 30, "the test's stick should fit some of the files, not all: {apart}");
    assert_eq!(together, apart, "one add: {}", String::from_utf8_lossy(&out.stderr));
    stick.fsck_passes();
}

#[test]
fn add_writes_into_an_exfat_volume_made_by_mkfs_exfat_and_fsck_passes() {
    let case = Case::new("builder_add_mkfs_exfat");
    let theirs = case.random_file("theirs.iso", 50_000, 31);
    let stick = case.stick().fs(Fs::ExfatByMkfs).file_in(&theirs, "/their folder").build();
    let ours = case.random_file("ours.img", 1_000_000, 32);
    stick.add(&ours, "/their folder/and ours");
    let listed = stick.run("list", &[]);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(lines, ["1000000  /their folder/and ours/ours.img", "50000  /their folder/theirs.iso"]);
    assert_eq!(tests::media::extents_of(&stick.path, "/their folder/and ours/ours.img"), 1);
    let back = exfat_checked_read_back(&stick.path, &["their folder/and ours/ours.img"]);
    assert_eq!(back, [Some(pseudo_random(1_000_000, 32))]);
}

/// add, rm and list round-trip on `fs`, checked by `check_volume`.
fn add_rm_list_round_trip(fs: Fs, check_volume: impl Fn(&std::path::Path, &[(&str, Vec<u8>)])) {
    let case = Case::new(&format!("builder_round_trip_{fs}"));
    let stick = case.stick().fs(fs).build();
    let image = &stick.path;
    let keep = case.random_file("keep.iso", 300_000, 51);
    let gone = case.random_file("gone.img", 200_000, 52);
    let also = case.random_file("also kept.IMG", 100_000, 53);
    dropboot([OsStr::new("add"), image.as_os_str(), keep.as_os_str(), gone.as_os_str(), "--to".as_ref(), "/a/b".as_ref()]);
    dropboot([OsStr::new("add"), image.as_os_str(), also.as_os_str()]);
    stick.run("rm", &["/a/b/gone.img"]);
    let listed = stick.run("list", &[]);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(lines, ["300000  /a/b/keep.iso", "100000  /also kept.IMG"], "{fs}");
    let out = stick.output("rm", &["/a/b/gone.img"]);
    assert_eq!(out.status.code(), Some(2), "removing it twice is a usage error on {fs}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file /a/b/gone.img"), "{fs}");
    check_volume(image, &[("a/b/keep.iso", pseudo_random(300_000, 51)), ("also kept.IMG", pseudo_random(100_000, 53))]);
}

#[test]
fn add_rm_list_round_trip_on_fat32_checked_by_fsck_vfat_and_mtools() {
    add_rm_list_round_trip(Fs::Fat32, |image, files| {
        let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
        let part = image.with_extension("part");
        fs::write(&part, read_at(image, DATA_PARTITION_LBA as u64 * 512, sectors as usize * 512)).unwrap();
        run(Command::new("fsck.vfat").arg("-n").arg(&part));
        for (path, want) in files {
            let back = image.with_extension("back");
            run(Command::new("mcopy").env("MTOOLS_SKIP_CHECK", "1").args(["-o", "-i", &mtools_target(image), &format!("::/{path}")]).arg(&back));
            assert_eq!(&fs::read(&back).unwrap(), want, "{path}");
        }
    });
}

#[test]
fn add_rm_list_round_trip_on_exfat_checked_by_fsck_exfat_and_exfat_fuse() {
    add_rm_list_round_trip(Fs::Exfat, |image, files| {
        let mut paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        paths.push("a/b/gone.img");
        let back = exfat_checked_read_back(image, &paths);
        for ((path, want), got) in files.iter().zip(&back) {
            assert_eq!(got.as_ref(), Some(want), "{path}");
        }
        assert_eq!(back[files.len()], None, "the removed file is gone");
    });
}
