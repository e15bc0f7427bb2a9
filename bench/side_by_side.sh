#!/usr/bin/env bash
# Runs the same load against Kamailio and kemid, one after the other, with
# the same configuration and routing script, and prints a markdown table:
# calls/s, server CPU time per call, failed calls. Workloads: OPTIONS
# answered statelessly (bench/scripts/bench.cfg), REGISTER of a new user
# per call and full calls (INVITE/200/ACK/BYE/200) through a
# record-routing stateful proxy to a sipp callee (the proxy-registrar of
# tests/data/proxy/proxy.cfg).
#
#   bench/side_by_side.sh [options]
#
# See bench/README.md for what is measured and why. Loopback only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/side_by_side.sh [options]

  -e, --engine js|sq|both      routing engine(s) (default: both)
  -w, --workload LIST          comma-separated: options, register, call, or
                               all (default: options)
  -t, --transport udp|tcp      (default: udp)
  -n, --calls N                calls per server run (default: 20000)
  -r, --rate R                 target calls/s for sipp (default: 20000)
  -l, --limit L                most calls in progress at once (default: 200)
  -T, --timeout S              bound on each sipp run, seconds (default: 120)
  -s, --servers LIST           comma-separated, in order (default: kamailio,kemid)
  -a, --addr ADDR              IPv4 loopback address to serve on (default: 127.0.0.1)
  -p, --port PORT              first port; each run takes the next (default: 5070)
  -c, --children N             server workers, the cfg's children (default: 2)
      --config FILE            the cfg, its scripts beside it (default:
                               bench/scripts/bench.cfg for options,
                               tests/data/proxy/proxy.cfg for register and call)
      --kemid PATH             kemid binary (default: target/release/kemid)
      --kamailio PATH          kamailio binary (default: kamailio in PATH)
      --shm MB                 Kamailio shared memory (default: 512 for options,
                               3072 for register and call: finished transactions
                               linger for tm's wait timer at full speed)
      --kamailio-mem qm|fm|tlsf
                               Kamailio memory manager, its -x (default: tlsf;
                               qm is the Debian package's default, with memory
                               debugging, several times slower)
      --keep                   keep the work directory (server logs, sipp stats)
  -h, --help

The table goes to stdout, progress to stderr. Exit status: 0 when every
call of every run succeeded, 1 when some call failed, 2 when the harness
broke (a server did not start, did not answer, or exited during a run).
EOF
}

engines=both
workload=options
transport=udp
calls=20000
rate=20000
limit=200
time_limit=120
servers=kamailio,kemid
addr=127.0.0.1
port=5070
children=2
kemid_bin="$ROOT/target/release/kemid"
kamailio_bin=kamailio
shm=""
kamailio_mem=tlsf
keep=0
cfg=""

while (($#)); do
    case "$1" in
        -e | --engine) engines=$2; shift ;;
        -w | --workload) workload=$2; shift ;;
        -t | --transport) transport=$2; shift ;;
        -n | --calls) calls=$2; shift ;;
        -r | --rate) rate=$2; shift ;;
        -l | --limit) limit=$2; shift ;;
        -T | --timeout) time_limit=$2; shift ;;
        -s | --servers) servers=$2; shift ;;
        -a | --addr) addr=$2; shift ;;
        -p | --port) port=$2; shift ;;
        -c | --children) children=$2; shift ;;
        --config) cfg=$2; shift ;;
        --kemid) kemid_bin=$2; shift ;;
        --kamailio) kamailio_bin=$2; shift ;;
        --shm) shm=$2; shift ;;
        --kamailio-mem) kamailio_mem=$2; shift ;;
        --keep) keep=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
    shift
done

for v in calls rate limit time_limit port children; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} takes a positive whole number, not '${!v}'"
done
[[ -z "$shm" || "$shm" =~ ^[1-9][0-9]*$ ]] || die "--shm takes a positive whole number, not '$shm'"
is_loopback "$addr" || die "--addr $addr: load runs stay on IPv4 loopback (127.x.x.x)"
case "$kamailio_mem" in
    qm | fm | tlsf) ;;
    *) die "--kamailio-mem $kamailio_mem: use qm, fm or tlsf" ;;
esac
case "$engines" in
    js | sq) engine_list=("$engines") ;;
    both) engine_list=(js sq) ;;
    *) die "--engine $engines: use js, sq or both" ;;
esac
case "$transport" in
    udp) sipp_transport=u1 ;;
    tcp) sipp_transport=t1 ;;
    *) die "--transport $transport: use udp or tcp" ;;
esac
IFS=, read -r -a server_list <<<"$servers"
for s in "${server_list[@]}"; do
    case "$s" in
        kamailio) need "$kamailio_bin" "install Kamailio 5.6 (apt-get install kamailio kamailio-extra-modules) or pass --kamailio" ;;
        kemid) [[ -x "$kemid_bin" ]] || die "$kemid_bin not found; build it with cargo build --release or pass --kemid" ;;
        *) die "--servers: unknown server '$s' (kamailio, kemid)" ;;
    esac
done
need sipp "install SIPp (apt-get install sip-tester)"

[[ "$workload" == all ]] && workload=options,register,call
IFS=, read -r -a workload_list <<<"$workload"
for w in "${workload_list[@]}"; do
    case "$w" in
        options | register | call) ;;
        *) die "--workload $w: known workloads: options, register, call (or all)" ;;
    esac
done
if [[ -n "$cfg" ]]; then
    cfg="$(realpath -e "$cfg" 2>/dev/null)" || die "--config: no such file"
fi

# The workload W: its configuration (WL_CFG), the sipp scenario of the
# measured run, a UAC against the server (WL_SCENARIO), the probe scenario
# (WL_PROBE), Kamailio's shared memory (WL_SHM). The routing scripts of a
# configuration serve each of its workloads.
workload_setup() {
    case "$1" in
        options)
            WL_CFG="${cfg:-$ROOT/bench/scripts/bench.cfg}"
            WL_SCENARIO="$ROOT/tests/sipp/options_uac.xml"
            WL_PROBE="$ROOT/tests/sipp/options_uac.xml"
            WL_SHM="${shm:-512}"
            ;;
        register)
            WL_CFG="${cfg:-$ROOT/tests/data/proxy/proxy.cfg}"
            WL_SCENARIO="$ROOT/tests/sipp/register_uac.xml"
            WL_PROBE="$ROOT/tests/sipp/keepalive_uac.xml"
            WL_SHM="${shm:-3072}"
            ;;
        call)
            WL_CFG="${cfg:-$ROOT/tests/data/proxy/proxy.cfg}"
            WL_SCENARIO="$ROOT/tests/sipp/uac_call.xml"
            WL_PROBE="$ROOT/tests/sipp/keepalive_uac.xml"
            WL_SHM="${shm:-3072}"
            ;;
    esac
    [[ -f "$WL_CFG" && -f "$WL_SCENARIO" && -f "$WL_PROBE" ]] || die "missing $WL_CFG, $WL_SCENARIO or $WL_PROBE"
}
for w in "${workload_list[@]}"; do
    workload_setup "$w"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/side_by_side.XXXXXX")"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if ((keep)); then
        log "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The command line of SERVER for ENGINE on PORT, with the workload's
# configuration and shared memory (workload_setup).
server_cmd() {
    local server=$1 engine=$2 p=$3 define scripts_dir
    scripts_dir="$(dirname "$WL_CFG")"
    define="WITH_$(tr '[:lower:]' '[:upper:]' <<<"$engine")"
    local defs=(-A "$define" -A "BENCH_ADDR=$addr" -A "BENCH_PORT=$p" -A "BENCH_CHILDREN=$children")
    case "$server" in
        kamailio)
            # -DD: stay in the foreground (children still forked); -E: log to
            # stderr; -x: the memory manager; -w: the script path in the cfg
            # is relative; -Y: runtime files in the work directory.
            mkdir -p "$work/kamailio-run"
            printf '%q ' "$kamailio_bin" -DD -E -m "$WL_SHM" -x "$kamailio_mem" -f "$WL_CFG" -w "$scripts_dir" \
                -Y "$work/kamailio-run" -P "$work/kamailio-run/kamailio.pid" "${defs[@]}"
            ;;
        kemid)
            # -Y: its control socket in the work directory, not the
            # default one another kemid may hold.
            mkdir -p "$work/kemid-run"
            printf '%q ' "$kemid_bin" run -f "$WL_CFG" -Y "$work/kemid-run" "${defs[@]}"
            ;;
    esac
}

server_version() {
    case "$1" in
        kamailio) "$kamailio_bin" -v 2>/dev/null | sed -n '1s/^version: \(.*[^ ]\) *$/\1/p' ;;
        kemid) "$kemid_bin" --version 2>/dev/null | head -n 1 ;;
    esac
}

# One result row per run: workload server engine transport calls ok failed
# wall cps cpu_s us_per_call
results=()
broken=0
any_failed=0
next_port=$port

# register_callee TAG P UAS_PORT: registers the user "callee" at the sipp
# UAS on UAS_PORT with the server on port P (register_uac.xml, one call).
register_callee() {
    local tag=$1 p=$2 uas_port=$3
    users_csv "$work/$tag.callee.csv" 1 callee "$addr:$uas_port"
    timeout 30 sipp -sf "$ROOT/tests/sipp/register_uac.xml" -inf "$work/$tag.callee.csv" \
        -t "$sipp_transport" -i "$addr" -m 1 -timeout 10s -timeout_error -nostdin \
        -trace_err -error_file "$work/$tag.register.err" \
        "$(sip_target "$addr" "$p")" >"$work/$tag.register.log" 2>&1 </dev/null
}

run_one() {
    local workload=$1 server=$2 engine=$3
    workload_setup "$workload"
    local p=$next_port
    next_port=$((next_port + 1))
    # sipp's own port where the workload needs a known one: the callee of
    # the call workload, the registered contact of the REGISTER workload.
    local aux_port=$((p + 500))
    local tag="$workload-$server-$engine-$transport"
    local slog="$work/$tag.log"
    log "==> $workload, $server, $engine, $transport: starting on $(sip_target "$addr" "$p")"
    local cmd
    cmd="$(server_cmd "$server" "$engine" "$p")"
    eval "start_server $server $(printf '%q' "$slog") $cmd"
    local pgid=$SERVER_PID
    if ! probe "$addr" "$p" "$sipp_transport" "$work" "$WL_PROBE"; then
        show_log "$server" "$slog"
        log "---- last sipp probe output ----"
        tail -n 15 "$work/probe.log" >&2 || true
        log "error: $server ($engine) did not answer OPTIONS with 200 on $transport"
        stop_server "$pgid"
        forget_server "$pgid"
        broken=1
        results+=("$workload $server $engine $transport $calls 0 $calls - - - -")
        return 0
    fi
    local sipp_args=() uas_pid=""
    case "$workload" in
        register)
            # A new user per call: user1 ... userN.
            users_csv "$work/$tag.users.csv" "$calls" user "$addr:$aux_port"
            sipp_args=(-inf "$work/$tag.users.csv")
            ;;
        call)
            # The callee: a sipp UAS, registered as "callee"; the calls go to
            # sip:callee@<server>.
            start_helper "$work/$tag.uas.log" "$((time_limit + 30))" \
                sipp -sf "$ROOT/tests/sipp/uas_call.xml" -t "$sipp_transport" -i "$addr" -p "$aux_port" \
                -m "$calls" -timeout "$((time_limit + 15))s" -timeout_error -nostdin \
                -trace_err -error_file "$work/$tag.uas.err"
            uas_pid=$HELPER_PID
            sleep 0.5
            if ! register_callee "$tag" "$p" "$aux_port"; then
                tail -n 15 "$work/$tag.register.log" >&2 || true
                log "error: $server ($engine) did not register the callee"
                stop_helper "$uas_pid" 0 || true
                stop_server "$pgid"
                forget_server "$pgid"
                broken=1
                results+=("$workload $server $engine $transport $calls 0 $calls - - - -")
                return 0
            fi
            sipp_args=(-s callee)
            ;;
    esac
    local before after t_ok t_failed start end
    before="$(group_cpu_ns "$pgid")"
    log "    running $calls calls (rate $rate/s, at most $limit in progress, ${time_limit}s bound)"
    run_sipp "$work/$tag.stat.csv" "$work/$tag.sipp.log" "$time_limit" \
        -sf "$WL_SCENARIO" "${sipp_args[@]}" -t "$sipp_transport" -i "$addr" \
        -m "$calls" -r "$rate" -l "$limit" -recv_timeout 10000 \
        -trace_err -error_file "$work/$tag.sipp.err" \
        "$(sip_target "$addr" "$p")"
    after="$(group_cpu_ns "$pgid")"
    if ! alive "$pgid"; then
        show_log "$server" "$slog"
        log "error: $server ($engine) exited during the run"
        broken=1
    fi
    if [[ -n "$uas_pid" ]]; then
        # The callee ends 4 s after its last BYE; a failed call leaves it
        # waiting.
        local uas_rc=0
        stop_helper "$uas_pid" 15 || uas_rc=$?
        ((uas_rc == 0)) || log "    the callee (sipp UAS) ended with status $uas_rc"
    fi
    stop_server "$pgid"
    forget_server "$pgid"
    if ! t_ok="$(sipp_stat "$work/$tag.stat.csv" 'SuccessfulCall(C)')"; then
        tail -n 20 "$work/$tag.sipp.log" >&2 || true
        log "error: sipp wrote no statistics (exit status $SIPP_RC)"
        broken=1
        results+=("$workload $server $engine $transport $calls 0 $calls - - - -")
        return 0
    fi
    start="$(sipp_stat "$work/$tag.stat.csv" StartTime)"
    end="$(sipp_stat "$work/$tag.stat.csv" CurrentTime)"
    # Every call that did not end in success: failed, timed out or never sent.
    t_failed=$((calls - t_ok))
    ((t_failed == 0)) || any_failed=1
    if ((t_failed > 0)); then
        if ((keep)); then
            log "    $t_failed calls failed (sipp exit status $SIPP_RC; sipp's errors: $work/$tag.sipp.err)"
        else
            log "    $t_failed calls failed (sipp exit status $SIPP_RC; --keep keeps sipp's error log)"
        fi
    fi
    local row
    row="$(awk -v s="$start" -v e="$end" -v ok="$t_ok" -v ns="$((after - before))" '
        BEGIN {
            wall = e - s; if (wall <= 0) wall = 0.000001
            cpu = ns / 1e9
            printf "%.2f %.0f %.3f %s", wall, ok / wall, cpu, (ok > 0 ? sprintf("%.2f", cpu * 1e6 / ok) : "-")
        }')"
    results+=("$workload $server $engine $transport $calls $t_ok $t_failed $row")
    log "    done: $t_ok ok, $t_failed failed"
}

log "work directory: $work"
for w in "${workload_list[@]}"; do
    for engine in "${engine_list[@]}"; do
        for server in "${server_list[@]}"; do
            run_one "$w" "$server" "$engine"
        done
    done
done

# The report, in markdown.
cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "### side_by_side: $(IFS=,; echo "${workload_list[*]}") over $transport"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $(uname -sr)"
for s in "${server_list[@]}"; do
    case "$s" in
        kamailio)
            mem=()
            for w in "${workload_list[@]}"; do
                workload_setup "$w"
                mem+=("-m $WL_SHM ($w)")
            done
            mem_list="$(IFS=,; echo "${mem[*]}")"
            echo "- kamailio: $(server_version kamailio), ${mem_list//,/, }, -x $kamailio_mem"
            ;;
        *) echo "- $s: $(server_version "$s")" ;;
    esac
done
echo "- sipp: $(sipp -v 2>&1 | sed -n 's/^ *SIPp \(v[^ ,-]*\).*/\1/p' | head -n 1), $calls calls per run, -r $rate -l $limit, server children=$children"
echo
echo "| workload | server | engine | transport | calls | ok | failed | wall s | calls/s | server CPU s | CPU µs/call |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
    read -r w s e t n ok f wall cps cpu us <<<"$r"
    echo "| $w | $s | $e | $t | $n | $ok | $f | $wall | $cps | $cpu | $us |"
done

# kemid relative to Kamailio, per workload and engine, when both ran.
ratio_lines=()
for w in "${workload_list[@]}"; do
    for engine in "${engine_list[@]}"; do
        k_cps="" k_us="" m_cps="" m_us=""
        for r in "${results[@]}"; do
            read -r rw s e t n ok f wall cps cpu us <<<"$r"
            [[ "$rw" == "$w" && "$e" == "$engine" ]] || continue
            case "$s" in
                kamailio) k_cps=$cps k_us=$us ;;
                kemid) m_cps=$cps m_us=$us ;;
            esac
        done
        if [[ "$k_us" =~ ^[0-9.]+$ && "$m_us" =~ ^[0-9.]+$ && "$k_cps" =~ ^[0-9.]+$ && "$m_cps" =~ ^[0-9.]+$ ]]; then
            ratio_lines+=("$(awk -v w="$w" -v e="$engine" -v kc="$k_cps" -v ku="$k_us" -v mc="$m_cps" -v mu="$m_us" 'BEGIN {
                printf "- %s, %s: kemid/Kamailio CPU per call %.2f, calls/s %.2f", w, e, (ku > 0 ? mu / ku : 0), (kc > 0 ? mc / kc : 0)
            }')")
        fi
    done
done
if ((${#ratio_lines[@]})); then
    echo
    printf '%s\n' "${ratio_lines[@]}"
fi

if ((broken)); then
    log "error: the harness broke (see the messages above)"
    exit 2
fi
if ((any_failed)); then
    log "error: some calls failed"
    exit 1
fi
