/*
 * Reading one event in the wire format, as JSON Lines input and HTTP
 * bodies carry it:
 *
 *   {"id"?, "user", "name", "ts", "data"?}
 *
 * `user` is a string, a whole number, or an object with an `id` (its
 * other fields are the user's attributes); `event` is accepted in place
 * of `name`; `ts` is an ISO-8601 string or a number of milliseconds
 * since the epoch; `id` is a string or an integer. A field whose value
 * is null counts as absent.
 *
 * A numeric id or user id becomes its decimal text, read from the
 * digits and never through a double. An integer literal keeps its
 * digits at any length. A number with a fraction or exponent must be
 * whole and within int64_t, and 42.0 gives "42".
 *
 * The line is parsed in C without building Lua values: `data` and the
 * user object are checked and kept as compact JSON text, so a journey
 * pays for decoding them only when it reads them.
 */
#ifndef JOURNEY_HOST_EVENT_PARSE_H
#define JOURNEY_HOST_EVENT_PARSE_H

#include <stddef.h>

#include "error.h"
#include "event.h"

/* Parses len bytes of line (no NUL needed). Without a ts, the event
 * gets default_ts unless require_ts is set. Returns a new event that the
 * caller frees with jy_event_free, or NULL with err filled: JY_EINVAL
 * naming the field or the JSON syntax error, or JY_ENOMEM. */
jy_event *jy_event_parse(const char *line, size_t len, int require_ts, jy_time default_ts,
                         jy_error *err);

#endif
