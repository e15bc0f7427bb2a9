//! `kemid check` for Squirrel: a script reduced to its syntax error, its
//! global functions and its `KSR` call sites.
//!
//! The syntax check is the real compiler's, in a scratch VM. The rest is a
//! lexical pass: Squirrel's grammar needs no parser to find
//! `KSR.module.name(...)` and `function name(` once comments, strings and
//! character literals are tokenised correctly, and a token stream keeps
//! `KSR` inside a string or comment from counting.

use super::super::check::{CallSite, Diagnostic, ScriptScan};
use super::super::ScriptSource;

/// Checks a Squirrel script's syntax and lists its functions and calls.
pub fn scan(source: &ScriptSource) -> Result<ScriptScan, Diagnostic> {
    let file = source.path.display().to_string();
    if let Err(e) = super::syntax_check(&file, &source.text) {
        return Err(Diagnostic {
            file,
            line: e.line,
            column: e.column,
            message: format!("syntax error: {}", e.message),
        });
    }
    Ok(scan_tokens(&tokenize(&source.text)))
}

#[derive(Clone, Debug, PartialEq)]
enum Kind<'s> {
    Ident(&'s str),
    /// A string literal, escapes decoded.
    Str(String),
    /// Numbers and character literals: their value does not matter here.
    Number,
    /// `::`, `<-` or any single punctuation character.
    Punct(&'s str),
}

#[derive(Clone, Debug, PartialEq)]
struct Token<'s> {
    kind: Kind<'s>,
    /// 1-based.
    line: u32,
    /// 1-based, in characters.
    column: u32,
}

/// A cursor over the source that keeps line and column.
struct Cursor<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    column: u32,
}

impl<'s> Cursor<'s> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&f) {
            self.bump();
        }
    }
}

/// Splits Squirrel source into tokens, dropping comments and whitespace.
/// Never fails: malformed input (which the compiler reported already)
/// ends a literal at the end of the text.
fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut cur = Cursor {
        src,
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    while let Some(c) = cur.peek() {
        let (line, column, start) = (cur.line, cur.column, cur.pos);
        let kind = match c {
            c if c.is_whitespace() => {
                cur.bump();
                continue;
            }
            '#' => {
                cur.eat_while(|c| c != '\n');
                continue;
            }
            '/' if cur.peek2() == Some('/') => {
                cur.eat_while(|c| c != '\n');
                continue;
            }
            '/' if cur.peek2() == Some('*') => {
                cur.bump();
                cur.bump();
                while let Some(c) = cur.bump() {
                    if c == '*' && cur.peek() == Some('/') {
                        cur.bump();
                        break;
                    }
                }
                continue;
            }
            '"' => {
                cur.bump();
                Kind::Str(read_string(&mut cur, '"'))
            }
            '@' if cur.peek2() == Some('"') => {
                cur.bump();
                cur.bump();
                Kind::Str(read_verbatim(&mut cur))
            }
            '\'' => {
                cur.bump();
                read_string(&mut cur, '\'');
                Kind::Number
            }
            c if c.is_ascii_digit() => {
                read_number(&mut cur);
                Kind::Number
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                cur.eat_while(|c| c == '_' || c.is_ascii_alphanumeric());
                Kind::Ident(&src[start..cur.pos])
            }
            ':' if cur.peek2() == Some(':') => {
                cur.bump();
                cur.bump();
                Kind::Punct("::")
            }
            '<' if cur.peek2() == Some('-') => {
                cur.bump();
                cur.bump();
                Kind::Punct("<-")
            }
            _ => {
                cur.bump();
                Kind::Punct(&src[start..cur.pos])
            }
        };
        out.push(Token { kind, line, column });
    }
    out
}

/// The rest of a `"` string (or `'` character literal), opening quote
/// consumed, with Squirrel's escapes decoded.
fn read_string(cur: &mut Cursor<'_>, quote: char) -> String {
    let mut s = String::new();
    while let Some(c) = cur.bump() {
        match c {
            c if c == quote => break,
            // Squirrel rejects a newline in a string; stop so one bad line
            // cannot swallow the rest of the file.
            '\n' => break,
            '\\' => {
                let Some(e) = cur.bump() else { break };
                match e {
                    't' => s.push('\t'),
                    'a' => s.push('\u{7}'),
                    'b' => s.push('\u{8}'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    'v' => s.push('\u{b}'),
                    'f' => s.push('\u{c}'),
                    '0' => s.push('\0'),
                    'x' => s.push(read_hex(cur, 2)),
                    'u' => s.push(read_hex(cur, 4)),
                    'U' => s.push(read_hex(cur, 8)),
                    other => s.push(other),
                }
            }
            c => s.push(c),
        }
    }
    s
}

/// Up to `max` hex digits as a character (U+FFFD when not one).
fn read_hex(cur: &mut Cursor<'_>, max: usize) -> char {
    let mut value: u32 = 0;
    for _ in 0..max {
        match cur.peek().and_then(|c| c.to_digit(16)) {
            Some(d) => {
                value = value.saturating_mul(16).saturating_add(d);
                cur.bump();
            }
            None => break,
        }
    }
    char::from_u32(value).unwrap_or('\u{fffd}')
}

/// The rest of a verbatim string `@"..."`: no escapes, `""` is a quote,
/// newlines allowed.
fn read_verbatim(cur: &mut Cursor<'_>) -> String {
    let mut s = String::new();
    while let Some(c) = cur.bump() {
        if c == '"' {
            if cur.peek() == Some('"') {
                cur.bump();
                s.push('"');
            } else {
                break;
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// Decimal, octal, hex (`0x1F`), and floats with a fraction and exponent
/// (`1.5e-3`), so that the `.` of `1.5` is not taken for member access.
fn read_number(cur: &mut Cursor<'_>) {
    if cur.peek() == Some('0') && matches!(cur.peek2(), Some('x' | 'X')) {
        cur.bump();
        cur.bump();
        cur.eat_while(|c| c.is_ascii_hexdigit());
        return;
    }
    cur.eat_while(|c| c.is_ascii_digit());
    if cur.peek() == Some('.') && cur.peek2().is_some_and(|c| c.is_ascii_digit()) {
        cur.bump();
        cur.eat_while(|c| c.is_ascii_digit());
    }
    if matches!(cur.peek(), Some('e' | 'E')) {
        let after = cur.peek2();
        if after.is_some_and(|c| c.is_ascii_digit() || c == '+' || c == '-') {
            cur.bump();
            cur.bump();
            cur.eat_while(|c| c.is_ascii_digit());
        }
    }
}

fn is_punct(t: Option<&Token<'_>>, p: &str) -> bool {
    matches!(t, Some(Token { kind: Kind::Punct(q), .. }) if *q == p)
}

fn ident<'s>(t: Option<&Token<'s>>) -> Option<&'s str> {
    match t {
        Some(Token {
            kind: Kind::Ident(name),
            ..
        }) => Some(name),
        _ => None,
    }
}

/// Finds call sites and global function definitions in a token stream.
fn scan_tokens(tokens: &[Token<'_>]) -> ScriptScan {
    let mut scan = ScriptScan::default();
    let mut depth: usize = 0;
    for (i, tok) in tokens.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        match &tok.kind {
            Kind::Punct("{") => depth += 1,
            Kind::Punct("}") => depth = depth.saturating_sub(1),
            Kind::Ident("KSR") if !is_punct(prev, ".") => {
                if let Some(call) = call_site(tokens, i) {
                    scan.calls.push(call);
                }
            }
            Kind::Ident("function") => {
                // `function name(` at depth 0 (not `local function`), or
                // `function ::name(` anywhere; `function Class::name(`
                // defines a method, not a global.
                let next = tokens.get(i + 1);
                let global = if is_punct(next, "::") {
                    ident(tokens.get(i + 2)).filter(|_| is_punct(tokens.get(i + 3), "("))
                } else if depth == 0 && ident(prev) != Some("local") {
                    ident(next).filter(|_| is_punct(tokens.get(i + 2), "("))
                } else {
                    None
                };
                if let Some(name) = global {
                    scan.functions.push(name.to_owned());
                }
            }
            Kind::Punct("<-") => {
                // `name <- function(` at depth 0, `::name <- function(`
                // anywhere; `a.name <- ` is a slot of something else.
                let is_function = ident(tokens.get(i + 1)) == Some("function")
                    && is_punct(tokens.get(i + 2), "(");
                let Some(name) = ident(prev).filter(|_| is_function) else {
                    continue;
                };
                let before = i.checked_sub(2).and_then(|p| tokens.get(p));
                let rooted = is_punct(before, "::");
                if rooted || (depth == 0 && !is_punct(before, ".")) {
                    scan.functions.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    scan
}

/// The call at `KSR` token `at`: `KSR . name (` or `KSR . module . name (`.
fn call_site(tokens: &[Token<'_>], at: usize) -> Option<CallSite> {
    let ksr = &tokens[at];
    if !is_punct(tokens.get(at + 1), ".") {
        return None;
    }
    let first = ident(tokens.get(at + 2))?;
    let (module, name, open) = if is_punct(tokens.get(at + 3), "(") {
        ("", first, at + 3)
    } else if is_punct(tokens.get(at + 3), ".") {
        let second = ident(tokens.get(at + 4))?;
        if !is_punct(tokens.get(at + 5), "(") {
            return None;
        }
        (first, second, at + 5)
    } else {
        return None;
    };
    let (argc, first_str_arg) = arguments(tokens, open);
    Some(CallSite {
        module: module.to_owned(),
        name: name.to_owned(),
        argc,
        first_str_arg,
        line: ksr.line,
        column: ksr.column,
    })
}

/// Counts the arguments of the call whose `(` is at `open`: top-level
/// commas inside the balanced brackets, plus one unless empty. Also the
/// first argument when it is one string literal and nothing else.
fn arguments(tokens: &[Token<'_>], open: usize) -> (usize, Option<String>) {
    let mut depth = 0usize;
    let mut commas = 0;
    let mut any = false;
    let mut first: Vec<&Token<'_>> = Vec::new();
    for tok in &tokens[open + 1..] {
        match tok.kind {
            Kind::Punct("(" | "[" | "{") => depth += 1,
            Kind::Punct(")" | "]" | "}") if depth == 0 => break,
            Kind::Punct(")" | "]" | "}") => depth -= 1,
            Kind::Punct(",") if depth == 0 => {
                commas += 1;
                continue;
            }
            _ => {}
        }
        any = true;
        if commas == 0 {
            first.push(tok);
        }
    }
    let first_str = match first.as_slice() {
        [Token {
            kind: Kind::Str(s), ..
        }] => Some(s.clone()),
        _ => None,
    };
    (if any { commas + 1 } else { 0 }, first_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(src: &str) -> Vec<(String, String, usize, Option<String>, u32, u32)> {
        scan_tokens(&tokenize(src))
            .calls
            .into_iter()
            .map(|c| (c.module, c.name, c.argc, c.first_str_arg, c.line, c.column))
            .collect()
    }

    fn functions(src: &str) -> Vec<String> {
        scan_tokens(&tokenize(src)).functions
    }

    fn c(
        module: &str,
        name: &str,
        argc: usize,
        first: Option<&str>,
        line: u32,
        column: u32,
    ) -> (String, String, usize, Option<String>, u32, u32) {
        (
            module.into(),
            name.into(),
            argc,
            first.map(Into::into),
            line,
            column,
        )
    }

    #[test]
    fn finds_core_and_module_calls_with_positions() {
        let src = "function ksr_request_route() {\n    KSR.info(\"hi\\n\");\n  KSR.tm.t_on_failure(\"fail\");\n}\n";
        assert_eq!(
            calls(src),
            [
                c("", "info", 1, Some("hi\n"), 2, 5),
                c("tm", "t_on_failure", 1, Some("fail"), 3, 3),
            ]
        );
    }

    #[test]
    fn ksr_in_strings_and_comments_does_not_count() {
        let src = r#"
            // KSR.info("line comment")
            # KSR.info("hash comment")
            /* KSR.info("block
               comment") */
            local a = "KSR.info(\"in a string\")";
            local b = @"KSR.info(""verbatim"")
                KSR.err(""still verbatim"")";
            local c = 'K';
            KSR.warn("real");
        "#;
        assert_eq!(calls(src), [c("", "warn", 1, Some("real"), 10, 13)]);
    }

    #[test]
    fn counts_arguments_through_nesting() {
        let src = r#"KSR.log("info", "a" + KSR.pv.get("$var(x)") + f(1, 2) + [3, 4].len() + {a = 1, b = 2}.len());
KSR.pv.sets("$var(a)", format("%d,%d", 1, 2));
KSR.x.exit();
KSR.info(("parenthesised"));
KSR.info("a" + "b");"#;
        assert_eq!(
            calls(src),
            [
                c("", "log", 2, Some("info"), 1, 1),
                c("pv", "get", 1, Some("$var(x)"), 1, 23),
                c("pv", "sets", 2, Some("$var(a)"), 2, 1),
                c("x", "exit", 0, None, 3, 1),
                c("", "info", 1, None, 4, 1),
                c("", "info", 1, None, 5, 1),
            ]
        );
    }

    #[test]
    fn multi_line_calls_and_spaced_dots() {
        let src = "KSR\n  .tm\n  . t_relay(\n  );\nKSR . pv . seti ( \"$var(n)\" ,\n 1.5e3 )";
        assert_eq!(
            calls(src),
            [
                c("tm", "t_relay", 0, None, 1, 1),
                c("pv", "seti", 2, Some("$var(n)"), 5, 1),
            ]
        );
    }

    #[test]
    fn not_calls_member_ksr_and_references() {
        let src = "local f = KSR.info; obj.KSR.info(\"x\"); KSR.tm; KSR[\"info\"](\"y\");";
        assert!(calls(src).is_empty(), "{:?}", calls(src));
    }

    #[test]
    fn numbers_do_not_make_member_access() {
        let src = "local x = 1.5; local y = 0x1F; local z = 2e10; KSR.info(\"\" + 3.25);";
        assert_eq!(calls(src), [c("", "info", 1, None, 1, 48)]);
    }

    #[test]
    fn escaped_quotes_and_char_literals_end_correctly() {
        let src =
            "local s = \"a \\\" KSR.info(1) \\\\\"; local q = '\\''; KSR.dbg(\"x\\x41\\u00e9\");";
        assert_eq!(calls(src), [c("", "dbg", 1, Some("xA\u{e9}"), 1, 50)]);
    }

    #[test]
    fn columns_count_characters() {
        let src = "local é = \"ü\"; KSR.info(\"x\");";
        assert_eq!(calls(src), [c("", "info", 1, Some("x"), 1, 16)]);
    }

    #[test]
    fn global_function_definitions() {
        let src = r#"
            function ksr_request_route() {
                local function inner() {}
                function nested() {}
            }
            function ::rooted() {}
            function Class::method() {}
            local function local_only() {}
            failure_route <- function() {}
            ::onreply <- function(x) {}
            class Foo {
                function method() {}
                static_ish <- function() {}
            }
            t <- { f = function() {} };
            t.g <- function() {};
            function ksr_htable_event(evname) {
                ::late <- function() {}
            }
        "#;
        assert_eq!(
            functions(src),
            [
                "ksr_request_route",
                "rooted",
                "failure_route",
                "onreply",
                "ksr_htable_event",
                "late"
            ]
        );
    }

    #[test]
    fn empty_and_unterminated_input_do_not_panic() {
        for src in [
            "",
            "KSR",
            "KSR.",
            "KSR.tm.",
            "KSR.info(",
            "\"open",
            "@\"open",
            "/* open",
            "'",
            "KSR.info(\"x\"",
            "function",
            "x <-",
        ] {
            let _ = scan_tokens(&tokenize(src));
        }
        assert_eq!(calls("KSR.info(\"x\""), [c("", "info", 1, Some("x"), 1, 1)]);
    }

    #[test]
    fn syntax_errors_come_from_the_compiler() {
        let source = ScriptSource {
            path: "bad.nut".into(),
            text: "function ksr_request_route() {\n    local a = = 1;\n}\n".into(),
        };
        let d = scan(&source).expect_err("syntax error");
        assert_eq!(d.file, "bad.nut");
        assert_eq!(d.line, 2);
        assert!(d.column > 0);
        assert!(d.message.contains("expression expected"), "{}", d.message);
    }

    #[test]
    fn scan_of_a_valid_script() {
        let source = ScriptSource {
            path: "ok.nut".into(),
            text: "function ksr_request_route() {\n    KSR.tm.t_on_failure(\"nope\");\n}\n".into(),
        };
        let s = scan(&source).expect("valid");
        assert_eq!(s.functions, ["ksr_request_route"]);
        assert_eq!(s.calls.len(), 1);
        assert_eq!(s.calls[0].first_str_arg.as_deref(), Some("nope"));
    }
}
