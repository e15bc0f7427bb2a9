//! The build step: reads the `#[kemi]` functions of `src/modules/`,
//! validates them against KEMI's rules (a violation fails the build with
//! the function's file and line) and generates the registry the script
//! engines bind to. `kemid gen` renders stubs and docs from that registry,
//! so code, stubs and docs cannot disagree.

#[path = "build/kemi_scan.rs"]
mod kemi_scan;

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("src/modules");
    println!("cargo:rerun-if-changed=src/modules");
    println!("cargo:rerun-if-changed=build/kemi_scan.rs");
    println!("cargo:rerun-if-changed=build/module_scan.rs");
    let model = match kemi_scan::scan_dir(&modules, root) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{} fault(s) in the #[kemi] exports of src/modules; see the rules in ARCHITECTURE.md",
                errors.len()
            );
            std::process::exit(1);
        }
    };
    for w in &model.undeclared {
        println!("cargo:warning={w}");
    }
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    let path = Path::new(&out).join("registry.rs");
    let text = kemi_scan::render_registry(&model);
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("error: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}
