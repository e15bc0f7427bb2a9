//! The generated stubs and docs: committed copies must match a fresh
//! rendering, cover every export, and be valid in their languages.

use std::ffi::CString;
use std::path::Path;

use squirrel_sys::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_stubs_and_docs_are_up_to_date() {
    let s = kemid::gen::check(root()).expect("templates render");
    assert!(
        s.is_clean(),
        "generated files are stale: {:?}, orphaned: {:?}; run `cargo run -- gen` and commit the result",
        s.stale,
        s.orphaned
    );
}

#[test]
fn every_export_appears_in_every_artefact() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).expect(p);
    let ts = read("stubs/ksr.d.ts");
    let nut = read("stubs/ksr.nut");
    let json = read("stubs/kemi-api.json");
    let api = kemid::gen::api_document(false);
    let methods = api["methods"].as_array().expect("methods");
    assert_eq!(methods.len(), kemid::registry::exports().len());
    assert_eq!(api["msize"], methods.len());
    for m in methods {
        let module = m["func"]["module"].as_str().expect("module");
        let name = m["func"]["name"].as_str().expect("name");
        assert!(
            ts.contains(&format!("function {name}(")),
            "{module}.{name} missing from ksr.d.ts"
        );
        assert!(
            nut.contains(&format!("function {name}(")),
            "{module}.{name} missing from ksr.nut"
        );
        assert!(
            json.contains(&format!("\"name\": \"{name}\"")),
            "{module}.{name} missing from kemi-api.json"
        );
        let page = if module.is_empty() { "core" } else { module };
        let doc = read(&format!("docs/kemi/{page}.md"));
        let heading = if module.is_empty() {
            format!("## KSR.{name}\n")
        } else {
            format!("## KSR.{module}.{name}\n")
        };
        assert!(
            doc.contains(&heading),
            "{heading:?} missing from docs/kemi/{page}.md"
        );
    }
    for m in kemid::registry::modules() {
        if !m.name.is_empty() {
            assert!(ts.contains(&format!("namespace {} {{", m.name)));
            assert!(ts.contains(&format!(
                "declare var KSR_{}: typeof KSR.{};",
                m.name, m.name
            )));
            assert!(nut.contains(&format!("KSR.{} <- {{", m.name)));
        }
    }
}

#[test]
fn kamailio_compatible_listing_has_kamailio_fields_only() {
    let api = kemid::gen::api_document(false);
    let info = api["methods"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["func"]["name"] == "log" && m["func"]["module"] == "")
        })
        .expect("KSR.log listed");
    assert_eq!(
        info["func"],
        serde_json::json!({"ret": "none", "module": "", "name": "log", "params": "str, str"})
    );
}

/// Compiles Squirrel source in a fresh VM; with `run`, also executes it.
fn squirrel(name: &str, src: &str, run: bool) -> Result<(), String> {
    unsafe extern "C" fn on_compile_error(
        v: HSQUIRRELVM,
        desc: *const SQChar,
        _source: *const SQChar,
        line: SQInteger,
        column: SQInteger,
    ) {
        let text = std::ffi::CStr::from_ptr(desc).to_string_lossy();
        let out = sq_getforeignptr(v).cast::<String>();
        *out = format!("line {line}, column {column}: {text}");
    }
    let cname = CString::new(name).expect("no NUL in name");
    let mut error = String::new();
    let ok_final;
    unsafe {
        let v = sq_open(1024);
        assert!(!v.is_null());
        sq_setforeignptr(v, (&mut error as *mut String).cast());
        sq_setcompilererrorhandler(v, Some(on_compile_error));
        let mut ok = SQ_SUCCEEDED(sq_compilebuffer(
            v,
            src.as_ptr().cast(),
            src.len() as SQInteger,
            cname.as_ptr(),
            SQTrue,
        ));
        if ok && run {
            sq_pushroottable(v);
            ok = SQ_SUCCEEDED(sq_call(v, 1, SQFalse, SQFalse));
            if !ok {
                error = "runtime error".into();
            }
        }
        sq_close(v);
        ok_final = ok;
    }
    if ok_final {
        Ok(())
    } else {
        Err(error)
    }
}

#[test]
fn squirrel_stub_compiles_and_runs_in_the_vm() {
    let nut = std::fs::read_to_string(root().join("stubs/ksr.nut")).expect("stubs/ksr.nut");
    squirrel("stubs/ksr.nut", &nut, true).expect("ksr.nut is valid Squirrel");
    // The check is real: a broken stub is refused.
    let broken = nut.replacen("function ", "function (", 1);
    assert!(squirrel("broken.nut", &broken, false).is_err());
}

/// Examples are snippets of a route function's body (they may `return`),
/// so each is checked inside a function.
#[test]
fn every_doc_example_compiles_in_both_languages() {
    for e in kemid::registry::exports() {
        let sq = format!(
            "function ksr_example() {{\n{}\n}}\n",
            kemid::gen::js_to_squirrel(e.example)
        );
        squirrel(e.source, &sq, false).unwrap_or_else(|err| {
            panic!(
                "Squirrel example of {} ({}): {err}\n{sq}",
                e.script_path(),
                e.source
            )
        });
        let js_text = format!("function ksr_example() {{\n{}\n}}\n", e.example);
        let js = boa_engine::Source::from_bytes(js_text.as_bytes());
        let mut ctx = boa_engine::Context::default();
        boa_engine::Script::parse(js, None, &mut ctx).unwrap_or_else(|err| {
            panic!(
                "JavaScript example of {} ({}): {err}",
                e.script_path(),
                e.source
            )
        });
    }
}
