/*
 * libjourney: the public API of journey.h over the host core and its
 * Lua runtime.
 *
 * The host keeps one loop timer for its earliest deadline and a check
 * handle that runs after every loop turn: it commits what the turn did
 * and then calls the callbacks of the events that commit made durable.
 * On the real clock, a turn that ingests for longer than
 * COMMIT_INTERVAL_NS also commits between two ingests, so an
 * acknowledgement does not wait for the end of a long turn.
 *
 * The SQLite store commits on its writer thread. There the check handle
 * only starts a group's commit, and the loop goes on with the next
 * turn. The writer's notice finishes the group's callbacks and starts
 * the next group.
 */
#include "host_private.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "store_sqlite.h"

/* The maximum number of deadlines fired in one loop turn, so that a
 * turn stays short when many deadlines fall due together. */
#define DEADLINE_SLICE 1000

/* The maximum number of deadlines fired between two ingests, and in all
 * between the ingests of one loop turn. What is still due past the
 * turn's share is a backlog, which the timer fires a slice at a time. */
#define DEADLINES_PER_INGEST 64
#define DEADLINES_BETWEEN_INGESTS 4096

/* The maximum time an ingested event waits for a commit while its loop
 * turn goes on ingesting. With the commit itself, an acknowledgement
 * then comes within a few milliseconds even when a caller ingests
 * thousands of events in one turn. */
#define COMMIT_INTERVAL_NS 1000000u

/* How long the oldest event of the oldest group in flight on the SQLite
 * store's threads may wait before the loop waits with it.
 * NOTE: tuned on one 2-core machine with W1. At 1 ms the loop waited at
 * nearly every commit and lost the writer's gain; a slower disk may need
 * more (docs/benchmarks.md, "A writer thread for the SQLite store"). */
#define ACK_WAIT_NS 1500000u

/* The public store types must be the internal ones under another name,
 * so a backend written against journey.h is a jy_store. */
#define SAME_FIELD(pub, priv, field) \
    _Static_assert(offsetof(pub, field) == offsetof(priv, field) && \
                   sizeof(((pub *)0)->field) == sizeof(((priv *)0)->field), \
                   #pub "." #field " differs from " #priv)
_Static_assert(sizeof(journey_store_error) == sizeof(jy_error), "error record");
SAME_FIELD(journey_store_error, jy_error, message);
_Static_assert(sizeof(journey_event) == sizeof(jy_event), "event");
SAME_FIELD(journey_event, jy_event, ts);
SAME_FIELD(journey_event, jy_event, user_json);
_Static_assert(sizeof(journey_journal_entry) == sizeof(jy_journal_entry), "journal entry");
SAME_FIELD(journey_journal_entry, jy_journal_entry, kind);
SAME_FIELD(journey_journal_entry, jy_journal_entry, result_json);
_Static_assert(sizeof(journey_run_record) == sizeof(jy_run_record), "run record");
SAME_FIELD(journey_run_record, jy_run_record, status);
SAME_FIELD(journey_run_record, jy_run_record, deadline);
_Static_assert(sizeof(journey_store_ops) == sizeof(jy_store_ops), "store operations");
SAME_FIELD(journey_store_ops, jy_store_ops, event_scan);
SAME_FIELD(journey_store_ops, jy_store_ops, prune);
SAME_FIELD(journey_store_ops, jy_store_ops, destroy);
_Static_assert(sizeof(journey_trace) == sizeof(jy_trace), "trace");
SAME_FIELD(journey_trace, jy_trace, run_id);
SAME_FIELD(journey_trace, jy_trace, run_status);
SAME_FIELD(journey_trace, jy_trace, event);
SAME_FIELD(journey_trace, jy_trace, deadline);
_Static_assert(JOURNEY_WAKE_BUCKETS == JY_WAKE_BUCKETS, "wake histogram");


journey_store *journey_store_memory_new(void)
{
    return (journey_store *)jy_store_memory_new();
}


int journey_store_memory_load_event(journey_store *store, journey_event *event)
{
    return jy_store_memory_load_event((jy_store *)store, (jy_event *)event);
}


int journey_store_memory_load_journal(journey_store *store, const journey_journal_entry *entry)
{
    return jy_store_memory_load_journal((jy_store *)store, (const jy_journal_entry *)entry);
}


void journey_store_memory_reserve_seq(journey_store *store, uint64_t next_seq)
{
    jy_store_memory_reserve_seq((jy_store *)store, next_seq);
}


journey_event *journey_event_new(const char *id, const char *user, const char *name, int64_t ts,
                                 const char *data_json, const char *user_json,
                                 uint64_t origin_run)
{
    return (journey_event *)jy_event_new(id, user, name, ts, data_json, user_json, origin_run);
}


void journey_event_free(journey_event *event)
{
    jy_event_free((jy_event *)event);
}


const char *journey_version(void)
{
    return JOURNEY_VERSION_STRING;
}


void journey_config_init(journey_config *config)
{
    memset(config, 0, sizeof *config);
    config->store = "memory";
}


void journey_free(void *pointer)
{
    free(pointer);
}


const char *journey_error(const journey_host *host)
{
    return host != NULL ? host->error : "no host";
}


int jy_lib_fail(journey_host *host, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(host->error, sizeof host->error, fmt, ap);
    va_end(ap);
    return status;
}

#define fail jy_lib_fail


static void forward_log(void *ctx, jy_log_level level, uint64_t run_id, const char *journey,
                        const char *message)
{
    journey_host *host = ctx;
    if (host->log != NULL)
        host->log(host->log_ctx, (int)level, run_id, journey, message);
}


static void forward_trace(void *ctx, const jy_trace *trace)
{
    journey_host *host = ctx;
    if (host->trace != NULL)
        host->trace(host->trace_ctx, (const journey_trace *)trace);
}


/* Calls, in order, the callbacks of a list of ingested events whose
 * commit group is at most group, or reports to them that their commit
 * failed. The events after them stay in the list. */
static void finish_through(journey_host *host, ingest_done **head, ingest_done **tail,
                           int status, uint64_t group)
{
    host->busy++;
    while (*head != NULL && (*head)->group <= group) {
        ingest_done *d = *head;
        *head = d->next;
        if (*head == NULL)
            *tail = NULL;
        if (d->done != NULL)
            d->done(d->ctx, status == JOURNEY_OK ? d->status : status,
                    status == JOURNEY_OK ? d->seq : 0);
        free(d);
    }
    host->busy--;
}


/* Finishes every event of a list, as finish_through does. */
static void finish_list(journey_host *host, ingest_done **head, ingest_done **tail, int status)
{
    finish_through(host, head, tail, status, UINT64_MAX);
}


/* Finishes every ingested event still waiting, the group being
 * committed first, since it came first. */
static void finish_ingests(journey_host *host, int status)
{
    finish_list(host, &host->committing_head, &host->committing_tail, status);
    finish_list(host, &host->done_head, &host->done_tail, status);
}


static const double commit_bucket_bounds[JOURNEY_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
};


const double *journey_commit_bucket_bounds(void)
{
    return commit_bucket_bounds;
}


static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}


static void record_commit(journey_host *host, double seconds)
{
    size_t b = 0;
    while (b < JOURNEY_COMMIT_BUCKETS && seconds > commit_bucket_bounds[b])
        b++;
    host->counters.commit_buckets[b]++;
    host->counters.commits++;
    host->counters.commit_seconds_sum += seconds;
}


/* After a commit failed: the host takes no more events, and every
 * event still waiting hears of the failure. */
static int store_failure(journey_host *host, const char *message)
{
    host->failed = 1;
    host->in_flight_count = 0;
    fail(host, JOURNEY_EIO, "%s", message);
    forward_log(host, JY_LOG_ERROR, 0, NULL, message);
    finish_ingests(host, JOURNEY_EIO);
    if (host->store_failed != NULL)
        host->store_failed(host->store_failed_ctx, message);
    return JOURNEY_EIO;
}


/* Finishes the callbacks of the groups in flight that the store has
 * committed, and sets *written to the last group written. Returns 0, or
 * JOURNEY_EIO once a write failed. */
static int collect_commit(journey_host *host, uint64_t *written)
{
    *written = 0;
    if (host->in_flight_count == 0)
        return JOURNEY_OK;

    uint64_t committed = 0;
    double seconds = 0;
    jy_error err;
    jy_error_clear(&err);
    int rc = jy_store_sqlite_poll(host->store, &committed, written, &seconds, &err);

    /* A group committed before a later write failed is durable. */
    while (host->in_flight_count > 0 &&
           host->in_flight[host->in_flight_first].group <= committed) {
        host->in_flight_first = (host->in_flight_first + 1) % JY_GROUPS_IN_FLIGHT;
        host->in_flight_count--;
        record_commit(host, seconds);
    }
    finish_through(host, &host->committing_head, &host->committing_tail, JOURNEY_OK, committed);
    if (rc != 0)
        return store_failure(host, err.message);
    return JOURNEY_OK;
}


/* The clock is saved with every group that wrote something, so a later
 * start (and journey show) can read how far the host had come. */
static int save_clock(journey_host *host, jy_error *err)
{
    char clock_text[32];
    snprintf(clock_text, sizeof clock_text, "%lld", (long long)jy_host_now(host->lh->host));
    return host->store->ops->meta_put(host->store, "clock", clock_text, err);
}


int jy_lib_commit(journey_host *host)
{
    jy_error err;
    jy_error_clear(&err);
    if (host->failed) {
        finish_ingests(host, JOURNEY_EIO);
        return JOURNEY_EIO;
    }

    /* This commit covers the events ingested before it. One that a
     * callback ingests while this commit's callbacks run joins the next
     * group, so it is set apart here. */
    ingest_done *head = host->done_head;
    ingest_done *tail = host->done_tail;
    host->done_head = NULL;
    host->done_tail = NULL;

    /* A turn that did nothing writes nothing. */
    int wrote = host->dirty || head != NULL;
    int rc = 0;
    if (wrote)
        rc = save_clock(host, &err);
    double before = monotonic_seconds();
    if (rc == 0)
        rc = host->store->ops->commit(host->store, &err);
    double seconds = monotonic_seconds() - before;
    host->dirty = 0;

    /* The groups in flight ended before this one. A group committed
     * before a failure is acknowledged as durable. */
    uint64_t written = 0;
    int collect_failed = host->in_flight_count != 0 &&
                         collect_commit(host, &written) != JOURNEY_OK;

    /* After a failure, the set-apart callbacks come back to the front of
     * the queue. store_failure reports the failure once and finishes
     * them, or did already when collect_commit found it. */
    if (rc != 0 || collect_failed) {
        if (head != NULL) {
            tail->next = host->done_head;
            if (host->done_head == NULL)
                host->done_tail = tail;
            host->done_head = head;
        }
        if (host->failed) {
            finish_ingests(host, JOURNEY_EIO);
            return JOURNEY_EIO;
        }
        return store_failure(host, err.message);
    }

    if (wrote)
        record_commit(host, seconds);
    finish_list(host, &head, &tail, JOURNEY_OK);
    return JOURNEY_OK;
}


int jy_lib_commit_async(journey_host *host)
{
    if (!host->async_commits)
        return jy_lib_commit(host);
    if (host->failed) {
        finish_ingests(host, JOURNEY_EIO);
        return JOURNEY_EIO;
    }
    uint64_t written = 0;
    if (collect_commit(host, &written) != JOURNEY_OK)
        return JOURNEY_EIO;

    /* A group starts once the writer has written the last one, so it
     * gathers what the loop did meanwhile. */
    int newest = (host->in_flight_first + host->in_flight_count - 1) % JY_GROUPS_IN_FLIGHT;
    if (host->in_flight_count == JY_GROUPS_IN_FLIGHT ||
        (host->in_flight_count > 0 && written < host->in_flight[newest].group))
        return JOURNEY_OK;
    if (!host->dirty && host->done_head == NULL)
        return JOURNEY_OK;

    jy_error err;
    jy_error_clear(&err);
    uint64_t group = 0;
    int rc = save_clock(host, &err);
    if (rc == 0)
        rc = jy_store_sqlite_commit_start(host->store, &group, &err);
    if (rc != 0) {
        /* The writer failed since the poll above. The groups it wrote
         * before that are synced all the same, and acknowledged by a
         * second collect, which reports the failure itself. */
        if (host->in_flight_count > 0 && collect_commit(host, &written) != JOURNEY_OK)
            return JOURNEY_EIO;
        return store_failure(host, err.message);
    }
    host->dirty = 0;

    /* With nothing written, the events are acknowledged with the newest
     * group in flight, or now when there is none. */
    if (group == 0 && host->in_flight_count == 0) {
        finish_list(host, &host->done_head, &host->done_tail, JOURNEY_OK);
        return JOURNEY_OK;
    }
    if (group != 0) {
        int slot = (host->in_flight_first + host->in_flight_count) % JY_GROUPS_IN_FLIGHT;
        host->in_flight[slot].group = group;
        host->in_flight[slot].head_ns =
            host->done_head != NULL ? host->done_head->ingested_ns : uv_hrtime();
        host->in_flight_count++;
    } else {
        group = host->in_flight[newest].group;
    }
    for (ingest_done *d = host->done_head; d != NULL; d = d->next)
        d->group = group;
    if (host->done_head != NULL) {
        if (host->committing_tail != NULL)
            host->committing_tail->next = host->done_head;
        else
            host->committing_head = host->done_head;
        host->committing_tail = host->done_tail;
    }
    host->done_head = NULL;
    host->done_tail = NULL;
    return JOURNEY_OK;
}


/* Called on the writer's thread after a group ended: wakes the loop. */
static void on_store_committed(void *ctx)
{
    journey_host *host = ctx;
    uv_async_send(&host->async);
}


int journey_commit(journey_host *host)
{
    ON_LOOP_THREAD(host);
    if (host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is closing");
    return jy_lib_commit(host);
}


static void on_idle(uv_idle_t *idle)
{
    (void)idle;
}


/* Work done outside the loop's I/O phase (a timer, the caller's own
 * code) is committed by the check handle, which runs only after the
 * loop polled. An active idle handle makes that poll return at once. */
void jy_lib_commit_soon(journey_host *host)
{
    uv_idle_start(&host->commit_soon, on_idle);
}


/* Fires the deadlines that are due, at most DEADLINE_SLICE per loop
 * turn: when many fall due at once, the loop polls for I/O between the
 * slices, so ingestion goes on while they drain. */
static void on_deadline(uv_timer_t *timer)
{
    journey_host *host = timer->data;
    jy_host *core = host->lh->host;
    jy_time now = jy_host_now(core);
    host->busy++;
    jy_host_fire_due(core, now, DEADLINE_SLICE);
    host->busy--;
    /* A slice that leaves nothing due ends a backlog. */
    if (jy_host_next_deadline(core) > now)
        host->deadlines_behind = 0;
    host->dirty = 1;
    jy_lib_commit_soon(host);
}


void jy_lib_arm_timer(journey_host *host)
{
    /* A virtual clock moves only when the program moves it. */
    if (host->is_virtual || host->closing)
        return;
    jy_time next = jy_host_next_deadline(host->lh->host);
    if (next == JY_TIME_MAX) {
        uv_timer_stop(&host->deadline_timer);
        return;
    }
    /* The loop measures a timer's delay from the time it cached at the
     * start of this turn, which a long turn leaves behind the clock. */
    uv_update_time(host->loop);
    jy_time now = jy_host_now(host->lh->host);
    uv_timer_start(&host->deadline_timer, on_deadline, next > now ? (uint64_t)(next - now) : 0,
                   0);
}


static void on_check(uv_check_t *check)
{
    journey_host *host = check->data;
    if (host->lh == NULL)
        return;
    uv_idle_stop(&host->commit_soon);
    host->deadlines_between_ingests = 0;
    jy_lib_commit_async(host);
    jy_lib_arm_timer(host);
}


static void drain_queue(uv_async_t *async);
static void call_action(void *ctx, jy_host *core, uint64_t run_id, uint64_t token,
                        const char *name, const char *args_json);


/* Opens Lua's libraries and the journey module, inside a protected
 * call: under a small memory cap they may not fit. */
static int open_libraries(lua_State *L)
{
    luaL_openlibs(L);
    luaL_requiref(L, "journey", luaopen_journey, 0);
    lua_pop(L, 1);
    return 0;
}


int jy_lib_new_generation(journey_host *host, lua_State **out_L, jy_lua_host **out_lh)
{
    /* A host on a virtual clock is a replay, such as journey simulate,
     * that runs to its end, so it takes the faster state whose pool
     * keeps freed small blocks until the state is closed. */
    lua_State *L = host->is_virtual ? jy_lua_new_batch_state(host->memory_cap)
                                    : jy_lua_new_state(host->memory_cap);
    if (L == NULL)
        return JOURNEY_ENOMEM;
    lua_pushcfunction(L, open_libraries);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        jy_lua_close_state(L);
        return JOURNEY_ENOMEM;
    }

    /* A virtual clock carries over from the generation it replaces. */
    jy_time now = host->lh != NULL ? jy_host_now(host->lh->host) : 0;
    jy_lua_host *lh = jy_lua_host_new(L, host->is_virtual, now, host->store);
    if (lh == NULL) {
        jy_lua_close_state(L);
        return JOURNEY_ENOMEM;
    }
    lh->owns_store = 0;
    if (host->instruction_budget != 0)
        lh->instruction_budget = host->instruction_budget;
    if (host->max_journal != 0)
        lh->host->max_journal = host->max_journal;
    lh->host->resident_limit = host->resident_runs;
    lh->host->history_window = host->history_window;
    lh->host->keep_ended_runs = 0;
    jy_host_set_log(lh->host, forward_log, host);
    jy_host_set_trace(lh->host, forward_trace, host);

    for (action_entry *a = host->actions; a != NULL; a = a->next)
        if (jy_lua_register_action(lh, a->name, call_action, a) != 0) {
            jy_lib_free_generation(L, lh);
            return JOURNEY_ENOMEM;
        }
    *out_L = L;
    *out_lh = lh;
    return JOURNEY_OK;
}


void jy_lib_free_generation(lua_State *L, jy_lua_host *lh)
{
    jy_lua_host_free(lh);
    jy_lua_close_state(L);
}


int journey_host_new(const journey_config *config, journey_host **out, char *error,
                     size_t error_size)
{
    journey_config defaults;
    *out = NULL;
    if (config == NULL) {
        journey_config_init(&defaults);
        config = &defaults;
    }

    journey_host *host = calloc(1, sizeof *host);
    if (host == NULL) {
        if (config->store_backend != NULL)
            config->store_backend->ops->destroy(config->store_backend);
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "out of memory creating the host");
        return JOURNEY_ENOMEM;
    }
    host->log = config->log;
    host->log_ctx = config->log_ctx;
    host->trace = config->trace;
    host->trace_ctx = config->trace_ctx;
    host->store_failed = config->store_failed;
    host->store_failed_ctx = config->store_failed_ctx;
    pthread_mutex_init(&host->queue_lock, NULL);

    const char *store_spec = config->store != NULL ? config->store : "memory";
    jy_error err;
    jy_error_clear(&err);
    jy_store *store = NULL;
    if (config->clock != JOURNEY_CLOCK_REAL && config->clock != JOURNEY_CLOCK_VIRTUAL)
        jy_error_set(&err, JY_EINVAL, "invalid clock %d: use JOURNEY_CLOCK_REAL or "
                                      "JOURNEY_CLOCK_VIRTUAL", (int)config->clock);
    else if (config->store_backend != NULL)
        store = (jy_store *)config->store_backend;
    else if (strcmp(store_spec, "memory") == 0)
        store = jy_store_memory_new();
    else if (strncmp(store_spec, "sqlite:", 7) == 0 && store_spec[7] != '\0')
        store = jy_store_sqlite_open(store_spec + 7,
                                     config->sync_normal ? JY_SQLITE_SYNC_NORMAL
                                                         : JY_SQLITE_SYNC_FULL, &err);
    else
        jy_error_set(&err, JY_EINVAL, "invalid store \"%s\": use memory or sqlite:PATH",
                     store_spec);
    if (store == NULL) {
        if (config->store_backend != NULL)
            config->store_backend->ops->destroy(config->store_backend);
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "%s", err.message[0] ? err.message : "out of memory");
        pthread_mutex_destroy(&host->queue_lock);
        free(host);
        return err.code != 0 ? err.code : JOURNEY_ENOMEM;
    }

    host->store = store;
    host->is_virtual = config->clock == JOURNEY_CLOCK_VIRTUAL;
    host->loop_thread = pthread_self();
    host->memory_cap = config->memory_cap != 0 ? config->memory_cap : JY_DEFAULT_MEMORY_CAP;
    host->instruction_budget = config->instruction_budget;
    host->max_journal = config->max_journal;
    host->resident_runs = config->resident_runs;
    if (jy_lib_new_generation(host, &host->L, &host->lh) != 0) {
        store->ops->destroy(store);
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "out of memory creating the host's Lua state, with a "
                     "memory cap of %zu bytes; raise the cap (memory_cap, --memory-cap)",
                     host->memory_cap);
        pthread_mutex_destroy(&host->queue_lock);
        free(host);
        return JOURNEY_ENOMEM;
    }

    if (config->loop != NULL) {
        host->loop = config->loop;
    } else {
        uv_loop_init(&host->own_loop);
        host->loop = &host->own_loop;
        host->owns_loop = 1;
    }
    uv_check_init(host->loop, &host->commit_check);
    uv_idle_init(host->loop, &host->commit_soon);
    uv_timer_init(host->loop, &host->deadline_timer);
    uv_async_init(host->loop, &host->async, drain_queue);
    host->commit_check.data = host;
    host->commit_soon.data = host;
    host->deadline_timer.data = host;
    host->async.data = host;
    host->open_handles = 4;
    if (config->store_backend == NULL && strncmp(store_spec, "sqlite:", 7) == 0) {
        host->async_commits = 1;
        jy_store_sqlite_set_notify(store, on_store_committed, host);
    }
    /* Until journey_start, nothing keeps the caller's loop alive. */
    uv_unref((uv_handle_t *)&host->async);

    *out = host;
    return JOURNEY_OK;
}


/* Reads the clock the store saved with its last commit, or JY_TIME_MIN
 * for a store that never committed one. */
static jy_time saved_clock(journey_host *host)
{
    char *text = NULL;
    jy_error err;
    jy_error_clear(&err);
    jy_time t = JY_TIME_MIN;

    if (host->store->ops->meta_get(host->store, "clock", &text, &err) == 0 && text != NULL)
        t = strtoll(text, NULL, 10);
    free(text);
    return t;
}


int journey_start(journey_host *host)
{
    ON_LOOP_THREAD(host);
    if (host->started || host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is %s", host->closing ? "closing"
                                                                          : "already started");

    /* A virtual clock resumes where the store's last commit left it, so
     * a replay that stopped goes on in event time. */
    if (host->is_virtual) {
        jy_time saved = saved_clock(host);
        if (saved > host->lh->clock.virtual_now)
            host->lh->clock.virtual_now = saved;
    }

    journey_replay_report report;
    jy_error err;
    jy_error_clear(&err);
    if (jy_lib_replay(host->lh, host->script_count, &report, &err) != 0)
        return fail(host, err.code, "%s", err.message);
    host->last_replay = report;

    /* On the real clock, deadlines that passed while the host was down
     * fire now. A virtual clock fires them as it moves, after any event
     * at the same instant. */
    if (!host->is_virtual)
        jy_host_advance_to(host->lh->host, jy_host_now(host->lh->host));

    host->started = 1;
    host->dirty = 1;
    jy_lib_commit_soon(host);
    uv_ref((uv_handle_t *)&host->async);
    uv_async_send(&host->async); /* events queued by other threads before */
    uv_check_start(&host->commit_check, on_check);
    if (jy_lib_commit(host) != 0)
        return JOURNEY_EIO;
    jy_lib_arm_timer(host);
    return JOURNEY_OK;
}


int64_t journey_now(const journey_host *host)
{
    return jy_host_now(host->lh->host);
}


int64_t journey_next_deadline(const journey_host *host)
{
    jy_time next = jy_host_next_deadline(host->lh->host);
    return next == JY_TIME_MAX ? INT64_MAX : next;
}


int journey_advance_to(journey_host *host, int64_t at)
{
    ON_LOOP_THREAD(host);
    if (!host->is_virtual)
        return fail(host, JOURNEY_ESTATE, "the host runs on the real clock; only a virtual "
                                          "clock is moved by journey_advance_to");
    if (host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is closing");
    if (!host->started) {
        host->lh->clock.virtual_now = at;
        return JOURNEY_OK;
    }
    jy_host_advance_to(host->lh->host, at);
    host->dirty = 1;
    return JOURNEY_OK;
}


/* Checks that the host takes events now. */
static int check_ingest_state(journey_host *host)
{
    if (!host->started || host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is %s; call journey_start first",
                    host->closing ? "closing" : "not started");
    if (host->failed)
        return fail(host, JOURNEY_EIO, "a commit failed, so the host takes no more events; "
                                       "close it and start again");
    return JOURNEY_OK;
}


/* Fires deadlines that fell due while the caller ingests many events in
 * one loop turn. Otherwise they wait for the turn's end, tens of
 * milliseconds when a caller ingests a thousand events in a turn.
 * A backlog, such as a million sleeps that end at one instant, stays
 * with the timer until it is gone, so the loop goes on taking events
 * while it drains. */
static void fire_deadlines_between_ingests(journey_host *host)
{
    jy_host *core = host->lh->host;
    jy_time now = jy_host_now(core);
    if (jy_host_next_deadline(core) > now) {
        host->deadlines_behind = 0;
        return;
    }

    if (host->deadlines_behind)
        return;
    if (host->deadlines_between_ingests >= DEADLINES_BETWEEN_INGESTS) {
        host->deadlines_behind = 1;
        return;
    }
    size_t room = DEADLINES_BETWEEN_INGESTS - host->deadlines_between_ingests;

    host->busy++;
    host->deadlines_between_ingests +=
        jy_host_fire_due(core, now, room < DEADLINES_PER_INGEST ? room : DEADLINES_PER_INGEST);
    host->busy--;
    host->dirty = 1;
}


int journey_ingest_event(journey_host *host, journey_event *public_event,
                         journey_ingest_cb done, void *ctx)
{
    ON_LOOP_THREAD(host);
    jy_event *event = (jy_event *)public_event;
    int rc = check_ingest_state(host);
    if (rc != JOURNEY_OK) {
        jy_event_free(event);
        return rc;
    }
    if (event == NULL)
        return fail(host, JOURNEY_EINVAL, "journey_ingest_event needs an event");

    /* Between two ingests no step of the core is under way, so a commit
     * here covers whole dispatches. Not so for an ingest from an action
     * handler, which runs inside a run. A virtual clock commits when its
     * driver calls journey_commit. */
    uint64_t now_ns = uv_hrtime();

    /* The loop takes no more events while the oldest group in flight has
     * waited ACK_WAIT_NS: a writer that falls behind slows the senders
     * down instead of making every acknowledgement later. */
    int oldest = host->in_flight_first;
    if (host->in_flight_count > 0 && host->busy == 0 &&
        now_ns - host->in_flight[oldest].head_ns >= ACK_WAIT_NS) {
        jy_error err;
        jy_error_clear(&err);
        jy_store_sqlite_wait(host->store, host->in_flight[oldest].group, &err);
        uint64_t written = 0;
        if (collect_commit(host, &written) != JOURNEY_OK) {
            jy_event_free(event);
            return JOURNEY_EIO;
        }
    }
    int commit_due = host->done_head != NULL &&
                     now_ns - host->done_head->ingested_ns >= COMMIT_INTERVAL_NS;
    /* A group committing on the writer's thread may have ended, and then
     * the next one starts. */
    if (!host->is_virtual && host->busy == 0 && (commit_due || host->in_flight_count > 0)) {
        if (jy_lib_commit_async(host) != JOURNEY_OK) {
            jy_event_free(event);
            return JOURNEY_EIO;
        }
        now_ns = uv_hrtime();
    }

    /* Without a callback nothing waits for the commit, so nothing is
     * queued for it. */
    ingest_done *d = NULL;
    if (done != NULL && (d = calloc(1, sizeof *d)) == NULL) {
        jy_event_free(event);
        return fail(host, JOURNEY_ENOMEM, "out of memory ingesting an event");
    }

    /* The callback waits for the next commit: at the end of this loop
     * turn, or at a later ingest of this turn once the oldest waiting
     * event has waited COMMIT_INTERVAL_NS. It takes its place before the
     * dispatch, so that an event an action handler ingests during the
     * dispatch is acknowledged after this one. */
    if (d != NULL) {
        d->ingested_ns = now_ns;
        if (host->done_tail != NULL)
            host->done_tail->next = d;
        else
            host->done_head = d;
        host->done_tail = d;
    }

    /* An ingest from an action handler runs inside a run, where firing
     * a deadline would interleave another run's step. */
    int nested = host->busy != 0;
    jy_error err;
    jy_error_clear(&err);
    host->busy++;
    rc = jy_host_ingest(host->lh->host, event, &err);
    host->busy--;
    if (!host->is_virtual && !nested)
        fire_deadlines_between_ingests(host);
    if (rc != 0 && rc != JY_EEXIST)
        return fail(host, rc, "%s", err.message); /* d stays, without a callback */
    host->dirty = 1;
    if (d != NULL) {
        d->done = done;
        d->ctx = ctx;
        d->status = rc == 0 ? JOURNEY_OK : JOURNEY_EEXIST;
        d->seq = rc == 0 ? event->seq : 0;
    }
    if (!host->is_virtual)
        jy_lib_commit_soon(host);
    return JOURNEY_OK;
}


int journey_ingest(journey_host *host, const char *json, size_t len, journey_ingest_cb done,
                   void *ctx)
{
    ON_LOOP_THREAD(host);
    int rc = check_ingest_state(host);
    if (rc != JOURNEY_OK)
        return rc;
    journey_event *event = NULL;
    rc = journey_event_parse(host, json, len, 0, &event);
    if (rc != JOURNEY_OK) {
        char reason[sizeof host->error];
        snprintf(reason, sizeof reason, "%s", host->error);
        return fail(host, rc, "invalid event: %s", reason);
    }
    return journey_ingest_event(host, event, done, ctx);
}


int journey_ingest_threadsafe(journey_host *host, const char *json, size_t len,
                              journey_ingest_cb done, void *ctx)
{
    if (json == NULL)
        return JOURNEY_EINVAL;
    queued_event *q = malloc(sizeof *q + len + 1);
    if (q == NULL)
        return JOURNEY_ENOMEM;
    q->next = NULL;
    q->done = done;
    q->ctx = ctx;
    q->len = len;
    memcpy(q->json, json, len);
    q->json[len] = '\0';

    pthread_mutex_lock(&host->queue_lock);
    if (host->queue_tail != NULL)
        host->queue_tail->next = q;
    else
        host->queue_head = q;
    host->queue_tail = q;
    pthread_mutex_unlock(&host->queue_lock);

    uv_async_send(&host->async);
    return JOURNEY_OK;
}


/* Ingests what other threads queued, on the loop thread. */
static void drain_queue(uv_async_t *async)
{
    journey_host *host = async->data;

    /* The store's writer ended a group: finish its callbacks, and commit
     * what the loop did meanwhile. */
    if (host->in_flight_count > 0 && host->lh != NULL)
        jy_lib_commit_async(host);

    /* Events queued before journey_start wait for it; it drains them. */
    if (!host->started)
        return;

    pthread_mutex_lock(&host->queue_lock);
    queued_event *q = host->queue_head;
    host->queue_head = host->queue_tail = NULL;
    pthread_mutex_unlock(&host->queue_lock);

    while (q != NULL) {
        queued_event *next = q->next;
        int rc = journey_ingest(host, q->json, q->len, q->done, q->ctx);
        /* A refused event never reaches the commit; its caller hears now. */
        if (rc != JOURNEY_OK && q->done != NULL)
            q->done(q->ctx, rc, 0);
        free(q);
        q = next;
    }
}


static void call_action(void *ctx, jy_host *core, uint64_t run_id, uint64_t token,
                        const char *name, const char *args_json)
{
    (void)core;
    action_entry *entry = ctx;

    /* A reload replays a run waiting in j.call up to the call again. The
     * handler has the call already, so the open call moves to the new
     * run instead of reaching the handler a second time. */
    if (entry->host->adopting_calls) {
        for (journey_call *open = entry->host->open_calls; open != NULL; open = open->next)
            if (open->run_id == run_id && strcmp(open->name, name) == 0) {
                open->token = token;
                return;
            }
    }

    journey_call *call = malloc(sizeof *call + strlen(name) + 1);
    if (call == NULL) {
        jy_lua_complete_call(entry->host->lh, run_id, token, NULL,
                             "out of memory calling the action");
        return;
    }
    call->host = entry->host;
    call->run_id = run_id;
    call->token = token;
    strcpy(call->name, name);
    call->prev = NULL;
    call->next = entry->host->open_calls;
    if (call->next != NULL)
        call->next->prev = call;
    entry->host->open_calls = call;
    entry->fn(entry->ctx, call, args_json);
}


int journey_register_action(journey_host *host, const char *name, journey_action_fn fn,
                            void *ctx)
{
    if (name == NULL || name[0] == '\0' || fn == NULL)
        return fail(host, JOURNEY_EINVAL, "an action needs a name and a handler");
    ON_LOOP_THREAD(host);
    action_entry *entry = calloc(1, sizeof *entry + strlen(name) + 1);
    if (entry == NULL)
        return fail(host, JOURNEY_ENOMEM, "out of memory registering action %s", name);
    strcpy(entry->name, name);
    entry->host = host;
    entry->fn = fn;
    entry->ctx = ctx;

    int rc = jy_lua_register_action(host->lh, name, call_action, entry);
    if (rc != 0) {
        free(entry);
        return fail(host, rc, rc == JY_EEXIST ? "an action named %s is registered already"
                                              : "out of memory registering action %s", name);
    }
    entry->next = host->actions;
    host->actions = entry;
    return JOURNEY_OK;
}


uint64_t journey_call_run_id(const journey_call *call)
{
    return call->run_id;
}


const char *journey_call_name(const journey_call *call)
{
    return call->name;
}


static void forget_call(journey_call *call)
{
    if (call->host != NULL) {
        if (call->prev != NULL)
            call->prev->next = call->next;
        else
            call->host->open_calls = call->next;
        if (call->next != NULL)
            call->next->prev = call->prev;
    }
    free(call);
}


int journey_call_done(journey_call *call, const char *value_json, const char *error)
{
    journey_host *host = call->host;
    if (host == NULL || host->closing || host->lh == NULL) {
        /* The host closed while the call was open; the call is freed, and
         * the run replays it after the next start. */
        forget_call(call);
        return JOURNEY_ESTATE;
    }
    ON_LOOP_THREAD(host);
    int rc = jy_lua_complete_call(host->lh, call->run_id, call->token, value_json, error);
    if (rc == JY_EINVAL)
        return fail(host, JOURNEY_EINVAL, "the value of action %s is not JSON", call->name);
    forget_call(call);
    if (rc != 0)
        return fail(host, JOURNEY_ESTATE, "the call ended before its result (timed out, or "
                                          "the run is gone)");
    host->dirty = 1;
    /* The run resumes at its new deadline, now: re-arm the timer and keep
     * the next poll from blocking, also in a foreign loop. Inside the
     * host's own work the check phase arms it instead, because libuv 1.44
     * runs a timer restarted from its own callback again in the same
     * pass, which would fire every slice of a backlog in one turn. */
    if (host->busy == 0)
        jy_lib_arm_timer(host);
    jy_lib_commit_soon(host);
    return JOURNEY_OK;
}


int journey_run_json(journey_host *host, uint64_t run_id, char **json)
{
    ON_LOOP_THREAD(host);
    *json = NULL;
    jy_run *run = jy_host_run(host->lh->host, run_id);
    if (run == NULL)
        return fail(host, JOURNEY_ENOTFOUND, "run %llu is not live in this host",
                    (unsigned long long)run_id);

    jy_buf buf;
    jy_buf_init(&buf);
    jy_buf_printf(&buf, "{\"id\":%llu,\"journey\":", (unsigned long long)run->id);
    jy_buf_append_json_string(&buf, run->journey->name);
    jy_buf_append_str(&buf, ",\"user\":");
    jy_buf_append_json_string(&buf, run->user);
    jy_buf_append_str(&buf, ",\"status\":");
    jy_buf_append_json_string(&buf, jy_run_status_name(run->status));
    jy_buf_printf(&buf, ",\"steps\":%u", run->journal_len);
    if (run->parked) {
        jy_buf_append_str(&buf, ",\"parked\":");
        jy_buf_append_json_string(&buf, run->divergence != NULL ? run->divergence
                                                                : "its replay failed");
    }
    if (jy_timer_is_queued(&run->timer))
        jy_buf_printf(&buf, ",\"deadline_ms\":%lld", (long long)run->timer.deadline);
    if (run->wait_name_count > 0) {
        jy_buf_append_str(&buf, ",\"waiting_for\":[");
        for (size_t i = 0; i < run->wait_name_count; i++) {
            if (i > 0)
                jy_buf_append_str(&buf, ",");
            jy_buf_append_json_string(&buf, run->wait_names[i]);
        }
        jy_buf_append_str(&buf, "]");
    }
    jy_buf_append_str(&buf, "}");
    *json = jy_buf_take(&buf);
    return *json != NULL ? JOURNEY_OK : fail(host, JOURNEY_ENOMEM, "out of memory");
}


uint64_t journey_live_runs(const journey_host *host)
{
    return host->lh->host->stats.runs_live;
}


uint64_t journey_durable_seq(const journey_host *host)
{
    if (host == NULL || !host->async_commits)
        return 0;
    return jy_store_sqlite_durable_seq(host->store);
}


size_t journey_collect_garbage(journey_host *host)
{
    ON_LOOP_THREAD(host);
    lua_gc(host->L, LUA_GCCOLLECT);
    return (size_t)lua_gc(host->L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(host->L, LUA_GCCOUNTB);
}


int journey_backend_fd(journey_host *host)
{
    return uv_backend_fd(host->loop);
}


int journey_backend_timeout(journey_host *host)
{
    return uv_backend_timeout(host->loop);
}


int journey_run_once(journey_host *host)
{
    return uv_run(host->loop, UV_RUN_NOWAIT);
}


/* Tells the callers of events queued by other threads and not ingested
 * that the host is closing. */
static void reject_queued(journey_host *host)
{
    pthread_mutex_lock(&host->queue_lock);
    queued_event *q = host->queue_head;
    host->queue_head = host->queue_tail = NULL;
    pthread_mutex_unlock(&host->queue_lock);
    while (q != NULL) {
        queued_event *next = q->next;
        if (q->done != NULL)
            q->done(q->ctx, JOURNEY_ESTATE, 0);
        free(q);
        q = next;
    }
}


static void free_host(journey_host *host)
{
    while (host->actions != NULL) {
        action_entry *next = host->actions->next;
        free(host->actions);
        host->actions = next;
    }
    void (*closed)(void *) = host->closed;
    void *closed_ctx = host->closed_ctx;

    reject_queued(host);
    pthread_mutex_destroy(&host->queue_lock);
    free(host);
    if (closed != NULL)
        closed(closed_ctx);
}


static void on_handle_closed(uv_handle_t *handle)
{
    journey_host *host = handle->data;
    if (--host->open_handles > 0)
        return;
    if (!host->owns_loop)
        free_host(host);
}


void journey_host_close(journey_host *host, void (*closed)(void *ctx), void *ctx)
{
    if (host == NULL || host->closing)
        return;
    ON_LOOP_THREAD(host);
    host->closing = 1;
    host->closed = closed;
    host->closed_ctx = ctx;

    /* Calls still open stay valid until their handlers complete them. */
    for (journey_call *call = host->open_calls; call != NULL; call = call->next)
        call->host = NULL;
    host->open_calls = NULL;

    /* The last turn's events become durable before the store closes. */
    if (host->started)
        jy_lib_commit(host);
    finish_ingests(host, JOURNEY_ESTATE);
    reject_queued(host);
    if (host->async_commits)
        jy_store_sqlite_set_notify(host->store, NULL, NULL);
    jy_lua_host_free(host->lh);
    host->lh = NULL;
    jy_lua_close_state(host->L);
    host->L = NULL;
    host->store->ops->destroy(host->store);
    host->store = NULL;
    for (size_t i = 0; i < host->script_count; i++)
        free(host->scripts[i]);
    free(host->scripts);
    host->scripts = NULL;

    uv_close((uv_handle_t *)&host->commit_check, on_handle_closed);
    uv_close((uv_handle_t *)&host->commit_soon, on_handle_closed);
    uv_close((uv_handle_t *)&host->deadline_timer, on_handle_closed);
    uv_close((uv_handle_t *)&host->async, on_handle_closed);

    if (host->owns_loop) {
        uv_run(&host->own_loop, UV_RUN_DEFAULT);
        uv_loop_close(&host->own_loop);
        free_host(host);
    }
}
