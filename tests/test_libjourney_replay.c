/*
 * libjourney as `journey simulate` and `journey serve` use it, through
 * the public header only. The checks cover a virtual clock moved by the
 * program, events parsed before they are ingested (one, or a batch
 * taken whole), and explicit commits. They cover the program's own
 * values, committed with the events and read back after a reopen of a
 * real SQLite file, and traces with their transcript lines. They also
 * cover statistics and metrics, retention, a dry run, a reload with a
 * new list of scripts, a backend whose commit fails, a burst of
 * deadlines drained in slices, and action handlers that complete
 * before they return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"

#define HOUR_MS (3600LL * 1000)
#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */

static const char welcome_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'welcome', on = 'app/signed_up', run = function(j, e)\n"
    "  local activated = j.wait_for('app/activated', {timeout = '2h'})\n"
    "  if activated then j.emit('welcome/thanks', {}) else j.emit('welcome/nudge', {}) end\n"
    "  j.sleep('1h')\n"
    "  return {done = true}\n"
    "end }\n";

/* Suspends elsewhere than welcome_script, so its runs diverge. */
static const char changed_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'welcome', on = 'app/signed_up', run = function(j, e)\n"
    "  j.sleep('5h')\n"
    "  return {done = false}\n"
    "end }\n";

static const char second_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'audit', on = 'app/activated', run = function(j, e)\n"
    "  return {seen = e.name}\n"
    "end }\n";

typedef struct trace_log {
    int started;
    int waiting;
    int woken;
    int emitted;
    int completed;
    char last_line[512];
    char emitted_names[256];
} trace_log;


static void on_trace(void *ctx, const journey_trace *trace)
{
    trace_log *log = ctx;
    switch (trace->kind) {
    case JOURNEY_TRACE_STARTED:
        log->started++;
        CHECK(trace->journey != NULL);
        CHECK(trace->run_id > 0);
        break;
    case JOURNEY_TRACE_WAITING:
        log->waiting++;
        CHECK_INT_EQ(trace->deadline, trace->at + 2 * HOUR_MS);
        break;
    case JOURNEY_TRACE_WOKEN:
        log->woken++;
        break;
    case JOURNEY_TRACE_EMITTED:
        log->emitted++;
        strncat(log->emitted_names, trace->event->name,
                sizeof log->emitted_names - strlen(log->emitted_names) - 2);
        strcat(log->emitted_names, ";");
        break;
    case JOURNEY_TRACE_COMPLETED:
        log->completed++;
        break;
    default:
        break;
    }
    char *line = NULL;
    if (journey_trace_text(trace, 1, &line) == JOURNEY_OK)
        snprintf(log->last_line, sizeof log->last_line, "%s", line);
    else
        CHECK(trace->kind == JOURNEY_TRACE_DUPLICATE);
    journey_free(line);
}


static int acks_ok;
static int acks_duplicate;


static void on_ack(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    if (status == JOURNEY_OK && seq > 0)
        acks_ok++;
    else if (status == JOURNEY_EEXIST)
        acks_duplicate++;
}


static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (file == NULL)
        return;
    fputs(text, file);
    fclose(file);
}


/* Creates a host from config, checking that it opens. Returns NULL when
 * it does not. */
static journey_host *open_host(const journey_config *config)
{
    journey_host *host = NULL;
    char error[512];
    CHECK_INT_EQ(journey_host_new(config, &host, error, sizeof error), JOURNEY_OK);
    return host;
}


static journey_host *new_virtual_host(const char *store, journey_trace_fn trace, void *ctx)
{
    journey_config config;
    journey_config_init(&config);
    config.store = store;
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    config.trace = trace;
    config.trace_ctx = ctx;
    return open_host(&config);
}


static void parse_checks(journey_host *host)
{
    journey_event *event = NULL;
    const char *no_ts = "{\"user\":\"u\",\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_event_parse(host, no_ts, strlen(no_ts), JOURNEY_PARSE_REQUIRE_TS,
                                     &event), JOURNEY_EINVAL);
    CHECK(event == NULL);
    CHECK_CONTAINS(journey_error(host), "ts");
    CHECK_INT_EQ(journey_event_parse(host, no_ts, strlen(no_ts), 0, &event), JOURNEY_OK);
    CHECK(event != NULL);
    CHECK_INT_EQ(event != NULL ? event->ts : 0, journey_now(host));
    journey_event_free(event);
    CHECK_INT_EQ(journey_event_parse(host, "{\"user\":", 8, 0, &event), JOURNEY_EJSON);
    CHECK_CONTAINS(journey_error(host), "invalid JSON");

    journey_event **events = NULL;
    size_t count = 99;
    const char *batch = "[{\"user\":\"a\",\"name\":\"x\"},{\"user\":\"b\",\"name\":\"y\",\"id\":\"k\"}]";
    CHECK_INT_EQ(journey_events_parse(host, batch, strlen(batch), 0, 10, &events, &count),
                 JOURNEY_OK);
    CHECK_INT_EQ(count, 2);
    if (count == 2) {
        CHECK_STR_EQ(events[0]->user, "a");
        CHECK_STR_EQ(events[1]->id, "k");
    }
    journey_events_free(events, count);

    const char *single = "{\"user\":\"a\",\"name\":\"x\"}";
    CHECK_INT_EQ(journey_events_parse(host, single, strlen(single), 0, 10, &events, &count),
                 JOURNEY_OK);
    CHECK_INT_EQ(count, 1);
    journey_events_free(events, count);

    CHECK_INT_EQ(journey_events_parse(host, " [] ", 4, 0, 10, &events, &count), JOURNEY_ERANGE);
    CHECK_CONTAINS(journey_error(host), "the array holds no events");
    CHECK_INT_EQ(journey_events_parse(host, batch, strlen(batch), 0, 1, &events, &count),
                 JOURNEY_ERANGE);
    CHECK_CONTAINS(journey_error(host), "at most 1");
    const char *bad = "[{\"user\":\"a\",\"name\":\"x\"},{\"name\":\"y\"}]";
    CHECK_INT_EQ(journey_events_parse(host, bad, strlen(bad), 0, 10, &events, &count),
                 JOURNEY_EINVAL);
    CHECK_CONTAINS(journey_error(host), "event 1: missing \"user\"");
    CHECK(events == NULL);
    CHECK_INT_EQ(count, 0);
    CHECK_INT_EQ(journey_events_parse(host, "[1,", 3, 0, 10, &events, &count), JOURNEY_EJSON);
    CHECK_INT_EQ(journey_events_parse(host, "\"text\"", 6, 0, 10, &events, &count),
                 JOURNEY_EJSON);

    /* Each event of an array is parsed from its own text, so numbers
     * keep their digits as in a single event. */
    const char *digits = "[ {\"user\":9007199254740993,\"name\":\"x\",\"id\":123456789012345678901,"
                         "\"data\":{\"cart\":123456789012345678901}} ]";
    CHECK_INT_EQ(journey_events_parse(host, digits, strlen(digits), 0, 10, &events, &count),
                 JOURNEY_OK);
    CHECK_INT_EQ(count, 1);
    if (count == 1) {
        CHECK_STR_EQ(events[0]->user, "9007199254740993");
        CHECK_STR_EQ(events[0]->id, "123456789012345678901");
        CHECK_STR_EQ(events[0]->data_json, "{\"cart\":123456789012345678901}");
    }
    journey_events_free(events, count);
    CHECK_INT_EQ(journey_events_parse(host, "[{}] x", 6, 0, 10, &events, &count), JOURNEY_EJSON);
    CHECK_CONTAINS(journey_error(host), "expected the end of the text");

    /* Bad UTF-8 is rejected, as in a single event, not replaced. */
    const char *latin1 = "[{\"user\":\"a\",\"name\":\"x\",\"data\":{\"city\":\"K\xf6ln\"}}]";
    CHECK_INT_EQ(journey_events_parse(host, latin1, strlen(latin1), 0, 10, &events, &count),
                 JOURNEY_EJSON);
    CHECK_CONTAINS(journey_error(host), "invalid UTF-8 at character 42");
    CHECK_INT_EQ(journey_events_parse(host, latin1 + 1, strlen(latin1) - 2, 0, 10, &events,
                                      &count),
                 JOURNEY_EJSON);
    CHECK_CONTAINS(journey_error(host), "invalid UTF-8 at character 41");
}


static void ingest_line(journey_host *host, const char *user, const char *name, long long ts,
                        const char *id)
{
    char line[256];
    if (id != NULL)
        snprintf(line, sizeof line, "{\"id\":\"%s\",\"user\":\"%s\",\"name\":\"%s\",\"ts\":%lld}",
                 id, user, name, ts);
    else
        snprintf(line, sizeof line, "{\"user\":\"%s\",\"name\":\"%s\",\"ts\":%lld}", user, name,
                 ts);
    journey_event *event = NULL;
    CHECK_INT_EQ(journey_event_parse(host, line, strlen(line), JOURNEY_PARSE_REQUIRE_TS, &event),
                 JOURNEY_OK);
    CHECK_INT_EQ(journey_ingest_event(host, event, on_ack, NULL), JOURNEY_OK);
}


/* A replay on the virtual clock, committed to a SQLite file. */
static void replay_and_commit(const char *store, const char *script_path)
{
    trace_log log;
    memset(&log, 0, sizeof log);
    journey_host *host = new_virtual_host(store, on_trace, &log);
    if (host == NULL)
        return;

    CHECK_INT_EQ(journey_now(host), 0);
    CHECK_INT_EQ(journey_advance_to(host, T0), JOURNEY_OK);
    CHECK_INT_EQ(journey_now(host), T0);
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    parse_checks(host);

    ingest_line(host, "u1", "app/signed_up", T0, "s1");
    ingest_line(host, "u2", "app/signed_up", T0 + 1000, "s2");
    ingest_line(host, "u1", "app/signed_up", T0 + 2000, "s1"); /* a duplicate */
    CHECK_INT_EQ(log.started, 2);
    CHECK_INT_EQ(log.waiting, 2);
    CHECK_INT_EQ(journey_next_deadline(host), T0 + 2 * HOUR_MS);

    /* Callbacks fire only with the commit. */
    CHECK_INT_EQ(acks_ok, 0);
    CHECK_INT_EQ(journey_meta_put(host, "input_position", "3"), JOURNEY_OK);
    CHECK_INT_EQ(journey_meta_put(host, "", "x"), JOURNEY_EINVAL);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    CHECK_INT_EQ(acks_ok, 2);
    CHECK_INT_EQ(acks_duplicate, 1);

    /* u1 activates in time and sleeps an hour, so its run ends at
     * T0 + 2 h. u2's wait times out at T0 + 2 h + 1 s, and its run then
     * sleeps until T0 + 3 h + 1 s. */
    ingest_line(host, "u1", "app/activated", T0 + HOUR_MS, NULL);
    CHECK_INT_EQ(log.woken, 1);
    CHECK_INT_EQ(journey_advance_to(host, T0 + 2 * HOUR_MS + 1000), JOURNEY_OK);
    CHECK_INT_EQ(log.woken, 3);
    CHECK_INT_EQ(log.completed, 1);
    CHECK_CONTAINS(log.emitted_names, "welcome/thanks;");
    CHECK_CONTAINS(log.emitted_names, "welcome/nudge;");
    CHECK_CONTAINS(log.last_line, "event welcome/nudge for u2");

    journey_stats stats;
    journey_get_stats(host, &stats);
    CHECK_INT_EQ(stats.runs_started, 2);
    CHECK_INT_EQ(stats.runs_live, 1);
    CHECK_INT_EQ(stats.runs_completed, 1);
    CHECK_INT_EQ(stats.events_duplicate, 1);
    CHECK_INT_EQ(stats.events_emitted, 2);
    CHECK_INT_EQ(stats.deadlines, 1);
    CHECK(stats.commits >= 1);

    journey_journey_info *infos = NULL;
    size_t count = 0;
    CHECK_INT_EQ(journey_journeys(host, &infos, &count), JOURNEY_OK);
    CHECK_INT_EQ(count, 1);
    if (count == 1) {
        CHECK_STR_EQ(infos[0].name, "welcome");
        CHECK_INT_EQ(infos[0].started, 2);
        CHECK_INT_EQ(infos[0].completed, 1);
        CHECK_INT_EQ(infos[0].sleeping, 1);
        CHECK_INT_EQ(infos[0].waiting, 0);
    }
    journey_free(infos);

    char *metrics = NULL;
    CHECK_INT_EQ(journey_metrics_text(host, &metrics), JOURNEY_OK);
    CHECK_CONTAINS(metrics, "journey_runs{journey=\"welcome\",status=\"sleeping\"} 1\n");
    CHECK_CONTAINS(metrics, "journey_events_duplicate_total 1\n");
    CHECK_CONTAINS(metrics, "journey_commit_seconds_bucket{le=\"+Inf\"}");
    journey_free(metrics);

    /* u2's run stays asleep across the reopen below. */
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    journey_host_close(host, NULL, NULL);
}


/* The reopened store resumes the clock and the runs, and keeps the
 * program's values; a dry run and reloads act on the live runs. */
static void reopen_and_reload(const char *store, const char *script_path,
                              const char *changed_path, const char *second_path)
{
    trace_log log;
    memset(&log, 0, sizeof log);
    journey_host *host = new_virtual_host(store, on_trace, &log);
    if (host == NULL)
        return;

    char *value = NULL;
    CHECK_INT_EQ(journey_meta_get(host, "input_position", &value), JOURNEY_OK);
    CHECK_STR_EQ(value, "3");
    journey_free(value);
    CHECK_INT_EQ(journey_meta_get(host, "never_set", &value), JOURNEY_OK);
    CHECK(value == NULL);
    /* The program's keys cannot reach the host's own. */
    CHECK_INT_EQ(journey_meta_get(host, "clock", &value), JOURNEY_OK);
    CHECK(value == NULL);

    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    CHECK_INT_EQ(journey_now(host), T0 + 2 * HOUR_MS + 1000);
    /* The replay re-arms u2's sleep without reporting it again. */
    CHECK_STR_EQ(log.last_line, "");
    journey_replay_report report;
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.replayed, 1);
    CHECK_INT_EQ(report.diverged, 0);
    CHECK_INT_EQ(report.scripts, 1);
    CHECK_INT_EQ(report.journeys, 1);
    CHECK_INT_EQ(journey_live_runs(host), 1);

    /* A dry run against a changed script reports the divergence and
     * changes nothing. */
    const char *changed[] = {changed_path};
    CHECK_INT_EQ(journey_dry_run(host, changed, 1, &report), JOURNEY_OK);
    CHECK_INT_EQ(report.replayed, 1);
    CHECK_INT_EQ(report.diverged, 1);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    const char *missing[] = {"/nonexistent/script.lua"};
    CHECK_INT_EQ(journey_dry_run(host, missing, 1, &report), JOURNEY_EINVAL);
    CHECK_INT_EQ(journey_reload_scripts(host, missing, 1), JOURNEY_EINVAL);
    CHECK_CONTAINS(journey_error(host), "previous scripts stay in force");

    /* A reload with a longer list adds a journey and keeps the runs. */
    const char *both[] = {script_path, second_path};
    CHECK_INT_EQ(journey_reload_scripts(host, both, 2), JOURNEY_OK);
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.scripts, 2);
    CHECK_INT_EQ(report.journeys, 2);
    CHECK_INT_EQ(report.replayed, 1);
    ingest_line(host, "u3", "app/activated", T0 + 3 * HOUR_MS, NULL);
    CHECK_INT_EQ(journey_reload(host), JOURNEY_OK);
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.scripts, 2);

    /* u2's run ends at T0 + 3 h + 1 s, and audit's run for u3 ends at
     * once. Retention deletes those and u1's run once they are older
     * than its window. */
    CHECK_INT_EQ(journey_advance_to(host, T0 + 4 * HOUR_MS), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_INT_EQ(journey_next_deadline(host), INT64_MAX);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    uint64_t runs = 0, events = 0;
    CHECK_INT_EQ(journey_prune(host, 24 * HOUR_MS, &runs, &events), JOURNEY_OK);
    CHECK_INT_EQ(runs, 0);
    CHECK_INT_EQ(journey_advance_to(host, T0 + 30 * HOUR_MS), JOURNEY_OK);
    CHECK_INT_EQ(journey_prune(host, 24 * HOUR_MS, &runs, &events), JOURNEY_OK);
    CHECK_INT_EQ(runs, 3);
    CHECK(events > 0);
    CHECK_INT_EQ(journey_prune(host, -1, &runs, &events), JOURNEY_EINVAL);

    journey_stats stats;
    journey_get_stats(host, &stats);
    CHECK_INT_EQ(stats.reloads, 2);
    CHECK_INT_EQ(stats.reload_failures, 1);
    CHECK_INT_EQ(stats.runs_completed, 2);
    journey_host_close(host, NULL, NULL);
}


/* A backend over the memory store whose commit fails on request, as a
 * database that went away would. */
typedef struct failing_store {
    journey_store base;
    journey_store *inner;
    int fail_commits;
} failing_store;

#define INNER(store) (((failing_store *)(store))->inner)

static int fs_event_append(journey_store *s, journey_event *e, journey_store_error *err)
{
    return INNER(s)->ops->event_append(INNER(s), e, err);
}

static const journey_event *fs_event_get(journey_store *s, uint64_t seq)
{
    return INNER(s)->ops->event_get(INNER(s), seq);
}

static int fs_event_scan(journey_store *s, const char *user, uint64_t from,
                         journey_event_visit_fn visit, void *ctx)
{
    return INNER(s)->ops->event_scan(INNER(s), user, from, visit, ctx);
}

static int fs_run_put(journey_store *s, const journey_run_record *r, journey_store_error *err)
{
    return INNER(s)->ops->run_put(INNER(s), r, err);
}

static int fs_journal_append(journey_store *s, const journey_journal_entry *e,
                             journey_store_error *err)
{
    return INNER(s)->ops->journal_append(INNER(s), e, err);
}

static const journey_journal_entry *fs_journal_get(journey_store *s, uint64_t run,
                                                   uint32_t index)
{
    return INNER(s)->ops->journal_get(INNER(s), run, index);
}

static int fs_run_scan_live(journey_store *s, journey_run_visit_fn visit, void *ctx)
{
    return INNER(s)->ops->run_scan_live(INNER(s), visit, ctx);
}

static uint64_t fs_run_max_id(journey_store *s)
{
    return INNER(s)->ops->run_max_id(INNER(s));
}

static int fs_user_put(journey_store *s, const char *user, const char *attributes, int64_t at,
                       journey_store_error *err)
{
    return INNER(s)->ops->user_put(INNER(s), user, attributes, at, err);
}

static int fs_meta_get(journey_store *s, const char *key, char **value,
                       journey_store_error *err)
{
    return INNER(s)->ops->meta_get(INNER(s), key, value, err);
}

static int fs_meta_put(journey_store *s, const char *key, const char *value,
                       journey_store_error *err)
{
    return INNER(s)->ops->meta_put(INNER(s), key, value, err);
}

static int fs_prune(journey_store *s, int64_t ended_before, int64_t events_before,
                    uint64_t *runs, uint64_t *events, journey_store_error *err)
{
    return INNER(s)->ops->prune(INNER(s), ended_before, events_before, runs, events, err);
}

static int fs_commit(journey_store *s, journey_store_error *err)
{
    if (((failing_store *)s)->fail_commits) {
        err->code = JOURNEY_EIO;
        snprintf(err->message, sizeof err->message, "disk is gone");
        return JOURNEY_EIO;
    }
    return INNER(s)->ops->commit(INNER(s), err);
}

static void fs_destroy(journey_store *s)
{
    INNER(s)->ops->destroy(INNER(s));
    free(s);
}

static const journey_store_ops failing_ops = {
    "failing", fs_event_append, fs_event_get, fs_event_scan, fs_run_put, fs_journal_append,
    fs_journal_get, fs_run_scan_live, fs_run_max_id, fs_user_put, fs_meta_get, fs_meta_put,
    fs_prune, fs_commit, fs_destroy,
};

static int failures_reported;
static char failure_message[128];

static void on_store_failed(void *ctx, const char *message)
{
    (void)ctx;
    failures_reported++;
    snprintf(failure_message, sizeof failure_message, "%s", message);
}

static int acks_failed;

static void on_ack_expect_failure(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    if (status == JOURNEY_EIO && seq == 0)
        acks_failed++;
}


static void failed_commit_checks(const char *script_path)
{
    failing_store *store = calloc(1, sizeof *store);
    CHECK(store != NULL);
    if (store == NULL)
        return;
    store->base.ops = &failing_ops;
    store->inner = journey_store_memory_new();

    journey_config config;
    journey_config_init(&config);
    config.store_backend = &store->base;
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    config.store_failed = on_store_failed;
    journey_host *host = open_host(&config);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    const char *line = "{\"user\":\"f\",\"name\":\"app/signed_up\",\"ts\":1700000000000}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), on_ack_expect_failure, NULL),
                 JOURNEY_OK);
    store->fail_commits = 1;
    CHECK_INT_EQ(journey_commit(host), JOURNEY_EIO);
    CHECK_INT_EQ(acks_failed, 1);
    CHECK_INT_EQ(failures_reported, 1);
    CHECK_STR_EQ(failure_message, "disk is gone");

    /* The host rejects what it could no longer make durable. */
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_EIO);
    CHECK_CONTAINS(journey_error(host), "a commit failed");
    CHECK_INT_EQ(journey_commit(host), JOURNEY_EIO);
    CHECK_INT_EQ(failures_reported, 1);
    journey_host_close(host, NULL, NULL);
}


static const char burst_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'burst', on = 'app/burst', run = function(j, e)\n"
    "  j.sleep_until(e.data.at)\n"
    "end }\n";


/* 2,500 runs whose deadlines fall due at the same instant drain 1,000
 * per loop turn, so the loop polls for I/O between the slices. */
static void deadline_burst_checks(const char *script_path)
{
    journey_host *host = NULL;
    char error[512];
    CHECK_INT_EQ(journey_host_new(NULL, &host, error, sizeof error), JOURNEY_OK);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    double at = (double)journey_now(host) / 1000.0 + 0.3;
    for (int i = 0; i < 2500; i++) {
        char line[160];
        int len = snprintf(line, sizeof line,
                           "{\"user\":\"b%d\",\"name\":\"app/burst\",\"data\":{\"at\":%.3f}}",
                           i, at);
        CHECK_INT_EQ(journey_ingest(host, line, (size_t)len, NULL, NULL), JOURNEY_OK);
    }
    journey_run_once(host);
    CHECK_INT_EQ(journey_live_runs(host), 2500);

    struct timespec pause = {.tv_sec = 0, .tv_nsec = 400 * 1000000};
    nanosleep(&pause, NULL);
    journey_run_once(host);
    CHECK_INT_EQ(journey_live_runs(host), 1500);
    journey_run_once(host);
    CHECK_INT_EQ(journey_live_runs(host), 500);
    journey_run_once(host);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    journey_host_close(host, NULL, NULL);
}


static const char echo_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'echo', on = 'app/echo', run = function(j, e)\n"
    "  local value = j.call('echo', {n = e.data.n})\n"
    "  return {n = value.n}\n"
    "end }\n";

/* Raises before j.call, so a reload to it parks the runs of echo. */
static const char broken_echo_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'echo', on = 'app/echo', run = function(j, e)\n"
    "  error('broken edit')\n"
    "end }\n";

static int echo_sleeps;
static char echo_result[64];


static void on_echo_trace(void *ctx, const journey_trace *trace)
{
    (void)ctx;
    if (trace->kind == JOURNEY_TRACE_SLEEPING)
        echo_sleeps++;
    if (trace->kind == JOURNEY_TRACE_COMPLETED)
        snprintf(echo_result, sizeof echo_result, "%s", trace->detail);
}


static void echo_now(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    CHECK_INT_EQ(journey_call_done(call, args_json, NULL), JOURNEY_OK);
}


static journey_call *open_call;


static void keep_call(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    open_call = call;
}


/* A run that was in a j.call when its host closed calls the handler
 * again after the restart, and takes the result even when the handler
 * gives it at once. */
static void recovered_call_checks(const char *script_path, const char *store)
{
    journey_host *host = new_virtual_host(store, NULL, NULL);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", keep_call, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    const char *line = "{\"user\":\"r\",\"name\":\"app/echo\",\"ts\":1700000000000,"
                       "\"data\":{\"n\":9}}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
    CHECK(open_call != NULL);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    journey_host_close(host, NULL, NULL);
    CHECK_INT_EQ(journey_call_done(open_call, "{}", NULL), JOURNEY_ESTATE);

    echo_result[0] = '\0';
    host = new_virtual_host(store, on_echo_trace, NULL);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", echo_now, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    journey_replay_report report;
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.replayed, 1);
    CHECK_INT_EQ(report.diverged, 0);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host)), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_STR_EQ(echo_result, "{\"n\":9}");
    journey_host_close(host, NULL, NULL);
}


static int answer_now;


/* Keeps the call, or completes it at once when answer_now is set. */
static void keep_or_echo(void *ctx, journey_call *call, const char *args_json)
{
    if (answer_now)
        echo_now(ctx, call, args_json);
    else
        keep_call(ctx, call, args_json);
}


/* A reload to a script that raises parks a run that waits in j.call.
 * The old call's result then finds no coroutine to take it and is
 * rejected, and a reload to the first script calls the handler again. */
static void parked_call_checks(const char *script_path, const char *broken_path)
{
    journey_host *host = new_virtual_host("memory", on_echo_trace, NULL);
    if (host == NULL)
        return;
    open_call = NULL;
    answer_now = 0;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", keep_or_echo, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    const char *line = "{\"user\":\"p\",\"name\":\"app/echo\",\"ts\":1700000000000,"
                       "\"data\":{\"n\":4}}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
    CHECK(open_call != NULL);

    const char *broken[] = {broken_path};
    CHECK_INT_EQ(journey_reload_scripts(host, broken, 1), JOURNEY_EDIVERGED);
    journey_replay_report report;
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.diverged, 1);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    CHECK_INT_EQ(journey_call_done(open_call, "{\"n\":4}", NULL), JOURNEY_ESTATE);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + HOUR_MS), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 1);


    echo_result[0] = '\0';
    answer_now = 1;
    const char *fixed[] = {script_path};
    CHECK_INT_EQ(journey_reload_scripts(host, fixed, 1), JOURNEY_OK);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host)), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_STR_EQ(echo_result, "{\"n\":4}");
    journey_host_close(host, NULL, NULL);
}


/* Waits for a payment that matches, then emits and sleeps. The changed
 * script matches the payment already stored, so a reload to it lets the
 * restored wait take that event at once. */
static const char pay_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'pay', on = 'app/order', run = function(j, e)\n"
    "  j.wait_for('app/pay', {match = {x = 1}, timeout = '1h'})\n"
    "  j.emit('app/paid', {})\n"
    "  j.sleep('10m')\n"
    "end }\n";
static const char pay_changed_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'pay', on = 'app/order', run = function(j, e)\n"
    "  j.wait_for('app/pay', {match = {x = 2}, timeout = '1h'})\n"
    "  j.emit('app/paid', {})\n"
    "  j.sleep('10m')\n"
    "end }\n";

static uint64_t last_seq;


static void on_seq(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    CHECK_INT_EQ(status, JOURNEY_OK);
    last_seq = seq;
}


/* Returns the seq the store gives a new event, which is one more than
 * the number of events stored. */
static uint64_t next_seq(journey_host *host, const char *user)
{
    char line[128];
    int n = snprintf(line, sizeof line, "{\"user\":\"%s\",\"name\":\"app/probe\"}", user);
    last_seq = 0;
    CHECK_INT_EQ(journey_ingest(host, line, (size_t)n, on_seq, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    return last_seq;
}


/* A dry run writes nothing, even when the new script lets a run go on
 * past its journal, and the reload after it emits once. The run then
 * sleeps, and its stored record is updated: a second reload and a restart
 * replay it to that sleep instead of parking it. */
static void moved_run_checks(const char *script_path, const char *changed_path,
                             const char *store)
{
    journey_host *host = new_virtual_host(store, NULL, NULL);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    const char *order = "{\"user\":\"m\",\"name\":\"app/order\",\"ts\":1700000000000}";
    const char *pay = "{\"user\":\"m\",\"name\":\"app/pay\",\"ts\":1700000001000,"
                      "\"data\":{\"x\":2}}";
    CHECK_INT_EQ(journey_ingest(host, order, strlen(order), NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_ingest(host, pay, strlen(pay), NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);

    const char *changed[] = {changed_path};
    journey_replay_report report;
    CHECK_INT_EQ(journey_dry_run(host, changed, 1, &report), JOURNEY_OK);
    CHECK_INT_EQ(report.diverged, 0);
    CHECK_INT_EQ(next_seq(host, "probe1"), 3);

    CHECK_INT_EQ(journey_reload_scripts(host, changed, 1), JOURNEY_OK);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    CHECK_INT_EQ(next_seq(host, "probe2"), 5); /* the reload's app/paid is 4 */

    char *json = NULL;
    CHECK_INT_EQ(journey_run_json(host, 1, &json), JOURNEY_OK);
    CHECK_CONTAINS(json, "\"status\":\"sleeping\"");
    journey_free(json);

    CHECK_INT_EQ(journey_reload_scripts(host, changed, 1), JOURNEY_OK);
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.diverged, 0);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    journey_host_close(host, NULL, NULL);

    host = new_virtual_host(store, NULL, NULL);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, changed_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    journey_last_replay(host, &report);
    CHECK_INT_EQ(report.replayed, 1);
    CHECK_INT_EQ(report.diverged, 0);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    CHECK_INT_EQ(next_seq(host, "probe3"), 6);
    journey_host_close(host, NULL, NULL);
}


static int echo_calls;


static void count_and_keep_call(void *ctx, journey_call *call, const char *args_json)
{
    echo_calls++;
    keep_call(ctx, call, args_json);
}


/* Starts a host on script_path whose echo run waits in j.call with
 * {"n": n}, its call kept in open_call. Returns NULL when the host does
 * not open. */
static journey_host *start_echo_call(const char *script_path, int n)
{
    journey_host *host = new_virtual_host("memory", on_echo_trace, NULL);
    if (host == NULL)
        return NULL;
    open_call = NULL;
    echo_calls = 0;
    echo_result[0] = '\0';
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", count_and_keep_call, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    char line[160];
    int len = snprintf(line, sizeof line, "{\"user\":\"u%d\",\"name\":\"app/echo\","
                       "\"ts\":1700000000000,\"data\":{\"n\":%d}}", n, n);
    CHECK_INT_EQ(journey_ingest(host, line, (size_t)len, NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(echo_calls, 1);
    return host;
}


/* A run waiting in j.call keeps its open call across a dry run and a
 * reload: the handler is not called again, and its journey_call still
 * completes the run. */
static void kept_call_checks(const char *script_path)
{
    journey_host *host = start_echo_call(script_path, 5);
    if (host == NULL)
        return;

    const char *same[] = {script_path};
    journey_replay_report report;
    CHECK_INT_EQ(journey_dry_run(host, same, 1, &report), JOURNEY_OK);
    CHECK_INT_EQ(echo_calls, 1);
    CHECK_INT_EQ(journey_reload(host), JOURNEY_OK);
    CHECK_INT_EQ(echo_calls, 1);

    CHECK_INT_EQ(journey_call_done(open_call, "{\"n\":5}", NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host)), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_STR_EQ(echo_result, "{\"n\":5}");
    journey_host_close(host, NULL, NULL);
}


/* A call its handler finished, whose run has not resumed yet, is not
 * lost to a reload: the handler is not called again, and the run ends
 * with the value given. */
static void finished_call_checks(const char *script_path)
{
    journey_host *host = start_echo_call(script_path, 6);
    if (host == NULL)
        return;

    CHECK_INT_EQ(journey_call_done(open_call, "{\"n\":6}", NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_reload(host), JOURNEY_OK);
    CHECK_INT_EQ(echo_calls, 1);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host)), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_STR_EQ(echo_result, "{\"n\":6}");
    journey_host_close(host, NULL, NULL);
}


/* Takes an event from before its trigger, then sleeps for a month. */
static const char reach_back_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'reach', on = 'app/go', run = function(j, e)\n"
    "  local old = j.wait_for('app/old', {since = 'ever', timeout = '1h'})\n"
    "  j.sleep('30d')\n"
    "  return {old = old ~= nil}\n"
    "end }\n";

static const char broken_reach_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'reach', on = 'app/go', run = function(j, e)\n"
    "  error('broken edit')\n"
    "end }\n";


/* Ingests one event of user at the host's clock. */
static void ingest_now(journey_host *host, const char *user, const char *name)
{
    char line[160];
    snprintf(line, sizeof line, "{\"user\":\"%s\",\"name\":\"%s\",\"ts\":%lld}", user, name,
             (long long)journey_now(host));
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
}


/* A run that is parked, or whose journey no script defines, is not
 * replayed, so retention learns what its journal refers to from before
 * its trigger by reading it. Other old events are deleted as usual. */
static void unreplayed_reference_checks(const char *script_path, const char *broken_path)
{
    const char *loads[][1] = {{broken_path}, {NULL}};
    size_t load_counts[] = {1, 0};

    for (int round = 0; round < 2; round++) {
        journey_host *host = new_virtual_host("memory", NULL, NULL);
        if (host == NULL)
            return;
        CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
        CHECK_INT_EQ(journey_advance_to(host, T0), JOURNEY_OK);
        CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
        ingest_now(host, "q", "app/other");
        CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + HOUR_MS), JOURNEY_OK);
        ingest_now(host, "u", "app/old");
        CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + 24 * HOUR_MS), JOURNEY_OK);
        ingest_now(host, "u", "app/go");
        CHECK_INT_EQ(journey_live_runs(host), 1);

        /* Parked in the first round, of an undefined journey in the second. */
        journey_reload_scripts(host, loads[round], load_counts[round]);
        journey_replay_report report;
        journey_last_replay(host, &report);
        CHECK_INT_EQ(round == 0 ? report.diverged : report.orphaned, 1);

        CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + 20 * 24 * HOUR_MS),
                     JOURNEY_OK);
        uint64_t runs_pruned = 0, events_pruned = 0;
        CHECK_INT_EQ(journey_prune(host, 24 * HOUR_MS, &runs_pruned, &events_pruned),
                     JOURNEY_OK);
        CHECK_INT_EQ(events_pruned, 1); /* app/other; app/old is kept */

        const char *fixed[] = {script_path};
        CHECK_INT_EQ(journey_reload_scripts(host, fixed, 1), JOURNEY_OK);
        journey_last_replay(host, &report);
        CHECK_INT_EQ(report.diverged, 0);
        CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + 31 * 24 * HOUR_MS),
                     JOURNEY_OK);
        CHECK_INT_EQ(journey_live_runs(host), 0);
        journey_host_close(host, NULL, NULL);
    }
}


/* A handler that completes before it returns gives j.call its value
 * without a suspension: the run ends inside the ingest. */
static void sync_call_checks(const char *script_path)
{
    journey_host *host = new_virtual_host("memory", on_echo_trace, NULL);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", echo_now, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    const char *line = "{\"user\":\"e\",\"name\":\"app/echo\",\"ts\":1700000000000,"
                       "\"data\":{\"n\":7}}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_INT_EQ(echo_sleeps, 0);
    CHECK_STR_EQ(echo_result, "{\"n\":7}");
    journey_host_close(host, NULL, NULL);
}


static char echo_failure[256];


static void on_value_trace(void *ctx, const journey_trace *trace)
{
    (void)ctx;
    if (trace->kind == JOURNEY_TRACE_FAILED)
        snprintf(echo_failure, sizeof echo_failure, "%s", trace->detail);
}


/* Rejects two texts that are not one JSON value, then gives a valid
 * value larger than the host's memory cap. */
static void answer_big(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    CHECK_INT_EQ(journey_call_done(call, "{\"n\":", NULL), JOURNEY_EINVAL);
    CHECK_INT_EQ(journey_call_done(call, "1 2", NULL), JOURNEY_EINVAL);

    size_t size = 3 * 1000 * 1000;
    char *big = malloc(size + 16);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    strcpy(big, "{\"n\":\"");
    memset(big + 6, 'x', size);
    strcpy(big + 6 + size, "\"}");
    CHECK_INT_EQ(journey_call_done(call, big, NULL), JOURNEY_OK);
    free(big);
}


/* journey_call_done checks the value's syntax, not whether it fits in
 * the memory cap: a large valid value is taken, and the run that
 * decodes it fails on the cap with its script line. */
static void call_value_checks(const char *script_path)
{
    journey_config config;
    journey_config_init(&config);
    config.store = "memory";
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    config.trace = on_value_trace;
    config.memory_cap = 2 * 1000 * 1000;
    journey_host *host = open_host(&config);
    if (host == NULL)
        return;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "echo", answer_big, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);

    echo_failure[0] = '\0';
    const char *line = "{\"user\":\"v\",\"name\":\"app/echo\",\"ts\":1700000000000,"
                       "\"data\":{\"n\":1}}";
    CHECK_INT_EQ(journey_ingest(host, line, strlen(line), NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    CHECK_CONTAINS(echo_failure, "echo.lua:3:");
    CHECK_CONTAINS(echo_failure, "not enough memory");
    journey_host_close(host, NULL, NULL);
}


static void real_clock_checks(void)
{
    journey_host *host = NULL;
    char error[512];
    CHECK_INT_EQ(journey_host_new(NULL, &host, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_advance_to(host, 0), JOURNEY_ESTATE);
    CHECK_CONTAINS(journey_error(host), "real clock");
    journey_host_close(host, NULL, NULL);

    journey_config config;
    journey_config_init(&config);
    config.clock = (journey_clock)7;
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_EINVAL);
    CHECK_CONTAINS(error, "invalid clock 7");
}


int main(void)
{
    char dir[] = "/tmp/journey-replay-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char script_path[128], changed_path[128], second_path[128], store[160];
    snprintf(script_path, sizeof script_path, "%s/welcome.lua", dir);
    snprintf(changed_path, sizeof changed_path, "%s/changed.lua", dir);
    snprintf(second_path, sizeof second_path, "%s/audit.lua", dir);
    snprintf(store, sizeof store, "sqlite:%s/store.db", dir);
    write_file(script_path, welcome_script);
    write_file(changed_path, changed_script);
    write_file(second_path, second_script);

    replay_and_commit(store, script_path);
    reopen_and_reload(store, script_path, changed_path, second_path);
    real_clock_checks();
    char burst_path[128];
    snprintf(burst_path, sizeof burst_path, "%s/burst.lua", dir);
    write_file(burst_path, burst_script);
    deadline_burst_checks(burst_path);
    char echo_path[128];
    snprintf(echo_path, sizeof echo_path, "%s/echo.lua", dir);
    write_file(echo_path, echo_script);
    sync_call_checks(echo_path);
    call_value_checks(echo_path);
    char call_store[160];
    snprintf(call_store, sizeof call_store, "sqlite:%s/calls.db", dir);
    recovered_call_checks(echo_path, call_store);
    char broken_echo_path[128];
    snprintf(broken_echo_path, sizeof broken_echo_path, "%s/broken_echo.lua", dir);
    write_file(broken_echo_path, broken_echo_script);
    parked_call_checks(echo_path, broken_echo_path);
    kept_call_checks(echo_path);
    finished_call_checks(echo_path);
    char pay_path[128], pay_changed_path[128], pay_store[160];
    snprintf(pay_path, sizeof pay_path, "%s/pay.lua", dir);
    snprintf(pay_changed_path, sizeof pay_changed_path, "%s/pay_changed.lua", dir);
    snprintf(pay_store, sizeof pay_store, "sqlite:%s/pay.db", dir);
    write_file(pay_path, pay_script);
    write_file(pay_changed_path, pay_changed_script);
    moved_run_checks(pay_path, pay_changed_path, pay_store);
    char reach_path[128], broken_reach_path[128];
    snprintf(reach_path, sizeof reach_path, "%s/reach.lua", dir);
    snprintf(broken_reach_path, sizeof broken_reach_path, "%s/broken_reach.lua", dir);
    write_file(reach_path, reach_back_script);
    write_file(broken_reach_path, broken_reach_script);
    unreplayed_reference_checks(reach_path, broken_reach_path);
    failed_commit_checks(script_path);

    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    CHECK_INT_EQ(system(command), 0);
    return check_summary("test_libjourney_replay");
}
