//! Pseudo-variables: the `$name(...)` values scripts read and write through
//! `KSR.pv.*` and that `xlog` expands.
//!
//! A spec is parsed from its text on each use; parsing borrows the text, so
//! a lookup allocates nothing. Each kind of variable lives with what it
//! describes: `$var` in the worker ([`WorkerVars`]).

use std::collections::HashMap;

use crate::ctx::Ctx;

mod avp;
mod shared;

pub use avp::Avps;
pub use shared::SharedVars;

/// The value of a pseudo-variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PvValue {
    Null,
    Int(i64),
    Str(String),
}

/// A parsed pseudo-variable name, borrowing the text it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PvSpec<'a> {
    /// `$var(name)`: a per-worker script variable.
    Var(&'a str),
}

/// Why a pseudo-variable name was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct PvError(pub String);

impl std::fmt::Display for PvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> PvSpec<'a> {
    /// Parses `$var(x)` and the other supported names.
    pub fn parse(text: &'a str) -> Result<PvSpec<'a>, PvError> {
        let body = text.strip_prefix('$').ok_or_else(|| {
            PvError(format!(
                "`{text}` is not a pseudo-variable: it must start with `$`"
            ))
        })?;
        let (class, inner) = match body.find('(') {
            Some(open) => {
                let inner = body[open + 1..].strip_suffix(')').ok_or_else(|| {
                    PvError(format!("`{text}`: missing `)` at the end of the name"))
                })?;
                (&body[..open], Some(inner))
            }
            None => (body, None),
        };
        match (class, inner) {
            ("var", Some(name)) if is_var_name(name) => Ok(PvSpec::Var(name)),
            ("var", _) => Err(PvError(format!(
                "`{text}`: a $var name is letters, digits and `_`, as in $var(count)"
            ))),
            _ => Err(PvError(format!("`{text}`: unknown pseudo-variable"))),
        }
    }

    /// Reads the value.
    pub fn get(&self, ctx: &mut Ctx<'_>) -> PvValue {
        match *self {
            PvSpec::Var(name) => ctx.worker().vars.get(name),
        }
    }

    /// Writes the value; `PvValue::Null` unsets it. Fails for read-only
    /// variables.
    pub fn set(&self, ctx: &mut Ctx<'_>, value: PvValue) -> Result<(), PvError> {
        match *self {
            PvSpec::Var(name) => {
                ctx.worker().vars.set(name, value);
                Ok(())
            }
        }
    }
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The `$var(...)` values of one worker. As in Kamailio, a `$var` is never
/// null: one never set, or unset, reads as the integer 0.
#[derive(Debug, Default)]
pub struct WorkerVars {
    values: HashMap<Box<str>, PvValue>,
}

impl WorkerVars {
    pub fn get(&self, name: &str) -> PvValue {
        self.values.get(name).cloned().unwrap_or(PvValue::Int(0))
    }

    pub fn set(&mut self, name: &str, value: PvValue) {
        let value = match value {
            PvValue::Null => PvValue::Int(0),
            v => v,
        };
        match self.values.get_mut(name) {
            // Reuse the string's buffer when a string replaces a string.
            Some(PvValue::Str(old)) if matches!(value, PvValue::Str(_)) => {
                if let PvValue::Str(new) = value {
                    old.clear();
                    old.push_str(&new);
                }
            }
            Some(slot) => *slot = value,
            None => {
                self.values.insert(name.into(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::WorkerLocal;

    #[test]
    fn parses_var_names() {
        assert_eq!(PvSpec::parse("$var(x_1)"), Ok(PvSpec::Var("x_1")));
        assert!(PvSpec::parse("var(x)").is_err());
        assert!(PvSpec::parse("$var(x").is_err());
        assert!(PvSpec::parse("$var()").is_err());
        assert!(PvSpec::parse("$nosuch(x)").is_err());
    }

    #[test]
    fn var_defaults_to_zero_and_persists() {
        let mut w = WorkerLocal::default();
        let spec = PvSpec::parse("$var(a)").expect("valid");
        {
            let mut ctx = Ctx::without_message(&mut w);
            assert_eq!(spec.get(&mut ctx), PvValue::Int(0));
            spec.set(&mut ctx, PvValue::Str("x".into()))
                .expect("writable");
        }
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(spec.get(&mut ctx), PvValue::Str("x".into()));
        spec.set(&mut ctx, PvValue::Null).expect("writable");
        assert_eq!(spec.get(&mut ctx), PvValue::Int(0));
    }
}
