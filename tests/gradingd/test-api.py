#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-gradingd: the HTTP API, wire-compatible with the seed's grading
# service (and its Go portal), plus IDs, Average, POST /students and DELETE.
import http.client as httpclient
import json
import re

from grades_test import Suite, raw_http
from grading_helpers import (GO_HEADERS, SEED, SEED_AVERAGES, delete_grade, grade, ordered, post_grade, post_student,
                             raw_scores, start_grading, strip_ids, student, students)

suite = Suite("gradingd: api")
state = {}

STUDENT_1 = (b'{"ID":1,"FirstName":"Nick","LastName":"Carter","Grades":['
             b'{"ID":1,"Title":"Quiz 1","Type":"Quiz","Score":85},'
             b'{"ID":2,"Title":"Final Exam","Type":"Exam","Score":94},'
             b'{"ID":3,"Title":"Quiz 2","Type":"Quiz","Score":82}],"Average":87}')


def g():
    return state["g"]


def ctype(r):
    return (r.header("Content-Type") or "").split(";")[0].strip().lower()


def check_student_shape(t, s, what):
    """What the seed's Go portal decodes (grades.Student), plus our additions."""
    t.true(isinstance(s, dict), "%s is an object" % what)
    t.true(isinstance(s.get("ID"), int) and s["ID"] > 0, "%s: ID a positive integer" % what)
    t.true(isinstance(s.get("FirstName"), str), "%s: FirstName a string" % what)
    t.true(isinstance(s.get("LastName"), str), "%s: LastName a string" % what)
    t.true(isinstance(s.get("Grades"), list), "%s: Grades an array (never null)" % what)
    for gr in s["Grades"]:
        t.true(isinstance(gr.get("ID"), int) and gr["ID"] > 0, "%s: grade ID a positive integer" % what)
        t.true(isinstance(gr.get("Title"), str), "%s: grade Title a string" % what)
        t.true(gr.get("Type") in ("Quiz", "Test", "Exam", "Homework"), "%s: grade Type" % what)
        t.true(isinstance(gr.get("Score"), (int, float)) and not isinstance(gr["Score"], bool),
               "%s: grade Score a number" % what)
    t.contains(s, "Average", "%s has Average" % what)
    if s["Grades"]:
        avg = sum(gr["Score"] for gr in s["Grades"]) / len(s["Grades"])
        t.true(isinstance(s["Average"], (int, float)), "%s: Average a number" % what)
        t.true(abs(s["Average"] - avg) < 1e-9, "%s: Average %r is the mean %r" % (what, s["Average"], avg))
    else:
        t.eq(s["Average"], None, "%s: Average without grades" % what)


@suite.test("the daemon starts on a new state directory and serves the seed's students")
def _(t):
    state["g"] = start_grading(suite)
    r = g().get("/students")
    t.status(r, 200, "GET /students")
    t.eq(ctype(r), "application/json", "Content-Type")
    t.eq(r.header("Content-Length"), str(len(r.body)), "Content-Length")
    listing = r.json()
    t.eq([strip_ids(s) for s in listing], SEED, "the five students of data/students.json")
    for s in listing:
        check_student_shape(t, s, "student %d" % s["ID"])


@suite.test("GET /students/1: byte-exact, Average 87, grade IDs 1-3")
def _(t):
    r = g().get("/students/1")
    t.status(r, 200, "GET /students/1")
    t.eq(ctype(r), "application/json", "Content-Type")
    t.eq(r.body, STUDENT_1, "body")
    t.eq(r.json()["Average"], 87, "Average of student 1")


@suite.test("GET /students/{id} for every seeded student agrees with GET /students, Averages as computed")
def _(t):
    listing = students(g())
    for s in listing:
        one = student(g(), s["ID"])
        t.eq(one, s, "GET /students/%d" % s["ID"])
        t.eq(one["Average"], SEED_AVERAGES[s["ID"]], "Average of student %d" % s["ID"])
    t.eq([s["Average"] for s in listing], [87, 93.66666666666667, 47.333333333333336, 36.666666666666664,
                                           22.333333333333332], "the five Averages")


@suite.test("field order is the seed's: ID, FirstName, LastName, Grades (then Average); grades ID, Title, Type, Score")
def _(t):
    for s in ordered(g().get("/students").body):
        t.eq(s.keys(), ["ID", "FirstName", "LastName", "Grades", "Average"], "student keys")
        for gr in s["Grades"]:
            t.eq(gr.keys(), ["ID", "Title", "Type", "Score"], "grade keys")


@suite.test("scores are printed as the seed (Go) prints them: 100, not 1e+02")
def _(t):
    r = g().get("/students/2")
    t.status(r, 200, "GET /students/2")
    t.eq(raw_scores(r.body), ["100", "100", "81"], "Score numbers of student 2 as sent")
    every = raw_scores(g().get("/students").body)
    t.eq(every, [str(gr["Score"]) for s in SEED for gr in s["Grades"]], "every Score in GET /students")


@suite.test("HEAD /students and /students/1: 200 with the GET's length, no body")
def _(t):
    for path, full in (("/students", g().get("/students").body), ("/students/1", STUDENT_1)):
        r = g().request("HEAD", path)
        t.status(r, 200, "HEAD " + path)
        t.eq(r.body, b"", "HEAD body")
        t.eq(r.header("Content-Length"), str(len(full)), "HEAD Content-Length")


@suite.test("GET /heartbeat answers 200")
def _(t):
    t.status(g().get("/heartbeat"), 200, "GET /heartbeat")


@suite.test("GET /students/99 (no such student): 404 with a JSON error")
def _(t):
    t.diag(t.json_error(g().get("/students/99"), 404, "GET /students/99"))


@suite.test("POST /students/1/grades: 201, the stored grade with its ID, Location; then listed with a new Average")
def _(t):
    before = student(g(), 1)
    r = post_grade(g(), 1, grade("Quiz 3", "Quiz", 91))
    t.status(r, 201, "POST grade")
    t.eq(ctype(r), "application/json", "Content-Type (the seed's said text/plain)")
    body = ordered(r.body)
    t.eq(body.keys(), ["ID", "Title", "Type", "Score"], "keys of the stored grade")
    stored = r.json()
    t.true(isinstance(stored["ID"], int) and stored["ID"] > 15, "a new grade ID, got %r" % stored["ID"])
    t.eq({k: stored[k] for k in ("Title", "Type", "Score")}, grade("Quiz 3", "Quiz", 91), "stored grade")
    t.eq(r.header("Location"), "/students/1/grades/%d" % stored["ID"], "Location")
    after = student(g(), 1)
    t.eq(after["Grades"], before["Grades"] + [stored], "grades of student 1 afterwards")
    t.eq(after["Average"], (85 + 94 + 82 + 91) / 4, "Average afterwards")
    t.eq([s for s in students(g()) if s["ID"] == 1], [after], "GET /students agrees")
    state["quiz3"] = stored["ID"]


@suite.test("every grade Type is accepted: Quiz, Test, Exam, Homework; scores 0, 100, 77.5")
def _(t):
    for type_, score in (("Quiz", 0), ("Test", 100), ("Exam", 77.5), ("Homework", 12.25)):
        r = post_grade(g(), 3, grade("T " + type_, type_, score))
        t.status(r, 201, "POST %s %r" % (type_, score))
        t.eq(r.json()["Score"], score, "Score")
        t.eq(r.json()["Type"], type_, "Type")
    titles = [gr["Title"] for gr in student(g(), 3)["Grades"]]
    t.eq(titles[-4:], ["T Quiz", "T Test", "T Exam", "T Homework"], "stored in order")


@suite.test("the 201 body is the grade as stored: byte for byte what GET lists afterwards, for any spelling of Score")
def _(t):
    for spelling in (b"90", b"90.0", b"9e1", b"0.5e2", b"77.5", b"0", b"-0.0", b"-0", b"0.0", b"1E2", b"100.000",
                     b"33.333333333333336", b"0.30000000000000004", b"5e-324"):
        r = post_grade(g(), 4, b'{"Title":"spelling","Type":"Quiz","Score":' + spelling + b"}")
        t.status(r, 201, "POST with Score %s" % spelling.decode())
        gid = r.json()["ID"]
        listed = re.search(rb'\{"ID":%d,[^}]*\}' % gid, g().get("/students/4").body)
        t.true(listed, "grade %d listed" % gid)
        t.eq(listed.group(0), r.body, "Score %s: listed grade vs the 201 body" % spelling.decode())
        t.status(delete_grade(g(), 4, gid), 204, "clean up")


@suite.test("the seed's Go portal: GET /students, GET /students/{id}, POST a grade as json.Marshal sends it")
def _(t):
    # renderStudents: http.Get(url + "/students"), json.NewDecoder(res.Body).Decode(&grades.Students)
    r = g().request("GET", "/students", headers=GO_HEADERS)
    t.status(r, 200, "GET /students")
    t.eq(r.header("Content-Encoding"), None, "no Content-Encoding the decoder would have to undo")
    for s in r.json():
        check_student_shape(t, s, "student %r" % s.get("ID"))
    # renderStudent: http.Get(fmt.Sprintf("%v/students/%v", url, id))
    r = g().request("GET", "/students/2", headers=GO_HEADERS)
    t.status(r, 200, "GET /students/2")
    check_student_shape(t, r.json(), "student 2")
    # renderGrades: json.Marshal(grades.Grade{Title, Type, Score: float32(score)}), then
    # http.Post(url+"/students/2/grades", "application/json", ...); anything but 201 is a failure.
    body = b'{"Title":"Quiz 3","Type":"Homework","Score":85.3}'
    h = dict(GO_HEADERS)
    h["Content-Type"] = "application/json"
    r = g().request("POST", "/students/2/grades", body=body, headers=h)
    t.status(r, 201, "POST /students/2/grades")
    t.eq({k: r.json()[k] for k in ("Title", "Type", "Score")}, {"Title": "Quiz 3", "Type": "Homework", "Score": 85.3},
         "stored grade")
    # The portal then redirects to /students/2, which GETs it again.
    s = student(g(), 2)
    t.eq(s["Grades"][-1]["Title"], "Quiz 3", "new grade listed last")
    t.eq(s["Grades"][-1]["Score"], 85.3, "Score as sent")


@suite.test("the seed's request byte for byte (raw HTTP/1.1 as Go writes it) gets 201")
def _(t):
    body = b'{"Title":"Raw","Type":"Exam","Score":77.5}'
    req = (b"POST /students/4/grades HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
           b"Content-Length: %d\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" %
           (g().port, len(body))) + body
    r = raw_http("127.0.0.1", g().port, req)
    t.eq(r.status, 201, "status")
    t.eq(json.loads(r.body)["Title"], "Raw", "stored grade")
    req = (b"GET /students/4 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
           b"Accept-Encoding: gzip\r\n\r\n" % g().port)
    r = raw_http("127.0.0.1", g().port, req)
    t.eq(r.status, 200, "GET status")
    t.eq(json.loads(r.body)["Grades"][-1]["Title"], "Raw", "listed")


@suite.test("json.Encoder bodies (trailing newline), lower-case keys and extra keys are accepted, as by the seed")
def _(t):
    r = post_grade(g(), 5, b'{"Title":"Enc","Type":"Quiz","Score":50}\n')
    t.status(r, 201, "trailing newline")
    r = post_grade(g(), 5, b'{"title":"lower","type":"Test","score":77.5}')
    t.status(r, 201, "lower-case keys")
    t.eq((r.json()["Title"], r.json()["Type"], r.json()["Score"]), ("lower", "Test", 77.5), "stored values")
    r = post_grade(g(), 5, b'{"Title":"extra","Type":"Exam","Score":1,"ID":12345,"Comment":"ignored"}')
    t.status(r, 201, "extra keys")
    t.ne(r.json()["ID"], 12345, "the grade ID is the server's, not the client's")
    r = post_grade(g(), 5, grade("charset", "Quiz", 2), headers={"Content-Type": "application/json; charset=utf-8"})
    t.status(r, 201, "Content-Type with a charset parameter")


@suite.test("a title of 100 characters (here 4-byte UTF-8) with quotes, HTML and non-ASCII round-trips")
def _(t):
    for title in ("\U0001F4DA" * 100, 'Quiz "5" <b>&amp;</b> \\ / \u00e4\u4e2d\u6587', "x" * 100, " "):
        r = post_grade(g(), 5, grade(title, "Quiz", 1))
        t.status(r, 201, "title %r" % title[:20])
        t.eq(r.json()["Title"], title, "stored title")
        t.eq(student(g(), 5)["Grades"][-1]["Title"], title, "listed title")


@suite.test("a lone surrogate escape (\\ud800) is refused or becomes U+FFFD as in Go, never invalid UTF-8")
def _(t):
    r = post_grade(g(), 5, b'{"Title":"Quiz\\ud800 x","Type":"Quiz","Score":1}')
    if r.status == 400:
        t.json_error(r, 400, "refused")
        return
    t.status(r, 201, "accepted")
    t.eq(r.json()["Title"], "Quiz\ufffd x", "stored as Go's decoder would")
    for body in (r.body, g().get("/students/5").body, g().get("/students").body):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            t.fail("response is not valid UTF-8 (%s): %r" % (e, body[:300]))
    t.status(delete_grade(g(), 5, r.json()["ID"]), 204, "clean up")


@suite.test("a body of exactly 64 KiB is accepted")
def _(t):
    body = json.dumps(grade("Padded", "Quiz", 64)).encode()
    body = body[:-1] + b" " * (65536 - len(body)) + b"}"
    t.eq(len(body), 65536, "body size")
    r = post_grade(g(), 5, body)
    t.status(r, 201, "POST 64 KiB")
    t.status(delete_grade(g(), 5, r.json()["ID"]), 204, "clean up")


@suite.test("POST /students: 201, Location, Grades [] and Average null; GET it; listed last")
def _(t):
    r = post_student(g(), "Grace", "Hopper")
    t.status(r, 201, "POST /students")
    t.eq(ctype(r), "application/json", "Content-Type")
    s = r.json()
    t.true(isinstance(s.get("ID"), int) and s["ID"] > 5, "a new ID, got %r" % s.get("ID"))
    t.eq(s, {"ID": s["ID"], "FirstName": "Grace", "LastName": "Hopper", "Grades": [], "Average": None}, "body")
    t.eq(ordered(r.body).keys(), ["ID", "FirstName", "LastName", "Grades", "Average"], "key order")
    t.true(b'"Average":null' in r.body, "Average is a JSON null: %r" % r.body)
    t.eq(r.header("Location"), "/students/%d" % s["ID"], "Location")
    t.eq(g().get_json(r.header("Location")), s, "GET Location")
    t.eq(students(g())[-1], s, "last in GET /students")
    state["grace"] = s["ID"]


@suite.test("a new student's first grades set the Average (null -> 64 -> 70.25)")
def _(t):
    sid = state["grace"]
    t.eq(student(g(), sid)["Average"], None, "Average without grades")
    t.status(post_grade(g(), sid, grade("First", "Exam", 64)), 201, "first grade")
    t.eq(student(g(), sid)["Average"], 64, "Average after one grade")
    t.status(post_grade(g(), sid, grade("Second", "Quiz", 76.5)), 201, "second grade")
    t.eq(student(g(), sid)["Average"], 70.25, "Average after two grades")


@suite.test("several students created in a row get distinct increasing IDs and names with non-ASCII")
def _(t):
    ids = []
    for first, last in (("\u5f20", "\u4e09"), ("Zo\u00eb", "O'Brien"), ("A" * 100, "B" * 100)):
        r = post_student(g(), first, last)
        t.status(r, 201, "POST /students %r" % first[:10])
        t.eq((r.json()["FirstName"], r.json()["LastName"]), (first, last), "names")
        ids.append(r.json()["ID"])
    t.eq(ids, sorted(set(ids)), "distinct, increasing")


@suite.test("DELETE /students/{id}/grades/{gradeId}: 204, gone, Average recomputed; again 404")
def _(t):
    gid = state["quiz3"]
    r = delete_grade(g(), 1, gid)
    t.status(r, 204, "DELETE")
    t.eq(r.body, b"", "204 body")
    t.eq(g().get("/students/1").body, STUDENT_1, "student 1 as seeded again")
    t.json_error(delete_grade(g(), 1, gid), 404, "DELETE again")


@suite.test("DELETE of another student's grade or an unknown one: 404, nothing deleted")
def _(t):
    before = students(g())
    t.json_error(delete_grade(g(), 1, 4), 404, "grade 4 is student 2's")
    t.json_error(delete_grade(g(), 99, 1), 404, "no student 99")
    t.json_error(delete_grade(g(), 1, 99999), 404, "no grade 99999")
    t.eq(students(g()), before, "GET /students unchanged")


@suite.test("DELETE the last grade of a student: Average back to null")
def _(t):
    sid = state["grace"]
    for gr in student(g(), sid)["Grades"]:
        t.status(delete_grade(g(), sid, gr["ID"]), 204, "DELETE grade %d" % gr["ID"])
    s = student(g(), sid)
    t.eq((s["Grades"], s["Average"]), ([], None), "Grades and Average")


@suite.test("other methods on known paths: 405 with a JSON error and an Allow header")
def _(t):
    for method, path, allowed in (("PUT", "/students", {"GET", "HEAD", "POST"}),
                                  ("DELETE", "/students", {"GET", "HEAD", "POST"}),
                                  ("PUT", "/students/1", {"GET", "HEAD"}),
                                  ("DELETE", "/students/1", {"GET", "HEAD"}),
                                  ("POST", "/students/1", {"GET", "HEAD"}),
                                  ("GET", "/students/1/grades", {"POST"}),
                                  ("GET", "/students/1/grades/1", {"DELETE"})):
        r = g().request(method, path)
        t.json_error(r, 405, "%s %s" % (method, path))
        got = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
        t.eq(got, allowed, "Allow of %s %s" % (method, path))


@suite.test("one keep-alive connection carries 200 mixed requests")
def _(t):
    conn = httpclient.HTTPConnection("127.0.0.1", g().port, timeout=10)
    try:
        for i in range(50):
            conn.request("GET", "/students/1")
            r = conn.getresponse()
            t.eq((r.status, r.read()), (200, STUDENT_1), "GET %d" % i)
            conn.request("POST", "/students/2/grades", body=json.dumps(grade("ka%d" % i, "Quiz", i)),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = json.loads(r.read())
            t.eq(r.status, 201, "POST %d" % i)
            conn.request("DELETE", "/students/2/grades/%d" % body["ID"])
            r = conn.getresponse()
            r.read()
            t.eq(r.status, 204, "DELETE %d" % i)
            conn.request("GET", "/students/99")
            r = conn.getresponse()
            r.read()
            t.eq(r.status, 404, "GET 99 %d" % i)
    finally:
        conn.close()


@suite.test("SIGTERM: exit status 0, no sanitizer report; the log names what was added")
def _(t):
    stderr = t.clean_exit(g())
    t.contains(stderr, "Added student %d." % state["grace"], "log line for the new student")
    t.not_contains(stderr, "<3>", "no error lines")


suite.run()
