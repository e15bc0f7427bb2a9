//! `KSR.pv`: reading and writing pseudo-variables by name.
//!
//! Names are the full spec, `$` included: `KSR.pv.get("$var(count)")`.
//! An invalid name is logged and treated as a null value; nothing throws.
//! The `get`, `gete` and `getw` triple differ only in what a null becomes:
//! `null`, `""` or the printable `"<null>"`.
//!
//! Supported: the Request-URI (`$ru` `$rU` `$rd` `$rp`, writable; `$rP`
//! `$rz`; as received `$ou` `$oU` `$od` `$op` `$oP`), the destination
//! (`$du`, writable; `$dd` `$dp` `$dP`), From and To (`$fu` `$fU` `$fd`
//! `$fn` `$tu` `$tU` `$td` `$tn`, writable as edits that later reads do not
//! see; `$ft` `$tt`), headers and body (`$ci` `$cs` `$csb` `$rm` `$rmid`
//! `$rs` `$rr` `$rv` `$ua` `$ct` `$cT` `$cl` `$bs` `$rb` `$mb` `$ml` `$mt`,
//! `$hdr(name)` with `$(hdr(name)[N])`, `[-1]` and `[*]`, `$hdrc(name)`),
//! credentials (`$au` `$ad` `$aU` `$ar` `$adu` `$aa`), transport (`$si`
//! `$sp` `$su` `$sut` `$Ri` `$Rp` `$Ru` `$Rut` `$pr` `$prid`), flags (`$mf`
//! `$bf` `$sf`, writable; `$mF` `$bF` `$sF`), variables (`$var(x)`,
//! `$avp(x)` with `$(avp(x)[N])` and `[*]`, `$shv(x)` shared by all
//! workers), `$env(NAME)`, `$Ts`, `$pp` and `$null`. Integers come back as
//! integers (`$rs`, `$sp`, `$Rp`, `$cl`, `$bs`, `$ml`, `$mt`, flags), the
//! rest as strings. Message variables read with no message are null.
//! Transformations (`{...}`) and names built from other variables are
//! refused.

use kemid_macros::kemi;

/// `modparam("pv", ...)`: accepted so that existing configurations load.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub shvset: Vec<String>,
    #[param(inert)]
    pub varset: Vec<String>,
}

/// `loadmodule "pv.so"`: `KSR.pv` is part of the core and there either
/// way; loading the module only lets its parameters be set.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("pv", "pseudo-variables, part of kemid's core").always_present();

use crate::ctx::Ctx;
use crate::log;
use crate::pv::{PvSpec, PvValue};
use crate::registry::XVal;

/// Reads a variable; `None` (after logging) when the name is invalid.
fn read(ctx: &mut Ctx, name: &str) -> PvValue {
    match PvSpec::parse(name) {
        Ok(spec) => spec.get(ctx),
        Err(e) => {
            log::error("pv", format_args!("{e}"));
            PvValue::Null
        }
    }
}

fn write(ctx: &mut Ctx, name: &str, value: PvValue) -> bool {
    match PvSpec::parse(name).and_then(|spec| spec.set(ctx, value)) {
        Ok(()) => true,
        Err(e) => {
            log::error("pv", format_args!("{e}"));
            false
        }
    }
}

fn xval_or(value: PvValue, null: impl FnOnce() -> XVal) -> XVal {
    match value {
        PvValue::Null => null(),
        PvValue::Int(i) => XVal::Int(i),
        PvValue::Str(s) => XVal::Str(s),
    }
}

/// Returns the value of a pseudo-variable.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
///
/// # Returns
/// The integer or string value, or `null` when the value is null or the
/// name is invalid (an error is logged).
///
/// # Example
/// ```js
/// var n = KSR.pv.get("$var(count)");
/// ```
#[kemi(toplevel)]
pub fn get(ctx: &mut Ctx, name: &str) -> XVal {
    xval_or(read(ctx, name), || XVal::Null)
}

/// Returns the value of a pseudo-variable, or an empty string instead of
/// null.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
///
/// # Returns
/// The integer or string value; `""` when it is null or the name invalid.
///
/// # Example
/// ```js
/// var user = KSR.pv.gete("$var(user)");
/// ```
#[kemi(toplevel, xval = "int, str")]
pub fn gete(ctx: &mut Ctx, name: &str) -> XVal {
    xval_or(read(ctx, name), || XVal::Str(String::new()))
}

/// Returns the value of a pseudo-variable, or the text `<null>` instead of
/// null, convenient for logging.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
///
/// # Returns
/// The integer or string value; `"<null>"` when it is null or the name
/// invalid.
///
/// # Example
/// ```js
/// KSR.info("count is " + KSR.pv.getw("$var(count)") + "\n");
/// ```
#[kemi(toplevel, xval = "int, str")]
pub fn getw(ctx: &mut Ctx, name: &str) -> XVal {
    xval_or(read(ctx, name), || XVal::Str("<null>".to_owned()))
}

/// Returns the value of a pseudo-variable as an integer.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
///
/// # Returns
/// The integer value; a string is converted from its leading decimal
/// digits; null, an invalid name or a non-numeric string give 0.
///
/// # Example
/// ```js
/// var n = KSR.pv.geti("$var(count)") + 1;
/// ```
#[kemi(toplevel)]
pub fn geti(ctx: &mut Ctx, name: &str) -> i64 {
    match read(ctx, name) {
        PvValue::Int(i) => i,
        PvValue::Str(s) => leading_int(&s),
        PvValue::Null => 0,
    }
}

/// Returns the value of a pseudo-variable, or the given integer when it is
/// null.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
/// - `fallback`: what to return when the value is null or the name invalid.
///
/// # Returns
/// The value, or `fallback`.
///
/// # Example
/// ```js
/// var n = KSR.pv.getvn("$var(count)", 0);
/// ```
#[kemi(toplevel, xval = "int, str")]
pub fn getvn(ctx: &mut Ctx, name: &str, fallback: i32) -> XVal {
    xval_or(read(ctx, name), || XVal::Int(i64::from(fallback)))
}

/// Returns the value of a pseudo-variable, or the given string when it is
/// null.
///
/// # Parameters
/// - `name`: the full name, such as `$var(user)`.
/// - `fallback`: what to return when the value is null or the name invalid.
///
/// # Returns
/// The value, or `fallback`.
///
/// # Example
/// ```js
/// var user = KSR.pv.getvs("$var(user)", "anonymous");
/// ```
#[kemi(toplevel, xval = "int, str")]
pub fn getvs(ctx: &mut Ctx, name: &str, fallback: &str) -> XVal {
    xval_or(read(ctx, name), || XVal::Str(fallback.to_owned()))
}

/// Assigns an integer to a writable pseudo-variable.
///
/// # Parameters
/// - `name`: the full name, such as `$var(count)`.
/// - `value`: the integer to store.
///
/// # Returns
/// `true` when stored; `false` when the name is invalid or read-only.
///
/// # Example
/// ```js
/// KSR.pv.seti("$var(count)", 1);
/// ```
#[kemi(toplevel)]
pub fn seti(ctx: &mut Ctx, name: &str, value: i32) -> bool {
    write(ctx, name, PvValue::Int(i64::from(value)))
}

/// Assigns a string to a writable pseudo-variable.
///
/// # Parameters
/// - `name`: the full name, such as `$var(user)`.
/// - `value`: the string to store.
///
/// # Returns
/// `true` when stored; `false` when the name is invalid or read-only.
///
/// # Example
/// ```js
/// KSR.pv.sets("$var(user)", "alice");
/// ```
#[kemi(toplevel)]
pub fn sets(ctx: &mut Ctx, name: &str, value: &str) -> bool {
    write(ctx, name, PvValue::Str(value.to_owned()))
}

/// Assigns null to a pseudo-variable: deletes an AVP, resets `$du`. A
/// `$var` is never null: unsetting it stores 0.
///
/// # Parameters
/// - `name`: the full name, such as `$var(user)`.
///
/// # Returns
/// `true` when done; `false` when the name is invalid or read-only.
///
/// # Example
/// ```js
/// KSR.pv.unset("$var(user)");
/// ```
#[kemi(toplevel)]
pub fn unset(ctx: &mut Ctx, name: &str) -> bool {
    write(ctx, name, PvValue::Null)
}

/// Tells whether a pseudo-variable is null.
///
/// # Parameters
/// - `name`: the full name, such as `$var(user)`.
///
/// # Returns
/// `true` when the value is null, and also when the name is invalid.
///
/// # Example
/// ```js
/// if (KSR.pv.is_null("$var(user)")) { KSR.info("no user\n"); }
/// ```
#[kemi(toplevel)]
pub fn is_null(ctx: &mut Ctx, name: &str) -> bool {
    matches!(read(ctx, name), PvValue::Null)
}

/// The integer at the start of `s` (optional sign, then digits), 0 if none,
/// saturating: Kamailio's `str2sint` behaviour.
fn leading_int(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::leading_int;

    #[test]
    fn leading_int_reads_like_str2sint() {
        assert_eq!(leading_int("42"), 42);
        assert_eq!(leading_int("-7abc"), -7);
        assert_eq!(leading_int("abc"), 0);
        assert_eq!(leading_int(""), 0);
    }
}
