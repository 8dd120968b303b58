//! What the volume tests (exfat.rs, ntfs.rs) share: running the tools that
//! make and fill volumes, file contents, and reading a file back through
//! its extent map.

use std::process::Command;
use std::sync::Mutex;

/// One mount at a time: loop devices and FUSE mounts are machine-wide.
pub static MOUNTS: Mutex<()> = Mutex::new(());

/// Runs a tool to success; its standard output.
pub fn tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `make deps`)"));
    assert!(out.status.success(), "{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `len` bytes of a pattern that differs with `seed` and along the file.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 11) as u8).collect()
}

/// A file's bytes read back through its extent map.
pub fn read_back(volume: &[u8], map: &bootfs::ExtentMap, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for e in map.extents() {
        out.extend_from_slice(&volume[e.disk_lba as usize * 512..][..e.count as usize * 512]);
    }
    out.truncate(size as usize);
    out
}
