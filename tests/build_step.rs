//! The build step's checks: each KEMI rule a `#[kemi]` function can break
//! is reported with the file and line of the function.

#[path = "../build/kemi_scan.rs"]
#[allow(dead_code)]
mod kemi_scan;

use kemi_scan::{scan_sources, Source};

fn scan(text: &str) -> Result<kemi_scan::Model, Vec<kemi_scan::ScanError>> {
    scan_sources(&[Source {
        label: "src/modules/demo.rs".into(),
        ksr_module: "demo".into(),
        rust_path: "crate::modules::demo".into(),
        is_module_root: true,
        text: text.into(),
    }])
}

fn errors(text: &str) -> Vec<String> {
    match scan(text) {
        Ok(_) => panic!("expected the scan to fail"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = r#"//! A demo module.
pub static MODULE: Module<()> = Module::new("demo", "a demo");

/// Does a thing.
///
/// # Parameters
/// - `a`: first.
/// - `b`: second.
///
/// # Returns
/// 1 on success.
///
/// # Example
/// ```js
/// KSR.demo.thing(1, "x");
/// ```
#[kemi]
pub fn thing(ctx: &mut Ctx, a: i32, b: &str) -> i32 { 1 }
"#;

#[test]
fn a_valid_export_is_modelled() {
    let model = scan(GOOD).expect("valid source");
    assert_eq!(model.exports.len(), 1);
    let e = &model.exports[0];
    assert_eq!((e.module.as_str(), e.name.as_str()), ("demo", "thing"));
    assert_eq!(e.rust_path, "crate::modules::demo::thing");
    assert_eq!(e.params.len(), 2);
    assert_eq!(e.params[1].doc, "second.");
    assert_eq!(e.line, 18);
    assert_eq!(e.example, "KSR.demo.thing(1, \"x\");");
    assert_eq!(model.modules[0].provided_by, "demo");
    assert_eq!(model.modules[0].doc, "A demo module.");
}

#[test]
fn seven_parameters_fail_at_the_function_line() {
    let src = r#"
/// Too many.
///
/// # Parameters
/// - `a`: x
/// - `b`: x
/// - `c`: x
/// - `d`: x
/// - `e`: x
/// - `f`: x
/// - `g`: x
///
/// # Example
/// ```js
/// KSR.demo.many(1, 2, 3, 4, 5, 6, 7);
/// ```
#[kemi]
pub fn many(ctx: &mut Ctx, a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32) {}
"#;
    assert_eq!(
        errors(src),
        ["src/modules/demo.rs:18: KSR.demo.many: 7 parameters; KEMI allows at most 6"]
    );
}

#[test]
fn a_float_parameter_fails_at_its_line() {
    let src = r#"
/// Floats are not KEMI.
///
/// # Parameters
/// - `ratio`: x
///
/// # Example
/// ```js
/// KSR.demo.f(0.5);
/// ```
#[kemi]
pub fn f(ctx: &mut Ctx,
    ratio: f64) {}
"#;
    assert_eq!(
        errors(src),
        ["src/modules/demo.rs:13: KSR.demo.f: parameter `ratio` has type `f64`; a KEMI parameter is an integer (`i32`, `i64`) or a string (`&str`)"]
    );
}

#[test]
fn a_duplicate_name_fails_at_the_second_definition() {
    let dup = GOOD.to_owned()
        + r#"
/// Same script name.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.demo.thing();
/// ```
#[kemi(name = "thing")]
pub fn other(ctx: &mut Ctx) -> i32 { 1 }
"#;
    assert_eq!(
        errors(&dup),
        ["src/modules/demo.rs:30: duplicate export KSR.demo.thing: already defined at src/modules/demo.rs:18"]
    );
}

#[test]
fn missing_docs_and_bad_types_are_all_reported() {
    let src = r#"
#[kemi]
pub fn nodoc(ctx: &mut Ctx) -> i32 { 1 }

/// Returns a float.
///
/// # Returns
/// x
///
/// # Example
/// ```js
/// KSR.demo.flt();
/// ```
#[kemi]
pub fn flt(ctx: &mut Ctx) -> f32 { 1.0 }

/// Undocumented parameter.
///
/// # Example
/// ```js
/// KSR.demo.undoc(1);
/// ```
#[kemi]
pub fn undoc(ctx: &mut Ctx, n: i32) {}

/// No context.
///
/// # Example
/// ```js
/// KSR.demo.noctx();
/// ```
#[kemi]
pub fn noctx() {}
"#;
    let errs = errors(src);
    let expected = [
        "src/modules/demo.rs:3: KSR.demo.nodoc: missing doc comment",
        "src/modules/demo.rs:3: KSR.demo.nodoc: missing `# Returns` section",
        "src/modules/demo.rs:3: KSR.demo.nodoc: missing `# Example` section",
        "src/modules/demo.rs:15: KSR.demo.flt: returns `f32`",
        "src/modules/demo.rs:24: KSR.demo.undoc: parameter `n` is not described",
        "src/modules/demo.rs:33: KSR.demo.noctx: the first parameter must be the context",
    ];
    assert_eq!(errs.len(), expected.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expected) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
}

#[test]
fn unknown_attribute_arguments_are_refused() {
    let src = GOOD.replace("#[kemi]", "#[kemi(toplevl)]");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with("src/modules/demo.rs:17: unknown #[kemi] argument `toplevl`"),
        "{}",
        errs[0]
    );
}

const PARAMS: &str = r#"//! A module with parameters.
pub static MODULE: Module<Params> = Module::new("demo", "a demo").init(|cx| Ok(cx.params()));

#[derive(ModParams)]
pub struct Params {
    /// How many.
    #[param(default = 5, range = "0..=9")]
    pub count: i64,
    /// A name.
    #[param(default = "x")]
    pub name: String,
    #[param(inert)]
    pub old: i64,
}
"#;

#[test]
fn a_parameter_struct_is_modelled() {
    let model = scan(PARAMS).expect("valid source");
    assert_eq!(model.module_statics.len(), 1);
    assert_eq!(model.module_statics[0].name, "demo");
    let p = &model.param_structs[0];
    assert_eq!(p.rust_path, "crate::modules::demo::Params");
    let names: Vec<&str> = p.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["count", "name", "old"]);
    assert_eq!(p.fields[0].range, Some((0, 9)));
    assert!(!p.fields[2].effective);
    assert_eq!(model.modules.len(), 0, "no exports: no KSR namespace");
}

#[test]
fn parameter_faults_are_reported_at_their_lines() {
    let src = PARAMS
        .replace("    pub count: i64,", "    pub count: f64,")
        .replace("    #[param(default = \"x\")]\n", "")
        .replace("#[param(inert)]", "#[param(inret)]");
    let errs = errors(&src);
    let expected = [
        "src/modules/demo.rs:8: parameter `count`: its type must be an integer",
        "src/modules/demo.rs:10: parameter `name`: give its default",
        "src/modules/demo.rs:11: unknown #[param] argument `inret`",
    ];
    assert_eq!(errs.len(), expected.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expected) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
}

#[test]
fn the_old_module_constant_is_refused() {
    let src = GOOD.replace(
        "pub static MODULE: Module<()> = Module::new(\"demo\", \"a demo\");",
        "pub const KAMAILIO_MODULE: &str = \"demo\";",
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with("src/modules/demo.rs:2: KAMAILIO_MODULE is gone"),
        "{}",
        errs[0]
    );
}
