#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmarks grades-gradingd against the targets of its issue:
#
#   GET /students/1  >= 0.8 x Debian h2o serving the same bytes as a static
#                    file (measured in the same run), p99 <= 1 ms at 50
#                    connections
#   GET /students    >= 0.6 x h2o on the same bytes
#   POST grades      >= 1,000 committed grades/s
#   private memory   (Private_Clean + Private_Dirty of smaps_rollup) <= 6 MB
#                    under load
#
# Every load is wrk -t1 -c50 on 127.0.0.1. Usage:
#
#   bench/grading.sh [PATH/TO/grades-gradingd]
#
# (default: $GRADINGD, else src/gradingd/grades-gradingd under the current
# directory or the source tree). Environment: DURATION (seconds per wrk run,
# default 5), ROUNDS (h2o and gradingd measured alternately this many times,
# the best of each kept; default 2), DATA (the data directory, default the
# source tree's data/), KEEP=1 keeps the temporary directory with the logs.
# Needs wrk, h2o (Debian's), curl and awk; sqlite3 if present double-checks
# the committed count. Everything runs on free ports in a temporary directory
# that is removed at the end, and every process started here is ended.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LUA=$HERE/grading.lua
CLK_TCK=$(getconf CLK_TCK)
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
DATA=${DATA:-$HERE/../data}

die() {
        echo "grading.sh: $*" >&2
        exit 1
}

GRADINGD=${1:-${GRADINGD:-}}
if [ -z "$GRADINGD" ]; then
        for c in ./src/gradingd/grades-gradingd "$HERE/../src/gradingd/grades-gradingd"; do
                if [ -x "$c" ]; then
                        GRADINGD=$c
                        break
                fi
        done
fi
[ -n "$GRADINGD" ] && [ -x "$GRADINGD" ] || die "grades-gradingd not found; build it, then pass its path"
GRADINGD=$(cd "$(dirname "$GRADINGD")" && pwd)/$(basename "$GRADINGD")
DATA=$(cd "$DATA" && pwd) || die "no data directory $DATA"
[ -f "$DATA/schema/1.sql" ] && [ -f "$DATA/students.json" ] || die "$DATA lacks schema/1.sql or students.json"
for tool in wrk h2o curl awk; do
        command -v "$tool" >/dev/null || die "needs $tool: apt-get install wrk h2o curl"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grades-bench.XXXXXX")
# h2o started as root serves files as nobody: let it read its docroot.
chmod 755 "$TMP"
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
# to_ms 812.00us | 1.23ms | 1.01s | 2.00m: wrk's latency in milliseconds
to_ms() {
        awk -v v="$1" 'BEGIN {
                n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
                if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
                printf "%.3f", n }'
}

# utime + stime of every thread of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Private_Clean + Private_Dirty of smaps_rollup, in kB.
private_kb() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

# Private_Clean + Private_Dirty outside shared-library mappings, in kB.
outside_libs_kb() {
        awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.[0-9]+)*$/) }
             /^Private_(Clean|Dirty):/ { if (!lib) p += $2 } END { print p + 0 }' "/proc/$1/smaps" 2>/dev/null
}

# The same split into shared-library mappings and the rest, for context.
mem_split() {
        awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.[0-9]+)*$/) }
             /^Private_(Clean|Dirty):/ { if (lib) l += $2; else p += $2 }
             END { printf "%d kB outside shared libraries, %d kB in them", p, l }' "/proc/$1/smaps"
}

# Samples the private memory of $1 every 0.1 s into $2 until killed: per
# line the smaps_rollup figure and the part outside shared-library mappings.
# (A library page counts as private while no other process maps it, so the
# first figure moves when other processes using the same libraries start or
# exit; the second is the daemon's own memory.)
MEM_SAMPLER=
start_sampler() {
        (
                while kill -0 "$1" 2>/dev/null; do
                        echo "$(private_kb "$1") $(outside_libs_kb "$1")"
                        sleep 0.1
                done
        ) >"$2" 2>/dev/null &
        MEM_SAMPLER=$!
        started $MEM_SAMPLER
}
stop_sampler() { # file: sets MEM_MAX and MEM_EXCL_MAX (kB)
        kill "$MEM_SAMPLER" 2>/dev/null
        wait "$MEM_SAMPLER" 2>/dev/null
        ended "$MEM_SAMPLER"
        MEM_MAX=$(awk 'BEGIN { m = 0 } $1 + 0 > m { m = $1 + 0 } END { print m }' "$1")
        MEM_EXCL_MAX=$(awk 'BEGIN { m = 0 } $2 + 0 > m { m = $2 + 0 } END { print m }' "$1")
}

# ------------------------------------------------------------- wrk runs
# wrk_parse FILE: sets RPS NON2XX SOCKERR P99 (ms) AVG
wrk_parse() {
        RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
        NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
        NON2XX=${NON2XX:-0}
        SOCKERR=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$1")
        SOCKERR=${SOCKERR:-none}
        P99=$(awk '$1 == "99%" { print $2 }' "$1")
        P99=$(to_ms "${P99:-0}")
        AVG=$(awk '$1 == "Latency" { print $2; exit }' "$1")
        [ -n "$RPS" ] || problem "wrk failed: $(tail -5 "$1")"
        RPS=${RPS:-0}
}

check_wrk_errors() { # label
        [ "$NON2XX" = 0 ] || problem "$1: $NON2XX non-2xx responses"
        [ "$SOCKERR" = none ] || problem "$1: wrk socket errors: $SOCKERR"
}

N_WRK=0
# run_wrk PID ARGS...: wrk -t1 -c50 ARGS into $WRK_OUT, parsed; CPU_CORES is
# PID's CPU use meanwhile, MEM_MAX its largest private memory (kB).
run_wrk() {
        local pid=$1 c0 c1 t0 t1
        shift
        N_WRK=$((N_WRK + 1))
        WRK_OUT=$TMP/wrk.$N_WRK.txt
        start_sampler "$pid" "$TMP/mem.$N_WRK"
        c0=$(cpu_ticks "$pid")
        t0=$(now)
        wrk -t1 -c50 "$@" >"$WRK_OUT" 2>&1
        t1=$(now)
        c1=$(cpu_ticks "$pid" 2>/dev/null || echo "$c0")
        stop_sampler "$TMP/mem.$N_WRK"
        CPU_CORES=$(calc 2 "($c1 - $c0) / $CLK_TCK / ($t1 - $t0)")
        wrk_parse "$WRK_OUT"
}

# --------------------------------------------------------- the daemon
free_port
GRADING=http://127.0.0.1:$PORT
STATE=$TMP/state
mkdir -p "$STATE"
LOG=$TMP/gradingd.log
free_port # the registry: nobody listens there (registration retries in the background)
env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u WATCHDOG_USEC -u JOURNAL_STREAM -u STATE_DIRECTORY \
        "$GRADINGD" --config=/dev/null --listen="${GRADING#http://}" --state-directory="$STATE" \
        --data-directory="$DATA" --registry="http://127.0.0.1:$PORT" 2>"$LOG" &
GPID=$!
started $GPID
wait_http "$GRADING/heartbeat" || die "grades-gradingd did not start: $(cat "$LOG")"

check_alive() {
        kill -0 "$GPID" 2>/dev/null && return 0
        wait "$GPID"
        problem "grades-gradingd died (exit status $?) during: $1; log: $(tail -3 "$LOG")"
        ended "$GPID"
        return 1
}

# ------------------------------------------------------- h2o, the baseline
curl -s -o "$TMP/one.json" "$GRADING/students/1" || die "GET /students/1 failed"
curl -s -o "$TMP/all.json" "$GRADING/students" || die "GET /students failed"
chmod 644 "$TMP/one.json" "$TMP/all.json"
free_port
H2O=http://127.0.0.1:$PORT
cat >"$TMP/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $PORT
num-threads: 1
max-connections: 20000
hosts:
  default:
    paths:
      "/one":
        file.file: $TMP/one.json
      "/all":
        file.file: $TMP/all.json
EOF
h2o -c "$TMP/h2o.conf" >"$TMP/h2o.log" 2>&1 &
HPID=$!
started $HPID
wait_http "$H2O/one" || die "h2o did not start: $(cat "$TMP/h2o.log")"
cmp -s <(curl -s "$H2O/one") "$TMP/one.json" || die "h2o does not serve the bytes of GET /students/1"
cmp -s <(curl -s "$H2O/all") "$TMP/all.json" || die "h2o does not serve the bytes of GET /students"

T_START=$(now)
echo "grades-gradingd benchmark: $GRADINGD"
echo "  $(nproc) cores, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), h2o $(h2o --version | awk 'NR == 1 { print $3 }') (num-threads 1, no access log) as the baseline,"
echo "  wrk -t1 -c50 -d${DURATION}s, h2o and grades-gradingd alternately, best of $ROUNDS rounds each"
echo "  private memory right after start: $(num "$(private_kb "$GPID")") kB (smaps_rollup Private_Clean+Private_Dirty)"
echo

# get_bench LABEL H2O_PATH GRADING_PATH BYTES_FILE RATIO_TARGET P99_TARGET_MS(or -)
get_bench() {
        local label=$1 hpath=$2 gpath=$3 file=$4 target=$5 p99_target=$6
        local best_h=0 best_h_p99= best_g=0 best_g_p99= best_g_avg= best_g_cpu= mem=0 excl=0 r ratio v bytes
        bytes=$(wc -c <"$file")
        echo "$label: $(num "$bytes") bytes of JSON"
        for ((r = 1; r <= ROUNDS; r++)); do
                run_wrk "$HPID" -d"${DURATION}s" --latency "$H2O$hpath"
                check_wrk_errors "h2o $hpath"
                printf '  round %d: h2o             %10s req/s, p99 %s ms\n' "$r" "$(num "$RPS")" "$P99"
                if ge "$RPS" "$best_h"; then best_h=$RPS best_h_p99=$P99; fi
                check_alive "$label" || return
                run_wrk "$GPID" -d"${DURATION}s" --latency "$GRADING$gpath"
                check_wrk_errors "grades-gradingd $gpath"
                printf '  round %d: grades-gradingd %10s req/s, p99 %s ms, CPU %s cores, private memory max %s kB (%s kB outside libraries)\n' \
                        "$r" "$(num "$RPS")" "$P99" "$CPU_CORES" "$(num "$MEM_MAX")" "$(num "$MEM_EXCL_MAX")"
                if ge "$RPS" "$best_g"; then best_g=$RPS best_g_p99=$P99 best_g_avg=$AVG best_g_cpu=$CPU_CORES; fi
                ge "$MEM_MAX" "$mem" && mem=$MEM_MAX
                ge "$MEM_EXCL_MAX" "$excl" && excl=$MEM_EXCL_MAX
        done
        ratio=$(calc 2 "$best_g / ($best_h > 0 ? $best_h : 1)")
        v=$(verdict ge "$ratio" "$target")
        printf '  %s: %s req/s = %s x h2o (h2o: %s req/s, same bytes, same run)   [target >= %s x h2o] %s\n' \
                "$label" "$(num "$best_g")" "$ratio" "$(num "$best_h")" "$target" "$v"
        SUMMARY+=("$(printf '%-52s %10s req/s = %4s x h2o (%s req/s)   target >= %s x   %s' "$label" "$(num "$best_g")" "$ratio" "$(num "$best_h")" "$target" "$v")")
        if [ "$p99_target" != - ]; then
                v=$(verdict ge "$p99_target" "$best_g_p99")
                printf '  %s p99 latency at 50 connections: %s ms (h2o: %s ms)   [target <= %s ms] %s\n' \
                        "$label" "$best_g_p99" "$best_h_p99" "$p99_target" "$v"
                SUMMARY+=("$(printf '%-52s %10s ms   (h2o %s ms)                  target <= %s ms     %s' "$label p99 latency, 50 connections" "$best_g_p99" "$best_h_p99" "$p99_target" "$v")")
        fi
        printf '      (best grades-gradingd round: avg latency %s, CPU %s cores)\n' "$best_g_avg" "$best_g_cpu"
        report_mem "under the $label load" "$mem" "$excl"
        echo
}

report_mem() { # label rollup_kB outside_libraries_kB
        local v
        v=$(verdict ge $((6 * 1024)) "$2")
        printf '  private memory %s: %s MB (%s kB; smaps_rollup Private_Clean+Private_Dirty, max of samples every 0.1 s)   [target <= 6 MB] %s\n' \
                "$1" "$(calc 2 "$2/1024")" "$(num "$2")" "$v"
        printf '      (of which outside shared-library mappings: max %s kB; now: %s)\n' "$(num "$3")" "$(mem_split "$GPID")"
        SUMMARY+=("$(printf '%-52s %10s MB (%s kB outside libraries)       target <= 6 MB      %s' "private memory $1" "$(calc 2 "$2/1024")" "$(num "$3")" "$v")")
}

# ------------------------------------------------------------- 1. and 2. GETs
echo "1. GET /students/1 (wrk -t1 -c50 -d${DURATION}s --latency; h2o serves the same bytes from a file)"
get_bench "GET /students/1" /one /students/1 "$TMP/one.json" 0.8 1
echo "2. GET /students"
get_bench "GET /students" /all /students "$TMP/all.json" 0.6 -

# ------------------------------------------------------------------ 3. writes
count_grades() {
        if command -v sqlite3 >/dev/null; then
                sqlite3 "file:$STATE/grades.db?mode=ro" "SELECT count(*) FROM grades" 2>/dev/null
        else
                curl -s --max-time 30 "$GRADING/students" | grep -o '"Score":' | wc -l
        fi
}
echo "3. POST /students/{id}/grades (wrk -t1 -c50 -d${DURATION}s; every 201 is a committed grade; synchronous=FULL)"
if check_alive "the writes"; then
        before=$(count_grades)
        run_wrk "$GPID" -d"${DURATION}s" --latency -s "$LUA" "$GRADING" -- 5
        created=$(awk '/^grades:/ { print $2 }' "$WRK_OUT")
        failed=$(awk '/^grades:/ { print $4 }' "$WRK_OUT")
        secs=$(awk '/^grades:/ { print $7 }' "$WRK_OUT")
        [ -n "$created" ] || problem "wrk/grading.lua printed no count: $(tail -3 "$WRK_OUT")"
        created=${created:-0} failed=${failed:-0} secs=${secs:-$DURATION}
        [ "$failed" = 0 ] || problem "$failed grade POSTs did not get 201: $(awk '/^first failure:/' "$WRK_OUT")"
        [ "$SOCKERR" = none ] || problem "POST grades: wrk socket errors: $SOCKERR"
        after=$(count_grades)
        per_s=$(calc 0 "$created / $secs")
        v=$(verdict ge "$per_s" 1000)
        printf '  committed grades/s: %s grades/s (%s created in %s s, p99 latency %s ms, CPU %s cores)   [target >= 1,000/s] %s\n' \
                "$(num "$per_s")" "$(num "$created")" "$secs" "$P99" "$CPU_CORES" "$v"
        SUMMARY+=("$(printf '%-52s %10s /s                                      target >= 1,000/s   %s' "committed grades/s" "$(num "$per_s")" "$v")")
        if [ -n "$before" ] && [ -n "$after" ]; then
                printf '  in the database: %s grades before, %s after (+%s; %s acknowledged)\n' \
                        "$(num "$before")" "$(num "$after")" "$(num $((after - before)))" "$(num "$created")"
                [ $((after - before)) -ge "$created" ] || problem "only $((after - before)) new grades in the database, $created acknowledged"
        fi
        report_mem "under the POST load" "$MEM_MAX" "$MEM_EXCL_MAX"
        # And the reads once the database has grown.
        run_wrk "$GPID" -d"${DURATION}s" --latency "$GRADING/students/1"
        check_wrk_errors "GET /students/1 after the writes"
        printf '  afterwards GET /students/1 (%s grades): %s req/s, p99 %s ms, private memory max %s kB\n' \
                "$(num "$(curl -s "$GRADING/students/1" | grep -o '"Score":' | wc -l)")" "$(num "$RPS")" "$P99" "$(num "$MEM_MAX")"
        run_wrk "$GPID" -d"${DURATION}s" "$GRADING/students"
        check_wrk_errors "GET /students after the writes"
        printf '  afterwards GET /students (%s bytes): %s req/s, private memory max %s kB\n' \
                "$(num "$(curl -s "$GRADING/students" | wc -c)")" "$(num "$RPS")" "$(num "$MEM_MAX")"
        report_mem "under the GET load, grown database" "$MEM_MAX" "$MEM_EXCL_MAX"
        echo
fi

# ------------------------------------------------------------------ the end
if check_alive "the benchmark"; then
        t0=$(now)
        kill -TERM "$GPID"
        for ((i = 0; i < 200; i++)); do
                kill -0 "$GPID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$GPID" 2>/dev/null; then
                problem "grades-gradingd still running 10 s after SIGTERM; killed"
                kill -KILL "$GPID"
        fi
        wait "$GPID"
        rc=$?
        ended "$GPID"
        echo "grades-gradingd stopped by SIGTERM in $(calc 2 "$(now) - $t0") s, exit status $rc"
        [ $rc = 0 ] || problem "grades-gradingd exited with status $rc after SIGTERM"
        n=$(grep -c '^<[0-4]>' "$LOG")
        [ "$n" = 0 ] || problem "$n warnings/errors in the log, e.g.: $(grep -m3 '^<[0-4]>' "$LOG" | tr '\n' ' ')"
fi

echo
echo "Summary ($(calc 0 "$(now) - $T_START") s; figures are noisy when other work shares the cores):"
for line in "${SUMMARY[@]}"; do
        echo "  $line"
done
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "Problems:"
        for p in "${PROBLEMS[@]}"; do
                echo "  - $p"
        done
        exit 1
fi
