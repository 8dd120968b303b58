//! What the volume tests (exfat.rs, ntfs.rs) share: running the tools that
//! make and fill volumes, file contents, and reading a file back through
//! its extent map; and making ISOs with xorriso. Each test file uses a part.
#![allow(dead_code)]

use std::path::PathBuf;
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

/// A scratch folder whose root/ becomes an ISO made by xorriso.
pub struct Work(pub PathBuf);

impl Work {
    pub fn new(name: &str) -> Work {
        let dir = std::env::temp_dir().join(format!("bootfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        Work(dir)
    }

    pub fn file(&self, name: &str, len: usize) -> &Self {
        std::fs::write(self.0.join("root").join(name), vec![0x5A; len]).unwrap();
        self
    }

    /// Runs `xorriso -as mkisofs` on root/ with `args`; the image's bytes.
    pub fn iso(&self, args: &[&str]) -> Vec<u8> {
        let out = self.0.join("out.iso");
        let status = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-V", "DROPBOOT_TEST", "-o"])
            .arg(&out)
            .args(args)
            .arg(self.0.join("root"))
            .stderr(std::process::Stdio::null())
            .status()
            .expect("xorriso (run `make deps`)");
        assert!(status.success());
        std::fs::read(&out).unwrap()
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
