//! The dependency rule of ARCHITECTURE.md, checked on the sources: the
//! core (everything under `src/` but `src/modules/`, the generated registry
//! and the binary's entry point) imports no module. Modules are reached
//! through the module contract (`crate::module`) and the generated tables.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_core_imports_no_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "the sources were found");
    let mut offenders = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("src/modules/") || rel == "src/lib.rs" || rel == "src/main.rs" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("crate::modules") || code.contains("kemid::modules") {
                offenders.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "core files import modules (use crate::module and a declared API instead):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn every_module_is_a_folder_with_a_declaration() {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/modules");
    let list = std::fs::read_to_string(modules.join("mod.rs")).expect("src/modules/mod.rs");
    let declared: Vec<&str> = list
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(declared.len() >= 20);
    for m in declared {
        let root = modules.join(m).join("mod.rs");
        let text = std::fs::read_to_string(&root)
            .unwrap_or_else(|_| panic!("module {m} is not a folder with a mod.rs"));
        let part_of_ksr = matches!(m, "core" | "hdr" | "x");
        assert!(
            part_of_ksr || text.contains("pub static MODULE"),
            "{m}: no `pub static MODULE` declaration"
        );
    }
    for e in std::fs::read_dir(&modules).expect("src/modules").flatten() {
        let p = e.path();
        assert!(
            p.is_dir() || p.file_name().is_some_and(|n| n == "mod.rs"),
            "{}: a module is a folder",
            p.display()
        );
    }
}
