#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd: the HTTP API (register, list, replace, deregister, look up).
import json
import signal
import urllib.parse

from grades_test import REGISTRY_SELF, Suite, free_port, registration, registrations, wait_until

suite = Suite("registryd: api")
reg = None  # the registry under test, started by the first case
st = {}

LISTING_KEYS = {"ServiceName", "ServiceURL", "RequiredServices", "ServiceUpdateURL", "HeartbeatURL", "Status",
                "LastCheck", "Failures"}


def services():
    """The registrations, less the registry's own entry."""
    return registrations(reg.get_json("/services"))


def urls():
    return [s["ServiceURL"] for s in services()]


def register(t, body, what="register", **kw):
    r = reg.post_json("/services", body, **kw)
    t.status(r, 200, what)
    return r


def deregister(url, **kw):
    return reg.request("DELETE", "/services", body=url, headers={"Content-Type": "text/plain"}, **kw)


@suite.test("the registry starts and lists only itself, which becomes passing")
def _(t):
    global reg
    reg = suite.daemon("registryd")
    r = reg.get("/services")
    t.status(r, 200, "GET /services")
    t.eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
    t.eq([(s["ServiceName"], s["ServiceURL"], s["HeartbeatURL"]) for s in r.json()],
         [(REGISTRY_SELF, reg.url, reg.url + "/heartbeat")], "listing")
    t.true(wait_until(lambda: reg.get_json("/services")[0]["Status"] == "passing", 5),
           "its own heartbeat passes: %r" % reg.get_json("/services"))
    t.status(reg.get("/heartbeat"), 200, "GET /heartbeat")


@suite.test("POST /services registers a service; GET /services lists it with its status")
def _(t):
    hb = "http://127.0.0.1:%d/heartbeat" % free_port()  # nobody answers there
    # A LogService the registry may ship its own log lines to: ours.
    st["log"] = suite.peer()
    body = registration("LogService", st["log"].url, heartbeat_url=hb)
    r = register(t, body)
    t.eq(r.body, b"", "registration answer body")
    listing = services()
    t.eq(len(listing), 1, "number of services")
    s = listing[0]
    t.eq(set(s), LISTING_KEYS, "keys of a listed service")
    for k in ("ServiceName", "ServiceURL", "RequiredServices", "HeartbeatURL"):
        t.eq(s[k], body[k], k)
    t.eq(s["ServiceUpdateURL"], "", "ServiceUpdateURL (none given)")
    t.true(s["Status"] in ("unknown", "critical"), "Status is unknown or critical, got %r" % s["Status"])
    t.true(s["LastCheck"] is None or isinstance(s["LastCheck"], str), "LastCheck is null or a string")
    t.true(isinstance(s["Failures"], int), "Failures is an integer")


@suite.test("a registration byte-exact as the seed's services send it is accepted")
def _(t):
    peer = suite.peer()
    # json.Encoder output with its trailing newline, as in protocol.md.
    raw = ('{"ServiceName":"GradingService","ServiceURL":"%s","RequiredServices":["LogService"],'
           '"ServiceUpdateURL":"%s/services","HeartbeatURL":"%s/heartbeat"}\n' % (peer.url, peer.url, peer.url))
    r = reg.request("POST", "/services", body=raw.encode(),
                    headers={"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1",
                             "Accept-Encoding": "gzip"})
    t.status(r, 200, "seed registration")
    s = [s for s in services() if s["ServiceURL"] == peer.url]
    t.eq(len(s), 1, "listed once")
    t.eq(s[0]["RequiredServices"], ["LogService"], "RequiredServices")
    t.eq(s[0]["ServiceUpdateURL"], peer.url + "/services", "ServiceUpdateURL")
    patches = peer.patches("/services")
    t.eq(len(patches), 1, "initial patches received before the 200")
    # The LogService registered by the previous case is its provider.
    t.eq(patches[0].json(), {"Added": [{"Name": "LogService", "URL": st["log"].url}], "Removed": [],
                             "Version": 1}, "initial patch")
    t.eq((patches[0].header("Content-Type") or "").split(";")[0], "application/json", "patch Content-Type")
    t.status(deregister(peer.url), 200, "deregister")


@suite.test("keys are matched case-insensitively and unknown keys are ignored (Go decoding)")
def _(t):
    r = reg.post_json("/services", {"servicename": "CaseService", "serviceurl": "http://127.0.0.1:7001",
                                    "requiredservices": None, "Extra": {"x": 1}})
    t.status(r, 200, "lower-case keys")
    s = [s for s in services() if s["ServiceURL"] == "http://127.0.0.1:7001"]
    t.eq(len(s), 1, "listed")
    t.eq(s[0]["ServiceName"], "CaseService", "ServiceName")
    t.eq(s[0]["RequiredServices"], [], "RequiredServices")


@suite.test("Content-Type application/json with parameters, or none at all, is accepted")
def _(t):
    r = reg.request("POST", "/services", body=registration("CT1", "http://127.0.0.1:7002"),
                    headers={"Content-Type": "Application/JSON; charset=utf-8"})
    t.status(r, 200, "with charset")
    r = reg.request("POST", "/services", body=json.dumps(registration("CT2", "http://127.0.0.1:7003")).encode())
    t.status(r, 200, "without Content-Type")
    t.contains(urls(), "http://127.0.0.1:7002", "listed")
    t.contains(urls(), "http://127.0.0.1:7003", "listed")


@suite.test("registering the same ServiceURL again replaces the entry (no duplicate)")
def _(t):
    before = services()
    url = "http://127.0.0.1:7100"
    register(t, registration("First", url), "first registration")
    register(t, registration("Second", url, heartbeat_url="http://127.0.0.1:7100/hb"), "second registration")
    register(t, registration("Second", url, heartbeat_url="http://127.0.0.1:7100/hb"), "third, identical")
    after = services()
    mine = [s for s in after if s["ServiceURL"] == url]
    t.eq(len(mine), 1, "entries with that URL")
    t.eq(mine[0]["ServiceName"], "Second", "the last registration wins: ServiceName")
    t.eq(mine[0]["HeartbeatURL"], "http://127.0.0.1:7100/hb", "HeartbeatURL")
    t.eq(len(after), len(before) + 1, "number of services")
    t.eq(reg.get_json("/services/First"), [], "the replaced name has no provider left")
    t.eq([s["ServiceURL"] for s in reg.get_json("/services/Second")], [url], "providers of the new name")


@suite.test("GET /services/{name} lists only the providers of that name, in registration order")
def _(t):
    register(t, registration("Multi", "http://127.0.0.1:7201"))
    register(t, registration("Other", "http://127.0.0.1:7202"))
    register(t, registration("Multi", "http://127.0.0.1:7203"))
    r = reg.get("/services/Multi")
    t.status(r, 200)
    t.eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
    got = r.json()
    t.eq([s["ServiceURL"] for s in got], ["http://127.0.0.1:7201", "http://127.0.0.1:7203"], "providers")
    t.eq(set(got[0]), LISTING_KEYS, "same object shape as GET /services")
    t.eq(reg.get_json("/services/NoSuchService"), [], "an unknown name has no provider")
    t.eq(reg.get_json("/services/Multi?x=1"), got, "a query string is ignored")


@suite.test("GET /services/{name} decodes percent-encoded names")
def _(t):
    names = ["Grading Service", "Notenb\u00fcro", "a/b", "50%", "x+y", "\u00e9t\u00e9 \u2603"]
    for i, name in enumerate(names):
        register(t, registration(name, "http://127.0.0.1:73%02d" % i), "register %r" % name)
    for i, name in enumerate(names):
        path = "/services/" + urllib.parse.quote(name, safe="")
        got = reg.get_json(path)
        t.eq([s["ServiceURL"] for s in got], ["http://127.0.0.1:73%02d" % i], "providers of %r via %s" % (name, path))
        t.eq(got[0]["ServiceName"], name, "ServiceName via %s" % path)
    # Lower-case hex digits, and an unencoded space-free name mixed with escapes.
    t.eq(len(reg.get_json("/services/Notenb%c3%bcro")), 1, "lower-case hex escapes")
    t.eq(len(reg.get_json("/services/Grading%20Service")), 1, "%20")
    # '+' is not a space in a path.
    t.eq(reg.get_json("/services/Grading+Service"), [], "'+' is literal in a path")


@suite.test("GET /services/{name} with a broken escape or a control character answers 400 with a JSON error")
def _(t):
    for path in ("/services/%4", "/services/%zz", "/services/abc%", "/services/%00", "/services/a%0Ab",
                 "/services/" + "x" * 65):
        t.json_error(reg.get(path), 400, "GET %s" % path)


@suite.test("DELETE /services with the URL as text/plain deregisters it")
def _(t):
    url = "http://127.0.0.1:7400"
    register(t, registration("Doomed", url))
    t.contains(urls(), url, "registered")
    r = deregister(url)
    t.status(r, 200, "DELETE")
    t.not_contains(urls(), url, "listing after DELETE")
    t.eq(reg.get_json("/services/Doomed"), [], "providers after DELETE")
    # As the seed: the body is the bare URL; surrounding whitespace is tolerated.
    register(t, registration("Doomed", url))
    t.status(deregister(url + "\r\n"), 200, "DELETE with a trailing newline")
    t.not_contains(urls(), url, "listing after the second DELETE")


@suite.test("DELETE of an unknown URL answers 404 with a JSON error and changes nothing")
def _(t):
    before = services()
    t.json_error(deregister("http://127.0.0.1:7400"), 404, "DELETE of a deregistered URL")
    t.json_error(deregister("http://127.0.0.1:1/never"), 404, "DELETE of a never registered URL")
    t.json_error(deregister("http://127.0.0.1:7201/"), 404, "DELETE of a registered URL plus '/'")
    t.eq(services(), before, "listing")


@suite.test("HEAD /services answers 200 without a body")
def _(t):
    r = reg.request("HEAD", "/services")
    t.status(r, 200, "HEAD")
    t.eq(r.body, b"", "body")


@suite.test("the listing keeps registration order")
def _(t):
    got = urls()
    firsts = [u for u in got if u in ("http://127.0.0.1:7201", "http://127.0.0.1:7202", "http://127.0.0.1:7203")]
    t.eq(firsts, ["http://127.0.0.1:7201", "http://127.0.0.1:7202", "http://127.0.0.1:7203"], "order")


@suite.test("SIGTERM: exit status 0, no sanitizer report")
def _(t):
    t.clean_exit(reg, signal.SIGTERM)


@suite.test("SIGINT: exit status 0 as well")
def _(t):
    d = suite.daemon("registryd")
    t.status(d.post_json("/services", registration("X", "http://127.0.0.1:7500")), 200)
    t.clean_exit(d, signal.SIGINT)


suite.run()
