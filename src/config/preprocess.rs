//! The kamailio.cfg preprocessor: `#!define`, `#!ifdef`/`#!ifndef`/
//! `#!else`/`#!endif`, `#!substdef`, `include_file`/`import_file`, and the
//! removal of comments.
//!
//! It produces one text with a map from each of its lines back to the file
//! and line it came from, so every later error names the user's file:line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where a line of the preprocessed text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
}

/// The preprocessed configuration.
#[derive(Debug, Default)]
pub struct Preprocessed {
    /// Comments removed, defines substituted, includes inlined.
    pub text: String,
    /// One entry per line of `text`.
    pub origins: Vec<Origin>,
    /// The defines in force at the end (for `#!ifdef`-style queries).
    pub defines: HashMap<String, String>,
}

/// Nesting deeper than this is an include cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

struct State {
    defines: HashMap<String, String>,
    /// `#!substdef` replacements, applied to everything after them.
    substs: Vec<(String, String)>,
    out: Preprocessed,
}

/// Preprocesses `path` with the given `-A` defines.
pub fn preprocess(path: &Path, defines: &[(String, String)]) -> Result<Preprocessed, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: 0,
        message: format!("cannot read the configuration: {e}"),
    })?;
    preprocess_text(path, &text, defines)
}

/// Preprocesses `text`, reported as `path` (includes resolve against its
/// folder).
pub fn preprocess_text(
    path: &Path,
    text: &str,
    defines: &[(String, String)],
) -> Result<Preprocessed, ConfigError> {
    let mut st = State {
        defines: defines.iter().cloned().collect(),
        substs: Vec::new(),
        out: Preprocessed::default(),
    };
    process_file(&mut st, path, text, 0)?;
    st.out.defines = st.defines;
    Ok(st.out)
}

/// One `#!if...` level: whether its lines are kept, and whether an `#!else`
/// was seen.
struct Cond {
    active: bool,
    parent_active: bool,
    seen_else: bool,
    line: u32,
}

fn process_file(st: &mut State, path: &Path, text: &str, depth: usize) -> Result<(), ConfigError> {
    let err = |line: u32, message: String| ConfigError {
        file: path.to_owned(),
        line,
        message,
    };
    if depth > MAX_INCLUDE_DEPTH {
        return Err(err(
            0,
            "include files nest too deep (an include cycle?)".into(),
        ));
    }
    let mut conds: Vec<Cond> = Vec::new();
    let mut in_block_comment = false;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = (i + 1) as u32;
        let raw = lines[i];
        i += 1;
        let active = conds.last().is_none_or(|c| c.active);
        let trimmed = raw.trim_start();
        if !in_block_comment {
            if let Some(directive) = trimmed.strip_prefix("#!") {
                // A directive may continue on the next lines with `\`.
                let mut full = directive.trim_end().to_owned();
                while full.ends_with('\\') && i < lines.len() {
                    full.pop();
                    full.push('\n');
                    full.push_str(lines[i].trim_end());
                    st.out.text.push('\n');
                    st.out.origins.push(Origin {
                        file: path.to_owned(),
                        line: lineno,
                    });
                    i += 1;
                }
                directive_line(st, path, &full, lineno, active, &mut conds, depth)?;
                // Keep line numbers aligned: the directive becomes a blank line.
                st.out.text.push('\n');
                st.out.origins.push(Origin {
                    file: path.to_owned(),
                    line: lineno,
                });
                continue;
            }
        }
        if !active {
            st.out.text.push('\n');
            st.out.origins.push(Origin {
                file: path.to_owned(),
                line: lineno,
            });
            continue;
        }
        let stripped = strip_comments(raw, &mut in_block_comment);
        // include_file / import_file as statements.
        if let Some((kw, rest)) = include_statement(stripped.trim()) {
            let target = unquote(rest.trim().trim_end_matches(';').trim())
                .ok_or_else(|| err(lineno, format!("{kw} needs a quoted file name")))?;
            include(st, path, &target, lineno, kw == "include_file", depth)?;
            st.out.text.push('\n');
            st.out.origins.push(Origin {
                file: path.to_owned(),
                line: lineno,
            });
            continue;
        }
        let substituted = substitute(&stripped, &st.defines, &st.substs);
        st.out.text.push_str(&substituted);
        st.out.text.push('\n');
        st.out.origins.push(Origin {
            file: path.to_owned(),
            line: lineno,
        });
    }
    if let Some(c) = conds.last() {
        return Err(err(
            c.line,
            "this #!ifdef/#!ifndef has no matching #!endif".into(),
        ));
    }
    if in_block_comment {
        return Err(err(lines.len() as u32, "a /* comment is not closed".into()));
    }
    Ok(())
}

/// `include_file "x"` or `import_file "x"`: the keyword and the rest.
fn include_statement(line: &str) -> Option<(&'static str, &str)> {
    ["include_file", "import_file"]
        .into_iter()
        .find_map(|kw| line.strip_prefix(kw).map(|rest| (kw, rest)))
}

fn include(
    st: &mut State,
    from: &Path,
    target: &str,
    line: u32,
    must_exist: bool,
    depth: usize,
) -> Result<(), ConfigError> {
    let base = from.parent().unwrap_or(Path::new("."));
    let path = if Path::new(target).is_absolute() {
        PathBuf::from(target)
    } else {
        base.join(target)
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => process_file(st, &path, &text, depth + 1),
        Err(_) if !must_exist => Ok(()),
        Err(e) => Err(ConfigError {
            file: from.to_owned(),
            line,
            message: format!("cannot include {}: {e}", path.display()),
        }),
    }
}

fn directive_line(
    st: &mut State,
    path: &Path,
    directive: &str,
    line: u32,
    active: bool,
    conds: &mut Vec<Cond>,
    depth: usize,
) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError {
        file: path.to_owned(),
        line,
        message,
    };
    let (name, rest) = directive
        .split_once(|c: char| c.is_whitespace())
        .map_or((directive, ""), |(n, r)| (n, r.trim()));
    match name.to_ascii_lowercase().as_str() {
        "kamailio" | "ser" | "openser" | "all" | "maxcompat" => Ok(()),
        "ifdef" | "ifndef" => {
            let defined = st.defines.contains_key(rest.split_whitespace().next().unwrap_or(""));
            let want = name.eq_ignore_ascii_case("ifdef");
            conds.push(Cond {
                active: active && defined == want,
                parent_active: active,
                seen_else: false,
                line,
            });
            Ok(())
        }
        "else" => {
            let c = conds.last_mut().ok_or_else(|| err("#!else without #!ifdef".into()))?;
            if c.seen_else {
                return Err(err("a second #!else for the same #!ifdef".into()));
            }
            c.seen_else = true;
            c.active = c.parent_active && !c.active;
            Ok(())
        }
        "endif" => conds
            .pop()
            .map(|_| ())
            .ok_or_else(|| err("#!endif without #!ifdef".into())),
        _ if !active => Ok(()),
        "define" | "trydef" | "redefine" => {
            let (key, value) = rest
                .split_once(|c: char| c.is_whitespace())
                .map_or((rest, ""), |(k, v)| (k, v.trim()));
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(format!("#!{name} needs a name of letters, digits and _")));
            }
            let exists = st.defines.contains_key(key);
            match name {
                "define" if exists => Err(err(format!(
                    "{key} is already defined; use #!redefine to change it or #!trydef to keep the first value"
                ))),
                "trydef" if exists => Ok(()),
                _ => {
                    st.defines.insert(key.to_owned(), value.to_owned());
                    Ok(())
                }
            }
        }
        "undef" => {
            st.defines.remove(rest);
            Ok(())
        }
        "substdef" | "subst" => {
            let spec = unquote(rest).ok_or_else(|| err(format!("#!{name} needs a quoted \"/match/replace/\"")))?;
            let mut chars = spec.chars();
            let delim = chars.next().ok_or_else(|| err(format!("#!{name} is empty")))?;
            let parts: Vec<&str> = spec[delim.len_utf8()..].split(delim).collect();
            if parts.len() < 2 || parts[0].is_empty() {
                return Err(err(format!("#!{name} must look like \"/match/replace/\"")));
            }
            st.substs.push((parts[0].to_owned(), parts[1].to_owned()));
            if name == "substdef" {
                st.defines.insert(parts[0].to_owned(), format!("\"{}\"", parts[1]));
            }
            Ok(())
        }
        "include_file" | "import_file" => {
            let target = unquote(rest).ok_or_else(|| err(format!("#!{name} needs a quoted file name")))?;
            include(st, path, &target, line, name == "include_file", depth)
        }
        other => Err(err(format!(
            "unknown directive #!{other}; kemid knows #!define, #!trydef, #!redefine, #!undef, #!ifdef, #!ifndef, #!else, #!endif, #!substdef, #!subst, #!include_file, #!import_file"
        ))),
    }
}

/// `"text"` → `text` (also with single quotes).
fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q == '"' || q == '\'') && s.len() >= 2 && s.ends_with(q) {
        Some(s[1..s.len() - 1].to_owned())
    } else {
        None
    }
}

/// Removes `#`, `//` and `/* */` comments outside strings.
fn strip_comments(line: &str, in_block: &mut bool) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if *in_block {
            if b == b'*' && bytes.get(i + 1) == Some(&b'/') {
                *in_block = false;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        match quote {
            Some(q) => {
                if b == b'\\' && i + 1 < bytes.len() {
                    out.push_str(&line[i..i + 2]);
                    i += 2;
                    continue;
                }
                if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'#' => break,
                b'/' if bytes.get(i + 1) == Some(&b'/') => break,
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    *in_block = true;
                    i += 2;
                    continue;
                }
                _ => {}
            },
        }
        // Copy one whole UTF-8 character.
        let len = line[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&line[i..i + len]);
        i += len;
    }
    out
}

/// Replaces defined names (whole words, outside strings) by their values,
/// and applies `#!substdef` replacements inside strings.
fn substitute(
    line: &str,
    defines: &HashMap<String, String>,
    substs: &[(String, String)],
) -> String {
    if defines.is_empty() && substs.is_empty() {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '"' || c == '\'' {
            let end = string_end(rest, c);
            let mut s = rest[..end].to_owned();
            for (from, to) in substs {
                s = s.replace(from.as_str(), to);
            }
            out.push_str(&s);
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            match defines.get(word) {
                Some(v) if !v.is_empty() => out.push_str(v),
                _ => out.push_str(word),
            }
            rest = &rest[end..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The byte length of the string literal at the start of `s` (quote
/// included), or all of `s` when unterminated.
fn string_end(s: &str, q: char) -> usize {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return i + 1;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(text: &str, defs: &[(&str, &str)]) -> Result<Preprocessed, ConfigError> {
        let defs: Vec<(String, String)> = defs
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect();
        preprocess_text(Path::new("k.cfg"), text, &defs)
    }

    #[test]
    fn defines_and_conditionals() {
        let p = pp(
            "#!KAMAILIO\n#!define WITH_X\n#!define PORT 5070\n#!ifdef WITH_X\nport=PORT\n#!else\nport=1\n#!endif\n#!ifndef WITH_Y\nchildren=2\n#!endif\n",
            &[],
        )
        .expect("valid");
        let lines: Vec<&str> = p
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines, ["port=5070", "children=2"]);
        assert_eq!(p.origins.len(), p.text.lines().count());
        assert_eq!(p.origins[4].line, 5);
    }

    #[test]
    fn command_line_defines_select_branches() {
        let text = "#!ifdef WITH_TLS\nx=1\n#!else\nx=2\n#!endif\n";
        let with = pp(text, &[("WITH_TLS", "")]).expect("valid");
        assert!(with.text.contains("x=1") && !with.text.contains("x=2"));
        let without = pp(text, &[]).expect("valid");
        assert!(without.text.contains("x=2") && !without.text.contains("x=1"));
    }

    #[test]
    fn comments_are_removed_but_not_inside_strings() {
        let p = pp(
            "debug=2 # level\nmodparam(\"x\", \"url\", \"mysql://u@h/db\") // c\n/* multi\nline */ children=4\n",
            &[],
        )
        .expect("valid");
        assert!(p.text.contains("mysql://u@h/db\")"));
        assert!(!p.text.contains("level") && !p.text.contains("multi"));
        assert!(p.text.contains("children=4"));
    }

    #[test]
    fn defines_do_not_touch_strings_but_substdef_does() {
        let p = pp(
            "#!define HOST example.com\n#!substdef \"!MYIP!10.0.0.1!\"\nalias=HOST\nx=\"HOST MYIP\"\n",
            &[],
        )
        .expect("valid");
        assert!(p.text.contains("alias=example.com"));
        assert!(p.text.contains("x=\"HOST 10.0.0.1\""));
    }

    #[test]
    fn faults_name_their_line() {
        let e = pp("#!ifdef A\nx=1\n", &[]).expect_err("unterminated");
        assert_eq!((e.line, e.message.contains("#!endif")), (1, true));
        let e = pp("x=1\n#!endif\n", &[]).expect_err("stray endif");
        assert_eq!(e.line, 2);
        let e = pp("#!define A 1\n#!define A 2\n", &[]).expect_err("redefined");
        assert_eq!(e.line, 2);
        let e = pp("#!frobnicate\n", &[]).expect_err("unknown");
        assert!(e
            .to_string()
            .starts_with("k.cfg:1: unknown directive #!frobnicate"));
    }

    #[test]
    fn includes_resolve_against_the_including_file() {
        let dir = std::env::temp_dir().join(format!("kemid-pp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("extra.cfg"), "children=8\n").expect("write");
        std::fs::write(
            dir.join("main.cfg"),
            "debug=1\ninclude_file \"extra.cfg\"\nimport_file \"missing.cfg\"\n",
        )
        .expect("write");
        let p = preprocess(&dir.join("main.cfg"), &[]).expect("valid");
        assert!(p.text.contains("children=8"));
        let idx = p
            .text
            .lines()
            .position(|l| l.contains("children=8"))
            .expect("line");
        assert!(p.origins[idx].file.ends_with("extra.cfg"));
        assert_eq!(p.origins[idx].line, 1);
        std::fs::write(dir.join("bad.cfg"), "include_file \"nope.cfg\"\n").expect("write");
        let e = preprocess(&dir.join("bad.cfg"), &[]).expect_err("missing include");
        assert_eq!(e.line, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
