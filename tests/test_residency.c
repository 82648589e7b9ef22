/*
 * A resident limit through the public header, on a real SQLite file.
 * Runs past the limit wait without their coroutine, and a run waiting
 * for an action's result keeps its coroutine. A reopened store recovers
 * its runs under a new limit. Every run ends as it would have with all
 * coroutines kept, and each action is called once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"

#define HOUR_MS (3600LL * 1000)
#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */
#define USERS 20

static const char script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'signup', on = 'app/signed_up', run = function(j, e)\n"
    "  local account = j.call('create_account', {user = j.user})\n"
    "  local verified = j.wait_for('app/verified',\n"
    "                              {match = {account = account.id}, timeout = '1d'})\n"
    "  j.sleep('1h')\n"
    "  return {account = account.id, verified = verified ~= nil}\n"
    "end }\n";

static journey_call *pending[USERS];
static int pending_count;
static int handler_calls;
static int completed;
static int completed_verified;


static void create_account(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    handler_calls++;
    /* The call completes later, so the run suspends in j.call meanwhile. */
    if (pending_count < USERS)
        pending[pending_count++] = call;
    else
        journey_call_done(call, NULL, "too many calls");
}


static void on_trace(void *ctx, const journey_trace *trace)
{
    (void)ctx;
    if (trace->kind != JOURNEY_TRACE_COMPLETED)
        return;
    completed++;
    if (trace->detail != NULL && strstr(trace->detail, "\"verified\":true") != NULL)
        completed_verified++;
}


static journey_host *open_host(const char *store, const char *script_path, size_t resident)
{
    journey_config config;
    journey_config_init(&config);
    config.store = store;
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    config.resident_runs = resident;
    config.trace = on_trace;
    journey_host *host = NULL;
    char error[512];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    if (host == NULL)
        return NULL;
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "create_account", create_account, NULL),
                 JOURNEY_OK);
    return host;
}


static void ingest(journey_host *host, const char *line)
{
    journey_event *event = NULL;
    CHECK_INT_EQ(journey_event_parse(host, line, strlen(line), 0, &event), JOURNEY_OK);
    CHECK_INT_EQ(journey_ingest_event(host, event, NULL, NULL), JOURNEY_OK);
}


static void verify(journey_host *host, int user, int account)
{
    char line[256];
    snprintf(line, sizeof line,
             "{\"user\":\"u%d\",\"name\":\"app/verified\",\"data\":{\"account\":\"acct-%d\"}}",
             user, account);
    ingest(host, line);
}


static journey_stats stats_of(journey_host *host)
{
    journey_stats stats;
    journey_get_stats(host, &stats);
    return stats;
}


int main(void)
{
    char dir[] = "/tmp/journey-residency-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char script_path[256], db_path[256], store[300];
    snprintf(script_path, sizeof script_path, "%s/signup.lua", dir);
    snprintf(db_path, sizeof db_path, "%s/store.db", dir);
    snprintf(store, sizeof store, "sqlite:%s", db_path);
    FILE *file = fopen(script_path, "w");
    CHECK(file != NULL);
    if (file == NULL)
        return check_summary("test_residency");
    fputs(script, file);
    fclose(file);

    /* First life: a limit of 5. */
    journey_host *host = open_host(store, script_path, 5);
    if (host == NULL)
        return check_summary("test_residency");
    CHECK_INT_EQ(journey_advance_to(host, T0), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    for (int u = 0; u < USERS; u++) {
        char line[128];
        snprintf(line, sizeof line, "{\"user\":\"u%d\",\"name\":\"app/signed_up\"}", u);
        ingest(host, line);
    }

    /* Every run waits for its handler's result and keeps its coroutine,
     * because a rebuild would call the handler again. */
    CHECK_INT_EQ(handler_calls, USERS);
    journey_stats stats = stats_of(host);
    CHECK_INT_EQ(stats.runs_live, USERS);
    CHECK_INT_EQ(stats.runs_evicted, 0);
    CHECK_INT_EQ(stats.evictions, 0);

    for (int i = 0; i < pending_count; i++) {
        char value[64];
        uint64_t run_id = journey_call_run_id(pending[i]);
        snprintf(value, sizeof value, "{\"id\":\"acct-%d\"}", i);
        CHECK(run_id > 0);
        CHECK_INT_EQ(journey_call_done(pending[i], value, NULL), JOURNEY_OK);
    }
    pending_count = 0;
    CHECK_INT_EQ(journey_advance_to(host, T0 + 1000), JOURNEY_OK);

    /* Now they wait for app/verified, five of them with a coroutine. */
    stats = stats_of(host);
    CHECK_INT_EQ(stats.runs_live, USERS);
    CHECK_INT_EQ(stats.runs_evicted, USERS - 5);
    CHECK_INT_EQ(stats.evictions, USERS - 5);

    /* The match is checked without a rebuild: a wrong account wakes
     * nothing. The calls were answered in the order they were made, so
     * user uN holds account acct-N. */
    verify(host, 0, 999);
    CHECK_INT_EQ(stats_of(host).rebuilds, 0);
    for (int u = 0; u < 9; u++)
        verify(host, u, u);
    stats = stats_of(host);
    CHECK_INT_EQ(stats.rebuilds, 9);
    CHECK_INT_EQ(handler_calls, USERS);
    CHECK_INT_EQ(journey_commit(host), JOURNEY_OK);
    journey_host_close(host, NULL, NULL);

    /* Second life: recovery under a limit of 3. Nine runs sleep, eleven
     * wait; all but three drop their coroutine again. */
    host = open_host(store, script_path, 3);
    if (host == NULL)
        return check_summary("test_residency");
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    stats = stats_of(host);
    CHECK_INT_EQ(stats.runs_live, USERS);
    CHECK_INT_EQ(stats.runs_evicted, USERS - 3);

    int64_t now = journey_now(host);
    CHECK_INT_EQ(journey_advance_to(host, now + HOUR_MS), JOURNEY_OK);
    CHECK_INT_EQ(completed, 9);
    for (int u = 9; u < USERS; u++)
        verify(host, u, u);
    CHECK_INT_EQ(journey_advance_to(host, journey_now(host) + HOUR_MS), JOURNEY_OK);

    CHECK_INT_EQ(completed, USERS);
    CHECK_INT_EQ(completed_verified, USERS);
    CHECK_INT_EQ(handler_calls, USERS);
    stats = stats_of(host);
    CHECK_INT_EQ(stats.runs_live, 0);
    CHECK_INT_EQ(stats.runs_evicted, 0);
    CHECK_INT_EQ(stats.runs_failed, 0);
    CHECK(stats.rebuilds >= 11);

    char *metrics = NULL;
    CHECK_INT_EQ(journey_metrics_text(host, &metrics), JOURNEY_OK);
    CHECK_CONTAINS(metrics, "journey_runs_evicted 0\n");
    CHECK_CONTAINS(metrics, "# TYPE journey_rebuilds_total counter\njourney_rebuilds_total ");
    journey_free(metrics);
    journey_host_close(host, NULL, NULL);

    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(command), 0);
    return check_summary("test_residency");
}
