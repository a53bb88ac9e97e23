#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-gradingd: every kind of bad input gets its status (400, 404, 405,
# 413, 415) and a JSON {"error": ...} body, changes nothing (neither the API's
# answers nor the database file), and never brings the daemon down.
import json

from grades_test import Suite, raw_http
from grading_helpers import connect, db_path, grade, start_grading

suite = Suite("gradingd: bad input")
state = {}


def db_rows():
    """Everything in the database, read with a connection of our own: a
    write that the daemon's response cache hid would still show here."""
    c = connect(db_path(state["g"]))
    try:
        return (c.execute("PRAGMA user_version").fetchall(),
                c.execute("SELECT * FROM students ORDER BY id").fetchall(),
                c.execute("SELECT * FROM grades ORDER BY id").fetchall())
    finally:
        c.close()


def snapshot():
    g = state["g"]
    return g.get("/students").body, [g.get("/students/%d" % i).body for i in range(1, 6)], db_rows()


def check_unchanged(t):
    g = state["g"]
    t.true(g.alive(), "the daemon is still running")
    now = snapshot()
    t.eq(now[2], state["baseline"][2], "database rows after the bad request")
    t.eq(now[0], state["baseline"][0], "GET /students after the bad request")
    t.eq(now[1], state["baseline"][1], "GET /students/1..5 after the bad request")


def restore():
    """Undoes whatever a failed case let through, so that one bug does not
    make every later case fail."""
    g = state["g"]
    if not g.alive():
        return
    try:
        rows = db_rows()
    except Exception:
        return
    base_grades = {r[0] for r in state["baseline"][2][2]}
    base_students = {r[0] for r in state["baseline"][2][1]}
    if rows == state["baseline"][2]:
        return
    c = connect(db_path(g))
    try:
        c.execute("BEGIN IMMEDIATE")
        for r in rows[2]:
            if r[0] not in base_grades:
                c.execute("DELETE FROM grades WHERE id = ?", (r[0],))
        for r in rows[1]:
            if r[0] not in base_students:
                c.execute("DELETE FROM students WHERE id = ?", (r[0],))
        c.execute("COMMIT")
    finally:
        c.close()


def bad(description, method, path, body=None, status=400, content_type="application/json", headers=None):
    """One case: the request gets `status` with a JSON error body and changes nothing."""
    @suite.test(description)
    def _(t):
        g = state["g"]
        h = dict(headers or {})
        if content_type is not None and body is not None:
            h["Content-Type"] = content_type
        b = body
        if b is not None and not isinstance(b, (bytes, str)):
            b = json.dumps(b)
        try:
            r = g.request(method, path, body=b, headers=h)
            msg = t.json_error(r, status, "%s %s" % (method, path))
            t.diag("error: %s" % msg)
            check_unchanged(t)
        finally:
            restore()


def bad_grade(description, body, status=400, student="1", **kw):
    bad(description, "POST", "/students/%s/grades" % student, body, status, **kw)


def bad_student(description, body, status=400, **kw):
    bad(description, "POST", "/students", body, status, **kw)


def grade_with(**fields):
    g = grade("Quiz 3", "Quiz", 90)
    for k, v in fields.items():
        if v is KeyError:
            del g[k]
        else:
            g[k] = v
    return g


def student_with(**fields):
    s = {"FirstName": "Grace", "LastName": "Hopper"}
    for k, v in fields.items():
        if v is KeyError:
            del s[k]
        else:
            s[k] = v
    return s


@suite.test("start the daemon; its seeded state is the baseline")
def _(t):
    state["g"] = start_grading(suite)
    state["baseline"] = snapshot()
    t.eq(len(state["baseline"][2][1]), 5, "five students")
    t.eq(len(state["baseline"][2][2]), 15, "fifteen grades")


# --- bodies that are not JSON, or not one JSON object
GOOD = json.dumps(grade_with()).encode()
bad_grade("invalid JSON (truncated object): 400", b'{"Title": "Quiz 3", "Type":')
bad_grade("invalid JSON (not JSON at all): 400", b"hello, grading")
bad_grade("invalid JSON (single quotes): 400", b"{'Title': 'Quiz 3', 'Type': 'Quiz', 'Score': 90}")
bad_grade("invalid JSON (NaN): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":NaN}')
bad_grade("invalid JSON (Infinity): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":Infinity}')
bad_grade("invalid JSON (leading zero 090): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":090}')
bad_grade("invalid JSON (trailing comma): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":90,}')
bad_grade("invalid JSON (raw newline inside a string): 400", b'{"Title":"Quiz\n3","Type":"Quiz","Score":90}')
bad_grade("invalid JSON (comment): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":90 /* x */}')
bad_grade("empty body: 400", b"")
bad_grade("whitespace-only body: 400", b" \r\n\t")
bad_grade("two JSON values: 400", GOOD + b" " + GOOD)
bad_grade("trailing garbage after the object: 400", GOOD + b"x")
bad_grade("a NUL byte after the object: 400", GOOD + b"\x00")
bad_grade("nesting 30000 levels deep: 400", b"[" * 30000 + b"]" * 30000)
bad_grade("a JSON array instead of an object: 400", b"[]")
bad_grade("an array holding a grade: 400", b"[" + GOOD + b"]")
bad_grade("a JSON string instead of an object: 400", b'"Quiz 3"')
bad_grade("a JSON null instead of an object: 400", b"null")
bad_grade("a JSON number instead of an object: 400", b"90")
bad_grade("an empty object: 400", b"{}")

# --- Score
bad_grade("Score -1: 400", grade_with(Score=-1))
bad_grade("Score -0.01: 400", grade_with(Score=-0.01))
bad_grade("Score 100.01: 400", grade_with(Score=100.01))
bad_grade("Score 101: 400", grade_with(Score=101))
bad_grade("Score 1e3: 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":1e3}')
bad_grade("Score 1e400 (overflows a double): 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":1e400}')
bad_grade("Score -1e400: 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":-1e400}')
bad_grade("Score 10^30 as an integer: 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":1000000000000000000000000000000}')
bad_grade("Score a string \"90\" (the seed: 400 too): 400", grade_with(Score="90"))
bad_grade("Score null: 400", grade_with(Score=None))
bad_grade("Score true: 400", grade_with(Score=True))
bad_grade("Score an array: 400", grade_with(Score=[90]))
bad_grade("Score an object: 400", grade_with(Score={"value": 90}))
bad_grade("Score missing: 400", grade_with(Score=KeyError))

# --- Type
for t_ in ("Project", "quiz", "QUIZ", "Quiz ", " Exam", "", "Homework\u0000", "Test\n"):
    bad_grade("Type %r: 400" % t_, grade_with(Type=t_))
bad_grade("Type null: 400", grade_with(Type=None))
bad_grade("Type a number: 400", grade_with(Type=1))
bad_grade("Type an array: 400", grade_with(Type=["Quiz"]))
bad_grade("Type missing: 400", grade_with(Type=KeyError))

# --- Title
bad_grade("Title empty: 400", grade_with(Title=""))
bad_grade("Title missing: 400", grade_with(Title=KeyError))
bad_grade("Title null: 400", grade_with(Title=None))
bad_grade("Title a number: 400", grade_with(Title=3))
bad_grade("Title an object: 400", grade_with(Title={"x": "y"}))
bad_grade("Title of 101 characters: 400", grade_with(Title="x" * 101))
bad_grade("Title of 101 two-byte characters: 400", grade_with(Title="\u00e4" * 101))
bad_grade("Title of 101 four-byte characters: 400", grade_with(Title="\U0001F4DA" * 101))
for name, ch in (("newline", "\n"), ("tab", "\t"), ("carriage return", "\r"), ("NUL", "\u0000"),
                 ("ESC (terminal escape)", "\u001b[31m"), ("U+0001", "\u0001"), ("DEL", "\u007f"),
                 ("C1 U+0085", "\u0085"), ("C1 U+009B (CSI)", "\u009b")):
    bad_grade("Title with %s: 400" % name, grade_with(Title="Quiz" + ch + "3"))
bad_grade("Title with invalid UTF-8 (0xff): 400", b'{"Title":"Quiz\xff3","Type":"Quiz","Score":90}')
bad_grade("Title with invalid UTF-8 (overlong '/'): 400", b'{"Title":"Quiz\xc0\xaf","Type":"Quiz","Score":90}')
bad_grade("Title with invalid UTF-8 (truncated sequence): 400", b'{"Title":"Quiz\xe2\x82","Type":"Quiz","Score":90}')
bad_grade("Title with a UTF-8 encoded surrogate: 400", b'{"Title":"Quiz\xed\xa0\x80","Type":"Quiz","Score":90}')
bad_grade("invalid UTF-8 in a key: 400", b'{"Title":"Quiz 3","Type":"Quiz","Score":90,"X\xff":1}')

# --- student ids in the path
for seg in ("0", "-1", "+1", "01", "abc", "1.5", "1e2", "0x1", "%31", "1%00", "99999999999999999999",
            "9223372036854775808", " 1"):
    bad_grade("POST /students/%s/grades: 404" % seg, GOOD, status=404, student=seg.replace(" ", "%20"))
bad_grade("POST /students/99/grades (no such student): 404", GOOD, status=404, student="99")
bad_grade("POST /students/9223372036854775807/grades (no such student): 404", GOOD, status=404,
          student="9223372036854775807")
bad("POST /students//grades: 404", "POST", "/students//grades", GOOD, 404)
bad("POST /students/1/grades/ (trailing slash): 404", "POST", "/students/1/grades/", GOOD, 404)
bad("POST /students/1/whatever (the seed added a grade there): 404", "POST", "/students/1/whatever", GOOD, 404)
bad("POST /students/1/Grades (case matters): 404", "POST", "/students/1/Grades", GOOD, 404)
bad("POST /students/1/grades/extra/segments: 404", "POST", "/students/1/grades/extra/segments", GOOD, 404)

# --- Content-Type
for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
           "application/jsonx", "json", "text/json", "application/xml"):
    bad_grade("Content-Type %s: 415" % ct, GOOD, status=415, content_type=ct)
bad_student("POST /students with Content-Type text/plain: 415", student_with(), status=415, content_type="text/plain")

# --- students
bad_student("student: invalid JSON: 400", b'{"FirstName": "Grace",')
bad_student("student: empty body: 400", b"")
bad_student("student: an array: 400", b"[]")
bad_student("student: null: 400", b"null")
bad_student("student: FirstName missing: 400", student_with(FirstName=KeyError))
bad_student("student: LastName missing: 400", student_with(LastName=KeyError))
bad_student("student: FirstName empty: 400", student_with(FirstName=""))
bad_student("student: LastName empty: 400", student_with(LastName=""))
bad_student("student: FirstName null: 400", student_with(FirstName=None))
bad_student("student: LastName a number: 400", student_with(LastName=7))
bad_student("student: FirstName of 101 characters: 400", student_with(FirstName="G" * 101))
bad_student("student: LastName of 101 three-byte characters: 400", student_with(LastName="\u4e2d" * 101))
bad_student("student: FirstName with a newline: 400", student_with(FirstName="Gr\nace"))
bad_student("student: LastName with NUL: 400", student_with(LastName="Hop\u0000per"))
bad_student("student: LastName with ESC: 400", student_with(LastName="\u001b[2JHopper"))
bad_student("student: FirstName with DEL: 400", student_with(FirstName="Gr\u007face"))
bad_student("student: invalid UTF-8 in FirstName: 400", b'{"FirstName":"Gr\xe4ce","LastName":"Hopper"}')

# --- GET with a bad or unknown id
for seg in ("0", "-1", "+1", "01", "abc", "1.0", "1e0", "%31", "1x", "99", "99999999999999999999",
            "9223372036854775807", "9223372036854775808"):
    bad("GET /students/%s: 404" % seg, "GET", "/students/" + seg, status=404)
for path in ("/students/", "/students/1/", "/students//", "/students/1/grades/1/x", "/student", "/studentsx",
             "/", "/students/1/grades/1/"):
    bad("GET %s: 404" % path, "GET", path, status=404)

# --- DELETE with a bad or unknown id
for path in ("/students/1/grades/0", "/students/1/grades/abc", "/students/1/grades/-1", "/students/1/grades/01",
             "/students/0/grades/1", "/students/abc/grades/1", "/students/1/grades/999",
             "/students/1/grades/4", "/students/99/grades/1", "/students/1/grades/99999999999999999999"):
    bad("DELETE %s: 404" % path, "DELETE", path, status=404)

# --- methods
bad("DELETE /students/1: 405", "DELETE", "/students/1", status=405)
bad("PUT /students/1/grades: 405", "PUT", "/students/1/grades", GOOD, status=405)
bad("PATCH /students: 405", "PATCH", "/students", b"{}", status=405)


# --- sizes
@suite.test("a body of 64 KiB + 1 byte: 413")
def _(t):
    g = state["g"]
    body = GOOD[:-1] + b" " * (65537 - len(GOOD)) + b"}"
    t.eq(len(body), 65537, "size")
    try:
        t.json_error(g.request("POST", "/students/1/grades", body=body, headers={"Content-Type": "application/json"}),
                     413, "POST 64 KiB + 1")
        t.json_error(g.request("POST", "/students", body=b" " * 65537 + json.dumps(student_with()).encode(),
                               headers={"Content-Type": "application/json"}), 413, "POST /students 64 KiB + 1")
        check_unchanged(t)
    finally:
        restore()


@suite.test("a body of 2 MiB (over h2o's own limit): 413 with a JSON error")
def _(t):
    g = state["g"]
    size = 2 * 1024 * 1024
    head = (b"POST /students/1/grades HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    try:
        r = raw_http("127.0.0.1", g.port, head, send_body=b" " * (size - len(GOOD)) + GOOD, wait_before_body=2)
        t.json_error(r, 413, "POST 2 MiB")
        check_unchanged(t)
    finally:
        restore()


@suite.test("a chunked body of 70 KB: 413")
def _(t):
    g = state["g"]
    body = b" " * (70000 - len(GOOD)) + GOOD
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192]) for i in range(0, len(body), 8192))
    req = (b"POST /students/1/grades HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    try:
        r = raw_http("127.0.0.1", g.port, req)
        t.json_error(r, 413, "chunked POST of 70 KB")
        check_unchanged(t)
    finally:
        restore()


@suite.test("after all of it: a good grade is still accepted, then the daemon exits cleanly on SIGTERM")
def _(t):
    g = state["g"]
    r = g.request("POST", "/students/1/grades", body=GOOD, headers={"Content-Type": "application/json"})
    t.status(r, 201, "good grade")
    t.clean_exit(g)


suite.run()
