// kemid's built-in routing script: a small stateless server.
// OPTIONS (keepalives, monitoring) get 200; other requests 404, except ACK,
// which is never answered.

function ksr_request_route() {
    var method = KSR.pv.get("$rm");
    if (method === "ACK") {
        return;
    }
    if (method === "OPTIONS") {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    KSR.sl.sl_send_reply(404, "Not Found");
}
