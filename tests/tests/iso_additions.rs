//! Issue 23's groundwork on real media: the live CDs tools/make-live-media
//! builds and the Debian installer ISO tools/fetch-media wraps. Each one's
//! initrds are found from its own boot configuration, its family from its
//! contents, and the archive for it is what cpio lists.

use std::io::Write;
use std::process::{Command, Stdio};

use bootfs::additions::{additions, families, Backend, Family, Request};
use bootfs::iso9660::Volume;
use bootfs::iso_tree::Iso;
use tests::media::{live_medium, third_party};

fn cpio_list(archive: &[u8]) -> Vec<String> {
    let mut child = Command::new("cpio").arg("-t").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("cpio");
    child.stdin.take().expect("stdin").write_all(archive).expect("the archive");
    let out = child.wait_with_output().expect("cpio -t");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn each_real_medium_gets_its_initrds_family_and_archive() {
    let request =
        Request { persistence: Some(Backend { label: "DRPERSIST", file: Some("overlay.img"), overlayfs: false }), template: Some(b"# preseed\n") };
    for (path, initrd, family, added) in [
        (live_medium("debian-live.iso"), "/live/initrd.img", Family::LiveBoot, "conf/conf.d/zz-dropboot"),
        (live_medium("debian-live-grub.iso"), "/live/initrd.img", Family::LiveBoot, "conf/conf.d/zz-dropboot"),
        (live_medium("dracut-live.iso"), "/boot/initrd.img", Family::Dracut, "etc/cmdline.d/zz-dropboot.conf"),
        (third_party("debian-installer.iso"), "/initrd.gz", Family::DebianInstaller, "preseed.cfg"),
    ] {
        let name = path.display().to_string();
        let mut bytes = std::fs::read(&path).expect("the medium");
        let volume = Volume::read(&mut bytes[..]).expect("ISO9660");
        let root = volume.root_names(&mut bytes[..]).expect("its root folder");
        let mut iso = Iso::open(&mut bytes[..]).expect("ISO9660");
        let found = bootfs::initrds::find(&mut iso);
        assert_eq!(found.paths, [initrd], "{name}: {found:?}");
        assert!(!found.usual_names, "{name}: named by its configuration");
        let records = iso.records(initrd);
        assert!(!records.is_empty() && records.iter().all(|r| r.size > 1 << 20), "{name}: the initrd's records {records:?}");
        let f = families(&root, &mut iso, &found.paths);
        assert_eq!(f, [family], "{name}: root {root:?}");
        let members = additions(&f, &request);
        let listed = cpio_list(&bootfs::cpio::newc(&members));
        assert!(listed.iter().any(|l| l == added), "{name}: {listed:?}");
    }
}
