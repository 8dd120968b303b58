//! Which initrds an ISO's boot configuration loads: configurations in
//! memory for each form, and an ISO made by xorriso. The real live media
//! and the Debian installer are read in tests/tests/iso_additions.rs.

use std::collections::BTreeMap;

use bootfs::initrds::{find, resolve, IsoFiles};
use bootfs::iso_tree::Iso;

mod common;
use common::Work;

/// Files by path.
struct Files(BTreeMap<String, Vec<u8>>);

impl Files {
    fn new(files: &[(&str, &str)]) -> Files {
        Files(files.iter().map(|(p, t)| (p.to_string(), t.as_bytes().to_vec())).collect())
    }
}

impl IsoFiles for Files {
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        self.0.get(path).cloned()
    }

    fn exists(&mut self, path: &str) -> bool {
        self.0.contains_key(path)
    }
}

#[test]
fn isolinux_initrds_are_found_through_includes_lists_and_relative_paths() {
    let mut files = Files::new(&[
        ("/boot/isolinux/isolinux.cfg", "default vesamenu.c32\nINCLUDE menu.cfg\n  # append initrd=/commented.img\n"),
        ("/boot/isolinux/menu.cfg", "MENU INCLUDE sub/txt.cfg\nconfig /other/more.cfg\n"),
        (
            "/boot/isolinux/sub/txt.cfg",
            "label a\n  KERNEL vmlinuz\n  APPEND vga=788 initrd=initrd.gz,/extra/fw.cpio quiet\nlabel b\n  INITRD /install/gtk.gz\n",
        ),
        ("/other/more.cfg", "label c\n kernel /k initrd=rel.img\n"),
        ("/boot/isolinux/initrd.gz", ""),
        ("/extra/fw.cpio", ""),
        ("/install/gtk.gz", ""),
        ("/other/rel.img", ""),
        ("/commented.img", ""),
    ]);
    let found = find(&mut files);
    assert_eq!(found.paths, ["/boot/isolinux/initrd.gz", "/extra/fw.cpio", "/install/gtk.gz", "/other/rel.img"]);
    assert_eq!(found.configs, ["/boot/isolinux/isolinux.cfg", "/boot/isolinux/menu.cfg", "/boot/isolinux/sub/txt.cfg", "/other/more.cfg"]);
    assert!(!found.usual_names);
}

#[test]
fn grub_initrds_are_found_through_source_and_configfile_with_prefix_known_and_other_variables_dropped() {
    let mut files = Files::new(&[
        (
            "/boot/grub/grub.cfg",
            "set prefix=/boot/grub\nsource ${prefix}/menu.cfg\nmenuentry x {\n linux /casper/vmlinuz\n initrd /casper/initrd\n}\n",
        ),
        (
            "/boot/grub/menu.cfg",
            "menuentry y { linux /v; initrd16 $root/live/initrd.img (loop)/live/extra.img }\nconfigfile \"/boot/grub/more.cfg\"\n",
        ),
        ("/boot/grub/more.cfg", "  initrd --nounzip /missing.img /casper/initrd\nsource /boot/grub/grub.cfg\n"),
        ("/casper/initrd", ""),
        ("/live/initrd.img", ""),
        ("/live/extra.img", ""),
    ]);
    let found = find(&mut files);
    assert_eq!(found.paths, ["/live/initrd.img", "/live/extra.img", "/casper/initrd"], "in order, each once, existing only");
    assert_eq!(found.configs, ["/boot/grub/grub.cfg", "/boot/grub/menu.cfg", "/boot/grub/more.cfg"], "no loop");
}

#[test]
fn without_a_configuration_the_usual_names_are_tried_and_loops_end() {
    let mut files = Files::new(&[
        ("/casper/initrd.lz", ""),
        ("/isolinux/isolinux.cfg", "include isolinux.cfg\ninclude a.cfg\n"),
        ("/isolinux/a.cfg", "include a.cfg\n"),
    ]);
    let found = find(&mut files);
    assert!(found.usual_names);
    assert_eq!(found.paths, ["/casper/initrd.lz"]);
    assert_eq!(found.configs, ["/isolinux/isolinux.cfg", "/isolinux/a.cfg"]);
    assert_eq!(resolve("../x/./y", "/a/b"), "/a/x/y");
    assert_eq!(resolve("../../..", ""), "/");
}

#[test]
fn an_iso_made_by_xorriso_names_its_initrds() {
    let w = Work::new("initrds");
    let root = w.0.join("root");
    for (path, text) in [
        ("isolinux/isolinux.cfg", "default live\ninclude menu.cfg\n"),
        ("isolinux/menu.cfg", "label live\n  kernel /live/vmlinuz\n  append initrd=/live/initrd.img boot=live\n"),
        ("boot/grub/grub.cfg", "menuentry live {\n  initrd /live/initrd.img /live/Extra-Firmware.img\n}\n"),
        ("live/initrd.img", "i"),
        ("live/Extra-Firmware.img", "f"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    for args in [&["-R", "-J"][..], &["--norock", "-J"]] {
        let mut bytes = w.iso(args);
        let found = find(&mut Iso::open(&mut bytes[..]).unwrap());
        assert_eq!(found.paths, ["/live/initrd.img", "/live/Extra-Firmware.img"], "{args:?}");
    }
    // Plain ISO9660 level 1: INITRD.IMG matches in any case; the long
    // name became EXTRA_FI.IMG, which is not the file GRUB was told.
    let mut bytes = w.iso(&["--norock"]);
    assert_eq!(find(&mut Iso::open(&mut bytes[..]).unwrap()).paths, ["/live/initrd.img"]);
}
