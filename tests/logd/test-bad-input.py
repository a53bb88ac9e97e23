#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-logd: every kind of bad input gets its status and a JSON
# {"error": ...} body, writes nothing to the central log (byte for byte),
# and never brings the daemon down. Also: a failed write leaves no half line.
import json
import os
import re

from grades_test import Suite, raw_http
from logd_helpers import CentralLog, FsizeDaemon, dead_url, slack, start_daemon

suite = Suite("logd: bad input")
st = {}

MiB = 1024 * 1024


def check_unchanged(t):
    d = st["logd"]
    t.true(d.alive(), "the daemon is still running")
    t.eq(st["central"].data(), st["baseline"], "central.log after the bad request (byte for byte)")
    r = d.get("/log?limit=1000")
    t.status(r, 200, "GET /log")
    t.eq(json.loads(r.body.decode("utf-8")), st["recent"], "GET /log after the bad request")


def bad(description, body, status, content_type="application/json", method="POST", path="/log", contains=None):
    @suite.test(description)
    def _(t):
        d = st["logd"]
        h = {"Content-Type": content_type} if content_type else {}
        r = d.request(method, path, body=body, headers=h)
        msg = t.json_error(r, status, "%s %s" % (method, path))
        t.diag("error: %s" % msg)
        if contains is not None:
            t.true(re.search(contains, msg), "the error %r matches %r" % (msg, contains))
        check_unchanged(t)


def entry(**fields):
    e = {"service": "BadService", "priority": "info", "message": "a message", "time": "2026-11-25T12:00:00.000Z"}
    for k, v in fields.items():
        if v is KeyError:
            del e[k]
        else:
            e[k] = v
    return e


def bad_entry(description, names_entry=True, **fields):
    bad(description + " (single object): 400", json.dumps(entry(**fields)), 400)
    batch = [entry(message="good %d" % i) for i in range(5)]
    batch[3] = entry(**fields)
    if names_entry:
        bad(description + " (entry 3 of a batch of 5): 400 naming entry 3, nothing written",
            json.dumps(batch), 400, contains=r"\b3\b")
    else:  # refused by the JSON parser, before entries are looked at
        bad(description + " (entry 3 of a batch of 5): 400, nothing written", json.dumps(batch), 400)


@suite.test("start logd; one good line as the baseline")
def _(t):
    logs = suite.tmpdir()
    d = suite.daemon("logd", ["--logs-directory=" + logs, "--registry=" + dead_url()])
    st["logd"] = d
    st["central"] = CentralLog(logs)
    t.status(d.request("POST", "/log", body="[Good] - baseline", headers={"Content-Type": "text/plain"}), 200)
    st["baseline"] = st["central"].data()
    t.true(st["baseline"].endswith(b"[Good] info: baseline\n"), "baseline line written")
    st["recent"] = d.get_json("/log?limit=1000")


# --- text/plain bodies
bad("text/plain: empty body: 400", b"", 400, "text/plain")
bad("text/plain: a lone newline: 400", b"\n", 400, "text/plain")
bad("text/plain: a lone CRLF: 400", b"\r\n", 400, "text/plain")
bad("text/plain: the seed prefix and no message: 400", b"[GradingService] - ", 400, "text/plain")
bad("no Content-Type and an empty body: 400", b"", 400, None)
bad("Content-Type application/x-www-form-urlencoded: 415", b"message=hello", 415,
    "application/x-www-form-urlencoded")
bad("Content-Type text/html: 415", b"<p>hello</p>", 415, "text/html")
bad("Content-Type application/jsonx: 415", b'{"service":"A","message":"m"}', 415, "application/jsonx")

# --- JSON bodies that are not an entry or an array of entries
bad("JSON: empty body: 400", b"", 400)
bad("JSON: whitespace only: 400", b" \r\n\t", 400)
bad("JSON: not JSON at all: 400", b"hello, log", 400)
bad("JSON: truncated object: 400", b'{"service": "A", "message": ', 400)
bad("JSON: truncated array: 400", b'[{"service": "A", "message": "m"}', 400)
bad("JSON: single quotes: 400", b"{'service': 'A', 'message': 'm'}", 400)
bad("JSON: NaN: 400", b'{"service": "A", "message": "m", "priority": NaN}', 400)
bad("JSON: a raw newline inside a string: 400", b'{"service": "A", "message": "line\nforged"}', 400)
bad("JSON: a raw control character inside a string: 400", b'{"service": "A", "message": "bell\x07"}', 400)
bad("JSON: two objects: 400", b'{"service": "A", "message": "m"} {"service": "A", "message": "m"}', 400)
bad("JSON: trailing garbage: 400", b'{"service": "A", "message": "m"}x', 400)
bad("JSON: a NUL byte after the object: 400", b'{"service": "A", "message": "m"}\x00', 400)
bad("JSON: nesting 30000 levels deep: 400", b"[" * 30000 + b"]" * 30000, 400)
bad("JSON: null: 400", b"null", 400)
bad("JSON: a number: 400", b"42", 400)
bad("JSON: a string: 400", b'"just a message"', 400)
bad("JSON: true: 400", b"true", 400)
bad("JSON: an empty array: 400", b"[]", 400)
bad("JSON: an array holding an array: 400", b'[[{"service": "A", "message": "m"}]]', 400)
bad("JSON: an array holding a string: 400", b'["a message"]', 400, contains=r"\b0\b")
bad("JSON: an array holding null after a good entry: 400 naming entry 1",
    b'[{"service": "A", "message": "m"}, null]', 400, contains=r"\b1\b")

# --- invalid UTF-8 in JSON: refused, never written
bad("JSON: invalid UTF-8 in message: 400", b'{"service": "A", "message": "bad \xff\xfe bytes"}', 400)
bad("JSON: overlong UTF-8 in message: 400", b'{"service": "A", "message": "over \xc0\xaf long"}', 400)
bad("JSON: UTF-8-encoded surrogate in message: 400", b'{"service": "A", "message": "half \xed\xa0\x80"}', 400)
bad("JSON: truncated UTF-8 sequence at the end of message: 400", b'{"service": "A", "message": "cut \xe2\x82"}',
    400)
bad("JSON: invalid UTF-8 in service: 400", b'{"service": "Bad\xffName", "message": "m"}', 400)
bad("JSON: invalid UTF-8 in a key: 400", b'{"service": "A", "message": "m", "x\xff": 1}', 400)
bad("JSON: \\u0000 in message (a C string would be cut there): 400",
    b'{"service": "A", "message": "cut \\u0000 here"}', 400)
bad("JSON: Latin-1 text: 400", b'{"service": "A", "message": "caf\xe9"}', 400)
bad("JSON: invalid UTF-8 in entry 2 of a batch: 400, nothing written",
    b'[{"service": "A", "message": "m0"}, {"service": "A", "message": "m1"}, {"service": "A", "message": "\xff"}]',
    400)

# --- service
bad_entry("service missing", service=KeyError)
bad_entry("service null", service=None)
bad_entry("service a number", service=42)
bad_entry("service an array", service=["A"])
bad_entry("service an object", service={"name": "A"})
bad_entry("service empty", service="")
bad_entry("service of 65 bytes", service="S" * 65)
bad_entry("service of 33 two-byte characters (66 bytes)", service="\u00e4" * 33)
bad_entry("service with a newline", service="Bad\nService")
bad_entry("service with a carriage return", service="Bad\rService")
bad_entry("service with a tab", service="Bad\tService")
bad_entry("service with NUL", names_entry=False, service="Bad\u0000Service")
bad_entry("service with ESC", service="\u001b[31mRed")
bad_entry("service with DEL", service="Bad\u007fService")

# --- message
bad_entry("message missing", message=KeyError)
bad_entry("message null", message=None)
bad_entry("message empty", message="")
bad_entry("message a number", message=42)
bad_entry("message true", message=True)
bad_entry("message an array", message=["a", "b"])
bad_entry("message an object", message={"text": "m"})

# --- priority
bad_entry("priority unknown name", priority="bogus")
bad_entry("priority empty string", priority="")
bad_entry("priority 8", priority=8)
bad_entry("priority -1", priority=-1)
bad_entry("priority '8'", priority="8")
bad_entry("priority 3.0 (not an integer)", priority=3.0)
bad_entry("priority 2.5", priority=2.5)
bad_entry("priority true", priority=True)
bad_entry("priority an array", priority=["err"])
bad_entry("priority an object", priority={"level": 3})
bad_entry("priority with a trailing space", priority="err ")
bad_entry("priority huge", priority=2 ** 40)

# --- time
bad_entry("time a number", time=1764072000000)
bad_entry("time true", time=True)
bad_entry("time an object", time={"sec": 1})
bad_entry("time an array", time=["2026-11-25T12:00:00Z"])


@suite.test("a batch of 100 with entry 57 invalid: 400 that names entry 57; none of the 99 good ones written")
def _(t):
    batch = [entry(message="batch %d" % i) for i in range(100)]
    batch[57] = entry(priority="loud")
    r = st["logd"].request("POST", "/log", body=json.dumps(batch), headers={"Content-Type": "application/json"})
    msg = t.json_error(r, 400, "batch")
    t.diag("error: %s" % msg)
    t.true(re.search(r"\b57\b", msg), "the error names entry 57: %r" % msg)
    t.contains(msg, "priority", "the error says what is wrong")
    check_unchanged(t)


# --- sizes
bad("text/plain body of 1 MiB + 1 byte: 413", b"[Big] - " + b"x" * (MiB + 1 - 8), 413, "text/plain")
bad("JSON body of 1 MiB + 1 byte: 413",
    json.dumps([entry(message="m" * (MiB + 1 - len(json.dumps([entry(message="")]))))]).encode(), 413)


@suite.test("body of 8 MiB (over h2o's own hard limit): 413 with a JSON error")
def _(t):
    d = st["logd"]
    size = 8 * MiB
    head = (b"POST /log HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size)
    r = raw_http("127.0.0.1", d.port, head, send_body=b"x" * size, wait_before_body=1.0, timeout=slack(20))
    t.json_error(r, 413, "8 MiB body")
    check_unchanged(t)


@suite.test("body of 1.5 MiB sent chunked: 413 with a JSON error")
def _(t):
    d = st["logd"]
    data = b"[Big] - " + b"c" * (3 * MiB // 2)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                      for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
    head = (b"POST /log HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    r = raw_http("127.0.0.1", d.port, head + chunks, timeout=slack(20))
    t.json_error(r, 413, "chunked 1.5 MiB")
    check_unchanged(t)


@suite.test("text/plain body of exactly 1 MiB: accepted, written as one truncated line")
def _(t):
    d = st["logd"]
    body = b"[Big] - " + b"z" * (MiB - 8)
    t.eq(len(body), MiB, "body length")
    r = d.request("POST", "/log", body=body, headers={"Content-Type": "text/plain"})
    t.status(r, 200, "1 MiB text")
    last = st["central"].lines()[-1]
    t.eq((last.service, last.message), ("Big", "z" * 8192 + " [truncated %d bytes]" % (MiB - 8 - 8192)), "line")
    st["baseline"] = st["central"].data()
    st["recent"] = d.get_json("/log?limit=1000")


@suite.test("JSON batch of exactly 1 MiB: accepted, every entry written")
def _(t):
    d = st["logd"]
    n = 1000
    batch = [entry(service="Full", message="%04d " % i) for i in range(n)]
    base = len(json.dumps(batch))
    per = (MiB - base) // n
    for i in range(n):
        batch[i]["message"] += "f" * per
    body = json.dumps(batch)
    body = body[:-1] + " " * (MiB - len(body)) + "]"
    t.eq(len(body), MiB, "body length")
    r = d.request("POST", "/log", body=body, headers={"Content-Type": "application/json"})
    t.status(r, 200, "1 MiB batch")
    got = st["central"].messages("Full")
    t.eq(len(got), n, "lines written")
    t.eq([m[:4] for m in got], ["%04d" % i for i in range(n)], "in order")
    st["baseline"] = st["central"].data()
    st["recent"] = d.get_json("/log?limit=1000")


# --- methods and paths
bad("PUT /log: 405", b"[A] - m", 405, "text/plain", method="PUT")
bad("DELETE /log: 405", b"", 405, "text/plain", method="DELETE")
bad("PATCH /log: 405", b'{"service": "A", "message": "m"}', 405, method="PATCH")
bad("POST /logs: 404", b"[A] - m", 404, "text/plain", path="/logs")
bad("POST /log/extra: 404", b"[A] - m", 404, "text/plain", path="/log/extra")


@suite.test("garbage requests do not bring the daemon down or write anything")
def _(t):
    d = st["logd"]
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"POST\r\n\r\n", b"POST /log HTTP/9.9\r\n\r\n",
                 b"POST /log HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                 b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n\r\n[A] - cut",
                 b"POST /log HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\nzz\r\n",
                 b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\n[A] -\r\n"):  # then close mid-body
        r = raw_http("127.0.0.1", d.port, junk, timeout=2)
        t.diag("%r -> %d" % (junk[:40], r.status))
        t.true(r.status == 0 or r.status >= 400, "answer to %r is an error (%d)" % (junk[:40], r.status))
    check_unchanged(t)


@suite.test("a write that fails half-way (file size limit) answers 500 and leaves no partial line")
def _(t):
    logs = suite.tmpdir()
    limit = 64 * 1024
    d = start_daemon(suite, FsizeDaemon("logd", ["--logs-directory=" + logs, "--registry=" + dead_url()],
                                        fsize=limit))
    c = CentralLog(logs)
    i = 0
    while os.path.getsize(c.path) < limit - 6000:
        t.status(d.request("POST", "/log", body="[Fill] - fill line %d %s" % (i, "f" * 900),
                           headers={"Content-Type": "text/plain"}), 200, "filling")
        i += 1
    before = c.data()
    batch = [{"service": "Over", "message": "over the limit %d %s" % (j, "o" * 200)} for j in range(100)]
    r = d.request("POST", "/log", body=json.dumps(batch), headers={"Content-Type": "application/json"})
    t.diag("answer to the batch that does not fit: %d %r" % (r.status, r.body[:200]))
    t.json_error(r, 500, "batch crossing the size limit")
    after = c.data()
    t.true(after.startswith(before), "the file still starts with what was there")
    extra = after[len(before):]
    t.true(extra == b"" or extra.endswith(b"\n"), "nothing half-written: %r" % extra[-200:])
    added = CentralLog(logs).lines()[before.count(b"\n"):]
    t.eq([l.raw for l in added if not l.ok or l.service != "LogService"], [],
         "only logd's own whole lines (its error report) after the failed request")
    t.eq(c.messages("Over"), [], "no line of the failed batch")
    t.eq([e for e in d.get_json("/log?service=Over")], [], "GET /log has none of the failed batch")
    t.status(d.request("POST", "/log", body="[Small] - fits", headers={"Content-Type": "text/plain"}), 200,
             "a small line that fits")
    t.eq(c.messages("Small"), ["fits"], "written after the failure")
    t.true(c.data().endswith(b"[Small] info: fits\n"), "the file ends with it")
    t.clean_exit(d)


@suite.test("after all that: a good line is written, and logd exits cleanly")
def _(t):
    d = st["logd"]
    t.status(d.request("POST", "/log", body="[Good] - still fine", headers={"Content-Type": "text/plain"}), 200)
    t.eq(st["central"].data(), st["baseline"] + st["central"].raw_lines()[-1] + b"\n", "one more line")
    t.eq(st["central"].lines()[-1].message, "still fine", "message")
    t.clean_exit(d)


suite.run()
