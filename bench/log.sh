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

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEXT_LUA=$HERE/log-text.lua
BATCH_LUA=$HERE/log-batch.lua
CLK_TCK=$(getconf CLK_TCK)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}

die() {
        echo "log.sh: $*" >&2
        exit 1
}

LOGD=${1:-${LOGD:-}}
if [ -z "$LOGD" ]; then
        for c in ./src/logd/grades-logd "$HERE/../src/logd/grades-logd"; do
                if [ -x "$c" ]; then
                        LOGD=$c
                        break
                fi
        done
fi
[ -n "$LOGD" ] && [ -x "$LOGD" ] || die "grades-logd not found; build it, then pass its path"
LOGD=$(cd "$(dirname "$LOGD")" && pwd)/$(basename "$LOGD")
for tool in wrk curl awk; do
        command -v "$tool" >/dev/null || die "needs $tool: apt-get install wrk curl gawk"
done
[ -f "$TEXT_LUA" ] && [ -f "$BATCH_LUA" ] || die "missing $TEXT_LUA or $BATCH_LUA"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grades-bench-log.XXXXXX")
PIDS=" " # every process started here, so the trap can end them
PROBLEMS=()
SUMMARY=()

cleanup() {
        local p
        for p in $PIDS; do
                kill "$p" 2>/dev/null
        done
        for p in $PIDS; do
                wait "$p" 2>/dev/null
        done
        if [ "${KEEP:-0}" = 1 ]; then
                echo "Kept $TMP"
        else
                rm -rf "$TMP"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

started() { PIDS+="$1 "; }
ended() { PIDS=${PIDS/ $1 / }; }

problem() {
        PROBLEMS+=("$*")
        echo "  !! $*"
}

# A port nobody listens on; ports handed out before are not reused.
USED_PORTS=" "
free_port() {
        local p
        while :; do
                # below the usual ephemeral range (32768-60999), so no
                # outgoing connection holds it
                p=$((10000 + RANDOM % 22000))
                case $USED_PORTS in *" $p "*) continue ;; esac
                if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                        USED_PORTS+="$p "
                        PORT=$p
                        return
                fi
        done
}

wait_http() {
        local i
        for ((i = 0; i < 200; i++)); do
                curl -s -o /dev/null --max-time 1 "$1" && return 0
                sleep 0.05
        done
        return 1
}

now() { date +%s.%N; }
# calc DIGITS EXPR: the value of an arithmetic expression (of our own numbers)
calc() { awk "BEGIN { printf \"%.$1f\", ($2) }"; }
# num X: X rounded, with thousands separators
num() { awk -v x="$1" 'BEGIN { s = sprintf("%d", x + 0.5); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }; print s o }'; }
# ge A B: A >= B, as numbers
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
verdict() { if "$@"; then echo "ok"; else echo "MISSED"; fi; }

# utime + stime of every thread of a process, in clock ticks; utime alone.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
user_ticks() { awk '{ sub(/^.*\) /, ""); print $12 }' "/proc/$1/stat"; }

# Private_Clean + Private_Dirty of smaps_rollup in kB (the target's figure).
mem_rollup() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
# The same split: outside shared-library mappings, and inside them.
mem_split() {
        awk '
                /^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.[0-9]+)*$/) }
                /^Private_(Clean|Dirty):/ { if (lib) l += $2; else p += $2 }
                END { print p + 0, l + 0 }' "/proc/$1/smaps"
}

# sample_mem PID FILE: appends the rollup figure every 100 ms until killed.
sample_mem() {
        while kill -0 "$1" 2>/dev/null; do
                mem_rollup "$1" >>"$2"
                sleep 0.1
        done
}

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
env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u WATCHDOG_USEC -u JOURNAL_STREAM -u LOGS_DIRECTORY \
        "$LOGD" --config=/dev/null --listen="127.0.0.1:$LOGD_PORT" --logs-directory="$LOGS" \
        --state-directory="$TMP" --registry="$DEAD_REGISTRY" 2>"$LOGD_ERR" &
LPID=$!
started $LPID
wait_http "$LOGD_URL/log?limit=1" || die "grades-logd did not start: $(cat "$LOGD_ERR")"

check_alive() {
        kill -0 "$LPID" 2>/dev/null && return 0
        wait "$LPID"
        problem "grades-logd died (exit status $?) during: $1; log: $(tail -3 "$LOGD_ERR")"
        ended "$LPID"
        return 1
}

# ------------------------------------------------------------------- wrk runs
# wrk_parse FILE: sets RPS NON2XX SOCKERR OK BAD AVG P99
wrk_parse() {
        RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
        NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
        NON2XX=${NON2XX:-0}
        SOCKERR=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$1")
        SOCKERR=${SOCKERR:-none}
        OK=$(awk '/^lines:/ { print $2 }' "$1")
        BAD=$(awk '/^lines:/ { print $4 }' "$1")
        AVG=$(awk '$1 == "Latency" { print $2; exit }' "$1")
        P99=$(awk '$1 == "99%" { print $2 }' "$1")
        [ -n "$RPS" ] || problem "wrk failed: $(tail -5 "$1")"
        RPS=${RPS:-0}
        OK=${OK:-0}
        BAD=${BAD:-0}
}

N_WRK=0
# measure LABEL LUA DURATION [-- ARGS]: wrk -t1 -c$CONNECTIONS against logd,
# with CPU, memory and file checks; sets RPS OK CPU_S MEM_PEAK MEM_AFTER
# LINES_WRITTEN WALL.
measure() {
        local label=$1 lua=$2 dur=$3 c0 c1 u0 u1 t0 t1 l0 l1 sampler memfile
        shift 3
        N_WRK=$((N_WRK + 1))
        WRK_OUT=$TMP/wrk.$N_WRK.txt
        memfile=$TMP/mem.$N_WRK.txt
        : >"$memfile"
        l0=$(lines_in "$CENTRAL")
        sample_mem "$LPID" "$memfile" &
        sampler=$!
        started $sampler
        c0=$(cpu_ticks "$LPID")
        u0=$(user_ticks "$LPID")
        t0=$(now)
        wrk -t1 -c"$CONNECTIONS" -d"$dur" --latency -s "$lua" "$LOGD_URL" "$@" >"$WRK_OUT" 2>&1
        t1=$(now)
        c1=$(cpu_ticks "$LPID" 2>/dev/null || echo "$c0")
        u1=$(user_ticks "$LPID" 2>/dev/null || echo "$u0")
        kill "$sampler" 2>/dev/null
        wait "$sampler" 2>/dev/null
        ended $sampler
        WALL=$(calc 2 "$t1 - $t0")
        CPU_S=$(calc 3 "($c1 - $c0) / $CLK_TCK")
        USER_S=$(calc 2 "($u1 - $u0) / $CLK_TCK")
        SYS_S=$(calc 2 "($c1 - $c0 - $u1 + $u0) / $CLK_TCK")
        MEM_PEAK=$(sort -n "$memfile" | tail -1)
        MEM_PEAK=${MEM_PEAK:-0}
        wrk_parse "$WRK_OUT"
        check_alive "$label" || return 1
        MEM_AFTER=$(mem_rollup "$LPID")
        l1=$(lines_in "$CENTRAL")
        LINES_WRITTEN=$((l1 - l0))
        [ "$NON2XX" = 0 ] || problem "$label: $NON2XX non-2xx responses ($(awk '/^first failure:/' "$WRK_OUT"))"
        [ "$SOCKERR" = none ] || problem "$label: wrk socket errors: $SOCKERR"
        [ "$BAD" = 0 ] || problem "$label: $BAD lines refused"
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

report_mem() { # label
        local v excl lib
        read -r excl lib < <(mem_split "$LPID")
        v=$(verdict ge 6144 "$MEM_PEAK")
        printf '  private memory under load (smaps_rollup Private_Clean+Private_Dirty, peak of 100 ms samples): %s MB (%s kB)   [target <= 6 MB] %s\n' \
                "$(calc 2 "$MEM_PEAK/1024")" "$MEM_PEAK" "$v"
        printf '      right after the run: %s kB; of which %s kB outside shared-library mappings, %s kB inside\n' \
                "$MEM_AFTER" "$excl" "$lib"
        SUMMARY+=("$(printf '%-52s %10s MB   target <= 6 MB         %s' "private memory, $1 (peak)" "$(calc 2 "$MEM_PEAK/1024")" "$v")")
}

T_START=$(now)
echo "grades-logd benchmark: $LOGD"
echo "  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)," \
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
        SUMMARY+=("$(printf '%-52s %10s /s   target >= 110,000/s    %s' "single-line POSTs" "$(num "$RPS")" "$v")")
        cpu=$(per_100k "$CPU_S" "$OK")
        printf '  CPU time per 100,000 lines: %s s (logd used %s s: %s user + %s system, in %s s = %s cores)   [reported, no target]\n' \
                "$cpu" "$CPU_S" "$USER_S" "$SYS_S" "$WALL" "$(calc 2 "$CPU_S / $WALL")"
        SUMMARY+=("$(printf '%-52s %10s s    (reported)' "CPU per 100,000 lines, single-line POSTs" "$cpu")")
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
        SUMMARY+=("$(printf '%-52s %10s /s   target >= 500,000/s    %s' "lines in JSON batches of 100" "$(num "$LPS")" "$v")")
        cpu=$(per_100k "$CPU_S" "$OK")
        printf '  CPU time per 100,000 lines: %s s (logd used %s s: %s user + %s system, in %s s = %s cores)   [reported, no target]\n' \
                "$cpu" "$CPU_S" "$USER_S" "$SYS_S" "$WALL" "$(calc 2 "$CPU_S / $WALL")"
        SUMMARY+=("$(printf '%-52s %10s s    (reported)' "CPU per 100,000 lines, JSON batches of 100" "$cpu")")
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
        t0=$(now)
        kill -TERM "$LPID"
        for ((i = 0; i < 200; i++)); do
                kill -0 "$LPID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$LPID" 2>/dev/null; then
                problem "grades-logd still running 10 s after SIGTERM; killed"
                kill -KILL "$LPID"
        fi
        wait "$LPID"
        rc=$?
        ended "$LPID"
        echo "  stopped by SIGTERM in $(calc 2 "$(now) - $t0") s, exit status $rc"
        [ $rc = 0 ] || problem "grades-logd exited with status $rc after SIGTERM"
        n=$(grep -c '^<[0-4]>' "$LOGD_ERR")
        [ "$n" = 0 ] || problem "$n warnings/errors in logd's stderr, e.g.: $(grep -m3 '^<[0-4]>' "$LOGD_ERR" | tr '\n' ' ')"
fi
echo

echo "Summary ($(calc 0 "$(now) - $T_START") s; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end):"
printf '  %s\n' "${SUMMARY[@]}"
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "Problems seen:"
        printf '  - %s\n' "${PROBLEMS[@]}"
        exit 1
fi
echo "No errors, non-2xx responses, lost or extra lines, or crashes seen."
