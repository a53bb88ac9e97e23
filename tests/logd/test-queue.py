#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The logging client's queue with the real registry as the sender: lines
# wait while no log service is reachable and are delivered in order once one
# is; overflow drops the oldest and reports the count; a slow log service
# never slows a request; batches are JSON arrays of at most 100 entries.
import json
import re
import signal
import time

from grades_test import Suite, registration, wait_until
from logd_helpers import (CentralLog, log_service_url, shipped_lines, slack, start_logd, start_registry,
                          wait_registered)

suite = Suite("logd: queue")
st = {}

NOTICE_RE = re.compile(r"^Dropped (\d+) log lines while the log service was unreachable\.$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def register_many(t, reg, prefix, n, base_port):
    urls = []
    for i in range(n):
        u = "http://127.0.0.1:%d/%s%d" % (base_port + i, prefix.lower(), i)
        t.status(reg.post_json("/services", registration("%s%d" % (prefix, i), u)), 200, "register %s%d" % (prefix, i))
        urls.append(u)
    return ["Registered %s%d at %s." % (prefix, i, u) for i, u in enumerate(urls)]


def stop_no_status(t, d, sig=signal.SIGTERM):
    """Stops d, checking for sanitizer reports but not the exit status (the
    clean-exit cases check that)."""
    status, stderr = d.stop(sig=sig)
    t.check_stderr(d, stderr)
    if sig == signal.SIGTERM and status != 0:
        t.diag("note: %s exited with status %s after SIGTERM (see the clean-exit cases)" % (d.name, status))


# ------------------------------------------------------ logd down, then up

@suite.test("registry and logd start; lines arrive")
def _(t):
    reg = start_registry(suite)
    logs = suite.tmpdir()
    st.update(reg=reg, logs=logs, central=CentralLog(logs))
    st["logd"] = start_logd(suite, logs, registry=reg.url)
    t.true(wait_registered(reg, st["logd"].url), "LogService listed")
    want = register_many(t, reg, "Before", 5, 22000)
    t.true(st["central"].wait_for(lambda ls: all(m in [l.message for l in ls] for m in want), 10), "Before lines")


@suite.test("logd stopped: lines wait; logd started again: all of them delivered, in order, once")
def _(t):
    reg, logd, central = st["reg"], st["logd"], st["central"]
    stop_no_status(t, logd)
    t.true(wait_until(lambda: log_service_url(reg) == [], slack(10)), "LogService gone from discovery")
    want = register_many(t, reg, "Down", 50, 22100)
    time.sleep(0.3)
    t.eq([m for m in central.messages("RegistryService") if m.startswith("Registered Down")], [],
         "nothing delivered while logd is down")
    logd.start()
    t.true(wait_registered(reg, logd.url), "LogService listed again")
    ok = central.wait_for_count("RegistryService", lambda m: m.startswith("Registered Down"), 50, 15)
    got = [m for m in central.messages("RegistryService") if m.startswith("Registered Down")]
    t.eq(got, want, "queued lines, in order, each once")
    t.true(ok, "all 50 delivered")
    t.true(central.wait_for_message("RegistryService", "Registered LogService at %s." % logd.url, 10),
           "the re-registration line follows")


@suite.test("logd killed (SIGKILL) while still listed: lines retried until it is back, in order, once")
def _(t):
    reg, logd, central = st["reg"], st["logd"], st["central"]
    stop_no_status(t, logd, signal.SIGKILL)
    # Logged at once, while the registry still lists the dead logd: the
    # batch fails and is kept.
    want = register_many(t, reg, "Killed", 20, 22200)
    t.true(wait_until(lambda: log_service_url(reg) == [], slack(10)), "the dead logd leaves discovery")
    logd.start()
    t.true(wait_registered(reg, logd.url), "LogService listed again")
    ok = central.wait_for_count("RegistryService", lambda m: m.startswith("Registered Killed"), 20, 15)
    got = [m for m in central.messages("RegistryService") if m.startswith("Registered Killed")]
    t.eq(got, want, "lines logged while logd was dead, in order, each once")
    t.true(ok, "all 20 delivered")
    crit = [l for l in central.lines("RegistryService") if l.message.startswith("Service LogService at %s is critical"
                                                                               % logd.url)]
    t.eq([l.priority for l in crit][:1], ["warning"], "the registry's warning about the dead logd arrived too")


@suite.test("registry and logd: clean exits")
def _(t):
    t.clean_exit(st["reg"])
    t.clean_exit(st["logd"])


# ---------------------------------------------------------------- overflow

@suite.test("overflow (--log-queue=5, no log service): stderr says so at once")
def _(t):
    reg = start_registry(suite, ["--log-queue=5"])
    st["reg2"] = reg
    t.true(wait_until(lambda: len(shipped_lines(reg)) >= 1, slack(5)), "the registry logged its start")
    register_many(t, reg, "Over", 30, 23000)
    t.true(wait_until(lambda: "Log queue full" in reg.stderr(), slack(5)), "'Log queue full' on stderr")
    line = [l for l in reg.stderr().split("\n") if "Log queue full" in l]
    # The count, at once: at 1, 2, 4, 8... drops, never once per dropped line.
    counts = [int(re.search(r"(\d+) of the oldest lines dropped", l).group(1)) for l in line]
    t.eq(counts, [2 ** i for i in range(len(counts))], "counts said at 1, 2, 4, 8... drops")
    t.ge(counts[-1] * 2, 30 - 5, "the last count said is at least half of the drops (30 registrations, 5 kept)")
    t.true(all(l.startswith("<4>") for l in line), "at warning: %r" % line[0])


@suite.test("overflow: once logd is reachable, the drop count arrives as a warning, then the newest lines in order")
def _(t):
    reg = st["reg2"]
    logs = suite.tmpdir()
    central = st["central2"] = CentralLog(logs)
    st["logd2"] = logd = start_logd(suite, logs, registry=reg.url)
    t.true(wait_registered(reg, logd.url), "LogService listed")
    notice = central.wait_for(lambda ls: [l for l in ls if l.service == "RegistryService"
                                          and NOTICE_RE.match(l.message)], 10)
    t.true(notice, "a 'Dropped N log lines' line from RegistryService; got %r" % central.messages("RegistryService"))
    t.eq(notice[0].priority, "warning", "priority of the notice")
    dropped = int(NOTICE_RE.match(notice[0].message).group(1))
    pushed = [m for p, m in shipped_lines(reg)]
    t.diag("registry logged %d lines at info and above; the notice says %d dropped" % (len(pushed), dropped))
    t.ge(dropped, 30 + 2 - 5, "dropped count (at least the 30 registrations + start-up lines - 5 kept)")
    central.wait_for(lambda ls: len([l for l in ls if l.service == "RegistryService"]) >= 6, 5)
    lines = central.lines("RegistryService")
    at = [l.raw for l in lines].index(notice[0].raw)
    after = [l.message for l in lines[at + 1:]]
    t.ge(len(after), 5, "lines after the notice")
    t.eq(after[:5], pushed[dropped:dropped + 5], "the lines after the notice are the ones logged after the dropped")
    t.eq([m for m in central.messages("RegistryService") if m.startswith("Registered Over")],
         [m for m in pushed[dropped:] if m.startswith("Registered Over")], "no dropped line delivered")
    t.true(wait_until(lambda: re.search(r"Dropped %d log lines" % dropped, reg.stderr()), slack(5)),
           "the count on stderr too")


@suite.test("overflow: after the notice, no more notices; new lines arrive normally")
def _(t):
    reg, central = st["reg2"], st["central2"]
    want = register_many(t, reg, "AfterOver", 10, 23100)
    t.true(central.wait_for_count("RegistryService", lambda m: m.startswith("Registered AfterOver"), 10, 10),
           "all 10 delivered")
    got = [m for m in central.messages("RegistryService") if m.startswith("Registered AfterOver")]
    t.eq(got, want, "in order")
    t.eq(len([m for m in central.messages("RegistryService") if NOTICE_RE.match(m)]), 1, "one notice")


@suite.test("registry and logd (overflow): clean exits")
def _(t):
    t.clean_exit(st["reg2"])
    t.clean_exit(st["logd2"])


# -------------------------------------------- a slow log service, batches

@suite.test("a log service that never answers does not slow requests; the registry still exits cleanly")
def _(t):
    reg = start_registry(suite)
    peer = suite.peer()
    peer.hang_seconds = 60
    peer.handlers[("POST", "/log")] = lambda req: (None, [], b"")
    t.status(reg.post_json("/services", registration("LogService", peer.url)), 200, "register the hanging peer")
    t.true(peer.wait_for(lambda rs: [r for r in rs if r.path == "/log"], slack(5)), "a batch was sent to it")
    worst = 0.0
    t0 = time.monotonic()
    for i in range(100):
        s = time.monotonic()
        t.status(reg.post_json("/services", registration("Slow%d" % i, "http://127.0.0.1:%d/s%d" % (24000 + i, i))),
                 200)
        worst = max(worst, time.monotonic() - s)
    total = time.monotonic() - t0
    t.diag("100 registrations in %.2f s, the slowest %.3f s" % (total, worst))
    t.le(worst, slack(1.0), "slowest registration (s)")
    t.le(total, slack(5.0), "100 registrations (s)")
    t.eq(reg.get("/services").status, 200, "GET /services")
    s = time.monotonic()
    t.clean_exit(reg, timeout=30)
    t.diag("stopped in %.1f s" % (time.monotonic() - s))
    peer.stop()


@suite.test("batches: JSON arrays of at most 100 entries {service, priority, message, time}, in order")
def _(t):
    reg = start_registry(suite)
    peer = suite.peer()
    peer.patch_delay = 0.2  # a slowish log service, so lines pile up into batches
    t.status(reg.post_json("/services", registration("LogService", peer.url)), 200)
    want = register_many(t, reg, "Batch", 250, 25000)

    def received(rs):
        entries = []
        for r in rs:
            if r.method == "POST" and r.path == "/log":
                entries += json.loads(r.body)
        return entries if any(e["message"] == want[-1] for e in entries) else None

    t.true(peer.wait_for(received, slack(15)), "the last line reached the peer")
    posts = [r for r in peer.requests if r.method == "POST" and r.path == "/log"]
    sizes = [len(json.loads(r.body)) for r in posts]
    t.diag("%d batches, sizes %r" % (len(posts), sizes))
    for r in posts:
        t.eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
        body = json.loads(r.body)
        t.true(isinstance(body, list) and 1 <= len(body) <= 100, "an array of 1-100 entries, got %d" % len(body))
        for e in body:
            t.eq(set(e), {"service", "priority", "message", "time"}, "keys of an entry")
            t.eq(e["service"], "RegistryService", "service")
            t.eq(e["priority"], "info", "priority")
            t.true(TIME_RE.match(e["time"]), "time %r is RFC 3339 UTC with ms" % e["time"])
    t.true(max(sizes) > 1, "lines are batched")
    t.true(len(posts) < 250, "fewer requests than lines")
    messages = [e["message"] for r in posts for e in json.loads(r.body)]
    t.eq([m for m in messages if m.startswith("Registered Batch")], want, "order across batches, each once")
    t.clean_exit(reg)


@suite.test("drops while a batch with the drop count is in flight are reported too (counts add up)")
def _(t):
    reg = start_registry(suite, ["--log-queue=3"])
    register_many(t, reg, "Early", 10, 26000)  # overflow: drops before any log service
    peer = suite.peer()
    peer.patch_delay = 1.0
    t.status(reg.post_json("/services", registration("LogService", peer.url)), 200)
    t.true(peer.wait_for(lambda rs: [r for r in rs if r.path == "/log"], slack(5)), "first batch sent")
    # While that batch (notice + 3 lines) is in flight: 10 more lines into a
    # queue of 3.
    want = register_many(t, reg, "Late", 10, 26100)

    def done(rs):
        msgs = [e["message"] for r in rs if r.method == "POST" and r.path == "/log" for e in json.loads(r.body)]
        return msgs if want[-1] in msgs else None

    msgs = peer.wait_for(done, slack(15))
    t.true(msgs, "the last line reached the peer")
    time.sleep(1.5)  # let a last notice (if any) go out: it would follow at once
    msgs = [e["message"] for r in peer.requests if r.method == "POST" and r.path == "/log"
            for e in json.loads(r.body)]
    notices = [int(NOTICE_RE.match(m).group(1)) for m in msgs if NOTICE_RE.match(m)]
    pushed = [m for p, m in shipped_lines(reg)]
    delivered = [m for m in msgs if not NOTICE_RE.match(m)]
    lost = [m for m in pushed if m not in delivered]
    t.diag("logged %d, delivered %d, lost %d; notices %r" % (len(pushed), len(delivered), len(lost), notices))
    t.eq(sum(notices), len(lost), "the drop counts shipped add up to the lines lost")
    status, stderr = reg.stop()
    t.check_stderr(reg, stderr)
    t.eq(status, 0, "exit status")


suite.run()
