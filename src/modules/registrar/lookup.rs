//! Finding where to send a request for an address of record: its
//! registered contacts, each as a target (Request-URI, next hop, Path).

use crate::ctx::{Branch, CoreServices, Ctx, MAX_BRANCHES};
use crate::log;
use crate::modules::usrloc::api::{self, methods, Contact, LocationStore};
use crate::sip::{split_commas, NameAddr, Uri};

use super::RegCfg;

/// One destination found for an AoR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The contact URI: the new Request-URI.
    pub uri: String,
    /// Where to send instead of the URI's host: the first Path hop, else
    /// the NAT `received` address.
    pub dst_uri: Option<String>,
    /// The Path to add as Route headers.
    pub path: Option<String>,
    pub q: Option<u16>,
    pub cflags: u32,
    pub instance: Option<String>,
    pub ruid: String,
}

/// The URI of the first value of a Path (`<sip:p;lr>,<...>` gives
/// `sip:p;lr`) and the values after it.
fn first_hop(path: &str) -> Option<(String, Option<String>)> {
    let mut values = split_commas(path);
    let first = values.next()?;
    let uri = NameAddr::parse(first).ok()?.uri_str().to_owned();
    let rest: Vec<&str> = values.collect();
    Some((uri, (!rest.is_empty()).then(|| rest.join(","))))
}

/// The target of one binding; `None` when its Path cannot be used
/// (logged).
fn target_of(c: &Contact, core: Option<&dyn CoreServices>, cfg: &RegCfg) -> Option<Target> {
    let mut path = c.path.clone();
    let mut dst = None;
    if let Some(p) = &c.path {
        let Some((mut hop, mut rest)) = first_hop(p) else {
            log::error(
                "registrar",
                format_args!("cannot use the Path {p:?} of contact {}", c.uri),
            );
            return None;
        };
        if cfg.path_check_local {
            let local = Uri::parse(&hop)
                .is_ok_and(|u| core.is_some_and(|core| core.is_myself(u.host(), u.port(), None)));
            if local {
                // The first hop is this server: start from the next one.
                hop = rest
                    .as_deref()
                    .and_then(first_hop)
                    .map(|(h, _)| h)
                    .unwrap_or_default();
                path = rest.take();
            }
        }
        if !hop.is_empty() {
            dst = Some(hop);
        }
    }
    if dst.is_none() {
        dst = c.received.clone();
    }
    Some(Target {
        uri: c.uri.clone(),
        dst_uri: dst,
        path,
        q: c.q,
        cflags: c.cflags,
        instance: c.instance.clone(),
        ruid: c.ruid.clone(),
    })
}

/// The targets of `aor`, best first: `Err(-1)` when it has no valid
/// contact, `Err(-2)` when `method_filtering` left none for the request's
/// method.
pub fn targets(
    ctx: &Ctx,
    table: &dyn LocationStore,
    aor: &str,
    cfg: &RegCfg,
) -> Result<Vec<Target>, i32> {
    let contacts = table.lookup(aor, api::now());
    if contacts.is_empty() {
        return Err(-1);
    }
    let filter_bit = ctx.msg().and_then(|m| {
        let initial = m.to_header().is_ok_and(|t| t.tag().is_none());
        (cfg.method_filtering && m.is_request() && initial)
            .then(|| m.method_str().map(methods::bit))
            .flatten()
    });
    let allowed: Vec<&Contact> = contacts
        .iter()
        .filter(|c| filter_bit.is_none_or(|bit| c.methods & bit != 0))
        .collect();
    if allowed.is_empty() {
        return Err(-2);
    }
    let core = ctx.core();
    Ok(allowed
        .into_iter()
        .filter_map(|c| target_of(c, core, cfg))
        .collect())
}

/// Adds targets as further branches of the destination set (up to
/// Kamailio's branch limit).
pub fn append_branches(ctx: &mut Ctx, targets: &[Target]) {
    for t in targets {
        let branches = &mut ctx.state_mut().branches;
        if branches.len() + 1 >= MAX_BRANCHES {
            log::error(
                "registrar",
                format_args!("too many branches: contact {} not added", t.uri),
            );
            return;
        }
        branches.push(Branch {
            uri: t.uri.clone(),
            dst_uri: t.dst_uri.clone(),
            path: t.path.clone(),
            q: t.q.map(i32::from),
            flags: t.cflags,
            instance: t.instance.clone(),
            ruid: Some(t.ruid.clone()),
        });
    }
}

/// Makes `t` the Request-URI branch: R-URI, `$du`, Path, q and branch
/// flags. False (logged) when the message refuses the URI.
pub fn set_ruri_branch(ctx: &mut Ctx, t: &Target) -> bool {
    let Some(msg) = ctx.msg_mut() else {
        return false;
    };
    if let Err(e) = msg.set_ruri(&t.uri) {
        log::error(
            "registrar",
            format_args!("cannot set the Request-URI to {}: {e}", t.uri),
        );
        return false;
    }
    msg.reset_du();
    if let Some(d) = &t.dst_uri {
        if let Err(e) = msg.set_du(d) {
            log::error(
                "registrar",
                format_args!("cannot set the destination to {d}: {e}"),
            );
            return false;
        }
    }
    let state = ctx.state_mut();
    state.path = t.path.clone();
    state.ruri_q = t.q.map(i32::from);
    state.branch_flags[0] |= t.cflags;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_hop_of_a_path() {
        assert_eq!(
            first_hop("<sip:p1.example.com;lr>,<sip:p2.example.com;lr>"),
            Some((
                "sip:p1.example.com;lr".into(),
                Some("<sip:p2.example.com;lr>".into())
            ))
        );
        assert_eq!(first_hop("<sip:p1;lr>"), Some(("sip:p1;lr".into(), None)));
        assert_eq!(first_hop(""), None);
        assert_eq!(first_hop("<broken"), None);
    }

    #[test]
    fn path_wins_over_received() {
        let c = Contact {
            uri: "sip:u@10.0.0.1".into(),
            received: Some("sip:192.0.2.1:5070".into()),
            path: Some("<sip:edge.example.com;lr>".into()),
            ..Contact::default()
        };
        let t = target_of(&c, None, &RegCfg::default());
        assert_eq!(
            t.and_then(|t| t.dst_uri),
            Some("sip:edge.example.com;lr".into())
        );
        let c = Contact { path: None, ..c };
        let t = target_of(&c, None, &RegCfg::default());
        assert_eq!(t.and_then(|t| t.dst_uri), Some("sip:192.0.2.1:5070".into()));
    }
}
