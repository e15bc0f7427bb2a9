//! Addresses of record: the key a user's contacts are stored under.

use std::fmt;

use super::UsrlocConfig;
use crate::sip::{Scheme, Uri};

/// Why a URI gives no AoR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AorError {
    /// Not a parsable SIP, SIPS or tel URI.
    BadUri(String),
    /// No user part (and `use_domain` is off, so nothing identifies the
    /// user).
    NoUser,
    /// Longer than [`MAX_AOR_LEN`].
    TooLong,
}

impl fmt::Display for AorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AorError::BadUri(u) => write!(f, "{u:?} is not a SIP URI"),
            AorError::NoUser => f.write_str("the URI has no user part"),
            AorError::TooLong => write!(f, "the address of record is longer than {MAX_AOR_LEN}"),
        }
    }
}

impl std::error::Error for AorError {}

/// Longest AoR kept (Kamailio's limit).
pub const MAX_AOR_LEN: usize = 512;

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The AoR of `uri` under `config`: the unescaped user, plus `@domain`
/// when `use_domain` is on (the domain without `realm_prefix`). The domain
/// is lower-cased; the user too unless `case_sensitive`.
pub fn aor_of_uri(uri: &str, config: &UsrlocConfig) -> Result<String, AorError> {
    let u = Uri::parse(uri).map_err(|_| AorError::BadUri(uri.to_owned()))?;
    if !matches!(u.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel) {
        return Err(AorError::BadUri(uri.to_owned()));
    }
    let mut user = unescape(u.user().unwrap_or(""));
    if !config.case_sensitive {
        user.make_ascii_lowercase();
    }
    let mut aor = user;
    if config.use_domain {
        let mut host = u.host().to_ascii_lowercase();
        if let Some(prefix) = &config.realm_prefix {
            if host.len() > prefix.len() && host.starts_with(prefix.as_str()) {
                host.drain(..prefix.len());
            }
        }
        if !host.is_empty() {
            if !aor.is_empty() {
                aor.push('@');
            }
            aor.push_str(&host);
        }
    }
    if aor.is_empty() {
        return Err(AorError::NoUser);
    }
    if aor.len() > MAX_AOR_LEN {
        return Err(AorError::TooLong);
    }
    Ok(aor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(use_domain: bool, case_sensitive: bool) -> UsrlocConfig {
        UsrlocConfig {
            use_domain,
            case_sensitive,
            realm_prefix: Some("sip.".into()),
            ..UsrlocConfig::default()
        }
    }

    #[test]
    fn user_only_by_default() {
        let c = cfg(false, false);
        assert_eq!(
            aor_of_uri("sip:Alice@Example.COM;transport=tcp", &c),
            Ok("alice".into())
        );
        assert_eq!(aor_of_uri("sips:bob@h:5061", &c), Ok("bob".into()));
        assert_eq!(aor_of_uri("sip:%61lice@h", &c), Ok("alice".into()));
        assert_eq!(aor_of_uri("tel:+1555", &c), Ok("+1555".into()));
        assert_eq!(aor_of_uri("sip:example.com", &c), Err(AorError::NoUser));
        assert!(matches!(
            aor_of_uri("http://x", &c),
            Err(AorError::BadUri(_))
        ));
        assert!(matches!(
            aor_of_uri("garbage", &c),
            Err(AorError::BadUri(_))
        ));
    }

    #[test]
    fn with_domain_and_case() {
        let c = cfg(true, true);
        assert_eq!(
            aor_of_uri("sip:Alice@SIP.Example.com", &c),
            Ok("Alice@example.com".into())
        );
        assert_eq!(aor_of_uri("sip:example.com", &c), Ok("example.com".into()));
        let long = format!("sip:{}@h", "a".repeat(600));
        assert_eq!(aor_of_uri(&long, &c), Err(AorError::TooLong));
    }

    #[test]
    fn bad_escapes_are_kept() {
        assert_eq!(unescape("a%2"), "a%2");
        assert_eq!(unescape("a%zz"), "a%zz");
        assert_eq!(unescape("%41%42"), "AB");
        assert_eq!(unescape("%"), "%");
    }
}
