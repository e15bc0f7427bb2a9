//! Pseudo-variables: the `$name(...)` values scripts read and write through
//! `KSR.pv.*` and that `KSR.xlog` expands.
//!
//! A spec ([`PvSpec`]) is parsed from its text on each use; parsing borrows
//! the text, so a lookup allocates nothing. Reading gives a [`PvRef`] that
//! borrows from the message where it can. Each kind of variable lives with
//! what it describes: `$var` in the worker ([`WorkerVars`]), `$avp` in the
//! message state on the context ([`Avps`]), `$shv` in the process
//! ([`SharedVars`]), the others in the message and where it came from.
//!
//! Supported, with their Kamailio names (read-only unless marked
//! writable):
//!
//! - Request-URI: `$ru` `$rU` `$rd` `$rp` (writable), `$rP` `$rz`; as
//!   received: `$ou` `$oU` `$od` `$op` `$oP`; destination: `$du`
//!   (writable, null unsets it), `$dd` `$dp` `$dP`.
//! - From and To: `$fu` `$fU` `$fd` `$fn` and `$tu` `$tU` `$td` `$tn`
//!   (writable: the change is an edit, so reads keep the received value),
//!   `$ft` `$tt`.
//! - Headers and body: `$ci` `$cs` `$csb` `$rm` `$rmid` `$rs` `$rr` `$rv`
//!   `$ua` `$ct` `$cT` `$cl` `$bs` `$rb` `$mb` `$ml` `$mt`, `$hdr(name)`
//!   (with `$(hdr(name)[N])`, `[-1]`, `[*]`), `$hdrc(name)`.
//! - Credentials: `$au` `$ad` `$aU` `$ar` `$adu` `$aa`.
//! - Transport: `$si` `$sp` `$su` `$sut` `$Ri` `$Rp` `$Ru` `$Rut` `$pr`
//!   `$prid`.
//! - Flags (writable with integers): `$mf` `$bf` `$sf`; in hexadecimal
//!   (read-only): `$mF` `$bF` `$sF`.
//! - Variables (writable): `$var(x)`, `$avp(x)` (with `$(avp(x)[N])` and
//!   `[*]`), `$shv(x)`.
//! - Other: `$env(NAME)`, `$Ts`, `$pp`, `$null`.
//!
//! Transformations (`$(ru{uri.user})`) and names built from other
//! variables (`$hdr($var(h))`) are refused with an error.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::ctx::Ctx;
use crate::log;

mod avp;
mod format;
mod message;
mod shared;
mod spec;
pub mod tm;

pub use avp::Avps;
pub use format::expand;
pub(crate) use message::{method as message_method, proto_id};
pub use message::{rewrite_ruri, RuriPart};
pub use shared::SharedVars;
pub use spec::{Builtin, PvClass, PvIndex, PvSpec};

/// The value of a pseudo-variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PvValue {
    Null,
    Int(i64),
    Str(String),
}

/// A value read from a pseudo-variable, borrowing from the message or the
/// variable store when it can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PvRef<'a> {
    Null,
    Int(i64),
    Str(Cow<'a, str>),
}

impl<'a> PvRef<'a> {
    /// A string value, or null when absent.
    pub fn opt(s: Option<&'a str>) -> PvRef<'a> {
        s.map_or(PvRef::Null, |s| PvRef::Str(Cow::Borrowed(s)))
    }

    /// A string value, or null when absent or empty.
    pub fn non_empty(s: Option<&'a str>) -> PvRef<'a> {
        PvRef::opt(s.filter(|s| !s.is_empty()))
    }

    /// A computed string.
    pub fn owned(s: String) -> PvRef<'a> {
        PvRef::Str(Cow::Owned(s))
    }

    /// Borrows a stored value.
    pub fn of(v: &'a PvValue) -> PvRef<'a> {
        match v {
            PvValue::Null => PvRef::Null,
            PvValue::Int(i) => PvRef::Int(*i),
            PvValue::Str(s) => PvRef::Str(Cow::Borrowed(s)),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, PvRef::Null)
    }

    /// The value, owned.
    pub fn into_value(self) -> PvValue {
        match self {
            PvRef::Null => PvValue::Null,
            PvRef::Int(i) => PvValue::Int(i),
            PvRef::Str(s) => PvValue::Str(s.into_owned()),
        }
    }

    /// Appends the value as text; null is written as `null_text`.
    pub fn write_to(&self, out: &mut String, null_text: &str) {
        use std::fmt::Write;
        match self {
            PvRef::Null => out.push_str(null_text),
            // Writing to a String cannot fail.
            PvRef::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PvRef::Str(s) => out.push_str(s),
        }
    }
}

/// Why a pseudo-variable name or assignment was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct PvError(pub String);

impl std::fmt::Display for PvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PvError {}

impl<'a> PvSpec<'a> {
    /// Reads the value, borrowing from the context where it can. Message
    /// variables read with no message are null (logged at debug level).
    pub fn value<'c>(&self, ctx: &'c Ctx<'_>) -> PvRef<'c> {
        match self.class {
            PvClass::Var(name) => ctx
                .worker_local()
                .vars
                .get_ref(name)
                .map_or(PvRef::Int(0), PvRef::of),
            PvClass::Avp(name) => {
                let avps = &ctx.state().avps;
                match self.index {
                    PvIndex::None => avps.get(name).map_or(PvRef::Null, PvRef::of),
                    PvIndex::At(i) => avps.get_at(name, i).map_or(PvRef::Null, PvRef::of),
                    PvIndex::All => join(avps.all(name).map(PvRef::of), ", "),
                }
            }
            PvClass::Shv(name) => match SharedVars::global().get(name) {
                PvValue::Null => PvRef::Null,
                PvValue::Int(i) => PvRef::Int(i),
                PvValue::Str(s) => PvRef::owned(s),
            },
            PvClass::Env(name) => std::env::var(name).map_or(PvRef::Null, PvRef::owned),
            PvClass::Hdr(name) => message::header(ctx, name, self.index),
            PvClass::HdrCount(name) => message::header_count(ctx, name),
            PvClass::Builtin(b) => message::read(ctx, b),
            PvClass::Tm(t) => t.read(ctx),
        }
    }

    /// Reads the value, owned.
    pub fn get(&self, ctx: &Ctx<'_>) -> PvValue {
        self.value(ctx).into_value()
    }

    /// Writes the value; `PvValue::Null` unsets it where that means
    /// something (see each variable). Fails for read-only variables, values
    /// of the wrong type, and message variables with no message.
    pub fn set(&self, ctx: &mut Ctx<'_>, value: PvValue) -> Result<(), PvError> {
        match self.class {
            PvClass::Var(name) => {
                ctx.worker().vars.set(name, value);
                Ok(())
            }
            PvClass::Avp(name) => {
                let avps = &mut ctx.state_mut().avps;
                match (self.index, value) {
                    (PvIndex::All, PvValue::Null) => {
                        avps.remove_all(name);
                    }
                    (_, PvValue::Null) => {
                        avps.remove_top(name);
                    }
                    (PvIndex::All, v) => {
                        avps.remove_all(name);
                        avps.push(name, v);
                    }
                    (_, v) => avps.push(name, v),
                }
                Ok(())
            }
            PvClass::Shv(name) => {
                SharedVars::global().set(name, value);
                Ok(())
            }
            PvClass::Builtin(b) => message::write(ctx, b, value),
            PvClass::Hdr(_) | PvClass::HdrCount(_) => Err(PvError(
                "headers are read-only pseudo-variables: change them with KSR.hdr.*".to_owned(),
            )),
            PvClass::Env(_) => Err(PvError("$env is a read-only pseudo-variable".to_owned())),
            PvClass::Tm(_) => Err(PvError("the $T_ pseudo-variables are read-only".to_owned())),
        }
    }
}

/// Joins values into one string (`[*]` reads); null when there is none.
fn join<'v>(values: impl Iterator<Item = PvRef<'v>>, sep: &str) -> PvRef<'static> {
    let mut out: Option<String> = None;
    for v in values {
        let s = out.get_or_insert_with(String::new);
        if !s.is_empty() {
            s.push_str(sep);
        }
        v.write_to(s, "");
    }
    out.map_or(PvRef::Null, PvRef::owned)
}

/// Logs that a message variable was read with no message.
fn no_message(what: &str) {
    log::debug("pv", format_args!("{what} read with no SIP message: null"));
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

    /// The stored value, if the variable was ever set.
    pub fn get_ref(&self, name: &str) -> Option<&PvValue> {
        self.values.get(name)
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
    fn var_defaults_to_zero_and_persists() {
        let mut w = WorkerLocal::default();
        let spec = PvSpec::parse("$var(a)").expect("valid");
        {
            let mut ctx = Ctx::without_message(&mut w);
            assert_eq!(spec.get(&ctx), PvValue::Int(0));
            spec.set(&mut ctx, PvValue::Str("x".into()))
                .expect("writable");
        }
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(spec.get(&ctx), PvValue::Str("x".into()));
        spec.set(&mut ctx, PvValue::Null).expect("writable");
        assert_eq!(spec.get(&ctx), PvValue::Int(0));
    }

    #[test]
    fn avp_assignments_push_and_null_pops() {
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        let top = PvSpec::parse("$avp(x)").expect("valid");
        let all = PvSpec::parse("$(avp(x)[*])").expect("valid");
        let oldest = PvSpec::parse("$(avp(x)[-1])").expect("valid");
        assert_eq!(top.get(&ctx), PvValue::Null);
        assert_eq!(all.get(&ctx), PvValue::Null);
        top.set(&mut ctx, PvValue::Str("a".into())).expect("ok");
        top.set(&mut ctx, PvValue::Int(2)).expect("ok");
        assert_eq!(top.get(&ctx), PvValue::Int(2));
        assert_eq!(oldest.get(&ctx), PvValue::Str("a".into()));
        assert_eq!(all.get(&ctx), PvValue::Str("2, a".into()));
        top.set(&mut ctx, PvValue::Null).expect("ok");
        assert_eq!(top.get(&ctx), PvValue::Str("a".into()));
        all.set(&mut ctx, PvValue::Int(7)).expect("ok");
        assert_eq!(all.get(&ctx), PvValue::Str("7".into()));
        all.set(&mut ctx, PvValue::Null).expect("ok");
        assert_eq!(top.get(&ctx), PvValue::Null);
    }

    #[test]
    fn shv_is_shared_and_never_null() {
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        let spec = PvSpec::parse("$shv(pv_mod_test)").expect("valid");
        assert_eq!(spec.get(&ctx), PvValue::Int(0));
        spec.set(&mut ctx, PvValue::Int(5)).expect("ok");
        assert_eq!(SharedVars::global().get("pv_mod_test"), PvValue::Int(5));
        spec.set(&mut ctx, PvValue::Null).expect("ok");
        assert_eq!(spec.get(&ctx), PvValue::Int(0));
    }

    #[test]
    fn read_only_classes_refuse_writes() {
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        for name in ["$hdr(X)", "$hdrc(X)", "$env(HOME)", "$si", "$ci"] {
            let spec = PvSpec::parse(name).expect("valid");
            assert!(spec.set(&mut ctx, PvValue::Int(1)).is_err(), "{name}");
        }
    }

    #[test]
    fn env_reads_the_environment() {
        let mut w = WorkerLocal::default();
        let ctx = Ctx::without_message(&mut w);
        let spec = PvSpec::parse("$env(KEMID_SURELY_UNSET_VARIABLE)").expect("valid");
        assert_eq!(spec.get(&ctx), PvValue::Null);
        if let Ok(path) = std::env::var("PATH") {
            let spec = PvSpec::parse("$env(PATH)").expect("valid");
            assert_eq!(spec.get(&ctx), PvValue::Str(path));
        }
    }
}
