/*
 * libjourney: the public API of journey.h over the host core and its
 * Lua runtime.
 *
 * The host keeps one loop timer for its earliest deadline and a check
 * handle that runs after every loop turn: it commits what the turn did
 * and then calls the callbacks of the events that commit made durable.
 */
#include "journey.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_host.h"
#include "store_sqlite.h"

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


/* Every function but the thread-safe ones belongs to the thread that
 * created the host, which runs its loop; debug builds check it. */
#define ON_LOOP_THREAD(host) assert(pthread_equal(pthread_self(), (host)->loop_thread))

typedef struct action_entry {
    struct action_entry *next;
    journey_host *host;
    journey_action_fn fn;
    void *ctx;
    char name[];
} action_entry;

struct journey_call {
    struct journey_call *prev; /* the host's open calls */
    struct journey_call *next;
    journey_host *host;        /* NULL once the host closed */
    uint64_t run_id;
    uint64_t token;
    char name[];
};

typedef struct ingest_done {
    struct ingest_done *next;
    journey_ingest_cb done;
    void *ctx;
    int status;
    uint64_t seq;
} ingest_done;

typedef struct queued_event {
    struct queued_event *next;
    journey_ingest_cb done;
    void *ctx;
    size_t len;
    char json[];
} queued_event;

struct journey_host {
    uv_loop_t *loop;
    uv_loop_t own_loop;
    int owns_loop;

    lua_State *L;
    jy_lua_host *lh;
    jy_store *store;       /* owned; outlives reloads */
    char **scripts;        /* the paths given to journey_load, for reloads */
    size_t script_count;
    uint64_t instruction_budget;
    size_t memory_cap;
    uint32_t max_journal;
    pthread_t loop_thread; /* debug builds check the caller against it */

    uv_check_t commit_check;
    uv_idle_t commit_soon; /* keeps the loop from blocking before a commit */
    uv_timer_t deadline_timer;
    uv_async_t async;
    int open_handles;
    int started;
    int closing;
    void (*closed)(void *ctx);
    void *closed_ctx;

    ingest_done *done_head; /* waiting for the next commit */
    ingest_done *done_tail;

    pthread_mutex_t queue_lock; /* guards queue_* for other threads */
    queued_event *queue_head;
    queued_event *queue_tail;

    action_entry *actions; /* owned */
    journey_call *open_calls; /* handed to handlers, not completed yet */

    journey_log_fn log;
    void *log_ctx;
    char error[1024];
};


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


static int fail(journey_host *host, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(journey_host *host, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(host->error, sizeof host->error, fmt, ap);
    va_end(ap);
    return status;
}


static void forward_log(void *ctx, jy_log_level level, uint64_t run_id, const char *journey,
                        const char *message)
{
    journey_host *host = ctx;
    if (host->log != NULL)
        host->log(host->log_ctx, (int)level, run_id, journey, message);
}


/* Calls, in order, the callbacks of the events the last commit covered,
 * or reports to them that the commit failed. */
static void finish_ingests(journey_host *host, int status)
{
    while (host->done_head != NULL) {
        ingest_done *d = host->done_head;
        host->done_head = d->next;
        if (host->done_head == NULL)
            host->done_tail = NULL;
        if (d->done != NULL)
            d->done(d->ctx, status == JOURNEY_OK ? d->status : status,
                    status == JOURNEY_OK ? d->seq : 0);
        free(d);
    }
}


static int commit(journey_host *host)
{
    jy_error err;
    jy_error_clear(&err);
    int rc = host->lh->store->ops->commit(host->lh->store, &err);
    if (rc != 0) {
        fail(host, JOURNEY_EIO, "%s", err.message);
        forward_log(host, JY_LOG_ERROR, 0, NULL, err.message);
    }
    finish_ingests(host, rc == 0 ? JOURNEY_OK : JOURNEY_EIO);
    return rc;
}


static void on_idle(uv_idle_t *idle)
{
    (void)idle;
}


/* Work done outside the loop's I/O phase (a timer, the caller's own
 * code) is committed by the check handle, which runs only after the
 * loop polled. An active idle handle makes that poll return at once. */
static void commit_soon(journey_host *host)
{
    uv_idle_start(&host->commit_soon, on_idle);
}


static void on_deadline(uv_timer_t *timer)
{
    journey_host *host = timer->data;
    jy_host_advance_to(host->lh->host, jy_host_now(host->lh->host));
    commit_soon(host);
}


static void arm_timer(journey_host *host)
{
    jy_time next = jy_host_next_deadline(host->lh->host);
    if (next == JY_TIME_MAX) {
        uv_timer_stop(&host->deadline_timer);
        return;
    }
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
    commit(host);
    arm_timer(host);
}


static void drain_queue(uv_async_t *async);
static void call_action(void *ctx, jy_host *core, uint64_t run_id, uint64_t token,
                        const char *name, const char *args_json);


/* Creates a Lua state and a host over the host's store, with the
 * configured limits and every registered action, but no scripts. */
static int new_generation(journey_host *host, lua_State **out_L, jy_lua_host **out_lh)
{
    lua_State *L = jy_lua_new_state(host->memory_cap);
    if (L == NULL)
        return JOURNEY_ENOMEM;
    luaL_openlibs(L);
    luaL_requiref(L, "journey", luaopen_journey, 0);
    lua_pop(L, 1);

    jy_lua_host *lh = jy_lua_host_new(L, 0, 0, host->store);
    if (lh == NULL) {
        jy_lua_close_state(L);
        return JOURNEY_ENOMEM;
    }
    lh->owns_store = 0;
    if (host->instruction_budget != 0)
        lh->instruction_budget = host->instruction_budget;
    if (host->max_journal != 0)
        lh->host->max_journal = host->max_journal;
    lh->host->keep_ended_runs = 0;
    jy_host_set_log(lh->host, forward_log, host);

    for (action_entry *a = host->actions; a != NULL; a = a->next)
        if (jy_lua_register_action(lh, a->name, call_action, a) != 0) {
            jy_lua_host_free(lh);
            jy_lua_close_state(L);
            return JOURNEY_ENOMEM;
        }
    *out_L = L;
    *out_lh = lh;
    return JOURNEY_OK;
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
    pthread_mutex_init(&host->queue_lock, NULL);

    const char *store_spec = config->store != NULL ? config->store : "memory";
    jy_error err;
    jy_error_clear(&err);
    jy_store *store = NULL;
    if (config->store_backend != NULL)
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
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "%s", err.message[0] ? err.message : "out of memory");
        pthread_mutex_destroy(&host->queue_lock);
        free(host);
        return err.code != 0 ? err.code : JOURNEY_ENOMEM;
    }

    host->store = store;
    host->loop_thread = pthread_self();
    host->memory_cap = config->memory_cap != 0 ? config->memory_cap : JY_DEFAULT_MEMORY_CAP;
    host->instruction_budget = config->instruction_budget;
    host->max_journal = config->max_journal;
    if (new_generation(host, &host->L, &host->lh) != 0) {
        store->ops->destroy(store);
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "out of memory creating the host");
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
    /* Until journey_start, nothing keeps the caller's loop alive. */
    uv_unref((uv_handle_t *)&host->async);

    *out = host;
    return JOURNEY_OK;
}


int journey_load(journey_host *host, const char *path)
{
    ON_LOOP_THREAD(host);
    jy_error err;
    jy_error_clear(&err);
    if (path == NULL)
        return fail(host, JOURNEY_EINVAL, "journey_load needs the path of a script");
    if (host->closing || host->started)
        return fail(host, JOURNEY_ESTATE, "%s", host->closing
                        ? "the host is closing"
                        : "the host is started; load scripts before journey_start, and "
                          "call journey_reload after editing them");
    if (jy_lua_host_load(host->lh, path, &err) != 0)
        return fail(host, JOURNEY_EINVAL, "%s", err.message);

    char **grown = realloc(host->scripts, (host->script_count + 1) * sizeof *grown);
    char *copy = strdup(path);
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            host->scripts = grown;
        return fail(host, JOURNEY_ENOMEM, "out of memory remembering %s", path);
    }
    grown[host->script_count++] = copy;
    host->scripts = grown;
    return JOURNEY_OK;
}


int journey_reload(journey_host *host)
{
    ON_LOOP_THREAD(host);
    if (!host->started || host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is %s; reload after journey_start",
                    host->closing ? "closing" : "not started");

    /* The new scripts load into a state of their own; the old ones stay
     * in force when one of them fails. */
    lua_State *L = NULL;
    jy_lua_host *lh = NULL;
    if (new_generation(host, &L, &lh) != 0)
        return fail(host, JOURNEY_ENOMEM, "out of memory reloading");
    jy_error err;
    jy_error_clear(&err);
    for (size_t i = 0; i < host->script_count; i++) {
        if (jy_lua_host_load(lh, host->scripts[i], &err) != 0) {
            jy_lua_host_free(lh);
            jy_lua_close_state(L);
            return fail(host, JOURNEY_EINVAL, "reload failed, the previous scripts stay in "
                                              "force: %s", err.message);
        }
    }

    /* Commit what the old scripts did, then move the live runs to the
     * new ones by replay. */
    commit(host);
    jy_lua_host_free(host->lh);
    jy_lua_close_state(host->L);
    host->L = L;
    host->lh = lh;
    jy_host_recovery report;
    if (jy_host_recover(lh->host, &report, &err) != 0)
        return fail(host, err.code, "%s", err.message);
    jy_host_advance_to(lh->host, jy_host_now(lh->host));
    commit_soon(host);
    if (report.failed > 0)
        return fail(host, JOURNEY_EDIVERGED, "reloaded; %llu live runs diverged from the new "
                                             "scripts and were parked as failed",
                    (unsigned long long)report.failed);
    return JOURNEY_OK;
}


int journey_start(journey_host *host)
{
    ON_LOOP_THREAD(host);
    if (host->started || host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is %s", host->closing ? "closing"
                                                                          : "already started");
    jy_host_recovery report;
    jy_error err;
    jy_error_clear(&err);
    if (jy_host_recover(host->lh->host, &report, &err) != 0)
        return fail(host, err.code, "%s", err.message);
    jy_host_advance_to(host->lh->host, jy_host_now(host->lh->host));

    host->started = 1;
    commit_soon(host);
    uv_ref((uv_handle_t *)&host->async);
    uv_check_start(&host->commit_check, on_check);
    if (commit(host) != 0)
        return JOURNEY_EIO;
    arm_timer(host);
    return JOURNEY_OK;
}


int journey_ingest(journey_host *host, const char *json, size_t len, journey_ingest_cb done,
                   void *ctx)
{
    ON_LOOP_THREAD(host);
    if (!host->started || host->closing)
        return fail(host, JOURNEY_ESTATE, "the host is %s; call journey_start first",
                    host->closing ? "closing" : "not started");

    jy_error err;
    jy_error_clear(&err);
    jy_event *event = jy_lua_parse_event(host->lh, json, len, 0, jy_host_now(host->lh->host),
                                         &err);
    if (event == NULL)
        return fail(host, JOURNEY_EINVAL, "invalid event: %s", err.message);

    ingest_done *d = calloc(1, sizeof *d);
    if (d == NULL) {
        jy_event_free(event);
        return fail(host, JOURNEY_ENOMEM, "out of memory ingesting an event");
    }
    int rc = jy_host_ingest(host->lh->host, event, &err);
    if (rc != 0 && rc != JY_EEXIST) {
        free(d);
        return fail(host, rc, "%s", err.message);
    }
    d->done = done;
    d->ctx = ctx;
    d->status = rc == 0 ? JOURNEY_OK : JOURNEY_EEXIST;
    d->seq = rc == 0 ? event->seq : 0;

    /* The callback waits for the commit at the end of this loop turn. */
    if (host->done_tail != NULL)
        host->done_tail->next = d;
    else
        host->done_head = d;
    host->done_tail = d;
    commit_soon(host);
    return JOURNEY_OK;
}


int journey_ingest_threadsafe(journey_host *host, const char *json, size_t len,
                              journey_ingest_cb done, void *ctx)
{
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
    /* The run resumes at its new deadline, now: re-arm the timer and keep
     * the next poll from blocking, also in a foreign loop. */
    arm_timer(host);
    commit_soon(host);
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


static void free_host(journey_host *host)
{
    while (host->actions != NULL) {
        action_entry *next = host->actions->next;
        free(host->actions);
        host->actions = next;
    }
    void (*closed)(void *) = host->closed;
    void *closed_ctx = host->closed_ctx;

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
        commit(host);
    finish_ingests(host, JOURNEY_ESTATE);
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
