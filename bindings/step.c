/*
 * j.step: a side effect that runs once per run, whatever replays follow.
 *
 * The function's return values are journaled, and the run receives
 * them decoded from the journal; a replay returns them without calling
 * the function again. When the function raises, the
 * step retries after a backoff that doubles each time (a journaled
 * sleep), and after the last attempt the error reaches the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"

#define DEFAULT_RETRIES 3
#define DEFAULT_BACKOFF_MS 1000
#define MAX_RETRIES 100

typedef struct step_options {
    const char *name;
    int retries;
    jy_duration backoff;
} step_options;


/* Reads arg 1: a name, or {name =, retries =, backoff =}. [-0, +0, v] */
static void check_options(lua_State *L, step_options *opts)
{
    opts->retries = DEFAULT_RETRIES;
    opts->backoff.ms = DEFAULT_BACKOFF_MS;
    opts->backoff.months = 0;

    if (lua_type(L, 1) == LUA_TSTRING) {
        opts->name = lua_tostring(L, 1);
        return;
    }
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "j.step: the first argument must be a step name or "
                      "{name =, retries =, backoff =}, got %s", luaL_typename(L, 1));

    static const char *const known[] = {"name", "retries", "backoff", NULL};
    jy_lua_check_fields(L, 1, "j.step", known);
    if (lua_getfield(L, 1, "name") != LUA_TSTRING)
        luaL_error(L, "j.step: the options need a name (a string)");
    opts->name = lua_tostring(L, -1); /* kept alive by the options table */
    lua_pop(L, 1);

    if (lua_getfield(L, 1, "retries") != LUA_TNIL) {
        int isnum = 0;
        lua_Integer retries = lua_tointegerx(L, -1, &isnum);
        if (!isnum || retries < 0 || retries > MAX_RETRIES)
            luaL_error(L, "j.step(\"%s\"): retries must be a whole number from 0 to %d",
                       opts->name, MAX_RETRIES);
        opts->retries = (int)retries;
    }
    lua_pop(L, 1);

    if (lua_getfield(L, 1, "backoff") != LUA_TNIL)
        opts->backoff = jy_lua_check_duration(L, -1, "j.step backoff");
    lua_pop(L, 1);
}


/* Pushes the values journaled in {"ok":true,"n":N,"values":[...]} and
 * returns how many. [-0, +n, v] */
static int push_journaled_values(lua_State *L, const char *json)
{
    jy_lua_json_decode(L, json);                    /* stack: record */
    lua_getfield(L, -1, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "values");                  /* stack: record, values */
    luaL_checkstack(L, n, "too many step results");
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -1 - (i - 1), i);
    lua_remove(L, -1 - n);
    lua_remove(L, -1 - n);
    return n;
}


/* Journals a failed attempt; final is 1 when the step gives up.
 * [-0, +0, v] */
static void journal_failure(lua_State *L, jy_run *run, const char *name, int attempt,
                            int final, const char *message)
{
    /* Built from Lua strings, which the collector frees after a memory
     * error. */
    lua_pushstring(L, message);
    if (jy_lua_json_push(L, -1) != LUA_OK)
        lua_error(L);
    lua_pushfstring(L, "{\"ok\":false,\"attempt\":%d,\"final\":%s,\"error\":%s}", attempt,
                    final ? "true" : "false", lua_tostring(L, -1));
    jy_lua_journal(L, run, JY_STEP_STEP, name, lua_tostring(L, -1));
    lua_pop(L, 3);                                  /* message, its JSON, the record */
}


static int step_attempt(lua_State *L, jy_run *run, int attempt, int nargs);


static int step_continue(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    jy_run *run = jy_lua_check_run(L, "j.step");
    step_options opts;
    check_options(L, &opts);

    char text[64];
    snprintf(text, sizeof text, "{\"until\":%lld}", (long long)lua_tointeger(L, -2));
    jy_lua_journal(L, run, JY_STEP_SLEEP, opts.name, text);
    lua_pop(L, 2);
    return step_attempt(L, run, (int)(ctx >> 16), (int)(ctx & 0xffff));
}


/* Suspends the run for the backoff before attempt next. */
static int back_off(lua_State *L, jy_run *run, const step_options *opts, int next, int nargs)
{
    jy_duration wait = opts->backoff;
    for (int i = 2; i < next && wait.ms < INT64_MAX / 2; i++)
        wait.ms *= 2;

    jy_time now = jy_host_now(run->host);
    jy_time deadline = now;
    jy_error err;
    jy_error_clear(&err);
    if (jy_time_add(now, wait, &deadline, &err) != 0 ||
        jy_host_sleep(run->host, run, deadline, &err) != 0)
        return jy_lua_raise(L, &err);

    /* The host may have kept a deadline from before a restart, so the
     * continuation journals the one the timer holds. */
    lua_pushinteger(L, (lua_Integer)run->timer.deadline);
    return lua_yieldk(L, 0, ((lua_KContext)next << 16) | (lua_KContext)nargs, step_continue);
}


static int step_attempt(lua_State *L, jy_run *run, int attempt, int nargs)
{
    step_options opts;
    check_options(L, &opts);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_STEP, opts.name);
    if (entry != NULL) {
        if (strncmp(entry->result_json, "{\"ok\":true", 10) == 0)
            return push_journaled_values(L, entry->result_json);

        jy_lua_json_decode(L, entry->result_json);   /* stack: record */
        lua_getfield(L, -1, "final");
        int final = lua_toboolean(L, -1);
        lua_getfield(L, -2, "error");
        if (final)
            return luaL_error(L, "j.step(\"%s\") failed after %d attempt%s: %s", opts.name,
                              attempt, attempt == 1 ? "" : "s", lua_tostring(L, -1));
        lua_pop(L, 3);
        if (jy_lua_replay(L, run, JY_STEP_SLEEP, opts.name) != NULL)
            return step_attempt(L, run, attempt + 1, nargs);
        return back_off(L, run, &opts, attempt + 1, nargs);
    }

    /* Live: call the function with its arguments, unable to yield. */
    int base = lua_gettop(L);
    lua_pushvalue(L, 2);
    for (int i = 0; i < nargs; i++)
        lua_pushvalue(L, 3 + i);
    run->runtime_flags |= JY_RUN_IN_STEP;
    run->runtime_flags &= ~JY_RUN_STEP_MISUSE;
    int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
    int misuse = (run->runtime_flags & JY_RUN_STEP_MISUSE) != 0;
    run->runtime_flags &= ~(JY_RUN_IN_STEP | JY_RUN_STEP_MISUSE);

    if (status != LUA_OK) {
        const char *message = lua_tostring(L, -1);
        if (message == NULL)
            message = luaL_typename(L, -1);
        /* A wait or sleep inside the step is a bug in the script, and
         * retrying cannot fix it. */
        int final = attempt > opts.retries || misuse;
        journal_failure(L, run, opts.name, attempt, final, message);
        if (final)
            return luaL_error(L, "j.step(\"%s\") failed after %d attempt%s: %s", opts.name,
                              attempt, attempt == 1 ? "" : "s", message);
        jy_host_log(run->host, JY_LOG_WARN, run, "step \"%s\" attempt %d failed: %s",
                    opts.name, attempt, message);
        lua_settop(L, base);
        return back_off(L, run, &opts, attempt + 1, nargs);
    }

    /* Each value is written on its own and joined as an array, so that
     * nils stay in place as null: a table of the values with many nils
     * would be written as an object. The parts are Lua strings, which
     * the collector frees after an error. */
    int nresults = lua_gettop(L) - base;
    luaL_checkstack(L, 2 * nresults + 2, "too many step results");
    lua_pushliteral(L, "[");
    for (int i = 1; i <= nresults; i++) {
        status = jy_lua_json_push(L, base + i);
        if (status == LUA_ERRMEM)
            return luaL_error(L, "j.step(\"%s\"): not enough memory to journal its values",
                              opts.name);
        if (status != LUA_OK)
            return luaL_error(L, "j.step(\"%s\") returned a value that JSON cannot hold "
                                 "(%s); return strings, numbers, booleans and tables of them",
                              opts.name, lua_tostring(L, -1));
        lua_pushstring(L, i < nresults ? "," : "");
    }
    lua_pushliteral(L, "]");
    lua_concat(L, 2 * nresults + 2);                /* stack: results..., json */

    /* The record starts with {"ok":true so a replay distinguishes success from
     * failure without decoding. It is built as a Lua string, which the
     * collector frees after a memory error. */
    lua_pushfstring(L, "{\"ok\":true,\"n\":%d,\"values\":%s}", nresults,
                    lua_tostring(L, -1));
    jy_lua_journal(L, run, JY_STEP_STEP, opts.name, lua_tostring(L, -1));

    /* The run gets the values decoded from the journal, because JSON
     * turns a whole float into an integer and sparse keys into strings,
     * and a replay must return what the first run saw. */
    return push_journaled_values(L, lua_tostring(L, -1));
}


/* j.step(name | {name, retries, backoff}, fn, ...): fn(...)'s results,
 * computed once per run. [-0, +n, v] */
int ljy_step(lua_State *L)
{
    jy_run *run = jy_lua_check_run(L, "j.step");
    step_options opts;
    check_options(L, &opts);
    luaL_checktype(L, 2, LUA_TFUNCTION);

    int nargs = lua_gettop(L) - 2;
    if (nargs > 0xffff)
        return luaL_error(L, "j.step(\"%s\"): too many arguments", opts.name);
    if (run->runtime_flags & JY_RUN_IN_STEP) {
        run->runtime_flags |= JY_RUN_STEP_MISUSE;
        return luaL_error(L, "j.step(\"%s\") cannot be called inside another step",
                          opts.name);
    }
    if (!lua_isyieldable(L))
        return luaL_error(L, "j.step(\"%s\") cannot run here: it was called inside a function "
                             "that Lua runs from C (such as a table.sort comparator), where a "
                             "retry could not wait", opts.name);
    return step_attempt(L, run, 1, nargs);
}
