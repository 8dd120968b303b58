//! `dropboot persistence add` (issue 23), on the host: for each live system
//! (the live CDs of tools/make-live-media), a backend in one piece on the
//! stick, an ext4 that e2fsck passes, with the label and files its live
//! system looks for (read back by blkid and debugfs), named in ventoy.json
//! with the user's other settings kept; `config check`, `check` and `list`
//! say where it persists; the stick's filesystem stays clean. A backend
//! made by hand as Ventoy's CreatePersistentImg.sh makes it passes `config
//! check`; a wrongly labelled one is warned about; what cannot persist is
//! refused before a byte is written.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::media::{copy_out, dropboot, extents_of, live_medium, output, run};
use tests::stick::{Case, Fs, Stick};

fn persistence_add(stick: &Stick, args: &[&str]) -> String {
    let mut all: Vec<&OsStr> = vec!["persistence".as_ref(), "add".as_ref(), stick.path.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    dropboot(all)
}

/// The backend at `path` on the stick, copied to the case's folder.
fn backend_copy(case: &Case, stick: &Stick, path: &str) -> PathBuf {
    let to = case.file("backend-copy.dat");
    copy_out(&stick.path, path, &to);
    to
}

fn ext4_label(file: &Path) -> String {
    run(Command::new("blkid").args(["-p", "-s", "LABEL", "-o", "value"]).arg(file)).trim().to_string()
}

fn e2fsck_passes(file: &Path) {
    run(Command::new("e2fsck").arg("-fn").arg(file));
}

fn debugfs(file: &Path, request: &str) -> String {
    run(Command::new("debugfs").args(["-R", request]).arg(file))
}

/// `dropboot config check STICK`, passing; its output.
fn config_check(stick: &Stick) -> String {
    run(Command::new(tests::media::dropboot_bin()).args(["config", "check"]).arg(&stick.path))
}

/// `config check` passes and says where `iso` persists; no warnings.
fn config_check_names(stick: &Stick, iso: &str, backend: &str, label: &str, mib: u64) {
    let out = config_check(stick);
    assert!(!out.contains("warning"), "{out}");
    assert!(out.contains(&format!("persistence: {iso} keeps its changes in {backend} (ext4 \"{label}\", {mib} MiB)")), "{out}");
}

/// `persistence add` for `iso` on a stick of `fs`: the backend and its
/// configuration entry; returns the stick and the case for more checks.
fn adds_a_backend(name: &str, iso: &str, fs: Fs, label: &str) -> (Case, Stick, PathBuf) {
    let case = Case::new(name);
    let stick =
        case.stick().size("256M").fs(fs).file(live_medium(iso)).ventoy_json("{\n  \"control\": [ { \"VTOY_MENU_TIMEOUT\": \"5\" } ]\n}\n").build();
    let iso_path = format!("/{iso}");
    let backend = format!("/persistence/{}.dat", iso.trim_end_matches(".iso"));
    let said = persistence_add(&stick, &[&iso_path, "--size", "48M"]);
    assert!(said.contains(&format!("persists in {backend}")), "{said}");
    assert_eq!(extents_of(&stick.path, &backend), 1, "the backend is in one piece");
    let copy = backend_copy(&case, &stick, &backend);
    assert_eq!(std::fs::metadata(&copy).expect("the copy").len(), 48 << 20);
    e2fsck_passes(&copy);
    assert_eq!(ext4_label(&copy), label);
    config_check_names(&stick, &iso_path, &backend, label, 48);
    // The user's own setting is still there.
    let config = config_check(&stick);
    assert!(config.contains("timeout: 5 s"), "{config}");
    let list = stick.run("list", &[]);
    assert!(list.contains(&format!("{iso_path}  [persistence: {backend}]")), "{list}");
    let check = stick.run("check", &[]);
    assert!(check.contains(&format!("  persistence: {backend} (ext4 \"{label}\", 48 MiB)")), "{check}");
    stick.fsck_passes();
    (case, stick, copy)
}

#[test]
fn a_debian_live_iso_gets_a_persistence_backend_with_its_conf_on_an_exfat_stick() {
    let (_case, _stick, copy) = adds_a_backend("persist_debian_exfat", "debian-live.iso", Fs::Exfat, "persistence");
    assert_eq!(debugfs(&copy, "cat /persistence.conf"), "/ union\n");
}

#[test]
fn a_dracut_live_iso_gets_a_vtoycow_backend_with_its_overlay_folders_on_a_fat32_stick() {
    let (_case, _stick, copy) = adds_a_backend("persist_dracut_fat32", "dracut-live.iso", Fs::Fat32, "vtoycow");
    let listing = debugfs(&copy, "ls -l /vtoyoverlayfs");
    assert!(listing.contains("overlayfs") && listing.contains("ovlwork"), "{listing}");
}

#[test]
fn a_backend_made_by_another_user_than_root_still_belongs_to_root() {
    let case = Case::new("persist_not_root");
    let stick = case.stick().size("128M").fs(Fs::Fat32).file(live_medium("dracut-live.iso")).build();
    // The stick is the user's; mkfs.ext4 -d would give the overlay's
    // folders (the live root's own) to that user.
    let mut perms = std::fs::metadata(&stick.path).expect("the stick").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o666);
    std::fs::set_permissions(&stick.path, perms).expect("chmod");
    run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(tests::media::dropboot_bin())
        .args(["persistence", "add"])
        .arg(&stick.path)
        .args(["/dracut-live.iso", "--size", "20M"]));
    let copy = backend_copy(&case, &stick, "/persistence/dracut-live.dat");
    for folder in ["/", "/vtoyoverlayfs"] {
        for line in debugfs(&copy, &format!("ls -l {folder}")).lines().filter(|l| l.contains("4075")) {
            let owner: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
            assert_eq!(owner, ["0", "0"], "owned by root: {line}");
        }
    }
    e2fsck_passes(&copy);
}

/// An ISO9660 volume (not bootable) whose root holds `folder`: all that
/// `persistence add` reads of an ISO.
fn iso_with_folder(case: &Case, folder: &str) -> PathBuf {
    let dir = case.file(&format!("{folder}-tree"));
    std::fs::create_dir_all(dir.join(folder)).expect("the folder");
    std::fs::write(dir.join(folder).join("filesystem.size"), "1\n").expect("a file");
    let iso = case.file(&format!("{folder}-live.iso"));
    run(Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-R", "-o"]).arg(&iso).arg(&dir));
    iso
}

#[test]
fn a_casper_iso_gets_an_empty_casper_rw_backend_and_an_arch_one_is_refused() {
    let case = Case::new("persist_casper");
    let casper = iso_with_folder(&case, "casper");
    let arch = iso_with_folder(&case, "arch");
    let stick = case.stick().size("128M").file(&casper).file(&arch).build();
    persistence_add(&stick, &["/casper-live.iso", "--size", "20M"]);
    assert_eq!(extents_of(&stick.path, "/persistence/casper-live.dat"), 1);
    let copy = backend_copy(&case, &stick, "/persistence/casper-live.dat");
    e2fsck_passes(&copy);
    assert_eq!(ext4_label(&copy), "casper-rw");
    let names: Vec<String> = debugfs(&copy, "ls /").split_whitespace().filter(|w| !w.starts_with('(')).map(String::from).collect();
    assert!(names.iter().all(|n| [".", "..", "lost+found"].contains(&n.as_str()) || n.chars().all(|c| c.is_ascii_digit())), "{names:?}");
    config_check_names(&stick, "/casper-live.iso", "/persistence/casper-live.dat", "casper-rw", 20);

    let out =
        output(Command::new(tests::media::dropboot_bin()).args(["persistence", "add"]).arg(&stick.path).args(["/arch-live.iso", "--size", "20M"]));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("archiso reads where to keep its changes only from the kernel command line"), "{out:?}");
    stick.fsck_passes();
}

#[test]
fn an_ntfs_stick_is_told_how_to_make_the_backend_itself() {
    let case = Case::new("persist_ntfs");
    let stick = case.stick().size("128M").fs(Fs::NtfsByMkntfs).file(live_medium("debian-live.iso")).build();
    let before = std::fs::read(&stick.path).expect("the stick");
    let out =
        output(Command::new(tests::media::dropboot_bin()).args(["persistence", "add"]).arg(&stick.path).args(["/debian-live.iso", "--size", "32M"]));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds NTFS, which dropboot reads but does not write") && err.contains("mkfs.ext4 -L persistence"), "{err}");
    assert!(std::fs::read(&stick.path).expect("the stick") == before, "nothing was written");
}

#[test]
fn a_second_backend_joins_the_entry_and_a_taken_name_is_refused() {
    let (_case, stick, _) = adds_a_backend("persist_second", "debian-live.iso", Fs::Exfat, "persistence");
    persistence_add(&stick, &["/debian-live.iso", "--size", "20M", "--backend", "second.dat"]);
    let out = config_check(&stick);
    assert!(out.contains("in /persistence/debian-live.dat") && out.contains("in /persistence/second.dat"), "{out}");
    let before = std::fs::read(&stick.path).expect("the stick");
    let again = output(Command::new(tests::media::dropboot_bin()).args(["persistence", "add"]).arg(&stick.path).args([
        "/debian-live.iso",
        "--size",
        "20M",
        "--backend",
        "second.dat",
    ]));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("/persistence/second.dat is already on"), "{again:?}");
    assert!(std::fs::read(&stick.path).expect("the stick") == before, "a refusal writes nothing");
}

#[test]
fn a_backend_made_by_hand_as_ventoys_script_makes_it_passes_config_check() {
    let case = Case::new("persist_by_hand");
    // CreatePersistentImg.sh: dd, mkfs.ext4 -L persistence, persistence.conf "/ union".
    let dat = case.file("vtoy.dat");
    run(Command::new("dd").args(["if=/dev/zero", "bs=1M", "count=32", "status=none"]).arg(format!("of={}", dat.display())));
    run(Command::new("mkfs.ext4").args(["-q", "-F", "-L", "persistence"]).arg(&dat));
    let conf = case.file("persistence.conf");
    std::fs::write(&conf, "/ union\n").expect("persistence.conf");
    run(Command::new("debugfs").arg("-w").arg("-R").arg(format!("write {} persistence.conf", conf.display())).arg(&dat));
    let json = r#"{ "persistence": [ { "image": "/debian-live.iso", "backend": "/persistence/vtoy.dat" } ] }"#;
    let stick = case.stick().size("128M").file(live_medium("debian-live.iso")).file_in(&dat, "/persistence").ventoy_json(json).build();
    config_check_names(&stick, "/debian-live.iso", "/persistence/vtoy.dat", "persistence", 32);
    let check = stick.run("check", &["/debian-live.iso"]);
    assert!(check.contains("  at boot: adds conf/conf.d/zz-dropboot to /live/initrd.img"), "{check}");

    // The same file labelled for casper is not what live-boot looks for:
    // the loader boots the ISO without persistence, and adds nothing.
    run(Command::new("e2label").arg(&dat).arg("casper-rw"));
    let wrong = case.stick().size("128M").file(live_medium("debian-live.iso")).file_in(&dat, "/persistence").ventoy_json(json).build();
    let out = config_check(&wrong);
    assert!(
        out.contains("warning: persistence backend /persistence/vtoy.dat is labelled \"casper-rw\"; live-boot looks for \"persistence\""),
        "{out}"
    );
    let check = wrong.run("check", &["/debian-live.iso"]);
    assert!(check.contains("looks for \"persistence\")") && check.contains("  at boot: adds nothing: it boots without persistence"), "{check}");
}

#[test]
fn what_cannot_persist_is_refused_in_words_before_a_byte_is_written() {
    let case = Case::new("persist_refused");
    let not_iso = case.random_file("data.img", 1 << 20, 7);
    let stick = case.stick().size("128M").file(live_medium("debian-live.iso")).file(&not_iso).build();
    let before = std::fs::read(&stick.path).expect("the stick");
    let refused = |args: &[&str], words: &str| {
        let out = output(Command::new(tests::media::dropboot_bin()).args(["persistence", "add"]).arg(&stick.path).args(args));
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{err}");
    };
    refused(&["/gone.iso", "--size", "32M"], "no file /gone.iso on");
    refused(&["/data.img", "--size", "32M"], "is not an ISO dropboot can read");
    refused(&["/debian-live.iso", "--size", "1M"], "too small");
    refused(&["/debian-live.iso", "--size", "1G"], "MiB free; nothing was written");
    assert!(std::fs::read(&stick.path).expect("the stick") == before, "nothing was written");
}
