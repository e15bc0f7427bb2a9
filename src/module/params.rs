//! Module parameters: the declarations the build step generates from each
//! module's `ModParams` struct, the checks the cfg reader applies to every
//! `modparam`, and the view a module's struct is read from.

use crate::config::{CfgValue, ModParam};

/// The type a parameter takes, as Kamailio's `PARAM_INT` / `PARAM_STRING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Str,
    /// An integer or a string (Kamailio takes both for a few parameters).
    Any,
}

impl ParamKind {
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::Int => "int",
            ParamKind::Str => "str",
            ParamKind::Any => "int or str",
        }
    }
}

/// Limits on an integer parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Any integer.
    Any,
    /// From `.0` to `.1`, both included.
    Between(i64, i64),
    /// One of these.
    OneOf(&'static [i64]),
}

impl Range {
    pub fn allows(self, v: i64) -> bool {
        match self {
            Range::Any => true,
            Range::Between(lo, hi) => (lo..=hi).contains(&v),
            Range::OneOf(vs) => vs.contains(&v),
        }
    }

    /// `0 to 255`, `0, 1 or 2`; empty for any.
    pub fn describe(self) -> String {
        match self {
            Range::Any => String::new(),
            Range::Between(lo, hi) => format!("{lo} to {hi}"),
            Range::OneOf(vs) => {
                let items: Vec<String> = vs.iter().map(i64::to_string).collect();
                match items.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => items.join(""),
                }
            }
        }
    }
}

/// One parameter of a module.
#[derive(Debug)]
pub struct ParamDecl {
    pub name: &'static str,
    pub kind: ParamKind,
    /// The parameter may be given several times, each value kept
    /// (Kamailio's list parameters such as htable's `htable`).
    pub repeatable: bool,
    /// The default, as written in the docs (`70`, `"received"`, or empty
    /// when there is none).
    pub default: &'static str,
    pub range: Range,
    /// Whether kemid acts on it; an accepted but inert parameter is logged
    /// as such at start-up.
    pub effective: bool,
    pub doc: &'static str,
    /// `file:line` of the declaration.
    pub source: &'static str,
}

/// Finds parameter `name` of `params` (names are case-insensitive, as in
/// Kamailio).
pub fn find_param<'a>(params: &'a [ParamDecl], name: &str) -> Option<&'a ParamDecl> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Checks `modparam(module, name, value)` against the declaration of
/// `module`; the error says what is accepted.
pub fn check_modparam(
    module: &str,
    params: &'static [ParamDecl],
    name: &str,
    value: &CfgValue,
) -> Result<&'static ParamDecl, String> {
    let Some(decl) = find_param(params, name) else {
        let names: Vec<&str> = params.iter().map(|p| p.name).collect();
        return Err(if names.is_empty() {
            format!("module `{module}` has no parameters")
        } else {
            let hint = names
                .iter()
                .find(|n| close(n, name))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            format!(
                "module `{module}` has no parameter `{name}`{hint}; it has: {}",
                names.join(", ")
            )
        });
    };
    match (decl.kind, value) {
        (ParamKind::Int, CfgValue::Str(s)) => {
            return Err(format!(
                "modparam(\"{module}\", \"{name}\") takes a number{}, not the string \"{s}\"",
                accepted(decl)
            ))
        }
        (ParamKind::Str, CfgValue::Int(i)) => {
            return Err(format!(
                "modparam(\"{module}\", \"{name}\") takes a quoted string, not the number {i}"
            ))
        }
        (_, CfgValue::Int(i)) if !decl.range.allows(*i) => {
            return Err(format!(
                "modparam(\"{module}\", \"{name}\", {i}): out of range; accepted: {}",
                decl.range.describe()
            ))
        }
        _ => {}
    }
    Ok(decl)
}

fn accepted(decl: &ParamDecl) -> String {
    match decl.range {
        Range::Any => String::new(),
        r => format!(" ({})", r.describe()),
    }
}

/// Whether two names differ by little (a typo): same letters but one, or
/// one letter more or less.
fn close(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    prefix + suffix + 1 >= a.len().max(b.len())
}

/// The `modparam`s a configuration gives one module, read by the generated
/// [`FromModParams`] code.
#[derive(Clone, Copy)]
pub struct ParamValues<'a> {
    module: &'a str,
    all: &'a [ModParam],
}

impl<'a> ParamValues<'a> {
    pub fn new(module: &'a str, all: &'a [ModParam]) -> ParamValues<'a> {
        ParamValues { module, all }
    }

    /// The value set last.
    pub fn get(&self, name: &str) -> Option<&'a CfgValue> {
        self.all
            .iter()
            .rev()
            .find(|p| p.module == self.module && p.name.eq_ignore_ascii_case(name))
            .map(|p| &p.value)
    }

    /// Every value given, in order (a repeatable parameter).
    pub fn get_all(&self, name: &str) -> impl Iterator<Item = &'a CfgValue> + 'a {
        let module = self.module;
        let name = name.to_owned();
        self.all
            .iter()
            .filter(move |p| p.module == module && p.name.eq_ignore_ascii_case(&name))
            .map(|p| &p.value)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            CfgValue::Int(i) => Some(*i),
            CfgValue::Str(s) => s.trim().parse().ok(),
        }
    }

    pub fn str(&self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            CfgValue::Str(s) => Some(s),
            CfgValue::Int(_) => None,
        }
    }

    /// Every string given to a repeatable parameter.
    pub fn strs(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .map(|v| match v {
                CfgValue::Str(s) => s.clone(),
                CfgValue::Int(i) => i.to_string(),
            })
            .collect()
    }
}

/// A module's parameter struct: read from the configuration by code the
/// build step generates from its declaration.
pub trait FromModParams: Sized {
    /// The declarations, one per field.
    const DECLS: &'static [ParamDecl];
    /// The struct for these values, defaults where a value is not given.
    fn from_values(values: &ParamValues<'_>) -> Self;
}

#[cfg(test)]
mod tests {
    use super::*;

    static DECLS: &[ParamDecl] = &[ParamDecl {
        name: "max_limit",
        kind: ParamKind::Int,
        repeatable: false,
        default: "70",
        range: Range::Between(0, 255),
        effective: true,
        doc: "",
        source: "",
    }];

    #[test]
    fn checks_name_type_and_range() {
        assert!(check_modparam("maxfwd", DECLS, "MAX_LIMIT", &CfgValue::Int(10)).is_ok());
        let e = check_modparam("maxfwd", DECLS, "max_limit", &CfgValue::Int(300)).unwrap_err();
        assert!(e.contains("out of range; accepted: 0 to 255"), "{e}");
        let e =
            check_modparam("maxfwd", DECLS, "max_limit", &CfgValue::Str("x".into())).unwrap_err();
        assert!(e.contains("takes a number (0 to 255)"), "{e}");
        let e = check_modparam("maxfwd", DECLS, "max_limt", &CfgValue::Int(1)).unwrap_err();
        assert!(e.contains("did you mean `max_limit`"), "{e}");
    }

    #[test]
    fn ranges_describe_themselves() {
        assert_eq!(Range::OneOf(&[0, 1, 2]).describe(), "0, 1 or 2");
        assert_eq!(Range::OneOf(&[0]).describe(), "0");
        assert!(!Range::OneOf(&[0, 1]).allows(2));
    }
}
