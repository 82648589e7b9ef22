/*
 * The `journey` Lua module: journey.define for scripts, and
 * journey.host{} for specs, a host on a virtual clock with the memory
 * store that a spec feeds events, moves through time and inspects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"
#include "store_sqlite.h"
#include "timefmt.h"
#include "transcript.h"

#define HOST_METATABLE "journey.host"

void jy_lua_push_define(lua_State *L);

typedef struct host_box {
    jy_lua_host *lh;   /* NULL once closed */
    int traces_ref;    /* Lua array of trace tables */
    int actions_ref;   /* name -> Lua function, for h:action */
    int start_pending; /* no start given: the first event's ts sets it */
} host_box;


/* Returns the open host at index 1, without fixing a pending start.
 * [-0, +0, v] */
static host_box *check_open_box(lua_State *L)
{
    host_box *box = luaL_checkudata(L, 1, HOST_METATABLE);
    if (box->lh == NULL)
        luaL_error(L, "the host is closed");
    return box;
}


/* Returns the open host at index 1. A host created without a start
 * takes the ts of its first ingested event as the start, so a spec can
 * replay old data without naming its start; any other use of the clock
 * before that fixes the default start. [-0, +0, v] */
static host_box *check_box(lua_State *L)
{
    host_box *box = check_open_box(L);
    box->start_pending = 0;
    return box;
}


/* Decodes a call's JSON arguments. [-0, +1, e] */
static int decode_args(lua_State *L)
{
    jy_lua_json_decode(L, lua_touserdata(L, 1));
    return 1;
}


/* Records every trace as a table, so specs can assert on what journeys
 * did in order. */
static void collect_trace(void *ctx, const jy_trace *trace)
{
    host_box *box = ctx;
    lua_State *L = box->lh->L;
    static const char *const kinds[] = {
        "event", "duplicate", "started", "waiting", "sleeping", "woken",
        "emitted", "completed", "failed", "cancelled", "log",
    };

    lua_rawgeti(L, LUA_REGISTRYINDEX, box->traces_ref);  /* stack: traces */
    lua_createtable(L, 0, 8);                            /* stack: traces, t */
    lua_pushstring(L, kinds[trace->kind]);
    lua_setfield(L, -2, "kind");
    jy_lua_push_time(L, trace->at);
    lua_setfield(L, -2, "at");
    if (trace->run_id != 0) {
        lua_pushinteger(L, (lua_Integer)trace->run_id);
        lua_setfield(L, -2, "run");
        lua_pushstring(L, trace->journey);
        lua_setfield(L, -2, "journey");
        lua_pushstring(L, trace->user);
        lua_setfield(L, -2, "user");
    }
    if (trace->event != NULL) {
        lua_pushstring(L, trace->event->name);
        lua_setfield(L, -2, "event");
        if (trace->run_id == 0) {
            lua_pushstring(L, trace->event->user);
            lua_setfield(L, -2, "user");
        }
    }
    if (trace->detail != NULL) {
        lua_pushstring(L, trace->detail);
        lua_setfield(L, -2, "detail");
    }
    if (trace->kind == JY_TRACE_WAITING || trace->kind == JY_TRACE_SLEEPING) {
        jy_lua_push_time(L, trace->deadline);
        lua_setfield(L, -2, "deadline");
    }
    jy_buf line;
    jy_buf_init(&line);
    if (jy_transcript_line(&line, trace, 1) && !jy_buf_failed(&line)) {
        lua_pushstring(L, line.data);
        lua_setfield(L, -2, "line");
    }
    jy_buf_free(&line);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}


/* Calls the spec's log function, when it gave one. */
static void forward_log(void *ctx, jy_log_level level, uint64_t run_id,
                        const char *journey, const char *message)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    host_box *box = ctx;
    lua_State *L = box->lh->L;

    if (box->lh->log_ref == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->lh->log_ref);
    lua_pushstring(L, levels[level]);
    lua_pushinteger(L, (lua_Integer)run_id);
    if (journey != NULL)
        lua_pushstring(L, journey);
    else
        lua_pushnil(L);
    lua_pushstring(L, message);
    if (lua_pcall(L, 4, 0, 0) != LUA_OK)
        lua_pop(L, 1); /* a failing log function must not stop the host */
}


/* journey.host{start =, clock =, log =} [-0, +1, v] */
static int ljy_host_new(lua_State *L)
{
    jy_time start = 1704067200000; /* 2024-01-01T00:00:00Z */
    int is_virtual = 1;
    int start_pending = 1;
    const char *store_spec = "memory";

    if (!lua_isnoneornil(L, 1)) {
        static const char *const known[] = {"start", "clock", "store", "log",
                                            "instruction_budget", "max_journal",
                                            "resident_runs", NULL};
        luaL_checktype(L, 1, LUA_TTABLE);
        jy_lua_check_fields(L, 1, "journey.host", known);
        if (lua_getfield(L, 1, "start") != LUA_TNIL) {
            start = jy_lua_check_time(L, -1, "journey.host start");
            start_pending = 0;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "clock") != LUA_TNIL) {
            const char *clock = luaL_checkstring(L, -1);
            if (strcmp(clock, "real") == 0)
                is_virtual = 0;
            else if (strcmp(clock, "virtual") != 0)
                luaL_error(L, "journey.host: invalid clock \"%s\": use \"virtual\" or \"real\"",
                           clock);
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "store") != LUA_TNIL) {
            store_spec = luaL_checkstring(L, -1);
            if (strcmp(store_spec, "memory") != 0 &&
                (strncmp(store_spec, "sqlite:", 7) != 0 || store_spec[7] == '\0'))
                luaL_error(L, "journey.host: invalid store \"%s\": use \"memory\" or "
                              "\"sqlite:PATH\"", store_spec);
        }
        lua_pop(L, 1);
    }

    host_box *box = lua_newuserdatauv(L, sizeof *box, 0);   /* stack: box */
    box->lh = NULL;
    box->traces_ref = LUA_NOREF;
    box->actions_ref = LUA_NOREF;
    box->start_pending = start_pending && is_virtual;
    luaL_setmetatable(L, HOST_METATABLE);

    jy_store *store = NULL;
    if (strcmp(store_spec, "memory") != 0) {
        jy_error err;
        jy_error_clear(&err);
        store = jy_store_sqlite_open(store_spec + 7, JY_SQLITE_SYNC_FULL, &err);
        if (store == NULL)
            return luaL_error(L, "journey.host: %s", err.message);
    }
    box->lh = jy_lua_host_new(L, is_virtual, start, store);
    if (box->lh == NULL) {
        if (store != NULL)
            store->ops->destroy(store);
        return luaL_error(L, "out of memory creating a host");
    }
    if (lua_istable(L, 1)) {
        if (lua_getfield(L, 1, "instruction_budget") != LUA_TNIL)
            box->lh->instruction_budget = (uint64_t)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 1, "max_journal") != LUA_TNIL)
            box->lh->host->max_journal = (uint32_t)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 1, "resident_runs") != LUA_TNIL) {
            lua_Integer limit = luaL_checkinteger(L, -1);
            if (limit < 0)
                luaL_error(L, "journey.host: resident_runs must be 0 (no limit) or more, "
                              "not %I", (LUAI_UACINT)limit);
            box->lh->host->resident_limit = (size_t)limit;
        }
        lua_pop(L, 3);
    }
    lua_newtable(L);
    box->traces_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    jy_host_set_trace(box->lh->host, collect_trace, box);
    jy_host_set_log(box->lh->host, forward_log, box);

    if (lua_istable(L, 1) && lua_getfield(L, 1, "log") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TFUNCTION);
        box->lh->log_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (lua_istable(L, 1)) {
        lua_pop(L, 1);
    }
    return 1;
}


/* h:load(path) raises the script's error with its file and line. */
static int ljy_host_load(lua_State *L)
{
    host_box *box = check_open_box(L);
    const char *path = luaL_checkstring(L, 2);
    jy_error err;
    jy_error_clear(&err);

    if (jy_lua_host_load(box->lh, path, &err) != 0)
        return luaL_error(L, "%s", err.message);
    lua_pushboolean(L, 1);
    return 1;
}


/* h:define{...} */
static int ljy_host_define(lua_State *L)
{
    host_box *box = check_open_box(L);
    jy_lua_define(L, box->lh, 2);
    return 0;
}


/* Reads an event table of a spec into a new jy_event. The table goes
 * through the same reader as JSON Lines input and HTTP bodies, so a
 * spec gets the same rules and messages; only ts differs, because Lua
 * code counts seconds where the wire format counts milliseconds.
 * [-0, +0, v] */
static jy_event *check_event(lua_State *L, int idx, jy_lua_host *lh)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    int top = lua_gettop(L);
    static const char *const fields[] = {"id", "user", "name", "event", "data", NULL};

    lua_createtable(L, 0, 6);                          /* stack: copy */
    for (const char *const *field = fields; *field != NULL; field++) {
        lua_getfield(L, idx, *field);                  /* stack: copy, value */
        /* A whole float id or user, such as 2^53, counts as the integer
         * it equals, as the docs promise. */
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            int exact = 0;
            lua_Integer whole = lua_tointegerx(L, -1, &exact);
            if (exact) {
                lua_pop(L, 1);
                lua_pushinteger(L, whole);
            }
        }
        lua_setfield(L, -2, *field);
    }
    if (lua_getfield(L, idx, "ts") != LUA_TNIL) {     /* stack: copy, ts */
        jy_time ts = jy_lua_check_time(L, -1, "event ts");
        lua_pushinteger(L, (lua_Integer)ts);
        lua_setfield(L, -3, "ts");
    }
    lua_pop(L, 1);                                     /* stack: copy */

    char *json = jy_lua_json_encode(L, -1);
    if (json == NULL)
        luaL_error(L, "invalid event: %s", lua_tostring(L, -1));

    jy_error err;
    jy_error_clear(&err);
    jy_event *event = jy_lua_parse_event(lh, json, strlen(json), 0, jy_host_now(lh->host), &err);
    free(json);
    lua_settop(L, top);
    if (event == NULL)
        luaL_error(L, "invalid event: %s", err.message);
    return event;
}


/* h:ingest{user =, name =, data =, id =, ts =} returns the event's
 * sequence number, or nil and "duplicate". */
static int ljy_host_ingest(lua_State *L)
{
    host_box *box = check_open_box(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (box->start_pending) {
        if (lua_getfield(L, 2, "ts") != LUA_TNIL)
            box->lh->clock.virtual_now = jy_lua_check_time(L, -1, "event ts");
        lua_pop(L, 1);
        box->start_pending = 0;
    }
    jy_event *event = check_event(L, 2, box->lh);
    jy_error err;
    jy_error_clear(&err);

    int rc = jy_host_ingest(box->lh->host, event, &err);
    if (rc == JY_EEXIST) {
        lua_pushnil(L);
        lua_pushliteral(L, "duplicate");
        return 2;
    }
    if (rc != 0)
        return luaL_error(L, "ingest failed: %s", err.message);
    lua_pushinteger(L, (lua_Integer)event->seq);
    return 1;
}


/* h:advance(duration): moves the virtual clock, firing deadlines. */
static int ljy_host_advance(lua_State *L)
{
    host_box *box = check_box(L);
    jy_duration d = jy_lua_check_duration(L, 2, "host:advance");
    jy_time target = 0;
    jy_error err;

    if (jy_time_add(jy_host_now(box->lh->host), d, &target, &err) != 0)
        return luaL_error(L, "host:advance: %s", err.message);
    jy_host_advance_to(box->lh->host, target);
    return 0;
}


/* h:advance_to(time) */
static int ljy_host_advance_to(lua_State *L)
{
    host_box *box = check_box(L);
    jy_time target = jy_lua_check_time(L, 2, "host:advance_to");
    jy_host_advance_to(box->lh->host, target);
    return 0;
}


static int ljy_host_now(lua_State *L)
{
    host_box *box = check_box(L);
    jy_lua_push_time(L, jy_host_now(box->lh->host));
    return 1;
}


/* Pushes a run as a table; with_journal adds its journal. [-0, +1, m] */
static void push_run(lua_State *L, jy_lua_host *lh, const jy_run *run, int with_journal)
{
    lua_createtable(L, 0, 12);
    lua_pushinteger(L, (lua_Integer)run->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, run->journey->name);
    lua_setfield(L, -2, "journey");
    lua_pushstring(L, run->user);
    lua_setfield(L, -2, "user");
    if (run->key != NULL) {
        lua_pushstring(L, run->key);
        lua_setfield(L, -2, "key");
    }
    lua_pushstring(L, jy_run_status_name(run->status));
    lua_setfield(L, -2, "status");
    jy_lua_push_time(L, run->started_at);
    lua_setfield(L, -2, "started_at");
    if (!jy_run_status_is_live(run->status)) {
        jy_lua_push_time(L, run->ended_at);
        lua_setfield(L, -2, "ended_at");
    }
    if (run->result_json != NULL) {
        jy_lua_json_decode(L, run->result_json);
        lua_setfield(L, -2, "result");
    }
    if (run->error != NULL) {
        lua_pushstring(L, run->error);
        lua_setfield(L, -2, "error");
    }
    if (run->parked) {
        lua_pushstring(L, run->divergence != NULL ? run->divergence : "its replay failed");
        lua_setfield(L, -2, "parked");
    }
    if (jy_timer_is_queued(&run->timer)) {
        jy_lua_push_time(L, run->timer.deadline);
        lua_setfield(L, -2, "deadline");
    }
    if (run->wait_name_count > 0) {
        lua_createtable(L, (int)run->wait_name_count, 0);
        for (size_t i = 0; i < run->wait_name_count; i++) {
            lua_pushstring(L, run->wait_names[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "waiting_for");
    }
    lua_pushinteger(L, run->journal_len);
    lua_setfield(L, -2, "steps");

    if (!with_journal)
        return;
    lua_createtable(L, (int)run->journal_len, 0);
    for (uint32_t i = 0; i < run->journal_len; i++) {
        const jy_journal_entry *e = lh->store->ops->journal_get(lh->store, run->id, i);
        if (e == NULL)
            break;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, jy_step_kind_name(e->kind));
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, e->name);
        lua_setfield(L, -2, "name");
        jy_lua_push_time(L, e->at);
        lua_setfield(L, -2, "at");
        lua_pushstring(L, e->result_json);
        lua_setfield(L, -2, "result");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "journal");
}


/* h:run(id) returns the run with its journal, or nil. */
static int ljy_host_run(lua_State *L)
{
    host_box *box = check_open_box(L);
    jy_run *run = jy_host_run(box->lh->host, (uint64_t)luaL_checkinteger(L, 2));

    if (run == NULL)
        return 0;
    push_run(L, box->lh, run, 1);
    return 1;
}


/* h:runs{journey =, user =, status =} returns the runs, oldest first. */
static int ljy_host_runs(lua_State *L)
{
    host_box *box = check_open_box(L);
    const char *journey = NULL, *user = NULL, *status = NULL;

    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "journey");
        lua_getfield(L, 2, "user");
        lua_getfield(L, 2, "status");
        journey = lua_tostring(L, -3);
        user = lua_tostring(L, -2);
        status = lua_tostring(L, -1);
    }

    lua_newtable(L);
    lua_Integer n = 0;
    jy_host *host = box->lh->host;
    for (uint64_t id = 1; id < host->next_run_id; id++) {
        jy_run *run = jy_host_run(host, id);
        if (run == NULL)
            continue;
        if (journey != NULL && strcmp(journey, run->journey->name) != 0)
            continue;
        if (user != NULL && strcmp(user, run->user) != 0)
            continue;
        if (status != NULL && strcmp(status, jy_run_status_name(run->status)) != 0)
            continue;
        push_run(L, box->lh, run, 0);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}


/* h:events{user =, name =, emitted = true} returns stored events in
 * order; emitted = true keeps only events that runs emitted, with
 * their journey and run. */
static int ljy_host_events(lua_State *L)
{
    host_box *box = check_open_box(L);
    const char *user = NULL, *name = NULL;
    int emitted_only = 0;

    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "user");
        lua_getfield(L, 2, "name");
        lua_getfield(L, 2, "emitted");
        user = lua_tostring(L, -3);
        name = lua_tostring(L, -2);
        emitted_only = lua_toboolean(L, -1);
    }

    lua_newtable(L);
    lua_Integer n = 0;
    jy_store *store = box->lh->store;
    for (uint64_t seq = 1;; seq++) {
        const jy_event *event = store->ops->event_get(store, seq);
        if (event == NULL)
            break;
        if (user != NULL && strcmp(user, event->user) != 0)
            continue;
        if (name != NULL && strcmp(name, event->name) != 0)
            continue;
        if (emitted_only && event->origin_run == 0)
            continue;
        jy_lua_push_event(L, event);
        if (event->origin_run != 0) {
            jy_run *run = jy_host_run(box->lh->host, event->origin_run);
            lua_pushinteger(L, (lua_Integer)event->origin_run);
            lua_setfield(L, -2, "run");
            if (run != NULL) {
                lua_pushstring(L, run->journey->name);
                lua_setfield(L, -2, "journey");
            }
        }
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}


/* h:emitted() is h:events{emitted = true}. */
static int ljy_host_emitted(lua_State *L)
{
    check_open_box(L);
    lua_settop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "emitted");
    return ljy_host_events(L);
}


/* h:trace() returns every trace so far as tables {kind, at, run,
 * journey, user, event, detail, deadline, line}. */
static int ljy_host_trace(lua_State *L)
{
    host_box *box = check_open_box(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->traces_ref);
    return 1;
}


/* h:stats() returns the host's counters and each journey's. */
static int ljy_host_stats(lua_State *L)
{
    host_box *box = check_open_box(L);
    jy_host *host = box->lh->host;
    const jy_host_stats *s = &host->stats;

    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)s->events_ingested);
    lua_setfield(L, -2, "events_ingested");
    lua_pushinteger(L, (lua_Integer)s->events_duplicate);
    lua_setfield(L, -2, "events_duplicate");
    lua_pushinteger(L, (lua_Integer)s->events_emitted);
    lua_setfield(L, -2, "events_emitted");
    lua_pushinteger(L, (lua_Integer)s->runs_started);
    lua_setfield(L, -2, "runs_started");
    lua_pushinteger(L, (lua_Integer)s->runs_completed);
    lua_setfield(L, -2, "runs_completed");
    lua_pushinteger(L, (lua_Integer)s->runs_failed);
    lua_setfield(L, -2, "runs_failed");
    lua_pushinteger(L, (lua_Integer)s->runs_cancelled);
    lua_setfield(L, -2, "runs_cancelled");
    lua_pushinteger(L, (lua_Integer)s->runs_live);
    lua_setfield(L, -2, "runs_live");
    lua_pushinteger(L, (lua_Integer)s->runs_evicted);
    lua_setfield(L, -2, "runs_evicted");
    lua_pushinteger(L, (lua_Integer)s->evictions);
    lua_setfield(L, -2, "evictions");
    lua_pushinteger(L, (lua_Integer)s->rebuilds);
    lua_setfield(L, -2, "rebuilds");
    lua_pushinteger(L, (lua_Integer)host->deadlines.count);
    lua_setfield(L, -2, "deadlines");
    lua_pushinteger(L, box->lh->refs);
    lua_setfield(L, -2, "refs");

    lua_createtable(L, 0, (int)host->journey_count);
    for (size_t i = 0; i < host->journey_count; i++) {
        const jy_journey *journey = host->journeys[i];
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, (lua_Integer)journey->stats.started);
        lua_setfield(L, -2, "started");
        lua_pushinteger(L, (lua_Integer)journey->stats.completed);
        lua_setfield(L, -2, "completed");
        lua_pushinteger(L, (lua_Integer)journey->stats.failed);
        lua_setfield(L, -2, "failed");
        lua_pushinteger(L, (lua_Integer)journey->stats.cancelled);
        lua_setfield(L, -2, "cancelled");
        lua_setfield(L, -2, journey->name);
    }
    lua_setfield(L, -2, "journeys");
    return 1;
}


static void close_box(lua_State *L, host_box *box)
{
    if (box->lh == NULL)
        return;
    if (box->lh->log_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, box->lh->log_ref);
        box->lh->log_ref = LUA_NOREF;
    }
    jy_lua_host_free(box->lh);
    box->lh = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, box->traces_ref);
    box->traces_ref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, box->actions_ref);
    box->actions_ref = LUA_NOREF;
}


/* h:close() releases every run and journey and returns true; specs
 * read h:stats().refs before it to check that nothing leaks. */
static int ljy_host_close(lua_State *L)
{
    host_box *box = check_open_box(L);
    close_box(L, box);
    lua_pushboolean(L, 1);
    return 1;
}


static int ljy_host_gc(lua_State *L)
{
    host_box *box = luaL_checkudata(L, 1, HOST_METATABLE);
    close_box(L, box);
    return 0;
}


/* Runs the Lua handler of an action registered with h:action and
 * completes the call with what it returned or raised. */
static void run_lua_action(void *ctx, jy_host *host, uint64_t run_id, uint64_t token,
                           const char *name, const char *args_json)
{
    (void)host;
    host_box *box = ctx;
    lua_State *L = box->lh->L;
    int top = lua_gettop(L);

    lua_rawgeti(L, LUA_REGISTRYINDEX, box->actions_ref);     /* stack: actions */
    lua_getfield(L, -1, name);                               /* stack: actions, fn */
    lua_pushcfunction(L, decode_args);
    lua_pushlightuserdata(L, (void *)args_json);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)                     /* stack: actions, fn, args */
        lua_pushnil(L);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {                   /* stack: actions, result */
        jy_lua_complete_call(box->lh, run_id, token, NULL, lua_tostring(L, -1));
        lua_settop(L, top);
        return;
    }
    char *json = jy_lua_json_encode(L, -1);
    if (json == NULL)
        jy_lua_complete_call(box->lh, run_id, token, NULL, "the action returned a value JSON "
                                                           "cannot hold");
    else
        jy_lua_complete_call(box->lh, run_id, token, json, NULL);
    free(json);
    lua_settop(L, top);
}


/* h:action(name, fn): registers fn(args) as the handler of j.call(name,
 * args); its return value is the call's value, an error fails the
 * call. */
static int ljy_host_action(lua_State *L)
{
    host_box *box = check_open_box(L);
    const char *name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);

    if (box->actions_ref == LUA_NOREF) {
        lua_newtable(L);
        box->actions_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    int rc = jy_lua_register_action(box->lh, name, run_lua_action, box);
    if (rc == JY_EEXIST)
        return luaL_error(L, "host:action: an action named \"%s\" is registered already", name);
    if (rc != 0)
        return luaL_error(L, "host:action: out of memory");
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->actions_ref);
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, name);
    return 0;
}


/* h:commit() makes everything so far durable, with the clock; with the
 * memory store it does nothing. Returns true, or raises. */
static int ljy_host_commit(lua_State *L)
{
    host_box *box = check_box(L);
    jy_store *store = box->lh->store;
    jy_error err;
    char clock_text[32];

    jy_error_clear(&err);
    snprintf(clock_text, sizeof clock_text, "%lld", (long long)jy_host_now(box->lh->host));
    if (store->ops->meta_put(store, "clock", clock_text, &err) != 0 ||
        store->ops->commit(store, &err) != 0)
        return luaL_error(L, "host:commit: %s", err.message);
    lua_pushboolean(L, 1);
    return 1;
}


/* h:recover() moves the clock to where the store's last commit left it
 * and replays the store's live runs; load or define the journeys
 * first. Returns {recovered =, failed =, orphaned =}. */
static int ljy_host_recover(lua_State *L)
{
    host_box *box = check_open_box(L);
    jy_store *store = box->lh->store;
    jy_host_recovery report;
    jy_error err;
    char *clock_text = NULL;

    jy_error_clear(&err);
    if (store->ops->meta_get(store, "clock", &clock_text, &err) == 0 && clock_text != NULL)
        box->lh->clock.virtual_now = strtoll(clock_text, NULL, 10);
    free(clock_text);
    box->start_pending = 0;

    if (jy_host_recover(box->lh->host, &report, &err) != 0)
        return luaL_error(L, "host:recover: %s", err.message);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)report.recovered);
    lua_setfield(L, -2, "recovered");
    lua_pushinteger(L, (lua_Integer)report.parked);
    lua_setfield(L, -2, "parked");
    lua_pushinteger(L, (lua_Integer)report.failed);
    lua_setfield(L, -2, "failed");
    lua_pushinteger(L, (lua_Integer)report.orphaned);
    lua_setfield(L, -2, "orphaned");
    return 1;
}


/* journey.duration(value) returns {ms =, months =} or raises. */
static int ljy_duration(lua_State *L)
{
    jy_duration d = jy_lua_check_duration(L, 1, "duration");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, d.ms);
    lua_setfield(L, -2, "ms");
    lua_pushinteger(L, d.months);
    lua_setfield(L, -2, "months");
    return 1;
}


/* journey.time(value) returns seconds since the epoch. */
static int ljy_time(lua_State *L)
{
    jy_lua_push_time(L, jy_lua_check_time(L, 1, "time"));
    return 1;
}


/* journey.iso(seconds) formats a time as ISO-8601. */
static int ljy_iso(lua_State *L)
{
    char text[JY_TIME_TEXT_SIZE];
    jy_time_format(jy_lua_check_time(L, 1, "journey.iso"), text);
    lua_pushstring(L, text);
    return 1;
}


/* journey.match(match, data) exposes the wait matcher to specs. */
static int ljy_match(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    /* The rule reads data raw, so a run's pending event.data must be
     * decoded whole first. */
    jy_lua_complete_pending_data(L, 2);
    lua_pushboolean(L, jy_lua_match(L, 1, 2));
    return 1;
}


static const luaL_Reg host_methods[] = {
    {"load", ljy_host_load},
    {"define", ljy_host_define},
    {"ingest", ljy_host_ingest},
    {"advance", ljy_host_advance},
    {"advance_to", ljy_host_advance_to},
    {"now", ljy_host_now},
    {"run", ljy_host_run},
    {"runs", ljy_host_runs},
    {"events", ljy_host_events},
    {"emitted", ljy_host_emitted},
    {"trace", ljy_host_trace},
    {"stats", ljy_host_stats},
    {"action", ljy_host_action},
    {"commit", ljy_host_commit},
    {"recover", ljy_host_recover},
    {"close", ljy_host_close},
    {NULL, NULL},
};


int luaopen_journey(lua_State *L)
{
    if (luaL_newmetatable(L, HOST_METATABLE)) {          /* stack: meta */
        luaL_newlib(L, host_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, ljy_host_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 6);                            /* stack: module */
    jy_lua_push_define(L);
    lua_setfield(L, -2, "define");
    lua_pushcfunction(L, ljy_host_new);
    lua_setfield(L, -2, "host");
    lua_pushcfunction(L, ljy_duration);
    lua_setfield(L, -2, "duration");
    lua_pushcfunction(L, ljy_time);
    lua_setfield(L, -2, "time");
    lua_pushcfunction(L, ljy_iso);
    lua_setfield(L, -2, "iso");
    lua_pushcfunction(L, ljy_match);
    lua_setfield(L, -2, "match");
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    return 1;
}
