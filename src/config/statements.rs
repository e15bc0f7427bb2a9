//! Reads the statements of a preprocessed configuration into a [`Config`].

use std::path::{Path, PathBuf};

use super::core_params::{Applied, CoreParams};
use super::preprocess::Preprocessed;
use super::{At, CfgValue, Config, ConfigError, KemiCallbacks, ModParam};
use crate::engine::Lang;

/// Native routing block keywords: kemid refuses them.
const ROUTE_BLOCKS: &[&str] = &[
    "request_route",
    "route",
    "reply_route",
    "onreply_route",
    "failure_route",
    "branch_route",
    "branch_failure_route",
    "onsend_route",
    "event_route",
    "local_route",
];

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    pre: &'a Preprocessed,
    main: &'a Path,
}

impl<'a> Cursor<'a> {
    fn at(&self) -> At {
        match self.pre.origins.get(self.line) {
            Some(o) => At {
                file: o.file.clone(),
                line: o.line,
            },
            None => At {
                file: self.main.to_owned(),
                line: 0,
            },
        }
    }

    fn error(&self, message: impl Into<String>) -> ConfigError {
        let at = self.at();
        ConfigError {
            file: at.file,
            line: at.line,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace() || c == ';') {
            self.bump();
        }
    }

    fn skip_inline_space(&mut self) {
        while self
            .peek()
            .is_some_and(|c| c == ' ' || c == '\t' || c == '\r')
        {
            self.bump();
        }
    }

    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn expect(&mut self, want: char, what: &str) -> Result<(), ConfigError> {
        self.skip_space();
        if self.peek() == Some(want) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!("expected `{want}` {what}")))
        }
    }

    /// A quoted string, escapes resolved.
    fn string(&mut self, what: &str) -> Result<String, ConfigError> {
        self.skip_space();
        let q = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error(format!("expected a quoted string {what}"))),
        };
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.error("a string is not closed on its line")),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                    None => return Err(self.error("a string is not closed")),
                },
                Some(c) if c == q => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// A string or an integer.
    fn value(&mut self) -> Result<CfgValue, ConfigError> {
        self.skip_space();
        match self.peek() {
            Some('"' | '\'') => {
                // Adjacent strings concatenate, as in Kamailio.
                // Adjacent strings concatenate, also across lines, as in
                // Kamailio.
                let mut s = self.string("")?;
                loop {
                    while self.peek().is_some_and(char::is_whitespace) {
                        self.bump();
                    }
                    if matches!(self.peek(), Some('"' | '\'')) {
                        s.push_str(&self.string("")?);
                    } else {
                        return Ok(CfgValue::Str(s));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.pos;
                self.bump();
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.bump();
                }
                let text = &self.text[start..self.pos];
                text.parse()
                    .map(CfgValue::Int)
                    .map_err(|_| self.error(format!("`{text}` is not a whole number")))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let w = self.word();
                match w.to_ascii_lowercase().as_str() {
                    "yes" | "on" | "true" => Ok(CfgValue::Int(1)),
                    "no" | "off" | "false" => Ok(CfgValue::Int(0)),
                    _ => Err(self.error(format!(
                        "`{w}` is neither a quoted string nor a number (an undefined #!define?)"
                    ))),
                }
            }
            _ => Err(self.error("expected a value: a quoted string or a number")),
        }
    }

    /// The rest of the line after `name =`, up to `;` outside quotes.
    fn rest_of_line(&mut self) -> &'a str {
        let start = self.pos;
        let mut quote = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (_, '\n') => break,
                (None, ';') => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            self.bump();
        }
        self.text[start..self.pos].trim()
    }
}

/// Parses the statements of `pre`, the preprocessed `main` file.
pub fn parse(main: &Path, pre: &Preprocessed) -> Result<Config, ConfigError> {
    let mut c = Cursor {
        text: &pre.text,
        pos: 0,
        line: 0,
        pre,
        main,
    };
    let mut core = CoreParams::default();
    let mut modules: Vec<String> = Vec::new();
    let mut loadmodule_at: Vec<At> = Vec::new();
    let mut modparams: Vec<ModParam> = Vec::new();
    let mut engine: Option<(Lang, At)> = None;
    let mut kemi = KemiCallbacks::default();
    let mut notices = Vec::new();

    loop {
        c.skip_space();
        let Some(ch) = c.peek() else { break };
        if !(ch.is_ascii_alphabetic() || ch == '_') {
            return Err(c.error(format!("unexpected `{ch}` at the start of a statement")));
        }
        let at = c.at();
        let word = c.word();
        c.skip_inline_space();
        match word {
            "loadmodule" => {
                let paren = c.peek() == Some('(');
                if paren {
                    c.bump();
                }
                let file = c.string("after loadmodule")?;
                if paren {
                    c.expect(')', "to close loadmodule(")?;
                }
                let name = crate::module::name_of_file(&file).to_owned();
                if crate::module::find(&name).is_none() {
                    return Err(c.error(format!(
                        "kemid has no module `{name}`; available: {}",
                        crate::module::names()
                    )));
                }
                if !modules.contains(&name) {
                    modules.push(name);
                    loadmodule_at.push(at);
                }
            }
            "modparam" => {
                c.expect('(', "after modparam")?;
                let module = c.string("(the module name)")?;
                c.expect(',', "after the module name")?;
                let name = c.string("(the parameter name)")?;
                c.expect(',', "after the parameter name")?;
                let value = c.value()?;
                c.expect(')', "to close modparam(")?;
                let targets = modparam_targets(&modules, &module).map_err(|m| ConfigError {
                    file: at.file.clone(),
                    line: at.line,
                    message: m,
                })?;
                for target in targets {
                    let decl = check_modparam(&target, &name, &value).map_err(|m| ConfigError {
                        file: at.file.clone(),
                        line: at.line,
                        message: m,
                    })?;
                    if !decl.effective {
                        notices.push(format!(
                            "{}:{}: modparam(\"{target}\", \"{name}\") is accepted but has no effect in kemid",
                            at.file.display(),
                            at.line
                        ));
                    }
                    modparams.push(ModParam {
                        module: target,
                        name: name.clone(),
                        value: value.clone(),
                        at: at.clone(),
                    });
                }
            }
            "cfgengine" => {
                if c.peek() == Some('=') {
                    c.bump();
                }
                let name = c.string("after cfgengine")?;
                let lang = Lang::from_cfgengine(&name).ok_or_else(|| {
                    if name.eq_ignore_ascii_case("native") || name.eq_ignore_ascii_case("default") {
                        c.error("cfgengine \"native\": kemid runs KEMI scripts only; use \"jsdt\" (JavaScript) or \"sqlang\" (Squirrel)")
                    } else {
                        c.error(format!("unknown cfgengine \"{name}\"; use \"jsdt\" (JavaScript) or \"sqlang\" (Squirrel)"))
                    }
                })?;
                if !modules.iter().any(|m| m == lang.module_name()) {
                    return Err(c.error(format!(
                        "cfgengine \"{name}\" needs loadmodule \"{}.so\" before it",
                        lang.module_name()
                    )));
                }
                engine = Some((lang, at));
            }
            w if ROUTE_BLOCKS.contains(&w) && matches!(c.peek(), Some('{' | '[')) => {
                return Err(c.error(format!(
                    "native routing block `{w}` is not supported: kemid runs KEMI scripts only; route in JavaScript (cfgengine \"jsdt\") or Squirrel (cfgengine \"sqlang\")"
                )));
            }
            name => {
                if c.peek() != Some('=') {
                    return Err(c.error(format!("unexpected `{name}`: expected `{name} = value`, loadmodule, modparam or cfgengine")));
                }
                c.bump();
                let raw = c.rest_of_line();
                if raw.is_empty() {
                    return Err(c.error(format!("`{name} =` needs a value")));
                }
                if let Some(kparam) = name.strip_prefix("kemi.") {
                    set_kemi(&mut kemi, kparam, raw).map_err(|m| c.error(m))?;
                    continue;
                }
                match core.set(name, raw) {
                    Ok(Applied::Done) => {}
                    Ok(Applied::Inert(notice)) => {
                        notices.push(format!("{}:{}: {notice}", at.file.display(), at.line))
                    }
                    Err(m) => return Err(c.error(m)),
                }
            }
        }
    }

    check_dependencies(&modules, &loadmodule_at)?;
    let Some((lang, engine_at)) = engine else {
        return Err(ConfigError {
            file: main.to_owned(),
            line: 0,
            message: "no cfgengine: add `loadmodule \"app_jsdt.so\"`, `modparam(\"app_jsdt\", \"load\", \"route.js\")` and `cfgengine \"jsdt\"` (or app_sqlang / \"sqlang\" for Squirrel)".into(),
        });
    };
    let script = modparams
        .iter()
        .rev()
        .find(|p| p.module == lang.module_name() && p.name == "load")
        .and_then(|p| match &p.value {
            CfgValue::Str(s) => Some(s.clone()),
            CfgValue::Int(_) => None,
        })
        .ok_or_else(|| ConfigError {
            file: engine_at.file.clone(),
            line: engine_at.line,
            message: format!(
                "no script to run: add modparam(\"{}\", \"load\", \"<script file>\")",
                lang.module_name()
            ),
        })?;
    let base = main.parent().unwrap_or(Path::new("."));
    let script = if Path::new(&script).is_absolute() {
        PathBuf::from(script)
    } else {
        base.join(script)
    };
    Ok(Config {
        file: main.to_owned(),
        core,
        modules,
        modparams,
        engine: lang,
        script,
        kemi,
        notices,
    })
}

/// The loaded modules a `modparam` names: one module, or every loaded
/// module matching a regular expression (`"nathelper|registrar"`), as
/// Kamailio matches it: the whole name, ignoring case.
fn modparam_targets(loaded: &[String], module: &str) -> Result<Vec<String>, String> {
    let plain = module
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        if crate::module::find(module).is_none() {
            return Err(format!(
                "modparam for unknown module `{module}`; available: {}",
                crate::module::names()
            ));
        }
        if !loaded.iter().any(|m| m == module) {
            return Err(format!(
                "modparam(\"{module}\", ...) before loadmodule \"{module}.so\""
            ));
        }
        return Ok(vec![module.to_owned()]);
    }
    let re = regex::RegexBuilder::new(&format!("^({module})$"))
        .case_insensitive(true)
        .size_limit(1 << 16)
        .build()
        .map_err(|e| {
            format!("modparam module name `{module}` is not a valid regular expression: {e}")
        })?;
    let matched: Vec<String> = loaded.iter().filter(|m| re.is_match(m)).cloned().collect();
    if matched.is_empty() {
        return Err(format!(
            "modparam(\"{module}\", ...): no module loaded before it matches; loaded: {}",
            loaded.join(", ")
        ));
    }
    Ok(matched)
}

fn check_modparam(
    module: &str,
    name: &str,
    value: &CfgValue,
) -> Result<&'static crate::module::ParamDecl, String> {
    let entry = crate::module::find(module).ok_or_else(|| format!("no module `{module}`"))?;
    crate::module::check_modparam(module, entry.params, name, value)
}

/// Every loaded module's dependencies are loaded too; the error names the
/// `loadmodule` line of the module that needs one.
fn check_dependencies(modules: &[String], at: &[At]) -> Result<(), ConfigError> {
    for (name, at) in modules.iter().zip(at) {
        let Some(entry) = crate::module::find(name) else {
            continue;
        };
        for dep in entry.module.deps() {
            if !modules.iter().any(|m| m == dep.module) {
                return Err(ConfigError {
                    file: at.file.clone(),
                    line: at.line,
                    message: format!(
                        "module `{name}` needs module `{}` ({}): add loadmodule \"{}.so\"",
                        dep.module, dep.why, dep.module
                    ),
                });
            }
        }
    }
    Ok(())
}

fn set_kemi(kemi: &mut KemiCallbacks, name: &str, raw: &str) -> Result<(), String> {
    let v = raw.trim().trim_matches('"').to_owned();
    let callback = if v.eq_ignore_ascii_case("none") || v.is_empty() {
        None
    } else {
        Some(v)
    };
    match name {
        "reply_route_callback" => kemi.reply_route = callback,
        "onsend_route_callback" => kemi.onsend_route = callback,
        "event_route_callback" => kemi.event_route = callback,
        // The JS and Squirrel engines always call ksr_request_route.
        "request_route_callback" | "received_route_callback" | "pre_routing_callback" => {}
        other => return Err(format!("unknown parameter kemi.{other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::from_text(Path::new("/etc/kemid/k.cfg"), text, &[])
    }

    const BASE: &str = "loadmodule \"app_jsdt.so\"\nmodparam(\"app_jsdt\", \"load\", \"route.js\")\ncfgengine \"jsdt\"\n";

    #[test]
    fn a_typical_kemi_config() {
        let c = cfg(&format!(
            "#!KAMAILIO\n#!define WITH_DEBUG\n#!ifdef WITH_DEBUG\ndebug=3\n#!endif\nchildren=2\nlisten=udp:127.0.0.1:5070\nlisten=tcp:127.0.0.1:5070\nalias=\"example.com\"\nmpath=\"/usr/lib/kamailio/modules/\"\nloadmodule \"kex.so\"\nloadmodule \"xlog.so\"\nkemi.onsend_route_callback=\"none\"\n{BASE}"
        ))
        .expect("valid");
        assert_eq!(c.core.debug, 3);
        assert_eq!(c.core.children, 2);
        assert_eq!(c.core.listen.len(), 2);
        assert_eq!(c.core.aliases, ["example.com"]);
        assert_eq!(c.engine, Lang::Js);
        assert_eq!(c.script, Path::new("/etc/kemid/route.js"));
        assert_eq!(c.modules, ["kex", "xlog", "app_jsdt"]);
        assert_eq!(c.kemi.onsend_route, None);
        assert_eq!(c.notices.len(), 1, "{:?}", c.notices);
        assert!(c.notices[0].contains("mpath"));
    }

    #[test]
    fn multi_line_modparam_and_adjacent_strings() {
        let c = cfg("loadmodule \"app_sqlang.so\"\nmodparam(\"app_sqlang\",\n   \"load\",\n   \"/srv/\" \"r.nut\")\ncfgengine=\"sqlang\"\n")
            .expect("valid");
        assert_eq!(c.script, Path::new("/srv/r.nut"));
        assert_eq!(c.engine, Lang::Squirrel);
    }

    #[test]
    fn adjacent_strings_across_lines_and_module_regexes() {
        let c = cfg(&format!(
            "loadmodule \"tm\"\nloadmodule \"/usr/lib/kamailio/modules/usrloc.so\"\nloadmodule \"registrar.so\"\n\
             modparam(\"nathelper|REGISTRAR\", \"received_avp\", \"$avp(\"\n  \"RECEIVED)\")\n\
             modparam(\"usrloc|tm\", \"xavp_contact\", \"ulattrs\")\n{BASE}"
        ))
        .expect("valid");
        let targets: Vec<(&str, &str)> = c
            .modparams
            .iter()
            .map(|p| (p.module.as_str(), p.name.as_str()))
            .collect();
        assert_eq!(
            targets[..3],
            [
                ("registrar", "received_avp"),
                ("tm", "xavp_contact"),
                ("usrloc", "xavp_contact")
            ]
        );
        assert_eq!(
            c.modparam("registrar", "received_avp"),
            Some(&CfgValue::Str("$avp(RECEIVED)".into()))
        );
        assert!(fails(&format!("loadmodule \"tm.so\"\nmodparam(\"nosuch|other\", \"x\", 1)\n{BASE}"))
            .starts_with("/etc/kemid/k.cfg:2: modparam(\"nosuch|other\", ...): no module loaded before it matches"));
    }

    #[test]
    fn a_missing_dependency_names_the_loadmodule_line() {
        let e = fails(&format!("debug=1\nloadmodule \"registrar.so\"\n{BASE}"));
        assert!(
            e.starts_with("/etc/kemid/k.cfg:2: module `registrar` needs module `usrloc`"),
            "{e}"
        );
        assert!(e.contains("add loadmodule \"usrloc.so\""), "{e}");
    }

    fn fails(text: &str) -> String {
        cfg(text).expect_err("invalid").to_string()
    }

    #[test]
    fn faults_name_file_and_line() {
        assert!(fails("debug=2\nloadmodule \"auth_db.so\"\n")
            .starts_with("/etc/kemid/k.cfg:2: kemid has no module `auth_db`; available: "));
        assert!(
            fails(&format!("{BASE}modparam(\"app_jsdt\", \"lod\", \"x\")\n"))
                .starts_with("/etc/kemid/k.cfg:4: module `app_jsdt` has no parameter `lod`")
        );
        assert!(
            fails(&format!("{BASE}modparam(\"app_jsdt\", \"mode\", \"x\")\n"))
                .starts_with("/etc/kemid/k.cfg:4: modparam(\"app_jsdt\", \"mode\") takes a number")
        );
        assert!(fails(&format!("{BASE}modparam(\"nosuch\", \"a\", 1)\n"))
            .starts_with("/etc/kemid/k.cfg:4: modparam for unknown module `nosuch`"));
        assert!(
            fails(&format!("{BASE}\nrequest_route {{\n  exit;\n}}\n")).starts_with(
                "/etc/kemid/k.cfg:5: native routing block `request_route` is not supported"
            )
        );
        assert!(fails(&format!("{BASE}children=lots\n"))
            .starts_with("/etc/kemid/k.cfg:4: children takes a whole number"));
        assert!(fails(&format!("{BASE}frobnicate=1\n"))
            .starts_with("/etc/kemid/k.cfg:4: unknown global parameter `frobnicate`"));
        assert!(fails("cfgengine \"jsdt\"\n").contains("needs loadmodule \"app_jsdt.so\""));
        assert!(fails("debug=1\n").contains("no cfgengine"));
        assert!(fails("loadmodule \"app_jsdt.so\"\ncfgengine \"jsdt\"\n")
            .starts_with("/etc/kemid/k.cfg:2: no script to run"));
        assert!(fails("loadmodule \"app_jsdt.so\"\ncfgengine \"native\"\n")
            .contains("KEMI scripts only"));
    }

    #[test]
    fn module_names_from_paths() {
        assert_eq!(crate::module::name_of_file("tm.so"), "tm");
        assert_eq!(
            crate::module::name_of_file("/usr/lib/kamailio/modules/app_jsdt.so"),
            "app_jsdt"
        );
        assert_eq!(crate::module::name_of_file("xlog"), "xlog");
    }
}
