// A correct routing script: tsc must accept it against stubs/ksr.d.ts.
var calls = 0;

function ksr_request_route() {
    calls++;
    KSR.info("request " + calls + "\n");
    KSR.log("notice", "level " + KSR.get_debug() + "\n");
    KSR.pv.seti("$var(count)", calls);
    KSR.pv.sets("$var(user)", "alice");
    var user = KSR.pv.get("$var(user)");
    if (user === null) {
        KSR.err("no user\n");
        KSR.x.exit();
    }
    var shown = KSR.pv.getw("$var(user)");
    KSR_pv.unset("$var(user)");
    if (KSR.pv.is_null("$var(user)")) {
        KSR.warn("unset " + shown + "\n");
    }
    KSR.x.drop();
}
