//! The values that cross between a script engine and an export.

/// One argument, already converted by the engine to the declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    Int(i64),
    Str(&'a str),
}

/// What an export hands back; the engine maps it to a script value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// The export returns nothing.
    None,
    Int(i64),
    Bool(bool),
    XVal(XVal),
}

/// An extended value: what getters such as `KSR.pv.get` return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XVal {
    Int(i64),
    Str(String),
    Null,
}

impl From<()> for Ret {
    fn from(_: ()) -> Ret {
        Ret::None
    }
}

impl From<bool> for Ret {
    fn from(v: bool) -> Ret {
        Ret::Bool(v)
    }
}

impl From<i32> for Ret {
    fn from(v: i32) -> Ret {
        Ret::Int(i64::from(v))
    }
}

impl From<i64> for Ret {
    fn from(v: i64) -> Ret {
        Ret::Int(v)
    }
}

impl From<XVal> for Ret {
    fn from(v: XVal) -> Ret {
        Ret::XVal(v)
    }
}

impl From<Option<String>> for XVal {
    fn from(v: Option<String>) -> XVal {
        v.map_or(XVal::Null, XVal::Str)
    }
}

/// Narrows an engine integer to a KEMI `int` parameter (a C `int` in
/// Kamailio): out-of-range values saturate, as Duktape's `to_int` does.
pub fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}
