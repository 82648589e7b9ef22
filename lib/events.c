/*
 * Parsing events in the wire format before they are ingested: one
 * event, or a batch (an object or an array of objects) that is checked
 * whole, so a caller can take it all or reject it all.
 */
#include "host_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

#define INVALID_JSON_PREFIX "invalid JSON"


int journey_event_parse(journey_host *host, const char *json, size_t len, unsigned flags,
                        journey_event **event)
{
    ON_LOOP_THREAD(host);
    *event = NULL;
    if (json == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "no text; give the event as JSON");
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");

    jy_error err;
    jy_error_clear(&err);
    jy_event *parsed = jy_lua_parse_event(host->lh, json, len,
                                          (flags & JOURNEY_PARSE_REQUIRE_TS) != 0,
                                          jy_host_now(host->lh->host), &err);
    if (parsed == NULL) {
        int status = strncmp(err.message, INVALID_JSON_PREFIX, strlen(INVALID_JSON_PREFIX)) == 0
                         ? JOURNEY_EJSON
                         : JOURNEY_EINVAL;
        return jy_lib_fail(host, status, "%s", err.message);
    }
    *event = (journey_event *)parsed;
    return JOURNEY_OK;
}


typedef struct split_request {
    const char *text; /* NUL-terminated */
    size_t max_events;
} split_request;


/* Decodes the text (an event or an array of events) and pushes the JSON
 * text of each event in a Lua array. Errors carry a status prefix
 * ("json:", "count:" or "event:") for the caller. [-0, +1, e] */
static int split_batch(lua_State *L)
{
    const split_request *req = lua_touserdata(L, 1);
    jy_lua_json_decode(L, req->text);             /* stack: req, value */
    if (!lua_istable(L, -1))
        return luaL_error(L, "json:the text must be a JSON object or an array of objects, got "
                             "%s", luaL_typename(L, -1));

    size_t n = lua_rawlen(L, -1);
    lua_newtable(L);                              /* stack: req, value, texts */
    if (n == 0 && req->text[strspn(req->text, " \t\r\n")] == '[') {
        lua_pushliteral(L, "count:the array holds no events; send at least one");
        return lua_error(L);
    }
    if (n == 0) {
        /* One object: the event parser checks it as sent. */
        lua_pushstring(L, req->text);
        lua_rawseti(L, -2, 1);
        return 1;
    }
    if (n > req->max_events) {
        lua_pushfstring(L, "count:the array holds %I events; send at most %I at once",
                        (lua_Integer)n, (lua_Integer)req->max_events);
        return lua_error(L);
    }
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i);       /* stack: ..., texts, item */
        if (jy_lua_json_push(L, -1) != LUA_OK)
            return luaL_error(L, "event:event %d cannot be read: %s", (int)i - 1,
                              lua_tostring(L, -1));
        lua_rawseti(L, -3, (lua_Integer)i);
        lua_pop(L, 1);
    }
    return 1;
}


/* Turns the error of split_batch into a status and a message. */
static int batch_error(journey_host *host, const char *message)
{
    if (message == NULL)
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
    if (strncmp(message, "count:", 6) == 0)
        return jy_lib_fail(host, JOURNEY_ERANGE, "%s", message + 6);
    if (strncmp(message, "event:", 6) == 0)
        return jy_lib_fail(host, JOURNEY_EINVAL, "%s", message + 6);
    if (strncmp(message, "json:", 5) == 0)
        return jy_lib_fail(host, JOURNEY_EJSON, "%s", message + 5);

    /* jy_lua_json_decode names stored data; this is input. */
    const char *prefix = "invalid JSON in stored data: ";
    if (strncmp(message, prefix, strlen(prefix)) == 0) {
        char plain[600];
        jy_lua_plain_json_error(message + strlen(prefix), plain, sizeof plain);
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: %s", plain);
    }
    return jy_lib_fail(host, JOURNEY_EJSON, "%s", message);
}


void journey_events_free(journey_event **events, size_t count)
{
    if (events == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        jy_event_free((jy_event *)events[i]);
    free(events);
}


int journey_events_parse(journey_host *host, const char *json, size_t len, unsigned flags,
                         size_t max_events, journey_event ***events, size_t *count)
{
    ON_LOOP_THREAD(host);
    *events = NULL;
    *count = 0;
    if (json == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "no text; give the events as JSON");
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");
    if (max_events == 0)
        return jy_lib_fail(host, JOURNEY_ERANGE, "max_events is 0; allow at least one event");

    /* The decoder needs a terminated string; the caller's need not be. */
    char *text = malloc(len + 1);
    if (text == NULL)
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
    memcpy(text, json, len);
    text[len] = '\0';
    size_t nul = strlen(text);
    if (nul != len) {
        free(text);
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: a NUL byte at character %zu",
                           nul + 1);
    }

    /* Checked here because the events are decoded and written again
     * below, which would replace the bad bytes instead of rejecting them. */
    jy_error utf8;
    jy_error_clear(&utf8);
    if (jy_json_check_utf8(text, len, &utf8) != 0) {
        free(text);
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: %s", utf8.message);
    }

    lua_State *L = host->lh->L;
    int top = lua_gettop(L);
    split_request req = {text, max_events};
    lua_pushcfunction(L, split_batch);
    lua_pushlightuserdata(L, &req);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        int rc = batch_error(host, lua_tostring(L, -1));
        lua_settop(L, top);
        free(text);
        return rc;
    }                                             /* stack: texts */
    free(text);

    size_t n = lua_rawlen(L, -1);
    journey_event **parsed = calloc(n, sizeof *parsed);
    if (parsed == NULL) {
        lua_settop(L, top);
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
    }
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        size_t item_len = 0;
        const char *item = lua_tolstring(L, -1, &item_len);
        jy_error err;
        jy_error_clear(&err);
        jy_event *event = jy_lua_parse_event(host->lh, item, item_len,
                                             (flags & JOURNEY_PARSE_REQUIRE_TS) != 0,
                                             jy_host_now(host->lh->host), &err);
        lua_pop(L, 1);
        if (event == NULL) {
            journey_events_free(parsed, i);
            lua_settop(L, top);
            return jy_lib_fail(host, JOURNEY_EINVAL, "event %zu: %s", i, err.message);
        }
        parsed[i] = (journey_event *)event;
    }
    lua_settop(L, top);
    *events = parsed;
    *count = n;
    return JOURNEY_OK;
}
