# SPDX-License-Identifier: MIT
#
# Helpers shared by the benchmark scripts of bench/, which source this file
# first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# It defines functions and the shared state: HERE (this directory), CLK_TCK,
# PIDS (every process started here), PROBLEMS, SUMMARY and BUSY; and it sets
# the traps that end every process started here, and remove $TMP (the
# script's temporary directory, once it has made one) unless KEEP=1.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the scripts

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLK_TCK=$(getconf CLK_TCK)

die() {
        echo "${0##*/}: $*" >&2
        exit 1
}

# need_tools "PACKAGES" TOOL...: dies unless every TOOL is on PATH.
need_tools() {
        local hint=$1 tool
        shift
        for tool in "$@"; do
                command -v "$tool" >/dev/null || die "needs $tool: apt-get install $hint"
        done
}

# find_built VAR GIVEN PATH: sets VAR to the absolute path of the program
# GIVEN, else of PATH (src/...) under the current directory or the source
# tree; dies if there is none.
find_built() {
        local f=$2 c
        if [ -z "$f" ]; then
                for c in "./$3" "$HERE/../$3"; do
                        if [ -x "$c" ]; then
                                f=$c
                                break
                        fi
                done
        fi
        [ -n "$f" ] && [ -x "$f" ] || die "${3##*/} not found; build it, then pass its path"
        printf -v "$1" '%s' "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
}

# The environment systemd gives a service, without which a daemon runs as
# started by hand: "${DAEMON_ENV[@]}" DAEMON ARGS... & (env execs it, so $!
# is the daemon).
DAEMON_ENV=(env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u WATCHDOG_USEC -u JOURNAL_STREAM
        -u STATE_DIRECTORY -u LOGS_DIRECTORY)

# ------------------------------------------------------ processes, cleanup
PIDS=" " # every process started here, so the trap can end them
PROBLEMS=()
SUMMARY=()
BUSY=()

cleanup() {
        local p
        for p in $PIDS; do
                kill "$p" 2>/dev/null
        done
        for p in $PIDS; do
                wait "$p" 2>/dev/null
        done
        [ -n "${TMP:-}" ] || return
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

# alive PID NAME LOG [DURING]: true while PID runs; else reaps it and
# records a problem with its exit status and the end of its LOG.
alive() {
        kill -0 "$1" 2>/dev/null && return 0
        wait "$1"
        problem "$2 died (exit status $?)${4:+ during: $4}; log: $(tail -3 "$3" | tr '\n' ' ')"
        ended "$1"
        return 1
}

# stop_daemon PID NAME SECONDS PREFIX: SIGTERM, SIGKILL if PID still runs
# SECONDS later; prints "PREFIXstopped by SIGTERM in ... s, exit status N"
# and records a problem unless it exited with 0 in time.
stop_daemon() {
        local pid=$1 name=$2 secs=$3 t0 rc i
        t0=$(now)
        kill -TERM "$pid"
        for ((i = 0; i < secs * 20; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
                problem "$name still running $secs s after SIGTERM; killed"
                kill -KILL "$pid"
        fi
        wait "$pid"
        rc=$?
        ended "$pid"
        echo "$4stopped by SIGTERM in $(calc 2 "$(now) - $t0") s, exit status $rc"
        [ $rc = 0 ] || problem "$name exited with status $rc after SIGTERM"
}

# log_warnings FILE WHERE: a problem if a daemon logged warnings or errors
# (<0> to <4>) to FILE.
log_warnings() {
        local n
        n=$(grep -c '^<[0-4]>' "$1")
        [ "$n" = 0 ] || problem "$n warnings/errors in $2, e.g.: $(grep -m3 '^<[0-4]>' "$1" | tr '\n' ' ')"
}

# A port nobody listens on, in PORT; ports handed out before are not reused.
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

# ----------------------------------------------------------------- numbers
now() { date +%s.%N; }
# calc DIGITS EXPR: the value of an arithmetic expression (of our own numbers)
calc() { awk "BEGIN { printf \"%.$1f\", ($2) }"; }
# num X: X rounded, with thousands separators
num() { awk -v x="$1" 'BEGIN { s = sprintf("%d", x + 0.5); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }; print s o }'; }
# ge A B, lt A B: A >= B, A < B, as numbers
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then echo "ok"; else echo "MISSED"; fi; }
# to_ms 812.00us | 1.23ms | 1.01s | 2.00m: wrk's latency in milliseconds;
# nan for anything else (nothing, when wrk printed none)
to_ms() {
        awk -v v="$1" 'BEGIN {
                n = v; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", n)
                if (n == "" || u == "") { print "nan"; exit }
                if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
                else if (u != "ms") { print "nan"; exit }
                printf "%.3f", n }'
}

# summary FORMAT ARGS...: a line of the summary printed at the end.
summary() {
        local line
        # shellcheck disable=SC2059 # the format is the caller's
        printf -v line "$@"
        SUMMARY+=("$line")
}

# finish HEADLINE PROBLEMS_HEADING [ALL_WELL]: prints the summary, the
# measurements others' processes disturbed and the problems seen; exits 1
# if there were problems, else prints ALL_WELL.
finish() {
        echo "$1"
        [ ${#SUMMARY[@]} = 0 ] || printf '  %s\n' "${SUMMARY[@]}"
        if [ ${#BUSY[@]} -gt 0 ]; then
                echo "Other processes kept the machine busy (rerun when it is idle) during:"
                printf '  - %s\n' "${BUSY[@]}"
        fi
        if [ ${#PROBLEMS[@]} -gt 0 ]; then
                echo "$2"
                printf '  - %s\n' "${PROBLEMS[@]}"
                exit 1
        fi
        [ -z "${3:-}" ] || echo "$3"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
wrk_version() { wrk --version 2>&1 | head -1 | cut -d' ' -f1-2; }
h2o_version() { h2o --version | awk 'NR == 1 { print $3 }'; }

# --------------------------------------------------------------------- CPU
# utime + stime of every thread of a process, in clock ticks; utime alone.
# They fail once the process is gone.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }
user_ticks() { awk '{ sub(/^.*\) /, ""); print $12 }' "/proc/$1/stat" 2>/dev/null; }

# CPU of the whole machine (user, nice, system), in clock ticks.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
# CPU of what the script runs: the processes it started (PIDS) and its
# shell's reaped children, in clock ticks.
# own_ticks: CPU ticks of the processes started here, and of this shell's
# finished children (wrk), into OWN_TICKS. Not to be called in $(...): a
# subshell's `times` counts only its own children.
own_ticks() {
        local s=0 p t
        for p in $PIDS; do
                t=$(cpu_ticks "$p") && s=$((s + t))
        done
        times >"$TMP/times"
        OWN_TICKS=$((s + $(awk -v hz="$CLK_TCK" 'NR == 2 {
                for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
                printf "%d", t * hz }' "$TMP/times")))
}
# other_start / other_end LABEL: how busy the machine was meanwhile with
# processes not started here (tests run by others, say), which would make
# the figures here low; other_end says so, and adds LABEL to BUSY, above
# 0.15 cores.
other_start() {
        OTHER_M0=$(machine_ticks)
        own_ticks
        OTHER_O0=$OWN_TICKS
        OTHER_T0=$(now)
}
other_end() {
        local cores
        own_ticks
        cores=$(calc 2 "(($(machine_ticks) - $OTHER_M0) - ($OWN_TICKS - $OTHER_O0)) / $CLK_TCK / ($(now) - $OTHER_T0)")
        if ge "$cores" 0.15; then
                echo "  (!) other processes kept $cores cores busy meanwhile: this figure is pessimistic"
                BUSY+=("$1: $cores cores")
        fi
}

# ------------------------------------------------------------------ memory
# Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, in kB (nothing
# once the process is gone).
mem_rollup() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
# The same from /proc/PID/smaps, split: "OUTSIDE INSIDE", the kB outside
# shared-library mappings (the daemon's own memory) and inside them (which
# count as private while no other process maps the library).
mem_split() {
        awk '
                /^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.[0-9]+)*$/) }
                /^Private_(Clean|Dirty):/ { if (lib) l += $2; else p += $2 }
                END { print p + 0, l + 0 }' "/proc/$1/smaps" 2>/dev/null
}

# mem_sampler_start PID PERIOD [FILE]: appends "ROLLUP OUTSIDE" (kB, as
# mem_rollup and mem_split) to FILE (default: a new $TMP/mem.N.txt) every
# PERIOD s while PID runs, in the background.
N_MEM=0
mem_sampler_start() {
        local pid=$1 period=$2
        N_MEM=$((N_MEM + 1))
        MEM_FILE=${3:-$TMP/mem.$N_MEM.txt}
        (
                while kill -0 "$pid" 2>/dev/null; do
                        r=$(mem_rollup "$pid")
                        read -r excl _ < <(mem_split "$pid")
                        echo "${r:-0} ${excl:-0}"
                        sleep "$period"
                done
        ) >>"$MEM_FILE" 2>/dev/null &
        MEM_SAMPLER=$!
        started $MEM_SAMPLER
}
# mem_sampler_stop: ends the sampler; MEM_MAX is the largest ROLLUP in its
# FILE, MEM_EXCL_AT_MAX the OUTSIDE of that sample, MEM_EXCL_MAX the largest
# OUTSIDE (all 0 before the first sampler).
MEM_MAX=0 MEM_EXCL_AT_MAX=0 MEM_EXCL_MAX=0
mem_sampler_stop() {
        kill "$MEM_SAMPLER" 2>/dev/null
        wait "$MEM_SAMPLER" 2>/dev/null
        ended "$MEM_SAMPLER"
        read -r MEM_MAX MEM_EXCL_AT_MAX MEM_EXCL_MAX < <(awk '
                BEGIN { m = 0; a = 0; x = 0 }
                $1 + 0 > m { m = $1 + 0; a = $2 + 0 }
                $2 + 0 > x { x = $2 + 0 }
                END { print m, a, x }' "$MEM_FILE")
}

# --------------------------------------------------------------------- wrk
# wrk_parse FILE: sets RPS NON2XX SOCKERR AVG (wrk's average latency), P99
# (wrk's p99 latency, with --latency) and P99_MS (the same in ms, or nan);
# and with WRK_COUNT=NAME, OK and BAD from the line "NAME: OK ..., BAD ..."
# the wrk script printed (else 0).
wrk_parse() {
        RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
        NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
        NON2XX=${NON2XX:-0}
        SOCKERR=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$1")
        SOCKERR=${SOCKERR:-none}
        AVG=$(awk '$1 == "Latency" { print $2; exit }' "$1")
        P99=$(awk '$1 == "99%" { print $2 }' "$1")
        P99_MS=$(to_ms "$P99")
        OK=0 BAD=0
        if [ -n "${WRK_COUNT:-}" ]; then
                read -r OK BAD < <(awk -v n="$WRK_COUNT:" '$1 == n { print $2, $4 }' "$1")
                OK=${OK:-0} BAD=${BAD:-0}
        fi
        [ -n "$RPS" ] || problem "wrk failed: $(tail -5 "$1")"
        RPS=${RPS:-0}
}

# check_wrk_errors LABEL [FAILED]: problems for the last run's non-2xx
# responses, socket errors and, given FAILED ("registrations failed", say),
# BAD.
check_wrk_errors() {
        local first
        first=$(awk '/^first failure:/' "$WRK_OUT")
        [ "$NON2XX" = 0 ] || problem "$1: $NON2XX non-2xx responses${first:+ ($first)}"
        [ "$SOCKERR" = none ] ||
                problem "$1: wrk socket errors: $SOCKERR (timeout: requests unanswered after 2 s)"
        [ -z "${2:-}" ] || [ "$BAD" = 0 ] || problem "$1: $BAD $2"
}

# next_wrk_out: WRK_OUT, a new $TMP/wrk.N.txt for wrk's output.
N_WRK=0
next_wrk_out() {
        N_WRK=$((N_WRK + 1))
        WRK_OUT=$TMP/wrk.$N_WRK.txt
}

# run_wrk PID... -- ARGS...: wrk ARGS into a new $WRK_OUT, parsed
# (wrk_parse); in the background, so that a signal ends it at once. Sets
# WRK_T0 and WRK_T1 (its start and end, as now), and for the Nth PID
# TICKS[N] and USER_TICKS[N], its CPU and user CPU meanwhile in clock ticks,
# and CORES[N], its CPU in cores.
run_wrk() {
        local pids=() c0=() u0=() c u i wp
        while [ "$1" != -- ]; do
                pids+=("$1")
                shift
        done
        shift
        next_wrk_out
        for i in "${!pids[@]}"; do
                c0[i]=$(cpu_ticks "${pids[i]}" || echo 0)
                u0[i]=$(user_ticks "${pids[i]}" || echo 0)
        done
        WRK_T0=$(now)
        wrk "$@" >"$WRK_OUT" 2>&1 &
        wp=$!
        started $wp
        wait $wp
        ended $wp
        WRK_T1=$(now)
        TICKS=() USER_TICKS=() CORES=()
        for i in "${!pids[@]}"; do
                c=$(cpu_ticks "${pids[i]}" || echo "${c0[i]}")
                u=$(user_ticks "${pids[i]}" || echo "${u0[i]}")
                TICKS[i]=$((c - c0[i]))
                USER_TICKS[i]=$((u - u0[i]))
                CORES[i]=$(calc 2 "${TICKS[i]} / $CLK_TCK / ($WRK_T1 - $WRK_T0)")
        done
        wrk_parse "$WRK_OUT"
}
