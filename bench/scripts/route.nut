// Benchmark routing script (Squirrel), run unchanged by Kamailio
// (app_sqlang) and kemid. OPTIONS workload: answer OPTIONS with 200,
// statelessly, after the Max-Forwards check.

function ksr_request_route() {
    if (KSR.maxfwd.process_maxfwd(10) < 0) {
        KSR.sl.sl_send_reply(483, "Too Many Hops");
        return;
    }
    if (KSR.is_OPTIONS()) {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    if (KSR.pv.get("$rm") == "ACK") {
        return;
    }
    KSR.sl.sl_send_reply(405, "Method Not Allowed");
}
