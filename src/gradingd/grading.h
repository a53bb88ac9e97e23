/* SPDX-License-Identifier: MIT */
#pragma once

/* grades-gradingd: students and their grades, in SQLite.
 *
 *   db.c        the database: open, migrate, seed, prepared statements
 *   validate.c  what a student or a grade may be
 *   cache.c     response bodies kept until the data changes
 *   api.c       the HTTP routes
 *   main.c      run() */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "daemon.h"
#include "hashmap.h"
#include "http.h"

#define GRADE_TYPES    "Quiz, Test, Exam or Homework"
#define TEXT_MAX_CHARS 100

struct grading_settings {
        struct conf_common common;
        char *data_directory; /* schema/ and students.json */
        uint64_t busy_timeout_ms;
};

struct student_input {
        const char *first_name, *last_name;
};

struct grade_input {
        const char *title, *type;
        double score;
};

struct db {
        sqlite3 *handle;
        char *path;
        sqlite3_stmt *data_version, *get_student, *list_students, *grades_of, *all_grades;
        sqlite3_stmt *insert_student, *insert_grade, *delete_grade, *student_exists;
        int64_t last_data_version;
};

struct cached {
        char key[24];
        char *body;
        size_t len;
};

struct cache {
        struct hashmap students; /* id -> struct cached */
        struct cached *list;
};

struct grading {
        struct grading_settings settings;
        struct daemon daemon;
        struct db db;
        struct cache cache;
        uint64_t n_grades_added;
};

/* db.c: each returns 0 or a negative errno: -ENOENT (no such student or
 * grade), -EBUSY (locked by another process past the busy timeout), -EIO. */
int db_open(struct db *db, const char *path, uint64_t busy_timeout_ms);
int db_migrate(struct db *db, const char *data_directory);
int db_prepare(struct db *db);
void db_close(struct db *db);
/* True when another connection (another process) committed since last asked. */
bool db_changed_elsewhere(struct db *db);
int db_student(struct db *db, int64_t id, struct json_object **ret);
int db_students(struct db *db, struct json_object **ret);
int db_add_student(struct db *db, const struct student_input *in, int64_t *ret_id);
int db_add_grade(struct db *db, int64_t student_id, const struct grade_input *in, int64_t *ret_id);
int db_delete_grade(struct db *db, int64_t student_id, int64_t grade_id);
struct json_object *grade_to_json(int64_t id, const char *title, const char *type, double score);

/* validate.c: on failure a static reason. */
int student_from_json(struct json_object *o, struct student_input *ret, const char **ret_error);
int grade_from_json(struct json_object *o, struct grade_input *ret, const char **ret_error);
/* The shortest decimal that reads back as the same double ("85", "77.5"). */
struct json_object *json_score(double score);

/* cache.c */
void cache_init(struct cache *c);
void cache_clear(struct cache *c);
struct cached *cache_get(struct cache *c, const char *key);
struct cached *cache_put(struct cache *c, const char *key, struct json_object *body);

/* api.c */
int grading_add_routes(struct grading *g);
