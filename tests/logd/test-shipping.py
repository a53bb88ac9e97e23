#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The logging client (src/common/logship.c) with the real daemons: the
# registry and grades-gradingd find grades-logd through the registry
# (LogService) and ship their lines at info and above, in order, with their
# service name and priority.
import os
import threading

from grades_test import Suite, free_port, registration, srcdir
from logd_helpers import CentralLog, shipped_lines, slack, start_logd, start_registry, wait_registered

suite = Suite("logd: shipping")
st = {}


def central():
    return st["central"]


def contiguous_in(needle, haystack):
    """needle appears in haystack as a contiguous run (in order, no gaps)."""
    n = len(needle)
    if n == 0:
        return True
    for i in range(len(haystack) - n + 1):
        if haystack[i] == needle[0] and haystack[i:i + n] == needle:
            return True
    return False


@suite.test("registry (log level debug), logd and gradingd start; logd registers as LogService")
def _(t):
    reg = start_registry(suite, ["--log-level=debug"])
    st["reg"] = reg
    logs = suite.tmpdir()
    st["logd"] = start_logd(suite, logs, registry=reg.url)
    st["central"] = CentralLog(logs)
    t.true(wait_registered(reg, st["logd"].url), "LogService listed")
    gstate = suite.tmpdir()
    st["grading"] = suite.daemon("gradingd", ["--registry=" + reg.url,
                                              "--data-directory=" + os.path.join(srcdir(), "data"),
                                              "--logs-directory=" + gstate], state_dir=gstate,
                                 ready_path="/students")


@suite.test("the registry's lines arrive as [RegistryService] info (its 'Registered LogService at URL.')")
def _(t):
    want = "Registered LogService at %s." % st["logd"].url
    got = central().wait_for_message("RegistryService", want, 10)
    t.true(got, "line %r from RegistryService; RegistryService lines: %r" % (want, central().messages("RegistryService")))
    t.eq(got[0].priority, "info", "priority")


@suite.test("gradingd's lines arrive as [GradingService] info (its 'Database ... open.')")
def _(t):
    g = st["grading"]
    opened = [m for p, m in shipped_lines(g) if m.startswith("Database ") and m.endswith(" open.")]
    t.eq(len(opened), 1, "gradingd logged 'Database ... open.' on stderr")
    got = central().wait_for_message("GradingService", opened[0], 10)
    t.true(got, "line %r from GradingService; GradingService lines: %r" % (
        opened[0], central().messages("GradingService")))
    t.eq(got[0].priority, "info", "priority")


@suite.test("300 registrations: 300 lines from RegistryService, in the order logged, each once")
def _(t):
    reg = st["reg"]
    urls = ["http://127.0.0.1:%d/order%d" % (20000 + i, i) for i in range(300)]
    for i, u in enumerate(urls):
        t.status(reg.post_json("/services", registration("Order%d" % i, u)), 200)
    want = ["Registered Order%d at %s." % (i, u) for i, u in enumerate(urls)]
    ok = central().wait_for_count("RegistryService", lambda m: m.startswith("Registered Order"), 300, 15)
    got = [m for m in central().messages("RegistryService") if m.startswith("Registered Order")]
    t.eq(got, want, "the Order lines in the central log")
    t.true(ok, "all 300 arrived")
    t.eq({l.priority for l in central().lines("RegistryService") if l.message.startswith("Registered Order")},
         {"info"}, "priorities")


@suite.test("every line the registry logged at info and above since logd registered arrives, in order, once")
def _(t):
    reg = st["reg"]
    start = "Registered LogService at %s." % st["logd"].url

    def check(lines):
        shipped = [m for p, m in shipped_lines(reg)]
        if start not in shipped:
            return None
        tail = shipped[shipped.index(start):]
        got = [l.message for l in lines if l.service == "RegistryService"]
        return got[-len(tail):] == tail or contiguous_in(tail, got)

    ok = central().wait_for(check, 10)
    shipped = [m for p, m in shipped_lines(reg)]
    tail = shipped[shipped.index(start):] if start in shipped else shipped
    got = central().messages("RegistryService")
    if not ok:
        missing = [m for m in tail if m not in got]
        t.diag("missing from the central log: %r" % missing[:10])
    t.true(ok, "the registry's stderr lines (info and above, %d since logd registered) are a contiguous run of "
                "the central log's RegistryService lines (%d)" % (len(tail), len(got)))
    dups = {m for m in got if got.count(m) > 1 and m.startswith("Registered")}
    t.eq(dups, set(), "lines delivered twice")


@suite.test("a warning arrives as warning (a provider whose heartbeat fails goes critical)")
def _(t):
    reg = st["reg"]
    dead = "http://127.0.0.1:%d" % free_port()
    t.status(reg.post_json("/services", registration("Doomed", dead, heartbeat_url=dead + "/heartbeat")), 200)
    prefix = "Service Doomed at %s is critical" % dead
    got = central().wait_for(lambda ls: [l for l in ls if l.service == "RegistryService"
                                         and l.message.startswith(prefix)], 15)
    t.true(got, "a line starting %r" % prefix)
    t.eq(got[0].priority, "warning", "priority")


@suite.test("debug lines go to stderr only, never to the central log")
def _(t):
    reg = st["reg"]
    t.true(any(line.startswith("<7>") for line in reg.stderr().split("\n")), "the registry logged debug lines")
    debug = [l.raw for l in central().lines() if l.priority == "debug"]
    t.eq(debug, [], "debug lines in the central log")


@suite.test("two senders at once: each one's lines keep their order")
def _(t):
    reg, g = st["reg"], st["grading"]
    errors = []

    def registrations():
        try:
            for i in range(150):
                r = reg.post_json("/services", registration("Par%d" % i, "http://127.0.0.1:%d/par%d" % (21000 + i, i)))
                if r.status != 200:
                    errors.append("registration %d: %d" % (i, r.status))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    def students():
        try:
            for i in range(150):
                r = g.post_json("/students", {"FirstName": "Par", "LastName": "Student%d" % i})
                if r.status != 201:
                    errors.append("student %d: %d %r" % (i, r.status, r.body[:100]))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=registrations), threading.Thread(target=students)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(slack(60))
    t.eq(errors, [], "request errors")
    added = [m for p, m in shipped_lines(g) if m.startswith("Added student ")]
    t.eq(len(added), 150, "gradingd logged 150 'Added student' lines")
    central().wait_for_count("GradingService", lambda m: m.startswith("Added student "), 150, 15)
    central().wait_for_count("RegistryService", lambda m: m.startswith("Registered Par"), 150, 15)
    got_g = [m for m in central().messages("GradingService") if m.startswith("Added student ")]
    got_r = [m for m in central().messages("RegistryService") if m.startswith("Registered Par")]
    t.eq(got_g, added, "GradingService lines, in gradingd's order")
    t.eq(got_r, ["Registered Par%d at http://127.0.0.1:%d/par%d." % (i, 21000 + i, i) for i in range(150)],
         "RegistryService lines, in the registry's order")
    services = {l.service for l in central().lines()}
    t.true({"RegistryService", "GradingService", "LogService"} <= services, "services seen: %r" % services)


@suite.test("lines logged at start-up, before the daemon listens, are shipped too (gradingd's database lines)")
def _(t):
    g = st["grading"]
    early = [m for p, m in shipped_lines(g) if m.startswith("Database ") and not m.endswith(" open.")]
    t.true(early, "gradingd logged start-up lines: %r" % shipped_lines(g)[:5])
    got = central().wait_for(lambda ls: all(m in [l.message for l in ls if l.service == "GradingService"]
                                            for m in early), 5)
    t.true(got, "start-up lines %r in the central log; GradingService lines start with %r" % (
        early, central().messages("GradingService")[:3]))


@suite.test("gradingd stops: its 'Shutting down.' is delivered before it exits; exit status 0")
def _(t):
    g = st["grading"]
    status, stderr = g.stop()
    t.check_stderr(g, stderr)
    t.true(central().wait_for_message("GradingService", "Shutting down.", 5),
           "'Shutting down.' from GradingService in the central log")
    if status != 0:
        t.diag("stderr of gradingd (tail):\n%s" % stderr[-300:])
    t.eq(status, 0, "exit status of gradingd")


@suite.test("registry: SIGTERM, exit status 0, its 'Shutting down.' delivered")
def _(t):
    t.clean_exit(st["reg"])
    t.true(central().wait_for_message("RegistryService", "Shutting down.", 5),
           "'Shutting down.' from RegistryService in the central log")


@suite.test("logd: SIGTERM, exit status 0, no sanitizer report; every line whole")
def _(t):
    t.clean_exit(st["logd"])
    bad = [l.raw for l in central().lines() if not l.ok]
    t.eq(bad, [], "malformed lines")
    t.true(central().data().endswith(b"\n"), "ends with a newline")


suite.run()
