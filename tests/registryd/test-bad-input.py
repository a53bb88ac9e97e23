#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd: every kind of bad input gets its status and a JSON
# {"error": ...} body, changes nothing, and never brings the daemon down.
import json

from grades_test import Suite, raw_http, registration, registrations

suite = Suite("registryd: bad input")
state = {}

GOOD_URL = "http://127.0.0.1:7777"


def lenient_listing():
    """GET /services parsed even if the registry let invalid UTF-8 in."""
    r = state["reg"].get("/services")
    return json.loads(r.body.decode("utf-8", "surrogateescape"))


def restore():
    """Undoes whatever a failed case let through, so one bug does not make
    every later case fail."""
    reg = state["reg"]
    if not reg.alive():
        return
    try:
        listing = lenient_listing()
    except Exception:
        return
    base_urls = [s["ServiceURL"] for s in state["baseline"]]
    for s in listing:
        if s["ServiceURL"] not in base_urls:
            reg.request("DELETE", "/services", body=s["ServiceURL"].encode("utf-8", "surrogateescape"),
                        headers={"Content-Type": "text/plain"})
    if [s for s in listing if s["ServiceURL"] in base_urls] != state["baseline"]:
        reg.post_json("/services", registration("Good", GOOD_URL))


def check_unchanged(t):
    reg = state["reg"]
    t.true(reg.alive(), "the daemon is still running")
    r = reg.get("/services")
    t.status(r, 200, "GET /services")
    try:
        text = r.body.decode("utf-8")
    except UnicodeDecodeError as e:
        t.fail("GET /services is not valid UTF-8 (%s): %r" % (e, r.body[:400]))
    t.eq(registrations(json.loads(text)), state["baseline"], "GET /services after the bad request")


def bad(description, method, path, body, status, headers=None, allow=None):
    """One case: the request gets `status` with a JSON error body and changes nothing."""
    @suite.test(description)
    def _(t):
        reg = state["reg"]
        h = dict(headers or {})
        if method == "POST" and body is not None and not any(k.lower() == "content-type" for k in h):
            h["Content-Type"] = "application/json"
        try:
            r = reg.request(method, path, body=body, headers=h)
            if r.status != status:
                t.diag("GET /services now: %r" % state["reg"].get("/services").body[:600])
            msg = t.json_error(r, status, "%s %s" % (method, path))
            t.diag("error: %s" % msg)
            if allow is not None:
                got = [m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()]
                t.true(got, "405 has an Allow header")
                t.eq(sorted(got), sorted(allow), "Allow header")
            check_unchanged(t)
        finally:
            restore()


def bad_registration(description, obj, status=400):
    body = obj if isinstance(obj, bytes) else json.dumps(obj)
    bad(description, "POST", "/services", body, status)


def reg_with(**fields):
    r = registration("BadService", "http://127.0.0.1:7800")
    for k, v in fields.items():
        if v is KeyError:
            del r[k]
        else:
            r[k] = v
    return r


@suite.test("start the registry with one registration as the baseline")
def _(t):
    reg = suite.daemon("registryd")
    state["reg"] = reg
    t.status(reg.post_json("/services", registration("Good", GOOD_URL)), 200, "baseline registration")
    state["baseline"] = registrations(reg.get_json("/services"))
    t.eq(len(state["baseline"]), 1, "baseline size")


# --- bodies that are not a JSON object
bad_registration("invalid JSON (truncated object): 400", b'{"ServiceName": "A", "ServiceURL":')
bad_registration("invalid JSON (not JSON at all): 400", b"hello, registry")
bad_registration("invalid JSON (single quotes): 400", b"{'ServiceName': 'A', 'ServiceURL': 'http://h'}")
bad_registration("empty body: 400", b"")
bad_registration("whitespace-only body: 400", b" \r\n\t")
bad_registration("a JSON array instead of an object: 400", b"[]")
bad_registration("a JSON string instead of an object: 400", b'"http://127.0.0.1:7800"')
bad_registration("a JSON null instead of an object: 400", b"null")
bad_registration("two JSON values: 400",
                 json.dumps(reg_with()).encode() + b" " + json.dumps(reg_with()).encode())
bad_registration("trailing garbage after the object: 400", json.dumps(reg_with()).encode() + b"x")
bad_registration("a NUL byte after the JSON object: 400", json.dumps(reg_with()).encode() + b"\x00")
bad_registration("nesting 30000 levels deep: 400", b"[" * 30000 + b"]" * 30000)
bad_registration("invalid UTF-8 in ServiceName: 400",
                 b'{"ServiceName":"Bad\xff\xfeName","ServiceURL":"http://127.0.0.1:7800"}')
bad_registration("invalid UTF-8 (overlong '/') in ServiceURL: 400",
                 b'{"ServiceName":"BadService","ServiceURL":"http://127.0.0.1:7800/\xc0\xaf"}')
bad_registration("invalid UTF-8 (UTF-8-encoded surrogate U+D800) in ServiceName: 400",
                 b'{"ServiceName":"Bad\xed\xa0\x80Name","ServiceURL":"http://127.0.0.1:7800"}')
bad_registration("invalid UTF-8 (code point above U+10FFFF) in ServiceName: 400",
                 b'{"ServiceName":"Bad\xf4\x90\x80\x80Name","ServiceURL":"http://127.0.0.1:7800"}')
bad_registration("invalid UTF-8 (truncated sequence) in a key: 400",
                 b'{"ServiceName":"BadService","ServiceURL":"http://127.0.0.1:7800","X\xe2\x82":1}')

# --- ServiceName
bad_registration("missing ServiceName: 400", reg_with(ServiceName=KeyError))
bad_registration("ServiceName null: 400", reg_with(ServiceName=None))
bad_registration("ServiceName a number: 400", reg_with(ServiceName=42))
bad_registration("ServiceName an array: 400", reg_with(ServiceName=["A"]))
bad_registration("ServiceName empty: 400", reg_with(ServiceName=""))
bad_registration("ServiceName of 65 bytes: 400", reg_with(ServiceName="N" * 65))
bad_registration("ServiceName of 33 two-byte characters (66 bytes): 400", reg_with(ServiceName="\u00e4" * 33))
bad_registration("ServiceName with a newline: 400", reg_with(ServiceName="Bad\nService"))
bad_registration("ServiceName with a tab: 400", reg_with(ServiceName="Bad\tService"))
bad_registration("ServiceName with U+0001: 400", reg_with(ServiceName="Bad\u0001Service"))
bad_registration("ServiceName with ESC (terminal escape): 400", reg_with(ServiceName="\u001b[31mRed"))
bad_registration("ServiceName with DEL (U+007F): 400", reg_with(ServiceName="Bad\u007fService"))
bad_registration("ServiceName with NUL (U+0000): 400", reg_with(ServiceName="Bad\u0000Service"))

# --- ServiceURL and the optional URLs
bad_registration("missing ServiceURL: 400", reg_with(ServiceURL=KeyError))
bad_registration("ServiceURL empty: 400", reg_with(ServiceURL=""))
bad_registration("ServiceURL a number: 400", reg_with(ServiceURL=7800))
for url in ("ftp://127.0.0.1/x", "127.0.0.1:7800", "localhost:7800", "http://", "http:///path", "http:/127.0.0.1:7800",
            "http://user:secret@127.0.0.1:7800", "http://127.0.0.1:7800/?q=1", "http://127.0.0.1:7800/#frag",
            "http://127.0.0.1:99999", "http://127.0.0.1:port", "http://127.0.0.1:7800/a b", "javascript:alert(1)",
            "file:///etc/passwd", "http://127.0.0.1:7800/\u0000x", "//127.0.0.1:7800"):
    bad_registration("ServiceURL %r: 400" % url, reg_with(ServiceURL=url))
bad_registration("ServiceUpdateURL not http(s): 400", reg_with(ServiceUpdateURL="ftp://127.0.0.1/services"))
bad_registration("ServiceUpdateURL a number: 400", reg_with(ServiceUpdateURL=1))
bad_registration("HeartbeatURL not a URL: 400", reg_with(HeartbeatURL="not a url"))
bad_registration("HeartbeatURL with a query: 400", reg_with(HeartbeatURL="http://127.0.0.1:7800/hb?x=1"))

# --- RequiredServices
bad_registration("RequiredServices a string: 400",
                 reg_with(RequiredServices="LogService", ServiceUpdateURL="http://127.0.0.1:7800/services"))
bad_registration("RequiredServices holding a number: 400",
                 reg_with(RequiredServices=[1], ServiceUpdateURL="http://127.0.0.1:7800/services"))
bad_registration("RequiredServices holding a 65-byte name: 400",
                 reg_with(RequiredServices=["R" * 65], ServiceUpdateURL="http://127.0.0.1:7800/services"))
bad_registration("RequiredServices holding a name with a control character: 400",
                 reg_with(RequiredServices=["Log\rService"], ServiceUpdateURL="http://127.0.0.1:7800/services"))
bad_registration("RequiredServices holding an empty name: 400",
                 reg_with(RequiredServices=[""], ServiceUpdateURL="http://127.0.0.1:7800/services"))
bad_registration("RequiredServices without a ServiceUpdateURL to send patches to: 400",
                 reg_with(RequiredServices=["LogService"]))

# --- a bad re-registration does not touch the existing entry
bad_registration("re-registering an existing URL with a 65-byte name: 400, old entry kept",
                 registration("G" * 65, GOOD_URL))
bad_registration("re-registering an existing URL with a bad HeartbeatURL: 400, old entry kept",
                 dict(registration("Good", GOOD_URL), HeartbeatURL="gopher://x"))

# --- Content-Type
bad("POST with Content-Type text/plain: 415", "POST", "/services", json.dumps(reg_with()), 415,
    headers={"Content-Type": "text/plain"})
bad("POST with Content-Type application/x-www-form-urlencoded: 415", "POST", "/services",
    "ServiceName=BadService&ServiceURL=http://127.0.0.1:7800", 415,
    headers={"Content-Type": "application/x-www-form-urlencoded"})
bad("POST with Content-Type application/jsonx: 415", "POST", "/services", json.dumps(reg_with()), 415,
    headers={"Content-Type": "application/jsonx"})

# --- size limits
PAD_100K = json.dumps(dict(reg_with(), Padding="p" * 100000))
bad("POST body of 100 KB (over 64 KiB): 413", "POST", "/services", PAD_100K, 413)
bad("POST body of 64 KiB + 1 byte: 413", "POST", "/services",
    json.dumps(dict(reg_with(), P="")).replace('"P": ""', '"P": "%s"' % ("p" * (65537 - len(json.dumps(
        dict(reg_with(), P="")))))), 413)
bad("DELETE body of 100 KB: 413", "DELETE", "/services", "http://127.0.0.1:7800/" + "d" * 100000, 413,
    headers={"Content-Type": "text/plain"})


@suite.test("POST body of exactly 64 KiB is not refused for its size")
def _(t):
    reg = state["reg"]
    base = json.dumps(dict(reg_with(ServiceName="Big64", ServiceURL="http://127.0.0.1:7801"), P=""))
    body = base.replace('"P": ""', '"P": "%s"' % ("p" * (65536 - len(base))))
    t.eq(len(body), 65536, "body length")
    r = reg.request("POST", "/services", body=body, headers={"Content-Type": "application/json"})
    t.status(r, 200, "64 KiB registration")
    t.status(reg.request("DELETE", "/services", body="http://127.0.0.1:7801"), 200, "deregister it")
    check_unchanged(t)


@suite.test("POST body of 100 KB sent chunked: 413 with a JSON error")
def _(t):
    reg = state["reg"]
    data = PAD_100K.encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 8192]), data[i:i + 8192])
                      for i in range(0, len(data), 8192)) + b"0\r\n\r\n"
    head = (b"POST /services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    r = raw_http("127.0.0.1", reg.port, head + chunks)
    t.json_error(r, 413, "chunked 100 KB")
    check_unchanged(t)


@suite.test("POST body of 2 MiB (over the hard limit): 413 with a JSON error")
def _(t):
    reg = state["reg"]
    size = 2 * 1024 * 1024
    head = (b"POST /services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size)
    r = raw_http("127.0.0.1", reg.port, head, send_body=b" " * size, wait_before_body=1.0)
    t.json_error(r, 413, "2 MiB body")
    check_unchanged(t)


# --- DELETE
bad("DELETE with an empty body: 400", "DELETE", "/services", "", 400, headers={"Content-Type": "text/plain"})
bad("DELETE with only whitespace: 400", "DELETE", "/services", " \r\n", 400, headers={"Content-Type": "text/plain"})
bad("DELETE of an unknown URL: 404", "DELETE", "/services", "http://127.0.0.1:7800", 404,
    headers={"Content-Type": "text/plain"})
bad("DELETE of a known URL with a NUL appended: 404", "DELETE", "/services", GOOD_URL + "\u0000", 404,
    headers={"Content-Type": "text/plain"})
bad("DELETE of a known URL given as a JSON string: 404", "DELETE", "/services", json.dumps(GOOD_URL), 404,
    headers={"Content-Type": "application/json"})

# --- methods and paths
bad("PUT /services: 405 with Allow", "PUT", "/services", json.dumps(reg_with()), 405,
    headers={"Content-Type": "application/json"}, allow=["POST", "DELETE", "GET", "HEAD"])
bad("PATCH /services: 405 with Allow", "PATCH", "/services", "{}", 405,
    headers={"Content-Type": "application/json"}, allow=["POST", "DELETE", "GET", "HEAD"])
bad("OPTIONS /services: 405 with Allow", "OPTIONS", "/services", None, 405, allow=["POST", "DELETE", "GET", "HEAD"])
bad("POST /services/Good: 405 with Allow", "POST", "/services/Good", json.dumps(reg_with()), 405,
    headers={"Content-Type": "application/json"}, allow=["GET", "HEAD"])
bad("DELETE /services/Good: 405 with Allow", "DELETE", "/services/Good", GOOD_URL, 405,
    headers={"Content-Type": "text/plain"}, allow=["GET", "HEAD"])
for path in ("/", "/service", "/servicesx", "/services/", "/services/Good/extra", "/heartbeats", "/SERVICES",
             "/services%2FGood"):
    bad("GET %s: 404" % path, "GET", path, None, 404)
bad("POST to an unknown path: 404", "POST", "/register", json.dumps(reg_with()), 404)


@suite.test("a garbage request line does not bring the daemon down")
def _(t):
    reg = state["reg"]
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET\r\n\r\n", b"GET /services HTTP/9.9\r\n\r\n",
                 b"POST /services HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                 b"POST /services HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{",  # then close
                 b"POST /services HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        r = raw_http("127.0.0.1", reg.port, junk, timeout=2)
        t.diag("%r -> %d" % (junk[:40], r.status))
        t.true(r.status == 0 or r.status >= 400, "answer to %r is an error (%d)" % (junk[:40], r.status))
    check_unchanged(t)


@suite.test("after all that: a 64-byte name registers, and the daemon exits cleanly")
def _(t):
    reg = state["reg"]
    t.status(reg.post_json("/services", registration("N" * 64, "http://127.0.0.1:7802")), 200, "64-byte name")
    t.status(reg.post_json("/services", registration("\u00e4" * 32, "http://127.0.0.1:7803")), 200,
             "32 two-byte characters (64 bytes)")
    names = [s["ServiceName"] for s in registrations(reg.get_json("/services"))]
    t.eq(names, ["Good", "N" * 64, "\u00e4" * 32], "names")
    t.clean_exit(reg)


suite.run()
