//! Builds the Squirrel 3.1 VM and standard library (C++) plus this crate's
//! shim into a static library.
//!
//! The sources are not part of this crate. They are read from:
//! 1. `SQUIRREL_SRC_DIR`, if set: a folder holding `include/`, `squirrel/`
//!    and `sqstdlib/` of a Squirrel 3.1 tree (for packagers);
//! 2. otherwise the `squirrel` 0.1.0 package from crates.io, which ships the
//!    Squirrel 3.1 stable tree under `squirrel/`. It is a dependency for an
//!    impossible target (`cfg(any())`), so Cargo locks and downloads it but
//!    never builds it; `cargo metadata` tells where it was unpacked.
//!
//! `sqvm.cpp` is compiled from a copy in `OUT_DIR` with one added line, the
//! interrupt check at the top of the interpreter loop (see
//! `shim/kemid_sq_shim.h`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const UPSTREAM_NAME: &str = "squirrel";
const UPSTREAM_VERSION: &str = "0.1.0";
const SRC_ENV: &str = "SQUIRREL_SRC_DIR";

/// The statement that starts each iteration of the interpreter loop in
/// `SQVM::Execute`; the interrupt check goes right before it.
const LOOP_ANCHOR: &str = "const SQInstruction &_i_ = *ci->_ip++;";
const LOOP_CHECK: &str = "if (KEMID_SQ_INTERRUPT_POLL(this)) { SQ_THROW(); } ";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let shim_dir = manifest_dir.join("shim");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim/shim.cpp");
    println!("cargo:rerun-if-changed=shim/kemid_sq_shim.h");
    println!("cargo:rerun-if-env-changed={SRC_ENV}");

    let src = locate_sources(&manifest_dir);
    check_layout(&src);
    let include_dir = src.join("include");
    let core_dir = src.join("squirrel");
    let std_dir = src.join("sqstdlib");

    let patched_vm = instrument_interpreter(&core_dir.join("sqvm.cpp"), &out_dir);

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .warnings(false)
        .include(&include_dir)
        .include(&core_dir)
        .include(&shim_dir);
    if env::var("CARGO_CFG_TARGET_POINTER_WIDTH").as_deref() == Ok("64") {
        // squirrel.h also switches _SQ64 on for _LP64/_WIN64; defining it for
        // every file keeps the whole library consistent, as upstream's own
        // build files do.
        build.define("_SQ64", None);
    }
    if !build.get_compiler().is_like_msvc() {
        build
            .flag("-fno-rtti")
            .flag("-fno-exceptions")
            .flag("-fno-strict-aliasing");
    }

    let core = cpp_files(&core_dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "sqvm.cpp"));
    build.files(core);
    build.file(&patched_vm);
    build.files(cpp_files(&std_dir));
    build.file(shim_dir.join("shim.cpp"));
    build.compile("squirrel3");

    // For crates that declare `links`-dependent builds of their own.
    println!("cargo:include={}", include_dir.display());
    println!("cargo:shim_include={}", shim_dir.display());

    #[cfg(feature = "bindgen")]
    generate_bindings(&include_dir, &manifest_dir, &out_dir);
}

/// Finds the folder that holds `include/`, `squirrel/` and `sqstdlib/`.
fn locate_sources(manifest_dir: &Path) -> PathBuf {
    if let Some(dir) = env::var_os(SRC_ENV) {
        let dir = PathBuf::from(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        return dir;
    }
    match upstream_package_root(manifest_dir) {
        Ok(root) => root.join("squirrel"),
        Err(why) => panic!(
            "\n\nsquirrel-sys: cannot locate the Squirrel 3.1 C++ sources.\n\
             They come from the `{UPSTREAM_NAME}` {UPSTREAM_VERSION} package on crates.io.\n\
             Fix: run `cargo fetch` in this workspace (with network access), then build again;\n\
             or set {SRC_ENV} to a folder containing include/, squirrel/ and sqstdlib/ of Squirrel 3.1.\n\
             Details: {why}\n"
        ),
    }
}

/// Asks Cargo where the `squirrel` package was unpacked: offline first, then
/// online (which downloads it if needed).
fn upstream_package_root(manifest_dir: &Path) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = manifest_dir.join("Cargo.toml");
    let mut errors = Vec::new();
    for offline in [true, false] {
        let mut cmd = Command::new(&cargo);
        cmd.arg("metadata")
            .arg("--format-version")
            .arg("1")
            .arg("--manifest-path")
            .arg(&manifest);
        if offline {
            cmd.arg("--offline");
        }
        let output = match cmd.output() {
            Ok(output) => output,
            Err(e) => {
                errors.push(format!("running `{}` failed: {e}", cargo.to_string_lossy()));
                continue;
            }
        };
        if !output.status.success() {
            errors.push(format!(
                "`cargo metadata{}` failed: {}",
                if offline { " --offline" } else { "" },
                String::from_utf8_lossy(&output.stderr).trim()
            ));
            continue;
        }
        match find_upstream(&output.stdout) {
            Ok(root) => return Ok(root),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("\n"))
}

fn find_upstream(metadata: &[u8]) -> Result<PathBuf, String> {
    let json: serde_json::Value = serde_json::from_slice(metadata)
        .map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))?;
    let packages = json
        .get("packages")
        .and_then(|p| p.as_array())
        .ok_or("`cargo metadata` output has no `packages` list")?;
    let package = packages
        .iter()
        .find(|p| {
            p.get("name").and_then(|n| n.as_str()) == Some(UPSTREAM_NAME)
                && p.get("version").and_then(|v| v.as_str()) == Some(UPSTREAM_VERSION)
        })
        .ok_or_else(|| {
            format!(
                "package `{UPSTREAM_NAME}` {UPSTREAM_VERSION} is not in the dependency graph; \
                 check the `[target.'cfg(any())'.dependencies]` entry of squirrel-sys"
            )
        })?;
    let manifest_path = package
        .get("manifest_path")
        .and_then(|m| m.as_str())
        .ok_or("package entry has no `manifest_path`")?;
    Path::new(manifest_path)
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("odd manifest path `{manifest_path}`"))
}

fn check_layout(src: &Path) {
    for needed in [
        "include/squirrel.h",
        "include/sqstdio.h",
        "squirrel/sqvm.cpp",
        "squirrel/sqapi.cpp",
        "sqstdlib/sqstdaux.cpp",
    ] {
        if !src.join(needed).is_file() {
            panic!(
                "\n\nsquirrel-sys: `{}` is not a Squirrel 3.1 source tree (missing {needed}).\n\
                 If {SRC_ENV} is set, point it at the folder that contains include/, squirrel/ and sqstdlib/;\n\
                 otherwise run `cargo fetch` so that the `{UPSTREAM_NAME}` {UPSTREAM_VERSION} package is complete.\n",
                src.display()
            );
        }
    }
}

fn cpp_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "squirrel-sys: cannot list {}: {e}; check {SRC_ENV} or run `cargo fetch`",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    files.sort();
    if files.is_empty() {
        panic!(
            "squirrel-sys: no .cpp files in {}; check {SRC_ENV} or run `cargo fetch`",
            dir.display()
        );
    }
    files
}

/// Writes `OUT_DIR/squirrel-vm/sqvm.cpp`: upstream's file with the shim
/// header included and the interrupt check added in front of the
/// instruction fetch. Line numbers of the original are kept.
fn instrument_interpreter(original: &Path, out_dir: &Path) -> PathBuf {
    let text = fs::read_to_string(original).unwrap_or_else(|e| {
        panic!(
            "squirrel-sys: cannot read {}: {e}; check {SRC_ENV} or run `cargo fetch`",
            original.display()
        )
    });
    let hits = text.matches(LOOP_ANCHOR).count();
    if hits != 1 {
        panic!(
            "\n\nsquirrel-sys: expected exactly one `{LOOP_ANCHOR}` in {} but found {hits}.\n\
             The interrupt guard is written for the Squirrel 3.1 interpreter loop; \
             point {SRC_ENV} at a Squirrel 3.1 tree (or unset it to use the `{UPSTREAM_NAME}` {UPSTREAM_VERSION} package).\n",
            original.display()
        );
    }
    let body = text.replacen(LOOP_ANCHOR, &format!("{LOOP_CHECK}{LOOP_ANCHOR}"), 1);
    let original_name = original.display().to_string().replace('\\', "/");
    let patched = format!(
        "/* Generated by squirrel-sys build.rs from {original_name}: adds the interrupt check. */\n\
         #include \"kemid_sq_shim.h\"\n\
         #line 1 \"{original_name}\"\n\
         {body}"
    );
    let dir = out_dir.join("squirrel-vm");
    fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("squirrel-sys: cannot create {}: {e}", dir.display()));
    let path = dir.join("sqvm.cpp");
    if fs::read_to_string(&path).ok().as_deref() != Some(patched.as_str()) {
        fs::write(&path, patched)
            .unwrap_or_else(|e| panic!("squirrel-sys: cannot write {}: {e}", path.display()));
    }
    path
}

#[cfg(feature = "bindgen")]
fn generate_bindings(include_dir: &Path, manifest_dir: &Path, out_dir: &Path) {
    const HEADERS: [&str; 7] = [
        "squirrel.h",
        "sqstdaux.h",
        "sqstdblob.h",
        "sqstdio.h",
        "sqstdmath.h",
        "sqstdstring.h",
        "sqstdsystem.h",
    ];
    let wrapper: String = HEADERS
        .iter()
        .map(|h| format!("#include <{h}>\n"))
        .collect();
    for h in HEADERS {
        println!("cargo:rerun-if-changed={}", include_dir.join(h).display());
    }
    let mut builder = bindgen::Builder::default()
        .header_contents("squirrel_sys_wrapper.h", &wrapper)
        .clang_arg(format!("-I{}", include_dir.display()))
        .raw_line("// Rust bindings to the public C API of Squirrel 3.1 (squirrel.h, sqstd*.h).")
        .raw_line("// Generated by bindgen; do not edit by hand. To regenerate (needs libclang):")
        .raw_line("//     cargo build -p squirrel-sys --features bindgen")
        .raw_line("// which writes OUT_DIR/bindings.rs and refreshes this file.")
        .allowlist_function("sq_.*")
        .allowlist_function("sqstd_.*")
        .allowlist_type("SQ.*")
        .allowlist_type("HSQ.*")
        .allowlist_type("tagSQ.*")
        .allowlist_var("SQ.*")
        .allowlist_var("OT_.*")
        .allowlist_var("_RT_.*")
        .allowlist_var("SQOBJECT_.*")
        .allowlist_var("SQUIRREL_.*")
        .allowlist_var("_SQ.*")
        // Typed by hand in lib.rs (the macros are untyped integers in C).
        .blocklist_item("SQ_OK")
        .blocklist_item("SQ_ERROR")
        .blocklist_item("SQTrue")
        .blocklist_item("SQFalse")
        // SQObjectType values as plain constants (`OT_NULL`, ...), not a Rust
        // enum: the VM may hand out any value.
        .prepend_enum_name(false)
        .merge_extern_blocks(true)
        .layout_tests(true)
        .derive_default(true)
        .generate_comments(false);
    if env::var("CARGO_CFG_TARGET_POINTER_WIDTH").as_deref() == Ok("64") {
        builder = builder.clang_arg("-D_SQ64");
    }
    let bindings = builder
        .generate()
        .expect("squirrel-sys: bindgen failed; install libclang (e.g. `apt-get install -y libclang-dev`) or build without the `bindgen` feature");
    let text = bindings.to_string();
    let out = out_dir.join("bindings.rs");
    fs::write(&out, &text)
        .unwrap_or_else(|e| panic!("squirrel-sys: cannot write {}: {e}", out.display()));

    // Refresh the committed copy, like libsqlite3-sys's bundled bindings.
    let committed = manifest_dir.join("src").join("bindings.rs");
    if fs::read_to_string(&committed).ok().as_deref() != Some(text.as_str()) {
        match fs::write(&committed, &text) {
            Ok(()) => println!(
                "cargo:warning=squirrel-sys: regenerated {}",
                committed.display()
            ),
            Err(e) => println!(
                "cargo:warning=squirrel-sys: could not refresh {}: {e}",
                committed.display()
            ),
        }
    }
}
