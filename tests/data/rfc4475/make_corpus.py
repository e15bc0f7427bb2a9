#!/usr/bin/env python3
"""Writes the kemid corpus for the RFC 4475 torture tests.

Each message is written here from the RFC's description of what its test
exercises; hosts, users, tags and values are ours. `{via}` stands for the
test client's address (loopback), so every answer stays on loopback. Run
from this folder: python3 make_corpus.py (the .sip files are committed;
this is how they were made).
"""

CRLF = b"\r\n"


def msg(head, body=b"", cl=True, cl_value=None):
    """`head` is a list of header lines (str or bytes); Content-Length is
    appended (the body's size unless `cl_value`) when `cl`."""
    lines = [l.encode("utf-8") if isinstance(l, str) else l for l in head]
    if cl:
        lines.append(b"Content-Length: " + (cl_value or str(len(body))).encode())
    return CRLF.join(lines) + CRLF + CRLF + body


SDP = (
    b"v=0\r\no=alice 71 71 IN IP4 192.0.2.77\r\ns=-\r\nc=IN IP4 192.0.2.77\r\n"
    b"t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)

M = {}

# 3.1.1.1: white space where the grammar allows it, folding, compact and
# odd-cased names, space before colons, a multi-value Via split over lines.
M["wsinv"] = msg([
    "INVITE sip:bob@p.example.org SIP/2.0",
    "TO :",
    " sip:bob@p.example.org ;   tag    = 77a1b2",
    "from   : \"Alice \\\"the tester\\\"\"       <sip:alice@example.org>",
    "  ;",
    "  tag = q1w2e3",
    "MaX-fOrWaRdS: 0069",
    "Call-ID: wsinv.fold9@192.0.2.4",
    "Content-Length   : 150",
    "cseq: 0007",
    "  INVITE",
    "Via  : SIP  /   2.0",
    " /UDP",
    "    {via};branch=z9hG4bKkemidws1",
    "s :",
    "NewFangledHeader:   a value that",
    " goes on over a second line",
    "UnknownHeaderWithUnusualValue: ;;,,;;,;",
    "Content-Type: application/sdp",
    "Route:",
    " <sip:edge.example.org;lr;unknownwith=value;unknown-no-value>",
    "v:  SIP  / 2.0  / TCP     spindle.example.org   ;",
    "  branch  =   z9hG4bKkemidws2  ,",
    " SIP  /    2.0   / UDP  192.0.2.111   ; branch=",
    " z9hG4bKkemidws3",
    "m:\"Quoted \\\"\\\"\" <sip:alice@example.org> ; newparam =",
    "      newvalue ;",
    "  secondparam ; q = 0.33",
], b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"[:150].ljust(150, b"x"), cl=False)

# 3.1.1.2: every token character in the method; odd but legal characters
# in the Request-URI, Call-ID, tags and parameters; BEL, NUL and DEL as
# quoted-pairs in a display name; UTF-8 in a quoted value and a header.
METHOD = "!interesting-Method0123456789_*+`.%indeed'~"
M["intmeth"] = msg([
    METHOD.encode() + b" sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bK-.!%66*_+`'~kemid",
    b"To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@p.example.org>",
    "From: token1~` token2'+_ token3*%!.- <sip:plain@example.org>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
    "Call-ID: intmeth.kemid%Zq-!.*_+'@odd`~)(><:\\/\"][?}{x",
    "CSeq: 139122385 " + METHOD,
    "Max-Forwards: 255",
    "extensionHeader-!.%*+_`'~: 大停電",
])

# 3.1.1.3: escapes in the Request-URI and in the URIs of To, From and
# Contact, some of characters that need none.
M["esc01"] = msg([
    "INVITE sip:sips%3Auser%40example.org@p.example.org SIP/2.0",
    "To: sip:%62o%62@p.example.org",
    "From: <sip:I%20have%20spaces@example.net>;tag=e5c01",
    "Max-Forwards: 70",
    "Call-ID: esc01.239409asdfakjkn23onasd0-3234",
    "CSeq: 234234 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidesc01",
    "C: application/sdp",
    "Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>",
], SDP)

# 3.1.1.4: an escaped NUL (%00) in the user part of URIs.
M["escnull"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: sip:null-%00-null@p.example.org",
    "From: sip:null-%00-null@p.example.org;tag=e5cn",
    "Call-ID: escnull.1@192.0.2.9",
    "CSeq: 1 REGISTER",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidescnull",
    "Max-Forwards: 70",
    "Contact: <sip:%00@host5.example.org>",
    "Contact: <sip:%00%00@host5.example.org>",
    "L:0",
], cl=False)

# 3.1.1.5: escapes in the method (making it a different, unknown one), a
# display name with a bare % and a To-less-looking Contact list.
M["esc02"] = msg([
    "RE%47IST%45R sip:registrar.p.example.org SIP/2.0",
    "To: \"%Z%45\" <sip:resource@p.example.org>",
    "From: \"%Z%45\" <sip:resource@p.example.org>;tag=e5c02",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidesc02",
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
    "CSeq: 29 RE%47IST%45R",
    "Max-Forwards: 70",
    "Contact: <sip:alias1@host1.example.org>",
    "C%6Fntact: <sip:alias2@host2.example.org>",
    "Contact: <sip:alias3@host3.example.org>",
    "l: 0",
], cl=False)

# 3.1.1.6: no white space between a display name and its <.
M["lwsdisp"] = msg([
    "OPTIONS sip:bob@p.example.org SIP/2.0",
    "To: sip:bob@p.example.org",
    "From: caller<sip:caller@example.org>;tag=1wsd",
    "Max-Forwards: 70",
    "Call-ID: lwsdisp.1234abcd@funky.example.org",
    "CSeq: 60 OPTIONS",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidlwsdisp",
])

# 3.1.1.7: long values everywhere: a long user part, tags, Call-ID, an
# unknown header of some KiB, many Via values and Route entries.
LONG = "kemidtorturequitelongusernamekemidtorturequitelongusernamekemidtorturequitelongusername" * 6
VIAS = ", ".join(f"SIP/2.0/TCP sip{i}.example.org;branch=z9hG4bKkemidlong{i}" for i in range(1, 40))
M["longreq"] = msg([
    "INVITE sip:" + LONG[:300] + "@p.example.org SIP/2.0",
    "To: \"I have a user name of " + "extreme " * 40 + "proportion\" <sip:" + LONG[:300] + "@p.example.org:6000;unknownparam1=verylonguiparameter" + "x" * 200 + ";longparamnamesg=value;unknown-no-value>",
    "From: sip:" + LONG + "@example.org;tag=12" + "98" * 200,
    "Call-ID: longreq.one" + "really" * 100 + "longcallid",
    "CSeq: 3882340 INVITE",
    "Unknown-" + "Long" * 20 + "-Name: unknown-" + "long" * 20 + "-value; unknown-" + "long" * 20 + "-parameter-name = unknown-" + "long" * 20 + "-parameter-value",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidlong0",
    "Via: " + VIAS,
    "Route: " + ", ".join(f"<sip:proxy{i}.example.org;lr>" for i in range(1, 30)),
    "Max-Forwards: 70",
    "Contact: <sip:" + LONG + "@host5.example.org>",
    "Content-Type: application/sdp",
], SDP)

# 3.1.1.8: two requests in one datagram: only the first, whose
# Content-Length is 0, is the message; the rest is to be discarded.
first = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: sip:j.user@p.example.org",
    "From: sip:j.user@p.example.org;tag=43251j3j324",
    "Max-Forwards: 8",
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412",
    "Contact: sip:j.user@host.example.org",
    "CSeq: 8 REGISTER",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemiddbl1",
])
second = msg([
    "INVITE sip:joe@p.example.org SIP/2.0",
    "t: sip:joe@p.example.org",
    "From: sip:caller@example.net;tag=141334",
    "Max-Forwards: 8",
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemiddbl2",
    "Content-Type: application/sdp",
], SDP)
M["dblreq"] = first + second

# 3.1.1.9: a semicolon in the user part of the Request-URI.
M["semiuri"] = msg([
    "OPTIONS sip:user;par=u%40example.net@p.example.org SIP/2.0",
    "To: sip:j_user@p.example.org",
    "From: sip:caller@example.org;tag=33242",
    "Max-Forwards: 3",
    "Call-ID: semiuri.0ha0isndaksdj",
    "CSeq: 8 OPTIONS",
    "Accept: application/sdp, application/pkcs7-mime,",
    "        multipart/mixed, multipart/signed,",
    "        message/sip, message/sipfrag",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidsemi",
])

# 3.1.1.10: Via values with transports known and unknown.
M["transports"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: <sip:caller@example.org>;tag=323",
    "Max-Forwards: 70",
    "Call-ID: transports.kijh4akdnaqjkwendsasfdj",
    "Accept: application/sdp",
    "CSeq: 60 OPTIONS",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidtr1",
    "Via: SIP/2.0/SCTP t2.example.org;branch=z9hG4bKkemidtr2",
    "Via: SIP/2.0/TLS t3.example.org;branch=z9hG4bKkemidtr3",
    "Via: SIP/2.0/UNKNOWN t4.example.org;branch=z9hG4bKkemidtr4",
    "Via: SIP/2.0/TCP t5.example.org;branch=z9hG4bKkemidtr5",
])

# 3.1.1.11: a multipart body, one part of it binary (every byte value).
BOUNDARY = b"kemid-boundary-7MA4YWxk"
MP = (
    b"--" + BOUNDARY + b"\r\nContent-Type: application/sdp\r\n\r\n" + SDP + b"\r\n"
    b"--" + BOUNDARY + b"\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n" + bytes(range(256)) + b"\r\n"
    b"--" + BOUNDARY + b"--\r\n"
)
M["mpart01"] = msg([
    "MESSAGE sip:kumiko@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidmpart",
    "Max-Forwards: 70",
    "From: \"Bob\" <sip:bob@example.org>;tag=a73kszlfl",
    "To: <sip:kumiko@p.example.org>",
    "Call-ID: mpart01.1j9FpLxk3uxtm8tn@192.0.2.1",
    "CSeq: 1 MESSAGE",
    "Content-Type: multipart/mixed;boundary=" + BOUNDARY.decode(),
], MP)

# 3.1.1.12: a response whose reason phrase has digits, symbols and UTF-8.
M["unreason"] = msg([
    "SIP/2.0 200 = 3**2 * 7 - шестьдесят три, и это не простое число",
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bKkemidunr",
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf",
    "CSeq: 35 INVITE",
    "From: sip:user@example.org;tag=11141343",
    "To: sip:user@p.example.org;tag=2229",
    "Content-Type: application/sdp",
    "Contact: <sip:user@host198.example.org>",
], SDP)

# 3.1.1.13: a response with an empty reason phrase (the space stays).
M["noreason"] = msg([
    "SIP/2.0 100 ",
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bKkemidnor",
    "To: <sip:user@p.example.org>;tag=9xg7",
    "From: <sip:caller@example.org>;tag=nbg3",
    "Call-ID: noreason.asndj203insdf99223ndf",
    "CSeq: 35 INVITE",
])

# 3.1.2.1: empty parameters and values in a Via.
M["badinv01"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=134161461246",
    "Max-Forwards: 7",
    "Call-ID: badinv01.0ha0isndaksdjweiafasdk3",
    "Contact: <sip:caller@hungry.example.net>",
    "Via: SIP/2.0/UDP {via};;,;,,",
    "CSeq: 8 INVITE",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.2: Content-Length larger than what follows.
M["clerr"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "Max-Forwards: 80",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=93942939o2",
    "Contact: <sip:caller@hungry.example.net>",
    "Call-ID: clerr.0ha0isndaksdjweiafasdk3",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidclerr",
    "Content-Type: application/sdp",
], SDP, cl_value="9999")

# 3.1.2.3: a negative Content-Length.
M["ncl"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "Max-Forwards: 254",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=32394234",
    "Call-ID: ncl.0ha0isndaksdj2193423r542w35",
    "CSeq: 0 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidncl",
    "Contact: <sip:caller@example53.example.net>",
    "Content-Type: application/sdp",
], SDP, cl_value="-999")

# 3.1.2.4: a request with scalar values far beyond their range.
M["scalar02"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidsc02",
    "Max-Forwards: 300",
    "From: sip:user@p.example.org;tag=932190",
    "To: sip:user@p.example.org",
    "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32",
    "CSeq: 36893488147419103232 REGISTER",
    "Contact: <sip:user@host129.example.org>;expires=280297596632815",
    "Expires: 10000000000000000000",
])

# 3.1.2.5: a response with scalar values far beyond their range.
M["scalarlg"] = msg([
    "SIP/2.0 503 Service Unavailable",
    "Via: SIP/2.0/TCP 192.0.2.41;branch=z9hG4bKkemidsclg",
    "To: <sip:user@p.example.org>;tag=2easdjfejw",
    "From: <sip:other@example.net>;tag=7cb3xa",
    "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r",
    "CSeq: 1 OPTIONS",
    "Retry-After: 949302838503028349304023988",
    "Warning: 1812 overture \"In Progress\"",
])

# 3.1.2.6: a quoted display name that is never closed.
M["quotbal"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "To: \"Mr. J. User <sip:j.user@p.example.org>",
    "From: sip:caller@example.net;tag=93334",
    "Max-Forwards: 10",
    "Call-ID: quotbal.aksdj",
    "Contact: <sip:caller@host59.example.net>",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidquot",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.7: a Request-URI in angle brackets.
M["ltgtruri"] = msg([
    "INVITE <sip:user@p.example.org> SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=39291",
    "Max-Forwards: 23",
    "Call-ID: ltgtruri.1@192.0.2.5",
    "CSeq: 1 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidltgt",
    "Contact: <sip:caller@host5.example.net>",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.8: white space inside the Request-URI.
M["lwsruri"] = msg([
    "INVITE sip:user@p.example.org; lr SIP/2.0",
    "To: sip:user@p.example.org;tag=3xfe-9921883-z9f",
    "From: sip:caller@example.net;tag=231413434",
    "Max-Forwards: 5",
    "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423",
    "CSeq: 2130706432 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidlwsr",
    "Contact: <sip:caller@host1.example.net>",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.9: several spaces between the parts of the request line.
M["lwsstart"] = msg([
    "INVITE  sip:user@p.example.org  SIP/2.0",
    "Max-Forwards: 8",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=8814",
    "Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.net",
    "CSeq: 1893884 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidlwss",
    "Contact: <sip:caller@host1.example.net>",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.10: spaces after the version at the end of the request line.
M["trws"] = msg([
    "OPTIONS sip:remote-target@p.example.org SIP/2.0  ",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidtrws",
    "Max-Forwards: 70",
    "From: <sip:remote-caller@example.net>;tag=2bc8",
    "To: <sip:remote-target@p.example.org>",
    "Call-ID: trws.oij4ri1k9a27@192.0.2.90",
    "CSeq: 32 OPTIONS",
])

# 3.1.2.11: escaped header fields in the Request-URI (not allowed there).
M["escruri"] = msg([
    "INVITE sip:user@p.example.org?Route=%3Csip:example.org%3E SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=341518",
    "Max-Forwards: 7",
    "Contact: <sip:caller@host39923.example.net>",
    "Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5",
    "CSeq: 149209342 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidescr",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.12: a Date with a time zone other than GMT.
M["baddate"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=2234923",
    "Max-Forwards: 70",
    "Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234",
    "CSeq: 1392934 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidbdat",
    "Date: Fri, 01 Jan 2010 16:00:00 EST",
    "Contact: <sip:caller@host5.example.net>",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.13: a Contact URI with headers, not in angle brackets.
M["regbadct"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:user@p.example.org;tag=998332",
    "Max-Forwards: 70",
    "Call-ID: regbadct.k345asrl3fdbv@10.0.0.1",
    "CSeq: 1 REGISTER",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidrbct",
    "Contact: sip:user@host5.example.org?Route=%3Csip:sip.example.org%3E",
])

# 3.1.2.14: white space inside an addr-spec's angle brackets.
M["badaspec"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidbasp",
    "Max-Forwards: 70",
    "From: \"Watson, Thomas\" < sip:t.watson@example.org > ;tag=ghi",
    "To: \"Bell, Alexander\" <sip:a.g.bell@p.example.org>",
    "Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3",
    "Accept: application/sdp",
    "CSeq: 3923239 OPTIONS",
])

# 3.1.2.15: characters outside token in an unquoted display name.
M["baddn"] = msg([
    "OPTIONS sip:t.watson@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidbdn",
    "Max-Forwards: 70",
    "From: Bell, Alexander <sip:a.g.bell@example.org>;tag=43",
    "To: Watson, Thomas <sip:t.watson@p.example.org>",
    "Call-ID: baddn.31415@c.example.org",
    "Accept: application/sdp",
    "CSeq: 3923239 OPTIONS",
])

# 3.1.2.16: a protocol version nobody speaks.
M["badvers"] = msg([
    "OPTIONS sip:t.watson@p.example.org SIP/7.0",
    "Via: SIP/7.0/UDP {via};branch=z9hG4bKkemidbver",
    "Max-Forwards: 70",
    "From: A. Bell <sip:a.g.bell@example.org>;tag=qweoiqpe",
    "To: T. Watson <sip:t.watson@p.example.org>",
    "Call-ID: badvers.31417@c.example.org",
    "CSeq: 1 OPTIONS",
])

# 3.1.2.17: the CSeq method differs from the request's.
M["mismatch01"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=34525",
    "Max-Forwards: 6",
    "Call-ID: mismatch01.dj0234sxdfl3",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidmm1",
])

# 3.1.2.18: an unknown method, and a different one in CSeq.
M["mismatch02"] = msg([
    "NEWMETHOD sip:user@p.example.org SIP/2.0",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=34525",
    "Max-Forwards: 6",
    "Call-ID: mismatch02.dj0234sxdfl3",
    "CSeq: 8 INVITE",
    "Contact: <sip:caller@host.example.net>",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidmm2",
    "Content-Type: application/sdp",
], SDP)

# 3.1.2.19: a status code of more than three digits.
M["bigcode"] = msg([
    "SIP/2.0 4294967301 better not break the receiver",
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bKkemidbig",
    "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i",
    "CSeq: 353494 INVITE",
    "From: <sip:user@example.org>;tag=39ansfi3",
    "To: <sip:user@p.example.org>;tag=902jndnke3",
    "Contact: <sip:user@host105.example.org>",
])

# 3.2.1: a branch that is only the magic cookie.
M["badbranch"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.org;tag=33242",
    "Max-Forwards: 3",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bK",
    "Accept: application/sdp",
    "Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n",
    "CSeq: 8 OPTIONS",
])

# 3.3.1: To, From and Call-ID missing.
M["insuf"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "CSeq: 193942 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidinsuf",
    "Content-Type: application/sdp",
], SDP)

# 3.3.2: a Request-URI of a scheme nobody knows.
M["unkscm"] = msg([
    "OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=384",
    "Max-Forwards: 3",
    "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34",
    "CSeq: 3923423 OPTIONS",
    "Via: SIP/2.0/TCP {via};branch=z9hG4bKkemidunks",
])

# 3.3.3: a Request-URI of a real scheme a SIP server does not route.
M["novelsc"] = msg([
    "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=384",
    "Max-Forwards: 3",
    "Call-ID: novelsc.asdfasser0q239nwsdfasdkl34",
    "CSeq: 3923423 OPTIONS",
    "Via: SIP/2.0/TCP {via};branch=z9hG4bKkemidnovl",
])

# 3.3.4: To, From and Contact with URIs of unknown schemes.
M["unksm2"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: isbn:2983792873",
    "From: <http://www.example.org>;tag=3234233",
    "Call-ID: unksm2.daksdj@hyphenated-host.example.org",
    "CSeq: 234902 REGISTER",
    "Max-Forwards: 70",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidunk2",
    "Contact: <name:John_Smith>",
])

# 3.3.5: Require and Proxy-Require naming extensions nobody supports.
M["bext01"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "To: sip:j_user@p.example.org",
    "From: sip:caller@example.net;tag=242etr",
    "Max-Forwards: 6",
    "Call-ID: bext01.0ha0isndaksdj",
    "Require: nothingSupportsThis, nothingSupportsThisEither",
    "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis",
    "CSeq: 8 OPTIONS",
    "Via: SIP/2.0/TLS {via};branch=z9hG4bKkemidbext",
])

# 3.3.6: a body of a type nobody knows.
M["invut"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "Contact: <sip:caller@host5.example.net>",
    "To: sip:j.user@p.example.org",
    "From: sip:caller@example.net;tag=8392034",
    "Max-Forwards: 70",
    "Call-ID: invut.0ha0isndaksdjadsfij34n23d",
    "CSeq: 235448 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidinvut",
    "Content-Type: application/unknownformat",
], b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n")

# 3.3.7: credentials of an authentication scheme nobody knows.
M["regaut01"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: sip:j.user@p.example.org",
    "From: sip:j.user@p.example.org;tag=87321hj23128",
    "Max-Forwards: 8",
    "Call-ID: regaut01.0ha0isndaksdj",
    "CSeq: 9338 REGISTER",
    "Via: SIP/2.0/TCP {via};branch=z9hG4bKkemidraut",
    "Authorization: NoOneKnowsThisScheme opaque-data=here",
])

# 3.3.8: two values each for Call-ID, To and From.
M["multi01"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidmulti",
    "Max-Forwards: 70",
    "To: sip:user@p.example.org",
    "Call-ID: multi01.98asdh@192.0.2.1",
    "CSeq: 59 INVITE",
    "Call-ID: multi01.98asdh@192.0.2.2",
    "From: sip:caller@example.org;tag=3413415",
    "To: sip:user@p.example.org",
    "To: sip:other@example.net",
    "From: sip:caller@example.net;tag=2923420123",
    "Content-Type: application/sdp",
    "Contact: <sip:caller@host5.example.org>",
], SDP)

# 3.3.9: two Content-Length headers that disagree.
M["mcl01"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidmcl",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=3413415",
    "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf",
    "CSeq: 15932 OPTIONS",
    "Content-Length: 13",
    "Max-Forwards: 60",
    "Content-Length: 5",
    "Content-Type: text/plain",
], b"There's no way to know how many octets are supposed to be here.\r\n", cl=False)

# 3.3.10: a 200 whose top Via names the broadcast address.
M["bcast"] = msg([
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bKkemidbc1",
    "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKkemidbc2",
    "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf",
    "CSeq: 35 INVITE",
    "From: sip:user@example.org;tag=11141343",
    "To: sip:user@p.example.org;tag=2229",
    "Content-Type: application/sdp",
    "Contact: <sip:user@host28.example.org>",
], SDP)

# 3.3.11: Max-Forwards of zero on an OPTIONS to a proxy.
M["zeromf"] = msg([
    "OPTIONS sip:user@p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:caller@example.net;tag=3ghsd41",
    "Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas",
    "CSeq: 39234321 OPTIONS",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidzmf",
    "Max-Forwards: 0",
])

# 3.3.12: a Contact without angle brackets whose parameter is therefore
# a header parameter.
M["cparam01"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidcp1",
    "Max-Forwards: 70",
    "From: sip:watson@p.example.org;tag=DkfVgjkrtMwaerKKpe",
    "To: sip:watson@p.example.org",
    "Call-ID: cparam01.70710@saturn.example.org",
    "CSeq: 2 REGISTER",
    "Contact: sip:+19725552222@gw1.example.org;unknownparam",
])

# 3.3.13: the same parameter inside angle brackets: a URI parameter.
M["cparam02"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidcp2",
    "Max-Forwards: 70",
    "From: sip:watson@p.example.org;tag=838293",
    "To: sip:watson@p.example.org",
    "Call-ID: cparam02.70710@saturn.example.org",
    "CSeq: 3 REGISTER",
    "Contact: <sip:+19725552222@gw1.example.org;unknownparam>",
])

# 3.3.14: a Contact URI carrying an escaped header.
M["regescrt"] = msg([
    "REGISTER sip:p.example.org SIP/2.0",
    "To: sip:user@p.example.org",
    "From: sip:user@p.example.org;tag=8",
    "Max-Forwards: 70",
    "Call-ID: regescrt.k345asrl3fdbv@192.0.2.1",
    "CSeq: 14398234 REGISTER",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidresc",
    "M: <sip:user@host5.example.org?Route=%3Csip:sip.example.org%3E>",
])

# 3.3.15: an Accept that no body format the request carries matches.
M["sdp01"] = msg([
    "INVITE sip:user@p.example.org SIP/2.0",
    "To: sip:j_user@p.example.org",
    "Contact: <sip:caller@host15.example.net>",
    "From: sip:caller@example.net;tag=234",
    "Max-Forwards: 5",
    "Call-ID: sdp01.ndaksdj9342dasdd",
    "Accept: text/nobodyKnowsThis",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP {via};branch=z9hG4bKkemidsdp",
    "Content-Type: application/sdp",
], SDP)

# 3.4.1: RFC 2543 style: no branch cookie, no tags, no Max-Forwards.
M["inv2543"] = msg([
    "INVITE sip:UserB@p.example.org SIP/2.0",
    "Via: SIP/2.0/UDP {via}",
    "From: <sip:UserA@example.org>",
    "To: <sip:UserB@p.example.org>",
    "Call-ID: inv2543.1@host.example.org",
    "CSeq: 1 INVITE",
    "Contact: <sip:UserA@host.example.org>",
    "Content-Type: application/sdp",
], SDP)

def own_call_ids(name, data):
    """Every Call-ID but intmeth's (whose characters are the point) is
    `<name>.kemid-<n>@192.0.2.<n>`."""
    if name == "intmeth":
        return data
    out, n = [], 0
    for line in data.split(CRLF):
        low = line.lower()
        if low.startswith(b"call-id:") or low.startswith(b"i:"):
            n += 1
            line = line.split(b":", 1)[0] + b": %s.kemid-%d@192.0.2.%d" % (name.encode(), 4475 + n, n)
        out.append(line)
    return CRLF.join(out)


if __name__ == "__main__":
    assert len(M) == 49, len(M)
    for name, data in M.items():
        data = own_call_ids(name, data)
        with open(name + ".sip", "wb") as f:
            f.write(data)
    print(len(M), "messages written")
