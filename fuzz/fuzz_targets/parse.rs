//! Fuzz target `parse`: every input is framed as a stream, parsed as a
//! datagram, walked through every typed view, serialised unchanged (which
//! must reproduce it), edited the way a proxy does, serialised again and
//! rebuilt. Inputs that fail to parse but claim a 400 is possible must yield
//! a 400 that parses.

#![no_main]

use std::net::SocketAddr;

use kemid::sip::{
    build_bad_request, build_reply, frame, Contacts, Frame, Limits, SipMsg, StartLine,
};
use libfuzzer_sys::fuzz_target;

/// Reads everything a routing script could read.
fn walk(m: &SipMsg) -> usize {
    let mut n = m.header_count() + m.body().len();
    n += match m.start_line() {
        StartLine::Request { uri, .. } => uri.len(),
        StartLine::Reply { reason, .. } => reason.len(),
    };
    for h in m.headers() {
        n += h.value.len() + m.values(h.kind).count() + m.values_by_name(h.name).count();
    }
    if let Ok(vias) = m.vias() {
        for v in vias.iter() {
            n += v.host().len() + v.params().count() + usize::from(v.port().unwrap_or(0));
            n += v.branch().map_or(0, str::len) + v.rport().map_or(0, |_| 1);
            n += v.host_ip().map_or(0, |_| 1) + v.ttl().map_or(0, usize::from);
        }
    }
    n += m.top_via().map_or(0, |v| v.sent_by().len());
    for a in [m.from_header(), m.to_header()].into_iter().flatten() {
        n += a.tag().map_or(0, str::len) + a.display_name().map_or(0, str::len);
        let u = a.uri();
        n += u.host().len() + u.params().count() + u.header_pairs().count();
        n += usize::from(u.equivalent(&u)) + usize::from(u.port_or_default());
    }
    if let Ok(c) = m.cseq() {
        n += c.number() as usize + c.method_str().len();
    }
    n += m.call_id().map_or(0, str::len);
    if let Ok(Contacts::List(list)) = m.contacts() {
        for c in list.iter() {
            n += usize::from(c.q_millis().unwrap_or(0)) + c.expires().unwrap_or(0) as usize;
            n += c.uri().user().map_or(0, str::len);
        }
    }
    for list in [m.routes(), m.record_routes()].into_iter().flatten() {
        n += list.iter().filter(|r| r.uri().lr()).count();
    }
    n += m.max_forwards().unwrap_or(0) as usize + m.expires().unwrap_or(0) as usize;
    if let Ok(u) = m.ruri() {
        n += u.user().map_or(0, str::len) + u.host_ip().map_or(0, |_| 1);
    }
    n
}

fuzz_target!(|data: &[u8]| {
    match frame(data, Limits::default()) {
        Frame::Complete(n) | Frame::Keepalive(n) => assert!(n > 0 && n <= data.len()),
        Frame::Incomplete | Frame::Error(_) => {}
    }

    let mut out = Vec::new();
    let mut m = match SipMsg::parse(data) {
        Ok(m) => m,
        Err(e) => {
            if e.can_reply() {
                assert!(build_bad_request(data, "", &mut out));
                let reply = SipMsg::parse(out).expect("a 400 we built must parse");
                assert_eq!(reply.status_code(), Some(400));
            }
            return;
        }
    };
    walk(&m);
    m.write_into(&mut out);
    assert_eq!(
        out,
        m.as_bytes(),
        "serialising without edits is the identity"
    );

    let source: SocketAddr = ([192, 0, 2, 1], 5070).into();
    let _ = m.fix_top_via(source, true);
    let _ = m.add_via("SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKfuzz");
    let _ = m.add_record_route("<sip:198.51.100.1;lr>");
    let _ = m.append_header("X-Fuzz: 1");
    let _ = m.delete_header(m.header_count() / 2);
    let _ = m.set_ruri("sip:fuzz@198.51.100.2");
    out.clear();
    if build_reply(&m, 200, "", Some("fz"), "", &mut out).is_ok() {
        let reply = SipMsg::parse(out.clone()).expect("a reply we built must parse");
        assert_eq!(reply.status_code(), Some(200));
    }
    let _ = m.set_body(b"v=0\r\n", Some("application/sdp"));
    out.clear();
    m.write_into(&mut out);
    if m.apply_changes().is_ok() {
        walk(&m);
        assert_eq!(m.body(), b"v=0\r\n");
        let _ = m.remove_top_via();
        out.clear();
        m.write_into(&mut out);
    }
});
