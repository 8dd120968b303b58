//! What is added to an ISO's initrds as it boots, decided from the ISO's
//! contents in one place (issue 23; DESIGN D9 has the measurements).
//!
//! The live family is known by its root folders; each reads settings from
//! a file in its early userspace, which an archive appended to the initrd
//! (bootfs::cpio) adds or replaces:
//! - live-boot (`/live`) and casper (`/casper`) run under initramfs-tools,
//!   whose /init sources `conf/conf.d/*` before their boot scripts:
//!   `PERSISTENCE=true` (live-boot; measured) and `PERSISTENT=Yes`
//!   (casper, which sets it only from the command line; source reading,
//!   untested: no Ubuntu medium here). Neither file replaces one of the
//!   initrd's own (casper's `etc/casper.conf` holds its user and host
//!   names, so it is left alone).
//! - dracut (`/LiveOS`) reads `etc/cmdline.d/*.conf` as command-line
//!   arguments: `rd.live.overlay=LABEL=...:/file` (measured).
//! - the Debian installer (`/install.amd` and kin, `.disk/info` beside
//!   them, or a netboot `linux` beside its `initrd.gz`) loads
//!   `/preseed.cfg` from its initrd (measured).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cpio::Member;
use crate::initrds::IsoFiles;

/// A kind of system that reads files added to its initrd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Debian live, Kali, Tails, Clonezilla...
    LiveBoot,
    /// Ubuntu and its kin.
    Casper,
    /// Fedora and dracut's kin (dmsquash-live).
    Dracut,
    /// The Debian installer (d-i).
    DebianInstaller,
}

impl Family {
    /// The label the persistence backend's filesystem must carry, for the
    /// families that find it by a fixed label (live-boot's default,
    /// casper's); dracut is told the label.
    pub fn backend_label(self) -> Option<&'static str> {
        match self {
            Family::LiveBoot => Some("persistence"),
            Family::Casper => Some("casper-rw"),
            Family::Dracut | Family::DebianInstaller => None,
        }
    }

    /// Its name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Family::LiveBoot => "live-boot",
            Family::Casper => "casper",
            Family::Dracut => "dracut",
            Family::DebianInstaller => "the Debian installer",
        }
    }
}

/// The live families by their root folders, in the order they are
/// listed: the first an ISO has is the one its backend is judged for.
const LIVE_FOLDERS: [(&str, Family); 3] = [("live", Family::LiveBoot), ("casper", Family::Casper), ("LiveOS", Family::Dracut)];

/// The live family whose backend an ISO with these root folders gets
/// ([`backend_for`] judges by the first of [`families`] that persists),
/// for the builder, which makes and checks backends without the loader's
/// look at the initrds.
pub fn persistence_family(root_names: &[String]) -> Option<Family> {
    LIVE_FOLDERS.iter().find(|(folder, _)| root_names.iter().any(|r| r.eq_ignore_ascii_case(folder))).map(|(_, family)| *family)
}

/// The families an ISO belongs to, by the names in its root folder (as
/// `Volume::root_names` gives them; any case) and a few files. A Debian
/// live ISO that carries the installer is both.
pub fn families(root_names: &[String], iso: &mut impl IsoFiles, initrds: &[String]) -> Vec<Family> {
    let has = |n: &str| root_names.iter().any(|r| r.eq_ignore_ascii_case(n));
    let mut out: Vec<Family> = LIVE_FOLDERS.iter().filter(|(folder, _)| has(folder)).map(|(_, family)| *family).collect();
    let installer_folder = ["install.amd", "install.386", "install.a64", "install"].iter().any(|f| has(f));
    let netboot = initrds.iter().any(|i| i.ends_with("/initrd.gz") && iso.exists(&format!("{}/linux", &i[..i.len() - 10])));
    if installer_folder || netboot {
        out.push(Family::DebianInstaller);
    }
    out
}

/// What the person asked for this ISO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    /// Persistence, with its backend (used by dracut; live-boot and casper
    /// find theirs by [`Family::backend_label`]).
    pub persistence: Option<Backend<'a>>,
    /// An unattended-install template (a Debian preseed file).
    pub template: Option<&'a [u8]>,
}

/// Where persistent changes go: a filesystem by its label, and a file in
/// it holding the overlay (None: the filesystem itself), or with
/// `overlayfs` the upper folder of an overlayfs (dracut's
/// `rd.live.overlay.overlayfs`, its work folder `../ovlwork` beside it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend<'a> {
    pub label: &'a str,
    pub file: Option<&'a str>,
    pub overlayfs: bool,
}

/// The upper folder of a dracut backend, as Ventoy's `vtoycow` images
/// and `dropboot persistence add` lay it out.
pub const DRACUT_OVERLAY: &str = "/vtoyoverlayfs/overlayfs";

/// Why a backend is not used for an ISO (it then boots without persistence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoBackend {
    /// The ISO's system is none that persists through added files.
    NoLiveSystem,
    /// The backend holds no ext2/3/4 filesystem.
    NotExt,
    /// Its filesystem has no label, and the live system (dracut) is told
    /// its backend by label.
    Unlabelled,
    /// Its filesystem's label is not the one the live system looks for.
    WrongLabel { label: String, wanted: &'static str },
    /// The backend file is not on the stick.
    Missing { path: String },
    /// The backend is in pieces; a partition entry is one run.
    InPieces { path: String, pieces: usize },
    /// No free slot in the stick's table for its entry.
    NoFreeSlot,
    /// It lies past what a partition entry addresses (2 TiB).
    BeyondTable,
}

impl NoBackend {
    /// Why the backend at `path` gets no partition entry, from why a file
    /// gets none (bootfs::iso_partition::place).
    pub fn from_no_entry(why: crate::iso_partition::NoEntry, path: &str) -> NoBackend {
        use crate::iso_partition::NoEntry;
        match why {
            NoEntry::Fragmented { pieces } => NoBackend::InPieces { path: path.into(), pieces },
            NoEntry::BeyondTable => NoBackend::BeyondTable,
            _ => NoBackend::NoFreeSlot,
        }
    }
}

impl core::fmt::Display for NoBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NoBackend::NoLiveSystem => write!(f, "its system is not live-boot, casper or dracut, which dropboot can tell to persist"),
            NoBackend::NotExt => write!(f, "the backend holds no ext4 filesystem (make one with: dropboot persistence add)"),
            NoBackend::Unlabelled => {
                write!(f, "the backend's filesystem has no label, and its live system finds it by label (on Linux: e2label FILE vtoycow)")
            }
            NoBackend::Missing { path } => write!(f, "its backend {path} is not on the stick"),
            NoBackend::InPieces { path, pieces } => {
                write!(f, "its backend is in {pieces} pieces, and its system finds it only in one; on a computer, run: dropboot defrag STICK {path}")
            }
            NoBackend::NoFreeSlot => write!(f, "the stick's partition table has no free slot for its backend"),
            NoBackend::BeyondTable => write!(f, "its backend lies past 2 TiB, beyond what a partition entry can address"),
            NoBackend::WrongLabel { label, wanted } => {
                write!(
                    f,
                    "the backend's filesystem is labelled \"{label}\", and its live system looks for \"{wanted}\" (on Linux: e2label FILE {wanted})"
                )
            }
        }
    }
}

/// The backend for an ISO of `families` whose ext filesystem is labelled
/// `label` (None: no ext filesystem): live-boot and casper find theirs by
/// their own label; dracut is told this one, with Ventoy's overlay folder.
pub fn backend_for<'a>(families: &[Family], label: Option<&'a str>) -> Result<Backend<'a>, NoBackend> {
    let family = families.iter().find(|f| **f != Family::DebianInstaller).ok_or(NoBackend::NoLiveSystem)?;
    let label = label.ok_or(NoBackend::NotExt)?;
    match family.backend_label() {
        Some(wanted) if wanted != label => Err(NoBackend::WrongLabel { label: label.into(), wanted }),
        Some(_) => Ok(Backend { label, file: None, overlayfs: false }),
        None if label.is_empty() => Err(NoBackend::Unlabelled),
        None => Ok(Backend { label, file: Some(DRACUT_OVERLAY), overlayfs: true }),
    }
}

/// Byte offsets in an ext2/3/4 superblock (at byte 1024): its magic and
/// its volume name.
const EXT_SUPERBLOCK: u64 = 1024;
const EXT_MAGIC_AT: usize = 56;
const EXT_LABEL_AT: usize = 120;

/// The label of the ext2/3/4 filesystem at the start of `src` (a backend
/// file); None when it holds none. An empty label is "".
pub fn ext_label(src: &mut (impl crate::file::ByteSource + ?Sized)) -> Option<String> {
    let mut sb = [0u8; 136];
    src.read_at(EXT_SUPERBLOCK, &mut sb).ok()?;
    if sb[EXT_MAGIC_AT..EXT_MAGIC_AT + 2] != [0x53, 0xEF] {
        return None;
    }
    let name = &sb[EXT_LABEL_AT..EXT_LABEL_AT + 16];
    let end = name.iter().position(|&b| b == 0).unwrap_or(16);
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// The settings file initramfs-tools sources, added for live-boot and casper.
pub const INITRAMFS_TOOLS_CONF: &str = "conf/conf.d/zz-dropboot";
/// dracut's command-line file.
pub const DRACUT_CMDLINE: &str = "etc/cmdline.d/zz-dropboot.conf";
/// Where d-i looks for a preseed file in its initrd.
pub const PRESEED: &str = "preseed.cfg";

/// The files to add for `request` to an ISO of `families`; empty when
/// nothing applies.
pub fn additions(families: &[Family], request: &Request) -> Vec<Member> {
    let mut out = Vec::new();
    for family in families {
        match (family, request.persistence, request.template) {
            (Family::LiveBoot, Some(_), _) => out.push(Member::file(INITRAMFS_TOOLS_CONF, b"export PERSISTENCE=true\n")),
            (Family::Casper, Some(_), _) => out.push(Member::file(INITRAMFS_TOOLS_CONF, b"export PERSISTENT=Yes\n")),
            (Family::Dracut, Some(b), _) => {
                // dracut's LABEL= spells a space as \x20 (udev's by-label names).
                let label = b.label.replace(' ', "\\x20");
                let mut line = match b.file {
                    Some(f) => format!("rd.live.overlay=LABEL={label}:/{}\n", f.trim_start_matches('/')),
                    None => format!("rd.live.overlay=LABEL={label}\n"),
                };
                if b.overlayfs {
                    line.push_str("rd.live.overlay.overlayfs=1\n");
                }
                out.push(Member::file(DRACUT_CMDLINE, line.as_bytes()));
            }
            (Family::DebianInstaller, _, Some(t)) => out.push(Member::file(PRESEED, t)),
            _ => {}
        }
    }
    // live-boot and casper on one ISO share initramfs-tools' file: one
    // file with both lines.
    let mut merged: Vec<Member> = Vec::new();
    for m in out {
        match merged.iter_mut().find(|o| o.path == m.path) {
            Some(o) => o.data.extend_from_slice(&m.data),
            None => merged.push(m),
        }
    }
    merged
}
