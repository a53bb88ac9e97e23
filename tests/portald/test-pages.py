#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-portald: the pages over HTTP, with the whole system running
# (registry, log, grading, portal): /, /students, /students/{id}, the
# add-a-grade form's happy path, /status, the stylesheet, escaping,
# accessibility, 404 pages, templates read from data/templates.
import os
import re
import shutil
import signal
import subprocess
import time

from grades_test import Suite, Daemon, http, srcdir, wait_until
from portal_helpers import System, add_student, content_type, deregister, parse_html, providers, register, slack

suite = Suite("portald: pages")
S = {}

HTML = "text/html"


def system():
    if "sys" not in S:
        S["sys"] = System(suite).start()
    return S["sys"]


def grading_json(path):
    return system().grading.get_json(path)


def average_text(student):
    avg = student.get("Average")
    return "no grades yet" if avg is None else "%.1f" % avg


def check_html(t, r, status, what):
    t.status(r, status, what)
    t.eq(content_type(r), HTML, "%s: Content-Type" % what)
    t.contains((r.header("Content-Type") or "").lower(), "charset=utf-8", "%s: charset" % what)
    try:
        text = r.body.decode("utf-8")
    except UnicodeDecodeError as e:
        t.fail("%s: the page is not valid UTF-8: %s" % (what, e))
    page = parse_html(text)
    t.eq(page.errors, [], "%s: HTML structure problems" % what)
    return page


def check_accessible(t, page, what):
    """Plain, accessible HTML: language, title, viewport, one h1, labelled
    fields, tables with captions and header cells, no scripts."""
    t.eq(page.lang, "en", "%s: <html lang>" % what)
    t.true(page.title and page.title.endswith(" · grades") and len(page.title) > len(" · grades"),
           "%s: a page title, got %r" % (what, page.title))
    t.eq(len(page.h1), 1, "%s: one <h1>" % what)
    t.true(page.h1[0], "%s: the <h1> has text" % what)
    t.true(page.title.startswith(page.h1[0]), "%s: title %r starts with the h1 %r" % (what, page.title, page.h1[0]))
    t.true("width=device-width" in (page.meta.get("viewport") or ""), "%s: viewport meta for phones" % what)
    t.eq(page.scripts, 0, "%s: <script> elements" % what)
    t.eq(page.stylesheets, ["/static/style.css"], "%s: the one stylesheet" % what)
    for tag, a in page.elements:
        t.true("style" not in a, "%s: no inline style attributes (<%s style=...>)" % (what, tag))
        t.true(not any(k.startswith("on") for k in a), "%s: no event handler attributes on <%s>" % (what, tag))
    for form in page.forms:
        for inp in form["inputs"]:
            if inp.get("type") == "hidden":
                continue
            t.true(inp.get("id") and inp["id"] in page.labels,
                   "%s: field %r has a <label for=...>: labels %r" % (what, inp.get("name"), page.labels))
            t.true(page.labels[inp["id"]], "%s: label of %r has text" % (what, inp.get("name")))
    for table in page.tables:
        t.true(table["caption"], "%s: every table has a caption" % what)
        t.true(table["headers"], "%s: table %r has header cells" % (what, table["caption"]))
        for text, scope in table["headers"]:
            t.eq(scope, "col", "%s: scope of header %r" % (what, text))
    t.eq(len(page.ids), len(set(page.ids)), "%s: ids are unique" % what)


# ------------------------------------------------------------------ cases

@suite.test("the system starts; the portal registers as PortalService, requiring LogService and GradingService")
def _(t):
    s = system()
    got = s.registry.get_json("/services/PortalService")
    t.eq([e["ServiceURL"] for e in got], [s.portal.url], "PortalService providers")
    t.eq(sorted(got[0]["RequiredServices"]), ["GradingService", "LogService"], "RequiredServices")
    t.eq(got[0]["HeartbeatURL"], s.portal.url + "/heartbeat", "HeartbeatURL")
    p = providers(s.portal)
    t.eq(p.get("GradingService"), [s.grading.url], "grading in the portal's discovery")
    t.eq(p.get("LogService"), [s.log.url], "log in the portal's discovery")


@suite.test("GET / redirects to /students")
def _(t):
    r = http(system().url, "GET", "/")
    t.true(r.status in (301, 302, 303, 307, 308), "a redirect, got %d" % r.status)
    loc = r.header("Location") or ""
    t.true(loc == "/students" or loc.endswith("://127.0.0.1:%d/students" % system().portal.port),
           "Location is /students, got %r" % loc)


@suite.test("GET / redirect body is clean HTML (no NUL byte)")
def _(t):
    r = http(system().url, "GET", "/")
    t.not_contains(r.body, b"\0", "body of the redirect")
    t.eq(int(r.header("Content-Length")), len(r.body.rstrip(b"\0")), "Content-Length counts only the HTML")


@suite.test("GET /students lists every student with the average, each linking to /students/{id}")
def _(t):
    r = http(system().url, "GET", "/students")
    page = check_html(t, r, 200, "/students")
    t.eq(page.h1, ["Students"], "h1")
    t.eq(page.title, "Students · grades", "title")
    students = grading_json("/students")
    t.ge(len(students), 5, "students seeded from data/students.json")
    table = page.table("students")
    t.true(table, "a table of students")
    t.eq([h for h, _ in table["headers"]], ["Name", "Average"], "column headers")
    t.eq(len(table["rows"]), len(students), "one row per student")
    for st in students:
        name = "%s %s" % (st["FirstName"], st["LastName"])
        href = "/students/%d" % st["ID"]
        t.eq(page.link_to(href), [name], "link to %s" % href)
        row = [row for row in table["rows"] if row[0] == name]
        t.eq(len(row), 1, "row of %s" % name)
        t.eq(row[0][1], average_text(st), "average of %s" % name)
    t.eq(page.link_to("/status"), ["System status"], "navigation to /status")


@suite.test("a student without grades shows 'no grades yet' (no NaN), on the list and the student page")
def _(t):
    st = add_student(system().grading.url, "Nora", "Nograde")
    S["nograde"] = st["ID"]
    page = check_html(t, http(system().url, "GET", "/students"), 200, "/students")
    row = [row for row in page.table("students")["rows"] if row[0] == "Nora Nograde"]
    t.eq(row, [["Nora Nograde", "no grades yet"]], "the row")
    t.not_contains(page.text.lower(), "nan", "page text")
    page = check_html(t, http(system().url, "GET", "/students/%d" % st["ID"]), 200, "student page")
    t.contains(page.text, "Average: no grades yet", "average")
    t.contains(page.text, "No grades yet.", "empty grade list")
    t.eq([tb for tb in page.tables], [], "no empty grade table")
    t.eq(len(page.forms), 1, "the form is there anyway")


@suite.test("GET /students/{id} shows the grade table, the average and the Add a grade form")
def _(t):
    r = http(system().url, "GET", "/students/1")
    page = check_html(t, r, 200, "/students/1")
    st = grading_json("/students/1")
    name = "%s %s" % (st["FirstName"], st["LastName"])
    t.eq(page.h1, [name], "h1")
    t.eq(page.title, name + " · grades", "title")
    t.contains(page.text, "Average: %s" % average_text(st), "average")
    table = page.table("Grades of")
    t.true(table, "a grade table")
    t.eq(table["caption"], "Grades of %s" % name, "caption")
    t.eq([h for h, _ in table["headers"]], ["Title", "Type", "Score"], "column headers")
    t.eq(len(table["rows"]), len(st["Grades"]), "one row per grade")
    for row, g in zip(table["rows"], st["Grades"]):
        t.eq(row[:2], [g["Title"], g["Type"]], "title and type")
        t.eq(float(row[2]), float(g["Score"]), "score")
    t.contains(page.text, "Add a grade", "form heading")
    t.eq(len(page.forms), 1, "one form")
    form = page.forms[0]
    t.eq(form["action"], "/students/1/grades", "form action")
    t.eq(form["method"], "post", "form method")
    t.eq(sorted(form["fields"]), ["Score", "Title", "Type", "csrf"], "form fields")
    t.eq(form["selects"]["Type"]["options"], ["Quiz", "Test", "Exam", "Homework"], "grade types")
    t.eq([page.labels.get(i) for i in ("title", "type", "score")], ["Title", "Type", "Score"], "labels")
    t.true(re.fullmatch(r"[0-9a-f]{32}", form["fields"]["csrf"]), "csrf token is 32 hex digits")
    cookies = [v for k, v in r.headers if k.lower() == "set-cookie"]
    t.eq(len(cookies), 1, "one Set-Cookie")
    parts = [p.strip() for p in cookies[0].split(";")]
    t.eq(parts[0], "grades_csrf=" + form["fields"]["csrf"], "the cookie holds the form's token")
    attrs = {p.split("=")[0].lower(): p.partition("=")[2] for p in parts[1:]}
    t.true("httponly" in attrs, "HttpOnly: %r" % cookies[0])
    t.eq(attrs.get("samesite", "").lower(), "strict", "SameSite")
    t.eq(attrs.get("path"), "/", "Path")


@suite.test("a second visit with the cookie keeps its token (no new Set-Cookie)")
def _(t):
    b = system().browser()
    r1, p1 = b.page("/students/1")
    r2, p2 = b.page("/students/2")
    t.eq(b.last_set_cookies, [], "Set-Cookie on the second visit")
    t.eq(p2.forms[0]["fields"]["csrf"], p1.forms[0]["fields"]["csrf"], "same token in the form")
    other = system().browser()
    _, p3 = other.page("/students/1")
    t.ne(p3.forms[0]["fields"]["csrf"], p1.forms[0]["fields"]["csrf"], "another visitor gets another token")


@suite.test("submitting the form adds the grade: 303 See Other to the student page, which shows it and the average")
def _(t):
    s = system()
    b = s.browser()
    _, page = b.page("/students/2")
    before = grading_json("/students/2")
    r = b.submit(page, {"Title": "Pages quiz", "Type": "Homework", "Score": "64.5"})
    t.status(r, 303, "POST of the form")
    t.eq(r.header("Location"), "/students/2", "Location")
    after = grading_json("/students/2")
    t.eq(len(after["Grades"]), len(before["Grades"]) + 1, "grades stored by the grading service")
    g = after["Grades"][-1]
    t.eq((g["Title"], g["Type"], float(g["Score"])), ("Pages quiz", "Homework", 64.5), "the new grade")
    _, page = b.page(r.header("Location"))
    rows = page.table("Grades of")["rows"]
    t.eq(rows[-1][:2], ["Pages quiz", "Homework"], "the new row")
    t.eq(float(rows[-1][2]), 64.5, "its score")
    scores = [float(x["Score"]) for x in after["Grades"]]
    t.contains(page.text, "Average: %.1f" % (sum(scores) / len(scores)), "the new average")
    t.eq(page.forms[0]["fields"]["Title"], "", "the form is empty again")
    _, lst = b.page("/students")
    row = [row for row in lst.table("students")["rows"] if row[0] == "%s %s" % (after["FirstName"], after["LastName"])]
    t.eq(row[0][1], "%.1f" % (sum(scores) / len(scores)), "the list shows the new average")


@suite.test("a student named <script>alert(1)</script> shows as text on the list and the student page")
def _(t):
    s = system()
    st = add_student(s.url, "<script>alert(1)</script>", "X", path="/api/students")
    name = "<script>alert(1)</script> X"
    for path in ("/students", "/students/%d" % st["ID"]):
        r = http(s.url, "GET", path)
        page = check_html(t, r, 200, path)
        t.not_contains(r.body, b"<script>", "%s: raw <script> in the HTML" % path)
        t.contains(r.body, b"&lt;script&gt;alert(1)&lt;/script&gt;", "%s: the name, escaped" % path)
        t.eq(page.scripts, 0, "%s: script elements" % path)
        if path == "/students":
            t.eq(page.link_to("/students/%d" % st["ID"]), [name], "link text")
        else:
            t.eq(page.h1, [name], "h1")
            t.eq(page.title, name + " · grades", "title")
            t.eq(page.table("Grades of"), None, "no grades yet")


@suite.test("quotes, ampersands and HTML in names and grade titles are escaped, in text and attributes")
def _(t):
    s = system()
    first, last = "\"Tom\" & 'Jerry'", "<b>O'Neil</b>"
    st = add_student(s.grading.url, first, last)
    b = s.browser()
    _, page = b.page("/students/%d" % st["ID"])
    title = "<img src=x onerror=alert(1)> & \"q\" 'a'"
    r = b.submit(page, {"Title": title, "Type": "Quiz", "Score": "50"})
    t.status(r, 303, "adding a grade titled with HTML")
    r = b.get("/students/%d" % st["ID"])
    page = check_html(t, r, 200, "student page")
    t.not_contains(r.body, b"<img", "raw <img> in the HTML")
    t.not_contains(r.body, b"<b>", "raw <b> in the HTML")
    t.eq(page.h1, ["%s %s" % (first, last)], "h1")
    t.eq(page.table("Grades of")["rows"][0][0], title, "the grade's title as text")
    t.eq(len([e for e in page.elements if e[0] in ("img", "b")]), 0, "no <img> or <b> elements")


@suite.test("a long name of multi-byte characters shows whole, as valid UTF-8")
def _(t):
    s = system()
    first, last = "\u00e9" * 100, "\u00fc" * 100
    st = add_student(s.grading.url, first, last)
    r = http(s.url, "GET", "/students/%d" % st["ID"])
    page = check_html(t, r, 200, "student page")
    t.eq(page.h1, ["%s %s" % (first, last)], "h1 of a 100 + 100 character name")
    t.eq(page.title, "%s %s · grades" % (first, last), "title")


@suite.test("/status lists every registered service with name, URL, health and last check")
def _(t):
    s = system()
    # Wait until the registry has probed every service once.
    wait_until(lambda: all(e["LastCheck"] for e in s.registry.get_json("/services")), slack(5), 0.05)
    # One more that is never probed (no heartbeat URL), with HTML in its name.
    odd = "<img src=x onerror=alert(1)>"
    t.status(register(s.registry, odd, "http://127.0.0.1:7998"), 200, "registering a service without heartbeat")
    r = http(s.url, "GET", "/status")
    page = check_html(t, r, 200, "/status")
    t.eq(page.h1, ["System status"], "h1")
    services = s.registry.get_json("/services")
    table = page.table("services")
    t.true(table, "a table of services")
    t.eq([h for h, _ in table["headers"]][:4], ["Service", "URL", "Health", "Last check"], "column headers")
    t.eq(len(table["rows"]), len(services), "one row per registered service")
    names = {e["ServiceName"] for e in services}
    t.true({"LogService", "GradingService", "PortalService"} <= names, "the three services registered: %r" % names)
    for e in services:
        row = [row for row in table["rows"] if row[1] == e["ServiceURL"]]
        t.eq(len(row), 1, "row of %s" % e["ServiceURL"])
        t.eq(row[0][0], e["ServiceName"], "name")
        t.eq(row[0][2], e["Status"], "health")
        t.true(row[0][3], "last check shown")
        if e["LastCheck"]:
            # the registry may have probed again between the two reads
            t.true(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[0][3]), "last check time %r" % row[0][3])
    t.contains(page.text, s.registry.url, "the registry's URL")
    t.eq([row[2:4] for row in table["rows"] if row[0] == odd], [["unknown", "not yet"]],
         "a service never probed: health unknown, last check 'not yet'")
    t.not_contains(r.body, b"<img", "raw HTML from a service name")
    deregister(s.registry, "http://127.0.0.1:7998")


@suite.test("/status shows the latest central log lines from the log service")
def _(t):
    s = system()
    marker = "status-page-marker-%d" % os.getpid()
    r = s.log.request("POST", "/log", body="<b>%s</b> & more" % marker, headers={"Content-Type": "text/plain"})
    t.true(r.status in (200, 201, 204), "POST /log to the log service: %d %r" % (r.status, r.body[:200]))
    r = http(s.url, "GET", "/status")
    page = check_html(t, r, 200, "/status")
    table = page.table("log")
    t.true(table, "a table of log lines")
    t.eq([h for h, _ in table["headers"]], ["Time", "Service", "Priority", "Message"], "column headers")
    t.true(0 < len(table["rows"]) <= 30, "1 to 30 lines, got %d" % len(table["rows"]))
    mine = [row for row in table["rows"] if marker in row[3]]
    t.eq(len(mine), 1, "the line just logged")
    t.eq(mine[0][3], "<b>%s</b> & more" % marker, "the message, as text")
    t.not_contains(r.body, b"<b>status-page", "raw HTML from a log line")
    latest = s.log.get_json("/log?limit=30")
    t.eq(table["rows"][-1][3], latest[-1]["message"], "the newest line last")
    t.true(any(row[1] == "PortalService" for row in table["rows"]) or
           any(e["service"] == "PortalService" for e in s.log.get_json("/log?service=PortalService")),
           "the portal ships its own lines to the log service")


@suite.test("the stylesheet is data/static/style.css, small, served as text/css")
def _(t):
    r = http(system().url, "GET", "/static/style.css")
    t.status(r, 200, "GET /static/style.css")
    t.eq(content_type(r), "text/css", "Content-Type")
    with open(os.path.join(srcdir(), "data", "static", "style.css"), "rb") as f:
        t.eq(r.body, f.read(), "the file's bytes")
    t.le(len(r.body), 10 * 1024, "size in bytes")
    t.contains(r.body, b"@media", "a rule for small screens")


@suite.test("pages are plain, accessible HTML: lang, titles, viewport, one h1, labels, table headers, no scripts")
def _(t):
    s = system()
    for path, status in (("/students", 200), ("/students/1", 200), ("/students/%d" % S.get("nograde", 1), 200),
                         ("/status", 200), ("/students/999999", 404), ("/no/such/page", 404)):
        page = check_html(t, http(s.url, "GET", path), status, path)
        check_accessible(t, page, path)


@suite.test("an unknown student is a 404 page")
def _(t):
    s = system()
    for path in ("/students/999999", "/students/0", "/students/abc", "/students/01", "/students/-1",
                 "/students/99999999999999999999"):
        page = check_html(t, http(s.url, "GET", path), 404, path)
        t.eq(page.h1, ["Student not found"], "%s: h1" % path)
        t.eq(len(page.alerts), 1, "%s: one message" % path)
        t.eq(page.link_to("/students"), ["grades", "Students", "Back to the students"], "%s: ways on" % path)
        t.eq(page.forms, [], "%s: no form" % path)


@suite.test("an unknown page is a 404 HTML page")
def _(t):
    for path in ("/nope", "/students/1/extra", "/static/missing.css", "/index.html"):
        page = check_html(t, http(system().url, "GET", path), 404, path)
        t.eq(page.h1, ["Page not found"], "%s: h1" % path)


@suite.test("the HTML comes from data/templates: another --data-directory changes the pages")
def _(t):
    s = system()
    data = os.path.join(suite.tmpdir(), "data")
    shutil.copytree(os.path.join(srcdir(), "data", "templates"), os.path.join(data, "templates"))
    shutil.copytree(os.path.join(srcdir(), "data", "static"), os.path.join(data, "static"))
    with open(os.path.join(data, "templates", "students.html"), "a") as f:
        f.write("<p id=\"marker\">Template marker {{students.0.FirstName}}</p>\n")
    with open(os.path.join(data, "static", "style.css"), "a") as f:
        f.write("/* css marker */\n")
    d = suite.daemon("portald", args=["--registry=" + s.registry.url, "--data-directory=" + data],
                     ready_path="/providers")
    S["portal2"] = d
    wait_until(lambda: providers(d).get("GradingService"), slack(10), 0.05)
    page = check_html(t, http(d.url, "GET", "/students"), 200, "/students of the second portal")
    t.contains(page.text, "Template marker Nick", "the marker rendered from the changed template")
    t.contains(http(d.url, "GET", "/static/style.css").body, b"css marker", "the changed stylesheet")


@suite.test("a template with a syntax error: the portal refuses to start and names the file")
def _(t):
    data = os.path.join(suite.tmpdir(), "data")
    shutil.copytree(os.path.join(srcdir(), "data", "templates"), os.path.join(data, "templates"))
    shutil.copytree(os.path.join(srcdir(), "data", "static"), os.path.join(data, "static"))
    with open(os.path.join(data, "templates", "status.html"), "a") as f:
        f.write("{{#services}} never closed\n")
    d = Daemon("portald", args=["--registry=http://127.0.0.1:1", "--data-directory=" + data], wait_ready=False)
    suite.on_cleanup(d.kill)
    d.start()
    try:
        d.proc.wait(slack(10))
    except subprocess.TimeoutExpired:
        t.fail("the portal is still running with a broken template")
    status, stderr = d.stop()
    t.check_stderr(d, stderr)
    t.ne(status, 0, "exit status")
    t.contains(stderr, "status.html", "the message names the file")
    t.contains(stderr, "section not closed", "and the error")


@suite.test("SIGTERM while the registry keeps its connections open: the portal exits 0 within 3 s, no warning")
def _(t):
    # The registry's heartbeats and patches leave idle keep-alive
    # connections to the portal; they must not hold the shutdown up.
    s = system()
    t0 = time.monotonic()
    stderr = t.clean_exit(s.portal, signal.SIGTERM)
    took = time.monotonic() - t0
    t.diag("stopped in %.2f s" % took)
    warnings = [line for line in stderr.splitlines() if re.match(r"<[0-4]>", line)]
    t.eq(warnings, [], "warnings or errors logged")
    t.le(took, slack(3), "seconds from SIGTERM to exit")


@suite.test("SIGTERM: every other daemon exits with status 0, no sanitizer report")
def _(t):
    daemons = ([S["portal2"]] if "portal2" in S else []) + system().daemons()
    failed = []
    for d in daemons:
        if d is system().portal:
            continue
        try:
            t.clean_exit(d, signal.SIGTERM)
        except Exception as e:
            failed.append(str(e))
    t.eq(failed, [], "unclean exits")


suite.run()
