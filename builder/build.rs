//! The CLI carries the boot code it installs: build/stage1.bin and
//! build/stage2.bin, made by the Makefile before this crate builds.
use std::path::Path;

fn main() {
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("../build");
    for name in ["stage1.bin", "stage2.bin"] {
        let path = build.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.exists() {
            panic!("{} is missing: build the boot code first with `make` (the Makefile builds it, then this crate)", path.display());
        }
    }
}
