/*
 * Deadlines that fall due while a caller ingests a long run of events in
 * one loop turn, on the real clock. A sleep that ends meanwhile fires
 * between two ingests instead of at the end of the turn. A backlog gets
 * one bounded share between the ingests of a turn, then only the
 * timer's slices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"

static const char script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'nap', on = 'app/nap', key = false, run = function(j, e)\n"
    "  if e.data.until_s then j.sleep_until(e.data.until_s) else j.sleep(0.05) end\n"
    "  j.call('woke')\n"
    "end }\n";

static int woke;


static void on_woke(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    (void)args_json;
    woke++;
    CHECK_INT_EQ(journey_call_done(call, NULL, NULL), JOURNEY_OK);
}


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static journey_host *new_host(const char *path)
{
    journey_config config;
    journey_config_init(&config);
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "woke", on_woke, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    return host;
}


/* Ingests one event that starts nothing. */
static void ingest_noise(journey_host *host, long i)
{
    char line[96];
    int n = snprintf(line, sizeof line, "{\"user\":\"n%ld\",\"name\":\"app/noise\"}", i);
    CHECK_INT_EQ(journey_ingest(host, line, (size_t)n, NULL, NULL), JOURNEY_OK);
}


/* One run sleeps 50 ms. The caller then ingests events without giving
 * the loop a turn until the run wakes or two seconds pass: the run must
 * wake inside that turn, and not before its deadline. */
static void sleep_ends_inside_a_long_turn(const char *path)
{
    woke = 0;
    journey_host *host = new_host(path);

    const char *nap = "{\"user\":\"a\",\"name\":\"app/nap\"}";
    double started = monotonic_s();
    CHECK_INT_EQ(journey_ingest(host, nap, strlen(nap), NULL, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_live_runs(host), 1);

    long i = 0;
    while (woke == 0 && monotonic_s() - started < 2.0)
        ingest_noise(host, i++);
    double woken_after = monotonic_s() - started;

    CHECK_INT_EQ(woke, 1);
    CHECK(woken_after >= 0.049);
    CHECK_INT_EQ(journey_live_runs(host), 0);

    journey_host_close(host, NULL, NULL);
}


/* 8,000 runs sleep until one instant, more than one slice of the
 * timer. After the first slice, the ingests of one turn fire 64
 * deadlines each, 4,096 in all. What is left is a backlog, which only
 * the timer's slices fire until it is gone. */
static void backlog_drains_in_slices(const char *path)
{
    woke = 0;
    journey_host *host = new_host(path);

    /* Far enough ahead that a sanitizer build starts every run first. */
    double until = now_s() + 3.0;
    for (int k = 0; k < 8000; k++) {
        char line[128];
        int n = snprintf(line, sizeof line,
                         "{\"user\":\"b%d\",\"name\":\"app/nap\",\"data\":{\"until_s\":%.3f}}",
                         k, until);
        CHECK_INT_EQ(journey_ingest(host, line, (size_t)n, NULL, NULL), JOURNEY_OK);
    }
    CHECK_INT_EQ(journey_live_runs(host), 8000);
    CHECK_INT_EQ(woke, 0);
    if (now_s() >= until)
        fprintf(stderr, "starting 8,000 runs took more than 3 s, so their sleeps ended "
                        "while they started and the checks below fail; run the test on a "
                        "less loaded machine\n");

    /* Turns of the loop until the timer fires its first slice. */
    double started = monotonic_s();
    while (woke == 0 && monotonic_s() - started < 10.0) {
        journey_run_once(host);
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    CHECK_INT_EQ(woke, 1000);

    /* One turn of ingests: 64 deadlines after each, up to 4,096. */
    ingest_noise(host, 0);
    CHECK_INT_EQ(woke, 1064);
    long i = 1;
    started = monotonic_s();
    while (woke < 1000 + 4096 && monotonic_s() - started < 5.0)
        ingest_noise(host, i++);
    CHECK_INT_EQ(i, 64);
    for (int k = 0; k < 1000; k++)
        ingest_noise(host, i++);
    CHECK_INT_EQ(woke, 1000 + 4096);

    /* The next turn: one slice, and nothing between its ingests. */
    journey_run_once(host);
    CHECK_INT_EQ(woke, 2000 + 4096);
    for (int k = 0; k < 1000; k++)
        ingest_noise(host, i++);
    CHECK_INT_EQ(woke, 2000 + 4096);

    started = monotonic_s();
    while (journey_live_runs(host) > 0 && monotonic_s() - started < 10.0)
        journey_run_once(host);
    CHECK_INT_EQ(woke, 8000);
    CHECK_INT_EQ(journey_live_runs(host), 0);

    journey_host_close(host, NULL, NULL);
}


int main(void)
{
    char path[] = "/tmp/journey-deadlines-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT_EQ(write(fd, script, strlen(script)), (long long)strlen(script));
    close(fd);

    sleep_ends_inside_a_long_turn(path);
    backlog_drains_in_slices(path);

    remove(path);
    return check_summary("test_deadlines_between_ingests");
}
