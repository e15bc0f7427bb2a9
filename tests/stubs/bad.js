// Three faults tsc must report against stubs/ksr.d.ts, each at its line.
function ksr_request_route() {
    KSR.pv.sett("$var(x)", "y");
    KSR.pv.seti("$var(x)", "1");
    KSR.pv.sets("$var(x)");
}
