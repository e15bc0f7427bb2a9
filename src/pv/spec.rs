//! Parsing pseudo-variable names: `$ru`, `$hdr(Via)`, `$(avp(x)[1])`.
//!
//! A spec borrows the text it was parsed from and parsing allocates only
//! to describe an error, so specs can be parsed again on every call.

use super::PvError;

/// A parsed pseudo-variable name, borrowing the text it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvSpec<'a> {
    pub class: PvClass<'a>,
    /// `[N]` or `[*]` of the `$(name(inner)[N])` form.
    pub index: PvIndex,
}

/// What a spec names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PvClass<'a> {
    /// `$var(name)`: a per-worker script variable, never null.
    Var(&'a str),
    /// `$avp(name)`: a per-message value stack.
    Avp(&'a str),
    /// `$shv(name)`: a variable shared by all workers, never null.
    Shv(&'a str),
    /// `$hdr(name)`: the body of a header (`*` for any header).
    Hdr(&'a str),
    /// `$hdrc(name)`: how many headers have that name.
    HdrCount(&'a str),
    /// `$env(NAME)`: an environment variable.
    Env(&'a str),
    /// A name without an argument: `$ru`, `$si`, ...
    Builtin(Builtin),
    /// tm's view of the transaction: `$T_reply_code`, `$T_branch_idx`,
    /// `$T_rpl(pv)`, `$T_req(pv)` (see `super::tm`).
    Tm(super::tm::TmPv<'a>),
}

/// The index of the `$(name[...])` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PvIndex {
    /// No index: the first (or top) value.
    None,
    /// `[N]`: the N-th value from the first (top); negative counts from the
    /// last, -1 being the last.
    At(i32),
    /// `[*]`: every value.
    All,
}

/// The pseudo-variables that take no argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `$null`
    Null,
    /// `$ru`, `$ruri`: the current Request-URI.
    Ruri,
    /// `$rU`, `$ruri.user`
    RuriUser,
    /// `$rd`, `$ruri.domain`
    RuriHost,
    /// `$rp`: explicit port, else 5060 (5061 for TLS).
    RuriPort,
    /// `$rP`: the `transport` parameter, else `UDP`.
    RuriTransport,
    /// `$rz`: the scheme.
    RuriScheme,
    /// `$ou`, `$ouri`: the Request-URI as received.
    Ouri,
    /// `$oU`
    OuriUser,
    /// `$od`
    OuriHost,
    /// `$op`
    OuriPort,
    /// `$oP`
    OuriTransport,
    /// `$du`, `$duri`: the destination URI.
    Duri,
    /// `$dd`
    DuriHost,
    /// `$dp`
    DuriPort,
    /// `$dP`
    DuriTransport,
    /// `$fu`, `$from`
    FromUri,
    /// `$fU`, `$from.user`
    FromUser,
    /// `$fd`, `$from.domain`
    FromHost,
    /// `$fn`: the display name as written.
    FromName,
    /// `$ft`
    FromTag,
    /// `$tu`, `$to`
    ToUri,
    /// `$tU`, `$to.user`
    ToUser,
    /// `$td`, `$to.domain`
    ToHost,
    /// `$tn`
    ToName,
    /// `$tt`
    ToTag,
    /// `$ci`
    CallId,
    /// `$cs`: the CSeq number.
    CseqNumber,
    /// `$csb`: the whole CSeq value.
    CseqBody,
    /// `$rm`: the method (the CSeq method for replies).
    Method,
    /// `$rmid`: Kamailio's numeric method id.
    MethodId,
    /// `$rs`
    Status,
    /// `$rr`
    Reason,
    /// `$rv`
    Version,
    /// `$ua`
    UserAgent,
    /// `$ct`: the first Contact header body.
    Contact,
    /// `$cT`
    ContentType,
    /// `$cl`
    ContentLength,
    /// `$bs`
    BodySize,
    /// `$rb`
    Body,
    /// `$mb`
    MsgBuf,
    /// `$ml`
    MsgLen,
    /// `$mt`: 1 request, 2 reply.
    MsgType,
    /// `$au`: user part of the credentials' username.
    AuthUser,
    /// `$ad`: domain part of the credentials' username.
    AuthDomain,
    /// `$aU`: the whole credentials' username.
    AuthUsername,
    /// `$ar`: the credentials' realm.
    AuthRealm,
    /// `$adu`: the credentials' digest URI.
    AuthUri,
    /// `$aa`: the credentials' algorithm.
    AuthAlgorithm,
    /// `$si`
    SrcIp,
    /// `$sp`
    SrcPort,
    /// `$su`: the source as a SIP URI.
    SrcUri,
    /// `$sut`: the source as a SIP URI with the transport.
    SrcUriTransport,
    /// `$Ri`
    RcvIp,
    /// `$Rp`
    RcvPort,
    /// `$Ru`: the receiving socket as a SIP URI.
    RcvUri,
    /// `$Rut`
    RcvUriTransport,
    /// `$pr`, `$proto`
    Proto,
    /// `$prid`
    ProtoId,
    /// `$mf`: message flags.
    MsgFlags,
    /// `$mF`: message flags in hexadecimal.
    MsgFlagsHex,
    /// `$bf`: branch 0 flags.
    BranchFlags,
    /// `$bF`
    BranchFlagsHex,
    /// `$sf`: script flags.
    ScriptFlags,
    /// `$sF`
    ScriptFlagsHex,
    /// `$Ts`, `$TS`: the current Unix time.
    Time,
    /// `$pp`: the process id.
    Pid,
}

impl Builtin {
    /// The builtin a name denotes.
    pub fn from_name(name: &str) -> Option<Builtin> {
        use Builtin::*;
        Some(match name {
            "null" => Null,
            "ru" | "ruri" => Ruri,
            "rU" | "ruri.user" => RuriUser,
            "rd" | "ruri.domain" => RuriHost,
            "rp" => RuriPort,
            "rP" => RuriTransport,
            "rz" => RuriScheme,
            "ou" | "ouri" => Ouri,
            "oU" => OuriUser,
            "od" => OuriHost,
            "op" => OuriPort,
            "oP" => OuriTransport,
            "du" | "duri" => Duri,
            "dd" => DuriHost,
            "dp" => DuriPort,
            "dP" => DuriTransport,
            "fu" | "from" => FromUri,
            "fU" | "from.user" => FromUser,
            "fd" | "from.domain" => FromHost,
            "fn" => FromName,
            "ft" => FromTag,
            "tu" | "to" => ToUri,
            "tU" | "to.user" => ToUser,
            "td" | "to.domain" => ToHost,
            "tn" => ToName,
            "tt" => ToTag,
            "ci" => CallId,
            "cs" => CseqNumber,
            "csb" => CseqBody,
            "rm" => Method,
            "rmid" => MethodId,
            "rs" => Status,
            "rr" => Reason,
            "rv" => Version,
            "ua" => UserAgent,
            "ct" => Contact,
            "cT" => ContentType,
            "cl" => ContentLength,
            "bs" => BodySize,
            "rb" => Body,
            "mb" => MsgBuf,
            "ml" => MsgLen,
            "mt" => MsgType,
            "au" => AuthUser,
            "ad" => AuthDomain,
            "aU" => AuthUsername,
            "ar" => AuthRealm,
            "adu" => AuthUri,
            "aa" => AuthAlgorithm,
            "si" => SrcIp,
            "sp" => SrcPort,
            "su" => SrcUri,
            "sut" => SrcUriTransport,
            "Ri" => RcvIp,
            "Rp" => RcvPort,
            "Ru" => RcvUri,
            "Rut" => RcvUriTransport,
            "pr" | "proto" => Proto,
            "prid" => ProtoId,
            "mf" => MsgFlags,
            "mF" => MsgFlagsHex,
            "bf" => BranchFlags,
            "bF" => BranchFlagsHex,
            "sf" => ScriptFlags,
            "sF" => ScriptFlagsHex,
            "Ts" | "TS" => Time,
            "pp" => Pid,
            _ => return None,
        })
    }
}

/// The classes written `$class(inner)`.
const CLASSES_WITH_NAME: [&str; 7] = ["var", "vz", "avp", "shv", "hdr", "hdrc", "env"];

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

/// The position of the `)` closing the `(` at `open`.
fn closing_paren(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn err(text: &str, what: impl std::fmt::Display) -> PvError {
    PvError(format!("`{text}`: {what}"))
}

impl<'a> PvSpec<'a> {
    /// Parses a whole pseudo-variable name such as `$var(count)`.
    pub fn parse(text: &'a str) -> Result<PvSpec<'a>, PvError> {
        let (spec, used) = PvSpec::parse_prefix(text)?;
        match text.get(used..) {
            Some("") => Ok(spec),
            rest => Err(err(
                text,
                format_args!(
                    "unexpected `{}` after the pseudo-variable",
                    rest.unwrap_or("")
                ),
            )),
        }
    }

    /// Parses the pseudo-variable at the start of `text` (which starts with
    /// `$`); returns it and how many bytes it spans. A plain name ends at
    /// the longest known name, so `$ru.` is `$ru` followed by a dot.
    pub fn parse_prefix(text: &'a str) -> Result<(PvSpec<'a>, usize), PvError> {
        let b = text.as_bytes();
        if b.first() != Some(&b'$') {
            return Err(err(text, "a pseudo-variable starts with `$`"));
        }
        if b.get(1) == Some(&b'(') {
            let close = closing_paren(b, 1).ok_or_else(|| err(text, "missing `)` closing `$(`"))?;
            let spec = parse_long_form(text, &text[2..close])?;
            return Ok((spec, close + 1));
        }
        let name_end = 1 + b[1..].iter().take_while(|c| is_name_char(**c)).count();
        let name = &text[1..name_end];
        if name.is_empty() {
            return Err(err(text, "no name after `$`"));
        }
        if b.get(name_end) == Some(&b'(') {
            let close = closing_paren(b, name_end)
                .ok_or_else(|| err(text, format_args!("missing `)` after `${name}(`")))?;
            let class = class_with_name(text, name, &text[name_end + 1..close])?;
            return Ok((
                PvSpec {
                    class,
                    index: PvIndex::None,
                },
                close + 1,
            ));
        }
        if let Some(tm) = super::tm::TmPv::from_name(name) {
            let spec = PvSpec {
                class: PvClass::Tm(tm),
                index: PvIndex::None,
            };
            return Ok((spec, name_end));
        }
        let mut candidate = name;
        loop {
            if let Some(builtin) = Builtin::from_name(candidate) {
                let spec = PvSpec {
                    class: PvClass::Builtin(builtin),
                    index: PvIndex::None,
                };
                return Ok((spec, 1 + candidate.len()));
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => break,
            }
        }
        if CLASSES_WITH_NAME.contains(&name) {
            return Err(err(
                text,
                format_args!("`${name}` needs a name in parentheses, as in ${name}(x)"),
            ));
        }
        Err(err(text, "unknown pseudo-variable"))
    }
}

/// The inside of `$( ... )`: `name`, `name(inner)`, then an optional
/// `[index]`.
fn parse_long_form<'a>(text: &'a str, body: &'a str) -> Result<PvSpec<'a>, PvError> {
    let b = body.as_bytes();
    let name_end = b.iter().take_while(|c| is_name_char(**c)).count();
    let name = &body[..name_end];
    if name.is_empty() {
        return Err(err(text, "no name after `$(`"));
    }
    let mut at = name_end;
    let class = if b.get(at) == Some(&b'(') {
        let close = closing_paren(b, at)
            .ok_or_else(|| err(text, format_args!("missing `)` after `{name}(`")))?;
        let class = class_with_name(text, name, &body[at + 1..close])?;
        at = close + 1;
        class
    } else {
        match Builtin::from_name(name) {
            Some(builtin) => PvClass::Builtin(builtin),
            None if CLASSES_WITH_NAME.contains(&name) => {
                return Err(err(
                    text,
                    format_args!("`{name}` needs a name in parentheses, as in $({name}(x))"),
                ))
            }
            None => return Err(err(text, "unknown pseudo-variable")),
        }
    };
    let mut index = PvIndex::None;
    if b.get(at) == Some(&b'[') {
        let close = body[at..]
            .find(']')
            .map(|i| at + i)
            .ok_or_else(|| err(text, "missing `]` after the index"))?;
        index = parse_index(text, &body[at + 1..close])?;
        at = close + 1;
    }
    match b.get(at) {
        None => {}
        Some(b'{') => {
            return Err(err(
                text,
                "transformations (`{...}`) are not supported; transform the value in the script",
            ))
        }
        Some(_) => {
            return Err(err(
                text,
                format_args!("unexpected `{}` inside `$(...)`", &body[at..]),
            ))
        }
    }
    if index != PvIndex::None && !matches!(class, PvClass::Avp(_) | PvClass::Hdr(_)) {
        return Err(err(text, "only $avp and $hdr take an index"));
    }
    Ok(PvSpec { class, index })
}

fn parse_index(text: &str, idx: &str) -> Result<PvIndex, PvError> {
    let idx = idx.trim();
    if idx == "*" {
        return Ok(PvIndex::All);
    }
    idx.parse::<i32>().map(PvIndex::At).map_err(|_| {
        err(
            text,
            format_args!("index `{idx}` must be an integer or `*` (variables are not supported)"),
        )
    })
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn is_header_name(name: &str) -> bool {
    name == "*"
        || (!name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                    )
            }))
}

/// A class written with a name in parentheses.
fn class_with_name<'a>(text: &str, class: &str, inner: &'a str) -> Result<PvClass<'a>, PvError> {
    if let Some(tm) = super::tm::TmPv::with_inner(class, inner) {
        return Ok(PvClass::Tm(tm));
    }
    if inner.contains('$') {
        return Err(err(
            text,
            "names built from other pseudo-variables are not supported; build the name in the script",
        ));
    }
    let bad = |what: &str| {
        Err(err(
            text,
            format_args!("`{inner}` is not a valid {what} name"),
        ))
    };
    const VAR_CHARS: &str = "$var name (letters, digits, `_`, `-`, `.`)";
    match class {
        "var" | "vz" if is_var_name(inner) => Ok(PvClass::Var(inner)),
        "var" | "vz" => Err(err(
            text,
            format_args!("`{inner}` is not a valid {VAR_CHARS}"),
        )),
        "shv" if is_var_name(inner) => Ok(PvClass::Shv(inner)),
        "shv" => bad("$shv"),
        "avp" => {
            let name = inner.strip_prefix("s:").unwrap_or(inner);
            if is_var_name(name) || name.strip_prefix("i:").is_some_and(is_var_name) {
                Ok(PvClass::Avp(name))
            } else {
                bad("$avp")
            }
        }
        "hdr" if is_header_name(inner) => Ok(PvClass::Hdr(inner)),
        "hdrc" if is_header_name(inner) && inner != "*" => Ok(PvClass::HdrCount(inner)),
        "hdr" | "hdrc" => bad("header"),
        "env" if !inner.is_empty() && !inner.contains(['=', '\0']) => Ok(PvClass::Env(inner)),
        "env" => bad("environment variable"),
        _ if Builtin::from_name(class).is_some() => Err(err(
            text,
            format_args!("`${class}` takes no name in parentheses"),
        )),
        _ => Err(err(text, "unknown pseudo-variable")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> PvClass<'_> {
        match PvSpec::parse(text) {
            Ok(s) => s.class,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn plain_and_named_forms() {
        assert_eq!(class("$ru"), PvClass::Builtin(Builtin::Ruri));
        assert_eq!(class("$ruri.user"), PvClass::Builtin(Builtin::RuriUser));
        assert_eq!(class("$Ri"), PvClass::Builtin(Builtin::RcvIp));
        assert_eq!(class("$var(x_1)"), PvClass::Var("x_1"));
        assert_eq!(class("$avp(s:who)"), PvClass::Avp("who"));
        assert_eq!(class("$shv(total)"), PvClass::Shv("total"));
        assert_eq!(class("$hdr(X-Foo)"), PvClass::Hdr("X-Foo"));
        assert_eq!(class("$hdrc(Via)"), PvClass::HdrCount("Via"));
        assert_eq!(class("$(ru)"), PvClass::Builtin(Builtin::Ruri));
        let s = PvSpec::parse("$(hdr(Via)[-1])").expect("valid");
        assert_eq!((s.class, s.index), (PvClass::Hdr("Via"), PvIndex::At(-1)));
        let s = PvSpec::parse("$(avp(x)[*])").expect("valid");
        assert_eq!((s.class, s.index), (PvClass::Avp("x"), PvIndex::All));
    }

    #[test]
    fn prefix_stops_at_the_longest_known_name() {
        let (s, used) = PvSpec::parse_prefix("$ru.").expect("valid");
        assert_eq!((s.class, used), (PvClass::Builtin(Builtin::Ruri), 3));
        let (s, used) = PvSpec::parse_prefix("$ruri.user, more").expect("valid");
        assert_eq!((s.class, used), (PvClass::Builtin(Builtin::RuriUser), 10));
        let (s, used) = PvSpec::parse_prefix("$var(a) and").expect("valid");
        assert_eq!((s.class, used), (PvClass::Var("a"), 7));
        let (_, used) = PvSpec::parse_prefix("$(hdr(A)[1])x").expect("valid");
        assert_eq!(used, 12);
    }

    #[test]
    fn refusals_say_why() {
        for (text, why) in [
            ("var(x)", "starts with `$`"),
            ("$", "no name"),
            ("$var(x", "missing `)`"),
            ("$var()", "not a valid $var name"),
            ("$var", "needs a name"),
            ("$nosuch", "unknown"),
            ("$nosuch(x)", "unknown"),
            ("$ru(x)", "takes no name"),
            ("$ru.x", "unexpected `.x`"),
            ("$(ru{uri.user})", "transformations"),
            ("$(ru[1])", "only $avp and $hdr"),
            ("$(avp(x)[$var(i)])", "not supported"),
            ("$(avp(x)[a])", "must be an integer"),
            ("$hdr($var(h))", "not supported"),
            ("$hdrc(*)", "not a valid header"),
        ] {
            match PvSpec::parse(text) {
                Ok(s) => panic!("{text} parsed as {s:?}"),
                Err(e) => assert!(e.0.contains(why), "{text}: {e}"),
            }
        }
    }
}
