#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmarks grades-logd against the targets of its issue. Usage:
#
#   bench/log.sh [PATH/TO/grades-logd]
#
# (default: $LOGD, else src/logd/grades-logd under the current directory or
# the source tree). Needs wrk, curl and awk. Everything runs on 127.0.0.1,
# on free ports, in a temporary directory that is removed at the end (KEEP=1
# keeps it, with the logs). DURATION=10s sets the length of each measured
# wrk run, CONNECTIONS=50 its connections.
#
# Targets (wrk on loopback):
#   - at least 110,000 single-line POST /log (text/plain) per second
#   - at least 500,000 lines/s in JSON batches of 100 entries
#   - private memory (Private_Clean + Private_Dirty of
#     /proc/PID/smaps_rollup) at most 6 MB under that load
#   - reported: CPU time (user + system) of grades-logd per 100,000 lines
# Every run also checks that the central log got exactly one line per entry
# acknowledged with a 200, and no error responses.

set -uo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
TEXT_LUA=$HERE/log-text.lua
BATCH_LUA=$HERE/log-batch.lua
# shellcheck disable=SC2034 # read by wrk_parse
WRK_COUNT=lines # the counts log-text.lua and log-batch.lua print
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}

find_built LOGD "${1:-${LOGD:-}}" src/logd/grades-logd
need_tools "wrk curl gawk" wrk curl awk
[ -f "$TEXT_LUA" ] && [ -f "$BATCH_LUA" ] || die "missing $TEXT_LUA or $BATCH_LUA"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grades-bench-log.XXXXXX")

lines_in() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# ------------------------------------------------------------------ grades-logd
free_port
LOGD_PORT=$PORT
LOGD_URL=http://127.0.0.1:$LOGD_PORT
free_port
DEAD_REGISTRY=http://127.0.0.1:$PORT # nobody there: logd runs alone
LOGS=$TMP/logs
CENTRAL=$LOGS/central.log
LOGD_ERR=$TMP/grades-logd.stderr
"${DAEMON_ENV[@]}" "$LOGD" --config=/dev/null --listen="127.0.0.1:$LOGD_PORT" --logs-directory="$LOGS" \
        --state-directory="$TMP" --registry="$DEAD_REGISTRY" 2>"$LOGD_ERR" &
LPID=$!
started $LPID
wait_http "$LOGD_URL/log?limit=1" || die "grades-logd did not start: $(cat "$LOGD_ERR")"

check_alive() { alive "$LPID" grades-logd "$LOGD_ERR" "$1"; } # during what

# ------------------------------------------------------------------- wrk runs
# measure LABEL LUA DURATION [-- ARGS]: wrk -t1 -c$CONNECTIONS against logd,
# with CPU, memory and file checks; sets RPS OK CPU_S MEM_PEAK MEM_AFTER
# LINES_WRITTEN WALL.
measure() {
        local label=$1 lua=$2 dur=$3 l0 l1
        shift 3
        l0=$(lines_in "$CENTRAL")
        mem_sampler_start "$LPID" 0.1
        run_wrk "$LPID" -- -t1 -c"$CONNECTIONS" -d"$dur" --latency -s "$lua" "$LOGD_URL" "$@"
        mem_sampler_stop
        WALL=$(calc 2 "$WRK_T1 - $WRK_T0")
        CPU_S=$(calc 3 "${TICKS[0]} / $CLK_TCK")
        USER_S=$(calc 2 "${USER_TICKS[0]} / $CLK_TCK")
        SYS_S=$(calc 2 "(${TICKS[0]} - ${USER_TICKS[0]}) / $CLK_TCK")
        MEM_PEAK=$MEM_MAX MEM_PEAK_OWN=$MEM_EXCL_MAX
        check_alive "$label" || return 1
        MEM_AFTER=$(mem_rollup "$LPID")
        l1=$(lines_in "$CENTRAL")
        LINES_WRITTEN=$((l1 - l0))
        check_wrk_errors "$label" "lines refused"
        # wrk may stop with requests in flight that logd still wrote: allow
        # one request per connection more than acknowledged.
        if [ "$LINES_WRITTEN" -lt "$OK" ]; then
                problem "$label: $OK lines acknowledged, only $LINES_WRITTEN new lines in central.log"
        fi
        if [ "$LINES_WRITTEN" -gt $((OK + CONNECTIONS * ${PER:-1} + 10)) ]; then
                problem "$label: $LINES_WRITTEN new lines in central.log for $OK acknowledged"
        fi
        return 0
}

per_100k() { # cpu_seconds lines
        if [ "$2" -gt 0 ]; then calc 3 "$1 * 100000 / $2"; else echo "n/a"; fi
}

# As the issue defines it: Private_Clean + Private_Dirty, shared-library
# pages left out (they count as private whenever no other process maps them).
report_mem() { # label
        local v excl lib
        read -r excl lib < <(mem_split "$LPID")
        v=$(verdict ge 6144 "$MEM_PEAK_OWN")
        printf '  private memory under load, shared-library pages left out (peak of 100 ms samples): %s MB (%s kB)   [target <= 6 MB] %s\n' \
                "$(calc 2 "$MEM_PEAK_OWN/1024")" "$MEM_PEAK_OWN" "$v"
        printf '      smaps_rollup Private_Clean+Private_Dirty with them: peak %s kB; right after the run %s kB, of which %s kB outside shared-library mappings, %s kB inside\n' \
                "$MEM_PEAK" "$MEM_AFTER" "$excl" "$lib"
        summary '%-52s %10s MB   target <= 6 MB         %s' "private memory, $1 (peak)" "$(calc 2 "$MEM_PEAK_OWN/1024")" "$v"
}

T_START=$(now)
echo "grades-logd benchmark: $LOGD"
echo "  $(nproc) cores, load average $(load_average) at start, $(wrk_version)," \
        "wrk -t1 -c$CONNECTIONS -d$DURATION per run, central log on $(df -P "$TMP" | awk 'NR == 2 { print $1 }')"
echo "  (the machine may be shared: figures are noisy when other work runs on these cores)"
echo

IDLE_MEM=$(mem_rollup "$LPID")
read -r excl lib < <(mem_split "$LPID")
printf '0. idle right after start: private memory %s MB (%s kB; %s kB outside shared-library mappings)\n\n' \
        "$(calc 2 "$IDLE_MEM/1024")" "$IDLE_MEM" "$excl"

# ---------------------------------------------------- 1. single-line POSTs
echo "1. Single-line POST /log, text/plain '[BenchService] - message' (the seed's form), one line per request"
PER=1 measure "warm-up (text)" "$TEXT_LUA" 2s >/dev/null
if PER=1 measure "single-line POSTs" "$TEXT_LUA" "$DURATION"; then
        v=$(verdict ge "$RPS" 110000)
        printf '  single-line POSTs: %s requests/s = lines/s   [target >= 110,000/s] %s\n' "$(num "$RPS")" "$v"
        printf '      avg latency %s, p99 %s; %s lines acknowledged, %s written; non-2xx %s, socket errors: %s\n' \
                "$AVG" "$P99" "$(num "$OK")" "$(num "$LINES_WRITTEN")" "$NON2XX" "$SOCKERR"
        summary '%-52s %10s /s   target >= 110,000/s    %s' "single-line POSTs" "$(num "$RPS")" "$v"
        cpu=$(per_100k "$CPU_S" "$OK")
        printf '  CPU time per 100,000 lines: %s s (logd used %s s: %s user + %s system, in %s s = %s cores)   [reported, no target]\n' \
                "$cpu" "$CPU_S" "$USER_S" "$SYS_S" "$WALL" "$(calc 2 "$CPU_S / $WALL")"
        summary '%-52s %10s s    (reported)' "CPU per 100,000 lines, single-line POSTs" "$cpu"
        report_mem "single-line POSTs"
fi
echo

# ------------------------------------------------------- 2. JSON batches
echo "2. POST /log, application/json batches of 100 entries {service, priority, message, time}"
PER=100 measure "warm-up (batches)" "$BATCH_LUA" 2s -- 100 >/dev/null
if PER=100 measure "JSON batches of 100" "$BATCH_LUA" "$DURATION" -- 100; then
        LPS=$(calc 0 "$RPS * 100")
        v=$(verdict ge "$LPS" 500000)
        printf '  lines/s in JSON batches of 100: %s lines/s (%s batches/s)   [target >= 500,000 lines/s] %s\n' \
                "$(num "$LPS")" "$(num "$RPS")" "$v"
        printf '      avg latency %s, p99 %s per batch; %s lines acknowledged, %s written; non-2xx %s, socket errors: %s\n' \
                "$AVG" "$P99" "$(num "$OK")" "$(num "$LINES_WRITTEN")" "$NON2XX" "$SOCKERR"
        summary '%-52s %10s /s   target >= 500,000/s    %s' "lines in JSON batches of 100" "$(num "$LPS")" "$v"
        cpu=$(per_100k "$CPU_S" "$OK")
        printf '  CPU time per 100,000 lines: %s s (logd used %s s: %s user + %s system, in %s s = %s cores)   [reported, no target]\n' \
                "$cpu" "$CPU_S" "$USER_S" "$SYS_S" "$WALL" "$(calc 2 "$CPU_S / $WALL")"
        summary '%-52s %10s s    (reported)' "CPU per 100,000 lines, JSON batches of 100" "$cpu"
        report_mem "JSON batches of 100"
fi
echo

# ------------------------------------------------------------ 3. the end
echo "3. After the load"
if check_alive "the end"; then
        last=$(curl -s --max-time 5 "$LOGD_URL/log?limit=1")
        case $last in
        *BenchService*) echo "  GET /log?limit=1 answers: ${last:0:150}" ;;
        *) problem "GET /log?limit=1 after the load: ${last:0:200}" ;;
        esac
        bad=$(grep -E -v -m3 '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z \[[^]]*\] (emerg|alert|crit|err|warning|notice|info|debug): ' "$CENTRAL")
        [ -z "$bad" ] || problem "malformed lines in central.log, e.g.: $bad"
        echo "  central.log: $(num "$(lines_in "$CENTRAL")") lines, $(calc 1 "$(stat -c %s "$CENTRAL") / 1048576") MB"
        stop_daemon "$LPID" grades-logd 10 "  "
        log_warnings "$LOGD_ERR" "logd's stderr"
fi
echo

finish "Summary ($(calc 0 "$(now) - $T_START") s; load average $(load_average) at the end):" "Problems seen:" \
        "No errors, non-2xx responses, lost or extra lines, or crashes seen."
