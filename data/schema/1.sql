-- grades: the grading service's database, schema version 1.
-- Files in this directory are applied in order of their number, each in its
-- own transaction, to a database whose PRAGMA user_version is lower; the
-- version then becomes the file's number.
CREATE TABLE students (
        id         INTEGER PRIMARY KEY,
        first_name TEXT NOT NULL,
        last_name  TEXT NOT NULL
);

CREATE TABLE grades (
        id         INTEGER PRIMARY KEY,
        student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
        title      TEXT NOT NULL,
        type       TEXT NOT NULL CHECK (type IN ('Quiz', 'Test', 'Exam', 'Homework')),
        score      REAL NOT NULL CHECK (score >= 0 AND score <= 100)
);

CREATE INDEX grades_by_student ON grades(student_id, id);
