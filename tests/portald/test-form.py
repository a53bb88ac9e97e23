#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-portald: the add-a-grade form, every path. The CSRF token
# (double-submit cookie grades_csrf + hidden field csrf): missing, forged or
# mismatched -> 403 and nothing stored. Invalid input -> the form again (400)
# with the message and the values typed, nothing stored. Unknown student ->
# 404 page. Valid edge values -> 303 and stored.
import signal

from grades_test import Suite, http
from portal_helpers import System, content_type, form_body, parse_html

suite = Suite("portald: the add-a-grade form")
S = {}
SID = 3  # a seeded student


def system():
    if "sys" not in S:
        S["sys"] = System(suite).start()
    return S["sys"]


def grades(sid=SID):
    return system().grading.get_json("/students/%d" % sid)["Grades"]


def fresh(sid=SID):
    """A browser that has just loaded the student page: (browser, page)."""
    b = system().browser()
    r, page = b.page("/students/%d" % sid)
    return b, page


def html_page(t, r, status, what):
    t.status(r, status, what)
    t.eq(content_type(r), "text/html", "%s: Content-Type" % what)
    return parse_html(r.body)


def forbidden(t, r, what):
    page = html_page(t, r, 403, what)
    t.eq(len(page.alerts), 1, "%s: a message" % what)
    t.contains(page.alerts[0].lower(), "token", "%s: the message says why" % what)
    t.eq(r.header("Location"), None, "%s: no redirect" % what)
    return page


# ------------------------------------------------------------------- CSRF

@suite.test("the system starts; the form carries the token of the grades_csrf cookie")
def _(t):
    b, page = fresh()
    token = page.forms[0]["fields"]["csrf"]
    t.eq(b.cookies.get("grades_csrf"), token, "cookie and hidden field")


@suite.test("a POST without the csrf field -> 403 page, nothing stored")
def _(t):
    b, page = fresh()
    before = grades()
    forbidden(t, b.submit(page, {"Title": "No token", "Type": "Quiz", "Score": "50"}, drop=["csrf"]), "no field")
    t.eq(grades(), before, "grades")


@suite.test("a POST with an empty csrf field -> 403")
def _(t):
    b, page = fresh()
    before = grades()
    forbidden(t, b.submit(page, {"Title": "Empty", "Type": "Quiz", "Score": "50"}, override={"csrf": ""}), "empty")
    t.eq(grades(), before, "grades")


@suite.test("a POST whose csrf field differs from the cookie -> 403")
def _(t):
    b, page = fresh()
    before = grades()
    token = page.forms[0]["fields"]["csrf"]
    other = ("0" if token[0] != "0" else "1") + token[1:]
    forbidden(t, b.submit(page, {"Title": "Forged", "Type": "Quiz", "Score": "50"}, override={"csrf": other}),
              "one digit changed")
    # Another visitor's valid token does not fit this visitor's cookie.
    _, page2 = fresh()
    forbidden(t, b.submit(page, {"Title": "Forged", "Type": "Quiz", "Score": "50"},
                          override={"csrf": page2.forms[0]["fields"]["csrf"]}), "another visitor's token")
    t.eq(grades(), before, "grades")


@suite.test("a POST with the field but without the cookie (a cross-site form) -> 403")
def _(t):
    b, page = fresh()
    before = grades()
    b.cookies.clear()
    forbidden(t, b.submit(page, {"Title": "Cross-site", "Type": "Quiz", "Score": "50"}), "no cookie")
    t.eq(grades(), before, "grades")


@suite.test("malformed tokens -> 403: upper-case hex, too short, too long, not hex, in both places")
def _(t):
    before = grades()
    for token in ("ABCDEF0123456789ABCDEF0123456789", "abc", "a" * 33, "g" * 32, "a" * 31 + "\u00e9",
                  " " + "a" * 31):
        r = http(system().url, "POST", "/students/%d/grades" % SID,
                 body=form_body({"Title": "Bad token", "Type": "Quiz", "Score": "50", "csrf": token}),
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": "grades_csrf=" + token.encode("utf-8").decode("latin-1")})
        forbidden(t, r, "token %r" % token)
    t.eq(grades(), before, "grades")


@suite.test("the token is found among other cookies; a valid POST then is accepted (303)")
def _(t):
    b, page = fresh()
    token = b.cookies["grades_csrf"]
    r = http(system().url, "POST", "/students/%d/grades" % SID,
             body=form_body({"Title": "Among cookies", "Type": "Quiz", "Score": "61", "csrf": token}),
             headers={"Content-Type": "application/x-www-form-urlencoded",
                      "Cookie": "a=1; grades_csrf=zz; theme=dark; grades_csrf=%s; b=2" % token})
    t.status(r, 303, "POST")
    t.eq(grades()[-1]["Title"], "Among cookies", "stored")


@suite.test("the CSRF check comes first: a forged POST with invalid input is a 403, not the form")
def _(t):
    b, page = fresh()
    forbidden(t, b.submit(page, {"Title": "", "Type": "Nope", "Score": "x"}, drop=["csrf"]), "forged and invalid")


# ------------------------------------------------------------ invalid input

def invalid(description, values, message_part, drop=()):
    @suite.test("invalid input: %s -> the form again with the message and the values typed, nothing stored"
                % description)
    def _(t):
        b, page = fresh()
        before = grades()
        token = page.forms[0]["fields"]["csrf"]
        r = b.submit(page, values, drop=drop)
        again = html_page(t, r, 400, "POST")
        t.eq(r.header("Location"), None, "no redirect")
        t.eq(grades(), before, "grades stored")
        t.eq(len(again.alerts), 1, "one message")
        t.contains(again.alerts[0].lower(), message_part.lower(), "the message")
        t.eq(len(again.forms), 1, "the form")
        f = again.forms[0]
        t.eq(f["action"], "/students/%d/grades" % SID, "form action")
        t.eq(f["fields"]["csrf"], token, "the same token")
        typed = dict(page.forms[0]["fields"], **values)
        for name in drop:
            typed[name] = ""
        t.eq(f["fields"]["Title"], typed["Title"], "Title typed")
        t.eq(f["fields"]["Score"], typed["Score"], "Score typed")
        if typed.get("Type") in ("Quiz", "Test", "Exam", "Homework"):
            t.eq(f["selects"]["Type"]["selected"], typed["Type"], "Type chosen")
        # The rest of the page is still there.
        st = system().grading.get_json("/students/%d" % SID)
        t.eq(again.h1, ["%s %s" % (st["FirstName"], st["LastName"])], "h1")
        t.eq(len(again.table("Grades of")["rows"]), len(st["Grades"]), "grade rows")


invalid("empty Title", {"Title": "", "Type": "Quiz", "Score": "50"}, "Title")
invalid("missing Title", {"Type": "Quiz", "Score": "50"}, "Title", drop=["Title"])
invalid("Title of 101 characters", {"Title": "x" * 101, "Type": "Quiz", "Score": "50"}, "Title")
invalid("Title with a control character", {"Title": "tab\there", "Type": "Quiz", "Score": "50"}, "Title")
invalid("unknown Type", {"Title": "Essay 1", "Type": "Essay", "Score": "50"}, "Type")
invalid("missing Type", {"Title": "No type", "Score": "50"}, "Type", drop=["Type"])
invalid("empty Score", {"Title": "Quiz 9", "Type": "Test", "Score": ""}, "Score")
invalid("Score not a number", {"Title": "Quiz 9", "Type": "Exam", "Score": "abc"}, "Score")
invalid("Score with trailing text", {"Title": "Quiz 9", "Type": "Exam", "Score": "50 points"}, "Score")
invalid("Score above 100", {"Title": "Quiz 9", "Type": "Homework", "Score": "100.5"}, "Score")
invalid("Score below 0", {"Title": "Quiz 9", "Type": "Quiz", "Score": "-1"}, "Score")
invalid("Score NaN", {"Title": "Quiz 9", "Type": "Quiz", "Score": "nan"}, "Score")
invalid("Score infinite", {"Title": "Quiz 9", "Type": "Quiz", "Score": "inf"}, "Score")
invalid("typed values holding HTML", {"Title": "\"><script>alert(1)</script>", "Type": "Quiz",
                                      "Score": "\"><b>x</b>"}, "Score")


@suite.test("typed values are escaped when the form comes back")
def _(t):
    b, page = fresh()
    title = "\"><script>alert(1)</script>"
    r = b.submit(page, {"Title": title, "Type": "Quiz", "Score": "\"onfocus=\"alert(1)"})
    t.status(r, 400, "POST")
    t.not_contains(r.body, b"<script>", "raw <script>")
    t.not_contains(r.body, b"\"onfocus", "an attribute broken out of")
    again = parse_html(r.body)
    t.eq(again.scripts, 0, "script elements")
    t.true(all(not any(k.startswith("on") for k in a) for _, a in again.elements), "no event handler attributes")


@suite.test("a body that is not a web form -> refused (415), nothing stored")
def _(t):
    b, page = fresh()
    before = grades()
    token = b.cookies["grades_csrf"]
    r = b.request("POST", "/students/%d/grades" % SID,
                  body={"Title": "JSON", "Type": "Quiz", "Score": 50, "csrf": token})
    html_page(t, r, 415, "JSON body")
    t.eq(grades(), before, "grades")


@suite.test("a malformed form body (bad %-escape) -> 400, nothing stored")
def _(t):
    b, page = fresh()
    before = grades()
    token = b.cookies["grades_csrf"]
    r = b.request("POST", "/students/%d/grades" % SID, body="Title=a%zz&Type=Quiz&Score=1&csrf=" + token,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    html_page(t, r, 400, "bad escape")
    t.eq(grades(), before, "grades")


# --------------------------------------------------------- unknown student

@suite.test("posting to an unknown student -> 404 page, nothing stored anywhere")
def _(t):
    b, page = fresh()
    token = b.cookies["grades_csrf"]
    total = sum(len(s["Grades"]) for s in system().grading.get_json("/students"))
    for sid in ("999999", "0", "abc"):
        r = b.post_form("/students/%s/grades" % sid, {"Title": "Ghost", "Type": "Quiz", "Score": "50",
                                                       "csrf": token})
        p = html_page(t, r, 404, "student %s" % sid)
        t.eq(p.h1, ["Student not found"], "h1")
    t.eq(sum(len(s["Grades"]) for s in system().grading.get_json("/students")), total, "grades in all")


@suite.test("posting invalid input to an unknown student -> 404 page")
def _(t):
    b, page = fresh()
    r = b.post_form("/students/999999/grades", {"Title": "", "Type": "Quiz", "Score": "x",
                                                 "csrf": b.cookies["grades_csrf"]})
    html_page(t, r, 404, "invalid input, unknown student")


# ------------------------------------------------------------ valid edges

def valid(description, values, expect):
    @suite.test("valid input: %s -> 303 and stored" % description)
    def _(t):
        b, page = fresh()
        before = grades()
        r = b.submit(page, values)
        t.status(r, 303, "POST")
        t.eq(r.header("Location"), "/students/%d" % SID, "Location")
        after = grades()
        t.eq(len(after), len(before) + 1, "one grade more")
        g = after[-1]
        t.eq((g["Title"], g["Type"], float(g["Score"])), expect, "the grade stored")
        _, shown = b.page("/students/%d" % SID)
        t.eq(shown.table("Grades of")["rows"][-1][0], expect[0], "shown on the page")


valid("Score 0", {"Title": "Zero", "Type": "Quiz", "Score": "0"}, ("Zero", "Quiz", 0.0))
valid("Score 100", {"Title": "Full marks", "Type": "Exam", "Score": "100"}, ("Full marks", "Exam", 100.0))
valid("Score 99.25", {"Title": "Decimal", "Type": "Test", "Score": "99.25"}, ("Decimal", "Test", 99.25))
valid("Title of 100 characters", {"Title": "t" * 100, "Type": "Homework", "Score": "1"}, ("t" * 100, "Homework", 1.0))
valid("Title in Unicode with '+' and '&'", {"Title": "\u00dcbung 1 + 2 & \u2603", "Type": "Quiz", "Score": "7"},
      ("\u00dcbung 1 + 2 & \u2603", "Quiz", 7.0))
valid("unknown extra fields are ignored", {"Title": "Extra", "Type": "Quiz", "Score": "5", "Comment": "hi"},
      ("Extra", "Quiz", 5.0))


@suite.test("the 303 answer stores once: following it and reloading does not add the grade again")
def _(t):
    b, page = fresh()
    before = grades()
    r = b.submit(page, {"Title": "Once", "Type": "Quiz", "Score": "42"})
    t.status(r, 303, "POST")
    for _ in range(3):
        b.page(r.header("Location"))
    t.eq(len(grades()), len(before) + 1, "grades after reloading the page three times")


@suite.test("SIGTERM: every daemon exits with status 0, no sanitizer report")
def _(t):
    failed = []
    for d in system().daemons():
        try:
            t.clean_exit(d, signal.SIGTERM)
        except Exception as e:
            failed.append(str(e))
    t.eq(failed, [], "unclean exits")


suite.run()
