/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "grading.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);

static int sqlite_errno(struct db *db, int rc, const char *what) {
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                return log_warning_errno(EBUSY, "Database busy while trying to %s.", what);
        log_error("Database %s: error while trying to %s: %s", db->path, what, sqlite3_errmsg(db->handle));
        return -EIO;
}

static int exec(struct db *db, const char *sql, const char *what) {
        int rc = sqlite3_exec(db->handle, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sqlite_errno(db, rc, what);
}

int db_open(struct db *db, const char *path, uint64_t busy_timeout_ms) {
        int rc;

        *db = (struct db){ .last_data_version = -1 };
        db->path = strdup(path);
        if (!db->path)
                return -ENOMEM;
        rc = sqlite3_open_v2(path, &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(EIO, "Cannot open %s: %s", path,
                                       db->handle ? sqlite3_errmsg(db->handle) : "out of memory");
        /* Other processes may hold the lock for a moment: wait, don't fail. */
        sqlite3_busy_timeout(db->handle, (int) busy_timeout_ms);
        /* WAL: readers never wait for the writer. synchronous=FULL: a commit
         * is on disk when it returns, so a 201 survives kill -9 and power loss.
         * Switching a new file to WAL answers "locked" at once, without the
         * busy handler, while another process does the same: retry. */
        for (uint64_t waited = 0;; waited += 10) {
                rc = sqlite3_exec(db->handle,
                                  "PRAGMA journal_mode = WAL;"
                                  "PRAGMA synchronous = FULL;"
                                  "PRAGMA foreign_keys = ON;"
                                  "PRAGMA cache_size = -512;",
                                  NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                        return 0;
                if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= busy_timeout_ms)
                        return sqlite_errno(db, rc, "set up the database");
                (void) usleep(10 * 1000);
        }
}

static int read_text(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *data = NULL;
        size_t len = 0, allocated = 0, n;

        if (!f)
                return -errno;
        do {
                if (len + 4096 + 1 > allocated) {
                        allocated = allocated ? allocated * 2 : 8192;
                        char *p = realloc(data, allocated);
                        if (!p)
                                return -ENOMEM;
                        data = p;
                }
                n = fread(data + len, 1, allocated - len - 1, f);
                len += n;
        } while (n > 0);
        if (ferror(f))
                return -EIO;
        data[len] = '\0';
        *ret = TAKE_PTR(data);
        return 0;
}

static int schema_number(const char *name) {
        char *end;
        long n = strtol(name, &end, 10);
        return end != name && streq(end, ".sql") && n > 0 && n < 100000 ? (int) n : -1;
}

static int get_user_version(struct db *db, int *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db->handle, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
                return sqlite_errno(db, sqlite3_errcode(db->handle), "read the schema version");
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

/* Applies schema/N.sql for every N above the database's version, in order. */
static int apply_migrations(struct db *db, const char *dir, int from, int *ret_to) {
        int to = from, r;

        for (;;) {
                _cleanup_free_ char *path = NULL, *sql = NULL, *set = NULL;
                int next = to + 1;

                if (asprintf(&path, "%s/schema/%d.sql", dir, next) < 0)
                        return -ENOMEM;
                r = read_text(path, &sql);
                if (r == -ENOENT)
                        break;
                if (r < 0)
                        return log_error_errno(r, "Cannot read %s: %m", path);
                if ((r = exec(db, sql, path)) < 0)
                        return r;
                if (asprintf(&set, "PRAGMA user_version = %d", next) < 0)
                        return -ENOMEM;
                if ((r = exec(db, set, "record the schema version")) < 0)
                        return r;
                log_info("Database %s: schema migrated to version %d.", db->path, next);
                to = next;
        }
        *ret_to = to;
        return 0;
}

static int latest_schema(const char *dir) {
        _cleanup_free_ char *path = NULL;
        DIR *d;
        struct dirent *de;
        int latest = 0;

        if (asprintf(&path, "%s/schema", dir) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return log_error_errno(errno, "Cannot read the schema directory %s: %m", path);
        while ((de = readdir(d)))
                if (schema_number(de->d_name) > latest)
                        latest = schema_number(de->d_name);
        closedir(d);
        return latest;
}

static int seed(struct db *db, const char *dir) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        const char *error;
        int r;

        if (asprintf(&path, "%s/students.json", dir) < 0)
                return -ENOMEM;
        if ((r = read_text(path, &text)) < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        if (json_parse_strict(text, strlen(text), &o, &error) < 0 || !json_object_is_type(o, json_type_array))
                return log_error_errno(EINVAL, "%s: expected a JSON array of students.", path);
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                struct json_object *s = json_object_array_get_idx(o, i), *grades;
                struct student_input in;
                int64_t id;

                if (student_from_json(s, &in, &error) < 0)
                        return log_error_errno(EINVAL, "%s: student %zu: %s", path, i, error);
                if ((r = db_add_student(db, &in, &id)) < 0)
                        return r;
                grades = json_get(s, "Grades");
                for (size_t j = 0; grades && j < json_object_array_length(grades); j++) {
                        struct grade_input g;
                        int64_t gid;
                        if (grade_from_json(json_object_array_get_idx(grades, j), &g, &error) < 0)
                                return log_error_errno(EINVAL, "%s: student %zu, grade %zu: %s", path, i, j, error);
                        if ((r = db_add_grade(db, id, &g, &gid)) < 0)
                                return r;
                }
        }
        log_info("Database %s: filled with %zu students from %s.", db->path, json_object_array_length(o), path);
        return 0;
}

int db_migrate(struct db *db, const char *dir) {
        int version = 0, to = 0, latest, r;

        latest = latest_schema(dir);
        if (latest < 0)
                return latest;
        /* IMMEDIATE: two processes starting at once migrate and seed once. */
        if ((r = exec(db, "BEGIN IMMEDIATE", "start the migration")) < 0)
                return r;
        if ((r = get_user_version(db, &version)) < 0)
                goto fail;
        if (version > latest) {
                r = log_error_errno(EPROTO, "Database %s has schema version %d, newer than this program's %d.",
                                    db->path, version, latest);
                goto fail;
        }
        if ((r = apply_migrations(db, dir, version, &to)) < 0)
                goto fail;
        if (version == 0) {
                if ((r = db_prepare(db)) < 0 || (r = seed(db, dir)) < 0)
                        goto fail;
        }
        return exec(db, "COMMIT", "commit the migration");
fail:
        (void) exec(db, "ROLLBACK", "roll the migration back");
        return r;
}

int db_prepare(struct db *db) {
        static const struct {
                size_t offset;
                const char *sql;
        } statements[] = {
                { offsetof(struct db, data_version), "PRAGMA data_version" },
                { offsetof(struct db, get_student), "SELECT id, first_name, last_name FROM students WHERE id = ?" },
                { offsetof(struct db, list_students), "SELECT id, first_name, last_name FROM students ORDER BY id" },
                { offsetof(struct db, grades_of),
                  "SELECT id, title, type, score FROM grades WHERE student_id = ? ORDER BY id" },
                { offsetof(struct db, all_grades),
                  "SELECT student_id, id, title, type, score FROM grades ORDER BY student_id, id" },
                { offsetof(struct db, insert_student), "INSERT INTO students (first_name, last_name) VALUES (?, ?)" },
                { offsetof(struct db, insert_grade),
                  "INSERT INTO grades (student_id, title, type, score) VALUES (?, ?, ?, ?)" },
                { offsetof(struct db, delete_grade), "DELETE FROM grades WHERE id = ? AND student_id = ?" },
                { offsetof(struct db, student_exists), "SELECT 1 FROM students WHERE id = ?" },
        };

        for (size_t i = 0; i < ELEMENTSOF(statements); i++) {
                sqlite3_stmt **st = (sqlite3_stmt **) ((char *) db + statements[i].offset);
                if (*st)
                        continue;
                if (sqlite3_prepare_v3(db->handle, statements[i].sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
                    SQLITE_OK)
                        return sqlite_errno(db, sqlite3_errcode(db->handle), "prepare a statement");
        }
        return 0;
}

void db_close(struct db *db) {
        sqlite3_stmt **all[] = { &db->data_version, &db->get_student,  &db->list_students,
                                 &db->grades_of,    &db->all_grades,   &db->insert_student,
                                 &db->insert_grade, &db->delete_grade, &db->student_exists };

        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                sqlite3_finalize(*all[i]);
                *all[i] = NULL;
        }
        if (db->handle)
                sqlite3_close(db->handle);
        db->handle = NULL;
        free(db->path);
        db->path = NULL;
}

bool db_changed_elsewhere(struct db *db) {
        int64_t v;

        if (sqlite3_step(db->data_version) != SQLITE_ROW) {
                sqlite3_reset(db->data_version);
                return true;
        }
        v = sqlite3_column_int64(db->data_version, 0);
        sqlite3_reset(db->data_version);
        if (v == db->last_data_version)
                return false;
        db->last_data_version = v;
        return true;
}

struct json_object *grade_to_json(int64_t id, const char *title, const char *type, double score) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ID", json_object_new_int64(id));
        json_object_object_add(o, "Title", json_object_new_string(title));
        json_object_object_add(o, "Type", json_object_new_string(type));
        json_object_object_add(o, "Score", json_score(score));
        return o;
}

static struct json_object *student_json(sqlite3_stmt *st) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ID", json_object_new_int64(sqlite3_column_int64(st, 0)));
        json_object_object_add(o, "FirstName", json_object_new_string((const char *) sqlite3_column_text(st, 1)));
        json_object_object_add(o, "LastName", json_object_new_string((const char *) sqlite3_column_text(st, 2)));
        json_object_object_add(o, "Grades", json_object_new_array());
        return o;
}

/* "Average": the mean score, or null without grades (the seed divides by 0). */
static void add_average(struct json_object *student) {
        struct json_object *grades = json_get(student, "Grades");
        size_t n = json_object_array_length(grades);
        double sum = 0;

        for (size_t i = 0; i < n; i++)
                sum += json_object_get_double(json_get(json_object_array_get_idx(grades, i), "Score"));
        json_object_object_add(student, "Average", n ? json_score(sum / (double) n) : NULL);
}

static void add_grade_row(struct json_object *student, sqlite3_stmt *st, int first) {
        json_object_array_add(
                json_get(student, "Grades"),
                grade_to_json(sqlite3_column_int64(st, first), (const char *) sqlite3_column_text(st, first + 1),
                              (const char *) sqlite3_column_text(st, first + 2), sqlite3_column_double(st, first + 3)));
}

int db_student(struct db *db, int64_t id, struct json_object **ret) {
        struct json_object *o = NULL;
        int rc;

        sqlite3_bind_int64(db->get_student, 1, id);
        rc = sqlite3_step(db->get_student);
        if (rc == SQLITE_ROW)
                o = student_json(db->get_student);
        sqlite3_reset(db->get_student);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_errno(db, rc, "read a student");

        sqlite3_bind_int64(db->grades_of, 1, id);
        while ((rc = sqlite3_step(db->grades_of)) == SQLITE_ROW)
                add_grade_row(o, db->grades_of, 0);
        sqlite3_reset(db->grades_of);
        if (rc != SQLITE_DONE) {
                json_object_put(o);
                return sqlite_errno(db, rc, "read grades");
        }
        add_average(o);
        *ret = o;
        return 0;
}

int db_students(struct db *db, struct json_object **ret) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        struct json_object *by_id = json_object_new_object();
        int rc;

        /* Two statements in one read transaction, so they agree. */
        if ((rc = exec(db, "BEGIN", "read the students")) < 0) {
                json_object_put(by_id);
                return rc;
        }
        while ((rc = sqlite3_step(db->list_students)) == SQLITE_ROW) {
                struct json_object *s = student_json(db->list_students);
                json_object_array_add(a, s);
                json_object_object_add(by_id, (const char *) sqlite3_column_text(db->list_students, 0),
                                       json_object_get(s));
        }
        sqlite3_reset(db->list_students);
        if (rc == SQLITE_DONE) {
                while ((rc = sqlite3_step(db->all_grades)) == SQLITE_ROW) {
                        struct json_object *s = json_get(by_id, (const char *) sqlite3_column_text(db->all_grades, 0));
                        if (s)
                                add_grade_row(s, db->all_grades, 1);
                }
                sqlite3_reset(db->all_grades);
        }
        (void) exec(db, "COMMIT", "end the read");
        json_object_put(by_id);
        if (rc != SQLITE_DONE)
                return sqlite_errno(db, rc, "read the students");
        for (size_t i = 0; i < json_object_array_length(a); i++)
                add_average(json_object_array_get_idx(a, i));
        *ret = TAKE_PTR(a);
        return 0;
}

static int step_write(struct db *db, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE ? 0 : sqlite_errno(db, rc, what);
}

int db_add_student(struct db *db, const struct student_input *in, int64_t *ret_id) {
        int r;

        sqlite3_bind_text(db->insert_student, 1, in->first_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(db->insert_student, 2, in->last_name, -1, SQLITE_STATIC);
        if ((r = step_write(db, db->insert_student, "add a student")) < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(db->handle);
        return 0;
}

int db_add_grade(struct db *db, int64_t student_id, const struct grade_input *in, int64_t *ret_id) {
        /* Inside the seeding transaction, or a transaction of its own. */
        bool own = sqlite3_get_autocommit(db->handle);
        int rc, r;

        /* The check and the insert in one write transaction: the student
         * cannot vanish between them, even with other processes writing. */
        if (own && (r = exec(db, "BEGIN IMMEDIATE", "add a grade")) < 0)
                return r;
        sqlite3_bind_int64(db->student_exists, 1, student_id);
        rc = sqlite3_step(db->student_exists);
        sqlite3_reset(db->student_exists);
        if (rc != SQLITE_ROW) {
                r = rc == SQLITE_DONE ? -ENOENT : sqlite_errno(db, rc, "find the student");
                goto fail;
        }
        sqlite3_bind_int64(db->insert_grade, 1, student_id);
        sqlite3_bind_text(db->insert_grade, 2, in->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(db->insert_grade, 3, in->type, -1, SQLITE_STATIC);
        sqlite3_bind_double(db->insert_grade, 4, in->score);
        if ((r = step_write(db, db->insert_grade, "add a grade")) < 0)
                goto fail;
        *ret_id = sqlite3_last_insert_rowid(db->handle);
        return own ? exec(db, "COMMIT", "commit a grade") : 0;
fail:
        if (own)
                (void) exec(db, "ROLLBACK", "roll back");
        return r;
}

int db_delete_grade(struct db *db, int64_t student_id, int64_t grade_id) {
        int r;

        sqlite3_bind_int64(db->delete_grade, 1, grade_id);
        sqlite3_bind_int64(db->delete_grade, 2, student_id);
        if ((r = step_write(db, db->delete_grade, "delete a grade")) < 0)
                return r;
        return sqlite3_changes(db->handle) > 0 ? 0 : -ENOENT;
}
