/* SPDX-License-Identifier: MIT */
#pragma once

/* grades-registryd: services register here; it probes their heartbeats and
 * pushes {Added, Removed} patches to the services that require them.
 *
 *   table.c    registrations, indexed by URL and by service name
 *   patches.c  per-dependent patch queues with versions and retries
 *   health.c   heartbeat rounds and the passing/critical transitions
 *   store.c    the state file, written atomically off the event loop
 *   api.c      the HTTP routes
 *   main.c     run(): the daemon's life from start to exit */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "hashmap.h"
#include "httpc.h"
#include "registration.h"
#include "server.h"

struct registry_settings {
        struct conf_common common;
        uint64_t heartbeat_interval_ms;
        uint64_t heartbeat_timeout_ms;
        uint64_t heartbeat_retry_ms;
        uint64_t heartbeat_failures; /* consecutive failures before critical */
        uint64_t max_probes;         /* probes in flight at once */
        uint64_t patch_timeout_ms;
        uint64_t patch_queue; /* undelivered patches kept per dependent */
};

enum health {
        HEALTH_UNKNOWN,
        HEALTH_PASSING,
        HEALTH_CRITICAL,
};

struct registry;

/* A registered service, in its two roles: a provider others may require
 * (heartbeat state) and a dependent that receives patches (outbox). */
struct entry {
        struct registration reg;
        char *json; /* reg as JSON, made once: the state file is these joined */
        size_t json_len;
        struct registry *registry;
        h2o_linklist_t link; /* table.all, in registration order */

        enum health health;
        time_t last_check; /* wall clock, 0 before the first probe */
        unsigned failures; /* consecutive */
        struct httpc_transfer *probe;
        struct timer probe_retry;
        h2o_linklist_t probe_queue; /* waiting for a probe slot */

        uint64_t version;      /* of the last patch queued for it */
        h2o_linklist_t outbox; /* struct patch_out, oldest first */
        size_t n_outbox;
        struct httpc_transfer *delivery;
        struct timer delivery_retry;
        uint64_t delivery_backoff_ms;
        h2o_req_t *waiting_req; /* its registration, answered after the first delivery */
        struct entry **waiting_slot;
};

/* The providers of one name and the entries that require it. */
struct group {
        char *name;
        struct entry **providers, **dependents;
        size_t n_providers, n_dependents;
};

struct table {
        struct hashmap by_url;  /* entry */
        struct hashmap by_name; /* group */
        h2o_linklist_t all;
        size_t n;
        size_t n_health[3]; /* entries per enum health */
        /* GET /services, kept until a registration or a health changes. */
        struct buf listing;
        bool listing_valid;
};

struct store {
        struct registry *registry;
        char *path, *tmp_path;
        bool dirty;
        bool writing;
        struct timer flush;
        h2o_socket_t *done_sock;
        int done_fd;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *job; /* serialised state handed to the thread */
        size_t job_len;
        int job_result;
        bool quit;
        uint64_t n_writes;
};

struct heartbeats {
        struct timer round;
        h2o_linklist_t queue;
        size_t n_probing;
        uint64_t n_probes;
        bool stopped;
};

struct registry {
        struct registry_settings settings;
        struct daemon daemon;
        struct timers *timers; /* the daemon's */
        struct httpc *httpc;   /* the daemon's */
        size_t next_log_service;
        struct entry *self; /* its own entry, while serving */
        struct table table;
        struct store store;
        struct heartbeats health;
        uint64_t n_registrations, n_patches_sent, n_patches_failed;
};

/* table.c */
void table_init(struct table *t);
void table_done(struct table *t);
struct entry *table_find(struct table *t, const char *url);
struct group *table_group(struct table *t, const char *name);
/* Takes ownership of reg's contents on success. */
int table_add(struct table *t, struct registry *r, struct registration *reg, struct entry **ret);
/* Unlinks e from the table; the caller frees it with entry_free(). */
void table_remove(struct table *t, struct entry *e);
bool entry_discoverable(const struct entry *e);
const char *health_to_string(enum health h);
/* What GET /services shows of a health check changed. */
void table_set_health(struct table *t, struct entry *e, enum health h, time_t last_check, unsigned failures);
/* {registration..., "Status", "LastCheck", "Failures"} */
void entry_append_json(struct buf *out, const struct entry *e);
/* The JSON array of every entry, made again only after a change. */
const struct buf *table_listing(struct table *t);
void entry_free(struct entry *e);

/* patches.c */
void patches_init_entry(struct entry *e);
/* Queues a patch for every dependent of name except `except`. */
void patches_broadcast(struct registry *r, const char *name, const char *url, bool added, struct entry *except);
/* Queues the registrant's first patch: the providers of all it requires. */
int patches_send_initial(struct registry *r, struct entry *e);
void patches_cancel(struct registry *r, struct entry *e);
/* {"Added": [...], "Removed": [...], "Version": n} with one entry. */
char *patch_body(uint64_t version, const char *name, const char *url, bool added, size_t *ret_len);
void entry_answer_waiter(struct entry *e);

/* health.c */
void health_init_entry(struct entry *e);
/* A new registration is probed at once rather than at the next round. */
void health_probe_soon(struct registry *r, struct entry *e);
void health_start(struct registry *r);
void health_stop(struct registry *r);
void health_forget(struct registry *r, struct entry *e);
void registry_update_status(struct registry *r);

/* store.c */
int store_open(struct registry *r);
int store_load(struct registry *r);
void store_changed(struct registry *r);
/* Waits for the writer and writes what is still unsaved. */
int store_close(struct registry *r);

/* The next log service in discovery, round-robin, for the log shipper. */
const char *registry_pick_log_service(void *userdata);

/* api.c */
int api_add_routes(struct registry *r);
/* Its own entry, listed and probed like the others; removed at shutdown. */
int registry_add_self(struct registry *r);
void registry_remove_self(struct registry *r);
/* Adds a registration (taking its contents) with its heartbeat and its
 * patch queue; on failure the registration is freed. */
int registry_add_entry(struct registry *r, struct registration *reg, struct entry **ret);
/* Removes an entry and tells its dependents; shared by DELETE and replace. */
void registry_remove_entry(struct registry *r, struct entry *e, bool notify);
