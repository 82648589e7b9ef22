/*
 * The Lua runtime of a host: runs as coroutines, the runtime interface
 * the scheduler calls (host/runtime.h), and the resume driver, the one
 * place that calls lua_resume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"
#include "timefmt.h"

/* Registry key of the table that maps a run's coroutine to its run
 * (a light userdata). One table per Lua state, shared by its hosts; used
 * in states that the bindings did not create, such as a spec runner's.
 * In their own states a coroutine's extra space contains its run, so
 * there is no table to look up or to rehash as runs come and go. */
static const char runs_by_thread_key = 't';

/* The marker an evicted run's old coroutine records as its run. It is
 * no run's coroutine any more, so j.* calls fail in it, yet not the
 * script's to resume or close, since the run goes on in a rebuilt
 * coroutine. */
static jy_run evicted;


/* Pushes the runs-by-thread table, creating it on first use. Its keys
 * are weak, so the coroutine of an evicted run, which keeps its entry,
 * is still collected. [-0, +1, m] */
static void push_runs_by_thread(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &runs_by_thread_key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);                         /* stack: map */
    lua_createtable(L, 0, 1);                /* stack: map, meta */
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);                 /* stack: map */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &runs_by_thread_key);
}


/* Records run (NULL to forget it) as the run of the thread at the top
 * of L's stack. [-0, +0, m] */
static void set_run_of_thread(lua_State *L, jy_run *run)
{
    if (jy_lua_state_is_ours(L)) {
        *(jy_run **)lua_getextraspace(lua_tothread(L, -1)) = run;
        return;
    }
    push_runs_by_thread(L);                  /* stack: thread, map */
    lua_pushvalue(L, -2);
    if (run != NULL)
        lua_pushlightuserdata(L, run);
    else
        lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);                           /* stack: thread */
}


/* Returns what the thread at idx records as its run: a run, &evicted,
 * or NULL for any other thread or value. [-0, +0, m] */
static jy_run *recorded_run(lua_State *L, int idx)
{
    lua_State *thread = lua_tothread(L, idx);
    if (thread == NULL)
        return NULL;
    if (jy_lua_state_is_ours(L))
        return *(jy_run **)lua_getextraspace(thread);

    idx = lua_absindex(L, idx);
    push_runs_by_thread(L);                  /* stack: map */
    lua_pushvalue(L, idx);                   /* stack: map, thread */
    lua_rawget(L, -2);                       /* stack: map, run? */
    jy_run *run = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return run;
}


jy_run *jy_lua_current_run(lua_State *L)
{
    jy_run *run = NULL;

    /* In the host's own states the running thread's extra space is read
     * directly: this is on the path of every j.* call. */
    if (jy_lua_state_is_ours(L)) {
        run = *(jy_run **)lua_getextraspace(L);
    } else {
        lua_pushthread(L);
        run = recorded_run(L, -1);
        lua_pop(L, 1);
    }
    return run != &evicted ? run : NULL;
}


int jy_lua_is_run_thread(lua_State *L, int idx)
{
    return recorded_run(L, idx) != NULL;
}


/* Returns 1 when the value at idx is a run's j table. [-0, +0, -] */
static int is_j_table(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0;
    jy_lua_push_api(L);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}


jy_run *jy_lua_check_run(lua_State *L, const char *function)
{
    jy_run *run = jy_lua_current_run(L);

    if (is_j_table(L, 1)) {
        const char *dot = strchr(function, '.');
        luaL_error(L, "%s: called with a colon; write j.%s(...), not j:%s(...)", function,
                   dot != NULL ? dot + 1 : function, dot != NULL ? dot + 1 : function);
    }

    if (run == NULL)
        luaL_error(L, "%s called outside a run: call it from a journey's run function "
                      "(not from the script's top level or from a coroutine the script created)",
                   function);
    return run;
}


jy_run *jy_lua_check_journaled_run(lua_State *L, const char *function)
{
    jy_run *run = jy_lua_check_run(L, function);

    if (run->runtime_flags & JY_RUN_IN_STEP) {
        /* A replay skips the step's function, so a journaled call inside
         * it would be missing from the next replay; no retry fixes that. */
        run->runtime_flags |= JY_RUN_STEP_MISUSE;
        luaL_error(L, "%s cannot be called inside j.step: a step's function runs once and "
                      "is not replayed; call it before or after the step", function);
    }
    return run;
}


jy_lua_host *jy_lua_host_of(const jy_run *run)
{
    return run->host->runtime.ctx;
}


int jy_lua_raise(lua_State *L, const jy_error *err)
{
    /* A divergence fails the run with the text kept on the run, not with
     * the Lua error, so the script's file and line go into that text. */
    jy_run *run = err->code == JY_EDIVERGED ? jy_lua_current_run(L) : NULL;
    if (run != NULL && run->divergence != NULL && strcmp(run->divergence, err->message) == 0) {
        luaL_where(L, 1);                                  /* stack: "file:line: " */
        const char *where = lua_tostring(L, -1);
        size_t size = strlen(where) + strlen(run->divergence) + 1;
        char *located = where[0] != '\0' ? malloc(size) : NULL;
        if (located != NULL) {
            snprintf(located, size, "%s%s", where, run->divergence);
            free(run->divergence);
            run->divergence = located;
        }
        lua_pop(L, 1);
    }
    return luaL_error(L, "%s", err->message);
}


void jy_lua_journal(lua_State *L, jy_run *run, jy_step_kind kind,
                    const char *name, const char *result_json)
{
    jy_error err;
    jy_error_clear(&err);

    if (jy_host_journal(run->host, run, kind, name, result_json, &err) != 0)
        jy_lua_raise(L, &err);
}


const jy_journal_entry *jy_lua_replay(lua_State *L, jy_run *run,
                                      jy_step_kind kind, const char *name)
{
    const jy_journal_entry *entry = NULL;
    jy_error err;
    jy_error_clear(&err);

    int rc = jy_host_replay_next(run->host, run, kind, name, &entry, &err);
    if (rc < 0)
        jy_lua_raise(L, &err);
    return rc == 1 ? entry : NULL;
}


/* Takes the message of a failed coroutine with its traceback into a
 * malloc'd string. [-0, +0, m] */
static int traceback_protected(lua_State *L)
{
    lua_State *co = lua_touserdata(L, 1);
    const char *message = lua_touserdata(L, 2);
    luaL_traceback(L, co, message, 0);
    return 1;
}


/* Returns the message with the coroutine's traceback, as a malloc'd
 * string. */
static char *failure_message_text(lua_State *L, lua_State *co, const char *message)
{
    /* The traceback needs memory, which may be what the run ran out of;
     * then the message alone must do. */
    lua_pushcfunction(L, traceback_protected);
    lua_pushlightuserdata(L, co);
    lua_pushlightuserdata(L, (void *)message);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return strdup(message);
    }
    char *copy = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return copy;
}


/* Returns the message with the line of the innermost Lua function in
 * front, as a malloc'd string, or NULL. Lua's memory error names no
 * line, and reading the line allocates nothing. */
static char *locate_memory_error(lua_State *co, const char *message)
{
    lua_Debug ar;
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0)
            continue;
        size_t size = strlen(ar.short_src) + strlen(message) + 32;
        char *located = malloc(size);
        if (located != NULL)
            snprintf(located, size, "%s:%d: %s", ar.short_src, ar.currentline, message);
        return located;
    }
    return NULL;
}


static char *failure_message(lua_State *L, lua_State *co, int status)
{
    const char *message = lua_tostring(co, -1);

    if (message == NULL)
        message = luaL_typename(co, -1);
    char *located = status == LUA_ERRMEM ? locate_memory_error(co, message) : NULL;
    char *full = failure_message_text(L, co, located != NULL ? located : message);
    free(located);
    return full;
}


/* Encodes what a finished run returned into a malloc'd JSON text.
 * [-0, +0, m] */
typedef struct result_request {
    jy_lua_host *lh;
    jy_run *run;
    char *json;
    int out_of_memory;
} result_request;


/* Encodes the value on top of the stack, or its text form when JSON
 * cannot hold it (a run that returned a function, say). [-1, +0, e] */
static int result_protected(lua_State *L)
{
    result_request *req = lua_touserdata(L, -1);
    lua_pop(L, 1);                            /* stack: value */
    int status = LUA_OK;
    req->json = jy_lua_json_encode_status(L, -1, &status);
    if (req->json == NULL && status == LUA_ERRMEM) {
        req->out_of_memory = 1;
        return 0;
    }
    if (req->json == NULL) {
        jy_host_log(req->lh->host, JY_LOG_WARN, req->run, "run result is not JSON (%s); "
                                                          "stored as text",
                    lua_tostring(L, -1));
        lua_pop(L, 1);                        /* stack: value */
        jy_buf buf;
        jy_buf_init(&buf);
        jy_buf_append_json_string(&buf, luaL_tolstring(L, -1, NULL));
        req->json = jy_buf_take(&buf);
    }
    return 0;
}


/* Returns NULL when memory ran out, so the run fails instead of
 * completing with a result it did not return. */
static char *result_json(jy_lua_host *lh, jy_run *run, lua_State *co, int nres)
{
    if (nres == 0 || lua_isnil(co, -nres))
        return strdup("null");

    lua_State *L = lh->L;
    int top = lua_gettop(L);
    result_request req = {lh, run, NULL, 0};
    lua_pushcfunction(L, result_protected);  /* stack: fn */
    lua_pushvalue(co, -nres);
    lua_xmove(co, L, 1);                      /* stack: fn, value */
    lua_pushlightuserdata(L, &req);           /* stack: fn, value, req */
    if (lua_pcall(L, 2, 0, 0) != LUA_OK || req.out_of_memory) {
        free(req.json);
        req.json = NULL;
    }
    lua_settop(L, top);
    return req.json;
}


/* Fails a run whose replay asked for other steps than its journal
 * holds, whatever the script did with the error (a pcall may have
 * caught it). Returns 1 when it did. */
static int fail_diverged(jy_run *run, jy_outcome *outcome)
{
    if (run->divergence == NULL && !(outcome->kind == JY_OUTCOME_COMPLETED &&
                                     run->replay_pos < run->journal_len))
        return 0;

    free(outcome->result_json);
    outcome->result_json = NULL;
    free(outcome->error);
    outcome->kind = JY_OUTCOME_FAILED;
    if (run->divergence != NULL) {
        outcome->error = strdup(run->divergence);
    } else {
        jy_buf buf;
        jy_buf_init(&buf);
        jy_buf_printf(&buf, "replay diverged at step %u: the journal holds %u steps but the "
                            "script ended after %u", run->replay_pos + 1, run->journal_len,
                      run->replay_pos);
        outcome->error = jy_buf_take(&buf);
    }
    return 1;
}


/* The run whose coroutine this OS thread resumes now, the innermost
 * one when a run's action starts another run. */
static _Thread_local jy_run *resumed_run;


jy_run *jy_lua_resumed_run(void)
{
    return resumed_run;
}


static void resume_once(jy_lua_host *lh, jy_run *run, lua_State *co, int nargs,
                        jy_outcome *outcome)
{
    int nres = 0;
    jy_lua_budget_reset(run);
    jy_run *outer = resumed_run;
    resumed_run = run;
    int status = lua_resume(co, lh->L, nargs, &nres);
    resumed_run = outer;

    switch (status) {
    case LUA_YIELD:
        lua_pop(co, nres);
        if (run->status == JY_RUN_WAITING || run->status == JY_RUN_SLEEPING) {
            outcome->kind = JY_OUTCOME_SUSPENDED;
            return;
        }
        /* Only j.* steps may suspend a run; a bare coroutine.yield has
         * nothing that would ever resume it. */
        outcome->kind = JY_OUTCOME_FAILED;
        outcome->error = strdup("the run called coroutine.yield directly; a run may only "
                                "suspend in j.wait_for, j.sleep or j.sleep_until");
        break;

    case LUA_OK:
        outcome->result_json = result_json(lh, run, co, nres);
        lua_pop(co, nres);
        if (outcome->result_json == NULL) {
            outcome->kind = JY_OUTCOME_FAILED;
            outcome->error = strdup("not enough memory to encode the run's result; return a "
                                    "smaller value or raise the memory cap");
            return;
        }
        outcome->kind = JY_OUTCOME_COMPLETED;
        return;

    case LUA_ERRRUN:
    case LUA_ERRMEM:
    case LUA_ERRERR:
    default:
        outcome->kind = JY_OUTCOME_FAILED;
        outcome->error = failure_message(lh->L, co, status);
        jy_host_log(lh->host, JY_LOG_DEBUG, run, "run %llu of journey %s raised a Lua error "
                    "(Lua status %d)", (unsigned long long)run->id, run->journey->name, status);
        break;
    }
}


void jy_lua_resume(jy_lua_host *lh, jy_run *run, lua_State *co, int nargs,
                   jy_outcome *outcome)
{
    resume_once(lh, run, co, nargs, outcome);
    /* The host logs the failure with the divergence as its error. */
    fail_diverged(run, outcome);
}


/* --- the runtime interface --- */


/* Remembers the event; its data is decoded only when a wait's match
 * needs it, because most events start nothing and wake nothing that
 * looks inside. */
static int rt_event_open(void *ctx, const jy_event *event)
{
    jy_lua_host *lh = ctx;

    lh->current_event = event;
    lh->event_data_ref = LUA_NOREF;
    return 0;
}


/* Pushes the decoded data of the current event, decoding it once.
 * [-0, +1, e] */
static void push_event_data(jy_lua_host *lh)
{
    lua_State *L = lh->L;

    if (lh->event_data_ref == LUA_NOREF) {
        jy_lua_json_decode(L, lh->current_event->data_json);  /* stack: data */
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        lh->event_data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lh->refs++;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, lh->event_data_ref);
}


static void rt_event_close(void *ctx)
{
    jy_lua_host *lh = ctx;

    if (lh->event_data_ref != LUA_NOREF) {
        luaL_unref(lh->L, LUA_REGISTRYINDEX, lh->event_data_ref);
        lh->refs--;
    }
    lh->event_data_ref = LUA_NOREF;
    lh->current_event = NULL;
}


typedef struct protected_call {
    jy_lua_host *lh;
    jy_run *run;
    lua_State *co; /* the coroutine a run start created */
    const jy_event *event;
    int result;
} protected_call;


/* Runs fn with call as its light userdata argument in protected mode on
 * the host's thread, leaving nresults values. Lua raises only for a
 * lack of memory here (stored data is valid JSON), and that must fail
 * one run, not the process. Returns 0, or -1 after logging why.
 * [-0, +(nresults|0), -] */
static int call_protected(jy_lua_host *lh, lua_CFunction fn, protected_call *call,
                          int nresults)
{
    lua_State *L = lh->L;

    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, call);
    if (lua_pcall(L, 1, nresults, 0) == LUA_OK)
        return 0;
    jy_host_log(lh->host, JY_LOG_ERROR, call->run, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
}


static int rt_event_key(void *ctx, const jy_journey *journey, char **key)
{
    jy_lua_host *lh = ctx;
    return jy_event_key_text(lh->current_event, journey->key_path, key);
}


/* [-0, +1, e] */
static int wait_matches_protected(lua_State *L)
{
    protected_call *call = lua_touserdata(L, 1);

    lua_rawgeti(L, LUA_REGISTRYINDEX, call->run->match_ref); /* stack: call, match */
    push_event_data(call->lh);                               /* stack: call, match, data */
    lua_pushboolean(L, jy_lua_match(L, -2, -1));
    return 1;
}


static int rt_wait_matches(void *ctx, jy_run *run, jy_error *err)
{
    jy_lua_host *lh = ctx;
    lua_State *L = lh->L;

    if (run->match_ref < 0)
        return 1;

    JY_STACK_ENTER(L);
    protected_call call = {.lh = lh, .run = run, .event = lh->current_event};
    lua_pushcfunction(L, wait_matches_protected);
    lua_pushlightuserdata(L, &call);
    int matched;
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        matched = lua_toboolean(L, -1);
    } else {
        matched = jy_error_set(err, JY_ENOMEM, "matching event %llu against the wait's match "
                                               "table failed: %s",
                               (unsigned long long)lh->current_event->seq, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    JY_STACK_LEAVE(L);
    return matched;
}


/* Pushes the j table of run: {user, run_id} over the shared step
 * functions. [-0, +1, m] */
static void push_j(lua_State *L, const jy_run *run)
{
    lua_createtable(L, 0, 2);                          /* stack: j */
    lua_pushstring(L, run->user);
    lua_setfield(L, -2, "user");
    lua_pushinteger(L, (lua_Integer)run->id);
    lua_setfield(L, -2, "run_id");
    jy_lua_push_api(L);                                /* stack: j, api */
    lua_setmetatable(L, -2);                           /* stack: j */
}


/* Pushes what a new run's coroutine starts with: the run function, j
 * and the trigger event. [-0, +3, e] */
static int start_values_protected(lua_State *L)
{
    protected_call *call = lua_touserdata(L, 1);

    lua_rawgeti(L, LUA_REGISTRYINDEX, call->run->journey->runtime_ref);
    push_j(L, call->run);
    jy_lua_push_event(L, call->event);        /* stack: ud, fn, j, event */

    /* The coroutine is created and anchored here too, so a lack of
     * memory fails this run and not the process. */
    jy_lua_host *lh = call->lh;
    if (lh->spare_count > 0) {
        /* The spare leaves the list only once it is the run's, since
         * recording the run may raise a memory error. */
        int ref = lh->spare_threads[lh->spare_count - 1];
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);        /* stack: ud, fn, j, event, co */
        call->co = lua_tothread(L, -1);
        set_run_of_thread(L, call->run);
        lua_pop(L, 1);                                 /* stack: ud, fn, j, event */
        lh->spare_count--;
        call->run->runtime_ref = ref;
    } else {
        call->co = lua_newthread(L);                   /* stack: ud, fn, j, event, co */
        set_run_of_thread(L, call->run);
        call->run->runtime_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* stack: ud, fn, j, event */
    }
    lh->refs++;
    return 3;
}


static void rt_run_start(void *ctx, jy_run *run, const jy_event *trigger,
                         jy_outcome *outcome)
{
    jy_lua_host *lh = ctx;
    lua_State *L = lh->L;
    protected_call call = {.lh = lh, .run = run, .event = trigger};
    JY_STACK_ENTER(L);

    if (call_protected(lh, start_values_protected, &call, 3) != 0) {
        /* A coroutine anchored before the failure is released with the
         * run. */
        outcome->kind = JY_OUTCOME_FAILED;
        outcome->error = strdup("out of memory starting the run");
        return;
    }                                                  /* stack: fn, j, event */

    lua_State *co = call.co;
    jy_lua_budget_attach(co, run);
    lua_xmove(L, co, 3);                               /* co: fn, j, event */
    jy_lua_resume(lh, run, co, 2, outcome);
    JY_STACK_LEAVE(L);
}


/* Pushes the event that woke a run, or nil. A wait's match decoded the
 * event's data already, and when the data is short, the run's event
 * table takes that decoded table instead of decoding it again. The
 * cache gives it up, so a run that changes its data cannot change the
 * data that the next wait's match reads. [-0, +1, e] */
static int wake_value_protected(lua_State *L)
{
    protected_call *call = lua_touserdata(L, 1);
    jy_lua_host *lh = call->lh;

    if (call->event == NULL) {
        lua_pushnil(L);
        return 1;
    }
    if (call->event == lh->current_event && lh->event_data_ref != LUA_NOREF &&
        jy_lua_event_data_is_small(call->event)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lh->event_data_ref);  /* stack: data */
        if (lua_istable(L, -1) && call->event->data_json[0] == '{') {
            luaL_unref(L, LUA_REGISTRYINDEX, lh->event_data_ref);
            lh->event_data_ref = LUA_NOREF;
            lh->refs--;
            jy_lua_push_event_with_data(L, call->event, -1);
            return 1;
        }
        lua_pop(L, 1);
    }
    jy_lua_push_event(L, call->event);
    return 1;
}


static void rt_run_resume(void *ctx, jy_run *run, const jy_event *event,
                          jy_outcome *outcome)
{
    jy_lua_host *lh = ctx;
    lua_State *L = lh->L;
    protected_call call = {.lh = lh, .run = run, .event = event};
    JY_STACK_ENTER(L);

    if (call_protected(lh, wake_value_protected, &call, 1) != 0) {
        outcome->kind = JY_OUTCOME_FAILED;
        outcome->error = strdup("out of memory resuming the run");
        return;
    }                                                  /* stack: value */

    lua_rawgeti(L, LUA_REGISTRYINDEX, run->runtime_ref); /* stack: value, co */
    lua_State *co = lua_tothread(L, -1);
    lua_pop(L, 1);                                     /* stack: value */
    lua_xmove(L, co, 1);                               /* co: ..., value */
    jy_lua_resume(lh, run, co, 1, outcome);
    JY_STACK_LEAVE(L);
}


/* Takes run's coroutine from the run and returns its registry ref,
 * which the caller releases or keeps as a spare. The thread records
 * mark (NULL, or &evicted) as its run, which overwrites its existing
 * entry and so allocates nothing. [-0, +0, -] */
static int detach_coroutine(jy_lua_host *lh, jy_run *run, jy_run *mark)
{
    lua_State *L = lh->L;
    int ref = run->runtime_ref;

    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);            /* stack: co */
    set_run_of_thread(L, mark);
    lua_pop(L, 1);                                     /* stack: (empty) */

    lh->refs--;
    run->runtime_ref = -1;
    return ref;
}


/* Drops the coroutine without closing it: its to-be-closed variables
 * belong to the run, which goes on once the coroutine is rebuilt. The
 * collector frees the thread and its stack. */
static int rt_run_evict(void *ctx, jy_run *run)
{
    jy_lua_host *lh = ctx;

    if (run->runtime_ref < 0 || (run->runtime_flags & JY_RUN_AWAITING_CALL))
        return JY_ESTATE;
    JY_STACK_ENTER(lh->L);
    luaL_unref(lh->L, LUA_REGISTRYINDEX, detach_coroutine(lh, run, &evicted));
    JY_STACK_LEAVE(lh->L);
    return 0;
}


static void rt_run_release(void *ctx, jy_run *run)
{
    jy_lua_host *lh = ctx;
    lua_State *L = lh->L;

    if (run->match_ref >= 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, run->match_ref);
        lh->refs--;
        run->match_ref = -1;
    }
    if (run->runtime_ref < 0)
        return;

    lua_rawgeti(L, LUA_REGISTRYINDEX, run->runtime_ref); /* stack: co */
    lua_State *co = lua_tothread(L, -1);

    /* Closing runs the coroutine's pending to-be-closed variables, so a
     * cancelled or failed run still releases what it holds. A coroutine
     * that returned has none, and closing it would only reallocate its
     * stack before the collector frees it. */
    lua_Debug frame;
    int returned = lua_status(co) == LUA_OK && lua_getstack(co, 0, &frame) == 0;
    if (!returned) {
#if LUA_VERSION_RELEASE_NUM >= 50406
        lua_closethread(co, L);
#else
        lua_resetthread(co);
#endif
    }
    lua_pop(L, 1);                                     /* stack: (empty) */

    /* A coroutine that returned is as good as new once its results are
     * gone: the next run pushes its function onto the empty stack. */
    int ref = detach_coroutine(lh, run, NULL);
    if (returned && lh->spare_count < JY_SPARE_THREADS) {
        lua_settop(co, 0);
        lh->spare_threads[lh->spare_count++] = ref;
    } else {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }

    /* After a memory error, only a full collection gives all the memory
     * back. Lua's string buffers are freed by finalizers, which the
     * emergency collection inside a failed allocation does not run. */
    if (jy_lua_take_memory_failure(L))
        lua_gc(L, LUA_GCCOLLECT);
}


static void rt_journey_release(void *ctx, jy_journey *journey)
{
    jy_lua_host *lh = ctx;

    if (journey->runtime_ref >= 0) {
        luaL_unref(lh->L, LUA_REGISTRYINDEX, journey->runtime_ref);
        lh->refs--;
        journey->runtime_ref = -1;
    }
}


/* Creates the host's own thread and installs the sandbox, inside a
 * protected call: under a small memory cap either may fail. */
static int setup_host_state(lua_State *L)
{
    jy_lua_host *lh = lua_touserdata(L, 1);
    lua_settop(L, 0);

    /* A thread of its own gives the host a stack for its work that no
     * running coroutine is using at the same time. */
    lh->L = lua_newthread(L);                          /* stack: thread */
    lh->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* stack: (empty) */
    jy_lua_install_sandbox(L);
    return 0;
}


jy_lua_host *jy_lua_host_new(lua_State *L, int is_virtual, jy_time start, jy_store *store)
{
    jy_lua_host *lh = calloc(1, sizeof *lh);
    if (lh == NULL)
        return NULL;

    lh->store = store != NULL ? store : jy_store_memory_new();
    if (lh->store == NULL) {
        free(lh);
        return NULL;
    }
    lh->owns_store = 1;
    lh->instruction_budget = JY_DEFAULT_INSTRUCTION_BUDGET;
    if (is_virtual)
        jy_clock_init_virtual(&lh->clock, start);
    else
        jy_clock_init_real(&lh->clock);

    lh->thread_ref = LUA_NOREF;
    lh->log_ref = LUA_NOREF;
    lh->event_data_ref = LUA_NOREF;
    lua_pushcfunction(L, setup_host_state);
    lua_pushlightuserdata(L, lh);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        if (lh->thread_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, lh->thread_ref);
        if (store == NULL)
            lh->store->ops->destroy(lh->store);
        free(lh);
        return NULL;
    }

    jy_runtime runtime = {
        .ctx = lh,
        .event_open = rt_event_open,
        .event_close = rt_event_close,
        .event_key = rt_event_key,
        .wait_matches = rt_wait_matches,
        .run_start = rt_run_start,
        .run_resume = rt_run_resume,
        .run_evict = rt_run_evict,
        .run_release = rt_run_release,
        .journey_release = rt_journey_release,
    };
    lh->host = jy_host_new(&lh->clock, lh->store, &runtime);
    if (lh->host == NULL) {
        luaL_unref(L, LUA_REGISTRYINDEX, lh->thread_ref);
        if (store == NULL)
            lh->store->ops->destroy(lh->store);
        free(lh);
        return NULL;
    }
    return lh;
}


void jy_lua_host_free(jy_lua_host *lh)
{
    if (lh == NULL)
        return;

    lua_State *L = lh->L;
    jy_host_free(lh->host);
    while (lh->actions != NULL) {
        jy_lua_action *next = lh->actions->next;
        free(lh->actions);
        lh->actions = next;
    }
    if (lh->owns_store)
        lh->store->ops->destroy(lh->store);
    if (lh->log_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, lh->log_ref);
    while (lh->spare_count > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, lh->spare_threads[--lh->spare_count]);
    luaL_unref(L, LUA_REGISTRYINDEX, lh->thread_ref);
    free(lh);
}
