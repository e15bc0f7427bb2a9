// A typical proxy-registrar routing script (Squirrel: app_sqlang,
// cfgengine "sqlang"), in the style of Kamailio's basic KEMI example without
// authentication, NAT traversal, database or accounting. route.js is the
// same logic in JavaScript; proxy.cfg loads either, in Kamailio and kemid.
//
// - REGISTER for our domain: saved in the location table;
// - requests to our users: the location table gives the contact, the
//   request is relayed statefully (tm), dialog-forming ones record-routed;
//   404 for an unknown user;
// - requests for other domains: relayed as they are;
// - in-dialog requests: routed by the Route set (loose routing);
// - serial forking: a call refused with 486 or not answered (408) is tried
//   once more at the URI of its X-Fallback header, or FALLBACK.uri.

// Settings, like the #!define lines of a kamailio.cfg.
const MAX_HOPS = 10;                // Max-Forwards limit (483 above)
const SANITY_CHECKS = 1511;         // sanity_check: R-URI, version, scheme, required
                                    // headers, Via, CSeq, Content-Length, Expires, Proxy-Require
const SANITY_URI_CHECKS = 7;        // ... and the R-URI, From and To URIs parse
local FALLBACK = {
    hdr = "X-Fallback",             // where a caller asks busy/unanswered calls to go
    uri = "",                       // where they go when the request names no fallback ("": nowhere)
    codes = "486|408"               // the failures that go to the fallback
};

// SIP request routing: the request_route{} of a kamailio.cfg.
function ksr_request_route()
{
    // per-request checks
    ksr_route_reqinit();

    // CANCEL: relayed when its INVITE transaction is known
    if (KSR.is_CANCEL()) {
        if (KSR.tm.t_check_trans() > 0) {
            ksr_route_relay();
        }
        return;
    }

    // requests within a dialog
    ksr_route_withindlg();

    // -- initial requests only (no To tag)

    // retransmissions: absorbed (the last reply is sent again)
    if (!KSR.is_ACK()) {
        if (KSR.tmx.t_precheck_trans() > 0) {
            KSR.tm.t_check_trans();
            return;
        }
        if (KSR.tm.t_check_trans() == 0) {
            return;
        }
    }

    // dialog-forming requests record-route; preloaded Route headers go
    KSR.hdr.remove("Route");
    if (KSR.is_method_in("IS")) {
        KSR.rr.record_route();
    }

    // requests for other domains
    ksr_route_sipout();

    // -- requests for our domain

    ksr_route_registrar();

    if (KSR.corex.has_ruri_user() < 0) {
        // no user in the R-URI
        KSR.sl.sl_send_reply(484, "Address Incomplete");
        return;
    }

    ksr_route_location();
}

// Stateful relay, with the tm routes armed once.
function ksr_route_relay()
{
    if (KSR.is_method_in("IBSU") && KSR.tm.t_is_set("branch_route") < 0) {
        KSR.tm.t_on_branch("ksr_branch_manage");
    }
    if (KSR.is_method_in("ISU") && KSR.tm.t_is_set("onreply_route") < 0) {
        KSR.tm.t_on_reply("ksr_onreply_manage");
    }
    if (KSR.is_INVITE() && KSR.tm.t_is_set("failure_route") < 0) {
        KSR.tm.t_on_failure("ksr_failure_manage");
    }
    if (KSR.tm.t_relay() < 0) {
        KSR.sl.sl_reply_error();
    }
    KSR.x.exit();
}

// Per-request checks.
function ksr_route_reqinit()
{
    if (KSR.maxfwd.process_maxfwd(MAX_HOPS) < 0) {
        KSR.sl.sl_send_reply(483, "Too Many Hops");
        KSR.x.exit();
    }
    if (KSR.is_OPTIONS() && KSR.is_myself_ruri() && KSR.corex.has_ruri_user() < 0) {
        KSR.sl.sl_send_reply(200, "Keepalive");
        KSR.x.exit();
    }
    if (KSR.sanity.sanity_check(SANITY_CHECKS, SANITY_URI_CHECKS) < 0) {
        // sanity_check has answered
        KSR.err("malformed SIP message from " + KSR.pv.get("$si") + ":" + KSR.pv.get("$sp") + "\n");
        KSR.x.exit();
    }
}

// Requests within a dialog: they follow the Route set.
function ksr_route_withindlg()
{
    if (KSR.siputils.has_totag() < 0) {
        return;
    }
    if (KSR.rr.loose_route() > 0) {
        if (KSR.is_NOTIFY()) {
            // RFC 6665: an in-dialog NOTIFY record-routes too
            KSR.rr.record_route();
        }
        // an ACK to a 2xx goes on statelessly
        ksr_route_relay();
    }
    if (KSR.is_ACK()) {
        if (KSR.tm.t_check_trans() > 0) {
            // no Route, but a transaction: the ACK of a negative reply
            // from further on
            ksr_route_relay();
        }
        // else an ACK for nothing we know: dropped
        KSR.x.exit();
    }
    KSR.sl.sl_send_reply(404, "Not here");
    KSR.x.exit();
}

// REGISTER: save the bindings and answer.
function ksr_route_registrar()
{
    if (!KSR.is_REGISTER()) {
        return;
    }
    if (KSR.registrar.save("location", 0) < 0) {
        KSR.sl.sl_reply_error();
    }
    KSR.x.exit();
}

// Requests to our users: the location table gives where they are.
function ksr_route_location()
{
    local rc = KSR.registrar.lookup("location");
    if (rc < 0) {
        KSR.tm.t_newtran();
        switch (rc) {
            case -1:
            case -3:
                KSR.sl.send_reply(404, "Not Found");
                KSR.x.exit();
            case -2:
                KSR.sl.send_reply(405, "Method Not Allowed");
                KSR.x.exit();
        }
    }
    ksr_route_relay();
}

// Requests for other domains go on as they are.
function ksr_route_sipout()
{
    if (KSR.is_myself_ruri()) {
        return;
    }
    KSR.hdr.append("P-Hint: outbound\r\n");
    ksr_route_relay();
}

// Each outgoing branch: the branch_route of a kamailio.cfg.
function ksr_branch_manage()
{
    KSR.dbg("new branch [" + KSR.tm.t_get_branch_index() + "] to " + KSR.pv.get("$ru") + "\n");
}

// Each reply of a relayed transaction: its onreply_route.
function ksr_onreply_manage()
{
    KSR.dbg("incoming reply " + KSR.pv.get("$rs") + "\n");
}

// A relayed INVITE failed: its failure_route. Serial forking: one more
// destination for a busy or unanswered call. Not re-armed here, so a
// second failure is final.
function ksr_failure_manage()
{
    if (KSR.tm.t_is_canceled() > 0 || KSR.tm.t_check_status(FALLBACK.codes) < 0) {
        return;
    }
    local target = KSR.hdr.get(FALLBACK.hdr);
    if (target == null || target == "") {
        target = FALLBACK.uri;
    }
    if (target == "") {
        return;
    }
    KSR.info("call to " + KSR.pv.get("$ru") + " failed with " + KSR.tm.t_get_status_code()
        + ", trying " + target + "\n");
    KSR.seturi(target);
    KSR.tm.t_on_branch("ksr_branch_manage");
    if (KSR.tm.t_relay() < 0) {
        KSR.err("cannot relay to the fallback " + target + "\n");
    }
}

// Every SIP reply received: the reply_route{} of a kamailio.cfg.
function ksr_reply_route()
{
    KSR.dbg("response " + KSR.pv.get("$rs") + "\n");
}
