#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmarks grades-registryd against the targets of its issue; see
# bench/README. Usage:
#
#   bench/registry.sh [PATH/TO/grades-registryd]
#
# (default: $REGISTRYD, else src/registryd/grades-registryd under the current
# directory or the source tree). Needs wrk, h2o (Debian's, with mruby), jq
# and curl. Everything runs on 127.0.0.1, on free ports, in a temporary
# directory that is removed at the end (KEEP=1 keeps it, with the logs).

set -uo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
LUA=$HERE/register.lua
# shellcheck disable=SC2034 # read by wrk_parse
WRK_COUNT=registrations # the counts register.lua prints
ROW='%-56s %10s %-5s  target %-14s %s' # of the summary: label value unit target verdict

find_built REGISTRYD "${1:-${REGISTRYD:-}}" src/registryd/grades-registryd
need_tools "wrk h2o jq curl" wrk h2o jq curl awk

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grades-bench.XXXXXX")
# h2o started as root serves files as nobody: let it read its docroot.
chmod 755 "$TMP"

report_mem() { # label target_mb pid
        local label=$1 target=$2 excl lib rollup v
        read -r excl lib < <(mem_split "$3")
        rollup=$(mem_rollup "$3")
        v=$(verdict ge $((target * 1024)) "$excl")
        printf '  private memory, %s: %s MB (%s kB) without shared-library pages   [target <= %s MB] %s\n' \
                "$label" "$(calc 2 "$excl/1024")" "$excl" "$target" "$v"
        printf '      (smaps_rollup Private_Clean+Private_Dirty: %s kB, of which %s kB in shared-library mappings)\n' \
                "$rollup" "$lib"
        summary "$ROW" "private memory, $label" "$(calc 2 "$excl/1024")" MB "<= $target MB" "$v"
}

# ---------------------------------------------------------------- the peers
# Peer A answers the registrations' update URLs (POST /update/..., via
# mruby) and, for the first phases, their heartbeats (GET /svc/..., a static
# file for any path). Peer B answers only heartbeats, with an access log, for
# the heartbeat phase, which counts the probes it receives.
echo '{"status":"ok"}' >"$TMP/heartbeat.json"
free_port
PEER_A=$PORT
free_port
PEER_B=$PORT
cat >"$TMP/peer-a.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $PEER_A
num-threads: 1
max-connections: 20000
hosts:
  default:
    paths:
      "/update":
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "text/plain"}, ["ok\\n"]]
          end
      "/":
        file.file: $TMP/heartbeat.json
EOF
cat >"$TMP/peer-b.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $PEER_B
num-threads: 1
max-connections: 20000
hosts:
  default:
    paths:
      "/":
        file.file: $TMP/heartbeat.json
        access-log:
          path: $TMP/peer-b.access.log
          format: "%{msec}t %m %U %s"
EOF
h2o -c "$TMP/peer-a.conf" >"$TMP/peer-a.log" 2>&1 &
PEER_A_PID=$!
started $PEER_A_PID
h2o -c "$TMP/peer-b.conf" >"$TMP/peer-b.log" 2>&1 &
PEER_B_PID=$!
started $PEER_B_PID
wait_http "http://127.0.0.1:$PEER_A/svc/1/heartbeat" || die "peer A (h2o) did not start: $(cat "$TMP/peer-a.log")"
wait_http "http://127.0.0.1:$PEER_B/svc/1/heartbeat" || die "peer B (h2o) did not start: $(cat "$TMP/peer-b.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$PEER_A/update/1")" = 200 ] ||
        die "peer A does not answer POST /update with 200 (h2o without mruby?)"
for p in $PEER_A $PEER_B; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/svc/1/heartbeat")" = 200 ] ||
                die "h2o on port $p does not answer GET /svc/1/heartbeat with 200"
done
PEER_A_URL=http://127.0.0.1:$PEER_A
PEER_B_URL=http://127.0.0.1:$PEER_B

# ------------------------------------------------------------- the registry
N_REG=0
start_registry() { # extra options...; STATE_DIR=DIR to start from an existing state
        N_REG=$((N_REG + 1))
        free_port
        REG=http://127.0.0.1:$PORT
        STATE=${STATE_DIR:-$TMP/state.$N_REG}
        REG_LOG=$TMP/registryd.$N_REG.log
        "${DAEMON_ENV[@]}" "$REGISTRYD" --config=/dev/null --listen="127.0.0.1:$PORT" --state-directory="$STATE" \
                --logs-directory="$TMP" "$@" 2>"$REG_LOG" &
        RPID=$!
        started $RPID
        wait_http "$REG/services" || die "grades-registryd did not start: $(cat "$REG_LOG")"
        # As deployed, a LogService takes the registry's log lines (without
        # one they queue, up to --log-queue lines, and it warns).
        if [ "${NO_LOGSERVICE:-0}" != 1 ] && [ -z "${STATE_DIR:-}" ]; then
                local body code
                body=$(printf '{"ServiceName":"LogService","ServiceURL":"%s/update/logservice","RequiredServices":[],"ServiceUpdateURL":"%s/update/logservice-patches","HeartbeatURL":"%s/svc/logservice/heartbeat"}' \
                        "$PEER_A_URL" "$PEER_A_URL" "$PEER_A_URL")
                code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "$REG/services")
                [ "$code" = 200 ] || problem "registering the LogService: HTTP $code"
        fi
}

check_alive() { alive "$RPID" grades-registryd "$REG_LOG" "$1"; } # during what

stop_registry() {
        check_alive "the phase" || return
        stop_daemon "$RPID" grades-registryd 10 "  "
        log_warnings "$REG_LOG" "the registry's log"
}

# Waits until the state file holds at least $1 services; prints the count.
persisted() {
        local want=$1 n=0 i
        for ((i = 0; i < 100; i++)); do
                n=$(jq '.Services | length' "$STATE/registry.json" 2>/dev/null || echo 0)
                [ "$n" -ge "$want" ] && break
                sleep 0.1
        done
        echo "$n"
}

# ------------------------------------------------------------------- wrk runs
# fill COUNT PREFIX HB_BASE: registers PREFIX1..PREFIX<COUNT> as fast as
# the registry goes; sets FILL_S, the time it took.
fill() {
        local count=$1 prefix=$2 hb=$3 c=50 t0 wp i
        next_wrk_out
        [ "$count" -lt $c ] && c=$count
        : >"$WRK_OUT"
        t0=$(now)
        wrk -t1 -c$c -d120s --timeout 2s -s "$LUA" "$REG" -- fill "$prefix" 1 "$count" "$hb" "$PEER_A_URL" >"$WRK_OUT" 2>&1 &
        wp=$!
        started $wp
        for ((i = 0; i < 2400; i++)); do
                grep -q '^filled' "$WRK_OUT" && break
                kill -0 $wp 2>/dev/null || break
                sleep 0.05
        done
        FILL_S=$(calc 2 "$(now) - $t0")
        kill -INT $wp 2>/dev/null
        wait $wp
        ended $wp
        wrk_parse "$WRK_OUT"
        grep -q '^filled' "$WRK_OUT" || problem "pre-fill to $count did not finish: $(tail -3 "$WRK_OUT")"
        check_wrk_errors "pre-fill to $count"
}

# registry_wrk ARGS...: wrk -t1 -c50 --timeout 2s ARGS (run_wrk); CPU_CORES
# is the registry's CPU use meanwhile, in cores.
registry_wrk() {
        other_start
        run_wrk "$RPID" -- -t1 -c50 --timeout 2s "$@"
        CPU_CORES=${CORES[0]}
        other_end "${WRK_LABEL:-wrk}"
}

reg_wrk() { # MODE PREFIX COUNT DURATION
        WRK_LABEL="$1 registrations, from $(num "$size") services"
        registry_wrk -d"$4" -s "$LUA" "$REG" -- "$1" "$2" 1 "$3" "$PEER_A_URL" "$PEER_A_URL"
}

T_START=$(now)
echo "grades-registryd benchmark: $REGISTRYD"
echo "  $(nproc) cores, $(wrk_version), h2o $(h2o_version) as peers"
echo "  registry: log level info, stderr to a file, log lines shipped to a fake LogService (h2o)"
other_start
sleep 1
other_end "the second before the start"
echo

# ------------------------------------------- 1. registrations and idle memory
echo "1. Registrations/s with persistence on (wrk -t1 -c50, unique ServiceURLs, RequiredServices [],"
echo "   update URLs and heartbeats answered by h2o; heartbeat interval 3 s)"
for size in 10 1000 10000; do
        start_registry
        if [ "$size" = 10 ]; then
                sleep 1
                report_mem "idle right after start" 3 "$RPID"
        fi
        # the LogService is one of them
        fill $((size - 1)) s "$PEER_A_URL"
        echo "  pre-filled to $(num "$size") services in $FILL_S s"
        sleep 1

        reg_wrk ring s $((size - 1)) 3s
        check_wrk_errors "re-registration at $size"
        ring_rps=$RPS ring_cpu=$CPU_CORES ring_avg=$AVG

        reg_wrk new n 0 5s
        check_wrk_errors "registration from $size"
        end_size=$((size + OK))
        v=$(verdict ge "$RPS" 5000)
        printf '  registrations/s from %s services (table %s -> ~%s in 5 s): %s req/s   [target >= 5,000/s] %s\n' \
                "$(num "$size")" "$(num "$size")" "$(num "$end_size")" "$(num "$RPS")" "$v"
        printf '      avg latency %s, non-2xx %s, socket errors: %s, registry CPU %s cores\n' \
                "$AVG" "$NON2XX" "$SOCKERR" "$CPU_CORES"
        summary "$ROW" "registrations from $(num "$size") services (5 s window)" "$(num "$RPS")" /s ">= 5,000/s" "$v"
        v=$(verdict ge "$ring_rps" 5000)
        printf '  re-registrations/s at a constant %s services (3 s, same URLs in turn): %s req/s   [target >= 5,000/s] %s\n' \
                "$(num "$size")" "$(num "$ring_rps")" "$v"
        printf '      avg latency %s, registry CPU %s cores\n' "$ring_avg" "$ring_cpu"
        summary "$ROW" "re-registrations at a constant $(num "$size") services" "$(num "$ring_rps")" /s ">= 5,000/s" "$v"

        if check_alive "registrations from $size"; then
                # The registry lists itself, but never saves its own entry.
                listed=$(curl -s --max-time 30 "$REG/services" | jq '[.[] | select(.ServiceName != "RegistryService")] | length')
                p=$(persisted "$listed")
                printf '  persisted: %s of %s listed services in registry.json (%s acknowledged)\n' \
                        "$(num "$p")" "$(num "$listed")" "$(num "$end_size")"
                [ "$p" = "$listed" ] || problem "registry.json holds $p services, GET /services $listed"
                [ "$listed" -ge "$end_size" ] || problem "GET /services lists $listed services, $end_size were acknowledged"
                [ "$size" = 10000 ] && report_mem "after registrations (~$(num "$listed") services)" 6 "$RPID"
                stop_registry
        fi
        echo
done

# ------------------------------------------------------------ 2. GET /services
echo "2. GET /services with 100 services registered (wrk -t1 -c50 -d10s)"
start_registry
fill 98 g "$PEER_A_URL" # with the LogService and the registry itself, 100
sleep 3.5 # one heartbeat round: every entry has a Status and LastCheck
bytes=$(curl -s "$REG/services" | wc -c)
passing=$(curl -s "$REG/services" | jq '[.[] | select(.Status == "passing")] | length')
echo "  100 services listed (98, the LogService and the registry itself), $passing passing; the response is $(num "$bytes") bytes"
WRK_LABEL="GET /services"
registry_wrk -d10s --latency "$REG/services"
check_wrk_errors "GET /services"
v=$(verdict ge "$RPS" 50000)
printf '  GET /services: %s req/s, p99 latency %s   [target >= 50,000 req/s] %s\n' "$(num "$RPS")" "$P99" "$v"
printf '      avg latency %s, non-2xx %s, socket errors: %s, registry CPU %s cores\n' "$AVG" "$NON2XX" "$SOCKERR" "$CPU_CORES"
summary "$ROW" "GET /services, 100 services (p99 $P99)" "$(num "$RPS")" /s ">= 50,000/s" "$v"
check_alive "GET /services" && report_mem "after GET load (100 services)" 6 "$RPID"
stop_registry
echo

# --------------------------------------------------------------- 3. heartbeats
INTERVAL=3
# hb_status, of the providers (not the LogService): total, probed (LastCheck set), passing, with failures, and
# probed in the last interval + 2 s (LastCheck has whole seconds)
hb_status() {
        curl -s --max-time 30 "$REG/services" | jq -r --argjson now "$(date +%s)" --argjson fresh $((INTERVAL + 2)) '
                [.[] | select(.ServiceName != "LogService" and .ServiceName != "RegistryService")] |
                [length,
                 ([.[] | select(.LastCheck != null)] | length),
                 ([.[] | select(.Status == "passing")] | length),
                 ([.[] | select(.Failures > 0)] | length),
                 ([.[] | select(.LastCheck != null and ($now - (.LastCheck | fromdateiso8601)) <= $fresh)] | length)]
                | @tsv'
}

# hb_measure LABEL WINDOW PROBE_COUNTER: checks that all 10,000 were probed
# within an interval, then measures the registry's CPU over WINDOW seconds
# and the probes the peer answered meanwhile (PROBE_COUNTER prints its
# running total).
hb_measure() {
        local label=$1 window=$2 counter=$3 total probed passing failing fresh n0 n1 c0 c1 t0 t1 expected v
        sleep $((INTERVAL + 2)) # every entry has had a whole round since it registered
        read -r total probed passing failing fresh < <(hb_status)
        printf '  after one interval: %s services, %s probed (LastCheck set), %s passing, %s with failures\n' \
                "$(num "$total")" "$(num "$probed")" "$(num "$passing")" "$(num "$failing")"
        [ "$total" = 10000 ] && [ "$probed" = 10000 ] && [ "$passing" = 10000 ] ||
                problem "$label: not all 10,000 probed and passing within one interval: $total/$probed/$passing"
        n0=$($counter)
        other_start
        c0=$(cpu_ticks "$RPID")
        t0=$(now)
        sleep "$window" &
        wait $!
        c1=$(cpu_ticks "$RPID")
        t1=$(now)
        n1=$($counter)
        other_end "heartbeats, $label"
        HB_CPU=$(calc 3 "($c1 - $c0) / $CLK_TCK / ($t1 - $t0)")
        HB_PROBES=$((n1 - n0))
        HB_FROM=$n0
        v=$(verdict ge 0.5 "$HB_CPU")
        printf '  registry CPU over %s s: %s of one core (%s s user+sys)   [target < 0.5 core] %s\n' \
                "$window" "$HB_CPU" "$(calc 2 "($c1 - $c0) / $CLK_TCK")" "$v"
        summary "$ROW" "heartbeat CPU, 10,000 every 3 s, $label" "$HB_CPU" cores "< 0.5 core" "$v"
        expected=$((10000 * window / INTERVAL))
        printf '  probes answered by the peer in those %s s: %s (10,000 every %s s would be %s)\n' \
                "$window" "$(num "$HB_PROBES")" "$INTERVAL" "$(num "$expected")"
        [ "$HB_PROBES" -ge $((expected * 95 / 100)) ] || problem "$label: only $HB_PROBES probes in $window s, expected about $expected"
        check_alive "heartbeats, $label" || return 1
        read -r total probed passing failing fresh < <(hb_status)
        printf '  at the end: %s services, %s passing, %s with failures, %s probed within the last %s s\n' \
                "$(num "$total")" "$(num "$passing")" "$(num "$failing")" "$(num "$fresh")" $((INTERVAL + 2))
        [ "$passing" = 10000 ] && [ "$fresh" = 10000 ] && [ "$failing" = 0 ] ||
                problem "$label: after $window s of heartbeats: $passing passing, $fresh fresh, $failing failing of $total"
}

peer_b_count() { wc -l <"$TMP/peer-b.access.log"; }

echo "3. Heartbeats: 10,000 providers, --heartbeat-interval=${INTERVAL}s --heartbeat-timeout=1s --max-probes=256"
echo "   a) all on one keep-alive peer (h2o), so curl reuses its connections across providers"
start_registry --heartbeat-interval=${INTERVAL}s --heartbeat-timeout=1s --max-probes=256
fill 10000 h "$PEER_B_URL"
echo "  pre-filled 10,000 services (and the LogService) in $FILL_S s"
if hb_measure "keep-alive peer" 30 peer_b_count; then
        # Rounds: probes separated by a quiet gap of more than 500 ms.
        tail -n +$((HB_FROM + 1)) "$TMP/peer-b.access.log" | head -n "$HB_PROBES" | awk '
                { t = $1 }
                NR == 1 || t - last > 500 { if (NR > 1) { d[++k] = last - start; n[k] = c }; start = t; c = 0 }
                { c++; last = t }
                END {
                        d[++k] = last - start; n[k] = c
                        # the first and last rounds may be cut by the window
                        minn = 1e9; maxn = 0; maxd = 0; sumd = 0; m = 0
                        for (i = 2; i < k; i++) { m++; sumd += d[i]; if (d[i] > maxd) maxd = d[i]; if (n[i] < minn) minn = n[i]; if (n[i] > maxn) maxn = n[i] }
                        if (m) printf "  %d whole rounds in the window: %d to %d probes each, each over in %d ms on average, %d ms at most\n", m, minn, maxn, sumd / m, maxd
                        else printf "  no whole heartbeat round seen in the window (%d bursts)\n", k
                }'
        report_mem "after heartbeats (10,000, keep-alive)" 6 "$RPID"
        stop_registry
fi
HB_STATE=$STATE/registry.json

echo "   b) on a peer that closes every connection (bench/peer.c): a new TCP connection per probe,"
echo "      as 10,000 providers on distinct hosts would need; the same registrations, loaded from the state file"
if ! command -v cc >/dev/null; then
        echo "  skipped: no C compiler for bench/peer.c"
elif ! cc -O2 -o "$TMP/peer" "$HERE/peer.c" 2>"$TMP/peer-build.log"; then
        problem "bench/peer.c did not build: $(head -3 "$TMP/peer-build.log")"
elif [ ! -s "$HB_STATE" ]; then
        problem "no state file from 3a to load"
else
        free_port
        PEER_C=$PORT
        "$TMP/peer" "$PEER_C" >"$TMP/peer-c.out" 2>&1 &
        PEER_C_PID=$!
        started $PEER_C_PID
        wait_http "http://127.0.0.1:$PEER_C/svc/1/heartbeat" || die "bench/peer did not start: $(cat "$TMP/peer-c.out")"
        peer_c_count() {
                local before i
                before=$(wc -l <"$TMP/peer-c.out")
                kill -USR1 "$PEER_C_PID"
                for ((i = 0; i < 100; i++)); do
                        [ "$(wc -l <"$TMP/peer-c.out")" = "$before" ] || break
                        sleep 0.02
                done
                tail -1 "$TMP/peer-c.out"
        }
        mkdir -p "$TMP/state.close"
        sed "s|http://127.0.0.1:$PEER_B/svc/|http://127.0.0.1:$PEER_C/svc/|g" "$HB_STATE" >"$TMP/state.close/registry.json"
        STATE_DIR=$TMP/state.close start_registry --heartbeat-interval=${INTERVAL}s --heartbeat-timeout=1s \
                --max-probes=256
        echo "  loaded $(num "$(curl -s "$REG/services" | jq 'map(select(.ServiceName != "LogService" and .ServiceName != "RegistryService")) | length')") services (and the LogService) from the state file"
        if hb_measure "new connection per probe" 15 peer_c_count; then
                report_mem "after heartbeats (10,000, new connections)" 6 "$RPID"
                stop_registry
        fi
        kill "$PEER_C_PID"
        wait "$PEER_C_PID"
        ended "$PEER_C_PID"
fi
echo

# ---------------------------------------------------------------- summary
kill -0 $PEER_A_PID 2>/dev/null && kill -0 $PEER_B_PID 2>/dev/null || problem "an h2o peer died"
finish "Summary ($(calc 0 "$(now) - $T_START") s):" "Problems seen:" \
        "No errors, non-2xx responses, crashes or failed probes seen."
