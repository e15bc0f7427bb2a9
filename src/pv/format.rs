//! Expanding pseudo-variables inside text, as `xlog` does: literal text with
//! `$name`, `$name(inner)` and `$(name(inner)[index])` in it.

use super::spec::PvSpec;
use crate::ctx::Ctx;
use crate::log;

/// What a null value, or a pseudo-variable that cannot be read, prints as.
pub const NULL_TEXT: &str = "<null>";

/// How many bytes a malformed `$...` at the start of `text` spans, so that
/// expansion can go on after it: the name and any parenthesised part.
fn extent(text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = 1;
    if b.get(1) != Some(&b'(') {
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
            i += 1;
        }
        if b.get(i) != Some(&b'(') {
            return i;
        }
    }
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(i) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

/// Whether the byte after a `$` can begin a pseudo-variable; a `$`
/// followed by anything else (a space, a digit, the end) is literal text.
fn starts_pv(c: Option<&u8>) -> bool {
    matches!(c, Some(c) if c.is_ascii_alphabetic() || *c == b'(' || *c == b'_')
}

/// Appends `format` to `out` with every pseudo-variable replaced by its
/// value; a null value prints as `<null>`. A pseudo-variable that cannot
/// be parsed (unknown name, transformation, ...) also prints as `<null>`,
/// and the error is logged.
pub fn expand(ctx: &Ctx<'_>, format: &str, out: &mut String) {
    let mut rest = format;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let at = &rest[dollar..];
        if !starts_pv(at.as_bytes().get(1)) {
            out.push('$');
            rest = &at[1..];
            continue;
        }
        match PvSpec::parse_prefix(at) {
            Ok((spec, used)) => {
                spec.value(ctx).write_to(out, NULL_TEXT);
                rest = &at[used..];
            }
            Err(e) => {
                log::error("xlog", format_args!("{e}"));
                out.push_str(NULL_TEXT);
                // `extent` stops at ASCII bytes or the end, so the slice is
                // on a character boundary; fall back to the end otherwise.
                rest = at.get(extent(at)..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::WorkerLocal;
    use crate::pv::PvValue;
    use crate::sip::SipMsg;
    use crate::transport::{Proto, RecvInfo};

    fn run(ctx: &Ctx<'_>, f: &str) -> String {
        let mut out = String::new();
        expand(ctx, f, &mut out);
        out
    }

    #[test]
    fn expands_every_form() {
        let mut w = WorkerLocal::default();
        w.vars.set("n", PvValue::Int(3));
        let mut m = SipMsg::parse(
            "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nX-A: 1\r\nX-A: 2\r\nCall-ID: abc\r\n\r\n",
        )
        .expect("valid");
        let recv = RecvInfo {
            proto: Proto::Udp,
            src: "192.0.2.1:5060".parse().expect("addr"),
            local: "192.0.2.2:5060".parse().expect("addr"),
            conn: None,
        };
        let ctx = Ctx::for_message(&mut w, &mut m, recv);
        assert_eq!(
            run(
                &ctx,
                "$rm from $si:$sp to $ru, n=$var(n) [$(hdr(X-A)[-1])] $fu\n"
            ),
            "OPTIONS from 192.0.2.1:5060 to sip:bob@example.com, n=3 [2] <null>\n"
        );
        assert_eq!(run(&ctx, "user $rU."), "user bob.");
        assert_eq!(
            run(&ctx, "cost $5 and $ alone, $"),
            "cost $5 and $ alone, $"
        );
        assert_eq!(run(&ctx, "a $nosuch(x) b $bad c"), "a <null> b <null> c");
        assert_eq!(run(&ctx, "$(ru{uri.user}) done"), "<null> done");
        assert_eq!(run(&ctx, "unclosed $var(x"), "unclosed <null>");
        assert_eq!(run(&ctx, "é $ci ü"), "é abc ü");
    }

    #[test]
    fn extent_covers_the_bad_part() {
        assert_eq!(extent("$abc rest"), 4);
        assert_eq!(extent("$abc(x(y)) rest"), 10);
        assert_eq!(extent("$(a(b)[1]) rest"), 10);
        assert_eq!(extent("$(open"), 6);
    }
}
