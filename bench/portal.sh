#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmarks grades-portald against the targets of its issue:
#
#   GET /students/1 (the student page: one call to grading, a template
#                   render)        >= 30,000 req/s, p99 < 3 ms
#   GET /api/students/1 through the gateway >= 0.5 x GET /students/1 on
#                   grading directly (measured in the same run)
#   private memory  (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup)
#                   <= 6 MB under load
#
# Every load is wrk -t1 -c50 on 127.0.0.1. The whole system runs: registry,
# log, grading and portal, each with its defaults, on free ports. Usage:
#
#   bench/portal.sh [BUILDDIR]
#
# (default: $GRADES_BUILDDIR, else the current directory if it holds
# src/portald/grades-portald, else the source tree). Environment: DURATION
# (seconds per wrk run, default 5), ROUNDS (direct and gateway runs
# alternated this many times, the best of each kept; default 2), DATA (the
# data directory, default the source tree's data/), KEEP=1 keeps the
# temporary directory with the daemons' logs and wrk's output. Needs wrk,
# curl, jq and awk. Everything started here is ended at exit, by its PID.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLK_TCK=$(getconf CLK_TCK)
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
DATA=${DATA:-$HERE/../data}

die() {
        echo "portal.sh: $*" >&2
        exit 1
}

BUILD=${1:-${GRADES_BUILDDIR:-}}
if [ -z "$BUILD" ]; then
        for c in . "$HERE/.."; do
                if [ -x "$c/src/portald/grades-portald" ]; then
                        BUILD=$c
                        break
                fi
        done
fi
[ -n "$BUILD" ] || die "no build tree with src/portald/grades-portald; build, then pass its directory"
BUILD=$(cd "$BUILD" && pwd)
for d in registryd logd gradingd portald; do
        [ -x "$BUILD/src/$d/grades-$d" ] || die "$BUILD/src/$d/grades-$d is not built"
done
DATA=$(cd "$DATA" && pwd) || die "no data directory $DATA"
[ -f "$DATA/templates/student.html" ] && [ -f "$DATA/students.json" ] || die "$DATA lacks templates/ or students.json"
for tool in wrk curl jq awk; do
        command -v "$tool" >/dev/null || die "needs $tool: apt-get install wrk curl jq"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grades-bench-portal.XXXXXX")
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
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then echo "ok"; else echo "MISSED"; fi; }

# utime + stime of every thread of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Private_Clean + Private_Dirty of smaps_rollup, in kB.
mem_kb() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# The same outside shared-library mappings (for the explanation line).
mem_own_kb() {
        awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.[0-9]+)*$/) }
             /^Private_(Clean|Dirty):/ { if (!lib) p += $2 }
             END { print p + 0 }' "/proc/$1/smaps" 2>/dev/null || echo 0
}

# Samples the portal's memory every 0.2 s while a wrk run lasts; the
# largest sample is in $TMP/mem.max afterwards.
MEM_MAX=0
MEM_OWN_MAX=0
sample_mem_start() {
        (
                max=0 own=0
                while :; do
                        m=$(mem_kb "$PORTAL_PID")
                        [ "$m" -gt "$max" ] && max=$m && own=$(mem_own_kb "$PORTAL_PID")
                        echo "$max $own" >"$TMP/mem.max"
                        sleep 0.2
                done
        ) &
        SAMPLER=$!
        started $SAMPLER
}
sample_mem_stop() {
        local m o
        kill "$SAMPLER" 2>/dev/null
        wait "$SAMPLER" 2>/dev/null
        ended "$SAMPLER"
        read -r m o <"$TMP/mem.max"
        if [ "$m" -gt "$MEM_MAX" ]; then
                MEM_MAX=$m
                MEM_OWN_MAX=$o
        fi
}

# ------------------------------------------------------------- the system
start_daemon() { # NAME VAR_PID VAR_URL extra args...
        local name=$1 pidvar=$2 urlvar=$3 pid
        shift 3
        free_port
        mkdir -p "$TMP/$name"
        env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u WATCHDOG_USEC -u JOURNAL_STREAM \
                "$BUILD/src/$name/grades-$name" --config=/dev/null --listen="127.0.0.1:$PORT" \
                --state-directory="$TMP/$name" --logs-directory="$TMP/$name" "$@" 2>"$TMP/$name.log" &
        pid=$!
        started $pid
        printf -v "$pidvar" '%s' "$pid"
        printf -v "$urlvar" '%s' "http://127.0.0.1:$PORT"
}

start_daemon registryd REG_PID REG
wait_http "$REG/services" || die "grades-registryd did not start: $(cat "$TMP/registryd.log")"
start_daemon logd LOG_PID LOG --registry="$REG"
start_daemon gradingd GRADING_PID GRADING --registry="$REG" --data-directory="$DATA"
wait_http "$LOG/log" || die "grades-logd did not start: $(cat "$TMP/logd.log")"
wait_http "$GRADING/students" || die "grades-gradingd did not start: $(cat "$TMP/gradingd.log")"
start_daemon portald PORTAL_PID PORTAL --registry="$REG" --data-directory="$DATA"
wait_http "$PORTAL/providers" || die "grades-portald did not start: $(cat "$TMP/portald.log")"
for ((i = 0; i < 200; i++)); do
        [ "$(curl -s "$PORTAL/providers" | jq -r '.Providers.GradingService | length')" -ge 1 ] 2>/dev/null && break
        sleep 0.05
done
[ "$(curl -s "$PORTAL/providers" | jq -r '.Providers.GradingService[0]')" = "$GRADING" ] ||
        die "the portal did not discover grading: $(curl -s "$PORTAL/providers")"

# The page and the API answer what they should before they are measured.
code=$(curl -s -o "$TMP/page.html" -w '%{http_code}' "$PORTAL/students/1")
[ "$code" = 200 ] && grep -q 'Add a grade' "$TMP/page.html" || die "GET /students/1: $code, not the student page"
code=$(curl -s -o "$TMP/direct.json" -w '%{http_code}' "$GRADING/students/1")
code2=$(curl -s -o "$TMP/gateway.json" -w '%{http_code}' "$PORTAL/api/students/1")
[ "$code" = 200 ] && [ "$code2" = 200 ] && cmp -s "$TMP/direct.json" "$TMP/gateway.json" ||
        die "GET /api/students/1 ($code2) differs from grading's GET /students/1 ($code)"

# ------------------------------------------------------------------- wrk runs
# wrk_parse FILE: sets RPS NON2XX SOCKERR P99_MS AVG
to_ms() { # 1.23ms / 456.78us / 1.02s -> ms
        awk -v v="$1" 'BEGIN {
                if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
                else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
                else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
                else printf "%s", "nan" }'
}
wrk_parse() {
        RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
        NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
        NON2XX=${NON2XX:-0}
        SOCKERR=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$1")
        SOCKERR=${SOCKERR:-none}
        P99_MS=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$1")")
        AVG=$(awk '$1 == "Latency" { print $2; exit }' "$1")
        [ -n "$RPS" ] || problem "wrk failed: $(tail -5 "$1")"
        RPS=${RPS:-0}
}

check_wrk_errors() { # label
        [ "$NON2XX" = 0 ] || problem "$1: $NON2XX non-2xx responses"
        [ "$SOCKERR" = none ] || problem "$1: wrk socket errors: $SOCKERR"
}

N_WRK=0
# run_wrk PID_FOR_CPU URL: wrk -t1 -c50 -d$DURATION --latency; CPU_CORES of
# that process meanwhile, and of the portal (PORTAL_CORES) and grading
# (GRADING_CORES).
run_wrk() {
        local pid=$1 url=$2 p0 g0 p1 g1 t0 t1
        N_WRK=$((N_WRK + 1))
        WRK_OUT=$TMP/wrk.$N_WRK.txt
        p0=$(cpu_ticks "$PORTAL_PID")
        g0=$(cpu_ticks "$GRADING_PID")
        t0=$(now)
        wrk -t1 -c50 -d"${DURATION}s" --latency "$url" >"$WRK_OUT" 2>&1
        t1=$(now)
        p1=$(cpu_ticks "$PORTAL_PID")
        g1=$(cpu_ticks "$GRADING_PID")
        PORTAL_CORES=$(calc 2 "($p1 - $p0) / $CLK_TCK / ($t1 - $t0)")
        GRADING_CORES=$(calc 2 "($g1 - $g0) / $CLK_TCK / ($t1 - $t0)")
        wrk_parse "$WRK_OUT"
}

alive() { # PID NAME
        kill -0 "$1" 2>/dev/null && return 0
        wait "$1"
        problem "$2 died (exit status $?); log: $(tail -3 "$TMP/$2.log" | tr '\n' ' ')"
        ended "$1"
        return 1
}

T_START=$(now)
echo "grades-portald benchmark: $BUILD/src/portald/grades-portald"
echo "  $(nproc) cores, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), wrk -t1 -c50 -d${DURATION}s, daemons at their defaults (log level info, to files)"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

IDLE_KB=$(mem_kb "$PORTAL_PID")
echo "0. Idle: portal private memory $(calc 2 "$IDLE_KB/1024") MB ($IDLE_KB kB, smaps_rollup Private_Clean+Private_Dirty)"
echo

# Warm up: connections, caches, the allocator.
wrk -t1 -c50 -d1s "$PORTAL/students/1" >/dev/null 2>&1
wrk -t1 -c50 -d1s "$PORTAL/api/students/1" >/dev/null 2>&1

# ------------------------------------------------------- 1. the student page
echo "1. The student page: GET /students/1 on the portal (one call to grading per page)"
BEST_RPS=0 BEST_P99=nan
for ((r = 1; r <= ROUNDS; r++)); do
        sample_mem_start
        run_wrk "$PORTAL_PID" "$PORTAL/students/1"
        sample_mem_stop
        check_wrk_errors "GET /students/1"
        printf '  run %d: %s req/s, p99 %s ms, avg %s; portal CPU %s cores, grading CPU %s cores\n' \
                "$r" "$(num "$RPS")" "$P99_MS" "$AVG" "$PORTAL_CORES" "$GRADING_CORES"
        if ge "$RPS" "$BEST_RPS"; then
                BEST_RPS=$RPS BEST_P99=$P99_MS
        fi
done
v=$(verdict ge "$BEST_RPS" 30000)
printf '  student page: %s req/s   [target >= 30,000 req/s] %s\n' "$(num "$BEST_RPS")" "$v"
SUMMARY+=("$(printf '%-52s %10s req/s  target >= 30,000 req/s  %s' "GET /students/1 (student page)" "$(num "$BEST_RPS")" "$v")")
v=$(verdict lt "$BEST_P99" 3)
printf '  student page: p99 latency %s ms   [target < 3 ms] %s\n' "$BEST_P99" "$v"
SUMMARY+=("$(printf '%-52s %10s ms     target < 3 ms            %s' "GET /students/1 p99 latency" "$BEST_P99" "$v")")
alive "$PORTAL_PID" portald
echo

# ------------------------------------------------------------- 2. the gateway
echo "2. The gateway: GET /api/students/1 on the portal vs GET /students/1 on grading, alternately"
BEST_DIRECT=0 BEST_GW=0
for ((r = 1; r <= ROUNDS; r++)); do
        run_wrk "$GRADING_PID" "$GRADING/students/1"
        check_wrk_errors "direct GET /students/1"
        printf '  run %d, grading directly: %s req/s, p99 %s ms; grading CPU %s cores\n' \
                "$r" "$(num "$RPS")" "$P99_MS" "$GRADING_CORES"
        ge "$RPS" "$BEST_DIRECT" && BEST_DIRECT=$RPS
        sample_mem_start
        run_wrk "$PORTAL_PID" "$PORTAL/api/students/1"
        sample_mem_stop
        check_wrk_errors "GET /api/students/1"
        printf '  run %d, through the gateway: %s req/s, p99 %s ms; portal CPU %s cores, grading CPU %s cores\n' \
                "$r" "$(num "$RPS")" "$P99_MS" "$PORTAL_CORES" "$GRADING_CORES"
        ge "$RPS" "$BEST_GW" && BEST_GW=$RPS
done
RATIO=$(calc 2 "$BEST_GW / ($BEST_DIRECT > 0 ? $BEST_DIRECT : 1)")
v=$(verdict ge "$RATIO" 0.5)
printf '  gateway: %s req/s vs %s req/s direct = %s x   [target >= 0.5 x] %s\n' \
        "$(num "$BEST_GW")" "$(num "$BEST_DIRECT")" "$RATIO" "$v"
SUMMARY+=("$(printf '%-52s %10s x      target >= 0.5 x          %s' "GET /api/students/1 / direct ($(num "$BEST_GW") / $(num "$BEST_DIRECT") req/s)" "$RATIO" "$v")")
alive "$PORTAL_PID" portald
echo

# ---------------------------------------------------------------- 3. memory
echo "3. Portal private memory under load (the largest sample, every 0.2 s during the runs above)"
v=$(verdict ge $((6 * 1024)) "$MEM_MAX")
printf '  private memory under load: %s MB (%s kB)   [target <= 6 MB] %s\n' \
        "$(calc 2 "$MEM_MAX/1024")" "$MEM_MAX" "$v"
printf '      (smaps_rollup Private_Clean+Private_Dirty; %s kB of it outside shared-library mappings; idle it was %s kB)\n' \
        "$MEM_OWN_MAX" "$IDLE_KB"
SUMMARY+=("$(printf '%-52s %10s MB     target <= 6 MB           %s' "portal private memory under load" "$(calc 2 "$MEM_MAX/1024")" "$v")")
echo

# -------------------------------------------------------------- 4. shutdown
if alive "$PORTAL_PID" portald; then
        t0=$(now)
        kill -TERM "$PORTAL_PID"
        for ((i = 0; i < 300; i++)); do
                kill -0 "$PORTAL_PID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$PORTAL_PID" 2>/dev/null; then
                problem "grades-portald still running 15 s after SIGTERM; killed"
                kill -KILL "$PORTAL_PID"
        fi
        wait "$PORTAL_PID"
        rc=$?
        ended "$PORTAL_PID"
        echo "4. The portal stopped by SIGTERM in $(calc 2 "$(now) - $t0") s, exit status $rc"
        [ $rc = 0 ] || problem "grades-portald exited with status $rc after SIGTERM"
fi
n=$(grep -c '^<[0-4]>' "$TMP/portald.log")
[ "$n" = 0 ] || problem "$n warnings/errors in the portal's log, e.g.: $(grep -m3 '^<[0-4]>' "$TMP/portald.log" | tr '\n' ' ')"
for pid_name in "$GRADING_PID gradingd" "$LOG_PID logd" "$REG_PID registryd"; do
        # shellcheck disable=SC2086
        alive $pid_name >/dev/null
done
echo

echo "Summary ($(calc 0 "$(now) - $T_START") s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  %s\n' "${SUMMARY[@]}"
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "Problems seen:"
        printf '  - %s\n' "${PROBLEMS[@]}"
        exit 1
fi
echo "No errors, non-2xx responses, crashes or warnings seen."
