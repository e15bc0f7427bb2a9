//! The corpus in `tests/data/sip/`, read through the public API: what each
//! message is there to exercise (compact forms, IPv6, folding, multi-value
//! Via lines, Route sets, quoted display names, tel URIs, white space in
//! Via), plus properties every valid message must have (serialising without
//! edits is the identity, a local reply can be built and parsed back).

use kemid::sip::{build_reply, Contacts, HeaderName, Method, NameAddr, Scheme, SipMsg, ViewError};

type R = Result<(), Box<dyn std::error::Error>>;

fn load(name: &str) -> SipMsg {
    let bytes =
        std::fs::read(format!("tests/data/sip/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    SipMsg::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn contact_list(m: &SipMsg) -> Vec<NameAddr<'_>> {
    match m.contacts() {
        Ok(Contacts::List(l)) => l.iter().collect(),
        other => panic!("contacts: {other:?}"),
    }
}

#[test]
fn invite_with_sdp() -> R {
    let m = load("invite_sdp.sip");
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.content_length(), Some(m.body().len() as u32));
    assert!(m
        .body_str()
        .is_some_and(|b| b.starts_with("v=0\r\no=alice")));
    assert_eq!(
        m.header(HeaderName::ContentType).map(|h| h.value),
        Some("application/sdp")
    );
    assert_eq!(m.values(HeaderName::Allow).count(), 6);
    assert_eq!(
        m.values(HeaderName::Supported).collect::<Vec<_>>(),
        ["timer", "100rel"]
    );
    assert_eq!(m.top_via()?.rport(), Some(None));
    assert_eq!(m.top_via()?.port(), Some(5060));
    assert_eq!(m.max_forwards()?, 70);
    assert_eq!(m.to_header()?.display_name(), Some("Bob"));
    assert_eq!(
        m.header(HeaderName::UserAgent).map(|h| h.value),
        Some("TestPhone/1.0")
    );
    Ok(())
}

#[test]
fn register_with_several_contacts() -> R {
    let m = load("register_contacts.sip");
    let c = contact_list(&m);
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].expires(), Some(3600));
    assert_eq!(c[0].q_millis(), Some(900));
    assert_eq!(c[1].uri().port(), Some(5070));
    assert_eq!(c[1].uri().transport(), Some("tcp"));
    assert_eq!(c[1].q_millis(), Some(500));
    assert_eq!(c[2].uri().host(), "bobspc.biloxi.example.com");
    assert_eq!(c[2].expires(), Some(60));
    assert_eq!(m.expires()?, 7200);
    assert_eq!(m.top_via()?.transport(), "TCP");
    Ok(())
}

#[test]
fn options() -> R {
    let m = load("options.sip");
    assert_eq!(m.method(), Some(Method::Options));
    assert_eq!(m.cseq()?.method(), Method::Options);
    assert_eq!(
        m.header_by_name("accept").map(|h| h.value),
        Some("application/sdp")
    );
    assert!(m.body().is_empty());
    Ok(())
}

#[test]
fn reply_with_several_vias() -> R {
    let m = load("ok_200_multi_via.sip");
    assert_eq!(m.status_code(), Some(200));
    assert_eq!(m.reason(), Some("OK"));
    let vias = m.vias()?;
    assert_eq!(vias.len(), 3);
    let received: Vec<_> = vias.iter().filter_map(|v| v.received()).collect();
    assert_eq!(received, ["192.0.2.3", "192.0.2.2", "192.0.2.1"]);
    assert_eq!(
        vias.get(2).and_then(|v| v.branch()),
        Some("z9hG4bK776asdhds")
    );
    let rr = m.record_routes()?;
    assert_eq!(rr.len(), 2);
    assert!(rr.iter().all(|r| r.uri().lr()));
    assert_eq!(m.cseq()?.method(), Method::Invite);
    Ok(())
}

#[test]
fn compact_forms() -> R {
    let m = load("compact_forms.sip");
    for (compact, full) in [
        ("v", "Via"),
        ("f", "From"),
        ("t", "To"),
        ("i", "Call-ID"),
        ("m", "Contact"),
    ] {
        let a = m.header_by_name(compact).map(|h| h.value);
        assert!(a.is_some(), "{compact}");
        assert_eq!(a, m.header_by_name(full).map(|h| h.value), "{full}");
    }
    assert_eq!(
        m.header_by_name("Subject").map(|h| (h.name, h.value)),
        Some(("s", "Lunch"))
    );
    assert_eq!(
        m.header(HeaderName::Supported).map(|h| h.value),
        Some("timer")
    );
    assert_eq!(m.content_length(), Some(5));
    assert_eq!(m.body(), b"v=0\r\n");
    assert_eq!(contact_list(&m)[0].uri().host(), "192.0.2.101");
    Ok(())
}

#[test]
fn ipv6_request_uri_and_via() -> R {
    let m = load("ipv6.sip");
    let ruri = m.ruri()?;
    assert_eq!(ruri.host(), "[2001:db8::20]");
    assert_eq!(ruri.port(), Some(5060));
    assert_eq!(ruri.user(), Some("bob"));
    assert_eq!(
        ruri.host_ip().map(|ip| ip.to_string()).as_deref(),
        Some("2001:db8::20")
    );
    let via = m.top_via()?;
    assert_eq!(via.host(), "[2001:db8::9:1]");
    assert_eq!(via.port(), Some(5060));
    assert_eq!(via.received(), Some("2001:db8::9:255"));
    assert_eq!(m.from_header()?.uri().host(), "[2001:db8::9:1]");
    assert_eq!(contact_list(&m)[0].uri().port(), Some(5060));
    Ok(())
}

#[test]
fn folded_headers() -> R {
    let m = load("folded_header.sip");
    let to = m.to_header()?;
    assert_eq!(to.display_name(), Some("Viznick, Vivek"));
    assert_eq!(to.uri().host(), "chair-dnrc.example.com");
    let subject = m.header(HeaderName::Subject).map(|h| h.value);
    assert_eq!(
        subject,
        Some("I know you're there,\r\n\tpick up the phone\r\n   and talk to me!")
    );
    assert_eq!(m.cseq()?.number(), 8);
    assert_eq!(m.cseq()?.method(), Method::Invite);
    assert_eq!(
        m.header_count(),
        8,
        "continuation lines belong to their header"
    );
    Ok(())
}

#[test]
fn multi_value_via_line() -> R {
    let m = load("multi_value_via.sip");
    let branches: Vec<_> = m.vias()?.iter().filter_map(|v| v.branch()).collect();
    assert_eq!(branches, ["z9hG4bKp2", "z9hG4bKp1", "z9hG4bKmv0"]);
    assert_eq!(m.headers_of(HeaderName::Via).count(), 1);
    assert_eq!(m.values(HeaderName::Via).count(), 3);
    Ok(())
}

#[test]
fn route_set_with_lr() -> R {
    let m = load("route_set.sip");
    let routes = m.routes()?;
    assert_eq!(routes.len(), 3);
    assert!(routes.iter().all(|r| r.uri().lr()));
    let hosts: Vec<_> = routes.iter().map(|r| r.uri().host()).collect();
    assert_eq!(
        hosts,
        [
            "bigbox3.site3.atlanta.example.com",
            "server10.biloxi.example.com",
            "192.0.2.77"
        ]
    );
    assert_eq!(routes.last().and_then(|r| r.uri().transport()), Some("tcp"));
    assert_eq!(routes.last().and_then(|r| r.uri().port()), Some(5080));
    assert_eq!(m.method(), Some(Method::Ack));
    Ok(())
}

#[test]
fn quoted_display_names_with_commas() -> R {
    let m = load("quoted_display_comma.sip");
    let from = m.from_header()?;
    assert_eq!(from.display_name(), Some(r#"Smith, John \"JS\" <boss>"#));
    assert_eq!(from.uri().user(), Some("user1"));
    assert_eq!(from.tag(), Some("49583"));
    assert_eq!(m.to_header()?.display_name(), Some("Doe, Jane"));
    let names: Vec<_> = contact_list(&m)
        .iter()
        .filter_map(|c| c.display_name())
        .collect();
    assert_eq!(names, ["Smith, John", "Agent, 2"]);
    assert_eq!(m.body_str(), Some("Watson, come here."));
    Ok(())
}

#[test]
fn tel_uris() -> R {
    let m = load("tel_uri.sip");
    let ruri = m.ruri()?;
    assert_eq!(ruri.scheme(), Scheme::Tel);
    assert_eq!(ruri.user(), Some("+1-201-555-0123"));
    assert_eq!(ruri.param("phone-context"), Some("example.com"));
    assert_eq!(m.from_header()?.uri().scheme(), Scheme::Tel);
    assert_eq!(m.from_header()?.uri().user(), Some("+1-201-555-9999"));
    assert_eq!(contact_list(&m)[0].uri().user_param(), Some("phone"));
    Ok(())
}

#[test]
fn white_space_in_via_and_before_colons() -> R {
    let m = load("via_whitespace.sip");
    let via = m.top_via()?;
    assert_eq!(via.transport(), "UDP");
    assert_eq!(via.host(), "server.example.com");
    assert_eq!(via.port(), Some(5060));
    assert_eq!(via.rport(), Some(None));
    assert_eq!(m.from_header()?.tag(), Some("ws9"));
    assert_eq!(m.call_id()?, "ws-call@example.com");
    assert_eq!(
        m.header(HeaderName::Event).map(|h| h.value),
        Some("presence")
    );
    assert_eq!(
        m.header(HeaderName::SubscriptionState).map(|h| h.value),
        Some("active;expires=599")
    );
    Ok(())
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir("tests/data/sip")
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{e}"));
            (p.display().to_string(), bytes)
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10);
    v
}

#[test]
fn every_message_round_trips_and_can_be_answered() -> R {
    let mut out = Vec::new();
    for (name, bytes) in corpus() {
        let mut m = SipMsg::parse(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.as_bytes(), &bytes[..], "{name}");
        out.clear();
        m.write_into(&mut out);
        assert_eq!(out, bytes, "{name}: serialising without edits");

        if m.is_request() && m.method() != Some(Method::Ack) {
            out.clear();
            build_reply(&m, 404, "", Some("srv1"), "", &mut out)?;
            let reply = SipMsg::parse(out.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(reply.status_code(), Some(404));
            assert_eq!(reply.vias()?.len(), m.vias()?.len(), "{name}");
            assert_eq!(reply.call_id()?, m.call_id()?);
            assert_eq!(reply.cseq()?.number(), m.cseq()?.number());
            assert_eq!(reply.from_header()?.tag(), m.from_header()?.tag());
            let to_tag = m.to_header()?.tag().unwrap_or("srv1");
            assert_eq!(reply.to_header()?.tag(), Some(to_tag), "{name}");
        }

        // An edit, applied, is visible to reads and nothing else moves.
        let headers = m.header_count();
        m.append_header("X-Corpus: 1")?;
        m.apply_changes()?;
        assert_eq!(m.header_count(), headers + 1);
        assert_eq!(m.header_by_name("x-corpus").map(|h| h.value), Some("1"));
        assert_eq!(
            m.header_at(headers).map(|h| h.kind),
            Some(HeaderName::Other)
        );
        assert_ne!(m.call_id(), Err(ViewError::Missing));
    }
    Ok(())
}
