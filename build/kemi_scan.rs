//! Reads the `#[kemi]` functions of `src/modules/` and checks them against
//! KEMI's rules, producing the model the registry is generated from.
//!
//! Shared by `build.rs` and by a test (`tests/build_step.rs`), which feeds
//! it faulty sources and checks that each fault is reported at its line.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use syn::spanned::Spanned;

#[path = "module_scan.rs"]
pub mod module_scan;

/// KEMI's limit on parameters (`SR_KEMI_PARAMS_MAX`).
pub const MAX_PARAMS: usize = 6;

/// The KEMI type of a parameter, with the Rust type it is declared as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// `i32`: a C `int`, as in Kamailio.
    I32,
    /// `i64`.
    I64,
    /// `&str`.
    Str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetType {
    None,
    Int,
    Bool,
    XVal,
}

#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub doc: String,
}

#[derive(Debug)]
pub struct Export {
    pub module: String,
    pub name: String,
    /// The Rust path of the function, `crate::modules::tm::t_relay`.
    pub rust_path: String,
    pub params: Vec<Param>,
    pub ret: RetType,
    /// (int, str, null) an xval return may carry.
    pub xval: (bool, bool, bool),
    pub doc: String,
    pub returns: String,
    pub example: String,
    pub deprecated: Option<String>,
    pub toplevel: bool,
    pub diverges: bool,
    pub rest: Option<String>,
    pub file: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct Module {
    pub name: String,
    pub provided_by: String,
    pub doc: String,
}

#[derive(Debug, Default)]
pub struct Model {
    /// Sorted by (module, name); core functions have module `""`.
    pub exports: Vec<Export>,
    /// Sorted by name; core is `""`.
    pub modules: Vec<Module>,
    /// Files with exports whose module is not declared (left out).
    pub undeclared: Vec<String>,
    /// The parameter structs, one per module that has parameters.
    pub param_structs: Vec<module_scan::ParamStruct>,
    /// The `static MODULE` declarations, by folder.
    pub module_statics: Vec<module_scan::ModuleStatic>,
    /// The `//!` doc of every module root: (folder, doc).
    pub module_docs: Vec<(String, String)>,
}

/// A fault in an annotated module, reported as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Scans every `.rs` file below `modules_dir`. `label_root` is the folder
/// file names in messages are relative to (the crate root).
pub fn scan_dir(modules_dir: &Path, label_root: &Path) -> Result<Model, Vec<ScanError>> {
    let mut files = Vec::new();
    collect_rs(modules_dir, &mut files);
    files.sort();
    // A module file that src/modules/mod.rs does not declare would make the
    // generated registry name a path that does not exist: say so plainly.
    let declared: Vec<String> = fs::read_to_string(modules_dir.join("mod.rs"))
        .map(|t| {
            t.lines()
                .filter_map(|l| l.trim().strip_prefix("pub mod "))
                .map(|m| m.trim_end_matches(';').trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut sources = Vec::new();
    for path in files {
        let rel = path.strip_prefix(modules_dir).unwrap_or(&path);
        let comps: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        // `src/modules/mod.rs` declares the modules and exports nothing.
        if comps == ["mod"] {
            continue;
        }
        let label = path
            .strip_prefix(label_root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                return Err(vec![ScanError {
                    file: label,
                    line: 0,
                    message: format!("cannot read: {e}"),
                }])
            }
        };
        let mut rust_mods: Vec<&str> = comps.iter().map(String::as_str).collect();
        if rust_mods.last() == Some(&"mod") {
            rust_mods.pop();
        }
        let is_module_root = rust_mods.len() == 1;
        sources.push(Source {
            label,
            ksr_module: comps[0].clone(),
            rust_path: format!("crate::modules::{}", rust_mods.join("::")),
            is_module_root,
            text,
        });
    }
    // A file that src/modules/mod.rs does not declare is not compiled, so
    // its exports do not exist: leave them out, and say so (build.rs prints
    // these as warnings).
    let (sources, skipped): (Vec<Source>, Vec<Source>) = sources
        .into_iter()
        .partition(|s| declared.contains(&s.ksr_module));
    let mut model = scan_sources(&sources)?;
    model.undeclared = skipped
        .iter()
        .filter(|s| s.text.contains("#[kemi"))
        .map(|s| {
            format!(
                "{}: module `{}` is not declared in src/modules/mod.rs (add `pub mod {};`): its exports are left out",
                s.label, s.ksr_module, s.ksr_module
            )
        })
        .collect();
    model.undeclared.dedup();
    Ok(model)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// One source file of a module.
pub struct Source {
    /// The name in messages, `src/modules/tm/relay.rs`.
    pub label: String,
    /// The folder or file name under `src/modules`: `core` for `KSR.*`.
    pub ksr_module: String,
    /// The Rust module path of the file.
    pub rust_path: String,
    /// Whether this file is the module's root (`tm.rs` or `tm/mod.rs`),
    /// whose `//!` doc and `KAMAILIO_MODULE` describe the module.
    pub is_module_root: bool,
    pub text: String,
}

/// Scans the given sources; every fault found is returned, not just the
/// first.
pub fn scan_sources(sources: &[Source]) -> Result<Model, Vec<ScanError>> {
    let mut errors = Vec::new();
    let mut exports: Vec<Export> = Vec::new();
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    let mut param_structs: Vec<module_scan::ParamStruct> = Vec::new();
    let mut module_statics: Vec<module_scan::ModuleStatic> = Vec::new();
    let mut module_docs: Vec<(String, String)> = Vec::new();
    for src in sources {
        let ksr_name = if src.ksr_module == "core" {
            String::new()
        } else {
            src.ksr_module.clone()
        };
        let file = match syn::parse_file(&src.text) {
            Ok(f) => f,
            Err(e) => {
                errors.push(ScanError {
                    file: src.label.clone(),
                    line: e.span().start().line,
                    message: format!("cannot parse: {e}"),
                });
                continue;
            }
        };
        let module = modules.entry(ksr_name.clone()).or_insert_with(|| Module {
            name: ksr_name.clone(),
            provided_by: String::new(),
            doc: String::new(),
        });
        if src.is_module_root {
            module.doc = doc_text(&file.attrs).trim().to_owned();
            module_docs.push((src.ksr_module.clone(), module.doc.clone()));
        }
        for item in &file.items {
            match item {
                syn::Item::Const(c) if c.ident == "KAMAILIO_MODULE" => errors.push(ScanError {
                    file: src.label.clone(),
                    line: c.span().start().line,
                    message: "KAMAILIO_MODULE is gone: declare `pub static MODULE: Module<State> = Module::new(\"<loadmodule name>\", \"<summary>\")` in the module's root".into(),
                }),
                syn::Item::Static(st) => {
                    if let Some(m) = module_scan::scan_module_static(src, st, &mut errors) {
                        if let Some(other) = module_statics.iter().find(|o| o.name == m.name) {
                            errors.push(ScanError {
                                file: m.file.clone(),
                                line: m.line,
                                message: format!(
                                    "module `{}` is already declared at {}:{}",
                                    m.name, other.file, other.line
                                ),
                            });
                        }
                        module_statics.push(m);
                    }
                }
                syn::Item::Struct(st) => {
                    if let Some(p) = module_scan::scan_param_struct(src, st, &mut errors) {
                        if let Some(other) = param_structs.iter().find(|o| o.folder == p.folder) {
                            errors.push(ScanError {
                                file: p.file.clone(),
                                line: st.span().start().line,
                                message: format!(
                                    "a module has one ModParams struct; `{}` already has {}",
                                    p.folder, other.rust_path
                                ),
                            });
                        }
                        param_structs.push(p);
                    }
                }
                syn::Item::Fn(f) => {
                    if let Some(attr) = f.attrs.iter().find(|a| is_kemi_attr(a)) {
                        match scan_fn(src, &ksr_name, f, attr) {
                            Ok(e) => exports.push(e),
                            Err(mut e) => errors.append(&mut e),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for p in &param_structs {
        if !module_statics.iter().any(|m| m.folder == p.folder) {
            errors.push(ScanError {
                file: p.file.clone(),
                line: p.fields.first().map_or(0, |f| f.line),
                message: format!(
                    "{} declares parameters, but the module has no `pub static MODULE` in its root",
                    p.rust_path
                ),
            });
        }
    }
    for m in &module_statics {
        let ksr = if m.folder == "core" {
            ""
        } else {
            m.folder.as_str()
        };
        if let Some(module) = modules.get_mut(ksr) {
            module.provided_by = if m.always_present {
                String::new()
            } else {
                m.name.clone()
            };
        }
    }
    module_statics.sort_by(|a, b| a.folder.cmp(&b.folder));
    exports.sort_by(|a, b| (&a.module, &a.name).cmp(&(&b.module, &b.name)));
    for pair in exports.windows(2) {
        if pair[0].module == pair[1].module && pair[0].name == pair[1].name {
            errors.push(ScanError {
                file: pair[1].file.clone(),
                line: pair[1].line,
                message: format!(
                    "duplicate export {}: already defined at {}:{}",
                    script_path(&pair[1].module, &pair[1].name),
                    pair[0].file,
                    pair[0].line
                ),
            });
        }
    }
    modules.retain(|name, _| exports.iter().any(|e| &e.module == name));
    if errors.is_empty() {
        Ok(Model {
            exports,
            modules: modules.into_values().collect(),
            undeclared: Vec::new(),
            param_structs,
            module_statics,
            module_docs,
        })
    } else {
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(errors)
    }
}

pub fn script_path(module: &str, name: &str) -> String {
    if module.is_empty() {
        format!("KSR.{name}")
    } else {
        format!("KSR.{module}.{name}")
    }
}

fn is_kemi_attr(a: &syn::Attribute) -> bool {
    a.path().segments.last().is_some_and(|s| s.ident == "kemi")
}

fn string_lit(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// The text of the `///` (or `//!`) lines, one leading space removed.
fn doc_text(attrs: &[syn::Attribute]) -> String {
    let mut out = String::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let Some(s) = string_lit(&nv.value) {
                out.push_str(s.strip_prefix(' ').unwrap_or(&s));
                out.push('\n');
            }
        }
    }
    out
}

#[derive(Default)]
struct Attr {
    name: Option<String>,
    deprecated: Option<String>,
    toplevel: bool,
    diverges: bool,
    xval: Option<String>,
    rest: Option<String>,
}

fn parse_attr(attr: &syn::Attribute) -> syn::Result<Attr> {
    let mut out = Attr::default();
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return Ok(out);
    }
    attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "toplevel" => out.toplevel = true,
            "diverges" => out.diverges = true,
            "name" | "deprecated" | "xval" | "rest" => {
                let lit: syn::LitStr = meta.value()?.parse()?;
                let v = Some(lit.value());
                match key.as_str() {
                    "name" => out.name = v,
                    "deprecated" => out.deprecated = v,
                    "xval" => out.xval = v,
                    _ => out.rest = v,
                }
            }
            _ => {
                return Err(meta.error(format!(
                    "unknown #[kemi] argument `{key}`: expected name, deprecated, toplevel, diverges, xval or rest"
                )))
            }
        }
        Ok(())
    })?;
    Ok(out)
}

fn scan_fn(
    src: &Source,
    ksr_module: &str,
    f: &syn::ItemFn,
    attr: &syn::Attribute,
) -> Result<Export, Vec<ScanError>> {
    let line = f.sig.ident.span().start().line;
    let rust_name = f.sig.ident.to_string();
    let mut errors = Vec::new();
    let mut err = |line: usize, message: String| {
        errors.push(ScanError {
            file: src.label.clone(),
            line,
            message,
        })
    };
    let attr = parse_attr(attr).unwrap_or_else(|e| {
        err(e.span().start().line, e.to_string());
        Attr::default()
    });
    let name = attr.name.clone().unwrap_or_else(|| rust_name.clone());
    let path = script_path(ksr_module, &name);

    if !matches!(f.vis, syn::Visibility::Public(_)) {
        err(line, format!("{path}: a #[kemi] function must be `pub`"));
    }
    if f.sig.asyncness.is_some() || !f.sig.generics.params.is_empty() {
        err(
            line,
            format!("{path}: a #[kemi] function can be neither async nor generic"),
        );
    }

    // Parameters: the context first, then at most six ints or strings.
    let mut inputs = f.sig.inputs.iter();
    match inputs.next() {
        Some(syn::FnArg::Typed(pt)) if is_ctx_ref(&pt.ty) => {}
        _ => err(
            line,
            format!("{path}: the first parameter must be the context, `ctx: &mut Ctx`"),
        ),
    }
    let mut params = Vec::new();
    let mut declared_names = Vec::new();
    for input in inputs {
        let syn::FnArg::Typed(pt) = input else {
            continue;
        };
        let pline = pt.span().start().line;
        let pname = match &*pt.pat {
            syn::Pat::Ident(i) => i.ident.to_string(),
            _ => {
                err(pline, format!("{path}: parameters must be plain names"));
                continue;
            }
        };
        declared_names.push(pname.clone());
        let ty = match type_name(&pt.ty).as_str() {
            "i32" => ParamType::I32,
            "i64" => ParamType::I64,
            "&str" => ParamType::Str,
            other => {
                err(
                    pline,
                    format!(
                        "{path}: parameter `{pname}` has type `{other}`; a KEMI parameter is an integer (`i32`, `i64`) or a string (`&str`)"
                    ),
                );
                continue;
            }
        };
        params.push(Param {
            name: pname,
            ty,
            doc: String::new(),
        });
    }
    let declared = f.sig.inputs.len().saturating_sub(1);
    if declared > MAX_PARAMS {
        err(
            line,
            format!("{path}: {declared} parameters; KEMI allows at most {MAX_PARAMS}"),
        );
    }

    let ret = match &f.sig.output {
        syn::ReturnType::Default => RetType::None,
        syn::ReturnType::Type(_, ty) => match type_name(ty).as_str() {
            "()" => RetType::None,
            "bool" => RetType::Bool,
            "i32" | "i64" => RetType::Int,
            "XVal" => RetType::XVal,
            other => {
                err(
                    line,
                    format!(
                        "{path}: returns `{other}`; an export returns nothing, `bool`, an integer (`i32`, `i64`) or `XVal`"
                    ),
                );
                RetType::None
            }
        },
    };

    let mut xval = (true, true, true);
    if let Some(kinds) = &attr.xval {
        if ret != RetType::XVal {
            err(
                line,
                format!("{path}: `xval = ...` is only for functions returning XVal"),
            );
        }
        xval = (false, false, false);
        for k in kinds.split(',').map(str::trim) {
            match k {
                "int" => xval.0 = true,
                "str" => xval.1 = true,
                "null" => xval.2 = true,
                _ => err(
                    line,
                    format!("{path}: xval kind `{k}` is not one of int, str, null"),
                ),
            }
        }
    }
    if attr.diverges && ret != RetType::None {
        err(line, format!("{path}: a `diverges` export returns nothing"));
    }

    // The doc comment: description, then `# Parameters`, `# Returns`,
    // `# Example` sections.
    let doc = doc_text(&f.attrs);
    let sections = match split_sections(&doc) {
        Ok(s) => s,
        Err(m) => {
            err(line, format!("{path}: {m}"));
            Sections::default()
        }
    };
    if sections.description.is_empty() {
        err(
            line,
            format!(
                "{path}: missing doc comment; it is the source of the generated docs and stubs"
            ),
        );
    }
    match parse_param_docs(&sections.parameters) {
        Ok(docs) => {
            for p in &mut params {
                match docs.iter().find(|(n, _)| n == &p.name) {
                    Some((_, d)) => p.doc = d.clone(),
                    None => err(
                        line,
                        format!(
                            "{path}: parameter `{}` is not described under `# Parameters`",
                            p.name
                        ),
                    ),
                }
            }
            for (n, _) in &docs {
                if !declared_names.contains(n) && attr.rest.as_deref() != Some(n) {
                    err(
                        line,
                        format!("{path}: `# Parameters` describes `{n}`, which is not a parameter"),
                    );
                }
            }
        }
        Err(m) => err(line, format!("{path}: {m}")),
    }
    if ret != RetType::None && sections.returns.is_empty() {
        err(
            line,
            format!("{path}: missing `# Returns` section: say what the return values mean"),
        );
    }
    if sections.example.is_empty() {
        err(
            line,
            format!("{path}: missing `# Example` section with a ```js block"),
        );
    }
    if !is_identifier(&name) {
        err(
            line,
            format!("{path}: `{name}` is not a valid script identifier"),
        );
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Export {
        module: ksr_module.to_owned(),
        name,
        rust_path: format!("{}::{}", src.rust_path, rust_name),
        params,
        ret,
        xval,
        doc: sections.description,
        returns: sections.returns,
        example: sections.example,
        deprecated: attr.deprecated,
        toplevel: attr.toplevel,
        diverges: attr.diverges,
        rest: attr.rest,
        file: src.label.clone(),
        line,
    })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_ctx_ref(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => {
            r.mutability.is_some()
                && matches!(&*r.elem, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Ctx"))
        }
        _ => false,
    }
}

/// A compact spelling of a type, enough to recognise the allowed ones.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Reference(r) => {
            let m = if r.mutability.is_some() { "mut " } else { "" };
            format!("&{m}{}", type_name(&r.elem))
        }
        syn::Type::Path(p) => p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::"),
        syn::Type::Tuple(t) if t.elems.is_empty() => "()".into(),
        syn::Type::Never(_) => "!".into(),
        _ => "an unsupported type".into(),
    }
}

#[derive(Default)]
struct Sections {
    description: String,
    parameters: String,
    returns: String,
    example: String,
}

fn split_sections(doc: &str) -> Result<Sections, String> {
    let mut s = Sections::default();
    let mut current = "description".to_owned();
    let mut in_fence = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence {
            if let Some(h) = line.strip_prefix("# ") {
                current = h.trim().to_owned();
                continue;
            }
        }
        let target = match current.as_str() {
            "description" => &mut s.description,
            "Parameters" => &mut s.parameters,
            "Returns" => &mut s.returns,
            "Example" => &mut s.example,
            other => {
                return Err(format!(
                    "unknown doc section `# {other}`: use Parameters, Returns or Example"
                ))
            }
        };
        target.push_str(line);
        target.push('\n');
    }
    s.description = s.description.trim().to_owned();
    s.returns = s.returns.trim().to_owned();
    let example = s.example.trim();
    if !example.is_empty() {
        let body = example
            .strip_prefix("```js")
            .and_then(|b| b.strip_suffix("```"))
            .ok_or("the `# Example` section must be one ```js code block")?;
        s.example = body.trim().to_owned();
    } else {
        s.example = String::new();
    }
    Ok(s)
}

/// Parses `- \`name\`: text` items, continuation lines indented.
fn parse_param_docs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(item) = line.strip_prefix("- `") {
            let (name, rest) = item
                .split_once('`')
                .ok_or_else(|| format!("malformed parameter item `{line}`"))?;
            let desc = rest
                .strip_prefix(':')
                .ok_or_else(|| format!("parameter item for `{name}` needs `: description`"))?;
            out.push((name.to_owned(), desc.trim().to_owned()));
        } else if line.starts_with(' ') && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else {
            return Err(format!(
                "`# Parameters` lines must be items like \"- `name`: description\", found `{line}`"
            ));
        }
    }
    Ok(out)
}

/// Writes the Rust registry: the `EXPORTS` and `MODULES` tables and one
/// thunk per export, all with the uniform signature.
pub fn render_registry(model: &Model) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str(
        "// Generated by build.rs from the #[kemi] functions of src/modules; do not edit.\n\n",
    );
    for (i, e) in model.exports.iter().enumerate() {
        let refusal = match e.ret {
            RetType::Int => "Ret::Int(-1)",
            RetType::XVal => "Ret::XVal(XVal::Null)",
            RetType::Bool | RetType::None => "Ret::Bool(false)",
        };
        let mut pats = Vec::new();
        let mut call_args = vec!["ctx".to_owned()];
        for (j, p) in e.params.iter().enumerate() {
            match p.ty {
                ParamType::I32 => {
                    pats.push(format!("Arg::Int(a{j})"));
                    call_args.push(format!("value::clamp_i32(*a{j})"));
                }
                ParamType::I64 => {
                    pats.push(format!("Arg::Int(a{j})"));
                    call_args.push(format!("*a{j}"));
                }
                ParamType::Str => {
                    pats.push(format!("Arg::Str(a{j})"));
                    call_args.push(format!("a{j}"));
                }
            }
        }
        if e.rest.is_some() {
            pats.push("..".to_owned());
        }
        let call = if e.ret == RetType::None {
            format!("{{ {}({}); Ret::None }}", e.rust_path, call_args.join(", "))
        } else {
            format!("Ret::from({}({}))", e.rust_path, call_args.join(", "))
        };
        let _ = writeln!(
            out,
            "fn __kemi_{i}(ctx: &mut Ctx<'_>, args: &[Arg<'_>]) -> Ret {{\n    match args {{\n        [{pats}] => {call},\n        _ => {{\n            crate::log::error(\"kemi\", format_args!(\"{sp}(): arguments of the wrong type or count\"));\n            {refusal}\n        }}\n    }}\n}}",
            pats = pats.join(", "),
            call = call,
            sp = script_path(&e.module, &e.name),
        );
    }
    out.push_str("\nstatic EXPORTS: &[Export] = &[\n");
    for (i, e) in model.exports.iter().enumerate() {
        let params: Vec<String> = e
            .params
            .iter()
            .map(|p| {
                format!(
                    "Param {{ name: {:?}, ty: ParamType::{}, doc: {:?} }}",
                    p.name,
                    if p.ty == ParamType::Str { "Str" } else { "Int" },
                    p.doc
                )
            })
            .collect();
        let ret = match e.ret {
            RetType::None => "None",
            RetType::Int => "Int",
            RetType::Bool => "Bool",
            RetType::XVal => "XVal",
        };
        let _ = writeln!(
            out,
            "    Export {{ module: {:?}, name: {:?}, params: &[{}], ret: RetType::{ret}, xval: XValKinds {{ int: {}, str: {}, null: {} }}, doc: {:?}, returns: {:?}, example: {:?}, deprecated: {:?}, toplevel: {}, diverges: {}, rest: {:?}, source: {:?}, call: __kemi_{i} }},",
            e.module,
            e.name,
            params.join(", "),
            e.xval.0,
            e.xval.1,
            e.xval.2,
            e.doc,
            e.returns,
            e.example,
            e.deprecated,
            e.toplevel,
            e.diverges,
            e.rest,
            format!("{}:{}", e.file, e.line),
        );
    }
    out.push_str("];\n\nstatic MODULES: &[ModuleInfo] = &[\n");
    for m in &model.modules {
        let _ = writeln!(
            out,
            "    ModuleInfo {{ name: {:?}, provided_by: {:?}, doc: {:?} }},",
            m.name, m.provided_by, m.doc
        );
    }
    out.push_str("];\n");
    module_scan::render(
        &mut out,
        &model.param_structs,
        &model.module_statics,
        &model.module_docs,
    );
    out
}
