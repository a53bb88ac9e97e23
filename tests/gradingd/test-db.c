/* SPDX-License-Identifier: MIT */
/* Unit tests for src/gradingd/db.c on temporary databases: opening,
 * migrating and seeding, reading and writing students and grades, locks
 * held by other connections, and changes made by other connections.
 *
 * Needs $GRADES_SRCDIR (exported by make check) for data/schema and
 * data/students.json. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grading.h"

#define N_SEED_STUDENTS 5
#define N_SEED_GRADES   15

struct fixture {
        char dir[256];
        char path[300];
        char data[512]; /* $GRADES_SRCDIR/data */
};

static int fixture_setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        const char *src = getenv("GRADES_SRCDIR");

        if (!f)
                return -1;
        if (!src || !*src) {
                fprintf(stderr, "GRADES_SRCDIR is not set (make check sets it)\n");
                free(f);
                return -1;
        }
        snprintf(f->dir, sizeof(f->dir), "%s/grades-test-db.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->path, sizeof(f->path), "%s/grades.db", f->dir);
        snprintf(f->data, sizeof(f->data), "%s/data", src);
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int fixture_teardown(void **state) {
        struct fixture *f = *state;

        (void) nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

/* ----------------------------------------------------------- helpers ---- */

static char *read_file(const char *path) {
        FILE *fp = fopen(path, "re");
        char *text;
        long n;

        if (!fp)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        n = ftell(fp);
        rewind(fp);
        text = calloc(1, (size_t) n + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, (size_t) n, fp), (size_t) n);
        fclose(fp);
        return text;
}

static void write_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "we");
        if (!fp)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        assert_int_equal(fputs(text, fp) >= 0, 1);
        assert_int_equal(fclose(fp), 0);
}

/* A data directory of our own under the fixture: schema/1.sql and
 * students.json copied from the source tree, plus what the test adds. */
static void make_data_dir(struct fixture *f, const char *name, char *ret, size_t size) {
        char from[700], to[700], schema[600];
        char *text;

        snprintf(ret, size, "%s/%s", f->dir, name);
        assert_int_equal(mkdir(ret, 0755), 0);
        snprintf(schema, sizeof(schema), "%s/schema", ret);
        assert_int_equal(mkdir(schema, 0755), 0);
        snprintf(from, sizeof(from), "%s/schema/1.sql", f->data);
        snprintf(to, sizeof(to), "%s/1.sql", schema);
        text = read_file(from);
        write_file(to, text);
        free(text);
        snprintf(from, sizeof(from), "%s/students.json", f->data);
        snprintf(to, sizeof(to), "%s/students.json", ret);
        text = read_file(from);
        write_file(to, text);
        free(text);
}

static void add_file(const char *dir, const char *name, const char *text) {
        char path[800];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        write_file(path, text);
}

/* Opens, migrates and prepares, as main.c does. */
static void open_db(struct fixture *f, struct db *db, uint64_t busy_ms) {
        assert_int_equal(db_open(db, f->path, busy_ms), 0);
        assert_int_equal(db_migrate(db, f->data), 0);
        assert_int_equal(db_prepare(db), 0);
        (void) db_changed_elsewhere(db);
}

static sqlite3 *raw_open(const char *path) {
        sqlite3 *h = NULL;
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        sqlite3_busy_timeout(h, 10000);
        return h;
}

static void raw_exec(sqlite3 *h, const char *sql) {
        char *error = NULL;
        if (sqlite3_exec(h, sql, NULL, NULL, &error) != SQLITE_OK) {
                char copy[512];
                snprintf(copy, sizeof(copy), "%s", error ?: "?");
                sqlite3_free(error);
                fail_msg("SQL failed (%s): %s", copy, sql);
        }
}

static int64_t raw_int(sqlite3 *h, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v;

        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("cannot prepare %s: %s", sql, sqlite3_errmsg(h));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static char *raw_text(sqlite3 *h, const char *sql) {
        sqlite3_stmt *st = NULL;
        char *v;

        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("cannot prepare %s: %s", sql, sqlite3_errmsg(h));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = strdup((const char *) sqlite3_column_text(st, 0) ?: "");
        sqlite3_finalize(st);
        return v;
}

static int64_t count(struct fixture *f, const char *table) {
        char sql[128];
        sqlite3 *h = raw_open(f->path);
        int64_t n;

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
        n = raw_int(h, sql);
        sqlite3_close(h);
        return n;
}

static int64_t user_version(struct fixture *f) {
        sqlite3 *h = raw_open(f->path);
        int64_t v = raw_int(h, "PRAGMA user_version");
        sqlite3_close(h);
        return v;
}

static int64_t n_tables(struct fixture *f) {
        sqlite3 *h = raw_open(f->path);
        int64_t v = raw_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
        sqlite3_close(h);
        return v;
}

/* A database made by hand: schema version 1 applied, user_version set. */
static void make_v1_database(struct fixture *f, bool with_student) {
        char path[600];
        char *schema;
        sqlite3 *h = raw_open(f->path);

        snprintf(path, sizeof(path), "%s/schema/1.sql", f->data);
        schema = read_file(path);
        raw_exec(h, "PRAGMA journal_mode = WAL");
        raw_exec(h, schema);
        raw_exec(h, "PRAGMA user_version = 1");
        if (with_student) {
                raw_exec(h, "INSERT INTO students (first_name, last_name) VALUES ('Ada', 'Lovelace')");
                raw_exec(h, "INSERT INTO grades (student_id, title, type, score) VALUES (1, 'Notes', 'Homework', 99)");
        }
        free(schema);
        sqlite3_close(h);
}

static char *to_string(struct json_object *o) {
        size_t len;
        const char *s = json_to_string(o, &len);
        return strndup(s, len);
}

static void assert_json(struct json_object *o, const char *expected) {
        char *s = to_string(o);
        if (!streq(s, expected)) {
                char copy[2048];
                snprintf(copy, sizeof(copy), "%s", s);
                free(s);
                fail_msg("JSON differs:\n  got      %s\n  expected %s", copy, expected);
        }
        free(s);
}

static struct json_object *student(struct db *db, int64_t id) {
        struct json_object *o = NULL;
        int r = db_student(db, id, &o);
        if (r < 0)
                fail_msg("db_student(%" PRId64 ") = %d", id, r);
        assert_non_null(o);
        return o;
}

static size_t n_grades_of(struct db *db, int64_t id) {
        struct json_object *o = student(db, id);
        size_t n = json_object_array_length(json_get(o, "Grades"));
        json_object_put(o);
        return n;
}

static int64_t add_grade(struct db *db, int64_t student_id, const char *title, const char *type, double score) {
        struct grade_input in = { title, type, score };
        int64_t id = -1;
        int r = db_add_grade(db, student_id, &in, &id);
        if (r < 0)
                fail_msg("db_add_grade(%" PRId64 ", %s) = %d", student_id, title, r);
        assert_true(id > 0);
        return id;
}

/* ----------------------------------------------------- open and seed ---- */

static void test_fresh_database_is_seeded(void **state) {
        struct fixture *f = *state;
        struct db db;
        struct json_object *all = NULL;
        sqlite3 *h;
        char *mode;
        static const char *const names[][2] = {
                { "Nick", "Carter" }, { "Roberto", "Baggio" }, { "Emma", "Stone" },
                { "zhangsan", "san" }, { "xiaoqiao", "qiao" },
        };

        open_db(f, &db, 1000);
        assert_int_equal(db_students(&db, &all), 0);
        assert_int_equal(json_object_array_length(all), N_SEED_STUDENTS);
        for (size_t i = 0; i < N_SEED_STUDENTS; i++) {
                struct json_object *s = json_object_array_get_idx(all, i);
                struct json_object *grades = json_get(s, "Grades");
                assert_int_equal(json_object_get_int64(json_get(s, "ID")), (int64_t) i + 1);
                assert_string_equal(json_object_get_string(json_get(s, "FirstName")), names[i][0]);
                assert_string_equal(json_object_get_string(json_get(s, "LastName")), names[i][1]);
                assert_int_equal(json_object_array_length(grades), 3);
                for (size_t j = 0; j < 3; j++)
                        assert_int_equal(json_object_get_int64(json_get(json_object_array_get_idx(grades, j), "ID")),
                                         (int64_t) (i * 3 + j + 1));
        }
        json_object_put(all);
        db_close(&db);

        assert_int_equal(user_version(f), 1);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES);
        h = raw_open(f->path);
        mode = raw_text(h, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        free(mode);
        mode = raw_text(h, "PRAGMA integrity_check");
        assert_string_equal(mode, "ok");
        free(mode);
        sqlite3_close(h);
}

static void test_student_json(void **state) {
        struct fixture *f = *state;
        struct json_object *o;
        struct db db;

        open_db(f, &db, 1000);
        o = student(&db, 1);
        assert_json(o, "{\"ID\":1,\"FirstName\":\"Nick\",\"LastName\":\"Carter\",\"Grades\":["
                       "{\"ID\":1,\"Title\":\"Quiz 1\",\"Type\":\"Quiz\",\"Score\":85},"
                       "{\"ID\":2,\"Title\":\"Final Exam\",\"Type\":\"Exam\",\"Score\":94},"
                       "{\"ID\":3,\"Title\":\"Quiz 2\",\"Type\":\"Quiz\",\"Score\":82}],\"Average\":87}");
        json_object_put(o);
        o = student(&db, 3);
        assert_json(o, "{\"ID\":3,\"FirstName\":\"Emma\",\"LastName\":\"Stone\",\"Grades\":["
                       "{\"ID\":7,\"Title\":\"Quiz 1\",\"Type\":\"Quiz\",\"Score\":67},"
                       "{\"ID\":8,\"Title\":\"Final Exam\",\"Type\":\"Exam\",\"Score\":0},"
                       "{\"ID\":9,\"Title\":\"Quiz 2\",\"Type\":\"Quiz\",\"Score\":75}],"
                       "\"Average\":47.333333333333336}");
        json_object_put(o);
        db_close(&db);
}

/* Student 2 has two scores of 100: the seed (Go) prints "Score":100. */
static void test_student_json_score_100(void **state) {
        struct fixture *f = *state;
        struct json_object *o;
        struct db db;

        open_db(f, &db, 1000);
        o = student(&db, 2);
        assert_json(o, "{\"ID\":2,\"FirstName\":\"Roberto\",\"LastName\":\"Baggio\",\"Grades\":["
                       "{\"ID\":4,\"Title\":\"Quiz 1\",\"Type\":\"Quiz\",\"Score\":100},"
                       "{\"ID\":5,\"Title\":\"Final Exam\",\"Type\":\"Exam\",\"Score\":100},"
                       "{\"ID\":6,\"Title\":\"Quiz 2\",\"Type\":\"Quiz\",\"Score\":81}],"
                       "\"Average\":93.66666666666667}");
        json_object_put(o);
        db_close(&db);
}

static void test_list_agrees_with_single(void **state) {
        struct fixture *f = *state;
        struct json_object *all = NULL;
        struct db db;

        open_db(f, &db, 1000);
        add_grade(&db, 4, "Extra", "Homework", 12.5);
        assert_int_equal(db_students(&db, &all), 0);
        for (size_t i = 0; i < json_object_array_length(all); i++) {
                struct json_object *s = json_object_array_get_idx(all, i);
                struct json_object *one = student(&db, json_object_get_int64(json_get(s, "ID")));
                char *a = to_string(s), *b = to_string(one);
                assert_string_equal(a, b);
                free(a);
                free(b);
                json_object_put(one);
        }
        json_object_put(all);
        db_close(&db);
}

static void test_missing_student(void **state) {
        struct fixture *f = *state;
        struct json_object *o = NULL;
        struct db db;

        open_db(f, &db, 1000);
        assert_int_equal(db_student(&db, 99, &o), -ENOENT);
        assert_null(o);
        assert_int_equal(db_student(&db, 0, &o), -ENOENT);
        assert_int_equal(db_student(&db, -1, &o), -ENOENT);
        assert_int_equal(db_student(&db, INT64_MAX, &o), -ENOENT);
        assert_null(o);
        db_close(&db);
}

/* ------------------------------------------------------------ writes ---- */

static void test_add_student(void **state) {
        struct fixture *f = *state;
        struct student_input in = { "Grace", "Hopper" };
        struct json_object *o, *avg = (void *) 1, *all = NULL;
        struct db db;
        int64_t id = 0;

        open_db(f, &db, 1000);
        assert_int_equal(db_add_student(&db, &in, &id), 0);
        assert_int_equal(id, N_SEED_STUDENTS + 1);
        o = student(&db, id);
        assert_json(o, "{\"ID\":6,\"FirstName\":\"Grace\",\"LastName\":\"Hopper\",\"Grades\":[],\"Average\":null}");
        assert_true(json_object_object_get_ex(o, "Average", &avg));
        assert_null(avg);
        json_object_put(o);
        assert_int_equal(db_students(&db, &all), 0);
        assert_int_equal(json_object_array_length(all), N_SEED_STUDENTS + 1);
        json_object_put(all);
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS + 1);
}

static void test_add_grade(void **state) {
        struct fixture *f = *state;
        struct json_object *o, *last;
        struct db db;
        int64_t id;

        open_db(f, &db, 1000);
        /* (91, not 90: "Score":90 is test_student_json_score_100's business) */
        id = add_grade(&db, 1, "Quiz 3", "Quiz", 91);
        assert_int_equal(id, N_SEED_GRADES + 1);
        assert_true(sqlite3_get_autocommit(db.handle));
        o = student(&db, 1);
        assert_int_equal(json_object_array_length(json_get(o, "Grades")), 4);
        last = json_object_array_get_idx(json_get(o, "Grades"), 3);
        assert_json(last, "{\"ID\":16,\"Title\":\"Quiz 3\",\"Type\":\"Quiz\",\"Score\":91}");
        assert_true(json_object_get_double(json_get(o, "Average")) == 88);
        json_object_put(o);

        /* Scores keep their exact value: a float32 from the portal, halves. */
        add_grade(&db, 1, "Quiz 4", "Test", 85.3);
        add_grade(&db, 1, "Quiz 5", "Homework", 77.5);
        o = student(&db, 1);
        assert_json(json_object_array_get_idx(json_get(o, "Grades"), 4),
                    "{\"ID\":17,\"Title\":\"Quiz 4\",\"Type\":\"Test\",\"Score\":85.3}");
        assert_json(json_object_array_get_idx(json_get(o, "Grades"), 5),
                    "{\"ID\":18,\"Title\":\"Quiz 5\",\"Type\":\"Homework\",\"Score\":77.5}");
        json_object_put(o);

        /* A new student's first grade is the average. */
        {
                struct student_input in = { "New", "Student" };
                int64_t sid;
                assert_int_equal(db_add_student(&db, &in, &sid), 0);
                add_grade(&db, sid, "Only", "Exam", 64.25);
                o = student(&db, sid);
                assert_true(json_object_get_double(json_get(o, "Average")) == 64.25);
                json_object_put(o);
        }
        db_close(&db);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES + 4);
}

static void test_add_grade_unicode_title(void **state) {
        struct fixture *f = *state;
        struct json_object *o;
        struct db db;

        open_db(f, &db, 1000);
        add_grade(&db, 5, "\xe6\x9c\x9f\xe6\x9c\xab\xe8\x80\x83\xe8\xaf\x95 \xf0\x9f\x93\x9a \"q\" \\ </b>", "Exam", 99);
        o = student(&db, 5);
        assert_string_equal(json_object_get_string(json_get(json_object_array_get_idx(json_get(o, "Grades"), 3), "Title")),
                            "\xe6\x9c\x9f\xe6\x9c\xab\xe8\x80\x83\xe8\xaf\x95 \xf0\x9f\x93\x9a \"q\" \\ </b>");
        json_object_put(o);
        db_close(&db);
}

static void test_add_grade_unknown_student(void **state) {
        struct fixture *f = *state;
        struct grade_input in = { "Quiz 3", "Quiz", 90 };
        struct db db;
        int64_t id = -7;

        open_db(f, &db, 1000);
        assert_int_equal(db_add_grade(&db, 99, &in, &id), -ENOENT);
        assert_int_equal(db_add_grade(&db, 0, &in, &id), -ENOENT);
        assert_int_equal(id, -7);
        /* The transaction is over: nothing left open, nothing written. */
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES);
}

static void test_add_grade_refused_by_schema(void **state) {
        struct fixture *f = *state;
        struct grade_input bad_type = { "t", "Project", 50 }, bad_score = { "t", "Quiz", 101 };
        struct db db;
        int64_t id;

        /* Validation normally stops these; the schema's CHECKs are the last line. */
        open_db(f, &db, 1000);
        assert_true(db_add_grade(&db, 1, &bad_type, &id) < 0);
        assert_true(sqlite3_get_autocommit(db.handle));
        assert_true(db_add_grade(&db, 1, &bad_score, &id) < 0);
        assert_true(sqlite3_get_autocommit(db.handle));
        assert_int_equal(n_grades_of(&db, 1), 3);
        /* And the statements still work afterwards. */
        add_grade(&db, 1, "after", "Quiz", 50);
        assert_int_equal(n_grades_of(&db, 1), 4);
        db_close(&db);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES + 1);
}

static void test_delete_grade(void **state) {
        struct fixture *f = *state;
        struct json_object *o;
        struct db db;
        int64_t id;

        open_db(f, &db, 1000);
        id = add_grade(&db, 1, "to delete", "Quiz", 10);
        assert_int_equal(db_delete_grade(&db, 1, id), 0);
        assert_int_equal(db_delete_grade(&db, 1, id), -ENOENT);
        assert_int_equal(n_grades_of(&db, 1), 3);

        /* Grade 4 belongs to student 2, not to student 1. */
        assert_int_equal(db_delete_grade(&db, 1, 4), -ENOENT);
        assert_int_equal(n_grades_of(&db, 2), 3);
        assert_int_equal(db_delete_grade(&db, 99, 1), -ENOENT);
        assert_int_equal(db_delete_grade(&db, 1, 999), -ENOENT);
        assert_int_equal(n_grades_of(&db, 1), 3);

        assert_int_equal(db_delete_grade(&db, 1, 2), 0);
        o = student(&db, 1);
        assert_json(o, "{\"ID\":1,\"FirstName\":\"Nick\",\"LastName\":\"Carter\",\"Grades\":["
                       "{\"ID\":1,\"Title\":\"Quiz 1\",\"Type\":\"Quiz\",\"Score\":85},"
                       "{\"ID\":3,\"Title\":\"Quiz 2\",\"Type\":\"Quiz\",\"Score\":82}],\"Average\":83.5}");
        json_object_put(o);
        assert_int_equal(db_delete_grade(&db, 1, 1), 0);
        assert_int_equal(db_delete_grade(&db, 1, 3), 0);
        o = student(&db, 1);
        assert_json(o, "{\"ID\":1,\"FirstName\":\"Nick\",\"LastName\":\"Carter\",\"Grades\":[],\"Average\":null}");
        json_object_put(o);
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES - 3);
}

/* Prepared once: the statements survive use and another db_prepare(). */
static void test_statements_prepared_once(void **state) {
        struct fixture *f = *state;
        struct student_input in = { "Prepared", "Once" };
        struct json_object *o = NULL;
        sqlite3_stmt *before[9], *after[9];
        struct db db;
        int64_t id;

        open_db(f, &db, 1000);
#define STATEMENTS(a)                                                                                                  \
        do {                                                                                                           \
                sqlite3_stmt *v[] = { db.data_version, db.get_student,  db.list_students,                              \
                                      db.grades_of,    db.all_grades,   db.insert_student,                             \
                                      db.insert_grade, db.delete_grade, db.student_exists };                           \
                memcpy(a, v, sizeof(v));                                                                               \
        } while (0)
        STATEMENTS(before);
        for (size_t i = 0; i < ELEMENTSOF(before); i++)
                assert_non_null(before[i]);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(db_add_student(&db, &in, &id), 0);
                add_grade(&db, id, "p", "Quiz", 1);
                assert_int_equal(db_student(&db, id, &o), 0);
                json_object_put(o);
                assert_int_equal(db_students(&db, &o), 0);
                json_object_put(o);
                (void) db_changed_elsewhere(&db);
        }
        assert_int_equal(db_prepare(&db), 0);
        STATEMENTS(after);
#undef STATEMENTS
        for (size_t i = 0; i < ELEMENTSOF(before); i++)
                assert_ptr_equal(before[i], after[i]);
        db_close(&db);
}

static void test_grade_to_json(void **state) {
        struct json_object *o = grade_to_json(7, "Quiz 3", "Quiz", 77.5);
        assert_json(o, "{\"ID\":7,\"Title\":\"Quiz 3\",\"Type\":\"Quiz\",\"Score\":77.5}");
        json_object_put(o);
        o = grade_to_json(8, "Q", "Exam", 0);
        assert_json(o, "{\"ID\":8,\"Title\":\"Q\",\"Type\":\"Exam\",\"Score\":0}");
        json_object_put(o);
}

/* -------------------------------------------------------- migrations ---- */

static void test_reopen_does_not_reseed(void **state) {
        struct fixture *f = *state;
        struct student_input in = { "Grace", "Hopper" };
        struct db db;
        int64_t id;

        open_db(f, &db, 1000);
        assert_int_equal(db_add_student(&db, &in, &id), 0);
        add_grade(&db, id, "kept", "Test", 66);
        assert_int_equal(db_delete_grade(&db, 1, 1), 0);
        db_close(&db);

        open_db(f, &db, 1000);
        assert_int_equal(n_grades_of(&db, id), 1);
        assert_int_equal(n_grades_of(&db, 1), 2);
        db_close(&db);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS + 1);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES);
        assert_int_equal(user_version(f), 1);
}

static void test_version_1_database_not_reseeded(void **state) {
        struct fixture *f = *state;
        struct json_object *all = NULL;
        struct db db;

        make_v1_database(f, true);
        open_db(f, &db, 1000);
        assert_int_equal(db_students(&db, &all), 0);
        assert_json(all, "[{\"ID\":1,\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"Grades\":["
                         "{\"ID\":1,\"Title\":\"Notes\",\"Type\":\"Homework\",\"Score\":99}],\"Average\":99}]");
        json_object_put(all);
        db_close(&db);
        assert_int_equal(user_version(f), 1);
}

static void test_empty_version_1_database_not_reseeded(void **state) {
        struct fixture *f = *state;
        struct json_object *all = NULL;
        struct db db;

        /* Every student deleted by hand: still not seeded again. */
        make_v1_database(f, false);
        open_db(f, &db, 1000);
        assert_int_equal(db_students(&db, &all), 0);
        assert_json(all, "[]");
        json_object_put(all);
        db_close(&db);
        assert_int_equal(count(f, "students"), 0);
}

static void test_newer_version_refused(void **state) {
        struct fixture *f = *state;
        sqlite3 *h = raw_open(f->path);
        struct db db;

        raw_exec(h, "PRAGMA journal_mode = WAL; PRAGMA user_version = 99");
        sqlite3_close(h);

        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_true(db_migrate(&db, f->data) < 0);
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        /* Left as it was: no schema applied, nothing seeded. */
        assert_int_equal(user_version(f), 99);
        assert_int_equal(n_tables(f), 0);
}

static void test_new_schema_file_applied(void **state) {
        struct fixture *f = *state;
        char data[600];
        struct json_object *o;
        struct db db;
        sqlite3 *h;

        make_data_dir(f, "data2", data, sizeof(data));
        add_file(data, "schema/2.sql",
                 "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);\n"
                 "ALTER TABLE students ADD COLUMN email TEXT;\n");

        /* A database at version 1 goes to 2, keeping its data, unseeded. */
        make_v1_database(f, true);
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_int_equal(db_migrate(&db, data), 0);
        assert_int_equal(db_prepare(&db), 0);
        o = student(&db, 1);
        assert_string_equal(json_object_get_string(json_get(o, "FirstName")), "Ada");
        json_object_put(o);
        db_close(&db);
        assert_int_equal(user_version(f), 2);
        assert_int_equal(count(f, "students"), 1);
        assert_int_equal(count(f, "notes"), 0);
        h = raw_open(f->path);
        assert_int_equal(raw_int(h, "SELECT count(*) FROM pragma_table_info('students') WHERE name = 'email'"), 1);
        sqlite3_close(h);

        /* And again: nothing left to do. */
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_int_equal(db_migrate(&db, data), 0);
        db_close(&db);
        assert_int_equal(user_version(f), 2);
        assert_int_equal(count(f, "students"), 1);
}

static void test_new_schema_file_on_fresh_database(void **state) {
        struct fixture *f = *state;
        char data[600];
        struct db db;

        make_data_dir(f, "data2", data, sizeof(data));
        add_file(data, "schema/2.sql", "ALTER TABLE grades ADD COLUMN note TEXT;\n");
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_int_equal(db_migrate(&db, data), 0);
        assert_int_equal(db_prepare(&db), 0);
        assert_int_equal(n_grades_of(&db, 1), 3);
        db_close(&db);
        assert_int_equal(user_version(f), 2);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS);
        assert_int_equal(count(f, "grades"), N_SEED_GRADES);
}

static void test_failed_migration_rolls_back(void **state) {
        struct fixture *f = *state;
        char data[600];
        struct db db;

        make_data_dir(f, "broken", data, sizeof(data));
        add_file(data, "schema/2.sql", "CREATE TABLE fine (x INTEGER);\nCREATE TABLE oops (;\n");

        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_true(db_migrate(&db, data) < 0);
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        /* All or nothing: not even version 1 or the seed stayed. */
        assert_int_equal(user_version(f), 0);
        assert_int_equal(n_tables(f), 0);

        /* The good schema afterwards works as on a new database. */
        {
                struct db ok;
                open_db(f, &ok, 1000);
                db_close(&ok);
        }
        assert_int_equal(user_version(f), 1);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS);
}

static void test_failed_seed_rolls_back(void **state) {
        struct fixture *f = *state;
        char data[600];
        struct db db;

        make_data_dir(f, "badseed", data, sizeof(data));
        add_file(data, "students.json",
                 "[{\"FirstName\":\"A\",\"LastName\":\"B\",\"Grades\":[{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":5}]},"
                 " {\"FirstName\":\"C\",\"LastName\":\"D\",\"Grades\":[{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":101}]}]");
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_true(db_migrate(&db, data) < 0);
        assert_true(sqlite3_get_autocommit(db.handle));
        db_close(&db);
        assert_int_equal(user_version(f), 0);
        assert_int_equal(n_tables(f), 0);

        add_file(data, "students.json", "{\"not\": \"an array\"}");
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_true(db_migrate(&db, data) < 0);
        db_close(&db);
        assert_int_equal(user_version(f), 0);
}

static void test_missing_data_directory(void **state) {
        struct fixture *f = *state;
        char data[600];
        struct db db;

        snprintf(data, sizeof(data), "%s/nonexistent", f->dir);
        assert_int_equal(db_open(&db, f->path, 1000), 0);
        assert_true(db_migrate(&db, data) < 0);
        db_close(&db);
}

static void test_open_failures(void **state) {
        struct fixture *f = *state;
        char path[600];
        struct db db;
        int r;

        snprintf(path, sizeof(path), "%s/no/such/dir/grades.db", f->dir);
        assert_true(db_open(&db, path, 1000) < 0);
        db_close(&db);

        /* Not a database: refused, not overwritten. */
        write_file(f->path, "This is not an SQLite database, but it is long enough to look like a header.\n");
        r = db_open(&db, f->path, 1000);
        if (r == 0)
                r = db_migrate(&db, f->data);
        assert_true(r < 0);
        db_close(&db);
        {
                char *text = read_file(f->path);
                assert_string_equal(text, "This is not an SQLite database, but it is long enough to look like a header.\n");
                free(text);
        }
}

/* ----------------------------------------- other connections, locks ---- */

static void test_changed_elsewhere(void **state) {
        struct fixture *f = *state;
        struct student_input in = { "Other", "Process" };
        struct db a, b;
        int64_t id, gid;

        open_db(f, &a, 1000);
        open_db(f, &b, 1000);
        assert_false(db_changed_elsewhere(&a));
        assert_false(db_changed_elsewhere(&b));

        /* b writes: a notices once. */
        gid = add_grade(&b, 1, "from b", "Quiz", 1);
        assert_false(db_changed_elsewhere(&b)); /* its own write */
        assert_true(db_changed_elsewhere(&a));
        assert_false(db_changed_elsewhere(&a));
        assert_int_equal(n_grades_of(&a, 1), 4);

        /* a writes: b notices. */
        assert_int_equal(db_add_student(&a, &in, &id), 0);
        assert_false(db_changed_elsewhere(&a));
        assert_true(db_changed_elsewhere(&b));
        assert_false(db_changed_elsewhere(&b));

        assert_int_equal(db_delete_grade(&a, 1, gid), 0);
        assert_true(db_changed_elsewhere(&b));
        assert_false(db_changed_elsewhere(&a));

        /* A raw connection counts as elsewhere too. */
        {
                sqlite3 *h = raw_open(f->path);
                raw_exec(h, "UPDATE students SET first_name = 'Nicholas' WHERE id = 1");
                sqlite3_close(h);
        }
        assert_true(db_changed_elsewhere(&a));
        assert_true(db_changed_elsewhere(&b));
        {
                struct json_object *o = student(&b, 1);
                assert_string_equal(json_object_get_string(json_get(o, "FirstName")), "Nicholas");
                json_object_put(o);
        }
        db_close(&a);
        db_close(&b);
}

static void test_busy(void **state) {
        struct fixture *f = *state;
        struct grade_input g = { "busy", "Quiz", 50 };
        struct student_input s = { "Busy", "Body" };
        struct json_object *o = NULL;
        struct db db;
        sqlite3 *h;
        int64_t id;

        open_db(f, &db, 100);
        h = raw_open(f->path);
        raw_exec(h, "BEGIN IMMEDIATE; INSERT INTO grades (student_id, title, type, score) VALUES (2, 'held', 'Quiz', 1)");

        assert_int_equal(db_add_grade(&db, 1, &g, &id), -EBUSY);
        assert_true(sqlite3_get_autocommit(db.handle));
        assert_int_equal(db_add_student(&db, &s, &id), -EBUSY);
        assert_int_equal(db_delete_grade(&db, 1, 1), -EBUSY);
        /* WAL: readers go on while another connection writes. */
        assert_int_equal(db_student(&db, 1, &o), 0);
        json_object_put(o);
        o = NULL;
        assert_int_equal(db_students(&db, &o), 0);
        json_object_put(o);
        assert_true(sqlite3_get_autocommit(db.handle));

        raw_exec(h, "COMMIT");
        sqlite3_close(h);
        add_grade(&db, 1, "after the lock", "Quiz", 50);
        assert_int_equal(n_grades_of(&db, 1), 4); /* only the one that got through */
        assert_int_equal(n_grades_of(&db, 2), 4); /* and the other connection's */
        db_close(&db);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS);
}

struct holder {
        const char *path;
        int hold_ms;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool locked;
};

static void *hold_lock(void *p) {
        struct holder *hd = p;
        sqlite3 *h = NULL;
        struct timespec ts = { hd->hold_ms / 1000, (long) (hd->hold_ms % 1000) * 1000000L };

        if (sqlite3_open(hd->path, &h) != SQLITE_OK ||
            sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
                sqlite3_close(h);
                return (void *) 1;
        }
        pthread_mutex_lock(&hd->lock);
        hd->locked = true;
        pthread_cond_signal(&hd->cond);
        pthread_mutex_unlock(&hd->lock);
        nanosleep(&ts, NULL);
        (void) sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(h);
        return NULL;
}

static void test_busy_timeout_waits(void **state) {
        struct fixture *f = *state;
        struct holder hd = { .path = f->path, .hold_ms = 300 };
        struct db db;
        pthread_t t;
        void *ret;

        open_db(f, &db, 30000);
        pthread_mutex_init(&hd.lock, NULL);
        pthread_cond_init(&hd.cond, NULL);
        assert_int_equal(pthread_create(&t, NULL, hold_lock, &hd), 0);
        pthread_mutex_lock(&hd.lock);
        while (!hd.locked)
                pthread_cond_wait(&hd.cond, &hd.lock);
        pthread_mutex_unlock(&hd.lock);
        /* The lock is held now; the write waits for it instead of failing. */
        add_grade(&db, 1, "waited", "Quiz", 50);
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_null(ret);
        assert_int_equal(n_grades_of(&db, 1), 4);
        db_close(&db);
        pthread_mutex_destroy(&hd.lock);
        pthread_cond_destroy(&hd.cond);
}

#define N_WRITERS         3
#define GRADES_PER_WRITER 150

static void test_processes_share_database(void **state) {
        struct fixture *f = *state;
        struct db db;
        pid_t pids[N_WRITERS];
        sqlite3 *h;
        char *check;

        open_db(f, &db, 1000); /* created and seeded before the writers start */
        db_close(&db);
        for (int w = 0; w < N_WRITERS; w++) {
                pids[w] = fork();
                assert_true(pids[w] >= 0);
                if (pids[w] == 0) {
                        struct db mine;
                        int failures = 0;
                        if (db_open(&mine, f->path, 30000) < 0 || db_migrate(&mine, f->data) < 0 ||
                            db_prepare(&mine) < 0)
                                _exit(100);
                        for (int i = 0; i < GRADES_PER_WRITER; i++) {
                                char title[64];
                                struct grade_input in = { title, "Homework", (double) (i % 101) };
                                int64_t id;
                                snprintf(title, sizeof(title), "w%d-%d", w, i);
                                if (db_add_grade(&mine, 1 + (i % N_SEED_STUDENTS), &in, &id) < 0)
                                        failures++;
                        }
                        db_close(&mine);
                        _exit(failures > 99 ? 99 : failures);
                }
        }
        for (int w = 0; w < N_WRITERS; w++) {
                int status;
                assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 0)
                        fail_msg("writer %d: exit status %d (failed writes, or 100: could not open)", w,
                                 WEXITSTATUS(status));
        }
        assert_int_equal(count(f, "grades"), N_SEED_GRADES + N_WRITERS * GRADES_PER_WRITER);
        assert_int_equal(count(f, "students"), N_SEED_STUDENTS);
        h = raw_open(f->path);
        assert_int_equal(raw_int(h, "SELECT count(DISTINCT title) FROM grades WHERE title LIKE 'w%-%'"),
                         N_WRITERS * GRADES_PER_WRITER);
        check = raw_text(h, "PRAGMA integrity_check");
        assert_string_equal(check, "ok");
        free(check);
        sqlite3_close(h);
}

/* Processes starting at once on a new file: every one opens it, and it is
 * migrated and seeded once. A race, so tried on many new files. */
#define START_ROUNDS 60

static int64_t count_in(const char *path, const char *sql) {
        sqlite3 *h = raw_open(path);
        int64_t n = raw_int(h, sql);
        sqlite3_close(h);
        return n;
}

static void test_processes_start_together(void **state) {
        struct fixture *f = *state;
        int failed_rounds = 0, failed_processes = 0;

        for (int round = 0; round < START_ROUNDS; round++) {
                char path[400];
                pid_t pids[N_WRITERS];
                bool failed = false;

                snprintf(path, sizeof(path), "%s/start-%d.db", f->dir, round);
                for (int w = 0; w < N_WRITERS; w++) {
                        pids[w] = fork();
                        assert_true(pids[w] >= 0);
                        if (pids[w] == 0) {
                                struct db mine;
                                int r = db_open(&mine, path, 30000);
                                if (r == 0)
                                        r = db_migrate(&mine, f->data);
                                if (r == 0)
                                        r = db_prepare(&mine);
                                db_close(&mine);
                                _exit(r < 0 ? 1 : 0);
                        }
                }
                for (int w = 0; w < N_WRITERS; w++) {
                        int status;
                        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                                failed = true;
                                failed_processes++;
                        }
                }
                if (failed) {
                        failed_rounds++;
                        continue;
                }
                assert_int_equal(count_in(path, "PRAGMA user_version"), 1);
                assert_int_equal(count_in(path, "SELECT count(*) FROM students"), N_SEED_STUDENTS);
                assert_int_equal(count_in(path, "SELECT count(*) FROM grades"), N_SEED_GRADES);
        }
        if (failed_rounds > 0)
                fail_msg("in %d of %d rounds of %d processes opening a new database at once, %d processes failed "
                         "(see stderr: busy or I/O error while setting up the database)",
                         failed_rounds, START_ROUNDS, N_WRITERS, failed_processes);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_fresh_database_is_seeded),
                T(test_student_json),
                T(test_student_json_score_100),
                T(test_list_agrees_with_single),
                T(test_missing_student),
                T(test_add_student),
                T(test_add_grade),
                T(test_add_grade_unicode_title),
                T(test_add_grade_unknown_student),
                T(test_add_grade_refused_by_schema),
                T(test_delete_grade),
                T(test_statements_prepared_once),
                cmocka_unit_test(test_grade_to_json),
                T(test_reopen_does_not_reseed),
                T(test_version_1_database_not_reseeded),
                T(test_empty_version_1_database_not_reseeded),
                T(test_newer_version_refused),
                T(test_new_schema_file_applied),
                T(test_new_schema_file_on_fresh_database),
                T(test_failed_migration_rolls_back),
                T(test_failed_seed_rolls_back),
                T(test_missing_data_directory),
                T(test_open_failures),
                T(test_changed_elsewhere),
                T(test_busy),
                T(test_busy_timeout_waits),
                T(test_processes_share_database),
                T(test_processes_start_together),
        };
        return cmocka_run_group_tests_name("gradingd: db", tests, NULL, NULL);
}
