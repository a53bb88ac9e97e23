# SPDX-License-Identifier: MIT
"""Helpers for the grades-gradingd integration tests (on top of grades_test).

    from grades_test import *
    from grading_helpers import *

    g = start_grading(suite)                 # seeded, ready, stopped at exit
    r = post_grade(g, 1, grade("Quiz 3", "Quiz", 90))

Pieces:
  start_grading()  a Daemon("gradingd") with --data-directory=$GRADES_SRCDIR/data,
                   --registry on a port nobody listens on, a state directory
                   that exists (or a shared one), started unless told not to.
  SEED / SEED_AVERAGES  the seed's five students as data/students.json has them.
  grade(), post_grade(), post_student(), delete_grade(), student(), students()
  GO_HEADERS       what the seed's Go portal sends along (http.Get/http.Post).
  db_path(), connect(), make_database(), DbLock
                   the daemon's SQLite file, opened from the test with
                   Python's sqlite3 (to check, prepare or lock it).
  strip_ids()      a student as the seed shapes it (no "ID" in grades, no Average).
  raw_scores()     the Score numbers exactly as written in a response body.
"""

import json
import os
import re
import sqlite3

from grades_test import Daemon, free_port, srcdir

__all__ = [
    "DATA_DIR", "SEED", "SEED_AVERAGES", "GRADE_TYPES", "GO_HEADERS", "start_grading", "grading_args",
    "grade", "post_grade", "post_student", "delete_grade", "student", "students", "db_path", "connect",
    "make_database", "DbLock", "strip_ids", "raw_scores", "ordered", "Pairs", "grade_count", "schema_sql",
]

DATA_DIR = os.path.join(srcdir(), "data")
GRADE_TYPES = ("Quiz", "Test", "Exam", "Homework")

with open(os.path.join(DATA_DIR, "students.json"), encoding="utf-8") as _f:
    SEED = json.load(_f)

SEED_AVERAGES = {s["ID"]: sum(g["Score"] for g in s["Grades"]) / len(s["Grades"]) for s in SEED}

# What the seed's portal sends with every request (Go's net/http client).
GO_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}


def grading_args(registry=None, data_directory=None, extra=()):
    """Command-line arguments for grades-gradingd under test."""
    reg = registry or "http://127.0.0.1:%d" % free_port()  # nobody there: retries in the background
    return ["--data-directory=" + (data_directory or DATA_DIR), "--registry=" + reg] + list(extra)


def start_grading(suite, state_dir=None, args=(), registry=None, data_directory=None, start=True, **kw):
    """A grades-gradingd on a free port. state_dir: share one between
    processes; it is created if missing (systemd's StateDirectory= would).
    With start=False the Daemon is returned unstarted (call .start())."""
    d = Daemon("gradingd", args=grading_args(registry, data_directory, args), state_dir=state_dir,
               ready_path=kw.pop("ready_path", "/heartbeat"), **kw)
    os.makedirs(d.state_dir, exist_ok=True)
    suite._tmpdirs.append(d.tmp)
    suite.on_cleanup(d.kill)
    if start:
        d.start()
    return d


def grade(title="Quiz 3", type_="Quiz", score=90):
    return {"Title": title, "Type": type_, "Score": score}


def post_grade(d, student_id, body, headers=None, **kw):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return d.request("POST", "/students/%s/grades" % student_id, body=body, headers=h, **kw)


def post_student(d, first="Grace", last="Hopper", **kw):
    return d.request("POST", "/students", body=json.dumps({"FirstName": first, "LastName": last}),
                     headers={"Content-Type": "application/json"}, **kw)


def delete_grade(d, student_id, grade_id, **kw):
    return d.request("DELETE", "/students/%s/grades/%s" % (student_id, grade_id), **kw)


def student(d, student_id):
    return d.get_json("/students/%s" % student_id)


def students(d):
    return d.get_json("/students")


def grade_count(d):
    return sum(len(s["Grades"]) for s in students(d))


def db_path(d_or_dir):
    state = d_or_dir.state_dir if hasattr(d_or_dir, "state_dir") else d_or_dir
    return os.path.join(state, "grades.db")


def connect(path, timeout=30):
    """A connection in autocommit mode (BEGIN/COMMIT are explicit)."""
    return sqlite3.connect(path, timeout=timeout, isolation_level=None)


def schema_sql(version=1):
    with open(os.path.join(DATA_DIR, "schema", "%d.sql" % version), encoding="utf-8") as f:
        return f.read()


def make_database(path, user_version=1, schema=True, students_=(), wal=True):
    """A database made by hand: schema/1.sql applied (if schema), the given
    (first, last, [(title, type, score)...]) students, user_version set."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    c = connect(path)
    try:
        if wal:
            c.execute("PRAGMA journal_mode = WAL")
        if schema:
            c.executescript(schema_sql(1))
        for first, last, grades in students_:
            cur = c.execute("INSERT INTO students (first_name, last_name) VALUES (?, ?)", (first, last))
            sid = cur.lastrowid
            for title, type_, score in grades:
                c.execute("INSERT INTO grades (student_id, title, type, score) VALUES (?, ?, ?, ?)",
                          (sid, title, type_, score))
        c.execute("PRAGMA user_version = %d" % int(user_version))
    finally:
        c.close()


class DbLock:
    """Holds the database's write lock (BEGIN IMMEDIATE) from another
    connection, as another grading process in the middle of a write would."""

    def __init__(self, path):
        self.conn = connect(path)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self, commit=True):
        if self.conn is not None:
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def strip_ids(s):
    """A student as the seed's JSON has it: no Average, no grade IDs."""
    return {"ID": s["ID"], "FirstName": s["FirstName"], "LastName": s["LastName"],
            "Grades": [{"Title": g["Title"], "Type": g["Type"], "Score": g["Score"]} for g in s["Grades"]]}


_SCORE = re.compile(rb'"Score":(-?[0-9][0-9.eE+-]*)')


def raw_scores(body):
    """The Score values as the bytes of a response spell them."""
    return [m.decode() for m in _SCORE.findall(body)]


class Pairs(list):
    """A JSON object as its (key, value) pairs in wire order."""

    def keys(self):
        return [k for k, _ in self]

    def __getitem__(self, key):
        if isinstance(key, str):
            for k, v in self:
                if k == key:
                    return v
            raise KeyError(key)
        return list.__getitem__(self, key)


def ordered(body):
    """Parses body keeping every object's key order (objects become Pairs)."""
    return json.loads(body, object_pairs_hook=Pairs)
