# shellcheck shell=bash
# Shared helpers for the load scripts (bench/side_by_side.sh, .ci/interop,
# .ci/reload).
# Source it from bash with `set -euo pipefail`; it defines functions only.
#
# Servers run in their own process group (setsid), so that every process of
# a server (Kamailio forks many) can be found, measured and stopped through
# the group, and nothing else is touched.

# The repository root.
LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Clock ticks per second of /proc/<pid>/stat times.
CLK_TCK="$(getconf CLK_TCK)"

# Server process groups started by start_server, stopped by stop_all.
SERVER_PGIDS=()
# Background sipp processes (the measured run, a callee) to stop on exit.
HELPER_PIDS=()

# need CMD HINT: fail clearly when CMD is not installed.
need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found; $2"
}

# apt_install PACKAGE...: installs Debian packages, as root or through sudo.
apt_install() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# is_loopback ADDR: load runs stay on IPv4 loopback (bench.cfg writes
# listen=udp:ADDR:PORT, which takes no bare IPv6 address).
is_loopback() {
    [[ "$1" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]]
}

# start_server NAME LOGFILE CMD...: runs CMD in a new process group, stderr
# and stdout to LOGFILE. Sets SERVER_PID (also its process group id).
start_server() {
    local name=$1 logfile=$2
    shift 2
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    SERVER_PID=$!
    SERVER_PGIDS+=("$SERVER_PID")
    # setsid execs in place when the caller is not a group leader (a
    # script without job control): the pid is the new group's id.
    sleep 0.2
    local pgid
    pgid="$(proc_field "$SERVER_PID" 2 || true)"
    if [[ -z "$pgid" ]]; then
        log "---- $name log ($logfile) ----"
        tail -n 30 "$logfile" >&2 || true
        die "$name exited at start-up"
    fi
    [[ "$pgid" == "$SERVER_PID" ]] || die "$name: pid $SERVER_PID is not its process group leader ($pgid)"
}

# proc_field PID N: field N (0 = state, 1 = ppid, 2 = pgrp, 11 = utime,
# 12 = stime, 13 = cutime, 14 = cstime) of /proc/PID/stat, counted after the
# command name. Fails when the process is gone.
proc_field() {
    local line rest
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest="${line##*) }"
    local -a f
    read -r -a f <<<"$rest"
    [[ "${f[0]}" != Z ]] || return 1
    printf '%s\n' "${f[$2]}"
}

# alive PID: whether the process exists and is not a zombie.
alive() {
    proc_field "$1" 0 >/dev/null 2>&1
}

# group_cpu_ns PGID: CPU time (user + system), in nanoseconds, of every
# process of the group and all their threads. Read from the scheduler's
# per-thread run time (/proc/PID/task/TID/schedstat), which counts in
# nanoseconds; where the kernel has no schedstat, from utime + stime +
# cutime + cstime of /proc/PID/stat, in clock ticks (10 ms).
group_cpu_ns() {
    local pgid=$1 total=0 stat line rest task ns
    local -a f
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
        rest="${line##*) }"
        read -r -a f <<<"$rest"
        [[ "${f[2]}" == "$pgid" ]] || continue
        if [[ -r /proc/self/schedstat ]]; then
            for task in "${stat%/stat}"/task/*/schedstat; do
                { read -r ns _ <"$task"; } 2>/dev/null || continue
                total=$((total + ns))
            done
        else
            total=$((total + (f[11] + f[12] + f[13] + f[14]) * 1000000000 / CLK_TCK))
        fi
    done
    printf '%s\n' "$total"
}

# stop_server PGID: TERM to the group, KILL after 5 s.
stop_server() {
    local pgid=$1 _
    kill -TERM -- "-$pgid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    wait "$pgid" 2>/dev/null || true
}

# start_helper LOGFILE TIMEOUT_S CMD...: runs CMD (a sipp UAS, say) in the
# background, bounded by `timeout`, output to LOGFILE. Sets HELPER_PID;
# stop_all stops it.
start_helper() {
    local logfile=$1 limit=$2
    shift 2
    timeout --kill-after=5 "$limit" "$@" >"$logfile" 2>&1 </dev/null &
    HELPER_PID=$!
    HELPER_PIDS+=("$HELPER_PID")
}

# forget_helper PID: drop a finished helper from the list stop_all uses.
forget_helper() {
    local p rest=()
    for p in "${HELPER_PIDS[@]}"; do
        [[ "$p" == "$1" ]] || rest+=("$p")
    done
    HELPER_PIDS=("${rest[@]}")
}

# stop_helper PID WAIT_S: waits up to WAIT_S seconds for the helper to end,
# then stops it (TERM). Returns its exit status.
stop_helper() {
    local pid=$1 _ rc=0
    for _ in $(seq $(($2 * 4))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    forget_helper "$pid"
    return "$rc"
}

# stop_all: stops every helper and server started here (for an EXIT trap).
stop_all() {
    local p
    for p in "${HELPER_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${SERVER_PGIDS[@]}"; do
        stop_server "$p"
    done
    HELPER_PIDS=()
    SERVER_PGIDS=()
}

# forget_server PGID: drop a stopped server from the list stop_all uses.
forget_server() {
    local p rest=()
    for p in "${SERVER_PGIDS[@]}"; do
        [[ "$p" == "$1" ]] || rest+=("$p")
    done
    SERVER_PGIDS=("${rest[@]}")
}

# run_sipp STATFILE LOGFILE TIMEOUT_S SIPP_ARGS...: runs sipp in the
# background (so a trap can stop it), bounded by -timeout and by `timeout`,
# writing its final statistics to STATFILE. Stops sipp early when the server
# SERVER_PID exits. Sets SIPP_RC (sipp's exit status: 0 every call
# succeeded, 1 some failed, others: sipp broke or was stopped).
run_sipp() {
    local statfile=$1 logfile=$2 limit=$3
    shift 3
    rm -f "$statfile"
    timeout --kill-after=5 "$((limit + 15))" \
        sipp "$@" -timeout "${limit}s" -timeout_error -nostdin \
        -trace_stat -stf "$statfile" -fd 3600 >"$logfile" 2>&1 </dev/null &
    local pid=$!
    HELPER_PIDS+=("$pid")
    while kill -0 "$pid" 2>/dev/null; do
        if ! alive "$SERVER_PID"; then
            kill -TERM "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.25
    done
    local rc=0
    wait "$pid" || rc=$?
    # shellcheck disable=SC2034
    SIPP_RC=$rc
    forget_helper "$pid"
}

# sipp_stat STATFILE COLUMN: COLUMN of the last line of a sipp -trace_stat
# file (columns named by its header, e.g. SuccessfulCall(C)). Time columns
# (StartTime, CurrentTime) answer their epoch seconds.
sipp_stat() {
    local file=$1 col=$2
    [[ -s "$file" ]] || return 1
    awk -F';' -v col="$col" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        { last = $c }
        END {
            if (!c) exit 1
            n = split(last, parts, "\t")
            print parts[n]
        }' "$file"
}

# probe ADDR PORT TRANSPORT(u1|t1) WORKDIR [SCENARIO]: waits (up to 20
# tries, about 20 s) until the server answers OPTIONS with 200, while
# SERVER_PID lives. Gives up at once when the server answers something
# else. SCENARIO: the OPTIONS client (default tests/sipp/options_uac.xml,
# OPTIONS to a user; tests/sipp/keepalive_uac.xml asks the server itself).
probe() {
    local addr=$1 port=$2 transport=$3 work=$4 _
    local scenario=${5:-$LIB_ROOT/tests/sipp/options_uac.xml}
    for _ in $(seq 20); do
        alive "$SERVER_PID" || return 1
        rm -f "$work/probe.err"
        if timeout 10 sipp -sf "$scenario" -t "$transport" \
            -i "$addr" -m 20 -r 20 -rp 100 -timeout 3s -timeout_error -nostdin \
            -trace_err -error_file "$work/probe.err" \
            "$(sip_target "$addr" "$port")" >"$work/probe.log" 2>&1 </dev/null; then
            return 0
        fi
        if grep -q "unexpected message" "$work/probe.err" 2>/dev/null; then
            log "---- the server's answer to the probe ----"
            sed -n '2,12p' "$work/probe.err" >&2
            return 1
        fi
        sleep 1
    done
    return 1
}

# users_csv FILE COUNT PREFIX HOSTPORT: a sipp injection file for
# tests/sipp/register_uac.xml: COUNT users PREFIX1 ... PREFIXCOUNT (just
# PREFIX when COUNT is 1), each with its contact at HOSTPORT.
users_csv() {
    awk -v n="$2" -v prefix="$3" -v hp="$4" 'BEGIN {
        print "SEQUENTIAL"
        if (n == 1) { print prefix ";" hp; exit }
        for (i = 1; i <= n; i++) print prefix i ";" hp
    }' >"$1"
}

# sip_target ADDR PORT: host:port for sipp.
sip_target() {
    printf '%s:%s\n' "$1" "$2"
}

# show_log NAME FILE: the tail of a server log, for a failure message.
show_log() {
    log "---- last lines of the $1 log ($2) ----"
    tail -n 30 "$2" >&2 || true
    log "----"
}
