#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-gradingd: a 201 means committed (kill -9 right after it loses
# nothing), several processes share one database file without losing or
# corrupting writes and see each other's writes at once, and a database
# locked by another process makes a write wait (busy timeout) or, past it,
# answer 503 and change nothing.
import http.client as httpclient
import signal
import threading
import time

from grades_test import Suite, wait_until
from grading_helpers import (DbLock, connect, db_path, delete_grade, grade, post_grade, post_student, start_grading,
                             student, students)

suite = Suite("gradingd: durability and sharing", time_limit=170)


def rows_by_id(path):
    c = connect(path)
    try:
        return {r[0]: r[1:] for r in c.execute("SELECT id, student_id, title, type, score FROM grades")}
    finally:
        c.close()


def integrity(path):
    c = connect(path)
    try:
        return c.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        c.close()


def all_grade_ids(d):
    return {gr["ID"]: (s["ID"], gr["Title"], gr["Type"], gr["Score"]) for s in students(d) for gr in s["Grades"]}


@suite.test("kill -9 right after each 201, ten times: every acknowledged grade is there after the restart")
def _(t):
    g = start_grading(suite)
    acknowledged = {}
    for i in range(10):
        body = grade("kill-%d" % i, ("Quiz", "Test", "Exam", "Homework")[i % 4], 50 + i + 0.5)
        r = post_grade(g, 1 + i % 5, body)
        t.status(r, 201, "POST %d" % i)
        status, _ = g.stop(sig=signal.SIGKILL, timeout=10)  # at once, before anything else can happen
        t.eq(status, -signal.SIGKILL, "killed by SIGKILL")
        stored = r.json()
        acknowledged[stored["ID"]] = (1 + i % 5, body["Title"], body["Type"], body["Score"])
        # In the file, as another process sees it, before the daemon is back.
        on_disk = rows_by_id(db_path(g))
        t.eq(on_disk.get(stored["ID"]), acknowledged[stored["ID"]], "grade %d in the database file" % stored["ID"])
        g.start()
        served = all_grade_ids(g)
        for gid, v in acknowledged.items():
            t.eq(served.get(gid), v, "grade %d served after restart %d" % (gid, i))
    t.eq(integrity(db_path(g)), "ok", "integrity_check")
    t.eq(len(students(g)), 5, "not seeded again by the restarts")
    t.clean_exit(g)


@suite.test("kill -9 in the middle of 4 concurrent writers: every grade answered 201 survives")
def _(t):
    g = start_grading(suite)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(w):
        n = 0
        while not stop.is_set():
            body = grade("w%d-%d" % (w, n), "Homework", n % 101)
            try:
                r = post_grade(g, 1 + w, body, timeout=5)
            except (OSError, httpclient.HTTPException):
                return  # the daemon is gone: this one was never acknowledged
            if r.status != 201:
                errors.append((r.status, r.body[:200]))
                return
            with lock:
                acked[r.json()["ID"]] = (1 + w, body["Title"], body["Type"], body["Score"])
            n += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    enough = wait_until(lambda: len(acked) >= 150, 30)
    g.send_signal(signal.SIGKILL)
    stop.set()
    for th in threads:
        th.join(15)
    g.stop(sig=signal.SIGKILL, timeout=10)
    t.true(enough, "150 grades acknowledged before the kill (got %d)" % len(acked))
    t.eq(errors, [], "non-201 answers before the kill")
    on_disk = rows_by_id(db_path(g))
    missing = [gid for gid in acked if on_disk.get(gid) != acked[gid]]
    t.eq(missing, [], "acknowledged grades missing from the database file")
    g.start()
    served = all_grade_ids(g)
    t.eq([gid for gid in acked if served.get(gid) != acked[gid]], [], "acknowledged grades not served after restart")
    t.eq(integrity(db_path(g)), "ok", "integrity_check")
    t.diag("%d grades acknowledged before the kill, %d in the file" % (len(acked), len(on_disk) - 15))
    t.clean_exit(g)


@suite.test("two processes on one database: 2 x 4 threads add 400 grades at once, every one stored once")
def _(t):
    a = start_grading(suite)
    b = start_grading(suite, state_dir=a.state_dir)
    results = []
    lock = threading.Lock()

    def writer(d, w):
        mine = []
        for n in range(50):
            body = grade("%d-%d-%d" % (d.port, w, n), "Quiz", (w * 50 + n) % 101)
            try:
                r = post_grade(d, 1 + (w + n) % 5, body, timeout=30)
                mine.append((r.status, r.json() if r.status == 201 else r.body[:200], body, 1 + (w + n) % 5))
            except (OSError, httpclient.HTTPException) as e:
                mine.append((0, str(e), body, 0))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=writer, args=(d, w)) for d in (a, b) for w in range(4)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    t.diag("400 grades through two processes in %.2f s" % (time.monotonic() - started))
    t.eq(len(results), 400, "answers")
    failed = [(s, x) for s, x, _, _ in results if s != 201]
    t.eq(failed[:5], [], "non-201 answers (first five)")
    ids = [x["ID"] for _, x, _, _ in results]
    t.eq(len(set(ids)), 400, "distinct grade IDs")
    expected = {x["ID"]: (sid, body["Title"], body["Type"], body["Score"]) for _, x, body, sid in results}
    for d in (a, b):
        served = all_grade_ids(d)
        t.eq([gid for gid in expected if served.get(gid) != expected[gid]], [],
             "grades missing or wrong in GET /students of the process on port %d" % d.port)
        t.eq(len(served), 415, "grades listed by port %d (15 seeded + 400)" % d.port)
    on_disk = rows_by_id(db_path(a))
    t.eq(len(on_disk), 415, "rows in the file")
    t.eq(integrity(db_path(a)), "ok", "integrity_check")
    t.clean_exit(a)
    t.clean_exit(b)


@suite.test("a second process on the same state directory sees the first one's writes at once (no stale cache)")
def _(t):
    a = start_grading(suite)
    b = start_grading(suite, state_dir=a.state_dir)
    # Fill b's response cache.
    for _ in range(2):
        before_one, before_all = student(b, 1), students(b)
    # A grade added through a.
    r = post_grade(a, 1, grade("from a", "Exam", 66))
    t.status(r, 201, "POST through a")
    gid = r.json()["ID"]
    t.eq(student(b, 1)["Grades"], before_one["Grades"] + [r.json()], "b's GET /students/1")
    t.eq(students(b)[0]["Grades"][-1], r.json(), "b's GET /students")
    # A student added through a.
    r = post_student(a, "Only", "InA")
    t.status(r, 201, "POST /students through a")
    sid = r.json()["ID"]
    t.eq(student(b, sid), r.json(), "b's GET /students/%d" % sid)
    t.eq(len(students(b)), len(before_all) + 1, "b lists the new student")
    # b deletes a's grade; a (which cached student 1 by now) sees it gone.
    t.eq(student(a, 1)["Grades"][-1]["ID"], gid, "a lists its grade")
    t.status(delete_grade(b, 1, gid), 204, "DELETE through b")
    t.eq(student(a, 1), before_one, "a's GET /students/1 after b's DELETE")
    # b adds a grade to a's student; a sees it.
    r = post_grade(b, sid, grade("from b", "Quiz", 10))
    t.status(r, 201, "POST through b")
    t.eq(student(a, sid)["Grades"], [r.json()], "a's GET /students/%d" % sid)
    t.eq(student(a, sid)["Average"], 10, "a's Average")
    t.clean_exit(a)
    t.clean_exit(b)


@suite.test("a lock held by another process within the busy timeout: the write waits, then 201")
def _(t):
    g = start_grading(suite, args=["--busy-timeout=20s"])
    student(g, 1)
    lock = DbLock(db_path(g))
    result = {}

    def post():
        result["r"] = post_grade(g, 1, grade("waited", "Quiz", 42), timeout=30)
        result["at"] = time.monotonic()

    th = threading.Thread(target=post)
    th.start()
    time.sleep(0.5)  # the request is waiting for the lock (it cannot finish while it is held)
    t.true("r" not in result, "no answer while the lock is held, got %r" % result.get("r"))
    released = time.monotonic()
    lock.release()
    th.join(30)
    t.status(result["r"], 201, "POST after the lock was released")
    t.ge(result["at"], released, "answered after the release")
    t.eq(student(g, 1)["Grades"][-1]["Title"], "waited", "stored")
    t.clean_exit(g)


@suite.test("a lock held past the busy timeout: 503 with a JSON error, nothing changed; reads still served")
def _(t):
    g = start_grading(suite, args=["--busy-timeout=200ms"])
    before = g.get("/students").body
    with DbLock(db_path(g)):
        t.json_error(post_grade(g, 1, grade("blocked", "Quiz", 1), timeout=30), 503, "POST grade")
        t.json_error(post_student(g, "Blocked", "Student", timeout=30), 503, "POST /students")
        t.json_error(delete_grade(g, 1, 1, timeout=30), 503, "DELETE grade")
        r = g.get("/students/2")  # not cached yet: read from the database during the write lock
        t.status(r, 200, "GET /students/2 while locked")
        t.eq(g.get("/students").body, before, "GET /students while locked")
    t.eq(g.get("/students").body, before, "GET /students afterwards")
    c = connect(db_path(g))
    try:
        t.eq(c.execute("SELECT count(*) FROM grades").fetchone()[0], 15, "grades in the file")
        t.eq(c.execute("SELECT count(*) FROM students").fetchone()[0], 5, "students in the file")
    finally:
        c.close()
    t.status(post_grade(g, 1, grade("after", "Quiz", 1)), 201, "POST after the lock")
    t.clean_exit(g)


suite.run()
