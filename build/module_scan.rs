//! The module declarations the build step reads besides `#[kemi]`: the
//! parameter struct (`#[derive(ModParams)]`, one field per `modparam`) and
//! the `pub static MODULE` of a module's root file. From them it generates
//! the module table, each struct's reader and its parameter declarations,
//! which the cfg reader checks every `modparam` against and the docs list.

use syn::spanned::Spanned;

use super::{doc_text, ScanError, Source};

/// How a field's value is read from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `i64`, `i32`, `u32`, `u16`, `u64`, `usize`: an integer.
    Int(&'static str),
    Bool,
    Str,
    OptStr,
    OptInt(&'static str),
    /// `Vec<String>`: a repeatable string parameter.
    Strs,
    /// `CfgValue`: an integer or a string.
    Any,
    OptAny,
}

impl FieldType {
    fn kind(self) -> &'static str {
        match self {
            FieldType::Int(_) | FieldType::Bool | FieldType::OptInt(_) => "Int",
            FieldType::Str | FieldType::OptStr | FieldType::Strs => "Str",
            FieldType::Any | FieldType::OptAny => "Any",
        }
    }

    fn needs_default(self) -> bool {
        matches!(
            self,
            FieldType::Int(_) | FieldType::Bool | FieldType::Str | FieldType::Any
        )
    }
}

#[derive(Debug)]
pub struct ParamField {
    /// The `modparam` name.
    pub name: String,
    pub field: String,
    pub ty: FieldType,
    /// The default as a literal: `70`, `"received"`, `true`; `None` when
    /// there is none.
    pub default: Option<syn::Lit>,
    pub range: Option<(i64, i64)>,
    pub one_of: Option<Vec<i64>>,
    pub effective: bool,
    pub doc: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct ParamStruct {
    /// The module folder.
    pub folder: String,
    /// `crate::modules::maxfwd::Params`.
    pub rust_path: String,
    pub fields: Vec<ParamField>,
    pub file: String,
}

#[derive(Debug)]
pub struct ModuleStatic {
    pub folder: String,
    /// The `loadmodule` name.
    pub name: String,
    pub always_present: bool,
    /// `crate::modules::maxfwd::MODULE`.
    pub rust_path: String,
    pub file: String,
    pub line: usize,
}

fn err(src: &Source, line: usize, message: String) -> ScanError {
    ScanError {
        file: src.label.clone(),
        line,
        message,
    }
}

fn derives_mod_params(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive") && {
            let mut found = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "ModParams")
                {
                    found = true;
                }
                Ok(())
            });
            found
        }
    })
}

/// The parameter struct of a source, if it has one.
pub fn scan_param_struct(
    src: &Source,
    item: &syn::ItemStruct,
    errors: &mut Vec<ScanError>,
) -> Option<ParamStruct> {
    if !derives_mod_params(&item.attrs) {
        return None;
    }
    let mut fields = Vec::new();
    let syn::Fields::Named(named) = &item.fields else {
        errors.push(err(
            src,
            item.span().start().line,
            format!(
                "{}: a ModParams struct has named fields, one per modparam",
                item.ident
            ),
        ));
        return None;
    };
    for f in &named.named {
        let Some(ident) = &f.ident else { continue };
        let line = ident.span().start().line;
        let field = ident.to_string();
        let field_name = field.trim_start_matches("r#").to_owned();
        if !matches!(f.vis, syn::Visibility::Public(_)) {
            errors.push(err(
                src,
                line,
                format!(
                    "parameter field `{field_name}` must be `pub` (the generated reader sets it)"
                ),
            ));
        }
        let ty = match field_type(&f.ty) {
            Some(t) => t,
            None => {
                errors.push(err(
                    src,
                    line,
                    format!("parameter `{field_name}`: its type must be an integer (i64, i32, u32, u16, u8, u64, usize), bool, String, Option<String>, Option<integer>, Vec<String> or CfgValue"),
                ));
                continue;
            }
        };
        let mut p = ParamField {
            name: field_name.clone(),
            field,
            ty,
            default: None,
            range: None,
            one_of: None,
            effective: true,
            doc: doc_text(&f.attrs).trim().to_owned(),
            line,
        };
        let mut bad_attr = false;
        for a in f.attrs.iter().filter(|a| a.path().is_ident("param")) {
            let parsed = a.parse_nested_meta(|m| {
                let key = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                match key.as_str() {
                    "inert" => p.effective = false,
                    "default" => p.default = Some(m.value()?.parse::<syn::Lit>()?),
                    "name" => p.name = m.value()?.parse::<syn::LitStr>()?.value(),
                    "range" => {
                        let text = m.value()?.parse::<syn::LitStr>()?.value();
                        let (lo, hi) = text
                            .split_once("..=")
                            .and_then(|(l, h)| Some((l.trim().parse().ok()?, h.trim().parse().ok()?)))
                            .ok_or_else(|| m.error("range is written \"LOW..=HIGH\""))?;
                        p.range = Some((lo, hi));
                    }
                    "one_of" => {
                        let text = m.value()?.parse::<syn::LitStr>()?.value();
                        let vs: Result<Vec<i64>, _> =
                            text.split(',').map(|v| v.trim().parse::<i64>()).collect();
                        p.one_of = Some(vs.map_err(|_| m.error("one_of is written \"0, 1, 2\""))?);
                    }
                    _ => {
                        return Err(m.error(format!(
                            "unknown #[param] argument `{key}`: expected default, range, one_of, name or inert"
                        )))
                    }
                }
                Ok(())
            });
            if let Err(e) = parsed {
                errors.push(err(src, e.span().start().line, e.to_string()));
                bad_attr = true;
            }
        }
        if bad_attr {
            continue;
        }
        if p.doc.is_empty() && p.effective {
            errors.push(err(
                src,
                line,
                format!(
                    "parameter `{}`: missing doc comment; it is the source of the module's docs",
                    p.name
                ),
            ));
        }
        if p.default.is_none() && ty.needs_default() && p.effective {
            errors.push(err(
                src,
                line,
                format!(
                    "parameter `{}`: give its default, #[param(default = ...)]",
                    p.name
                ),
            ));
        }
        if let Some(d) = &p.default {
            #[allow(clippy::match_like_matches_macro)]
            let fits = match (d, ty) {
                (
                    syn::Lit::Int(_),
                    FieldType::Int(_) | FieldType::OptInt(_) | FieldType::Any | FieldType::OptAny,
                ) => true,
                (syn::Lit::Bool(_), FieldType::Bool) => true,
                (
                    syn::Lit::Str(_),
                    FieldType::Str | FieldType::OptStr | FieldType::Any | FieldType::OptAny,
                ) => true,
                _ => false,
            };
            if !fits {
                errors.push(err(
                    src,
                    line,
                    format!("parameter `{}`: the default does not fit its type", p.name),
                ));
            }
        }
        if (p.range.is_some() || p.one_of.is_some()) && ty.kind() == "Str" {
            errors.push(err(
                src,
                line,
                format!("parameter `{}`: range and one_of are for integers", p.name),
            ));
        }
        fields.push(p);
    }
    Some(ParamStruct {
        folder: src.ksr_module.clone(),
        rust_path: format!("{}::{}", src.rust_path, item.ident),
        fields,
        file: src.label.clone(),
    })
}

fn field_type(ty: &syn::Type) -> Option<FieldType> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let ident = last.ident.to_string();
    let int = |s: &str| -> Option<&'static str> {
        ["i64", "i32", "u32", "u16", "u8", "u64", "usize"]
            .into_iter()
            .find(|t| *t == s)
    };
    let inner = || -> Option<String> {
        let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        match a.args.first()? {
            syn::GenericArgument::Type(syn::Type::Path(t)) => {
                Some(t.path.segments.last()?.ident.to_string())
            }
            _ => None,
        }
    };
    match ident.as_str() {
        "bool" => Some(FieldType::Bool),
        "String" => Some(FieldType::Str),
        "CfgValue" => Some(FieldType::Any),
        "Option" => match inner()?.as_str() {
            "String" => Some(FieldType::OptStr),
            "CfgValue" => Some(FieldType::OptAny),
            other => int(other).map(FieldType::OptInt),
        },
        "Vec" => (inner()? == "String").then_some(FieldType::Strs),
        other => int(other).map(FieldType::Int),
    }
}

/// The `pub static MODULE` of a module's root file.
pub fn scan_module_static(
    src: &Source,
    item: &syn::ItemStatic,
    errors: &mut Vec<ScanError>,
) -> Option<ModuleStatic> {
    if item.ident != "MODULE" {
        return None;
    }
    let line = item.span().start().line;
    if !src.is_module_root {
        errors.push(err(
            src,
            line,
            "`static MODULE` belongs in the module's root file (mod.rs)".into(),
        ));
        return None;
    }
    let mut name = None;
    let mut always_present = false;
    let mut e: &syn::Expr = &item.expr;
    loop {
        match e {
            syn::Expr::MethodCall(mc) => {
                if mc.method == "always_present" {
                    always_present = true;
                }
                e = &mc.receiver;
            }
            syn::Expr::Call(c) => {
                if let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                })) = c.args.first()
                {
                    name = Some(s.value());
                }
                break;
            }
            _ => break,
        }
    }
    let Some(name) = name else {
        errors.push(err(
            src,
            line,
            "`static MODULE` must be `Module::new(\"<loadmodule name>\", \"<summary>\")...`".into(),
        ));
        return None;
    };
    Some(ModuleStatic {
        folder: src.ksr_module.clone(),
        name,
        always_present,
        rust_path: format!("{}::MODULE", src.rust_path),
        file: src.label.clone(),
        line,
    })
}

fn lit_text(l: &syn::Lit) -> String {
    match l {
        syn::Lit::Str(s) => format!("{:?}", s.value()),
        syn::Lit::Int(i) => i.base10_digits().to_owned(),
        syn::Lit::Bool(b) => {
            if b.value {
                "1".into()
            } else {
                "0".into()
            }
        }
        _ => String::new(),
    }
}

fn range_expr(p: &ParamField) -> String {
    if let Some(vs) = &p.one_of {
        let items: Vec<String> = vs.iter().map(i64::to_string).collect();
        format!("crate::module::Range::OneOf(&[{}])", items.join(", "))
    } else if let Some((lo, hi)) = p.range {
        format!("crate::module::Range::Between({lo}, {hi})")
    } else if p.ty == FieldType::Bool {
        "crate::module::Range::OneOf(&[0, 1])".into()
    } else {
        "crate::module::Range::Any".into()
    }
}

/// The reading of one field from `v`, the `ParamValues`.
fn read_expr(p: &ParamField) -> String {
    let n = format!("{:?}", p.name);
    let d = p.default.as_ref();
    let int_default = || d.map(lit_text).unwrap_or_else(|| "0".into());
    match p.ty {
        FieldType::Int(t) => format!(
            "v.int({n}).map_or({def}, |x| {t}::try_from(x).unwrap_or(if x < 0 {{ {t}::MIN }} else {{ {t}::MAX }}))",
            def = int_default()
        ),
        FieldType::Bool => format!(
            "v.int({n}).map_or({}, |x| x != 0)",
            d.is_some_and(|l| lit_text(l) == "1")
        ),
        FieldType::Str => format!(
            "v.str({n}).map_or_else(|| {}.to_owned(), str::to_owned)",
            d.map(lit_text).unwrap_or_else(|| "\"\"".into())
        ),
        FieldType::OptStr => match d {
            Some(l) => format!("Some(v.str({n}).unwrap_or({}).to_owned())", lit_text(l)),
            None => format!("v.str({n}).map(str::to_owned)"),
        },
        FieldType::OptInt(t) => format!(
            "v.int({n}).map(|x| {t}::try_from(x).unwrap_or(if x < 0 {{ {t}::MIN }} else {{ {t}::MAX }})){}",
            d.map(|l| format!(".or(Some({}))", lit_text(l))).unwrap_or_default()
        ),
        FieldType::Strs => format!("v.strs({n})"),
        FieldType::Any => {
            let def = match d {
                Some(syn::Lit::Str(s)) => format!("crate::config::CfgValue::Str({:?}.to_owned())", s.value()),
                Some(l) => format!("crate::config::CfgValue::Int({})", lit_text(l)),
                None => "crate::config::CfgValue::Int(0)".into(),
            };
            format!("v.get({n}).cloned().unwrap_or_else(|| {def})")
        }
        FieldType::OptAny => format!("v.get({n}).cloned()"),
    }
}

/// Writes the module table and each parameter struct's `FromModParams`.
pub fn render(
    out: &mut String,
    structs: &[ParamStruct],
    statics: &[ModuleStatic],
    module_docs: &[(String, String)],
) {
    use std::fmt::Write;
    for s in structs {
        let _ = writeln!(
            out,
            "\nimpl crate::module::FromModParams for {} {{\n    const DECLS: &'static [crate::module::ParamDecl] = &[",
            s.rust_path
        );
        for p in &s.fields {
            let _ = writeln!(
                out,
                "        crate::module::ParamDecl {{ name: {:?}, kind: crate::module::ParamKind::{}, repeatable: {}, default: {:?}, range: {}, effective: {}, doc: {:?}, source: {:?} }},",
                p.name,
                p.ty.kind(),
                p.ty == FieldType::Strs,
                p.default.as_ref().map(lit_text).unwrap_or_default(),
                range_expr(p),
                p.effective,
                if p.effective { p.doc.clone() } else if p.doc.is_empty() { "Accepted for compatibility; no effect in kemid.".to_owned() } else { format!("{} Accepted for compatibility; no effect in kemid.", p.doc) },
                format!("{}:{}", s.file, p.line),
            );
        }
        let _ = writeln!(
            out,
            "    ];\n    #[allow(clippy::unnecessary_cast, clippy::cast_lossless, clippy::useless_conversion, clippy::unnecessary_lazy_evaluations, clippy::unnecessary_map_or)]\n    fn from_values(v: &crate::module::ParamValues<'_>) -> Self {{\n        Self {{"
        );
        for p in &s.fields {
            let _ = writeln!(out, "            {}: {},", p.field, read_expr(p));
        }
        let _ = writeln!(out, "        }}\n    }}\n}}");
    }
    out.push_str("\nstatic MODULE_TABLE: &[crate::module::ModuleEntry] = &[\n");
    for m in statics {
        let params = structs
            .iter()
            .find(|s| s.folder == m.folder)
            .map(|s| format!("<{} as crate::module::FromModParams>::DECLS", s.rust_path))
            .unwrap_or_else(|| "&[]".into());
        let doc = module_docs
            .iter()
            .find(|(f, _)| *f == m.folder)
            .map(|(_, d)| d.as_str())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "    crate::module::ModuleEntry {{ folder: {:?}, module: &{}, params: {params}, doc: {:?} }},",
            m.folder, m.rust_path, doc
        );
    }
    out.push_str("];\n");
}
