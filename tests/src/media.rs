//! Disk images and files for the tests: made with the `dropboot` CLI, as a
//! user would, or with other tools (mkfs.fat, mtools) as the outside view.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bootfs::layout::{seal_stage2, Stage2Header, DATA_PARTITION_LBA, STAGE2_LBA, STAGE2_MAX_SECTORS};

/// The `dropboot` binary under test: $DROPBOOT (set by the Makefile) or
/// target/release/dropboot.
pub fn dropboot_bin() -> PathBuf {
    let path = std::env::var_os("DROPBOOT").map(PathBuf::from).unwrap_or_else(|| crate::target_dir().join("release/dropboot"));
    assert!(path.exists(), "{} is missing: run `make` first (make test does)", path.display());
    path
}

/// How long a host command (mkfs, xorriso, mount, `dropboot`) may run
/// before the test kills it and fails, naming it.
pub const HOST_COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// Runs a command to its end, as `Command::output` does, but kills it and
/// fails the test if it runs past [`HOST_COMMAND_LIMIT`]: a hung command
/// fails a test with its name instead of hanging the run.
pub fn output(cmd: &mut Command) -> Output {
    output_within(cmd, HOST_COMMAND_LIMIT)
}

/// [`output`] with another limit (a live system's first build).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e} (is it installed? `make deps`)"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} ran past {}s and was killed", limit.as_secs());
            }
            Err(e) => panic!("{shown}: {e}"),
        }
    };
    Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() }
}

/// Runs a command to success and returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    run_within(cmd, HOST_COMMAND_LIMIT)
}

/// [`run`] with another limit.
pub fn run_within(cmd: &mut Command, limit: Duration) -> String {
    let shown = format!("{cmd:?}");
    let out = output_within(cmd, limit);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `dropboot` with `args` to success.
pub fn dropboot<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(Command::new(dropboot_bin()).args(args))
}

/// Deterministic pseudo-random bytes (xorshift64*), so a test's files are
/// the same on every run.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes a file of `len` pseudo-random bytes.
pub fn random_file(path: &Path, len: usize, seed: u64) -> PathBuf {
    fs::write(path, pseudo_random(len, seed)).expect("writing a test file");
    path.into()
}

/// `IMAGE@@1M`: mtools' name for the data partition of a dropboot image.
pub fn mtools_target(image: &Path) -> String {
    format!("{}@@{}", image.display(), DATA_PARTITION_LBA as u64 * 512)
}

/// An image of `bytes` (sparse) partitioned by sfdisk from `script`, with
/// a boot signature (its boot code is not run here).
pub fn partitioned_image(path: &Path, bytes: u64, script: &str) -> PathBuf {
    fs::File::create(path).and_then(|f| f.set_len(bytes)).expect("the image");
    let mut sfdisk = Command::new("sfdisk").args(["-q", "--no-reread", "--no-tell-kernel"]).arg(path).stdin(Stdio::piped()).spawn().expect("sfdisk");
    sfdisk.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("the script");
    assert!(sfdisk.wait().expect("sfdisk").success(), "sfdisk failed on {script}");
    patch(path, 510, &[0x55, 0xAA]);
    path.to_path_buf()
}

/// Overwrites bytes of an image at `offset`.
pub fn patch(image: &Path, offset: u64, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().write(true).open(image).expect("opening the image to patch it");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(bytes).expect("patching the image");
}

/// Reads `len` bytes of an image at `offset`.
pub fn read_at(image: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut f = fs::File::open(image).expect("opening the image");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut out = vec![0u8; len];
    f.read_exact(&mut out).expect("reading the image");
    out
}

/// Clears the FAT32 FSInfo "next free cluster" hint of the volume at
/// `volume_offset`, so the next file written fills the first free hole
/// (how the tests make fragmented files with mtools).
pub fn forget_next_free_hint(image: &Path, volume_offset: u64) {
    let bs = read_at(image, volume_offset, 512);
    let fsinfo = u16::from_le_bytes([bs[48], bs[49]]) as u64;
    patch(image, volume_offset + fsinfo * 512 + 492, &u32::MAX.to_le_bytes());
}

/// A third-party boot medium from Debian's packages (grub-rescue-cdrom.iso,
/// ipxe.iso, ...), fetched and cached in tests/media/ by tools/fetch-media.
pub fn third_party(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("tests/media").join(name);
    if !path.exists() {
        static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
        if !path.exists() {
            run(&mut Command::new(root.join("tools/fetch-media")));
        }
    }
    assert!(path.exists(), "{} is missing after tools/fetch-media", path.display());
    path
}

/// A real Linux live CD (debian-live.iso, debian-live-grub.iso,
/// dracut-live.iso) that tools/make-live-media builds from Debian's
/// packages and caches outside the clone, keyed on its recipe. Its root
/// prints `dropboot-live-root: NAME reached its root` on COM1 and powers
/// off.
pub fn live_medium(name: &str) -> PathBuf {
    static FOLDER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    built_medium("make-live-media", &FOLDER, name)
}

/// The file `name` in the folder that `tools/SCRIPT` prints (kept in
/// `folder` after the first call): the script builds its media once,
/// caches them outside the clone and then answers at once.
pub fn built_medium(script: &str, folder: &std::sync::OnceLock<PathBuf>, name: &str) -> PathBuf {
    let folder = folder.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools").join(script);
        // A fresh build takes minutes; a cached one returns at once.
        let out = run_within(&mut Command::new(path), Duration::from_secs(1800));
        PathBuf::from(out.lines().last().unwrap_or_default().trim())
    });
    let path = folder.join(name);
    assert!(path.exists(), "{} is missing after tools/{script}", path.display());
    path
}

/// Copies `file` onto the data partition of `image` (at /NAME) in pieces:
/// 2 x `holes` small files are written, every other one deleted, and the
/// file fills the holes before running on. Returns mshowfat's count of its
/// cluster runs.
pub fn copy_fragmented(image: &Path, file: &Path, holes: usize) -> usize {
    let target = mtools_target(image);
    let mt = |args: &[String]| run(Command::new(&args[0]).env("MTOOLS_SKIP_CHECK", "1").args(["-i", &target]).args(&args[1..]));
    let fill = image.with_extension("fill");
    let _ = fs::remove_dir_all(&fill);
    fs::create_dir_all(&fill).expect("filler folder");
    let names: Vec<String> = (0..2 * holes).map(|i| format!("f{i:04}")).collect();
    for n in &names {
        fs::write(fill.join(n), vec![0xF0u8; 3 * 1024]).expect("filler file");
    }
    let s = |x: &str| x.to_string();
    mt(&[s("mmd"), s("::/fill")]);
    let mut copy = vec![s("mcopy")];
    copy.extend(names.iter().map(|n| fill.join(n).display().to_string()));
    copy.push(s("::/fill/"));
    mt(&copy);
    let mut del = vec![s("mdel")];
    del.extend(names.iter().step_by(2).map(|n| format!("::/fill/{n}")));
    mt(&del);
    forget_next_free_hint(image, DATA_PARTITION_LBA as u64 * 512);
    let name = file.file_name().and_then(|n| n.to_str()).expect("a file name");
    mt(&[s("mcopy"), file.display().to_string(), format!("::/{name}")]);
    mt(&[s("mshowfat"), format!("::/{name}")]).matches('<').count()
}

/// Reformats the data partition of a dropboot image with mkfs.exfat and
/// lets `fill` write to it through exfat-fuse on a loop device (needs
/// root, as CI has). The partition type byte stays what it was: stage2
/// must find exFAT by its boot sector.
pub fn reformat_exfat(image: &Path, fill: impl FnOnce(&Path)) {
    reformat(image, Some(&["mkfs.exfat", "-L", "OTHERTOOLS"]), &["mount.exfat-fuse"], fill);
}

/// Reformats the data partition of a dropboot image NTFS with mkntfs, as
/// Windows users do, and lets `fill` write to it through ntfs-3g (with
/// compression allowed) on a loop device; its type byte becomes 07h.
pub fn reformat_ntfs(image: &Path, fill: impl FnOnce(&Path)) {
    reformat_ntfs_clusters(image, 4096, fill);
}

/// [`reformat_ntfs`] with clusters of `cluster_bytes` (mkntfs -c).
pub fn reformat_ntfs_clusters(image: &Path, cluster_bytes: u32, fill: impl FnOnce(&Path)) {
    let cluster = cluster_bytes.to_string();
    let mkntfs = ["mkntfs", "-F", "-Q", "-q", "-L", "WINSTICK", "-c", &cluster];
    reformat(image, Some(&mkntfs), &["ntfs-3g", "-o", NTFS_3G_OPTIONS], fill);
    patch(image, 446 + 4, &[bootfs::mbr::ptype::NTFS]);
}

/// Lets `fill` write to the NTFS data partition of `image` through ntfs-3g
/// (as a user copies files onto a stick `dropboot create --fs ntfs` made).
pub fn fill_ntfs(image: &Path, fill: impl FnOnce(&Path)) {
    reformat(image, None, &["ntfs-3g", "-o", "big_writes"], fill);
}

/// How the tests mount NTFS with ntfs-3g: compressed files allowed (the
/// loader must refuse them in words), and writes passed on whole
/// (`big_writes`) rather than 4 KiB at a time: a 4.5 GiB file is written
/// in 26 s rather than 183 s here. ntfs-3g still puts a file into the
/// free clusters between others (ntfs_boot.rs's ISO in over 1,000 runs).
const NTFS_3G_OPTIONS: &str = "compression,big_writes";

/// Copies each (source, folder) into the mounted volume at `mnt`.
pub fn copy_into(mnt: &Path, files: &[(&Path, &str)]) {
    for (source, folder) in files {
        let to = mnt.join(folder.trim_start_matches('/'));
        fs::create_dir_all(&to).expect("folder on the stick");
        fs::copy(source, to.join(source.file_name().expect("a file name"))).expect("copying onto the stick");
    }
}

/// Makes a new filesystem on the data partition of `image` with `mkfs`
/// (the loop device appended) when given, mounts it with `mount` (device
/// and mount point appended), runs `fill` on the mount point, and unmounts.
fn reformat(image: &Path, mkfs: Option<&[&str]>, mount: &[&str], fill: impl FnOnce(&Path)) {
    static MOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let size = fs::metadata(image).expect("the image").len();
    let offset = DATA_PARTITION_LBA as u64 * 512;
    let dev = run(Command::new("losetup").args(["-f", "--show", "-o", &offset.to_string(), "--sizelimit", &(size - offset).to_string()]).arg(image))
        .trim()
        .to_string();
    let mnt = image.with_extension("mnt");
    fs::create_dir_all(&mnt).expect("mount point");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(mkfs) = mkfs {
            run(Command::new(mkfs[0]).args(&mkfs[1..]).arg(&dev));
        }
        run(Command::new(mount[0]).args(&mount[1..]).arg(&dev).arg(&mnt));
        fill(&mnt);
    }));
    let _ = output(Command::new("umount").arg(&mnt));
    let _ = output(Command::new("losetup").args(["-d", &dev]));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// The data partition of the stick image `image`, as bootfs reads it on
/// the host.
pub fn data_partition(image: &Path) -> bootfs::block::Window<bootfs::block::FileDevice<fs::File>> {
    let sectors = fs::metadata(image).expect("the image").len() / 512 - DATA_PARTITION_LBA as u64;
    let file = fs::File::open(image).expect("the image");
    bootfs::block::Window { dev: bootfs::block::FileDevice(file), start: DATA_PARTITION_LBA as u64, sectors }
}

/// How many pieces `path` (any file) is in on the stick `image`, as the loader sees it.
pub fn extents_of(image: &Path, path: &str) -> usize {
    let mut volume = bootfs::filesystem::Filesystem::open(data_partition(image)).expect("the data partition");
    let f = bootfs::scan::find_file(&mut volume, path).expect("reading the stick").unwrap_or_else(|| panic!("{path} is not on the stick"));
    volume.extent_map(&f).expect("its extent map").len()
}

/// Copies the file at `path` on the stick `image` to `to` on the host, as
/// the loader reads it (bootfs).
pub fn copy_out(image: &Path, path: &str, to: &Path) {
    use bootfs::file::ByteSource;
    let mut volume = bootfs::filesystem::Filesystem::open(data_partition(image)).expect("the data partition");
    let f = bootfs::scan::find_file(&mut volume, path).expect("reading the stick").unwrap_or_else(|| panic!("{path} is not on the stick"));
    let map = volume.extent_map(&f).expect("its extent map");
    let mut source = bootfs::file::MappedFile { dev: volume.device(), map, size: f.size };
    let mut bytes = vec![0u8; f.size as usize];
    source.read_at(0, &mut bytes).expect("reading the file");
    fs::write(to, bytes).expect("writing the copy");
}

/// Copies `file` to the root of an exFAT stick through exfat-fuse after
/// filling it with 2 x `holes` 4 KiB files and deleting every other one:
/// exfat-fuse then puts the file in the holes, on a FAT chain.
pub fn copy_fragmented_exfat(image: &Path, file: &Path, holes: usize) {
    static MOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let offset = DATA_PARTITION_LBA as u64 * 512;
    let dev = run(Command::new("losetup").args(["-f", "--show", "-o", &offset.to_string()]).arg(image)).trim().to_string();
    let mnt = image.with_extension("mnt");
    fs::create_dir_all(&mnt).expect("mount point");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(Command::new("mount.exfat-fuse").arg(&dev).arg(&mnt));
        fs::create_dir_all(mnt.join("fill")).expect("filler folder");
        for i in 0..2 * holes {
            fs::write(mnt.join(format!("fill/f{i:04}")), [0xF0u8; 4096]).expect("filler file");
        }
        for i in (0..2 * holes).step_by(2) {
            fs::remove_file(mnt.join(format!("fill/f{i:04}"))).expect("removing a filler file");
        }
        fs::copy(file, mnt.join(file.file_name().expect("a file name"))).expect("copying onto the stick");
    }));
    let _ = output(Command::new("umount").arg(&mnt));
    let _ = output(Command::new("losetup").args(["-d", &dev]));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// fsck (fsck.exfat or fsck.vfat, read-only) on the data partition of
/// `image`; `fs_kind` is "exfat", "fat32" or "ntfs" (ntfsfix -n). Fails the
/// test unless clean.
pub fn fsck_passes(image: &Path, fs_kind: &str) {
    let offset = DATA_PARTITION_LBA as u64 * 512;
    if fs_kind == "exfat" {
        let dev = run(Command::new("losetup").args(["-f", "--show", "-r", "-o", &offset.to_string()]).arg(image)).trim().to_string();
        let out = output(Command::new("fsck.exfat").arg("-n").arg(&dev));
        let _ = output(Command::new("losetup").args(["-d", &dev]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("clean"), "fsck.exfat:\n{text}");
    } else if fs_kind == "ntfs" {
        // ntfsfix -n: ntfs-3g's checker, changing nothing.
        let dev = run(Command::new("losetup").args(["-f", "--show", "-r", "-o", &offset.to_string()]).arg(image)).trim().to_string();
        let out = output(Command::new("ntfsfix").arg("-n").arg(&dev));
        let _ = output(Command::new("losetup").args(["-d", &dev]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("processed successfully"), "ntfsfix -n:\n{text}");
    } else {
        let len = fs::metadata(image).expect("image").len() - offset;
        // Beside the test's other files (the image's own disk may be full).
        let scratch = crate::target_dir().join("qemu-tests/fsck_scratch");
        fs::create_dir_all(&scratch).expect("fsck's scratch folder");
        let part = scratch.join(format!("{}.partition", image.display().to_string().replace('/', "_")));
        fs::write(&part, read_at(image, offset, len as usize)).expect("partition copy");
        let out = output(Command::new("fsck.vfat").arg("-n").arg(&part));
        let _ = fs::remove_file(&part);
        assert!(out.status.success(), "fsck.vfat:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

/// Reads a child's pipe on a thread until `needle` shows (Ok, with all
/// read so far) or `limit` passes (Err, with the same). The thread reads on
/// to the pipe's end, so the child never blocks on a full pipe.
pub fn wait_for_output(mut pipe: impl Read + Send + 'static, needle: &str, limit: Duration) -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let _ = tx.send(buf[..n].to_vec());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    let start = Instant::now();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(needle) {
        match rx.recv_timeout(limit.saturating_sub(start.elapsed())) {
            Ok(bytes) => seen.extend_from_slice(&bytes),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                seen.extend_from_slice(b"\n[end of output]");
                return Err(String::from_utf8_lossy(&seen).into_owned());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Err(String::from_utf8_lossy(&seen).into_owned()),
        }
    }
    Ok(String::from_utf8_lossy(&seen).into_owned())
}

/// Starts `dropboot add IMAGE FILE --to TO` with DROPBOOT_FAULT=stall-copy
/// and returns once it has stopped half way through the data, waiting to
/// be killed. Its stderr (the progress bar writes there) is read until it
/// ends, so the builder never blocks on a full pipe.
pub fn stalled_add(image: &Path, file: &Path, to: &str) -> std::process::Child {
    let mut child = Command::new(dropboot_bin())
        .args([OsStr::new("add"), image.as_os_str(), file.as_os_str(), "--to".as_ref(), to.as_ref()])
        .env("DROPBOOT_FAULT", "stall-copy")
        .stderr(Stdio::piped())
        .spawn()
        .expect("dropboot");
    let err = child.stderr.take().expect("stderr");
    if let Err(said) = wait_for_output(err, "stall-copy: stopped after", Duration::from_secs(60)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the copy never reached half way within 60s: {said}");
    }
    child
}

/// Makes the stick's stage2 see a 386 on any later CPU: clears its
/// header's `cpu_probe_flags` (the EFLAGS bits its CPU check toggles) and
/// seals it again. QEMU and Bochs emulate no 386.
pub fn play_a_386(image: &Path) {
    let area = read_at(image, STAGE2_LBA as u64 * 512, STAGE2_MAX_SECTORS as usize * 512);
    let header = Stage2Header::parse(&area).expect("stage2's header");
    let mut stage2 = area[..header.sectors as usize * 512].to_vec();
    let at = std::mem::offset_of!(Stage2Header, cpu_probe_flags);
    stage2[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    patch(image, STAGE2_LBA as u64 * 512, &seal_stage2(&stage2).expect("sealing stage2"));
}

/// The disk sectors of `path` on the stick `image` (its runs, whole
/// clusters, as the loader maps it), as ranges of absolute sector numbers.
pub fn file_sectors(image: &Path, path: &str) -> Vec<std::ops::Range<u64>> {
    let mut volume = bootfs::filesystem::Filesystem::open(data_partition(image)).expect("the data partition");
    let report = bootfs::scan::scan(&mut volume).expect("scanning the stick");
    let f = report.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is not on the stick"));
    let map = volume.extent_map(f).expect("its extent map");
    let start = DATA_PARTITION_LBA as u64;
    map.extents().iter().map(|e| start + e.disk_lba..start + e.disk_lba + e.count).collect()
}

/// The sectors of the stick `before` and `after` a boot that differ and
/// lie outside `allowed` (a boot file's runs): none, when the loader kept
/// its writes inside the file.
pub fn changed_outside(before: &[u8], after: &[u8], allowed: &[std::ops::Range<u64>]) -> Vec<u64> {
    let sectors = before.len().min(after.len()) / 512;
    (0..sectors as u64)
        .filter(|&s| {
            let at = s as usize * 512;
            before[at..at + 512] != after[at..at + 512] && !allowed.iter().any(|r| r.contains(&s))
        })
        .collect()
}

/// A backend made by hand as Ventoy's CreatePersistentImg.sh makes one: a
/// 48 MiB `mkfs.ext4 -L LABEL`, and for live-boot's label a
/// `persistence.conf` of `/ union`. dracut's (`vtoycow`) gets the overlay
/// folders it needs (dracut uses a temporary overlay when they are
/// missing; README, Persistence), as on an NTFS stick by hand. In `dir`.
pub fn ventoy_style_backend(dir: &Path, label: &str) -> PathBuf {
    let file = dir.join(format!("{label}.dat"));
    let _ = std::fs::remove_file(&file);
    let dir = dir.join("backend-files");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    match label {
        "persistence" => std::fs::write(dir.join("persistence.conf"), "/ union\n").expect("persistence.conf"),
        _ => {
            for d in ["vtoyoverlayfs/overlayfs", "vtoyoverlayfs/ovlwork"] {
                std::fs::create_dir_all(dir.join(d)).expect("a folder");
            }
        }
    }
    run(Command::new("mkfs.ext4").args(["-q", "-F", "-L", label, "-d"]).arg(&dir).arg(&file).arg("48M"));
    file
}
