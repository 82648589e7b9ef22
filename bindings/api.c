/*
 * The j table that every run function receives: the shared table of
 * step functions behind it, j.now and j.log, and the readers and
 * writers of durations, times and texts that the step functions share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"
#include "timefmt.h"

static const char api_key = 'a';


jy_duration jy_lua_check_duration(lua_State *L, int idx, const char *what)
{
    jy_duration duration = {0, 0};
    jy_error err;
    jy_error_clear(&err);
    int rc;

    if (lua_type(L, idx) == LUA_TNUMBER) {
        rc = jy_duration_from_seconds(lua_tonumber(L, idx), &duration, &err);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len = 0;
        const char *text = lua_tolstring(L, idx, &len);
        rc = jy_duration_parse(text, len, &duration, &err);
    } else {
        luaL_error(L, "%s must be a duration such as \"2d\" or a number of seconds, got %s",
                   what, luaL_typename(L, idx));
        return duration;
    }
    if (rc != 0)
        luaL_error(L, "%s: %s", what, err.message);
    return duration;
}


jy_time jy_lua_check_time(lua_State *L, int idx, const char *what)
{
    jy_error err;
    jy_error_clear(&err);

    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number seconds = lua_tonumber(L, idx);
        /* A double represents milliseconds exactly for any date in the next
         * few hundred thousand years; beyond that, refuse. */
        if (!(seconds > -9.0e12 && seconds < 9.0e12))
            luaL_error(L, "%s: invalid time %f: give seconds since 1970 or an ISO-8601 string",
                       what, seconds);
        return (jy_time)(seconds * 1000.0 + (seconds >= 0 ? 0.5 : -0.5));
    }
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len = 0;
        const char *text = lua_tolstring(L, idx, &len);
        jy_time t = 0;
        if (jy_time_parse(text, len, &t, &err) != 0)
            luaL_error(L, "%s: %s", what, err.message);
        return t;
    }
    luaL_error(L, "%s must be a time (seconds since 1970 or an ISO-8601 string), got %s",
               what, luaL_typename(L, idx));
    return 0;
}


/* Pushes the text of the buffer at 1. [-0, +1, m] */
static int push_buf_protected(lua_State *L)
{
    const jy_buf *buf = lua_touserdata(L, 1);
    lua_pushlstring(L, buf->data, buf->len);
    return 1;
}


void jy_lua_push_buf(lua_State *L, jy_buf *buf, const char *task)
{
    if (jy_buf_failed(buf)) {
        jy_buf_free(buf);
        luaL_error(L, "out of memory %s", task);
    }
    lua_pushcfunction(L, push_buf_protected);
    lua_pushlightuserdata(L, buf);
    int status = lua_pcall(L, 1, 1, 0);
    jy_buf_free(buf);
    if (status != LUA_OK)
        lua_error(L);
}


void jy_lua_push_time(lua_State *L, jy_time t)
{
    /* Whole seconds stay integers so journeys can print and compare them
     * as they would os.time() values. */
    if (t % 1000 == 0)
        lua_pushinteger(L, (lua_Integer)(t / 1000));
    else
        lua_pushnumber(L, (lua_Number)t / 1000.0);
}


void jy_lua_check_fields(lua_State *L, int idx, const char *function,
                         const char *const *known)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return;
    idx = lua_absindex(L, idx);

    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        int found = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char *const *field = known; *field != NULL; field++)
                if (strcmp(lua_tostring(L, -1), *field) == 0)
                    found = 1;
        if (!found) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *const *field = known; *field != NULL; field++) {
                if (field != known)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, *field);
            }
            luaL_pushresult(&b);                       /* stack: key, known */
            const char *known_text = lua_tostring(L, -1);
            const char *key_text = luaL_tolstring(L, -2, NULL); /* stack: key, known, text */
            luaL_error(L, "%s: unknown option \"%s\" (known options: %s)", function, key_text,
                       known_text);
        }
    }
}


/* j.now(): the run's current time in seconds, journaled so a replay
 * returns the time the first execution saw. [-0, +1, v] */
static int ljy_now(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.now");
    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_NOW, "");

    if (entry != NULL) {
        jy_time t = strtoll(entry->result_json, NULL, 10);
        jy_lua_push_time(L, t);
        return 1;
    }

    jy_time now = jy_host_now(run->host);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)now);
    jy_lua_journal(L, run, JY_STEP_NOW, "", text);
    jy_lua_push_time(L, now);
    return 1;
}


/* Joins the arguments from index first like print does, into a Lua
 * string on the stack. [-0, +1, m] */
static void push_joined(lua_State *L, int first)
{
    int top = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (int i = first; i <= top; i++) {
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
        if (i < top)
            luaL_addchar(&b, ' ');
    }
    luaL_pushresult(&b);
}


/* Sends a run's message to the log callback and the trace. */
void jy_lua_run_log(lua_State *L, jy_run *run, int first);
void jy_lua_run_log(lua_State *L, jy_run *run, int first)
{
    push_joined(L, first);
    const char *message = lua_tostring(L, -1);

    jy_host_log(run->host, JY_LOG_INFO, run, "%s", message);
    if (run->host->trace != NULL) {
        jy_trace trace = {
            .kind = JY_TRACE_LOG,
            .at = jy_host_now(run->host),
            .run_id = run->id,
            .journey = run->journey->name,
            .user = run->user,
            .run_status = (int)run->status,
            .detail = message,
        };
        run->host->trace(run->host->trace_ctx, &trace);
    }
    lua_pop(L, 1);
}


/* j.log(...): a message tagged with the run, to the host's log and the
 * transcript. Not journaled: a replay logs again. [-0, +0, v] */
static int ljy_log(lua_State *L)
{
    jy_run *run = jy_lua_check_run(L, "j.log");

    /* During replay the messages were already logged once. */
    if (run->replay_pos < run->journal_len || run->recovering)
        return 0;
    jy_lua_run_log(L, run, 1);
    return 0;
}


static const luaL_Reg api_functions[] = {
    {"wait_for", ljy_wait_for},
    {"events", ljy_events},
    {"sleep", ljy_sleep},
    {"sleep_until", ljy_sleep_until},
    {"emit", ljy_emit},
    {"step", ljy_step},
    {"call", ljy_call},
    {"now", ljy_now},
    {"log", ljy_log},
    {NULL, NULL},
};


void jy_lua_push_api(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &api_key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);

    lua_newtable(L);                                   /* stack: meta */
    luaL_newlib(L, api_functions);                     /* stack: meta, fns */
    lua_setfield(L, -2, "__index");                    /* stack: meta */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &api_key);
}
