//! The view of the registry that the templates render: per module, per
//! function, with the text already split into comment lines and the types
//! already spelt for each target language.

use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::registry::{self, Export, ParamType, RetType};

#[derive(Serialize)]
pub struct ApiModel {
    pub notice: &'static str,
    pub count: usize,
    pub modules: Vec<ModuleView>,
    /// Loadable modules with no `KSR` functions (usrloc, ctl, ...).
    pub others: Vec<ModuleView>,
}

#[derive(Serialize)]
pub struct ModuleView {
    pub notice: &'static str,
    /// `""` for core.
    pub name: &'static str,
    /// `KSR` or `KSR.tm`.
    pub path: String,
    /// The docs file stem: `core` or the module name.
    pub file: &'static str,
    pub is_core: bool,
    /// The `loadmodule` name, `""` when always present.
    pub provided_by: &'static str,
    pub doc: &'static str,
    pub doc_lines: Vec<String>,
    /// How many functions.
    pub count: usize,
    pub functions: Vec<FunctionView>,
    /// Its declaration, when it is a loadable module.
    pub module: Option<DeclView>,
}

/// What a module declares besides its functions.
#[derive(Serialize)]
pub struct DeclView {
    /// The `loadmodule` name.
    pub loadmodule: &'static str,
    pub summary: &'static str,
    pub deps: Vec<DepView>,
    pub params: Vec<ModParamView>,
    pub rpc: Vec<RpcView>,
    pub stats: Vec<StatView>,
    pub timers: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct DepView {
    pub module: &'static str,
    pub why: &'static str,
}

#[derive(Serialize, Clone)]
pub struct ModParamView {
    pub name: &'static str,
    pub kind: &'static str,
    pub default: String,
    pub range: String,
    pub repeatable: bool,
    pub effective: bool,
    pub doc: String,
}

#[derive(Serialize)]
pub struct RpcView {
    pub name: &'static str,
    pub help: &'static str,
}

#[derive(Serialize)]
pub struct StatView {
    /// `tm:relayed_replies`.
    pub name: String,
    pub kind: &'static str,
    pub doc: &'static str,
}

impl DeclView {
    fn new(e: &crate::module::ModuleEntry) -> DeclView {
        let m = e.module;
        DeclView {
            loadmodule: m.name(),
            summary: m.summary(),
            deps: m
                .deps()
                .iter()
                .map(|d| DepView {
                    module: d.module,
                    why: d.why,
                })
                .collect(),
            params: e.params.iter().map(ModParamView::new).collect(),
            rpc: m
                .rpc_methods()
                .into_iter()
                .map(|(name, help)| RpcView { name, help })
                .collect(),
            stats: m
                .stat_decls()
                .into_iter()
                .map(|(name, kind, doc)| StatView {
                    name: format!("{}:{name}", m.name()),
                    kind: kind.name(),
                    doc,
                })
                .collect(),
            timers: m.timer_decls(),
        }
    }
}

impl ModParamView {
    pub fn new(p: &crate::module::ParamDecl) -> ModParamView {
        ModParamView {
            name: p.name,
            kind: p.kind.name(),
            default: if p.default.is_empty() {
                "none".into()
            } else {
                p.default.to_owned()
            },
            range: p.range.describe(),
            repeatable: p.repeatable,
            effective: p.effective,
            doc: p.doc.replace('\n', " ").replace('|', "\\|"),
        }
    }
}

#[derive(Serialize)]
pub struct FunctionView {
    pub name: &'static str,
    /// `KSR.tm.t_relay`.
    pub path: String,
    /// Lines of the JSDoc block, without the ` * ` prefix.
    pub jsdoc: Vec<String>,
    /// TypeScript parameter list: `code: number, reason: string`.
    pub ts_params: String,
    pub ts_ret: String,
    /// Squirrel parameter list: `code, reason`.
    pub sq_params: String,
    /// Lines of the Squirrel doc comment (types in braces).
    pub sqdoc: Vec<String>,
    /// `int KSR.sl.sl_send_reply(int code, str reason)`.
    pub signature: String,
    pub doc: &'static str,
    pub params: Vec<ParamView>,
    pub returns: &'static str,
    pub deprecated: Option<&'static str>,
    pub example_js: &'static str,
    pub example_sq: String,
    pub toplevel: bool,
    pub source: &'static str,
}

#[derive(Serialize)]
pub struct ParamView {
    pub name: &'static str,
    pub kemi: &'static str,
    pub ts: &'static str,
    /// Markdown-table-safe description.
    pub doc: String,
}

impl ApiModel {
    pub fn from_registry() -> ApiModel {
        let modules: Vec<ModuleView> = registry::modules()
            .iter()
            .map(|m| {
                let functions: Vec<FunctionView> = registry::exports()
                    .iter()
                    .filter(|e| e.module == m.name)
                    .map(FunctionView::new)
                    .collect();
                ModuleView {
                    notice: super::GENERATED_NOTICE,
                    name: m.name,
                    path: if m.name.is_empty() {
                        "KSR".into()
                    } else {
                        format!("KSR.{}", m.name)
                    },
                    file: if m.name.is_empty() { "core" } else { m.name },
                    is_core: m.name.is_empty(),
                    provided_by: m.provided_by,
                    doc: m.doc,
                    doc_lines: m.doc.lines().map(comment_safe).collect(),
                    count: functions.len(),
                    functions,
                    module: crate::module::all()
                        .iter()
                        .find(|e| e.folder == if m.name.is_empty() { "core" } else { m.name })
                        .map(DeclView::new),
                }
            })
            .collect();
        let others = crate::module::all()
            .iter()
            .filter(|e| !modules.iter().any(|m| m.file == e.folder))
            .map(|e| ModuleView {
                notice: super::GENERATED_NOTICE,
                name: e.folder,
                path: e.module.name().to_owned(),
                file: e.folder,
                is_core: false,
                provided_by: e.module.name(),
                doc: e.doc,
                doc_lines: e.doc.lines().map(comment_safe).collect(),
                count: 0,
                functions: Vec::new(),
                module: Some(DeclView::new(e)),
            })
            .collect();
        ApiModel {
            notice: super::GENERATED_NOTICE,
            count: registry::exports().len(),
            modules,
            others,
        }
    }
}

fn ts_type(t: ParamType) -> &'static str {
    match t {
        ParamType::Int => "number",
        ParamType::Str => "string",
    }
}

fn ts_return(e: &Export) -> String {
    if e.diverges {
        return "never".into();
    }
    match e.ret {
        RetType::None => "void".into(),
        RetType::Int => "number".into(),
        RetType::Bool => "boolean".into(),
        RetType::XVal => {
            let mut kinds = Vec::new();
            if e.xval.str {
                kinds.push("string");
            }
            if e.xval.int {
                kinds.push("number");
            }
            if e.xval.null {
                kinds.push("null");
            }
            kinds.join(" | ")
        }
    }
}

fn sq_return(e: &Export) -> String {
    match e.ret {
        RetType::None => "void".into(),
        RetType::Int => "integer".into(),
        RetType::Bool => "bool".into(),
        RetType::XVal => {
            let mut kinds = Vec::new();
            if e.xval.str {
                kinds.push("string");
            }
            if e.xval.int {
                kinds.push("integer");
            }
            if e.xval.null {
                kinds.push("null");
            }
            kinds.join("|")
        }
    }
}

fn sq_type(t: ParamType) -> &'static str {
    match t {
        ParamType::Int => "integer",
        ParamType::Str => "string",
    }
}

/// Keeps a comment's text from closing the comment early.
fn comment_safe(s: &str) -> String {
    s.replace("*/", "*\\/")
}

impl FunctionView {
    fn new(e: &'static Export) -> FunctionView {
        let mut jsdoc: Vec<String> = e.doc.lines().map(comment_safe).collect();
        let mut sqdoc = jsdoc.clone();
        for p in e.params {
            jsdoc.push(format!("@param {} {}", p.name, comment_safe(p.doc)));
            sqdoc.push(format!(
                "@param {{{}}} {} {}",
                sq_type(p.ty),
                p.name,
                comment_safe(p.doc)
            ));
        }
        if let Some(rest) = e.rest {
            jsdoc.push(format!("@param {rest} further string arguments"));
            sqdoc.push(format!("@param {{string}} {rest} further string arguments"));
        }
        let returns = if e.diverges {
            "never returns to the script".to_owned()
        } else {
            comment_safe(&e.returns.replace('\n', " "))
        };
        if !returns.is_empty() {
            jsdoc.push(format!("@returns {returns}"));
            sqdoc.push(format!("@returns {{{}}} {returns}", sq_return(e)));
        } else {
            sqdoc.push(format!("@returns {{{}}}", sq_return(e)));
        }
        if let Some(d) = e.deprecated {
            jsdoc.push(format!("@deprecated {}", comment_safe(d)));
            sqdoc.push(format!("@deprecated {}", comment_safe(d)));
        }
        let mut ts_params: Vec<String> = e
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, ts_type(p.ty)))
            .collect();
        let mut sq_params: Vec<String> = e.params.iter().map(|p| p.name.to_owned()).collect();
        let mut sig_params: Vec<String> = e
            .params
            .iter()
            .map(|p| format!("{} {}", p.ty.kemi_name(), p.name))
            .collect();
        if let Some(rest) = e.rest {
            ts_params.push(format!("...{rest}: string[]"));
            sq_params.push("...".into());
            sig_params.push(format!("str ...{rest}"));
        }
        FunctionView {
            name: e.name,
            path: e.script_path(),
            jsdoc,
            ts_params: ts_params.join(", "),
            ts_ret: ts_return(e),
            sq_params: sq_params.join(", "),
            sqdoc,
            signature: format!(
                "{} {}({})",
                e.ret.kemi_name(),
                e.script_path(),
                sig_params.join(", ")
            ),
            doc: e.doc,
            params: e
                .params
                .iter()
                .map(|p| ParamView {
                    name: p.name,
                    kemi: p.ty.kemi_name(),
                    ts: ts_type(p.ty),
                    doc: p.doc.replace('|', "\\|"),
                })
                .collect(),
            returns: e.returns,
            deprecated: e.deprecated,
            example_js: e.example,
            example_sq: js_to_squirrel(e.example),
            toplevel: e.toplevel,
            source: e.source,
        }
    }
}

/// Turns a short JavaScript example into Squirrel: the two languages share
/// the call syntax, so only declarations and strict comparisons differ.
pub fn js_to_squirrel(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    for (i, line) in js.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let rest = line.trim_start();
        let rest = ["var ", "let ", "const "]
            .iter()
            .find_map(|kw| rest.strip_prefix(kw))
            .map_or_else(|| rest.to_owned(), |r| format!("local {r}"));
        out.push_str(indent);
        out.push_str(&rest.replace("===", "==").replace("!==", "!="));
    }
    out
}

/// The document `app_jsdt.api_list` answers in Kamailio:
/// `{"msize": N, "methods": [{"func": {"ret", "module", "name", "params"}}]}`;
/// `extended` adds parameter names, docs and a generated-file notice.
pub fn api_document(extended: bool) -> Json {
    let methods: Vec<Json> = registry::exports()
        .iter()
        .map(|e| {
            let params = if e.params.is_empty() {
                "none".to_owned()
            } else {
                e.params
                    .iter()
                    .map(|p| p.ty.kemi_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut func = json!({
                "ret": e.ret.kemi_name(),
                "module": e.module,
                "name": e.name,
                "params": params,
            });
            if extended {
                func["param_names"] = json!(e.params.iter().map(|p| p.name).collect::<Vec<_>>());
                func["doc"] = json!(e.doc);
                func["returns"] = json!(e.returns);
                if let Some(d) = e.deprecated {
                    func["deprecated"] = json!(d);
                }
            }
            json!({ "func": func })
        })
        .collect();
    let mut doc = serde_json::Map::new();
    if extended {
        doc.insert("_generated".into(), json!(super::GENERATED_NOTICE));
    }
    doc.insert("msize".into(), json!(methods.len()));
    doc.insert("methods".into(), Json::Array(methods));
    Json::Object(doc)
}

/// Every module's parameters, as `kemid api --params` prints them and
/// `stubs/kemi-params.json` keeps them: `{"modules": [{"name", "params":
/// [{"name", "type", "default", "accepted", "repeatable", "effective",
/// "doc"}]}]}`.
pub fn params_document() -> Json {
    let mut entries: Vec<&crate::module::ModuleEntry> = crate::module::all().iter().collect();
    entries.sort_by_key(|e| e.module.name());
    let modules: Vec<Json> = entries
        .iter()
        .map(|e| {
            let params: Vec<Json> = e
                .params
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name,
                        "type": p.kind.name(),
                        "default": p.default,
                        "accepted": p.range.describe(),
                        "repeatable": p.repeatable,
                        "effective": p.effective,
                        "doc": p.doc,
                    })
                })
                .collect();
            json!({"name": e.module.name(), "params": params})
        })
        .collect();
    json!({"notice": super::GENERATED_NOTICE, "modules": modules})
}

#[cfg(test)]
mod tests {
    use super::js_to_squirrel;

    #[test]
    fn js_examples_become_squirrel() {
        assert_eq!(
            js_to_squirrel("var x = KSR.pv.get(\"$ru\");\n  if (x === null) {}"),
            "local x = KSR.pv.get(\"$ru\");\n  if (x == null) {}"
        );
    }
}
