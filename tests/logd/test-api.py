#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-logd: the HTTP API (POST /log as text and JSON, GET /log), the
# line format, escaping, truncation, the logs directory and SIGHUP.
import calendar
import json
import os
import signal
import socket
import time
import urllib.parse

from grades_test import Suite, wait_until
from logd_helpers import CentralLog, LINE_RE, dead_url, slack, start_logd, start_registry, wait_registered

suite = Suite("logd: api")
st = {}

TEXT = {"Content-Type": "text/plain"}


def logd():
    return st["logd"]


def central():
    return st["central"]


def post_text(body, headers=TEXT, d=None):
    return (d or logd()).request("POST", "/log", body=body, headers=headers)


def post_json(obj, d=None):
    body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
    return (d or logd()).request("POST", "/log", body=body, headers={"Content-Type": "application/json"})


def last_lines(n):
    return central().lines()[-n:]


def escape(s):
    """What logd writes for a valid UTF-8 message without C1 controls."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7f:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def raw_response(sock):
    """Reads one response with a Content-Length from a keep-alive socket."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def epoch_ms(rfc3339):
    base, ms = rfc3339[:-1].split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(ms)


def get_log(query=""):
    r = logd().get("/log" + query)
    if r.status != 200:
        raise AssertionError("GET /log%s: %d %r" % (query, r.status, r.body[:300]))
    return json.loads(r.body.decode("utf-8"))


@suite.test("logd starts with a registry and registers as LogService")
def _(t):
    reg = start_registry(suite)
    st["reg"] = reg
    logs = suite.tmpdir()
    st["logs"] = logs
    st["logd"] = start_logd(suite, logs, registry=reg.url)
    st["central"] = CentralLog(logs)
    t.true(wait_registered(reg, logd().url), "LogService at %s listed by the registry" % logd().url)
    t.true(os.path.exists(central().path), "central.log exists in --logs-directory")


@suite.test("POST /log text/plain in the seed's '[Service] - message' form: 200, empty body, one line")
def _(t):
    before = time.time()
    r = post_text("[GradingService] - Added student 42.")
    after = time.time()
    t.status(r, 200)
    t.eq(r.body, b"", "body of the 200")
    line = last_lines(1)[0]
    t.true(line.ok, "line matches TIME [SERVICE] PRIORITY: MESSAGE: %r" % line.raw)
    t.eq(line.service, "GradingService", "service")
    t.eq(line.priority, "info", "priority")
    t.eq(line.message, "Added student 42.", "message")
    ms = epoch_ms(line.time)
    t.true(before * 1000 - 2000 <= ms <= after * 1000 + 2000,
           "receive time %s is now (UTC): %d not within [%d, %d]" % (line.time, ms, before * 1000, after * 1000))


@suite.test("text without the seed prefix is logged as [unknown] info; one trailing newline (LF or CRLF) is dropped")
def _(t):
    for body, msg in (("plain text", "plain text"), ("ends with LF\n", "ends with LF"),
                      ("ends with CRLF\r\n", "ends with CRLF"), ("two newlines\n\n", "two newlines\\n"),
                      ("[Not a prefix]- x", "[Not a prefix]- x"), ("[] - empty name", "[] - empty name"),
                      ("[%s] - too long a name" % ("N" * 65), "[%s] - too long a name" % ("N" * 65)),
                      ("[Bad\tName] - x", "[Bad\\tName] - x")):
        t.status(post_text(body), 200, "POST %r" % body)
        line = last_lines(1)[0]
        t.eq((line.service, line.priority, line.message), ("unknown", "info", msg), "line for %r" % body)
    t.status(post_text("[%s] - 64-byte name" % ("N" * 64)), 200)
    t.eq(last_lines(1)[0].service, "N" * 64, "a 64-byte name is a service")
    t.status(post_text("[Grading Service] - spaces"), 200)
    t.eq((last_lines(1)[0].service, last_lines(1)[0].message), ("Grading Service", "spaces"), "name with a space")


@suite.test("text/plain with parameters, and no Content-Type at all, are accepted as text")
def _(t):
    t.status(post_text("[A] - with charset", {"Content-Type": "Text/Plain; charset=utf-8"}), 200, "charset")
    t.eq(last_lines(1)[0].message, "with charset", "message")
    t.status(logd().request("POST", "/log", body=b"[A] - no type"), 200, "no Content-Type")
    t.eq(last_lines(1)[0].message, "no type", "message")


@suite.test("POST /log with one JSON object: its service and priority (names, numbers, default info)")
def _(t):
    names = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
    for i, name in enumerate(names):
        t.status(post_json({"service": "JsonService", "priority": name, "message": "by name %s" % name,
                            "time": "2026-01-01T00:00:00.000Z"}), 200, "priority %s" % name)
        l = last_lines(1)[0]
        t.eq((l.service, l.priority, l.message), ("JsonService", name, "by name %s" % name), "line")
        t.status(post_json({"service": "JsonService", "priority": i, "message": "by number %d" % i}), 200)
        l = last_lines(1)[0]
        t.eq((l.priority, l.message), (name, "by number %d" % i), "priority %d" % i)
    for alias, name in (("error", "err"), ("warn", "warning"), ("WARNING", "warning"), ("7", "debug")):
        t.status(post_json({"service": "JsonService", "priority": alias, "message": alias}), 200, alias)
        t.eq(last_lines(1)[0].priority, name, "priority %r" % alias)
    t.status(post_json({"service": "JsonService", "message": "no priority"}), 200)
    t.eq(last_lines(1)[0].priority, "info", "default priority")
    t.status(post_json({"service": "JsonService", "message": "time null", "time": None}), 200, "time null")
    r = logd().request("POST", "/log", body=json.dumps({"service": "JsonService", "message": "charset"}),
                       headers={"Content-Type": "application/json; charset=utf-8"})
    t.status(r, 200, "application/json; charset=utf-8")
    t.eq(last_lines(1)[0].message, "charset", "message")
    t.status(post_json({"Service": "CaseService", "MESSAGE": "keys in any case"}), 200, "keys in any case")
    t.eq(last_lines(1)[0].service, "CaseService", "service from 'Service'")


@suite.test("a JSON batch of 100 entries: 100 lines in order, one receive time, all written before the 200")
def _(t):
    batch = [{"service": "Batch%d" % (i % 3), "priority": ["err", "info", "debug"][i % 3],
              "message": "batch line %d" % i, "time": "2026-01-01T00:00:00.000Z"} for i in range(100)]
    r = post_json(batch)
    t.status(r, 200)
    got = last_lines(100)
    t.eq([l.message for l in got], ["batch line %d" % i for i in range(100)], "messages in order")
    t.eq([l.service for l in got], ["Batch%d" % (i % 3) for i in range(100)], "services")
    t.eq([l.priority for l in got], [["err", "info", "debug"][i % 3] for i in range(100)], "priorities")
    t.eq(len({l.time for l in got}), 1, "one receive time for the request")
    t.true(got[0].time != "2026-01-01T00:00:00.000Z", "the line has the receive time, not the client's")


@suite.test("the 200 comes only after the lines are in the file (200 requests, each checked at once)")
def _(t):
    for i in range(200):
        if i % 2:
            t.status(post_text("[Sync] - sync %d" % i), 200)
        else:
            t.status(post_json([{"service": "Sync", "message": "sync %d" % i},
                                {"service": "Sync", "message": "sync %d b" % i}]), 200)
        data = central().data()
        t.true(data.endswith(b"\n"), "file ends with a whole line after request %d" % i)
        want = ("sync %d b\n" % i) if i % 2 == 0 else ("sync %d\n" % i)
        t.true(data.endswith(want.encode()), "line of request %d is in the file when the 200 arrives" % i)


@suite.test("every line of the file has the format TIME [SERVICE] PRIORITY: MESSAGE")
def _(t):
    bad = [l.raw for l in central().lines() if not l.ok]
    t.eq(bad, [], "lines that do not match %s" % LINE_RE.pattern)


@suite.test("GET /log returns recent entries as JSON, newest last")
def _(t):
    for i in range(5):
        t.status(post_json({"service": "Recent", "priority": "notice", "message": "recent %d" % i}), 200)
    r = logd().get("/log")
    t.status(r, 200)
    t.eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
    entries = json.loads(r.body.decode("utf-8"))
    t.true(isinstance(entries, list), "a JSON array")
    t.eq(len(entries), 100, "default limit: the newest 100")
    mine = [e for e in entries if e["service"] == "Recent"]
    t.eq([e["message"] for e in mine], ["recent %d" % i for i in range(5)], "order (newest last)")
    t.eq(entries[-1]["message"], "recent 4", "the newest is last")
    for e in mine:
        t.eq(set(e), {"time", "service", "priority", "message"}, "keys")
        t.eq(e["priority"], "notice", "priority as a name")
        t.true(LINE_RE.match(("%s [x] info: y" % e["time"]).encode()), "time is RFC 3339 UTC ms: %r" % e["time"])
    file_lines = [l for l in central().lines() if l.service == "Recent"]
    t.eq([e["time"] for e in mine], [l.time for l in file_lines], "same receive times as in the file")


@suite.test("GET /log?service=&priority=&since=&limit= filter")
def _(t):
    for i in range(30):
        t.status(post_json({"service": "FilterA" if i % 2 else "FilterB", "priority": ["err", "warning", "info"][i % 3],
                            "message": "filter %d" % i}), 200)
    a = get_log("?service=FilterA&limit=1000")
    t.eq([e["message"] for e in a], ["filter %d" % i for i in range(30) if i % 2], "service=FilterA")
    w = get_log("?service=FilterB&priority=warning&limit=1000")
    t.eq([e["message"] for e in w], ["filter %d" % i for i in range(30) if i % 2 == 0 and i % 3 < 2],
         "priority=warning keeps warning and more severe")
    e = get_log("?service=FilterB&priority=3")
    t.eq([x["message"] for x in e], ["filter %d" % i for i in range(30) if i % 2 == 0 and i % 3 == 0], "priority=3")
    lim = get_log("?service=FilterA&limit=4")
    t.eq([x["message"] for x in lim], ["filter %d" % i for i in (23, 25, 27, 29)], "limit=4: the newest 4, oldest first")
    t.eq(len(get_log("?limit=1")), 1, "limit=1")
    # since: strictly after the given time
    time.sleep(0.01)
    t.status(post_json({"service": "Since", "message": "since one"}), 200)
    stamp = [x for x in get_log("?service=Since")][0]["time"]
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    t.eq(get_log("?since=" + future), [], "since in the future")
    past = get_log("?service=Since&since=2000-01-01T00:00:00Z")
    t.eq([x["message"] for x in past], ["since one"], "since long ago")
    t.eq(get_log("?service=Since&since=" + urllib.parse.quote(stamp)), [], "since = its own time: not after it")
    t.eq(get_log("?service=NoSuchService"), [], "unknown service")


@suite.test("GET /log memory is bounded by --recent-lines: the newest N are kept")
def _(t):
    d = start_logd(suite, suite.tmpdir(), args=["--recent-lines=20"])
    for i in range(50):
        t.status(post_json({"service": "Ring", "message": "ring %d" % i}, d=d), 200)
    r = d.get("/log?limit=1000")
    t.status(r, 200)
    got = [e["message"] for e in json.loads(r.body.decode("utf-8"))]
    t.eq(got, ["ring %d" % i for i in range(30, 50)], "the newest 20, oldest first")
    t.clean_exit(d)


@suite.test("GET /log with bad parameters: 400 with a JSON error")
def _(t):
    for q in ("?priority=bogus", "?priority=8", "?since=yesterday", "?since=2026-01-01", "?since=",
              "?limit=0", "?limit=1001", "?limit=abc", "?limit=", "?limit=-1", "?what=1", "?limit=5&limit=6"):
        t.json_error(logd().get("/log" + q), 400, "GET /log%s" % q)
    t.eq(len(get_log("?limit=1000")) <= 1000, True, "limit=1000 allowed")


@suite.test("other methods on /log: 405 with Allow; other paths: 404")
def _(t):
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        r = logd().request(m, "/log", body=b"x" if m != "OPTIONS" else None, headers=TEXT)
        t.json_error(r, 405, "%s /log" % m)
        allow = sorted(x.strip() for x in (r.header("Allow") or "").split(","))
        t.true("POST" in allow and "GET" in allow, "Allow names POST and GET: %r" % allow)
    r = logd().request("HEAD", "/log")
    t.status(r, 200, "HEAD /log")
    for p in ("/", "/logs", "/log/x"):
        t.json_error(logd().request("POST", p, body=b"x", headers=TEXT), 404, "POST %s" % p)


@suite.test("messages over 8 KiB are truncated with ' [truncated N bytes]'; 8 KiB exactly is not")
def _(t):
    exact = "e" * 8192
    t.status(post_json({"service": "Big", "message": exact}), 200)
    t.eq(last_lines(1)[0].message, exact, "8192 bytes kept whole")
    t.status(post_json({"service": "Big", "message": "x" * 10000}), 200)
    t.eq(last_lines(1)[0].message, "x" * 8192 + " [truncated 1808 bytes]", "10000-byte message")
    t.status(post_text("[Big] - " + "y" * 100000), 200)
    t.eq(last_lines(1)[0].message, "y" * 8192 + " [truncated 91808 bytes]", "100000-byte text message")
    got = [e for e in get_log("?service=Big")][-1]["message"]
    t.true(got.startswith("y" * 100) and len(got.encode()) <= 2048 and "truncated" in got,
           "GET /log keeps a bounded, marked part: %d bytes" % len(got.encode()))
    # A multi-byte character is counted in bytes.
    t.status(post_json({"service": "Big", "message": "\u00e4" * 5000}), 200)
    t.true(last_lines(1)[0].message.endswith(" [truncated 1808 bytes]"), "marker counts bytes")
    # A cut through a character never writes a broken sequence raw.
    t.status(post_json({"service": "Big", "message": "a" + "\u00e4" * 5000}), 200)
    raw = central().raw_lines()[-1]
    raw.decode("utf-8")
    t.diag("cut inside a character ends with %r" % raw[-40:])
    t.true(raw.endswith(b" [truncated 1809 bytes]"), "marker: %r" % raw[-40:])


INJECTIONS = [
    "line one\n2026-01-01T00:00:00.000Z [RegistryService] crit: forged",
    "carriage\rreturn",
    "crlf\r\n2026-01-01T00:00:00.000Z [X] emerg: forged",
    "tab\there",
    "escape \u001b[31mred\u001b[0m",
    "bell\u0007 and backspace\u0008\u0008 and DEL\u007f",
    "backslash \\n is not a newline",
    "vertical\u000btab and form\u000cfeed",
    "unicode line separator\u2028paragraph\u2029ok",
    "Notenb\u00fcro \u2603 \U0001f600",
]


@suite.test("log injection: newlines and control characters in JSON messages stay on one escaped line")
def _(t):
    before = len(central().raw_lines())
    t.status(post_json([{"service": "Inject", "priority": "info", "message": m} for m in INJECTIONS]), 200)
    raw = central().raw_lines()
    t.eq(len(raw), before + len(INJECTIONS), "one line per entry")
    got = central().lines()[-len(INJECTIONS):]
    for m, l in zip(INJECTIONS, got):
        t.true(l.ok, "line parses: %r" % l.raw)
        t.eq((l.service, l.priority), ("Inject", "info"), "service and priority of %r" % m)
        t.eq(l.message, escape(m), "escaped message of %r" % m)
    for l in got:
        t.true(all(b >= 0x20 and b != 0x7f for b in l.raw), "no raw control byte in %r" % l.raw)
    msgs = [e["message"] for e in get_log("?service=Inject")]
    t.eq(msgs, [escape(m) for m in INJECTIONS], "GET /log has the escaped messages")


@suite.test("log injection: a text/plain body with newlines stays one line")
def _(t):
    before = len(central().raw_lines())
    body = "[GradingService] - first\n2026-01-01T00:00:00.000Z [RegistryService] emerg: forged\r\nlast\n"
    t.status(post_text(body), 200)
    raw = central().raw_lines()
    t.eq(len(raw), before + 1, "one line")
    l = central().lines()[-1]
    t.eq(l.service, "GradingService", "service")
    t.eq(l.message, "first\\n2026-01-01T00:00:00.000Z [RegistryService] emerg: forged\\r\\nlast", "message")


@suite.test("log injection: a service name with ']' or a backslash cannot forge the priority field")
def _(t):
    t.status(post_json({"service": "Evil] emerg: forged [x", "priority": "debug", "message": "m"}), 200)
    l = last_lines(1)[0]
    t.true(l.ok, "line parses: %r" % l.raw)
    t.eq(l.priority, "debug", "priority field")
    t.eq(l.raw.count(b"]"), 1, "one ']' on the line (the closing one): %r" % l.raw)
    t.status(post_json({"service": "Back\\slash", "message": "m"}), 200)
    t.eq(last_lines(1)[0].service, "Back\\\\slash", "backslash doubled in the service")


@suite.test("log injection: C1 control characters (U+0085 NEL, U+009B CSI) are escaped too")
def _(t):
    msgs = ["next\u0085line", "csi \u009b31m red", "c1 \u0080 to \u009f"]
    t.status(post_json([{"service": "C1", "message": m} for m in msgs]), 200)
    got = central().lines()[-len(msgs):]
    for m, l in zip(msgs, got):
        t.true(l.ok and l.service == "C1", "line parses: %r" % l.raw)
        for c in range(0x80, 0xa0):
            t.not_contains(l.raw, chr(c).encode("utf-8"), "raw C1 control U+%04X in the line for %r" % (c, m))


@suite.test("invalid UTF-8 and control bytes (NUL, ESC) in a text body are escaped as \\xHH; valid UTF-8 passes")
def _(t):
    cases = [(b"bad \xff\xfe bytes", "bad \\xff\\xfe bytes"),
             (b"nul \x00 byte", "nul \\x00 byte"),
             (b"esc \x1b[31m and DEL \x7f", "esc \\x1b[31m and DEL \\x7f"),
             (b"overlong \xc0\xaf slash", "overlong \\xc0\\xaf slash"),
             (b"surrogate \xed\xa0\x80 half", "surrogate \\xed\\xa0\\x80 half"),
             (b"truncated \xe2\x82", "truncated \\xe2\\x82"),
             (b"latin-1 caf\xe9", "latin-1 caf\\xe9"),
             ("valid Notenb\u00fcro \u2603".encode(), "valid Notenb\u00fcro \u2603")]
    for body, want in cases:
        t.status(post_text(b"[Utf8] - " + body), 200, "POST %r" % body)
        raw = central().raw_lines()[-1]
        raw.decode("utf-8")  # raises if anything invalid was written
        t.eq(central().lines()[-1].message, want, "line for %r" % body)
    r = logd().get("/log?service=Utf8")
    t.status(r, 200)
    got = [e["message"] for e in json.loads(r.body.decode("utf-8"))]
    t.eq(got, [w for _, w in cases], "GET /log")


@suite.test("invalid UTF-8 in the service name of a text body: file and GET /log stay valid UTF-8")
def _(t):
    t.status(post_text(b"[Svc\xff\xfe] - message from a bad name"), 200)
    raw = central().raw_lines()[-1]
    t.true(b"\xff" not in raw, "no raw 0xff in the file: %r" % raw)
    r = logd().get("/log?limit=3")
    t.status(r, 200)
    try:
        r.body.decode("utf-8")
    except UnicodeDecodeError as e:
        t.fail("GET /log is not valid UTF-8 (%s): %r" % (e, r.body[-300:]))


@suite.test("SIGHUP after logrotate's rename: new lines go to a new central.log, the old file keeps the old ones")
def _(t):
    path = central().path
    t.status(post_text("[Rotate] - before rotation"), 200)
    old_size = os.path.getsize(path)
    rotated = path + ".1"
    os.rename(path, rotated)
    t.status(post_text("[Rotate] - after rename, before SIGHUP"), 200)
    logd().send_signal(signal.SIGHUP)
    t.true(wait_until(lambda: os.path.exists(path), slack(10)), "a new central.log appears after SIGHUP")
    t.status(post_text("[Rotate] - after SIGHUP"), 200)
    new = CentralLog(st["logs"])
    old = CentralLog(st["logs"], "central.log.1")
    t.eq(new.messages("Rotate"), ["after SIGHUP"], "the new file's Rotate lines")
    t.eq(old.messages("Rotate")[-2:], ["before rotation", "after rename, before SIGHUP"], "the old file's last lines")
    t.true(os.path.getsize(rotated) > old_size, "the old file got the line written before SIGHUP")
    t.eq([l.raw for l in new.lines() if not l.ok] + [l.raw for l in old.lines() if not l.ok], [], "whole lines")
    t.eq(get_log("?service=Rotate")[-1]["message"], "after SIGHUP", "GET /log")


@suite.test("SIGHUP when the new file cannot be opened: logd keeps writing to the old one, and reopens later")
def _(t):
    path = central().path
    rotated = path + ".2"
    os.rename(path, rotated)
    os.mkdir(path)  # open() of a directory for writing fails (EISDIR), even as root
    try:
        logd().send_signal(signal.SIGHUP)
        t.true(wait_until(lambda: "Failed to reopen" in logd().stderr(), slack(10)), "the failure is logged")
        t.true(logd().alive(), "still running")
        t.status(post_text("[Rotate] - while the reopen failed"), 200)
        t.eq(CentralLog(st["logs"], "central.log.2").messages("Rotate")[-1], "while the reopen failed",
             "the line went to the old file")
    finally:
        os.rmdir(path)
    logd().send_signal(signal.SIGHUP)
    t.true(wait_until(lambda: os.path.exists(path), slack(10)), "central.log appears after the second SIGHUP")
    t.status(post_text("[Rotate] - reopened"), 200)
    t.eq(central().messages("Rotate"), ["reopened"], "the new file")


@suite.test("$LOGS_DIRECTORY is used without --logs-directory; the directory is created")
def _(t):
    base = suite.tmpdir()
    logs = os.path.join(base, "logs")
    d = suite.daemon("logd", ["--registry=" + dead_url()], env={"LOGS_DIRECTORY": logs})
    t.status(post_text("[Env] - via LOGS_DIRECTORY", d=d), 200)
    t.eq(CentralLog(logs).messages("Env"), ["via LOGS_DIRECTORY"], "line in $LOGS_DIRECTORY/central.log")
    t.clean_exit(d)


@suite.test("logd's own lines are in the central log as LogService")
def _(t):
    own = central().lines("LogService")
    t.true(any(l.message.startswith("Reopened ") for l in own), "the reopen notice: %r" % [l.message for l in own])


@suite.test("SIGTERM with an idle keep-alive client connection open (as the registry's heartbeats leave one): "
            "exit status 0 within 3 s, no 'work unfinished' warning")
def _(t):
    logs = suite.tmpdir()
    d = start_logd(suite, logs)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        s.sendall(b"GET /log?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        t.true(raw_response(s).startswith(b"HTTP/1.1 200"), "a 200 on the keep-alive connection")
        started = time.monotonic()
        status, stderr = d.stop(timeout=30)
        took = time.monotonic() - started
    finally:
        s.close()
    t.check_stderr(d, stderr)
    t.diag("stopped in %.1f s, exit status %s" % (took, status))
    if status != 0:
        t.diag("stderr (tail):\n%s" % stderr[-400:])
    t.eq(status, 0, "exit status")
    t.not_contains(stderr, "work unfinished", "stderr (an idle connection is no unfinished work)")
    t.le(took, slack(3), "seconds from SIGTERM to exit")


@suite.test("SIGTERM: exit status 0, no sanitizer report; lines written so far are whole")
def _(t):
    t.clean_exit(logd())
    t.true(central().data().endswith(b"\n"), "file ends with a newline")
    t.true(any(l.message.startswith("Shutting down") for l in central().lines("LogService")),
           "logd's 'Shutting down.' is in the central log")
    t.clean_exit(st["reg"])


suite.run()
