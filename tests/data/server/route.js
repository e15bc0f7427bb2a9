// The routing script of the server integration tests (JavaScript).
function ksr_request_route() {
    if (KSR.maxfwd.process_maxfwd(10) < 0) {
        KSR.sl.sl_send_reply(483, "Too Many Hops");
        return;
    }
    if (KSR.is_ACK()) {
        return;
    }
    if (KSR.is_OPTIONS()) {
        KSR.sl.sl_send_reply(200, "Alive " + KSR.pv.get("$rU"));
        return;
    }
    KSR.sl.sl_send_reply(404, "Not Here");
}
