/*
 * Reading one event in the wire format, as JSON Lines input and HTTP
 * bodies carry it:
 *
 *   {"id"?, "user", "name", "ts", "data"?}
 *
 * `user` is a string or an object with an `id` (its other fields are the
 * user's attributes); `event` is accepted in place of `name`; `ts` is an
 * ISO-8601 string or a number of milliseconds since the epoch; `id` is a
 * string or an integer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"
#include "timefmt.h"

typedef struct parse_request {
    const char *line;
    size_t len;
    int require_ts;
    jy_time default_ts;
    jy_event *event; /* set on success */
} parse_request;


/* Reads a required non-empty string field, or raises naming it.
 * [-0, +1, v] */
static const char *check_text(lua_State *L, int obj, const char *field, const char *alias)
{
    int type = lua_getfield(L, obj, field);
    if (type == LUA_TNIL && alias != NULL) {
        lua_pop(L, 1);
        type = lua_getfield(L, obj, alias);
    }
    if (type == LUA_TNIL)
        luaL_error(L, "missing \"%s\"", field);
    if (type != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_error(L, "\"%s\" must be a non-empty string, got %s", field,
                   type == LUA_TSTRING ? "an empty string" : luaL_typename(L, -1));
    return lua_tostring(L, -1);
}


/* Replaces the number on top with its text when it is a whole number
 * (cjson reads every JSON number as a float), and returns 1; returns 0
 * and leaves it when it has a fraction or is too large to be exact.
 * [-1, +1, m] */
static int number_to_id_text(lua_State *L)
{
    lua_Number n = lua_tonumber(L, -1);

    if (n != floor(n) || fabs(n) > 9007199254740992.0)
        return 0;
    lua_pushfstring(L, "%I", (LUAI_UACINT)(lua_Integer)n);
    lua_replace(L, -2);
    return 1;
}


/* The protected part: everything that may raise. [-0, +0, v] */
static int parse_protected(lua_State *L)
{
    parse_request *req = lua_touserdata(L, 1);
    lua_settop(L, 0);

    /* cjson reports a syntax error with a position; keep its words. */
    lua_pushlstring(L, req->line, req->len);
    char *line = (char *)lua_tostring(L, 1);
    jy_lua_json_decode(L, line);                       /* stack: line, obj */
    int obj = lua_gettop(L);
    if (!lua_istable(L, obj) || lua_rawlen(L, obj) > 0)
        return luaL_error(L, "an event must be a JSON object, got %s",
                          lua_istable(L, obj) ? "an array" : luaL_typename(L, obj));

    /* user: a string, or an object with an id and attributes. */
    const char *user = NULL;
    const char *user_json = NULL;
    int user_type = lua_getfield(L, obj, "user");      /* stack: ..., user */
    if (user_type == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
        user = lua_tostring(L, -1);
    } else if (user_type == LUA_TNUMBER && number_to_id_text(L)) {
        /* a numeric user id, such as a customer number */
        user = lua_tostring(L, -1);
    } else if (user_type == LUA_TTABLE) {
        int id_type = lua_getfield(L, -1, "id");
        if (id_type == LUA_TNUMBER && number_to_id_text(L)) {
            /* a numeric user id, such as a customer number */
        } else if (id_type != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
            return luaL_error(L, "\"user\" object needs a non-empty \"id\" string");
        }
        user = lua_tostring(L, -1);
        char *json = jy_lua_json_encode(L, -2);
        if (json == NULL)
            return luaL_error(L, "\"user\" object cannot be stored: %s", lua_tostring(L, -1));
        lua_pushstring(L, json);
        free(json);
        user_json = lua_tostring(L, -1);
    } else if (user_type == LUA_TNIL) {
        return luaL_error(L, "missing \"user\"");
    } else {
        return luaL_error(L, "\"user\" must be a non-empty string or an object with an \"id\", "
                             "got %s", user_type == LUA_TSTRING ? "an empty string"
                                                                : luaL_typename(L, -1));
    }

    const char *name = check_text(L, obj, "name", "event");

    const char *id = NULL;
    int id_type = lua_getfield(L, obj, "id");
    if (id_type == LUA_TNUMBER) {
        if (!number_to_id_text(L))
            return luaL_error(L, "\"id\" must be a string or an integer");
        id = lua_tostring(L, -1);
    } else if (id_type == LUA_TSTRING) {
        if (lua_rawlen(L, -1) == 0)
            return luaL_error(L, "\"id\" must not be empty");
        id = lua_tostring(L, -1);
    } else if (id_type != LUA_TNIL) {
        return luaL_error(L, "\"id\" must be a string or an integer, got %s",
                          luaL_typename(L, -1));
    }

    jy_time ts = req->default_ts;
    int ts_type = lua_getfield(L, obj, "ts");
    if (ts_type == LUA_TNUMBER) {
        lua_Number ms = lua_tonumber(L, -1);
        if (!(ms > -8.0e15 && ms < 8.0e15) || ms != floor(ms))
            return luaL_error(L, "invalid \"ts\" %s: give whole milliseconds since 1970 or an "
                                 "ISO-8601 string", lua_tostring(L, -1));
        /* Seconds where milliseconds belong would land in January 1970;
         * no real event stream starts there, so say what went wrong. */
        if (ms > 0 && ms < 1.0e11)
            return luaL_error(L, "invalid \"ts\" %s: it reads as milliseconds in 1970; if it "
                                 "counts seconds, multiply it by 1000", lua_tostring(L, -1));
        ts = (jy_time)ms;
    } else if (ts_type == LUA_TSTRING) {
        size_t len = 0;
        const char *text = lua_tolstring(L, -1, &len);
        jy_error err;
        if (jy_time_parse(text, len, &ts, &err) != 0)
            return luaL_error(L, "invalid \"ts\": %s", err.message);
    } else if (ts_type == LUA_TNIL) {
        if (req->require_ts)
            return luaL_error(L, "missing \"ts\" (an ISO-8601 string or milliseconds since 1970)");
    } else {
        return luaL_error(L, "invalid \"ts\": expected an ISO-8601 string or milliseconds "
                             "since 1970, got %s", luaL_typename(L, -1));
    }

    const char *data_json = "{}";
    int data_type = lua_getfield(L, obj, "data");
    if (data_type == LUA_TTABLE) {
        if (lua_rawlen(L, -1) > 0)
            return luaL_error(L, "\"data\" must be a JSON object, got an array");
        char *json = jy_lua_json_encode(L, -1);
        if (json == NULL)
            return luaL_error(L, "\"data\" cannot be stored: %s", lua_tostring(L, -1));
        lua_pushstring(L, json);
        free(json);
        data_json = lua_tostring(L, -1);
        if (strcmp(data_json, "[]") == 0)
            data_json = "{}";
    } else if (data_type != LUA_TNIL) {
        return luaL_error(L, "\"data\" must be a JSON object, got %s", luaL_typename(L, -1));
    }

    req->event = jy_event_new(id, user, name, ts, data_json, user_json, 0);
    if (req->event == NULL)
        return luaL_error(L, "out of memory");
    return 0;
}


/* Rewrites lua-cjson's token names ("found T_OBJ_END at character 76")
 * as the characters a reader sees in the line. */
void jy_lua_plain_json_error(const char *message, char *out, size_t size)
{
    static const char *const tokens[][2] = {
        {"T_OBJ_BEGIN", "'{'"}, {"T_OBJ_END", "'}'"}, {"T_ARR_BEGIN", "'['"},
        {"T_ARR_END", "']'"}, {"T_STRING", "a string"}, {"T_NUMBER", "a number"},
        {"T_BOOLEAN", "true or false"}, {"T_NULL", "null"}, {"T_COLON", "':'"},
        {"T_COMMA", "','"}, {"T_END", "the end of the line"}, {"T_WHITESPACE", "a space"},
        {"T_ERROR", "an invalid token"}, {"T_UNKNOWN", "an unknown token"},
    };
    size_t used = 0;

    while (*message != '\0' && used + 1 < size) {
        size_t i = 0;
        for (; i < sizeof tokens / sizeof tokens[0]; i++) {
            size_t n = strlen(tokens[i][0]);
            /* T_OBJ_BEGIN must not match as T_OBJ_BEGINx: tokens end at a
             * non-name character. */
            if (strncmp(message, tokens[i][0], n) == 0 && message[n] != '_' &&
                !(message[n] >= 'A' && message[n] <= 'Z'))
                break;
        }
        if (i < sizeof tokens / sizeof tokens[0]) {
            int written = snprintf(out + used, size - used, "%s", tokens[i][1]);
            used += written > 0 ? (size_t)written : 0;
            if (used >= size)
                used = size - 1;
            message += strlen(tokens[i][0]);
            continue;
        }
        out[used++] = *message++;
    }
    out[used] = '\0';
}


jy_event *jy_lua_parse_event(jy_lua_host *lh, const char *line, size_t len,
                             int require_ts, jy_time default_ts, jy_error *err)
{
    lua_State *L = lh->L;
    int top = lua_gettop(L);
    parse_request req = {line, len, require_ts, default_ts, NULL};

    lua_pushcfunction(L, parse_protected);
    lua_pushlightuserdata(L, &req);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        const char *message = lua_tostring(L, -1);
        /* jy_lua_json_decode prefixes cjson's words for stored data; on
         * input the plain "invalid JSON" reads better. */
        const char *prefix = "invalid JSON in stored data: ";
        if (message != NULL && strncmp(message, prefix, strlen(prefix)) == 0) {
            char plain[400];
            jy_lua_plain_json_error(message + strlen(prefix), plain, sizeof plain);
            jy_error_set(err, JY_EINVAL, "invalid JSON: %s", plain);
        }
        else
            jy_error_set(err, JY_EINVAL, "%s", message != NULL ? message : "invalid event");
        lua_settop(L, top);
        jy_event_free(req.event);
        return NULL;
    }
    lua_settop(L, top);
    return req.event;
}
