//! A test's case and its stick, each said once.
//!
//! [`Case::new`] names a test's case: its QEMU runs carry the name, and its
//! files go in a fresh folder, `target/qemu-tests/<name>`. [`Case::stick`]
//! describes the stick the story needs (its size, its filesystem and who
//! made it, the files and the folders they go in, a configuration, a file
//! in pieces) and [`StickBuilder::build`] makes it as a user would:
//! `dropboot create` with the files for the root, `dropboot add --to` for
//! the others, or mkfs.exfat or mkntfs over dropboot's volume and a copy
//! through their FUSE drivers. [`Case::boot`] boots the stick in QEMU; how
//! the stick is attached (IDE, a USB controller, read-only) is one of the
//! [`BootOptions`].
//!
//! ```no_run
//! use tests::stick::{Case, Fs};
//! let case = Case::new("my_story");
//! let iso = case.random_file("a.iso", 4096, 1);
//! let stick = case.stick().size("128M").fs(Fs::Fat32).file_in(&iso, "/tools").build();
//! let mut vm = case.boot(&stick);
//! vm.wait_screen("1 boot file");
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::media::{self, dropboot, dropboot_bin};
use crate::{work_dir, BootOptions, Qemu};

/// One test's case: its name, written once, and its work folder.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
}

impl Case {
    /// The case `name`, with a fresh folder `target/qemu-tests/<name>`.
    pub fn new(name: &str) -> Case {
        Case { name: name.into(), dir: work_dir(name) }
    }

    /// A later step of this case (a second boot, say): named
    /// `<name>_<what>`, in the same folder, which is kept as it is.
    pub fn step(&self, what: &str) -> Case {
        Case { name: format!("{}_{what}", self.name), dir: self.dir.clone() }
    }

    /// `name` in the case's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A file `name` in the case's folder of `len` pseudo-random bytes
    /// from `seed` (the same on every run).
    pub fn random_file(&self, name: &str, len: usize, seed: u64) -> PathBuf {
        media::random_file(&self.file(name), len, seed)
    }

    /// A stick to describe, `stick.img` in the case's folder.
    pub fn stick<'a>(&self) -> StickBuilder<'a> {
        Stick::at(self.file("stick.img"))
    }

    /// Boots `disk` (a [`Stick`] or any disk image) as the first hard disk.
    pub fn boot(&self, disk: impl AsRef<Path>) -> Qemu {
        self.boot_with(disk, &BootOptions::default())
    }

    /// [`Case::boot`] with other drives, memory, the stick on USB, ...
    pub fn boot_with(&self, disk: impl AsRef<Path>, opts: &BootOptions) -> Qemu {
        Qemu::boot_with(&self.name, &self.dir, disk.as_ref(), opts)
    }
}

/// The data partition's filesystem, and who made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    /// exFAT, as `dropboot create` makes it by default.
    Exfat,
    /// FAT32, made by `dropboot create --fs fat32`.
    Fat32,
    /// NTFS, made by `dropboot create --fs ntfs`; its files copied in by
    /// ntfs-3g, as dropboot reads NTFS but does not write it.
    Ntfs,
    /// exFAT made again by mkfs.exfat (labelled "OTHERTOOLS") over
    /// dropboot's, the partition type left as it was; its files copied in
    /// by exfat-fuse. Needs root, as CI has.
    ExfatByMkfs,
    /// NTFS made by mkntfs (labelled "WINSTICK"), as a Windows user
    /// reformats a stick; its files copied in by ntfs-3g. Needs root.
    NtfsByMkntfs,
}

impl Fs {
    /// Its name as `dropboot create --fs` and [`media::fsck_passes`] take it.
    pub fn name(self) -> &'static str {
        match self {
            Fs::Exfat | Fs::ExfatByMkfs => "exfat",
            Fs::Fat32 => "fat32",
            Fs::Ntfs | Fs::NtfsByMkntfs => "ntfs",
        }
    }
}

impl fmt::Display for Fs {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stick image made by [`StickBuilder::build`].
#[derive(Clone, Debug)]
pub struct Stick {
    pub path: PathBuf,
    pub fs: Fs,
}

impl AsRef<Path> for Stick {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Stick {
    /// A stick to describe, its image at `path` (a configuration is
    /// written beside it before it is copied on).
    pub fn at<'a>(path: impl Into<PathBuf>) -> StickBuilder<'a> {
        StickBuilder { path: path.into(), size: "64M".into(), fs: Fs::Exfat, files: Vec::new(), pieces: Vec::new(), many: None, fill: None }
    }

    /// `dropboot COMMAND IMAGE ARGS...` run to success; its output.
    pub fn run(&self, command: &str, args: &[&str]) -> String {
        media::run(&mut self.command(command, args))
    }

    /// `dropboot COMMAND IMAGE ARGS...` run to its end, whatever it
    /// returns (a refusal, say).
    pub fn output(&self, command: &str, args: &[&str]) -> Output {
        media::output(&mut self.command(command, args))
    }

    fn command(&self, command: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(dropboot_bin());
        cmd.arg(command).arg(&self.path).args(args);
        cmd
    }

    /// `dropboot add IMAGE SOURCE --to FOLDER`.
    pub fn add(&self, source: &Path, folder: &str) {
        dropboot([OsStr::new("add"), self.path.as_os_str(), source.as_os_str(), "--to".as_ref(), folder.as_ref()]);
    }

    /// fsck (fsck.exfat, fsck.vfat or ntfsfix, changing nothing) calls its
    /// data partition clean.
    pub fn fsck_passes(&self) {
        media::fsck_passes(&self.path, self.fs.name());
    }
}

/// What a stick holds, said before it is made; [`StickBuilder::build`]
/// makes it.
pub struct StickBuilder<'a> {
    path: PathBuf,
    size: String,
    fs: Fs,
    /// Each file with the folder it goes in (None: the root, on
    /// `create`'s command line where dropboot makes the filesystem).
    files: Vec<(PathBuf, Option<String>)>,
    /// Files copied to the root in pieces, with the holes they fill.
    pieces: Vec<(PathBuf, usize)>,
    /// Folders of small boot files: (folders, files in each).
    many: Option<(usize, usize)>,
    fill: Option<Box<dyn FnOnce(&Path) + 'a>>,
}

impl<'a> StickBuilder<'a> {
    /// Its size, as `dropboot create --size` takes it (64M unless said).
    pub fn size(mut self, size: &str) -> Self {
        self.size = size.into();
        self
    }

    /// Its filesystem and who makes it (exFAT by `dropboot create` unless said).
    pub fn fs(mut self, fs: Fs) -> Self {
        self.fs = fs;
        self
    }

    /// `source` at the root, on `create`'s command line when dropboot
    /// makes the filesystem.
    pub fn file(mut self, source: impl AsRef<Path>) -> Self {
        self.files.push((source.as_ref().into(), None));
        self
    }

    /// Each of `sources` at the root, in order.
    pub fn files<P: AsRef<Path>>(self, sources: impl IntoIterator<Item = P>) -> Self {
        sources.into_iter().fold(self, |b, s| b.file(s))
    }

    /// `source` in `folder` (made when missing), each by its own
    /// `dropboot add --to FOLDER` after `create`, in order.
    pub fn file_in(mut self, source: impl AsRef<Path>, folder: &str) -> Self {
        self.files.push((source.as_ref().into(), Some(folder.into())));
        self
    }

    /// `text` as /ventoy/ventoy.json, copied after the files.
    pub fn ventoy_json(self, text: &str) -> Self {
        self.config("ventoy.json", "/ventoy", text)
    }

    /// `text` as /dropboot/dropboot.json, copied after the files.
    pub fn dropboot_json(self, text: &str) -> Self {
        self.config("dropboot.json", "/dropboot", text)
    }

    fn config(self, name: &str, folder: &str, text: &str) -> Self {
        let source = self.path.with_file_name(name);
        fs::write(&source, text).unwrap_or_else(|e| panic!("writing {}: {e}", source.display()));
        self.file_in(source, folder)
    }

    /// `source` copied to the root last, in pieces: it fills `holes` holes
    /// left between small files (mtools on FAT32, exfat-fuse on exFAT,
    /// which needs root) before it runs on.
    pub fn fragmented(mut self, source: impl AsRef<Path>, holes: usize) -> Self {
        self.pieces.push((source.as_ref().into(), holes));
        self
    }

    /// `folders` folders of `per_folder` small boot files each
    /// (`/folder007/file03.iso`): by one `dropboot add` a folder, or
    /// written through ntfs-3g on NTFS.
    pub fn many_files(mut self, folders: usize, per_folder: usize) -> Self {
        self.many = Some((folders, per_folder));
        self
    }

    /// `fill` writes onto the mounted volume too, after the files (where
    /// another tool made the filesystem, or on NTFS).
    pub fn filled_by(mut self, fill: impl FnOnce(&Path) + 'a) -> Self {
        self.fill = Some(Box::new(fill));
        self
    }

    /// Makes the stick: a new image (any old one removed first), its
    /// filesystem, its files.
    pub fn build(mut self) -> Stick {
        let _ = fs::remove_file(&self.path);
        let pieces = std::mem::take(&mut self.pieces);
        let mut create = vec![OsStr::new("create"), self.path.as_os_str(), "--size".as_ref(), self.size.as_ref()];
        match self.fs {
            Fs::Exfat | Fs::ExfatByMkfs | Fs::NtfsByMkntfs => {}
            Fs::Fat32 | Fs::Ntfs => create.extend([OsStr::new("--fs"), self.fs.name().as_ref()]),
        }
        let by_dropboot = matches!(self.fs, Fs::Exfat | Fs::Fat32);
        if by_dropboot {
            create.extend(self.files.iter().filter(|(_, folder)| folder.is_none()).map(|(source, _)| source.as_os_str()));
        }
        dropboot(&create);
        let stick = Stick { path: self.path.clone(), fs: self.fs };
        if by_dropboot {
            assert!(self.fill.is_none(), "filled_by is for a filesystem another tool writes");
            for (source, folder) in &self.files {
                if let Some(folder) = folder {
                    stick.add(source, folder);
                }
            }
            if let Some((folders, per_folder)) = self.many {
                add_many_files(&stick, folders, per_folder);
            }
        } else if self.fs != Fs::Ntfs || !self.files.is_empty() || self.many.is_some() || self.fill.is_some() {
            self.copy_through_fuse();
        }
        for (source, holes) in &pieces {
            match stick.fs {
                Fs::Fat32 => {
                    media::copy_fragmented(&stick.path, source, *holes);
                }
                Fs::Exfat | Fs::ExfatByMkfs => media::copy_fragmented_exfat(&stick.path, source, *holes),
                Fs::Ntfs | Fs::NtfsByMkntfs => panic!("files in pieces are made on FAT32 or exFAT"),
            }
        }
        stick
    }

    /// Where another tool makes or writes the filesystem: its files, the
    /// many files and `fill`, through the tool's FUSE driver.
    fn copy_through_fuse(self) {
        let files: Vec<(&Path, &str)> = self.files.iter().map(|(s, f)| (s.as_path(), f.as_deref().unwrap_or("/"))).collect();
        let many = self.many;
        let fill = |mnt: &Path| {
            media::copy_into(mnt, &files);
            if let Some((folders, per_folder)) = many {
                write_many_files(mnt, folders, per_folder);
            }
            if let Some(fill) = self.fill {
                fill(mnt);
            }
        };
        match self.fs {
            Fs::Ntfs => media::fill_ntfs(&self.path, fill),
            Fs::NtfsByMkntfs => media::reformat_ntfs(&self.path, fill),
            Fs::ExfatByMkfs => media::reformat_exfat(&self.path, fill),
            Fs::Exfat | Fs::Fat32 => unreachable!("dropboot writes these"),
        }
    }
}

/// The small boot file of [`StickBuilder::many_files`].
fn small_boot_file() -> Vec<u8> {
    media::pseudo_random(4096, 11)
}

/// [`StickBuilder::many_files`] by `dropboot add`, one folder at a time.
fn add_many_files(stick: &Stick, folders: usize, per_folder: usize) {
    let staging = stick.path.with_extension("many-files");
    let content = small_boot_file();
    for f in 0..folders {
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).expect("staging folder");
        let names: Vec<PathBuf> = (0..per_folder)
            .map(|i| {
                let path = staging.join(format!("file{i:02}.iso"));
                fs::write(&path, &content).expect("a small boot file");
                path
            })
            .collect();
        media::run(Command::new(dropboot_bin()).arg("add").arg(&stick.path).args(&names).args(["--to", &format!("/folder{f:03}")]));
    }
    let _ = fs::remove_dir_all(&staging);
}

/// [`StickBuilder::many_files`] written onto a mounted volume.
fn write_many_files(mnt: &Path, folders: usize, per_folder: usize) {
    let content = small_boot_file();
    for f in 0..folders {
        let folder = mnt.join(format!("folder{f:03}"));
        fs::create_dir_all(&folder).expect("a folder on the stick");
        for i in 0..per_folder {
            fs::write(folder.join(format!("file{i:02}.iso")), &content).expect("a small boot file");
        }
    }
}
