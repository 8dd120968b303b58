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
}

/// The families an ISO belongs to, by the names in its root folder (as
/// `Volume::root_names` gives them; any case) and a few files. A Debian
/// live ISO that carries the installer is both.
pub fn families(root_names: &[String], iso: &mut impl IsoFiles, initrds: &[String]) -> Vec<Family> {
    let has = |n: &str| root_names.iter().any(|r| r.eq_ignore_ascii_case(n));
    let mut out = Vec::new();
    for (folder, family) in [("live", Family::LiveBoot), ("casper", Family::Casper), ("LiveOS", Family::Dracut)] {
        if has(folder) {
            out.push(family);
        }
    }
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
/// it holding the overlay (None: the filesystem itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend<'a> {
    pub label: &'a str,
    pub file: Option<&'a str>,
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
                let line = match b.file {
                    Some(f) => format!("rd.live.overlay=LABEL={label}:/{}\n", f.trim_start_matches('/')),
                    None => format!("rd.live.overlay=LABEL={label}\n"),
                };
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
