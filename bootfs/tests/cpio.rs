//! The appended archive as Debian's cpio reads it (`cpio -t`, `cpio -i`).

use std::io::Write;
use std::process::{Command, Stdio};

use bootfs::cpio::{newc, padding_after, Member, FOLDER};

mod common;
use common::{data, Work};

/// Runs `cpio ARGS` in `dir` on `archive`; its listing (standard error
/// says how many blocks; standard output the names).
fn cpio(dir: &std::path::Path, args: &[&str], archive: &[u8]) -> String {
    let mut child = Command::new("cpio")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cpio (run `make deps`)");
    child.stdin.take().unwrap().write_all(archive).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "cpio {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn cpio_lists_and_unpacks_the_archive_with_its_folders() {
    let members = [
        Member::file("/conf/conf.d/zz-dropboot", b"export PERSISTENCE=true\n"),
        Member::file("etc/cmdline.d/zz-dropboot.conf", &data(4099, 1)),
        Member { path: "etc".into(), mode: FOLDER, data: Vec::new() },
        Member::file("preseed.cfg", b""),
    ];
    let archive = newc(&members);
    assert_eq!(archive.len() % 4, 0);
    let w = Work::new("cpio");
    let listing = cpio(&w.0, &["-t"], &archive);
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names, ["conf", "conf/conf.d", "conf/conf.d/zz-dropboot", "etc/cmdline.d", "etc/cmdline.d/zz-dropboot.conf", "etc", "preseed.cfg"]);
    let to = w.0.join("root");
    cpio(&to, &["-i", "--make-directories", "--quiet"], &archive);
    assert_eq!(std::fs::read(to.join("conf/conf.d/zz-dropboot")).unwrap(), b"export PERSISTENCE=true\n");
    assert_eq!(std::fs::read(to.join("etc/cmdline.d/zz-dropboot.conf")).unwrap(), data(4099, 1));
    assert_eq!(std::fs::read(to.join("preseed.cfg")).unwrap(), b"");
    assert!(to.join("conf/conf.d").is_dir());
}

#[test]
fn the_padding_puts_the_appended_archive_on_a_4_byte_boundary() {
    for len in [0u64, 1, 2, 3, 4, 8, 9, 11, 1 << 33] {
        assert_eq!((len + padding_after(len) as u64) % 4, 0);
        assert!(padding_after(len) < 4);
    }
}
