/* SPDX-License-Identifier: MIT */
#pragma once

/* The seed's wire types, shared by the registry and its clients:
 *
 *   registration  {"ServiceName", "ServiceURL", "RequiredServices": [...],
 *                  "ServiceUpdateURL", "HeartbeatURL"}
 *   patch         {"Added": [{"Name", "URL"}], "Removed": [...], "Version"}
 *
 * Parsing validates: a caller holding a struct registration knows it is
 * well-formed. Keys match as Go's decoder does: exactly, else ignoring case. */

#include "json.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVICE_NAME_MAX      64
#define SERVICE_URL_MAX       2048
#define REQUIRED_SERVICES_MAX 64

struct registration {
        char *name;
        char *url;
        char **required; /* NULL-terminated, no duplicates */
        size_t n_required;
        char *update_url; /* may be NULL when nothing is required */
        char *heartbeat_url;
};

bool service_name_valid(const char *name, size_t len);
/* http(s)://host[:port][/path], nothing else (no user, query or fragment). */
bool service_url_valid(const char *url);

int registration_from_json(struct json_object *o, struct registration *ret, const char **ret_error);
struct json_object *registration_to_json(const struct registration *r);
void registration_done(struct registration *r);
bool registration_requires(const struct registration *r, const char *name);

struct patch_entry {
        char *name;
        char *url;
};

struct patch {
        struct patch_entry *added, *removed;
        size_t n_added, n_removed;
        uint64_t version; /* 0 when the sender gave none (the seed's registry) */
};

int patch_from_json(struct json_object *o, struct patch *ret, const char **ret_error);
void patch_done(struct patch *p);
