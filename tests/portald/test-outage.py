#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-portald when the services it depends on fail: grading hanging (the
# event loop must keep serving), grading stopped, killed and back, clients
# that go away mid-call, the log service and the registry down, and a patch
# with a gap in its versions.
import signal
import socket
import threading
import time

from grades_test import Suite, http
from portal_helpers import (System, content_type, deregister, parse_html, providers, register, slack,
                            wait_providers)

UPSTREAM_TIMEOUT = 2.0
suite = Suite("portald: outages", time_limit=150)
S = {}


def system():
    if "sys" not in S:
        S["sys"] = System(suite, portal_args=["--upstream-timeout=%gs" % UPSTREAM_TIMEOUT]).start()
    return S["sys"]


def grading_is(urls, what, timeout=10):
    got = wait_providers(system().portal, lambda p: sorted(p.get("GradingService", [])) == sorted(urls), timeout)
    if got is None:
        raise AssertionError("%s: GradingService providers %r, expected %r" % (
            what, providers(system().portal).get("GradingService"), sorted(urls)))


def unavailable_page(t, r, what):
    """A 503 HTML page that says the grading service is missing."""
    t.status(r, 503, what)
    t.eq(content_type(r), "text/html", "%s: Content-Type" % what)
    page = parse_html(r.body)
    t.eq(page.errors, [], "%s: HTML structure" % what)
    t.eq(len(page.alerts), 1, "%s: one message" % what)
    t.contains(page.alerts[0].lower(), "grading service", "%s: the message names the grading service" % what)
    t.true(page.title and page.h1, "%s: title and heading" % what)
    return page


def timed(fn):
    t0 = time.monotonic()
    v = fn()
    return v, time.monotonic() - t0


@suite.test("the system starts (portal with --upstream-timeout=2s)")
def _(t):
    s = system()
    b = s.browser()
    b.page("/students/1")
    S["browser"] = b  # holds a CSRF cookie for the form posts below


@suite.test("a hanging grading provider does not block the event loop; its calls end in 503 after the timeout")
def _(t):
    s = system()
    hang = suite.peer()
    hang.hang_seconds = 60
    hang.handlers[("GET", "/students/1")] = lambda req: (None, [], b"")
    hang.handlers[("GET", "/students")] = lambda req: (None, [], b"")
    t.status(register(s.registry, "GradingService", hang.url, heartbeat_url=hang.url + "/heartbeat"), 200,
             "registering the hanging provider")
    t.status(deregister(s.registry, s.grading.url), 200, "taking the real grading out of discovery")
    grading_is([hang.url], "only the hanging provider")

    results = []
    lock = threading.Lock()

    def call(path):
        t0 = time.monotonic()
        try:
            r = http(s.url, "GET", path, timeout=slack(30))
            out = (path, r.status, r, time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - reported below
            out = (path, None, e, time.monotonic() - t0)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=call, args=(p,)) for p in ["/students/1"] * 10 + ["/students"] * 5 +
               ["/api/students/1"] * 5]
    for th in threads:
        th.start()
    # All 20 are now waiting for grading; the portal answers everything else at once.
    t.true(hang.wait_for(lambda reqs: len([r for r in reqs if r.path.startswith("/students")]) >= 20, slack(5)),
           "the 20 calls reached the hanging provider")
    for path, status in (("/static/style.css", 200), ("/", 302), ("/api/services", 200), ("/providers", 200),
                         ("/nope", 404)):
        r, dt = timed(lambda: http(s.url, "GET", path, timeout=slack(5)))
        t.eq(r.status, status, "GET %s while grading hangs" % path)
        t.le(dt, slack(0.5), "seconds GET %s took while 20 calls hang" % path)
    for th in threads:
        th.join(slack(30))
    t.eq(len(results), 20, "calls that ended")
    for path, status, r, dt in results:
        t.true(status is not None, "GET %s failed: %r" % (path, r))
        t.ge(dt, UPSTREAM_TIMEOUT * 0.8, "seconds before GET %s gave up" % path)
        t.le(dt, slack(UPSTREAM_TIMEOUT + 5), "seconds before GET %s gave up" % path)
        if path.startswith("/api/"):
            t.true(status in (502, 503, 504), "GET %s: 502/503/504, got %d" % (path, status))
            t.json_error(r, status, "GET %s" % path)
        else:
            unavailable_page(t, r, "GET %s" % path)
    S["hang"] = hang


@suite.test("clients that go away while their grading call is pending do not disturb the portal")
def _(t):
    s = system()
    hang = S.get("hang")
    if hang is None:
        t.fail("needs the hanging provider of the previous case")
    for i in range(20):
        c = socket.create_connection(("127.0.0.1", s.portal.port), timeout=5)
        path = ("/students/1", "/students", "/api/students/1", "/status")[i % 4]
        c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        if i % 2:
            c.shutdown(socket.SHUT_WR)
        c.close()
    time.sleep(UPSTREAM_TIMEOUT + 0.5)
    t.true(s.portal.alive(), "the portal is running")
    r = http(s.url, "GET", "/static/style.css")
    t.status(r, 200, "the portal still answers")
    hang.release.set()
    deregister(s.registry, hang.url)
    t.status(register(s.registry, "GradingService", s.grading.url, heartbeat_url=s.grading.url + "/heartbeat"),
             200, "putting the real grading back in discovery")
    grading_is([s.grading.url], "the real grading back")
    t.status(http(s.url, "GET", "/students/1"), 200, "the student page")


@suite.test("grading stopped (deregistered): student pages and the form are a 503 page naming it; /status works")
def _(t):
    s = system()
    # Out of discovery first: the portal then knows of no provider at all.
    deregister(s.registry, s.grading.url)
    s.grading.stop(timeout=15)
    grading_is([], "grading gone")
    for path in ("/students", "/students/1"):
        page = unavailable_page(t, http(s.url, "GET", path), "GET %s" % path)
        t.contains(page.alerts[0], "not available", "%s: says it is not available" % path)
    b = S["browser"]
    r = b.post_form("/students/1/grades", {"Title": "While down", "Type": "Quiz", "Score": "50",
                                           "csrf": b.cookies["grades_csrf"]})
    unavailable_page(t, r, "POST of the form")
    t.json_error(http(s.url, "GET", "/api/students/1"), 503, "GET /api/students/1")
    r = http(s.url, "GET", "/status")
    t.status(r, 200, "/status")
    rows = parse_html(r.body).table("services")["rows"]
    t.eq([row[0] for row in rows if row[0] == "GradingService"], [], "GradingService no longer listed")


@suite.test("grading started again: the pages work again, the grade can be added")
def _(t):
    s = system()
    s.grading.start()
    grading_is([s.grading.url], "grading back")
    b = S["browser"]
    t.status(b.get("/students/1"), 200, "student page")
    r = b.post_form("/students/1/grades", {"Title": "After restart", "Type": "Quiz", "Score": "50",
                                           "csrf": b.cookies["grades_csrf"]})
    t.status(r, 303, "POST of the form")
    t.eq(s.grading.get_json("/students/1")["Grades"][-1]["Title"], "After restart", "stored")


@suite.test("grading killed: 503 page naming it at once (connection refused), and after the registry drops it")
def _(t):
    s = system()
    s.grading.kill()
    r, dt = timed(lambda: http(s.url, "GET", "/students/1"))
    page = unavailable_page(t, r, "right after the kill")
    t.diag(page.alerts[0])
    t.le(dt, slack(1), "seconds to answer")
    grading_is([], "the registry dropped grading", timeout=15)
    page = unavailable_page(t, http(s.url, "GET", "/students/1"), "once out of discovery")
    t.diag(page.alerts[0])
    s.grading.start()
    grading_is([s.grading.url], "grading back")
    t.status(http(s.url, "GET", "/students/1"), 200, "student page once grading is back")


@suite.test("log service down: /status is still 200, lists the services and names the missing log service")
def _(t):
    s = system()
    s.log.kill()
    for when in ("at once", "once out of discovery"):
        if when != "at once":
            wait_providers(s.portal, lambda p: not p.get("LogService"), 15)
        r = http(s.url, "GET", "/status")
        t.status(r, 200, "/status %s" % when)
        page = parse_html(r.body)
        t.true(page.table("services"), "%s: the services table" % when)
        t.eq(page.table("log"), None, "%s: no log table" % when)
        t.eq(len(page.alerts), 1, "%s: one message" % when)
        t.contains(page.alerts[0].lower(), "log service", "%s: names the log service" % when)
        t.diag(page.alerts[0])
    t.status(http(s.url, "GET", "/students/1"), 200, "the student pages do not need the log service")


@suite.test("a patch with a gap in its versions: the portal resyncs its providers from the registry, keeps serving")
def _(t):
    s = system()
    p2 = suite.daemon("portald", args=["--registry=" + s.registry.url, "--data-directory=" + s.data],
                      ready_path="/providers")
    S["p2"] = p2
    got = wait_providers(p2, lambda p: s.grading.url in p.get("GradingService", []), 10)
    t.true(got, "the second portal discovered grading")
    before = p2.get_json("/providers")["Version"]
    # As if patches had been lost: the next one skips many versions.
    r = p2.post_json("/providers", {"Added": [{"Name": "GradingService", "URL": "http://127.0.0.1:9"}],
                                    "Removed": [], "Version": before + 100})
    t.status(r, 200, "the patch")
    # The resync replaces what the patch said with what the registry knows.
    ok = wait_providers(p2, lambda p: p.get("GradingService") == [s.grading.url], 10)
    if not p2.alive():
        t.diag("stderr of the portal (tail):\n%s" % p2.stderr()[-1500:])
        t.check_stderr(p2, p2.stderr())
    t.true(p2.alive(), "the portal is still running after the resync (exit status %r)" % (
        p2.proc.poll() if p2.proc else None))
    t.true(ok, "after the resync GradingService is [%s]" % s.grading.url)
    t.status(http(p2.url, "GET", "/students/1"), 200, "student page")


@suite.test("registry down: /status is still 200 and names the registry; pages keep working from discovery")
def _(t):
    s = system()
    s.registry.kill()
    r = http(s.url, "GET", "/status")
    t.status(r, 200, "/status")
    page = parse_html(r.body)
    t.eq(page.table("services"), None, "no services table")
    t.true(any("registry" in a.lower() for a in page.alerts), "a message names the registry: %r" % page.alerts)
    t.status(http(s.url, "GET", "/students/1"), 200, "student page (grading known from discovery)")


@suite.test("SIGTERM: the portals and grading exit with status 0, no sanitizer report")
def _(t):
    failed = []
    for d in [system().portal, S.get("p2"), system().grading]:
        if d is None or not d.alive():
            # A crash of the second portal is its own case's failure.
            if d is not None and d is not S.get("p2"):
                failed.append("%s was not running (exit status %r)" % (
                    d.name, d.proc.poll() if d.proc else d.returncode))
            continue
        try:
            t.clean_exit(d, signal.SIGTERM)
        except Exception as e:
            failed.append(str(e))
    t.eq(failed, [], "unclean exits")


suite.run()
