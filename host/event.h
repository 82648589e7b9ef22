/*
 * Events: what applications report about a user.
 *
 * An event is {id?, user, name, ts, data}. The host keeps data as the
 * JSON text of an object and never parses it; the Lua side decodes it
 * when a journey needs to look inside. Events are immutable once
 * stored, and journals refer to them by their store sequence number.
 */
#ifndef JOURNEY_HOST_EVENT_H
#define JOURNEY_HOST_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "jtime.h"

typedef struct jy_event {
    uint64_t seq;        /* assigned by the store on append; 0 before */
    uint64_t origin_run; /* the run that emitted it, 0 for outside events */
    jy_time ts;
    const char *id;        /* idempotency key, unique per user, or NULL */
    const char *user;      /* user id, never NULL */
    const char *name;      /* event name, never NULL */
    const char *data_json; /* JSON object text, "{}" when absent */
    const char *user_json; /* user attributes as a JSON object, or NULL */
} jy_event;

/* Allocates an event and copies every string into the same block, so one
 * free() releases it. id and user_json may be NULL; data_json NULL
 * means "{}". Returns NULL when out of memory. The caller owns the
 * result and frees it with jy_event_free. */
jy_event *jy_event_new(const char *id, const char *user, const char *name,
                       jy_time ts, const char *data_json,
                       const char *user_json, uint64_t origin_run);

/* Frees an event from jy_event_new; NULL is ignored. */
void jy_event_free(jy_event *event);

/* Computes the key text at a journey's key path: "user", "name", "id",
 * or "data." and a dotted path into the data object. A string is taken
 * as it is, true and false as those words, and a number as its decimal
 * text. An integer literal keeps all its digits and 42.0 gives "42"
 * (jy_json_integer_text). Other numbers give 14 significant digits as
 * Lua prints a float, so 2.5 gives "2.5" and 1e20 gives "1e+20". Sets
 * *key to a malloc'd string, or to NULL when the path leads to no such
 * value. Returns 0 or JY_ENOMEM. */
int jy_event_key_text(const jy_event *event, const char *path, char **key);

/* Appends the event as one JSON object in the wire format:
 * {"id"?,"user","name","ts","data"}, with ts in ISO-8601. */
void jy_event_append_json(jy_buf *buf, const jy_event *event);

#endif
