/*
 * The W1 (wait-and-resume) and W2 (sleep) workloads, in process through
 * journey.h, on the real clock. Prints one JSON line per point.
 *
 *   workload w1|w2 N STORE [BATCH] [RESIDENT]
 *
 * W1: N runs each wait for app/account.created matched on the user's
 * e-mail (timeout 1 hour); once all wait, the N events are delivered in
 * batches of BATCH per loop turn (default 1000). A run observes its
 * event with j.call("observed") right after the wait returns.
 * W2: N runs each sleep 1 s, then j.call("observed").
 * RESIDENT is the host's resident limit (default 0, no limit): past it,
 * suspended runs wait without their Lua coroutine and are rebuilt by
 * replay when they wake.
 *
 * Figures: start phase time and rate; RSS and bytes per waiting run
 * (VmRSS after all wait minus before the start, over N); for W1 also
 * the same after a full Lua garbage collection and malloc_trim, with
 * the Lua state's own bytes per run after that collection. W2 collects
 * nothing, because a collection would delay the runs it measures. For W1 the
 * wall time from the first event sent to the last run completed, runs
 * completed per second, wake latency (sent to observed) and
 * acknowledgement latency (sent to the ingest callback, which fires
 * after the group commit); for W2 the overshoot past 1 s.
 *
 * With WORKLOAD_PERF_CTL set to the control FIFO of
 * `perf record --control=fifo:CTL,ACK -D -1`, it enables the profiler
 * for the delivery phase of W1 alone.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

#include "bench_host.h"

static const char w1_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'w1', on = 'app/started', run = function(j, e)\n"
    "  local created = j.wait_for('app/account.created',\n"
    "                             {match = {email = e.data.email}, timeout = '1h'})\n"
    "  j.call('observed', {n = e.data.n})\n"
    "  return {result = created ~= nil}\n"
    "end }\n";

static const char w2_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'w2', on = 'app/started', run = function(j, e)\n"
    "  j.sleep(1)\n"
    "  j.call('observed', {n = e.data.n})\n"
    "end }\n";

typedef struct bench {
    uv_loop_t *loop;
    journey_host *host;
    int w2;
    long n;
    long batch;
    long next;             /* next user to start or deliver */
    int phase;             /* 0 start, 1 deliver */
    uint64_t *sent;        /* hrtime of each user's send */
    uint64_t *observed;
    uint64_t *acked;
    long acks;
    long observations;
    uint64_t phase_start;
    uint64_t phase_end;
    uv_idle_t feeder;
} bench;

static bench B;


static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kib;
}


static void on_observed(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    const char *p = strstr(args_json, "\"n\":");
    long i = p != NULL ? atol(p + 4) : -1;
    if (i >= 0 && i < B.n && B.observed[i] == 0) {
        B.observed[i] = uv_hrtime();
        B.observations++;
    }
    journey_call_done(call, NULL, NULL);
}


static void on_acked(void *ctx, int status, uint64_t seq)
{
    (void)seq;
    long i = (long)(intptr_t)ctx;
    if (status == JOURNEY_OK && B.phase == 1)
        B.acked[i] = uv_hrtime();
    B.acks++;
}


/* Feeds one batch per loop turn, so commits group a batch each. */
static void feed(uv_idle_t *idle)
{
    char line[256];
    for (long k = 0; k < B.batch && B.next < B.n; k++, B.next++) {
        long i = B.next;
        int len = B.phase == 0
            ? snprintf(line, sizeof line, "{\"user\":\"u%ld\",\"name\":\"app/started\","
                                          "\"data\":{\"email\":\"u%ld@example.test\",\"n\":%ld}}",
                       i, i, i)
            : snprintf(line, sizeof line, "{\"user\":\"u%ld\",\"name\":\"app/account.created\","
                                          "\"data\":{\"email\":\"u%ld@example.test\"}}", i, i);
        B.sent[i] = uv_hrtime();
        if (journey_ingest(B.host, line, (size_t)len, on_acked, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "workload: %s\n", journey_error(B.host));
            exit(1);
        }
    }
    if (B.next == B.n)
        uv_idle_stop(idle);
}


static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y);
}


/* Sorts the n values and writes p50, p99 and max in milliseconds. */
static void percentiles(uint64_t *values, long n, double *p50, double *p99, double *max)
{
    qsort(values, (size_t)n, sizeof *values, compare_u64);
    *p50 = n > 0 ? (double)values[(n - 1) / 2] / 1e6 : 0;
    *p99 = n > 0 ? (double)values[(long)((double)(n - 1) * 0.99)] / 1e6 : 0;
    *max = n > 0 ? (double)values[n - 1] / 1e6 : 0;
}


static void run_until(int (*done)(void))
{
    while (!done())
        uv_run(B.loop, UV_RUN_ONCE);
}


/* Writes "enable" or "disable" to perf's control FIFO, when there is
 * one. */
static void perf_control(const char *command)
{
    const char *path = getenv("WORKLOAD_PERF_CTL");
    if (path == NULL)
        return;
    FILE *fifo = fopen(path, "w");
    if (fifo == NULL) {
        perror("workload: WORKLOAD_PERF_CTL");
        return;
    }
    fprintf(fifo, "%s\n", command);
    fclose(fifo);
}


typedef struct collected {
    long rss_kib;             /* VmRSS after the collection and the trim */
    double lua_bytes_per_run; /* the Lua state's growth since the start, per run */
} collected;


/* Collects the Lua state's garbage and returns the memory malloc keeps
 * unused to the kernel, because an in-process system with a garbage
 * collector is measured after a forced collection. */
static collected collect(size_t lua_before)
{
    collected c;
    size_t lua_bytes = journey_collect_garbage(B.host);
    malloc_trim(0);
    c.rss_kib = rss_kib();
    c.lua_bytes_per_run = ((double)lua_bytes - (double)lua_before) / (double)B.n;
    return c;
}


static int all_acked(void) { return B.acks >= B.n; }
static int all_observed(void) { return B.observations >= B.n && journey_live_runs(B.host) == 0; }


int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "w1") != 0 && strcmp(argv[1], "w2") != 0)) {
        fprintf(stderr, "usage: workload w1|w2 N STORE [BATCH] [RESIDENT]\n");
        return 2;
    }
    B.w2 = strcmp(argv[1], "w2") == 0;
    B.n = atol(argv[2]);
    B.batch = argc > 4 ? atol(argv[4]) : 1000;
    const char *store = argv[3];
    size_t resident = argc > 5 ? (size_t)atol(argv[5]) : 0;
    B.sent = calloc((size_t)B.n, sizeof *B.sent);
    B.observed = calloc((size_t)B.n, sizeof *B.observed);
    B.acked = calloc((size_t)B.n, sizeof *B.acked);
    B.loop = uv_default_loop();

    const char *script = B.w2 ? w2_script : w1_script;
    B.host = bench_host_new(B.loop, store, script, resident, "workload");
    if (B.host == NULL)
        return 1;
    journey_register_action(B.host, "observed", on_observed, NULL);
    journey_start(B.host);
    uv_idle_init(B.loop, &B.feeder);

    long rss_before = rss_kib();
    size_t lua_before = journey_collect_garbage(B.host);
    uint64_t start = uv_hrtime();
    B.phase = 0;
    uv_idle_start(&B.feeder, feed);
    if (B.w2) {
        run_until(all_acked);
        long rss_started = rss_kib();
        double start_s = (double)(uv_hrtime() - start) / 1e9;
        run_until(all_observed);
        double wall_s = (double)(uv_hrtime() - start) / 1e9;
        for (long i = 0; i < B.n; i++) {
            uint64_t due = B.sent[i] + 1000000000ULL;
            B.observed[i] = B.observed[i] > due ? B.observed[i] - due : 0;
        }
        double p50, p99, max;
        percentiles(B.observed, B.n, &p50, &p99, &max);
        printf("{\"workload\":\"W2\",\"system\":\"journey\",\"mode\":\"in-process\",\"store\":\"%s\","
               "\"resident_runs\":%zu,\"n\":%ld,\"start_s\":%.3f,\"starts_per_s\":%.0f,\"wall_s\":%.3f,"
               "\"overhead_s\":%.3f,\"rss_kib_sleeping\":%ld,\"bytes_per_sleeping_run\":%.0f,"
               "\"overshoot_ms_p50\":%.3f,\"overshoot_ms_p99\":%.3f,\"overshoot_ms_max\":%.3f}\n",
               store, resident, B.n, start_s, (double)B.n / start_s, wall_s, wall_s - 1.0, rss_started,
               (double)(rss_started - rss_before) * 1024.0 / (double)B.n, p50, p99, max);
    } else {
        run_until(all_acked);
        double start_s = (double)(uv_hrtime() - start) / 1e9;
        long waiting = (long)journey_live_runs(B.host);
        long rss_waiting = rss_kib();
        collected c = collect(lua_before);

        B.phase = 1;
        B.next = 0;
        B.acks = 0;
        perf_control("enable");
        uint64_t first_sent = uv_hrtime();
        uv_idle_start(&B.feeder, feed);
        run_until(all_observed);
        run_until(all_acked);
        perf_control("disable");
        uint64_t last = 0;
        for (long i = 0; i < B.n; i++)
            if (B.observed[i] > last)
                last = B.observed[i];
        double wall_s = (double)(last - first_sent) / 1e9;

        for (long i = 0; i < B.n; i++) {
            B.observed[i] -= B.sent[i];
            B.acked[i] -= B.sent[i];
        }
        double w50, w99, wmax, a50, a99, amax;
        percentiles(B.observed, B.n, &w50, &w99, &wmax);
        percentiles(B.acked, B.n, &a50, &a99, &amax);
        printf("{\"workload\":\"W1\",\"system\":\"journey\",\"mode\":\"in-process\",\"store\":\"%s\","
               "\"resident_runs\":%zu,\"n\":%ld,\"start_s\":%.3f,\"starts_per_s\":%.0f,\"waiting\":%ld,"
               "\"rss_kib_before\":%ld,\"rss_kib_waiting\":%ld,\"bytes_per_waiting_run\":%.0f,"
               "\"rss_kib_collected\":%ld,\"bytes_per_waiting_run_collected\":%.0f,"
               "\"lua_bytes_per_waiting_run\":%.0f,\"wall_s\":%.3f,\"completed_per_s\":%.0f,\"wake_ms_p50\":%.3f,"
               "\"wake_ms_p99\":%.3f,\"wake_ms_max\":%.3f,\"ack_ms_p50\":%.3f,\"ack_ms_p99\":%.3f,"
               "\"ack_ms_max\":%.3f}\n",
               store, resident, B.n, start_s, (double)B.n / start_s, waiting, rss_before, rss_waiting,
               (double)(rss_waiting - rss_before) * 1024.0 / (double)B.n, c.rss_kib,
               (double)(c.rss_kib - rss_before) * 1024.0 / (double)B.n, c.lua_bytes_per_run, wall_s,
               (double)B.n / wall_s, w50, w99, wmax, a50, a99, amax);
    }

    uv_close((uv_handle_t *)&B.feeder, NULL);
    journey_host_close(B.host, NULL, NULL);
    uv_run(B.loop, UV_RUN_DEFAULT);
    uv_loop_close(B.loop);
    free(B.sent);
    free(B.observed);
    free(B.acked);
    return 0;
}
