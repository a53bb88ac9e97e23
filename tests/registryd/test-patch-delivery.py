#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd: the {Added, Removed, Version} patches sent to dependents.
import threading
import time

from grades_test import FakePeer, Suite, free_port, registration, sanitizer_slowdown

suite = Suite("registryd: patches")
S = sanitizer_slowdown()
st = {}

# Providers: nothing is ever sent to them (no update or heartbeat URL).
L1, L2, L3, L4 = ("http://127.0.0.1:51%02d" % i for i in (1, 2, 3, 4))
G1 = "http://127.0.0.1:5201"


def entry(name, url):
    return {"Name": name, "URL": url}


def added(version, *entries):
    return {"Added": list(entries), "Removed": [], "Version": version}


def removed(version, *entries):
    return {"Added": [], "Removed": list(entries), "Version": version}


def register(t, body, what="register"):
    return t.status(st["reg"].post_json("/services", body), 200, what)


def deregister(t, url):
    return t.status(st["reg"].request("DELETE", "/services", body=url, headers={"Content-Type": "text/plain"}),
                    200, "DELETE %s" % url)


def dependent(t, key, name, required):
    """Registers a dependent whose update URL is a path on the shared peer."""
    peer = st["peer"]
    url = "http://127.0.0.1:59%02d" % (len(st["deps"]) + 1)
    path = "/%s/services" % key
    st["deps"][key] = (url, path)
    return register(t, registration(name, url, required, update_url=peer.url + path), "register %s" % key)


def patches_of(key):
    return [p.json() for p in st["peer"].patches(st["deps"][key][1])]


def wait_patches(t, key, n, timeout=5):
    got = st["peer"].wait_for_patches(st["deps"][key][1], n, timeout * S)
    if got is None:
        t.fail("%s: expected %d patches within %.1f s, got %r" % (key, n, timeout * S, patches_of(key)))
    return [p.json() for p in got]


@suite.test("set up: a registry, a peer receiving patches, two providers")
def _(t):
    st["reg"] = suite.daemon("registryd")
    st["peer"] = suite.peer()
    st["deps"] = {}
    register(t, registration("Logger", L1))
    register(t, registration("GradingService", G1))


@suite.test("the registrant gets its initial patch (Version 1, all its providers) before the 200")
def _(t):
    peer = st["peer"]
    peer.patch_delay = 0.3  # the peer takes its time: the 200 must wait for it
    try:
        sent = time.monotonic()
        r = dependent(t, "d1", "Portal", ["Logger", "GradingService", "NotYetThere"])
    finally:
        peer.patch_delay = 0
    got = peer.patches(st["deps"]["d1"][1])
    t.eq(len(got), 1, "patches received by the time the 200 arrived")
    p = got[0]
    t.diag("patch received %.3f s after the request, 200 received %.3f s after it" % (
        p.received - sent, r.received - sent))
    t.true(p.received < r.received, "the patch arrived before the 200")
    t.ge(r.received - sent, 0.3, "the 200 waited for the patch's answer (s)")
    t.eq((p.header("Content-Type") or "").split(";")[0], "application/json", "patch Content-Type")
    t.eq(p.json(), added(1, entry("Logger", L1), entry("GradingService", G1)), "initial patch")


@suite.test("a registrant without providers gets an empty initial patch (Version 1)")
def _(t):
    dependent(t, "d3", "Lonely", ["OtherService"])
    t.eq(patches_of("d3"), [added(1)], "patches of d3")


@suite.test("a new provider: every dependent of its name gets Added with the next Version, others nothing")
def _(t):
    dependent(t, "d2", "Grading2", ["Logger"])
    t.eq(patches_of("d2"), [added(1, entry("Logger", L1))], "initial patch of d2")
    register(t, registration("Logger", L2))
    t.eq(wait_patches(t, "d1", 2)[1:], [added(2, entry("Logger", L2))], "d1")
    t.eq(wait_patches(t, "d2", 2)[1:], [added(2, entry("Logger", L2))], "d2")


@suite.test("deregistering a provider: its dependents get Removed with the next Version")
def _(t):
    deregister(t, L1)
    t.eq(wait_patches(t, "d1", 3)[2:], [removed(3, entry("Logger", L1))], "d1")
    t.eq(wait_patches(t, "d2", 3)[2:], [removed(3, entry("Logger", L1))], "d2")


@suite.test("re-registering a provider unchanged sends nothing; under a new name, Removed then Added")
def _(t):
    register(t, registration("GradingService", G1), "same registration again")
    register(t, registration("Logger", G1), "same URL, new name")
    # A sentinel: once its patch is in, every earlier patch must be too.
    register(t, registration("Logger", L3), "sentinel provider")
    d1 = wait_patches(t, "d1", 6)
    d2 = wait_patches(t, "d2", 5)
    time.sleep(0.2)
    t.eq(patches_of("d1")[3:], [removed(4, entry("GradingService", G1)), added(5, entry("Logger", G1)),
                                added(6, entry("Logger", L3))], "d1 after the sentinel")
    t.eq(patches_of("d2")[3:], [added(4, entry("Logger", G1)), added(5, entry("Logger", L3))],
         "d2 after the sentinel")
    t.eq(patches_of("d3"), [added(1)], "d3 (requires neither name) got nothing more")
    t.eq([p["Version"] for p in d1], [1, 2, 3, 4, 5, 6], "d1 versions")
    t.eq([p["Version"] for p in d2], [1, 2, 3, 4, 5], "d2 versions")


@suite.test("a re-registered dependent starts again at Version 1 with its current providers")
def _(t):
    peer = st["peer"]
    url, path = st["deps"]["d2"]
    before = len(peer.patches(path))
    register(t, registration("Grading2", url, ["Logger"], update_url=peer.url + path), "re-register d2")
    got = [p.json() for p in peer.patches(path)][before:]
    t.eq(got, [added(1, entry("Logger", L2), entry("Logger", G1), entry("Logger", L3))],
         "initial patch after re-registration")
    deregister(t, L3)
    got = [p.json() for p in peer.wait_for_patches(path, before + 2, 5 * S)][before:]
    t.eq(got[1:], [removed(2, entry("Logger", L3))], "next patch")


@suite.test("a service requiring its own name gets itself in its initial patch, and no second patch")
def _(t):
    dependent(t, "self", "Mesh", ["Mesh"])
    url = st["deps"]["self"][0]
    t.eq(patches_of("self"), [added(1, entry("Mesh", url))], "initial patch")
    register(t, registration("Mesh", "http://127.0.0.1:5301"), "another Mesh provider")
    t.eq(wait_patches(t, "self", 2), [added(1, entry("Mesh", url)), added(2, entry("Mesh", "http://127.0.0.1:5301"))],
         "patches")


@suite.test("a deregistered dependent gets no more patches")
def _(t):
    dependent(t, "d4", "Lonely2", ["OtherService"])
    deregister(t, st["deps"]["d3"][0])
    register(t, registration("OtherService", "http://127.0.0.1:5401"))
    # d4 is the sentinel: patches for one change go out in the same turn.
    t.eq(wait_patches(t, "d4", 2)[1:], [added(2, entry("OtherService", "http://127.0.0.1:5401"))], "d4")
    time.sleep(0.1)
    t.eq(patches_of("d3"), [added(1)], "patches of the deregistered d3")


@suite.test("update URL down at registration: 200 at once, initial patch delivered once it is up")
def _(t):
    port = free_port()
    late = FakePeer(port=port)  # not started yet: connection refused
    suite.on_cleanup(late.close)
    url = "http://127.0.0.1:5501"
    sent = time.monotonic()
    r = register(t, registration("Late", url, ["Logger"], update_url=late.url + "/services"))
    t.le(r.received - sent, 1.5 * S, "seconds until the 200 while the update URL refuses connections")
    # A change while it is down is queued behind the initial patch.
    register(t, registration("Logger", L4))
    time.sleep(0.6)
    up = time.monotonic()
    late.start()
    # The backoff never exceeds 5 s; allow 2 s on top for slow machines.
    got = late.wait_for_patches("/services", 2, (5 + 2) * S)
    if got is None:
        t.fail("patches received within %.0f s of coming up: %r" % ((5 + 2) * S, late.patches()))
    t.diag("initial patch arrived %.2f s after the peer came up" % (got[0].received - up))
    t.eq([p.json() for p in got], [added(1, entry("Logger", L2), entry("Logger", G1)),
                                   added(2, entry("Logger", L4))], "patches, in order")
    time.sleep(0.3)
    t.eq(len(late.patches()), 2, "each patch delivered exactly once")
    late.stop()


@suite.test("a patch answered with 500 is retried with a doubling backoff until it is accepted")
def _(t):
    peer = st["peer"]
    attempts = []

    def flaky(req):
        attempts.append(req)
        return (500 if len(attempts) <= 4 else 200), [], b""
    peer.handlers[("POST", "/flaky/services")] = flaky
    r = register(t, registration("Flaky", "http://127.0.0.1:5601", ["Logger"],
                                 update_url=peer.url + "/flaky/services"))
    t.true(attempts and attempts[0].received < r.received, "the first attempt came before the 200")
    ok = peer.wait_for(lambda reqs: len(attempts) >= 5, (0.1 + 0.2 + 0.4 + 0.8 + 2) * S)
    t.true(ok, "5 attempts (4 refused) within the backoff schedule; got %d" % len(attempts))
    bodies = {a.body for a in attempts}
    t.eq(len(bodies), 1, "every attempt carries the same patch")
    t.eq(attempts[0].json()["Version"], 1, "Version")
    gaps = [b.received - a.received for a, b in zip(attempts, attempts[1:])]
    t.diag("gaps between attempts: %s" % ", ".join("%.3f" % g for g in gaps))
    for i, g in enumerate(gaps):
        t.ge(g, 0.1 * 2 ** i * 0.9, "gap %d (s)" % (i + 1))
    time.sleep(0.3)
    t.eq(len(attempts), 5, "no attempt after the accepted one")


@suite.test("SIGTERM: exit status 0, no sanitizer report")
def _(t):
    t.clean_exit(st["reg"])


@suite.test("SIGTERM while a registration waits for an initial patch that hangs: answered, exit status 0")
def _(t):
    hang = suite.peer()
    hang.patch_status = None  # accepts the patch, never answers
    reg = suite.daemon("registryd", ["--patch-timeout=20s"])
    result = {}

    def register_it():
        try:
            result["r"] = reg.post_json("/services", registration("Stuck", "http://127.0.0.1:5701", ["X"],
                                                                  update_url=hang.url + "/services"), timeout=30)
        except Exception as e:
            result["error"] = e
    th = threading.Thread(target=register_it, daemon=True)
    th.start()
    t.true(hang.wait_for_patches("/services", 1, 5 * S), "the patch reached the peer")
    started = time.monotonic()
    stderr = t.clean_exit(reg, timeout=15)
    th.join(5)
    t.diag("stopped after %.1f s" % (time.monotonic() - started))
    t.true("r" in result, "the registration got an answer (%r)" % result.get("error"))
    t.not_contains(stderr, "Assertion", "stderr")


suite.run()
