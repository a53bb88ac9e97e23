#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-portald's API gateway: /api/students... to a grading provider,
# /api/services... to the registry, /api/log... to the log service, keeping
# method, body, query, status and Content-Type. Providers come from
# discovery, round-robin; a provider that refuses the connection is replaced
# by another for one retry; with none left, 502/503 with a JSON error.
import json
import signal

from grades_test import Suite, http, registration, wait_until
from portal_helpers import (System, content_type, dead_url, deregister, parse_html, providers, register, slack,
                            wait_providers)

suite = Suite("portald: API gateway")
S = {}


def system():
    if "sys" not in S:
        S["sys"] = System(suite).start()
    return S["sys"]


def portal(method, path, body=None, headers=None):
    return http(system().url, method, path, body=body, headers=headers)


def same(t, via, direct, what):
    """The gateway's answer equals the service's: status, type, body."""
    t.eq(via.status, direct.status, "%s: status" % what)
    t.eq(via.header("Content-Type"), direct.header("Content-Type"), "%s: Content-Type" % what)
    t.eq(via.body, direct.body, "%s: body" % what)


def grading_urls():
    return providers(system().portal).get("GradingService", [])


def wait_grading(urls, what):
    got = wait_providers(system().portal, lambda p: sorted(p.get("GradingService", [])) == sorted(urls), 10)
    if got is None:
        raise AssertionError("%s: the portal's GradingService providers are %r, expected %r" % (
            what, grading_urls(), sorted(urls)))


# ---------------------------------------------------------- forwarding

@suite.test("the system starts; discovery lists grading and log")
def _(t):
    system()


@suite.test("GET /api/students and /api/students/{id} answer what grading answers")
def _(t):
    g = system().grading
    for path in ("/students", "/students/1", "/students/2", "/students/999999", "/students/abc", "/students?x=1"):
        same(t, portal("GET", "/api" + path), g.get(path), "GET /api%s" % path)
    t.eq(content_type(portal("GET", "/api/students")), "application/json", "Content-Type")


@suite.test("POST /api/students creates a student (201, JSON), visible on grading")
def _(t):
    r = portal("POST", "/api/students", body={"FirstName": "Gate", "LastName": "Way"})
    t.status(r, 201, "POST /api/students")
    t.eq(content_type(r), "application/json", "Content-Type")
    st = r.json()
    t.eq((st["FirstName"], st["LastName"]), ("Gate", "Way"), "the student")
    S["sid"] = st["ID"]
    t.eq(system().grading.get_json("/students/%d" % st["ID"])["LastName"], "Way", "stored")


@suite.test("POST and DELETE of a grade through /api keep method, body and status (201, 204)")
def _(t):
    sid = S.get("sid", 1)
    r = portal("POST", "/api/students/%d/grades" % sid, body={"Title": "Via gateway", "Type": "Exam", "Score": 88})
    t.status(r, 201, "POST grade")
    gid = r.json()["ID"]
    st = system().grading.get_json("/students/%d" % sid)
    t.eq([(g["Title"], g["Score"]) for g in st["Grades"]], [("Via gateway", 88)], "stored once")
    r = portal("DELETE", "/api/students/%d/grades/%d" % (sid, gid))
    t.status(r, 204, "DELETE grade")
    t.eq(r.body, b"", "no body")
    t.eq(system().grading.get_json("/students/%d" % sid)["Grades"], [], "deleted")
    r = portal("DELETE", "/api/students/%d/grades/%d" % (sid, gid))
    t.json_error(r, 404, "DELETE again")


@suite.test("grading's errors come back as they are: 400 bad JSON, 415 other Content-Type, 405 other method")
def _(t):
    g = system().grading
    cases = [
        ("POST", "/students", b"{not json", {"Content-Type": "application/json"}),
        ("POST", "/students", json.dumps({"FirstName": "", "LastName": "X"}), {"Content-Type": "application/json"}),
        ("POST", "/students", b"FirstName=A", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("PUT", "/students/1", b"{}", {"Content-Type": "application/json"}),
        ("PATCH", "/students", b"{}", {"Content-Type": "application/json"}),
    ]
    before = len(g.get_json("/students"))
    for method, path, body, headers in cases:
        direct = g.request(method, path, body=body, headers=headers)
        t.true(400 <= direct.status < 500, "grading refuses %s %s %r: %d" % (method, path, body, direct.status))
        via = portal(method, "/api" + path, body=body, headers=headers)
        same(t, via, direct, "%s /api%s %r" % (method, path, body))
    t.eq(len(g.get_json("/students")), before, "no student created")


@suite.test("HEAD /api/students answers 200 without a body")
def _(t):
    r = portal("HEAD", "/api/students")
    t.status(r, 200, "HEAD")
    t.eq(r.body, b"", "body")


@suite.test("/api/services... goes to the registry: list, look-up, register, deregister")
def _(t):
    s = system()
    listed = portal("GET", "/api/services")
    t.status(listed, 200, "GET /api/services")
    t.eq(content_type(listed), "application/json", "Content-Type")
    t.eq(sorted(e["ServiceURL"] for e in listed.json()),
         sorted(e["ServiceURL"] for e in s.registry.get_json("/services")), "the registry's services")
    same(t, portal("GET", "/api/services/NoSuchService"), s.registry.get("/services/NoSuchService"), "look-up")
    t.eq([e["ServiceURL"] for e in portal("GET", "/api/services/GradingService").json()], [s.grading.url],
         "GradingService providers")
    url = "http://127.0.0.1:7911"
    r = portal("POST", "/api/services", body=registration("ViaGateway", url))
    t.status(r, 200, "register through the gateway")
    t.eq([e["ServiceURL"] for e in s.registry.get_json("/services/ViaGateway")], [url], "registered")
    r = portal("DELETE", "/api/services", body=url, headers={"Content-Type": "text/plain"})
    t.status(r, 200, "deregister through the gateway")
    t.eq(s.registry.get_json("/services/ViaGateway"), [], "deregistered")
    t.json_error(portal("DELETE", "/api/services", body=url, headers={"Content-Type": "text/plain"}), 404,
                 "deregister again")
    t.json_error(portal("POST", "/api/services", body=b"{", headers={"Content-Type": "application/json"}), 400,
                 "bad registration")


@suite.test("/api/log goes to the log service, with its query string; POST adds a line")
def _(t):
    s = system()
    r = portal("POST", "/api/log", body="gateway-log-marker", headers={"Content-Type": "text/plain"})
    t.true(200 <= r.status < 300, "POST /api/log: %d %r" % (r.status, r.body[:200]))
    lines = wait_until(lambda: [e for e in s.log.get_json("/log?limit=1000") if "gateway-log-marker" in e["message"]],
                       slack(5), 0.05)
    t.true(lines, "the line reached the log service")
    r = portal("GET", "/api/log?service=GradingService&limit=2")
    t.status(r, 200, "GET /api/log with a query")
    got = r.json()
    t.true(1 <= len(got) <= 2, "limit=2 applied: %d entries" % len(got))
    t.eq({e["service"] for e in got}, {"GradingService"}, "service=GradingService applied")
    same(t, portal("GET", "/api/log?limit=0"), s.log.get("/log?limit=0"), "a refused query")


@suite.test("an unknown /api path is a 404 JSON error")
def _(t):
    for path in ("/api/nope", "/api/", "/api/studentsx", "/api/log/extra"):
        t.json_error(portal("GET", path), 404, "GET %s" % path)


# ---------------------------------------------------------- providers

@suite.test("two grading providers are used round-robin")
def _(t):
    s = system()
    fake = suite.peer()
    marker = {"ID": 1, "FirstName": "Fake", "LastName": "Provider", "Grades": [], "Average": None}
    fake.handlers[("GET", "/students/1")] = lambda req: (200, [("Content-Type", "application/json")],
                                                          json.dumps(marker).encode())
    t.status(register(s.registry, "GradingService", fake.url, heartbeat_url=fake.url + "/heartbeat"), 200,
             "registering a second provider")
    wait_grading([s.grading.url, fake.url], "after registering the fake provider")
    answers = []
    for _ in range(10):
        r = portal("GET", "/api/students/1")
        t.status(r, 200, "GET /api/students/1")
        answers.append("fake" if r.json()["FirstName"] == "Fake" else "real")
    t.diag("answers: %s" % " ".join(answers))
    t.eq(answers.count("fake"), 5, "requests answered by the second provider of 10")
    t.true(all(a != b for a, b in zip(answers, answers[1:])), "they alternate")
    S["fake"] = fake


def via_fake(t, method, path, body=None, headers=None):
    """Sends the request through the gateway until the fake provider got it
    (round-robin: at most two tries); returns (response, what the fake got)."""
    fake = S.get("fake")
    if fake is None:
        t.fail("needs the fake provider of the round-robin case")
    for _ in range(3):
        n = len(fake.requests)
        r = portal(method, path, body=body, headers=headers)
        got = [q for q in fake.requests[n:] if not q.path.startswith("/heartbeat")]
        if got:
            return r, got[0]
    t.fail("the fake provider never got %s %s" % (method, path))


@suite.test("the provider gets the request as sent: method, path less /api, query, body, Content-Type")
def _(t):
    fake = S.get("fake")
    body = b"raw \xff\x00 bytes & {not json}"
    fake.handlers[("PUT", "/students/echo")] = lambda req: (200, [("Content-Type", "application/json")], b"{}")
    r, got = via_fake(t, "PUT", "/api/students/echo?a=1&b=%20x", body=body,
                      headers={"Content-Type": "application/octet-stream; foo=bar"})
    t.status(r, 200, "PUT through the gateway")
    t.eq(got.method, "PUT", "method")
    t.eq(got.path, "/students/echo?a=1&b=%20x", "path and query")
    t.eq(got.body, body, "body")
    t.eq(got.header("Content-Type"), "application/octet-stream; foo=bar", "Content-Type")


@suite.test("the provider's answer comes back as it is: any status, Content-Type with parameters, body")
def _(t):
    fake = S.get("fake")
    out = "name;cup\nshort and stout;\u2615\n".encode()
    fake.handlers[("GET", "/students/teapot")] = lambda req: (418, [("Content-Type", "text/csv; charset=utf-8")],
                                                             out)
    r, _ = via_fake(t, "GET", "/api/students/teapot")
    t.eq(r.status, 418, "status")
    t.eq(r.header("Content-Type"), "text/csv; charset=utf-8", "Content-Type")
    t.eq(r.body, out, "body")
    fake.handlers[("DELETE", "/students/gone")] = lambda req: (410, [], b"")
    r, _ = via_fake(t, "DELETE", "/api/students/gone")
    t.eq(r.status, 410, "status of an answer without a body")
    t.eq(r.body, b"", "no body")


@suite.test("a provider's plain-text error (as Go's http.Error writes it) comes back as it is")
def _(t):
    fake = S.get("fake")
    # Go's http.NotFound / http.Error: "text/plain; charset=utf-8", the
    # message and a newline; the seed's services are written in Go.
    fake.handlers[("GET", "/students/42")] = lambda req: (
        404, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
        b"404 page not found\n")
    r, _ = via_fake(t, "GET", "/api/students/42")
    t.eq(r.status, 404, "status")
    t.eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
    t.eq(r.body, b"404 page not found\n", "body")


@suite.test("the second provider deregistered: it leaves the portal's discovery")
def _(t):
    fake = S.get("fake")
    if fake is None:
        t.fail("needs the fake provider of the round-robin case")
    t.status(deregister(system().registry, fake.url), 200, "deregistering the fake")
    wait_grading([system().grading.url], "after deregistering the fake")
    fake.stop()


def with_dead_provider(t, n_dead=1):
    """Registers n_dead GradingService URLs where nothing listens, each with a
    heartbeat answered 200 by a FakePeer so it stays in discovery."""
    s = system()
    hb = S.get("hb") or suite.peer()
    S["hb"] = hb
    dead = []
    for _ in range(n_dead):
        url = dead_url()
        t.status(register(s.registry, "GradingService", url, heartbeat_url=hb.url + "/heartbeat"), 200,
                 "registering a dead provider")
        dead.append(url)
    return dead


def drop(t, urls):
    for url in urls:
        deregister(system().registry, url)


@suite.test("one grading provider refuses connections: every gateway request still succeeds")
def _(t):
    s = system()
    dead = with_dead_provider(t)
    try:
        wait_grading([s.grading.url] + dead, "with a dead provider")
        expected = s.grading.get("/students/1")
        failures = []
        for i in range(20):
            r = portal("GET", "/api/students/1")
            if r.status != 200 or r.body != expected.body:
                failures.append("GET #%d: %d %r" % (i + 1, r.status, r.body[:120]))
        sid = S.get("sid", 1)
        before = len(s.grading.get_json("/students/%d" % sid)["Grades"])
        for i in range(6):
            r = portal("POST", "/api/students/%d/grades" % sid,
                       body={"Title": "Retry %d" % i, "Type": "Quiz", "Score": 50})
            if r.status != 201:
                failures.append("POST #%d: %d %r" % (i + 1, r.status, r.body[:120]))
        stored = s.grading.get_json("/students/%d" % sid)["Grades"][before:]
        t.eq(failures, [], "requests that failed with a refusing provider in discovery (of 26)")
        t.eq([g["Title"] for g in stored], ["Retry %d" % i for i in range(6)], "each grade stored once, in order")
    finally:
        S["dead"] = dead


@suite.test("one grading provider refuses connections: every student page still renders (200)")
def _(t):
    s = system()
    dead = S.get("dead") or with_dead_provider(t)
    S["dead"] = dead
    wait_grading([s.grading.url] + dead, "with a dead provider")
    statuses = [http(s.url, "GET", "/students/1").status for _ in range(10)]
    statuses += [http(s.url, "GET", "/students").status for _ in range(10)]
    t.eq([x for x in statuses if x != 200], [], "pages that did not render (of 20)")


@suite.test("only refusing grading providers: 502/503 with a JSON error; the pages say grading is unreachable")
def _(t):
    s = system()
    dead = S.get("dead") or with_dead_provider(t)
    dead += with_dead_provider(t)
    S["dead"] = dead
    t.status(deregister(s.registry, s.grading.url), 200, "taking the real grading out of discovery")
    wait_grading(dead, "with only dead providers")
    for method, path, body in (("GET", "/api/students", None), ("GET", "/api/students/1", None),
                               ("POST", "/api/students", {"FirstName": "A", "LastName": "B"})):
        r = portal(method, path, body=body)
        t.true(r.status in (502, 503), "%s %s: 502 or 503, got %d" % (method, path, r.status))
        msg = t.json_error(r, r.status, "%s %s" % (method, path))
        t.contains(msg, "GradingService", "the error names the service")
    r = http(s.url, "GET", "/students/1")
    t.eq(r.status, 503, "student page")
    page = parse_html(r.body)
    t.contains(" ".join(page.alerts).lower(), "grading", "the page names the grading service")


@suite.test("no grading provider at all: 503 with a JSON error naming GradingService")
def _(t):
    drop(t, S.get("dead", []))
    wait_grading([], "with no provider")
    r = portal("GET", "/api/students/1")
    msg = t.json_error(r, 503, "GET /api/students/1")
    t.contains(msg, "GradingService", "the error names the service")


@suite.test("grading registered again: the gateway forwards again")
def _(t):
    s = system()
    g = s.grading
    # Without RequiredServices and update URL: the registry would send
    # grading a first patch (Version 1) that its client takes for a gap in
    # the versions and resyncs on (see test-outage.py).
    t.status(register(s.registry, "GradingService", g.url, heartbeat_url=g.url + "/heartbeat"), 200,
             "re-registering grading")
    wait_grading([g.url], "after re-registering")
    same(t, portal("GET", "/api/students/1"), g.get("/students/1"), "GET /api/students/1")


@suite.test("log service down: /api/log answers 502/503 with a JSON error naming it")
def _(t):
    s = system()
    s.log.kill()
    for _ in range(2):
        r = portal("GET", "/api/log")
        t.true(r.status in (502, 503), "GET /api/log: 502 or 503, got %d" % r.status)
        t.contains(t.json_error(r, r.status, "GET /api/log"), "LogService", "names the service")
    wait_providers(s.portal, lambda p: not p.get("LogService"), 10)
    r = portal("GET", "/api/log")
    t.contains(t.json_error(r, 503, "GET /api/log once out of discovery"), "LogService", "names the service")
    same(t, portal("GET", "/api/students/1"), s.grading.get("/students/1"), "grading still forwarded")


@suite.test("registry down: /api/services answers 502 with a JSON error")
def _(t):
    s = system()
    s.registry.kill()
    r = portal("GET", "/api/services")
    t.eq(r.status, 502, "GET /api/services")
    t.contains(t.json_error(r, 502, "GET /api/services").lower(), "registry", "names the registry")
    same(t, portal("GET", "/api/students/1"), s.grading.get("/students/1"), "grading still forwarded")


@suite.test("SIGTERM: portal and grading exit with status 0, no sanitizer report")
def _(t):
    failed = []
    for d in (system().portal, system().grading):
        try:
            t.clean_exit(d, signal.SIGTERM)
        except Exception as e:
            failed.append(str(e))
    t.eq(failed, [], "unclean exits")


suite.run()
