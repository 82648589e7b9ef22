/*
 * Deterministic versions of os.time, math.random and print for runs,
 * and coroutine.resume and coroutine.close that keep off runs' own
 * coroutines.
 *
 * A replay must see what the first execution saw, so inside a run
 * os.time() and math.random(...) are journaled steps, and print goes to
 * the host's log tagged with the run. Outside a run (a script's top
 * level, a spec) and inside j.step (which never replays) they behave as
 * the standard functions do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "lua_host.h"

void jy_lua_run_log(lua_State *L, jy_run *run, int first);


/* Returns the run to journal for, or NULL when the standard function
 * should run. [-0, +0, -] */
static jy_run *journaling_run(lua_State *L)
{
    jy_run *run = jy_lua_current_run(L);
    if (run == NULL || (run->runtime_flags & JY_RUN_IN_STEP))
        return NULL;
    return run;
}


/* Calls the standard function in upvalue 1 with this call's arguments.
 * [-0, +n, e] */
static int call_original(lua_State *L)
{
    int nargs = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, nargs, LUA_MULTRET);
    return lua_gettop(L);
}


/* os.time([table]) [-0, +1, e] */
static int ljy_os_time(lua_State *L)
{
    jy_run *run = journaling_run(L);
    if (run == NULL || !lua_isnoneornil(L, 1))
        return call_original(L);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_OS_TIME, "");
    if (entry != NULL) {
        lua_pushinteger(L, strtoll(entry->result_json, NULL, 10));
        return 1;
    }

    jy_time now = jy_host_now(run->host);
    /* os.time() counts whole seconds; floor also for times before 1970. */
    lua_Integer seconds = now >= 0 ? now / 1000 : -((-now + 999) / 1000);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)seconds);
    jy_lua_journal(L, run, JY_STEP_OS_TIME, "", text);
    lua_pushinteger(L, seconds);
    return 1;
}


/* math.random([m [, n]]) [-0, +1, e] */
static int ljy_math_random(lua_State *L)
{
    jy_run *run = journaling_run(L);
    if (run == NULL)
        return call_original(L);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_RANDOM, "");
    if (entry != NULL) {
        /* Integers were journaled as integers, floats with a fraction. */
        if (strpbrk(entry->result_json, ".eE") != NULL) {
            jy_json_span number = {JY_JSON_NUMBER, entry->result_json,
                                   strlen(entry->result_json)};
            lua_pushnumber(L, jy_json_number(&number));
        } else {
            lua_pushinteger(L, strtoll(entry->result_json, NULL, 10));
        }
        return 1;
    }

    call_original(L);                                  /* stack: args..., value */
    char text[64];
    if (lua_isinteger(L, -1))
        snprintf(text, sizeof text, "%lld", (long long)lua_tointeger(L, -1));
    else
        jy_json_format_number(text, sizeof text, lua_tonumber(L, -1), 17);
    if (strpbrk(text, ".eEn") == NULL && !lua_isinteger(L, -1))
        strcat(text, ".0");
    jy_lua_journal(L, run, JY_STEP_RANDOM, "", text);
    return 1;
}


/* print(...) [-0, +0, e] */
static int ljy_print(lua_State *L)
{
    jy_run *run = jy_lua_current_run(L);
    if (run == NULL)
        return call_original(L);

    /* A replay already printed these lines once. */
    if (run->replay_pos < run->journal_len || run->recovering)
        return 0;
    jy_lua_run_log(L, run, 1);
    return 0;
}


/* Returns the coroutine in the first argument, and raises when it is a
 * run's. Only the host may resume or close a run's coroutine: a script
 * that kept coroutine.running() of one run would otherwise feed another
 * run's j.wait_for or end it. The coroutine that a resident limit
 * evicted counts too, since closing it would run the to-be-closed
 * variables of a run that goes on. [-0, +0, v] */
static lua_State *check_coroutine(lua_State *L, const char *function)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    if (jy_lua_is_run_thread(L, 1))
        luaL_error(L, "%s: the coroutine belongs to a run, which only the host resumes "
                      "or closes; use a coroutine the script created", function);
    return lua_tothread(L, 1);
}


/* coroutine.resume(co, ...), as the standard one does it. It calls
 * lua_resume itself rather than the standard function, so that nested
 * resumes take no extra C level and errors name the script's line.
 * [-0, +n, v] */
static int ljy_coroutine_resume(lua_State *L)
{
    lua_State *co = check_coroutine(L, "coroutine.resume");
    int nargs = lua_gettop(L) - 1;

    if (!lua_checkstack(co, nargs)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many arguments to resume");
        return 2;
    }
    lua_xmove(L, co, nargs);

    /* The flag goes below the values once they are moved: when co is
     * L itself (a coroutine that resumes itself), they are on top of L
     * already. */
    int nresults = 0;
    int status = lua_resume(co, L, nargs, &nresults);
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_xmove(co, L, 1);                           /* the error */
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    if (!lua_checkstack(L, nresults + 1)) {
        lua_pop(co, nresults);
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many results to resume");
        return 2;
    }
    lua_xmove(co, L, nresults);
    lua_pushboolean(L, 1);
    lua_insert(L, -(nresults + 1));
    return nresults + 1;
}


/* coroutine.close(co), as the standard one does it, for the same
 * reasons. [-0, +n, e] */
static int ljy_coroutine_close(lua_State *L)
{
    lua_State *co = check_coroutine(L, "coroutine.close");
    lua_Debug frame;

    /* Only a dead or suspended coroutine may be closed: one with frames
     * and no yield is running or resuming another. */
    if (co == L || (lua_status(co) == LUA_OK && lua_getstack(co, 0, &frame)))
        return luaL_error(L, "cannot close a %s coroutine", co == L ? "running" : "normal");

#if LUA_VERSION_RELEASE_NUM >= 50406
    int status = lua_closethread(co, L);
#else
    int status = lua_resetthread(co);
#endif
    if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_xmove(co, L, 1);                               /* the error */
    return 2;
}


/* Replaces field of the table on top with fn, keeping the old value as
 * its upvalue, unless the field is fn already. [-0, +0, m] */
static void wrap(lua_State *L, const char *field, lua_CFunction fn)
{
    lua_getfield(L, -1, field);                        /* stack: t, old */
    if (lua_tocfunction(L, -1) == fn) {
        lua_pop(L, 1);                                 /* stack: t */
        return;
    }
    lua_pushcclosure(L, fn, 1);                        /* stack: t, new */
    lua_setfield(L, -2, field);                        /* stack: t */
}


void jy_lua_install_sandbox(lua_State *L)
{
    /* Every call checks each field, because a test runner that restores
     * the globals between files (busted does) puts the standard print
     * back, and the next host must wrap it again. */
    lua_pushglobaltable(L);                            /* stack: _G */
    if (lua_getfield(L, -1, "os") == LUA_TTABLE)       /* stack: _G, os */
        wrap(L, "time", ljy_os_time);
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "math") == LUA_TTABLE)     /* stack: _G, math */
        wrap(L, "random", ljy_math_random);
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "coroutine") == LUA_TTABLE) { /* stack: _G, coroutine */
        lua_pushcfunction(L, ljy_coroutine_resume);
        lua_setfield(L, -2, "resume");
        lua_pushcfunction(L, ljy_coroutine_close);
        lua_setfield(L, -2, "close");
    }
    lua_pop(L, 1);
    wrap(L, "print", ljy_print);
    lua_pop(L, 1);                                     /* stack: (empty) */
}
