//! What is added to each live family's initrd, decided from the ISO's
//! contents (the real media: tests/tests/iso_additions.rs).

use bootfs::additions::{additions, families, Backend, Family, Request};
use bootfs::cpio::Member;
use bootfs::initrds::IsoFiles;

/// An ISO with the files at these paths, all empty.
struct Paths(&'static [&'static str]);

impl IsoFiles for Paths {
    fn read(&mut self, _: &str) -> Option<Vec<u8>> {
        None
    }

    fn exists(&mut self, path: &str) -> bool {
        self.0.contains(&path)
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

const PERSIST: Request = Request { persistence: Some(Backend { label: "DR PERSIST", file: Some("/overlay.img"), overlayfs: false }), template: None };

fn texts(members: &[Member]) -> Vec<(&str, &str)> {
    members.iter().map(|m| (m.path.as_str(), std::str::from_utf8(&m.data).unwrap())).collect()
}

#[test]
fn live_boot_gets_persistence_from_initramfs_tools_conf() {
    let f = families(&names(&["ISOLINUX", "LIVE", ".disk"]), &mut Paths(&[]), &names(&["/live/initrd.img"]));
    assert_eq!(f, [Family::LiveBoot]);
    assert_eq!(texts(&additions(&f, &PERSIST)), [("conf/conf.d/zz-dropboot", "export PERSISTENCE=true\n")]);
    assert_eq!(Family::LiveBoot.backend_label(), Some("persistence"));
    assert!(additions(&f, &Request::default()).is_empty(), "nothing asked, nothing added");
}

#[test]
fn casper_gets_persistent_yes_and_its_own_casper_conf_is_left_alone() {
    let f = families(&names(&["casper", "boot"]), &mut Paths(&[]), &names(&["/casper/initrd"]));
    assert_eq!(f, [Family::Casper]);
    assert_eq!(texts(&additions(&f, &PERSIST)), [("conf/conf.d/zz-dropboot", "export PERSISTENT=Yes\n")]);
    assert_eq!(Family::Casper.backend_label(), Some("casper-rw"));
}

#[test]
fn dracut_gets_its_overlay_on_the_command_line_file() {
    let f = families(&names(&["LiveOS", "isolinux", "boot"]), &mut Paths(&[]), &names(&["/boot/initrd.img"]));
    assert_eq!(f, [Family::Dracut]);
    assert_eq!(texts(&additions(&f, &PERSIST)), [("etc/cmdline.d/zz-dropboot.conf", "rd.live.overlay=LABEL=DR\\x20PERSIST:/overlay.img\n")]);
    let device = Request { persistence: Some(Backend { label: "DRPERSIST", file: None, overlayfs: false }), template: None };
    assert_eq!(texts(&additions(&f, &device)), [("etc/cmdline.d/zz-dropboot.conf", "rd.live.overlay=LABEL=DRPERSIST\n")]);
}

#[test]
fn the_debian_installer_gets_the_template_as_preseed_cfg() {
    let preseed = Request { persistence: None, template: Some(b"d-i debian-installer/locale string en_US\n") };
    for (root, files, initrds) in [
        (&["install.amd", ".disk", "isolinux"][..], &[][..], &["/install.amd/initrd.gz"][..]),
        (&["isolinux", "initrd.gz", "linux"], &["/linux", "/initrd.gz"], &["/initrd.gz"]),
    ] {
        let f = families(&names(root), &mut Paths(files), &names(initrds));
        assert_eq!(f, [Family::DebianInstaller], "{root:?}");
        assert_eq!(texts(&additions(&f, &preseed)), [("preseed.cfg", "d-i debian-installer/locale string en_US\n")]);
        assert!(additions(&f, &PERSIST).is_empty(), "no persistence for an installer");
    }
    // A live ISO carrying the installer: persistence for the live system,
    // the template for the installer.
    let f = families(&names(&["live", "install"]), &mut Paths(&[]), &[]);
    assert_eq!(f, [Family::LiveBoot, Family::DebianInstaller]);
    let both = Request { template: preseed.template, ..PERSIST };
    assert_eq!(additions(&f, &both).iter().map(|m| m.path.as_str()).collect::<Vec<_>>(), ["conf/conf.d/zz-dropboot", "preseed.cfg"]);
}

#[test]
fn an_iso_of_no_known_family_gets_nothing() {
    let f = families(&names(&["boot", "EFI"]), &mut Paths(&[]), &[]);
    assert!(f.is_empty());
    assert!(additions(&f, &PERSIST).is_empty());
}

#[test]
fn a_backend_is_taken_by_its_label_and_dracut_gets_ventoys_overlay_folder() {
    use bootfs::additions::{backend_for, NoBackend, DRACUT_OVERLAY};
    let live = [Family::LiveBoot];
    assert_eq!(backend_for(&live, Some("persistence")), Ok(Backend { label: "persistence", file: None, overlayfs: false }));
    assert_eq!(backend_for(&live, Some("casper-rw")), Err(NoBackend::WrongLabel { label: "casper-rw".into(), wanted: "persistence" }));
    assert_eq!(backend_for(&live, None), Err(NoBackend::NotExt));
    assert_eq!(backend_for(&[Family::DebianInstaller], Some("persistence")), Err(NoBackend::NoLiveSystem));
    let dracut = [Family::Dracut];
    let b = backend_for(&dracut, Some("vtoycow")).unwrap();
    assert_eq!(b, Backend { label: "vtoycow", file: Some(DRACUT_OVERLAY), overlayfs: true });
    let request = Request { persistence: Some(b), template: None };
    assert_eq!(
        texts(&additions(&dracut, &request)),
        [("etc/cmdline.d/zz-dropboot.conf", "rd.live.overlay=LABEL=vtoycow:/vtoyoverlayfs/overlayfs\nrd.live.overlay.overlayfs=1\n")]
    );
}

#[test]
fn dracut_is_told_any_label_but_none() {
    use bootfs::additions::{backend_for, NoBackend};
    let dracut = [Family::Dracut];
    assert_eq!(backend_for(&dracut, Some("my changes")).map(|b| b.label), Ok("my changes"));
    // "LABEL=" names no device: dracut would wait for it, then go on without.
    assert_eq!(backend_for(&dracut, Some("")), Err(NoBackend::Unlabelled));
}

#[test]
fn the_builder_judges_a_backend_for_the_family_the_loader_does() {
    use bootfs::additions::persistence_family;
    for folders in [&["live"][..], &["CASPER"], &["LiveOS", "boot"], &["casper", "live"], &["LiveOS", "casper"], &["install.amd", "live"]] {
        let loader = families(&names(folders), &mut Paths(&[]), &[]).into_iter().find(|f| *f != Family::DebianInstaller);
        assert_eq!(persistence_family(&names(folders)), loader, "{folders:?}");
    }
    assert_eq!(persistence_family(&names(&["boot", "arch"])), None);
}
