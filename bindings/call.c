/*
 * j.call: a run asks the embedding program to do something (send an
 * e-mail, charge a card) through an action handler written in C, and
 * waits until the handler reports back, on the same loop.
 *
 * Like j.step, the result is journaled, so a replay returns it without
 * calling the handler again. A call that was in flight when the process
 * died is not journaled, so the replay calls the handler again: handlers
 * should be idempotent, for example by passing the run id and call index
 * to the service as an idempotency key.
 */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "lua_host.h"

#define DEFAULT_CALL_TIMEOUT_MS (3600LL * 1000)


jy_lua_action *jy_lua_find_action(jy_lua_host *lh, const char *name)
{
    for (jy_lua_action *a = lh->actions; a != NULL; a = a->next)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}


int jy_lua_register_action(jy_lua_host *lh, const char *name, jy_lua_action_fn fn, void *ctx)
{
    if (jy_lua_find_action(lh, name) != NULL)
        return JY_EEXIST;
    jy_lua_action *a = calloc(1, sizeof *a + strlen(name) + 1);
    if (a == NULL)
        return JY_ENOMEM;
    strcpy(a->name, name);
    a->fn = fn;
    a->ctx = ctx;
    a->next = lh->actions;
    lh->actions = a;
    return 0;
}


/* Pushes the journaled outcome of a call: its value, or raises its
 * error. [-0, +1, v] */
static int push_outcome(lua_State *L, const char *name, const char *json)
{
    jy_lua_json_decode(L, json);                      /* stack: record */
    lua_getfield(L, -1, "ok");
    int ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!ok) {
        lua_getfield(L, -1, "error");
        return luaL_error(L, "j.call(\"%s\") failed: %s", name, lua_tostring(L, -1));
    }
    lua_getfield(L, -1, "value");                     /* stack: record, value */
    lua_remove(L, -2);
    return 1;
}


/* After the handler finished (or the timeout passed): the stack contains
 * the call's arguments, the action name pushed before the yield, and the
 * nil of the resume. */
static int call_continue(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    jy_run *run = jy_lua_check_run(L, "j.call");
    const char *name = lua_tostring(L, -2);
    run->runtime_flags &= ~JY_RUN_AWAITING_CALL;

    /* The run keeps the outcome until it is a Lua string, so the run's
     * cleanup frees it after a memory error. */
    if (run->call_outcome != NULL) {
        lua_pushstring(L, run->call_outcome);
        free(run->call_outcome);
        run->call_outcome = NULL;
    } else {
        lua_pushliteral(L, "{\"ok\":false,\"error\":\"the action did not finish "
                           "before the call's timeout\"}");
    }
    run->call_token++;
    jy_lua_journal(L, run, JY_STEP_CALL, name, lua_tostring(L, -1));
    return push_outcome(L, name, lua_tostring(L, -1));
}


/* j.call(name [, args [, {timeout =}]]): the value the action handler
 * reported, or an error when it failed or timed out. [-0, +1, v] */
int ljy_call(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.call");
    const char *name = luaL_checkstring(L, 1);
    jy_lua_host *lh = jy_lua_host_of(run);

    if (!lua_isyieldable(L))
        return luaL_error(L, "j.call(\"%s\") cannot suspend the run here: it was called inside "
                             "a function that Lua runs from C (such as a table.sort "
                             "comparator); call it outside that function", name);
    jy_time timeout = DEFAULT_CALL_TIMEOUT_MS;
    if (lua_type(L, 3) == LUA_TTABLE) {
        static const char *const known[] = {"timeout", NULL};
        jy_lua_check_fields(L, 3, "j.call", known);
        if (lua_getfield(L, 3, "timeout") != LUA_TNIL) {
            jy_duration d = jy_lua_check_duration(L, -1, "j.call timeout");
            timeout = d.ms;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 2);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_CALL, name);
    if (entry != NULL)
        return push_outcome(L, name, entry->result_json);

    jy_lua_action *action = jy_lua_find_action(lh, name);
    if (action == NULL)
        return luaL_error(L, "j.call(\"%s\"): no action of that name is registered; the "
                             "embedding program registers actions with "
                             "journey_register_action", name);

    char *args = NULL;
    if (!lua_isnil(L, 2)) {
        args = jy_lua_json_encode(L, 2);
        if (args == NULL)
            return luaL_error(L, "j.call(\"%s\"): the arguments cannot be written as JSON: %s",
                              name, lua_tostring(L, -1));
    }

    jy_error err;
    jy_error_clear(&err);
    jy_time now = jy_host_now(run->host);

    /* A run waiting in j.call is never evicted, so a rebuild that reaches
     * a live call has taken another path than the run, and the action
     * must not run for it. */
    if (run->recovering == JY_REPLAY_REBUILD) {
        free(args);
        jy_error_set(&err, JY_EDIVERGED,
                     "replay diverged at step %u: the script calls j.call(\"%s\") where the "
                     "run was %s when its coroutine was evicted", run->journal_len + 1, name,
                     run->restore_status == JY_RUN_SLEEPING ? "sleeping" : "waiting");
        if (run->divergence == NULL)
            run->divergence = strdup(err.message);
        return jy_lua_raise(L, &err);
    }

    /* A recovered run must first reach the sleep it was in before the
     * restart, so its handler runs with the sleep registered and the run
     * resumes from the loop. */
    if (run->recovering) {
        if (jy_host_sleep(run->host, run, now + timeout, &err) != 0) {
            free(args);
            return jy_lua_raise(L, &err);
        }
        /* A dry run only checks the replay: the handler is the live
         * run's, and a second call would act twice. */
        if (!run->host->dry_run)
            action->fn(action->ctx, run->host, run->id, run->call_token, name,
                       args != NULL ? args : "null");
        free(args);
        lua_pushstring(L, name);
        run->runtime_flags |= JY_RUN_AWAITING_CALL;
        return lua_yieldk(L, 0, 0, call_continue);
    }

    if (run->host->dry_run) {
        free(args);
        jy_error_set(&err, JY_ESTATE, "a dry run stops each run at the end of its replay");
        return jy_lua_raise(L, &err);
    }

    /* A handler that finishes before it returns gives j.call its value at
     * once, without a suspension and a trip through the loop's timer. */
    run->runtime_flags |= JY_RUN_IN_CALL;
    action->fn(action->ctx, run->host, run->id, run->call_token, name,
               args != NULL ? args : "null");
    run->runtime_flags &= ~JY_RUN_IN_CALL;
    free(args);
    lua_pushstring(L, name);
    if (run->call_outcome != NULL) {
        lua_pushnil(L);
        return call_continue(L, LUA_OK, 0);
    }

    /* Otherwise the run sleeps until the handler reports back, or the
     * timeout passes. */
    if (jy_host_sleep(run->host, run, now + timeout, &err) != 0)
        return jy_lua_raise(L, &err);
    run->runtime_flags |= JY_RUN_AWAITING_CALL;
    return lua_yieldk(L, 0, 0, call_continue);
}


/* Returns 1 when text is one JSON value. The check builds no Lua
 * values, so a large value is judged by its syntax alone and never by
 * the memory cap, which applies when the run decodes it. */
static int is_json(const char *text)
{
    size_t len = strlen(text);
    size_t pos = 0;
    jy_error err;
    jy_error_clear(&err);
    if (jy_json_check_utf8(text, len, &err) != 0 ||
        jy_json_scan_value(text, len, &pos, NULL, &err) != 0)
        return 0;
    jy_json_skip_space(text, len, &pos);
    return pos == len;
}


int jy_lua_complete_call(jy_lua_host *lh, uint64_t run_id, uint64_t token,
                         const char *value_json, const char *error)
{
    jy_run *run = jy_host_run(lh->host, run_id);
    if (run == NULL)
        return JY_ENOTFOUND;
    int in_handler = (run->runtime_flags & JY_RUN_IN_CALL) != 0;
    /* A parked run has no coroutine to take the result. The next reload
     * replays its call, and the handler is called again. */
    if (run->parked)
        return JY_ESTATE;
    if ((run->status != JY_RUN_SLEEPING && !in_handler) || run->call_token != token ||
        run->call_outcome != NULL)
        return JY_ESTATE;
    if (error == NULL && value_json != NULL && !is_json(value_json))
        return JY_EINVAL;

    jy_buf outcome;
    jy_buf_init(&outcome);
    if (error != NULL) {
        jy_buf_append_str(&outcome, "{\"ok\":false,\"error\":");
        jy_buf_append_json_string(&outcome, error);
        jy_buf_append_str(&outcome, "}");
    } else {
        jy_buf_printf(&outcome, "{\"ok\":true,\"value\":%s}",
                      value_json != NULL ? value_json : "null");
    }
    run->call_outcome = jy_buf_take(&outcome);
    if (run->call_outcome == NULL)
        return JY_ENOMEM;

    /* Inside the handler, j.call itself takes the outcome when the
     * handler returns. */
    if (in_handler)
        return 0;
    return jy_host_wake_soon(lh->host, run);
}
