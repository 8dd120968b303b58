//! The builder never leaves a stick worse than it found it: a file too big
//! for the stick is refused before a byte is written; a host disk that
//! fills up mid-copy, or an add killed mid-copy, leaves a volume fsck
//! passes, no partial file listed, and the other files intact; an add, rm
//! or defrag killed before any of its writes is all or nothing once the
//! journal is read. For exFAT and FAT32. Needs root (tmpfs, loop
//! devices), as CI has.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use tests::media::{dropboot, dropboot_bin, fsck_passes, random_file, run, stalled_add};
use tests::stick::{Case, Fs, Stick, StickBuilder};

/// `dropboot list` of `image`, as (size, path) lines.
fn listed(image: &Path) -> Vec<String> {
    dropboot([OsStr::new("list"), image.as_os_str()]).lines().map(|l| l.trim().to_string()).collect()
}

/// Each file's content as the stick gives it back (through bootfs, as the
/// loader reads it).
fn read_back(image: &Path, path: &str) -> Vec<u8> {
    use bootfs::file::{ByteSource, MappedFile};
    let mut v = bootfs::filesystem::Filesystem::open(tests::media::data_partition(image)).expect("volume");
    let f = bootfs::scan::find_file(&mut v, path).expect("read").expect("the file is there");
    let map = v.extent_map(&f).expect("map");
    let mut file = MappedFile { dev: v.device(), map, size: f.size };
    let mut out = vec![0u8; f.size as usize];
    file.read_at(0, &mut out).expect("read back");
    out
}

/// `stick` with two files on it first, to be kept (/keep-a.iso and
/// /tools/keep-b.img, written in `dir`); and what they hold.
fn keeping_two_files<'a>(dir: &Path, stick: StickBuilder<'a>) -> (StickBuilder<'a>, Vec<(String, Vec<u8>)>) {
    let a = random_file(&dir.join("keep-a.iso"), 300_000, 1);
    let b = random_file(&dir.join("keep-b.img"), 70_000, 2);
    let kept = vec![("/keep-a.iso".to_string(), fs::read(&a).expect("a")), ("/tools/keep-b.img".to_string(), fs::read(&b).expect("b"))];
    (stick.file(&a).file_in(&b, "/tools"), kept)
}

fn other_files_intact(image: &Path, kept: &[(String, Vec<u8>)]) {
    for (path, content) in kept {
        assert!(read_back(image, path) == *content, "{path} changed");
    }
}

#[test]
fn a_file_too_big_for_the_stick_is_refused_before_a_single_byte_is_written() {
    for fs in [Fs::Exfat, Fs::Fat32] {
        let case = Case::new(&format!("too_big_{fs}"));
        let stick = keeping_two_files(&case.dir, case.stick().fs(fs)).0.build();
        let before = fs::read(&stick.path).expect("image");
        let big = case.random_file("huge.iso", 70 << 20, 3);
        let out = stick.output("add", &[big.to_str().expect("a UTF-8 path"), "--to", "/new/folder"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{fs}: refused");
        assert!(stderr.contains("free space") && stderr.contains("nothing was written"), "{fs}: {stderr}");
        assert!(fs::read(&stick.path).expect("image") == before, "{fs}: the image is byte for byte as it was");
    }
}

#[test]
fn a_host_disk_that_fills_up_mid_copy_leaves_no_partial_file_and_a_volume_fsck_passes() {
    for fs in [Fs::Exfat, Fs::Fat32] {
        let case = Case::new(&format!("host_full_{fs}"));
        let small = case.file("small-disk");
        fs::create_dir_all(&small).expect("mount point");
        let _ = tests::media::output(Command::new("umount").arg(&small));
        run(Command::new("mount").args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"]).arg(&small));
        let result = std::panic::catch_unwind(|| {
            // A sparse 128 MiB stick image on a 24 MiB disk: the copy of a
            // 40 MiB file runs out of host disk half way.
            let (stick, kept) = keeping_two_files(&small, Stick::at(small.join(format!("{fs}.img"))).size("128M").fs(fs));
            let stick = stick.build();
            let image = &stick.path;
            let big = case.random_file("big.iso", 40 << 20, 4);
            let before = listed(image);
            let out = tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("add"), image.as_os_str(), big.as_os_str()]));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{fs}: an I/O error: {stderr}");
            assert!(stderr.contains("No space left on device"), "{fs}: {stderr}");
            assert_eq!(listed(image), before, "{fs}: no partial file is listed");
            stick.fsck_passes();
            other_files_intact(image, &kept);
        });
        let _ = tests::media::output(Command::new("umount").arg(&small));
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn an_add_killed_mid_copy_leaves_a_volume_fsck_passes_and_the_other_files_intact() {
    for fs in [Fs::Exfat, Fs::Fat32] {
        let case = Case::new(&format!("killed_add_{fs}"));
        let (stick, kept) = keeping_two_files(&case.dir, case.stick().size("128M").fs(fs));
        let stick = stick.build();
        let image = &stick.path;
        let big = case.random_file("big.iso", 48 << 20, 5);
        let before = listed(image);
        // The builder stops half way through the data and waits; it is
        // killed there, as a pulled plug or Ctrl-C would.
        let mut child = stalled_add(image, &big, "/new");
        child.kill().expect("kill");
        child.wait().expect("wait");
        assert_eq!(listed(image), before, "{fs}: the half-copied file is not listed");
        stick.fsck_passes();
        other_files_intact(image, &kept);
        // And the stick takes the same file afterwards.
        stick.add(&big, "/new");
        assert!(read_back(image, "/new/big.iso") == fs::read(&big).expect("big"), "{fs}: the second copy is whole");
        stick.fsck_passes();
    }
}

/// Runs `dropboot ARGS` (IMAGE stands for the image) on a fresh copy of
/// `base` killed before its 1st, 2nd, ... write to the disk, until it runs
/// to the end. After every kill the change is all or nothing: fsck passes
/// at once, or a journal record says the change is to be finished, and the
/// next dropboot to open the stick (`list`) finishes it; the files listed
/// are those before the command or those after it; `kept` reads back byte
/// for byte. Returns how many kill points there were and at how many the
/// journal finished the change.
fn killed_at_every_write(dir: &Path, base: &Path, fs_kind: &str, args: &[&str], kept: &[(String, Vec<u8>)]) -> (usize, usize) {
    let image = dir.join("killed.img");
    let args: Vec<String> = args.iter().map(|a| a.replace("IMAGE", &image.display().to_string())).collect();
    let fresh = || run(Command::new("cp").args(["--sparse=always"]).arg(base).arg(&image));
    fresh();
    dropboot(&args);
    let (before, after) = (listed(base), listed(&image));
    let mut finished = 0;
    for n in 1..=200 {
        fresh();
        let out = tests::media::output(Command::new(dropboot_bin()).args(&args).env("DROPBOOT_FAULT", format!("kill-at-write:{n}")));
        let killed = String::from_utf8_lossy(&out.stderr).contains("killed before write");
        assert!(killed || out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let pending = journal_pending(&image);
        if !pending {
            fsck_passes(&image, fs_kind);
        }
        let now = listed(&image);
        if pending {
            assert_eq!(now, after, "{args:?} killed at write {n}: the journal finishes the change");
            finished += 1;
        } else {
            assert!(now == before || now == after, "{args:?} killed at write {n}: all or nothing, not {now:?}");
        }
        fsck_passes(&image, fs_kind);
        other_files_intact(&image, kept);
        if !killed {
            return (n - 1, finished);
        }
    }
    panic!("{args:?} never finished");
}

/// Whether the builder's journal record on `image` names a change to finish.
fn journal_pending(image: &Path) -> bool {
    let record: [u8; 512] = tests::media::read_at(image, bootfs::journal::RECORD_LBA * 512, 512).try_into().expect("a sector");
    bootfs::journal::Record::parse(&record).is_some()
}

/// `add`, `rm` and `defrag` on a `fs` stick of three files kept and one
/// in pieces (/pieces.iso), each killed before each of its writes: at
/// least 5 kill points each, at least 2 of them finished by the journal.
fn every_command_killed_at_every_write(fs: Fs) {
    let case = Case::new(&format!("killed_at_every_write_{fs}"));
    let (stick, mut kept) = keeping_two_files(&case.dir, case.stick().fs(fs));
    let doomed = case.random_file("doomed.iso", 200_000, 8);
    let pieces = case.random_file("pieces.iso", 300_000, 9);
    let base = stick.file_in(&doomed, "/old").fragmented(&pieces, 8).build().path;
    assert!(tests::media::extents_of(&base, "/pieces.iso") > 1);
    kept.push(("/old/doomed.iso".into(), fs::read(&doomed).expect("doomed")));
    let dir = &case.dir;
    let new = case.random_file("new.iso", 500_000, 7).display().to_string();
    let (adds, a) = killed_at_every_write(dir, &base, fs.name(), &["add", "IMAGE", &new, "--to", "/new/deep"], &kept);
    let (rms, r) = killed_at_every_write(dir, &base, fs.name(), &["rm", "IMAGE", "/pieces.iso"], &kept);
    let (defrags, d) = killed_at_every_write(dir, &base, fs.name(), &["defrag", "IMAGE", "/pieces.iso"], &kept);
    assert!(adds >= 5 && rms >= 5 && defrags >= 5, "{fs} kill points: add {adds}, rm {rms}, defrag {defrags}");
    assert!(a >= 2 && r >= 2 && d >= 2, "{fs} kills the journal finished: add {a}, rm {r}, defrag {d}");
}

#[test]
fn an_exfat_add_rm_or_defrag_killed_before_any_of_its_writes_is_all_or_nothing_and_the_other_files_intact() {
    every_command_killed_at_every_write(Fs::Exfat);
}

#[test]
fn a_fat32_add_rm_or_defrag_killed_before_any_of_its_writes_is_all_or_nothing_and_the_other_files_intact() {
    every_command_killed_at_every_write(Fs::Fat32);
}

#[test]
fn a_cut_off_fat32_change_another_program_wrote_over_is_left_as_that_program_left_it() {
    let case = Case::new("journal_overtaken");
    let (stick, kept) = keeping_two_files(&case.dir, case.stick().fs(Fs::Fat32));
    let image = stick.build().path;
    let new = case.random_file("new.iso", 400_000, 11);
    // Killed just after its journal record: writes 1-3 are the data, the
    // journal and the record.
    let out = tests::media::output(
        Command::new(dropboot_bin()).args([OsStr::new("add"), image.as_os_str(), new.as_os_str()]).env("DROPBOOT_FAULT", "kill-at-write:4"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("killed before write 4"));
    assert!(journal_pending(&image), "the record is there");
    // Then Windows, or mtools here, writes a file onto the stick.
    let other = case.random_file("other.img", 5_000, 12);
    run(Command::new("mcopy").env("MTOOLS_SKIP_CHECK", "1").args(["-i", &tests::media::mtools_target(&image)]).arg(&other).arg("::/other.img"));
    let out = tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("list"), image.as_os_str()]));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Its FAT and folder differ from what the journal expects (or its
    // data took the journal's free clusters): the change is dropped.
    assert!(stderr.contains("did not finish") && (stderr.contains("another program wrote") || stderr.contains("overwritten")), "{stderr}");
    assert!(stdout.contains("/other.img") && !stdout.contains("/new.iso"), "{stdout}");
    fsck_passes(&image, "fat32");
    other_files_intact(&image, &kept);
    assert!(read_back(&image, "/other.img") == fs::read(&other).expect("other"));
    assert!(!journal_pending(&image), "the record is cleared");
}

#[test]
fn an_exfat_add_to_a_folder_one_entry_short_of_a_full_cluster_is_still_all_or_nothing() {
    let case = Case::new("killed_at_a_cluster_edge_exfat");
    let (stick, kept) = keeping_two_files(&case.dir, case.stick());
    let base = stick.build().path;
    let dir = &case.dir;
    // 42 names of 3 entries each fill 126 of a 4 KiB cluster's 128: the
    // next set does not fit, and the folder's next cluster lies after the
    // files' data, apart from its first.
    let mut fillers: Vec<std::ffi::OsString> = vec!["add".into(), base.clone().into()];
    for i in 0..42 {
        fillers.push(random_file(&dir.join(format!("f{i:02}.iso")), 100, 20 + i).into());
    }
    fillers.extend(["--to".into(), "/full".into()]);
    dropboot(&fillers);
    let new = case.random_file("new.iso", 5_000, 19).display().to_string();
    let (adds, _) = killed_at_every_write(dir, &base, "exfat", &["add", "IMAGE", &new, "--to", "/full"], &kept);
    assert!(adds >= 3, "kill points: {adds}");
}

#[test]
fn an_add_to_a_fat32_volume_with_fat_mirroring_off_writes_only_its_active_fat_and_keeps_every_file() {
    use bootfs::file::{ByteSource, MappedFile};
    let case = Case::new("fat_mirroring_off");
    let a = case.random_file("a.iso", 300_000, 21);
    let image = case.stick().fs(Fs::Fat32).file(&a).build().path;
    // ExtFlags: mirroring off (bit 7), the second FAT active, as some tools leave it.
    tests::media::patch(&image, bootfs::layout::DATA_PARTITION_LBA as u64 * 512 + 40, &[0x81, 0x00]);
    let b = case.random_file("b.iso", 200_000, 22);
    dropboot([OsStr::new("add"), image.as_os_str(), b.as_os_str()]);
    // A new folder too (made by the fatfs crate).
    dropboot([OsStr::new("add"), image.as_os_str(), b.as_os_str(), "--to".as_ref(), "/new/folder".as_ref()]);
    let mut fs = bootfs::filesystem::Filesystem::open(tests::media::data_partition(&image)).expect("the volume");
    for (path, source) in [("/a.iso", &a), ("/b.iso", &b), ("/new/folder/b.iso", &b)] {
        let file = bootfs::scan::find_file(&mut fs, path).unwrap().unwrap_or_else(|| panic!("{path} is listed"));
        let map = fs.extent_map(&file).unwrap();
        let mut back = vec![0u8; file.size as usize];
        MappedFile { dev: fs.device(), map, size: file.size }.read_at(0, &mut back).unwrap();
        assert!(back == fs::read(source).unwrap(), "{path} reads back whole");
    }
}

#[test]
fn an_exfat_volume_whose_entries_point_past_it_or_fail_their_checksum_is_refused_in_words_and_left_as_it_was() {
    use bootfs::exfat::{EntrySet, Geometry, ENTRY_BITMAP, ENTRY_FILE, ENTRY_UPCASE};
    use bootfs::layout::DATA_PARTITION_LBA;
    use tests::media::{patch, read_at};
    let case = Case::new("exfat_lying_entries");
    let image = keeping_two_files(&case.dir, case.stick()).0.build().path;
    let part = DATA_PARTITION_LBA as u64 * 512;
    let g = Geometry::parse(&read_at(&image, part, 12 * 512)).expect("our own boot region");
    let root_at = part + (g.heap_start + (g.root_cluster as u64 - 2) * g.cluster_sectors as u64) * 512;
    let root = read_at(&image, root_at, g.cluster_sectors as usize * 512);
    let entries = root.as_chunks::<32>().0;
    let at = |kind: u8| root_at + 32 * entries.iter().position(|e| e[0] == kind).expect("the entry") as u64;
    let file = entries.iter().position(|e| e[0] == ENTRY_FILE).expect("keep-a.iso's entry set");
    let set = EntrySet::parse(&entries[file..]).expect("its checksum");
    assert_eq!(set.name(), "keep-a.iso");
    let mut past_the_end = set.clone();
    past_the_end.stream.first_cluster = g.cluster_count; // its last clusters lie past the volume
    let mut wrong_checksum = set.to_bytes();
    wrong_checksum[2 * 32 + 2] ^= 0x20; // a letter of its name

    let extra = case.random_file("extra.iso", 1000, 4);
    let cases: [(&str, u64, Vec<u8>, &[&OsStr], &str); 4] = [
        ("up-case table length", at(ENTRY_UPCASE) + 24, (1u64 << 40).to_le_bytes().to_vec(), &[extra.as_os_str()], "up-case table"),
        ("bitmap length", at(ENTRY_BITMAP) + 24, 1u64.to_le_bytes().to_vec(), &[extra.as_os_str()], "allocation bitmap"),
        ("first cluster", root_at + 32 * file as u64, past_the_end.to_bytes(), &[OsStr::new("/keep-a.iso")], "outside the volume"),
        ("entry set checksum", root_at + 32 * file as u64, wrong_checksum, &[OsStr::new("/keep-a.iso")], "checksum"),
    ];
    for (what, offset, bytes, args, says) in cases {
        let broken = case.file("broken.img");
        fs::copy(&image, &broken).expect("a copy");
        patch(&broken, offset, &bytes);
        let before = fs::read(&broken).expect("image");
        let command = if args[0] == "/keep-a.iso" { "rm" } else { "add" };
        let out = tests::media::output(Command::new(dropboot_bin()).arg(command).arg(&broken).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says) && !stderr.contains("panicked"), "{what}: {stderr}");
        assert!(fs::read(&broken).expect("image") == before, "{what}: the image is byte for byte as it was");
    }
}
