/*
 * libjourney through its public header only: a host on the caller's
 * libuv loop, a C action handler that completes later, ingest callbacks
 * after the commit, ingest from another thread, bad input, a clean
 * close that leaves the loop with no handles, and SQLite acknowledgements
 * that come only once the writer thread has committed the event.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"

static const char script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'enrich', on = 'app/signed_up', key = false, run = function(j, e)\n"
    "  local profile = j.call('lookup', {user = j.user})\n"
    "  j.call('record', {user = j.user, tier = profile.tier})\n"
    "  return {result = profile.tier}\n"
    "end }\n";

typedef struct pending_lookup {
    uv_timer_t timer;
    journey_call *call;
} pending_lookup;

static int lookups;
static int records;
static char last_record[256];
static int ingests_ok;
static int ingests_other;
static int closed_calls;


static void on_lookup_timer(uv_timer_t *timer)
{
    pending_lookup *p = timer->data;
    CHECK_INT_EQ(journey_call_done(p->call, "{\"tier\":\"gold\"}", NULL), JOURNEY_OK);
    uv_close((uv_handle_t *)timer, (uv_close_cb)free);
}


/* Completes the call 10 ms later, as a handler doing I/O on the loop would. */
static void lookup(void *ctx, journey_call *call, const char *args_json)
{
    uv_loop_t *loop = ctx;
    lookups++;
    CHECK_CONTAINS(args_json, "\"user\":");
    CHECK_STR_EQ(journey_call_name(call), "lookup");
    CHECK(journey_call_run_id(call) > 0);
    pending_lookup *p = calloc(1, sizeof *p);
    p->call = call;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_lookup_timer, 10, 0);
}


/* Completes the call at once. */
static void record(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    records++;
    snprintf(last_record, sizeof last_record, "%s", args_json);
    CHECK_INT_EQ(journey_call_done(call, NULL, NULL), JOURNEY_OK);
}


static void on_ingested(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    if (status == JOURNEY_OK && seq > 0)
        ingests_ok++;
    else
        ingests_other++;
}


static journey_call *held_call;


/* Keeps the call, to complete it from outside the loop's callbacks. */
static void hold(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    held_call = call;
}


/* A host on its own loop, driven the way a foreign loop drives it: an
 * answer given between two journey_run_once calls resumes the run at
 * the next one, and a call still held when the host closes can still be
 * answered, which frees it. */
static void foreign_loop_answers_calls(const char *path)
{
    journey_config config;
    journey_config_init(&config);
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, path), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, NULL), JOURNEY_EINVAL);
    CHECK_INT_EQ(journey_register_action(host, "lookup", hold, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "record", record, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, path), JOURNEY_ESTATE);

    const char *line = "{\"user\":\"f1\",\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
    journey_run_once(host);
    CHECK(held_call != NULL);
    CHECK(journey_backend_fd(host) >= 0);

    CHECK_INT_EQ(journey_call_done(held_call, "{\"tier\":\"silver\"}", NULL), JOURNEY_OK);
    held_call = NULL;
    CHECK_INT_EQ(journey_backend_timeout(host), 0);
    for (int i = 0; i < 5 && journey_live_runs(host) > 0; i++)
        journey_run_once(host);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_CONTAINS(last_record, "\"tier\":\"silver\"");

    /* A second run keeps its call open while the host closes. */
    const char *other = "{\"user\":\"f2\",\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_ingest(host, other, strlen(other), NULL, NULL), JOURNEY_OK);
    journey_run_once(host);
    CHECK(held_call != NULL);
    journey_host_close(host, NULL, NULL);
    CHECK_INT_EQ(journey_call_done(held_call, "{}", NULL), JOURNEY_ESTATE);
    held_call = NULL;
}


static void on_closed(void *ctx)
{
    (void)ctx;
    closed_calls++;
}


typedef struct sender {
    journey_host *host;
    int count;
} sender;


static void *send_from_thread(void *arg)
{
    sender *s = arg;
    for (int i = 0; i < s->count; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "{\"user\":\"t%d\",\"name\":\"app/other\"}", i);
        journey_ingest_threadsafe(s->host, line, (size_t)n, on_ingested, NULL);
    }
    return NULL;
}


static void on_watchdog(uv_timer_t *timer)
{
    fprintf(stderr, "test_libjourney: timed out\n");
    uv_stop(timer->loop);
}


static void walk_close(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}


static const char stopper_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'guarded', on = 'app/started', cancel_on = 'app/stop',\n"
    "  run = function(j)\n"
    "    j.call('stop_myself')\n"
    "    j.emit('app/after_stop', {})\n"
    "  end }\n";

static journey_host *stopper_host;
static int stopper_answers;


/* Ingests the event that cancels the run whose action this is, then
 * completes the call at once when stopper_answers is set. */
static void stop_myself(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    const char *stop = "{\"user\":\"s1\",\"name\":\"app/stop\"}";
    CHECK_INT_EQ(journey_ingest(stopper_host, stop, strlen(stop), NULL, NULL), JOURNEY_OK);
    if (stopper_answers)
        CHECK_INT_EQ(journey_call_done(call, NULL, NULL), JOURNEY_OK);
    else
        held_call = call;
}


/* A handler that ingests the event cancelling its own run: the run is
 * cancelled once its coroutine stops, not freed while it runs. */
static void handler_cancels_its_own_run(const char *path)
{
    for (stopper_answers = 0; stopper_answers <= 1; stopper_answers++) {
        journey_config config;
        journey_config_init(&config);
        char error[256];
        stopper_host = NULL;
        CHECK_INT_EQ(journey_host_new(&config, &stopper_host, error, sizeof error), JOURNEY_OK);
        CHECK_INT_EQ(journey_load(stopper_host, path), JOURNEY_OK);
        CHECK_INT_EQ(journey_register_action(stopper_host, "stop_myself", stop_myself, NULL),
                     JOURNEY_OK);
        CHECK_INT_EQ(journey_start(stopper_host), JOURNEY_OK);

        const char *start = "{\"user\":\"s1\",\"name\":\"app/started\"}";
        CHECK_INT_EQ(journey_ingest(stopper_host, start, strlen(start), NULL, NULL), JOURNEY_OK);
        journey_run_once(stopper_host);

        /* With the call completed at once, the run goes on and ends
         * before it would next stop, so the cancel finds it ended. */
        journey_stats stats;
        journey_get_stats(stopper_host, &stats);
        CHECK_INT_EQ(stats.runs_cancelled, stopper_answers ? 0 : 1);
        CHECK_INT_EQ(stats.runs_completed, stopper_answers ? 1 : 0);
        CHECK_INT_EQ(stats.runs_live, 0);
        CHECK_INT_EQ(stats.events_emitted, stopper_answers ? 1 : 0);
        if (held_call != NULL) {
            CHECK_INT_EQ(journey_call_done(held_call, NULL, NULL), JOURNEY_ESTATE);
            held_call = NULL;
        }
        journey_host_close(stopper_host, NULL, NULL);
    }
}


typedef struct durable_check {
    sqlite3 *reader;       /* a connection of its own to the store file */
    sqlite3_stmt *find;
    int acked;
    int found;             /* acknowledged events already in the file */
    uint64_t last_seq;
    int in_order;
} durable_check;


/* An acknowledged event must be committed, so another connection to the
 * file finds it when the callback fires. */
static void on_durable(void *ctx, int status, uint64_t seq)
{
    durable_check *c = ctx;
    CHECK_INT_EQ(status, JOURNEY_OK);
    c->acked++;
    if (seq <= c->last_seq)
        c->in_order = 0;
    c->last_seq = seq;
    sqlite3_bind_int64(c->find, 1, (sqlite3_int64)seq);
    if (sqlite3_step(c->find) == SQLITE_ROW && sqlite3_column_int(c->find, 0) == 1)
        c->found++;
    sqlite3_reset(c->find);
}


/* Makes the directory dir (a mkdtemp template) and names a SQLite store
 * in it: its path and its store spec. */
static void new_store_dir(char *dir, char *db_path, size_t path_size, char *spec,
                          size_t spec_size)
{
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db_path, path_size, "%s/store.db", dir);
    snprintf(spec, spec_size, "sqlite:%s", db_path);
}


/* A SQLite host on the real clock commits on the store's writer thread
 * while the loop goes on ingesting. Feeds 3,000 events in turns of 300,
 * as a busy server would, and checks every acknowledgement against the
 * file. */
static void acks_follow_the_file(const char *script_path)
{
    char dir[] = "/tmp/journey-lib-store-XXXXXX";
    char db_path[256], spec[300];
    new_store_dir(dir, db_path, sizeof db_path, spec, sizeof spec);

    uv_loop_t loop;
    uv_loop_init(&loop);
    journey_config config;
    journey_config_init(&config);
    config.loop = &loop;
    config.store = spec;
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    durable_check c = {.in_order = 1};
    CHECK_INT_EQ(sqlite3_open_v2(db_path, &c.reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_prepare_v2(c.reader, "SELECT count(*) FROM events WHERE seq = ?", -1,
                                    &c.find, NULL), SQLITE_OK);

    int sent = 0;
    for (int turn = 0; turn < 10; turn++) {
        for (int i = 0; i < 300; i++, sent++) {
            char line[128];
            int n = snprintf(line, sizeof line, "{\"user\":\"d%d\",\"name\":\"app/other\"}", sent);
            CHECK_INT_EQ(journey_ingest(host, line, (size_t)n, on_durable, &c), JOURNEY_OK);
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    for (int i = 0; i < 2000 && c.acked < sent; i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK_INT_EQ(c.acked, sent);
    CHECK_INT_EQ(c.found, sent);
    CHECK(c.in_order);

    journey_stats stats;
    journey_get_stats(host, &stats);
    CHECK(stats.commits >= 2);

    sqlite3_finalize(c.find);
    sqlite3_close(c.reader);
    journey_host_close(host, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);

    char cleanup[400];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cleanup), 0);
}


static const char noting_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'noting', on = 'app/order', run = function(j)\n"
    "  j.call('note')\n"
    "end }\n";

static journey_host *noting_host;
static uint64_t acked_seqs[4];
static int acked_count;


static void on_ordered_ack(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    CHECK_INT_EQ(status, JOURNEY_OK);
    if (acked_count < 4)
        acked_seqs[acked_count++] = seq;
}


/* Ingests an event of its own from inside the dispatch of the trigger. */
static void note(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    const char *line = "{\"user\":\"n\",\"name\":\"app/noted\",\"ts\":1700000000000}";
    CHECK_INT_EQ(journey_ingest(noting_host, line, strlen(line), on_ordered_ack, NULL),
                 JOURNEY_OK);
    CHECK_INT_EQ(journey_call_done(call, NULL, NULL), JOURNEY_OK);
}


/* Acknowledgements come in the order of the events' seqs, also for an
 * event that an action handler ingests while its trigger dispatches. */
static void acks_in_seq_order(const char *dir_path)
{
    char script_path[256];
    snprintf(script_path, sizeof script_path, "%s.noting.lua", dir_path);
    FILE *file = fopen(script_path, "w");
    CHECK(file != NULL);
    if (file == NULL)
        return;
    fputs(noting_script, file);
    fclose(file);

    journey_config config;
    journey_config_init(&config);
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &noting_host, error, sizeof error), JOURNEY_OK);
    if (noting_host == NULL)
        return;
    CHECK_INT_EQ(journey_load(noting_host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(noting_host, "note", note, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(noting_host), JOURNEY_OK);

    const char *order = "{\"user\":\"n\",\"name\":\"app/order\",\"ts\":1700000000000}";
    CHECK_INT_EQ(journey_ingest(noting_host, order, strlen(order), on_ordered_ack, NULL),
                 JOURNEY_OK);
    CHECK_INT_EQ(journey_commit(noting_host), JOURNEY_OK);
    CHECK_INT_EQ(acked_count, 2);
    CHECK_INT_EQ(acked_seqs[0], 1);
    CHECK_INT_EQ(acked_seqs[1], 2);
    journey_host_close(noting_host, NULL, NULL);
    remove(script_path);
}


typedef struct writer_case {
    journey_host *host;
    sqlite3 *reader;
    int failures_reported;
    int acks_ok;
    int acks_failed;
    int second_ok;          /* acks of the event a callback ingested */
    int second_in_file;     /* of those, found in the file at ack time */
    int ingest_in_callback;
} writer_case;


static void on_writer_failure(void *ctx, const char *message)
{
    writer_case *c = ctx;
    (void)message;
    c->failures_reported++;
}


static int seq_in_file(sqlite3 *reader, uint64_t seq)
{
    sqlite3_stmt *stmt = NULL;
    sqlite3_prepare_v2(reader, "SELECT count(*) FROM events WHERE seq = ?", -1, &stmt, NULL);
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)seq);
    int found = stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1;
    sqlite3_finalize(stmt);
    return found;
}


static void on_second_ack(void *ctx, int status, uint64_t seq)
{
    writer_case *c = ctx;
    if (status == JOURNEY_OK) {
        c->second_ok++;
        c->second_in_file += seq_in_file(c->reader, seq);
    }
}


/* Acknowledges the first event, and ingests a second one from inside
 * the callback when asked to. */
static void on_writer_ack(void *ctx, int status, uint64_t seq)
{
    writer_case *c = ctx;
    (void)seq;
    if (status == JOURNEY_OK)
        c->acks_ok++;
    else
        c->acks_failed++;
    if (status == JOURNEY_OK && c->ingest_in_callback) {
        c->ingest_in_callback = 0;
        const char *line = "{\"user\":\"w\",\"name\":\"app/second\"}";
        CHECK_INT_EQ(journey_ingest(c->host, line, strlen(line), on_second_ack, c), JOURNEY_OK);
    }
}


static journey_host *open_real_sqlite(uv_loop_t *loop, const char *spec, writer_case *c)
{
    journey_config config;
    journey_config_init(&config);
    config.loop = loop;
    config.store = spec;
    config.store_failed = on_writer_failure;
    config.store_failed_ctx = c;
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    if (host != NULL)
        CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    return host;
}


/* Three cases of the SQLite writer on the real clock. An event that an
 * acknowledgement callback ingests waits for its own commit. A prune
 * that deletes nothing still ends its transaction. A commit that fails
 * while another group commits reports the failure once. */
static void writer_edge_cases(void)
{
    char dir[] = "/tmp/journey-lib-store-XXXXXX";
    char db_path[256], spec[300];
    new_store_dir(dir, db_path, sizeof db_path, spec, sizeof spec);

    uv_loop_t loop;
    uv_loop_init(&loop);
    writer_case c = {0};
    c.host = open_real_sqlite(&loop, spec, &c);
    if (c.host == NULL)
        return;
    CHECK_INT_EQ(sqlite3_open_v2(db_path, &c.reader, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(c.reader, 0);

    /* The callback of the first event ingests a second: journey_commit
     * covers the first alone, and the second is acknowledged only once
     * the file has it. */
    c.ingest_in_callback = 1;
    const char *first = "{\"user\":\"w\",\"name\":\"app/first\"}";
    CHECK_INT_EQ(journey_ingest(c.host, first, strlen(first), on_writer_ack, &c), JOURNEY_OK);
    CHECK_INT_EQ(journey_commit(c.host), JOURNEY_OK);
    CHECK_INT_EQ(c.acks_ok, 1);
    CHECK_INT_EQ(c.second_ok, 0);
    CHECK_INT_EQ(journey_commit(c.host), JOURNEY_OK);
    CHECK_INT_EQ(c.second_ok, 1);
    CHECK_INT_EQ(c.second_in_file, 1);

    /* A prune with nothing to delete still writes, and its group must
     * end, or the host holds the write lock. */
    uint64_t runs = 0, events = 0;
    CHECK_INT_EQ(journey_prune(c.host, 1000, &runs, &events), JOURNEY_OK);
    for (int i = 0; i < 20; i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&pause, NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    int rc = sqlite3_exec(c.reader, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    CHECK_INT_EQ(rc, SQLITE_OK);

    /* With the lock held here, the writer's next transaction cannot
     * begin (after SQLite's 5 s busy timeout). A group starts committing
     * on the loop, then journey_commit waits for it: one failure, and
     * the event's callback hears of it once. */
    const char *third = "{\"user\":\"w\",\"name\":\"app/third\"}";
    CHECK_INT_EQ(journey_ingest(c.host, third, strlen(third), on_writer_ack, &c), JOURNEY_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(journey_commit(c.host), JOURNEY_EIO);
    CHECK_INT_EQ(c.failures_reported, 1);
    CHECK_INT_EQ(c.acks_failed, 1);
    CHECK_INT_EQ(journey_commit(c.host), JOURNEY_EIO);
    CHECK_INT_EQ(c.failures_reported, 1);
    if (rc == SQLITE_OK)
        sqlite3_exec(c.reader, "ROLLBACK", NULL, NULL, NULL);

    sqlite3_close(c.reader);
    journey_host_close(c.host, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    CHECK_INT_EQ(c.failures_reported, 1);

    char cleanup[400];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cleanup), 0);
}


typedef struct early_acks {
    int ok;
    int closing;
} early_acks;


static void on_early_ack(void *ctx, int status, uint64_t seq)
{
    early_acks *acks = ctx;
    (void)seq;
    if (status == JOURNEY_OK)
        acks->ok++;
    else if (status == JOURNEY_ESTATE)
        acks->closing++;
}


static void on_idle_timer(uv_timer_t *timer)
{
    (void)timer;
}


/* Events queued from another thread before journey_start wait for it,
 * even when the loop turns before the start. Events still queued when
 * the host closes get JOURNEY_ESTATE inside journey_host_close. */
static void early_threadsafe_events(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t busy;
    uv_timer_init(&loop, &busy);
    uv_timer_start(&busy, on_idle_timer, 1, 1);

    journey_config config;
    journey_config_init(&config);
    config.loop = &loop;
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    if (host == NULL)
        return;

    early_acks acks = {0, 0};
    const char *line = "{\"user\":\"e\",\"name\":\"app/other\"}";
    CHECK_INT_EQ(journey_ingest_threadsafe(host, line, strlen(line), on_early_ack, &acks),
                 JOURNEY_OK);
    CHECK_INT_EQ(journey_ingest_threadsafe(host, NULL, 5, on_early_ack, &acks), JOURNEY_EINVAL);
    uv_run(&loop, UV_RUN_ONCE);
    CHECK_INT_EQ(acks.ok + acks.closing, 0);

    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    for (int i = 0; i < 100 && acks.ok == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_INT_EQ(acks.ok, 1);
    journey_stats stats;
    journey_get_stats(host, &stats);
    CHECK_INT_EQ(stats.events_ingested, 1);

    CHECK_INT_EQ(journey_ingest_threadsafe(host, line, strlen(line), on_early_ack, &acks),
                 JOURNEY_OK);
    journey_host_close(host, NULL, NULL);
    CHECK_INT_EQ(acks.closing, 1);

    uv_close((uv_handle_t *)&busy, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}


int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);

    char path[] = "/tmp/journey-lib-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT_EQ(write(fd, script, strlen(script)), (long long)strlen(script));
    close(fd);

    CHECK_STR_EQ(journey_version(), JOURNEY_VERSION_STRING);

    journey_config config;
    journey_config_init(&config);
    config.loop = &loop;
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "lookup", lookup, &loop), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "record", record, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "record", record, NULL), JOURNEY_EEXIST);

    /* Before start an ingest is refused with a reason. */
    CHECK_INT_EQ(journey_ingest(host, "{\"user\":\"a\",\"name\":\"x\"}", 24, NULL, NULL),
                 JOURNEY_ESTATE);
    CHECK_CONTAINS(journey_error(host), "journey_start");
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    const char *bad = "{\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_ingest(host, bad, strlen(bad), on_ingested, NULL), JOURNEY_EINVAL);
    CHECK_CONTAINS(journey_error(host), "missing \"user\"");

    for (int i = 0; i < 3; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "{\"user\":\"u%d\",\"name\":\"app/signed_up\"}", i);
        CHECK_INT_EQ(journey_ingest(host, line, (size_t)n, on_ingested, NULL), JOURNEY_OK);
    }
    CHECK_INT_EQ(journey_live_runs(host), 3);

    /* A full collection keeps what the live runs hold; a second one right
     * after finds nothing more to free. */
    size_t with_runs = journey_collect_garbage(host);
    CHECK(with_runs > 0);
    CHECK(journey_collect_garbage(host) <= with_runs);

    sender s = {host, 100};
    pthread_t thread;
    pthread_create(&thread, NULL, send_from_thread, &s);

    uv_timer_t watchdog;
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 5000, 0);
    uv_unref((uv_handle_t *)&watchdog);

    /* Run until the runs ended and the thread's events were acknowledged. */
    while ((journey_live_runs(host) > 0 || ingests_ok < 103) && uv_is_active((uv_handle_t *)&watchdog))
        uv_run(&loop, UV_RUN_ONCE);
    pthread_join(thread, NULL);

    CHECK_INT_EQ(ingests_ok, 103);
    CHECK_INT_EQ(ingests_other, 0);
    CHECK_INT_EQ(lookups, 3);
    CHECK_INT_EQ(records, 3);
    CHECK_CONTAINS(last_record, "\"tier\":\"gold\"");
    CHECK_INT_EQ(journey_live_runs(host), 0);
    /* The ended runs' coroutines are garbage now, and a collection frees
     * them. */
    CHECK(journey_collect_garbage(host) < with_runs);

    char *json = NULL;
    CHECK_INT_EQ(journey_run_json(host, 999, &json), JOURNEY_ENOTFOUND);
    CHECK(json == NULL);

    /* A reload keeps the old scripts when the new ones fail to load. */
    CHECK_INT_EQ(journey_reload(host), JOURNEY_OK);
    FILE *broken = fopen(path, "w");
    fputs("journey.define{\n", broken);
    fclose(broken);
    CHECK_INT_EQ(journey_reload(host), JOURNEY_EINVAL);
    CHECK_CONTAINS(journey_error(host), "the previous scripts stay in force");
    CHECK_CONTAINS(journey_error(host), path);
    const char *again = "{\"user\":\"late\",\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_ingest(host, again, strlen(again), on_ingested, NULL), JOURNEY_OK);
    while (journey_live_runs(host) > 0 && uv_is_active((uv_handle_t *)&watchdog))
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_INT_EQ(lookups, 4);
    /* The script file is whole again for the foreign-loop host below. */
    FILE *fixed = fopen(path, "w");
    fputs(script, fixed);
    fclose(fixed);

    /* A backend given through journey.h: the memory store as a building
     * block, owned by the host from here on. */
    journey_config custom;
    journey_config_init(&custom);
    custom.loop = &loop;
    custom.store_backend = journey_store_memory_new();
    CHECK(custom.store_backend != NULL);
    journey_host *second = NULL;
    CHECK_INT_EQ(journey_host_new(&custom, &second, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(second), JOURNEY_OK);
    const char *plain = "{\"id\":\"x1\",\"user\":\"b\",\"name\":\"app/other\"}";
    int before = ingests_ok, before_other = ingests_other;
    CHECK_INT_EQ(journey_ingest(second, plain, strlen(plain), on_ingested, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_ingest(second, plain, strlen(plain), on_ingested, NULL), JOURNEY_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(ingests_ok, before + 1);
    CHECK_INT_EQ(ingests_other, before_other + 1);

    /* A long turn commits between two ingests once the oldest event
     * waiting for a commit has waited 1 ms: its callback fires before
     * the turn ends, and the later event's at the turn's end. */
    before = ingests_ok;
    const char *early = "{\"user\":\"c\",\"name\":\"app/other\"}";
    CHECK_INT_EQ(journey_ingest(second, early, strlen(early), on_ingested, NULL), JOURNEY_OK);
    CHECK_INT_EQ(ingests_ok, before);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 3000000};
    nanosleep(&pause, NULL);
    CHECK_INT_EQ(journey_ingest(second, early, strlen(early), on_ingested, NULL), JOURNEY_OK);
    CHECK_INT_EQ(ingests_ok, before + 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(ingests_ok, before + 2);
    journey_host_close(second, on_closed, NULL);

    journey_event *event = journey_event_new(NULL, "u", "x", 0, NULL, NULL, 0);
    CHECK(event != NULL);
    CHECK_STR_EQ(event->data_json, "{}");
    journey_event_free(event);

    journey_host_close(host, on_closed, NULL);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(closed_calls, 2);
    int rc = uv_loop_close(&loop);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        uv_walk(&loop, walk_close, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    foreign_loop_answers_calls(path);
    acks_follow_the_file(path);
    early_threadsafe_events();
    acks_in_seq_order(path);
    writer_edge_cases();

    char stopper_path[] = "/tmp/journey-lib-stopper-XXXXXX";
    int stopper_fd = mkstemp(stopper_path);
    CHECK(stopper_fd >= 0);
    CHECK_INT_EQ(write(stopper_fd, stopper_script, strlen(stopper_script)),
                 (long long)strlen(stopper_script));
    close(stopper_fd);
    handler_cancels_its_own_run(stopper_path);
    unlink(stopper_path);
    remove(path);
    return check_summary("test_libjourney");
}
