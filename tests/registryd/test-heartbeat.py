#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd: heartbeats, the passing/critical transitions, and the
# patches they cause. A provider that stops answering must leave discovery,
# and its dependents must be patched, within
#     interval + (N-1) * retry + N * timeout
# (1.1 s with the settings below); one that answers again comes back.
import datetime
import time

from grades_test import REGISTRY_FAST, Suite, registration, sanitizer_slowdown

suite = Suite("registryd: heartbeats")
S = sanitizer_slowdown()
INTERVAL, RETRY, TIMEOUT, N = 0.3, 0.1, 0.2, 3
BOUND = INTERVAL + (N - 1) * RETRY + N * TIMEOUT
# Scheduling slack on top of the bound: a loaded machine or a sanitizer build.
SLACK = 0.7 * S
st = {}


def entry(name, url):
    return {"Name": name, "URL": url}


def listing_of(url):
    for s in st["reg"].get_json("/services"):
        if s["ServiceURL"] == url:
            return s
    return None


def providers(name):
    return [s["ServiceURL"] for s in st["reg"].get_json("/services/" + name)]


def wait_status(t, url, status, timeout):
    s = None

    def check():
        nonlocal s
        s = listing_of(url)
        return s and s["Status"] == status
    if not _poll(check, timeout):
        t.fail("%s did not become %s within %.1f s (now %r)" % (url, status, timeout, s))
    return s


def _poll(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return bool(fn())


def rfc3339(t, value, what):
    t.true(isinstance(value, str), "%s is a string: %r" % (what, value))
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        t.fail("%s is not RFC 3339: %r" % (what, value))
    t.true(value[10] == "T" and (value.endswith("Z") or value[-6] in "+-"), "%s has a T and a zone: %r" % (
        what, value))


@suite.test("set up: registry with fast heartbeats; providers answering 200; a dependent")
def _(t):
    st["reg"] = suite.daemon("registryd", REGISTRY_FAST)
    st["dep"] = suite.peer()
    st["p1"] = suite.peer()   # will be killed and restarted
    st["p2"] = suite.peer()   # will hang
    st["p3"] = suite.peer()   # will answer 500
    reg = st["reg"]
    for key in ("p1", "p2", "p3"):
        p = st[key]
        t.status(reg.post_json("/services", registration("Prov", p.url, heartbeat_url=p.url + "/heartbeat")), 200)
    dep = st["dep"]
    t.status(reg.post_json("/services", registration("Dep", dep.url, ["Prov"], update_url=dep.url + "/services",
                                                     heartbeat_url=dep.url + "/heartbeat")), 200)
    t.eq([p.json() for p in dep.patches()],
         [{"Added": [entry("Prov", st[k].url) for k in ("p1", "p2", "p3")], "Removed": [], "Version": 1}],
         "initial patch")


@suite.test("every provider is probed and becomes passing, with LastCheck set and Failures 0")
def _(t):
    for key in ("p1", "p2", "p3"):
        s = wait_status(t, st[key].url, "passing", (INTERVAL + TIMEOUT) * 2 + SLACK)
        rfc3339(t, s["LastCheck"], "LastCheck")
        t.eq(s["Failures"], 0, "Failures")
    t.true(st["p1"].heartbeats(), "p1 received heartbeats")
    t.eq(providers("Prov"), [st[k].url for k in ("p1", "p2", "p3")], "GET /services/Prov")


@suite.test("heartbeats repeat every interval")
def _(t):
    p1 = st["p1"]
    n0 = len(p1.heartbeats())
    time.sleep(INTERVAL * 5)
    n = len(p1.heartbeats()) - n0
    t.diag("%d probes in %.1f s" % (n, INTERVAL * 5))
    t.ge(n, 3, "probes in 5 intervals")
    t.le(n, 7, "probes in 5 intervals")


@suite.test("a killed provider is critical and its dependents get Removed within the bound")
def _(t):
    p1, dep = st["p1"], st["dep"]
    before = len(dep.patches())
    killed = time.monotonic()
    p1.stop()  # listener and keep-alive connections closed: connection refused
    got = dep.wait_for_patches("/services", before + 1, BOUND + SLACK + 2)
    if got is None:
        t.fail("no patch within %.1f s; listing %r" % (BOUND + SLACK + 2, listing_of(p1.url)))
    p = got[before]
    elapsed = p.received - killed
    t.diag("Removed patch %.3f s after the kill (bound %.2f s + slack %.2f s)" % (elapsed, BOUND, SLACK))
    t.eq(p.json(), {"Added": [], "Removed": [entry("Prov", p1.url)], "Version": 2}, "patch")
    t.le(elapsed, BOUND + SLACK, "seconds from kill to Removed patch")
    # Not on the first failure: N consecutive failures, (N-1) retries apart.
    t.ge(elapsed, (N - 1) * RETRY * 0.9, "seconds from kill to Removed patch")
    s = listing_of(p1.url)
    t.eq(s["Status"], "critical", "Status")
    t.ge(s["Failures"], N, "Failures")
    rfc3339(t, s["LastCheck"], "LastCheck")
    t.eq(providers("Prov"), [st["p2"].url, st["p3"].url], "GET /services/Prov leaves the critical one out")


@suite.test("a critical provider stays listed in GET /services and keeps being probed")
def _(t):
    p1 = st["p1"]
    f0 = listing_of(p1.url)["Failures"]
    time.sleep(INTERVAL * 3 + TIMEOUT)
    s = listing_of(p1.url)
    t.eq(s["Status"], "critical", "Status")
    t.ge(s["Failures"], f0 + 1, "Failures keeps counting (probed each round)")
    t.eq(len([p for p in st["dep"].patches()]), 2, "no further patch while it stays down")


@suite.test("the provider answers again: passing, back in discovery, dependents get Added")
def _(t):
    p1, dep = st["p1"], st["dep"]
    up = time.monotonic()
    p1.start()  # same port
    got = dep.wait_for_patches("/services", 3, INTERVAL + TIMEOUT + SLACK + 2)
    if got is None:
        t.fail("no Added patch; listing %r" % listing_of(p1.url))
    p = got[2]
    t.diag("Added patch %.3f s after the provider came back" % (p.received - up))
    t.eq(p.json(), {"Added": [entry("Prov", p1.url)], "Removed": [], "Version": 3}, "patch")
    t.le(p.received - up, INTERVAL + TIMEOUT + SLACK, "seconds from restart to Added patch")
    s = listing_of(p1.url)
    t.eq(s["Status"], "passing", "Status")
    t.eq(s["Failures"], 0, "Failures")
    t.contains(providers("Prov"), p1.url, "GET /services/Prov")


@suite.test("a provider whose heartbeat hangs is critical within the bound (timeouts count)")
def _(t):
    p2, dep = st["p2"], st["dep"]
    before = len(dep.patches())
    p2.heartbeat_status = None  # accept, read, never answer
    switched = time.monotonic()
    got = dep.wait_for_patches("/services", before + 1, BOUND + SLACK + 2)
    if got is None:
        t.fail("no patch; listing %r" % listing_of(p2.url))
    p = got[before]
    elapsed = p.received - switched
    t.diag("Removed patch %.3f s after the heartbeat started hanging (bound %.2f s)" % (elapsed, BOUND))
    t.eq(p.json(), {"Added": [], "Removed": [entry("Prov", p2.url)], "Version": 4}, "patch")
    t.le(elapsed, BOUND + SLACK, "seconds to Removed patch")
    # Each of the N probes waited for its timeout.
    t.ge(elapsed, N * TIMEOUT + (N - 1) * RETRY - 0.05, "seconds to Removed patch")
    t.eq(listing_of(p2.url)["Status"], "critical", "Status")


@suite.test("a provider whose heartbeat answers 500 is critical within the bound")
def _(t):
    p3, dep = st["p3"], st["dep"]
    before = len(dep.patches())
    p3.heartbeat_status = 500
    switched = time.monotonic()
    got = dep.wait_for_patches("/services", before + 1, BOUND + SLACK + 2)
    if got is None:
        t.fail("no patch; listing %r" % listing_of(p3.url))
    p = got[before]
    t.diag("Removed patch %.3f s after the heartbeat started failing" % (p.received - switched))
    t.eq(p.json(), {"Added": [], "Removed": [entry("Prov", p3.url)], "Version": 5}, "patch")
    t.le(p.received - switched, BOUND + SLACK, "seconds to Removed patch")
    t.eq(providers("Prov"), [st["p1"].url], "GET /services/Prov")


@suite.test("a dependent registering while a provider is critical does not get it in its initial patch")
def _(t):
    late = suite.peer()
    reg = st["reg"]
    t.status(reg.post_json("/services", registration("Dep2", late.url, ["Prov"], update_url=late.url + "/services")),
             200)
    t.eq([p.json() for p in late.patches()],
         [{"Added": [entry("Prov", st["p1"].url)], "Removed": [], "Version": 1}], "initial patch")


@suite.test("both come back: Added patches, and a re-registration of a critical provider also adds it")
def _(t):
    p2, p3, dep = st["p2"], st["p3"], st["dep"]
    p2.heartbeat_status = 200
    got = dep.wait_for_patches("/services", 6, INTERVAL + 2 * TIMEOUT + SLACK + 2)
    t.true(got, "Added patch for the hung provider")
    t.eq(got[5].json(), {"Added": [entry("Prov", p2.url)], "Removed": [], "Version": 6}, "patch")
    # p3 still answers 500 and is critical; registering it again puts it
    # back in discovery at once (unknown until probed).
    t.status(st["reg"].post_json("/services", registration("Prov", p3.url, heartbeat_url=p3.url + "/heartbeat")),
             200)
    got = dep.wait_for_patches("/services", 7, 2 * S)
    t.true(got, "Added patch for the re-registered provider")
    t.eq(got[6].json(), {"Added": [entry("Prov", p3.url)], "Removed": [], "Version": 7}, "patch")
    p3.heartbeat_status = 200


@suite.test("a provider without HeartbeatURL is never probed and stays unknown (and discoverable)")
def _(t):
    reg = st["reg"]
    t.status(reg.post_json("/services", registration("Quiet", "http://127.0.0.1:5801")), 200)
    time.sleep(INTERVAL * 3)
    s = listing_of("http://127.0.0.1:5801")
    t.eq((s["Status"], s["LastCheck"], s["Failures"]), ("unknown", None, 0), "status")
    t.eq(providers("Quiet"), ["http://127.0.0.1:5801"], "GET /services/Quiet")


@suite.test("many providers are probed concurrently: one hanging does not delay the others")
def _(t):
    reg = st["reg"]
    peers = [suite.peer(heartbeat_status=None) for _ in range(5)]  # 5 hanging
    good = suite.peer()
    for i, p in enumerate(peers):
        t.status(reg.post_json("/services", registration("Hang%d" % i, p.url, heartbeat_url=p.url + "/heartbeat")),
                 200)
    t.status(reg.post_json("/services", registration("Good", good.url, heartbeat_url=good.url + "/heartbeat")), 200)
    # Probed sequentially (as the seed does) it would take 5 timeouts or more.
    wait_status(t, good.url, "passing", INTERVAL + TIMEOUT + SLACK)
    for p in peers:
        wait_status(t, p.url, "critical", BOUND + SLACK + 1)


@suite.test("SIGTERM: exit status 0, no sanitizer report")
def _(t):
    t.clean_exit(st["reg"])


suite.run()
