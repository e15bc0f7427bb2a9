//! Contact profiles: copies of an AoR's contacts a script fetched with
//! `reg_fetch_contacts` and reads with `ulc_rget`/`ulc_cget` (Kamailio's
//! `$ulc(profile=>attr)`). Like Kamailio's, they belong to the worker and
//! last until freed or fetched again.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::log;
use crate::modules::usrloc::api::{aor_hash, Contact};
use crate::registry::XVal;

/// Most profiles a worker keeps (names come from scripts).
pub const MAX_PROFILES: usize = 32;

struct Profile {
    table: String,
    aor: String,
    contacts: Vec<Contact>,
}

thread_local! {
    static PROFILES: RefCell<HashMap<String, Profile>> = RefCell::new(HashMap::new());
}

/// Keeps `contacts` under `name`; false (logged) when too many profiles
/// exist.
pub fn store(name: &str, table: &str, aor: &str, contacts: Vec<Contact>) -> bool {
    PROFILES.with(|p| {
        let mut p = p.borrow_mut();
        if !p.contains_key(name) && p.len() >= MAX_PROFILES {
            log::error(
                "registrar",
                format_args!(
                    "too many contact profiles ({MAX_PROFILES}); free some with reg_free_contacts"
                ),
            );
            return false;
        }
        p.insert(
            name.to_owned(),
            Profile {
                table: table.to_owned(),
                aor: aor.to_owned(),
                contacts,
            },
        );
        true
    })
}

/// Forgets the profile `name`.
pub fn free(name: &str) {
    PROFILES.with(|p| {
        p.borrow_mut().remove(name);
    });
}

fn int(v: impl TryInto<i64>) -> XVal {
    v.try_into().map_or(XVal::Null, XVal::Int)
}

fn text(v: Option<&String>) -> XVal {
    v.map_or(XVal::Null, |s| XVal::Str(s.clone()))
}

/// An attribute of the AoR of a profile.
pub fn record_attr(name: &str, attr: &str) -> XVal {
    PROFILES.with(|p| {
        let p = p.borrow();
        let Some(r) = p.get(name) else {
            return XVal::Null;
        };
        match attr {
            "aor" => XVal::Str(r.aor.clone()),
            "domain" => XVal::Str(r.table.clone()),
            "aorhash" => int(aor_hash(&r.aor)),
            "count" => int(r.contacts.len()),
            _ => {
                log::error(
                    "registrar",
                    format_args!("ulc_rget: unknown attribute {attr:?}"),
                );
                XVal::Null
            }
        }
    })
}

/// An attribute of contact `idx` of a profile.
pub fn contact_attr(name: &str, attr: &str, idx: i32) -> XVal {
    PROFILES.with(|p| {
        let p = p.borrow();
        let Some(c) = p
            .get(name)
            .and_then(|r| usize::try_from(idx).ok().and_then(|i| r.contacts.get(i)))
        else {
            return XVal::Null;
        };
        match attr {
            "addr" => XVal::Str(c.uri.clone()),
            "path" => text(c.path.as_ref()),
            "received" => text(c.received.as_ref()),
            "expires" => int(c.expires),
            "callid" => XVal::Str(c.call_id.clone()),
            "q" => c.q.map_or(int(-1), int),
            "cseq" => int(c.cseq),
            "flags" => int(c.flags),
            "cflags" => int(c.cflags),
            "user_agent" => text(c.user_agent.as_ref()),
            "socket" => text(c.socket.as_ref()),
            "modified" => int(c.last_modified),
            "methods" => int(c.methods),
            "ruid" => XVal::Str(c.ruid.clone()),
            "regid" => int(c.reg_id),
            "instance" => text(c.instance.as_ref()),
            "conid" => c.conn.map_or(XVal::Null, int),
            _ => {
                log::error(
                    "registrar",
                    format_args!("ulc_cget: unknown attribute {attr:?}"),
                );
                XVal::Null
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_hold_copies_and_are_bounded() {
        let c = Contact {
            uri: "sip:bob@192.0.2.5".into(),
            q: Some(500),
            ruid: "r1".into(),
            ..Contact::default()
        };
        assert!(store("p", "location", "bob", vec![c]));
        assert_eq!(record_attr("p", "count"), XVal::Int(1));
        assert_eq!(record_attr("p", "aor"), XVal::Str("bob".into()));
        assert_eq!(
            contact_attr("p", "addr", 0),
            XVal::Str("sip:bob@192.0.2.5".into())
        );
        assert_eq!(contact_attr("p", "q", 0), XVal::Int(500));
        assert_eq!(contact_attr("p", "received", 0), XVal::Null);
        assert_eq!(contact_attr("p", "addr", 1), XVal::Null);
        assert_eq!(contact_attr("p", "addr", -1), XVal::Null);
        assert_eq!(contact_attr("p", "nonsense", 0), XVal::Null);
        free("p");
        assert_eq!(record_attr("p", "count"), XVal::Null);
        for i in 0..MAX_PROFILES {
            assert!(store(&format!("p{i}"), "location", "a", Vec::new()));
        }
        assert!(!store("extra", "location", "a", Vec::new()));
        assert!(
            store("p0", "location", "a", Vec::new()),
            "refetch reuses a slot"
        );
        for i in 0..MAX_PROFILES {
            free(&format!("p{i}"));
        }
    }
}
