#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-gradingd: start-up and shutdown. The database is opened, migrated
# and seeded before READY=1; a database of a newer schema, or no database at
# all, stops it with a message; it registers as GradingService requiring
# LogService (the registry may be absent) and ships its log lines to the log
# service it is given.
import json
import os
import shutil
import time

from grades_test import Daemon, FakePeer, Suite, free_port, wait_until
from grading_helpers import (DATA_DIR, SEED, DbLock, connect, db_path, grade, grading_args, make_database, post_grade,
                             post_student, start_grading, strip_ids, student, students)

suite = Suite("gradingd: lifecycle", time_limit=170)


def db_state(path):
    """(user_version, number of students, number of grades), or None for a table missing."""
    c = connect(path)
    try:
        v = c.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"students", "grades"} <= tables:
            return v, None, None
        return (v, c.execute("SELECT count(*) FROM students").fetchone()[0],
                c.execute("SELECT count(*) FROM grades").fetchone()[0])
    finally:
        c.close()


def wait_exit(t, d, timeout=20):
    """Waits for a daemon expected to give up on its own; returns (status, stderr)."""
    if not wait_until(lambda: not d.alive(), timeout):
        t.fail("%s still running after %d s; stderr:\n%s" % (d.name, timeout, d.stderr()[-2000:]))
    status, stderr = d.stop()
    t.check_stderr(d, stderr)
    return status, stderr


@suite.test("READY=1 only once the database is open, migrated and seeded (held back by another process's lock)")
def _(t):
    n = suite.notify_receiver()
    d = start_grading(suite, args=["--busy-timeout=30s"], notify_socket=n.path, start=False, wait_ready=False)
    make_database(db_path(d), user_version=0, schema=False)  # an empty file: to be migrated and seeded
    lock = DbLock(db_path(d))
    d.start()
    t.true(n.wait_for("READY", "1", timeout=1.5) is None, "no READY=1 while the database is locked")
    t.true(d.alive(), "still starting, not failed, while the lock is held")
    released = time.monotonic()
    lock.release()
    got = n.wait_for("READY", "1", timeout=30)
    t.true(got is not None, "READY=1 after the lock was released; stderr:\n%s" % d.stderr()[-2000:])
    t.ge(got[0], released, "READY=1 arrived after the release")
    t.eq(db_state(db_path(d)), (1, 5, 15), "(user_version, students, grades) when READY=1 arrived")
    d.wait_for_ready()
    t.eq([strip_ids(s) for s in students(d)], SEED, "serving the seed")
    t.clean_exit(d)


@suite.test("READY=1 on a fresh state directory: the database exists, at version 1, seeded")
def _(t):
    n = suite.notify_receiver()
    d = start_grading(suite, notify_socket=n.path, start=False, wait_ready=False)
    d.start()
    got = n.wait_for("READY", "1", timeout=30)
    t.true(got is not None, "READY=1; stderr:\n%s" % d.stderr()[-2000:])
    t.eq(db_state(db_path(d)), (1, 5, 15), "(user_version, students, grades) at READY=1")
    c = connect(db_path(d))
    try:
        t.eq(c.execute("PRAGMA journal_mode").fetchone()[0], "wal", "journal mode")
    finally:
        c.close()
    d.wait_for_ready()
    t.clean_exit(d)


@suite.test("restart on the same state directory: earlier writes kept, nothing seeded again")
def _(t):
    d = start_grading(suite)
    r = post_grade(d, 1, grade("kept", "Test", 61))
    t.status(r, 201, "POST grade")
    r2 = post_student(d, "Kept", "Student")
    t.status(r2, 201, "POST student")
    t.clean_exit(d)
    d.start()
    t.eq(student(d, 1)["Grades"][-1], r.json(), "the grade")
    t.eq(student(d, r2.json()["ID"]), r2.json(), "the student")
    t.eq(len(students(d)), 6, "students")
    t.eq(db_state(db_path(d)), (1, 6, 16), "(user_version, students, grades)")
    t.clean_exit(d)


@suite.test("a database at user_version 1 is not seeded, even with no students; restarts keep it so")
def _(t):
    d = start_grading(suite, start=False)
    make_database(db_path(d), user_version=1, students_=[("Ada", "Lovelace", [("Notes", "Homework", 99)])])
    d.start()
    listing = students(d)
    t.eq([strip_ids(s) for s in listing],
         [{"ID": 1, "FirstName": "Ada", "LastName": "Lovelace",
           "Grades": [{"Title": "Notes", "Type": "Homework", "Score": 99}]}], "only the database's student")
    t.eq(listing[0]["Average"], 99, "Average")
    t.clean_exit(d)
    d.start()
    t.eq(len(students(d)), 1, "after a restart")
    t.clean_exit(d)

    e = start_grading(suite, start=False)
    make_database(db_path(e), user_version=1)
    e.start()
    t.eq(students(e), [], "an empty version-1 database stays empty")
    t.clean_exit(e)
    e.start()
    t.eq(students(e), [], "after a restart")
    t.eq(db_state(db_path(e)), (1, 0, 0), "(user_version, students, grades)")
    t.clean_exit(e)


@suite.test("a database newer than the schema files (user_version 2, 99): exit non-zero, a clear message, untouched")
def _(t):
    for version in (2, 99):
        n = suite.notify_receiver()
        d = start_grading(suite, notify_socket=n.path, start=False, wait_ready=False)
        make_database(db_path(d), user_version=version, schema=False)
        d.start()
        status, stderr = wait_exit(t, d)
        t.diag("stderr: %s" % stderr.strip()[-400:])
        t.true(status is not None and status > 0, "exit status non-zero (not a crash), got %r" % status)
        t.contains(stderr, "version %d" % version, "stderr names the database's version")
        t.contains(stderr, "newer", "stderr says it is newer")
        t.eq(n.find("READY", "1"), [], "no READY=1")
        t.eq(db_state(db_path(d)), (version, None, None), "the database as it was")


@suite.test("a new schema file (2.sql) in the data directory is applied at start to a version-1 database")
def _(t):
    data = os.path.join(suite.tmpdir(), "data")
    shutil.copytree(DATA_DIR, data)
    with open(os.path.join(data, "schema", "2.sql"), "w") as f:
        f.write("-- version 2: a column the daemon does not use yet\nALTER TABLE students ADD COLUMN email TEXT;\n")
    d = start_grading(suite, data_directory=data, start=False)
    make_database(db_path(d), user_version=1, students_=[("Ada", "Lovelace", [])])
    d.start()
    t.eq(db_state(db_path(d)), (2, 1, 0), "(user_version, students, grades)")
    t.eq(student(d, 1)["FirstName"], "Ada", "data kept")
    t.status(post_grade(d, 1, grade("after v2", "Quiz", 70)), 201, "writes work on version 2")
    t.clean_exit(d)
    # The same files on a new database: migrated to 2 and seeded.
    e = start_grading(suite, data_directory=data)
    t.eq(db_state(db_path(e)), (2, 5, 15), "(user_version, students, grades) of a new database")
    t.clean_exit(e)


@suite.test("a state directory that does not exist yet is created (as grades-registryd and grades-logd do)")
def _(t):
    d = Daemon("gradingd", args=grading_args(), ready_path="/heartbeat", wait_ready=False)
    suite._tmpdirs.append(d.tmp)
    suite.on_cleanup(d.kill)
    d.state_dir = os.path.join(d.tmp, "new", "state")
    t.true(not os.path.exists(d.state_dir), "state directory absent")
    d.start()
    ok = wait_until(lambda: os.path.exists(db_path(d)) and d.alive() and _answers(d), 15)
    if not ok:
        status, stderr = d.stop()
        t.fail("not serving (exit status %r); stderr:\n%s" % (status, stderr[-1500:]))
    t.eq(len(students(d)), 5, "seeded")
    t.clean_exit(d)


def _answers(d):
    try:
        return d.get("/heartbeat", timeout=2).status == 200
    except OSError:
        return False


@suite.test("$STATE_DIRECTORY (as systemd sets it) holds grades.db")
def _(t):
    d = Daemon("gradingd", args=grading_args(), ready_path="/heartbeat", state_dir_via_env=True)
    suite._tmpdirs.append(d.tmp)
    suite.on_cleanup(d.kill)
    os.makedirs(d.state_dir)
    d.start()
    t.true(os.path.exists(os.path.join(d.state_dir, "grades.db")), "grades.db in $STATE_DIRECTORY")
    t.eq(len(students(d)), 5, "seeded")
    t.clean_exit(d)


@suite.test("a state file that is not an SQLite database: exit non-zero with a message saying so, file untouched")
def _(t):
    d = start_grading(suite, start=False, wait_ready=False)
    junk = b"This is not an SQLite database; it must not be overwritten.\n" * 20
    with open(db_path(d), "wb") as f:
        f.write(junk)
    d.start()
    status, stderr = wait_exit(t, d)
    t.diag("stderr: %s" % stderr.strip()[-300:])
    t.true(status is not None and status > 0, "exit status non-zero, got %r" % status)
    t.true(db_path(d) in stderr or "not a database" in stderr, "stderr names the file or says it is not a database")
    with open(db_path(d), "rb") as f:
        t.eq(f.read(), junk, "file contents")


@suite.test("a data directory without schema/ on a new database: exit non-zero with a message")
def _(t):
    empty = suite.tmpdir()
    d = start_grading(suite, data_directory=empty, start=False, wait_ready=False)
    d.start()
    status, stderr = wait_exit(t, d)
    t.diag("stderr: %s" % stderr.strip()[-300:])
    t.true(status is not None and status > 0, "exit status non-zero, got %r" % status)
    t.contains(stderr, empty, "stderr names the directory")


@suite.test("registers as GradingService requiring LogService; deregisters on SIGTERM")
def _(t):
    reg = suite.peer()
    d = start_grading(suite, registry=reg.url)
    got = reg.wait_for_patches("/services", 1, 15)
    t.true(got, "POST /services at the registry")
    body = got[0].json()
    t.eq(body.get("ServiceName"), "GradingService", "ServiceName")
    t.eq(body.get("ServiceURL"), d.url, "ServiceURL")
    t.eq(body.get("RequiredServices"), ["LogService"], "RequiredServices")
    t.eq(body.get("HeartbeatURL"), d.url + "/heartbeat", "HeartbeatURL")
    t.true(isinstance(body.get("ServiceUpdateURL"), str) and body["ServiceUpdateURL"].startswith(d.url + "/"),
           "ServiceUpdateURL under the daemon's URL: %r" % body.get("ServiceUpdateURL"))
    t.status(d.get("/heartbeat"), 200, "the HeartbeatURL answers")
    t.clean_exit(d)
    deletes = reg.wait_for(lambda reqs: [r for r in reqs if r.method == "DELETE" and r.path == "/services"], 5)
    t.true(deletes, "DELETE /services at the registry on SIGTERM")
    t.eq(deletes[0].body.decode(), d.url, "deregistered URL")


@suite.test("the registry absent at start: grades are served; it registers once the registry appears")
def _(t):
    port = free_port()
    d = start_grading(suite, registry="http://127.0.0.1:%d" % port)
    t.status(post_grade(d, 1, grade("no registry", "Quiz", 1)), 201, "POST without a registry")
    time.sleep(0.5)  # a few failed attempts in the background (not needed for correctness)
    reg = FakePeer(port=port)
    suite.on_cleanup(reg.close)
    reg.start()
    got = reg.wait_for_patches("/services", 1, 20)
    t.true(got, "registered after the registry appeared")
    t.eq(got[0].json().get("ServiceName"), "GradingService", "ServiceName")
    t.clean_exit(d)


@suite.test("log lines go to the LogService the registry names (POST /log), with service GradingService")
def _(t):
    reg = suite.peer()
    logs = suite.peer()
    d = start_grading(suite, registry=reg.url)
    got = reg.wait_for_patches("/services", 1, 15)
    t.true(got, "registered")
    update_url = got[0].json()["ServiceUpdateURL"]
    path = "/" + update_url.split("/", 3)[3]
    patch = {"Added": [{"Name": "LogService", "URL": logs.url}], "Removed": []}
    t.status(d.request("POST", path, body=json.dumps(patch), headers={"Content-Type": "application/json"}), 200,
             "patch naming the LogService")

    def lines(reqs):
        out = []
        for r in reqs:
            if r.method == "POST" and r.path == "/log":
                out.extend(json.loads(r.body))
        return out

    early = logs.wait_for(lambda reqs: lines(reqs) or None, 15)
    t.true(early, "log lines queued before the LogService was known arrive")
    for line in early:
        t.eq(line.get("service"), "GradingService", "service of %r" % line)
    t.true(any("Ready" in l.get("message", "") for l in early), "the Ready line among %r" % early[:5])
    r = post_student(d, "Logged", "Student")
    t.status(r, 201, "POST /students")
    want = "Added student %d." % r.json()["ID"]
    found = logs.wait_for(lambda reqs: [l for l in lines(reqs) if l.get("message") == want] or None, 15)
    t.true(found, "%r shipped to the log service" % want)
    t.eq(found[0].get("priority"), "info", "priority")
    t.clean_exit(d)


suite.run()
