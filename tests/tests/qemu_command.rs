//! `dropboot qemu IMAGE` boots a stick image in QEMU with the menu on the
//! terminal (COM1), so a user can try a stick before writing it.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::media::{dropboot_bin, wait_for_output};
use tests::stick::Case;

#[test]
fn dropboot_qemu_shows_the_menu_on_the_terminal() {
    let case = Case::new("qemu_command");
    let iso = case.random_file("try-me.iso", 10_000, 61);
    let stick = case.stick().file(&iso).build();
    let image = &stick.path;
    let mut child = Command::new(dropboot_bin())
        .args([OsStr::new("qemu"), image.as_os_str(), "--memory".as_ref(), "256".as_ref()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dropboot qemu");
    let stdout = child.stdout.take().expect("stdout");
    let seen = wait_for_output(stdout, "1 boot file on exFAT", Duration::from_secs(60)).unwrap_or_else(|seen| seen);
    // QEMU holds the stick's writer lock while it runs (stage2 may write).
    let busy = stick.output("add", &[iso.to_str().expect("a UTF-8 path"), "--to", "/x"]);
    let said = String::from_utf8_lossy(&busy.stderr);
    assert!(busy.status.code() == Some(3) && said.contains("qemu-system-x86_64"), "an add while QEMU runs: {said}");
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
    let text = tests::strip_ansi(&seen);
    assert!(text.contains("1 boot file on exFAT") && text.contains("/try-me.iso"), "the terminal showed:\n{text}\nstderr:\n{stderr}");

    let out = tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("qemu"), iso.as_os_str()]));
    assert_eq!(out.status.code(), Some(3), "a file that is not a dropboot disk is refused");
}
