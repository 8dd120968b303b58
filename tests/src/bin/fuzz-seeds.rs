//! `fuzz-seeds OUT`: writes the fuzz targets' seed inputs under OUT/<target>/
//! (see tests::seeds), for `make fuzz` and the smoke runs in `make test`.

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: fuzz-seeds OUT");
        std::process::exit(2);
    };
    let work = tests::work_dir("fuzz-seeds");
    let n = tests::seeds::write_all(&out, &work);
    println!("fuzz-seeds: {n} seeds in {}", out.display());
}
