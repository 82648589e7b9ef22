/*
 * The W1 (wait-and-resume) and W2 (sleep) workloads, in process through
 * journey.h, on the real clock. Prints one JSON line per point.
 *
 *   workload w1|w2 N STORE [BATCH] [RESIDENT] [SHARDS]
 *
 * W1: N runs each wait for app/account.created matched on the user's
 * e-mail (timeout 1 hour); once all wait, the N events are delivered in
 * batches of BATCH per loop turn (default 1000). A run observes its
 * event with j.call("observed") right after the wait returns.
 * W2: N runs each sleep 1 s, then j.call("observed").
 * RESIDENT is the host's resident limit (default 0, no limit): past it,
 * suspended runs wait without their Lua coroutine and are rebuilt by
 * replay when they wake.
 * SHARDS (default 1) splits the users over that many hosts, each on its
 * own thread with its own loop and store, as an embedder would use more
 * cores: user i goes to host i % SHARDS. A SQLite store "sqlite:PATH"
 * becomes one file per host, PATH.0, PATH.1 and so on.
 *
 * Figures: start phase time and rate; RSS and bytes per waiting run
 * (VmRSS after all wait minus before the start, over N); for W1 also
 * the same after a full Lua garbage collection and malloc_trim, with
 * the Lua state's own bytes per run after that collection. W2 collects
 * nothing, because a collection would delay the runs it measures. For
 * W1 the wall time from the first event sent to the last run completed,
 * runs completed per second, wake latency (sent to observed) and
 * acknowledgement latency (sent to the ingest callback, which fires
 * after the group commit); for W2 the overshoot past 1 s.
 *
 * With WORKLOAD_PERF_CTL set to the control FIFO of
 * `perf record --control=fifo:CTL,ACK -D -1`, it enables the profiler
 * for the delivery phase of W1 alone.
 */
#include <malloc.h>
#include <pthread.h>
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

#define MAX_SHARDS 16

/* One host with its loop and thread, and its share of the users. */
typedef struct shard {
    int index;
    char store[512];
    uv_loop_t loop;
    journey_host *host;
    pthread_t thread;
    long users;            /* users i with i % shards == index */
    long next;             /* next user to start or deliver */
    int phase;             /* 0 start, 1 deliver */
    long acks;
    long observations;
    long waiting;          /* live runs once all started */
    size_t lua_before;     /* the Lua state's bytes before the start */
    size_t lua_collected;  /* and after the collection with all waiting */
    uv_idle_t feeder;
} shard;

/* What the shards share. Each user's slot in the arrays is written by
 * its own shard only. */
static struct {
    int w2;
    long n;
    long batch;
    size_t resident;
    int shard_count;
    shard shards[MAX_SHARDS];
    pthread_barrier_t barrier;
    uint64_t *sent;        /* hrtime of each user's send */
    uint64_t *observed;
    uint64_t *acked;
} B;


static void on_observed(void *ctx, journey_call *call, const char *args_json)
{
    shard *s = ctx;
    const char *p = strstr(args_json, "\"n\":");
    long i = p != NULL ? atol(p + 4) : -1;
    if (i >= 0 && i < B.n && B.observed[i] == 0) {
        B.observed[i] = uv_hrtime();
        s->observations++;
    }
    journey_call_done(call, NULL, NULL);
}


static void on_acked(void *ctx, int status, uint64_t seq)
{
    (void)seq;
    long i = (long)(intptr_t)ctx;
    shard *s = &B.shards[i % B.shard_count];
    if (status == JOURNEY_OK && s->phase == 1)
        B.acked[i] = uv_hrtime();
    s->acks++;
}


/* Feeds one batch per loop turn, so commits group a batch each. */
static void feed(uv_idle_t *idle)
{
    shard *s = idle->data;
    char line[256];
    for (long k = 0; k < B.batch && s->next < s->users; k++, s->next++) {
        long i = s->next * B.shard_count + s->index;
        int len = s->phase == 0
            ? snprintf(line, sizeof line, "{\"user\":\"u%ld\",\"name\":\"app/started\","
                                          "\"data\":{\"email\":\"u%ld@example.test\",\"n\":%ld}}",
                       i, i, i)
            : snprintf(line, sizeof line, "{\"user\":\"u%ld\",\"name\":\"app/account.created\","
                                          "\"data\":{\"email\":\"u%ld@example.test\"}}", i, i);
        B.sent[i] = uv_hrtime();
        if (journey_ingest(s->host, line, (size_t)len, on_acked, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "workload: %s\n", journey_error(s->host));
            exit(1);
        }
    }
    if (s->next == s->users)
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


static int all_acked(const shard *s) { return s->acks >= s->users; }

static int all_observed(const shard *s)
{
    return s->observations >= s->users && journey_live_runs(s->host) == 0;
}


static void run_until(shard *s, int (*done)(const shard *))
{
    while (!done(s))
        uv_run(&s->loop, UV_RUN_ONCE);
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


static void start_phase(shard *s, int phase)
{
    s->phase = phase;
    s->next = 0;
    s->acks = 0;
    uv_idle_start(&s->feeder, feed);
}


/* The life of one shard. The barriers line the phases up across shards,
 * so the main thread reads memory and clocks between them:
 * 1 hosts ready, 2 all runs started, 3 (W1) Lua collected,
 * 4 (W1) delivery begins, 5 all runs observed. */
static void *shard_main(void *arg)
{
    shard *s = arg;
    const char *script = B.w2 ? w2_script : w1_script;

    uv_loop_init(&s->loop);
    s->host = bench_host_new(&s->loop, s->store, script, B.resident, "workload");
    if (s->host == NULL)
        exit(1);
    journey_register_action(s->host, "observed", on_observed, s);
    journey_start(s->host);
    uv_idle_init(&s->loop, &s->feeder);
    s->feeder.data = s;
    s->lua_before = journey_collect_garbage(s->host);
    pthread_barrier_wait(&B.barrier);

    start_phase(s, 0);
    if (B.w2) {
        run_until(s, all_acked);
        pthread_barrier_wait(&B.barrier);
        run_until(s, all_observed);
    } else {
        run_until(s, all_acked);
        s->waiting = (long)journey_live_runs(s->host);
        pthread_barrier_wait(&B.barrier);
        s->lua_collected = journey_collect_garbage(s->host);
        pthread_barrier_wait(&B.barrier);
        pthread_barrier_wait(&B.barrier);
        start_phase(s, 1);
        run_until(s, all_observed);
        run_until(s, all_acked);
    }
    pthread_barrier_wait(&B.barrier);

    uv_close((uv_handle_t *)&s->feeder, NULL);
    journey_host_close(s->host, NULL, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    return NULL;
}


/* Gives each shard its store: PATH.k for SQLite when there are several. */
static void name_stores(const char *store)
{
    for (int k = 0; k < B.shard_count; k++) {
        shard *s = &B.shards[k];
        s->index = k;
        s->users = B.n / B.shard_count + (k < B.n % B.shard_count ? 1 : 0);
        if (B.shard_count > 1 && strncmp(store, "sqlite:", 7) == 0)
            snprintf(s->store, sizeof s->store, "%s.%d", store, k);
        else
            snprintf(s->store, sizeof s->store, "%s", store);
    }
}


/* Reads W2's figures between the shards' phases. */
static void report_w2(const char *store, uint64_t start, long rss_before)
{
    pthread_barrier_wait(&B.barrier);
    long rss_started = bench_rss_kib();
    double start_s = (double)(uv_hrtime() - start) / 1e9;
    pthread_barrier_wait(&B.barrier);
    double wall_s = (double)(uv_hrtime() - start) / 1e9;

    for (long i = 0; i < B.n; i++) {
        uint64_t due = B.sent[i] + 1000000000ULL;
        B.observed[i] = B.observed[i] > due ? B.observed[i] - due : 0;
    }
    double p50, p99, max;
    percentiles(B.observed, B.n, &p50, &p99, &max);
    printf("{\"workload\":\"W2\",\"system\":\"journey\",\"mode\":\"in-process\",\"store\":\"%s\","
           "\"resident_runs\":%zu,\"shards\":%d,\"n\":%ld,\"start_s\":%.3f,\"starts_per_s\":%.0f,"
           "\"wall_s\":%.3f,\"overhead_s\":%.3f,\"rss_kib_sleeping\":%ld,"
           "\"bytes_per_sleeping_run\":%.0f,\"overshoot_ms_p50\":%.3f,\"overshoot_ms_p99\":%.3f,"
           "\"overshoot_ms_max\":%.3f}\n",
           store, B.resident, B.shard_count, B.n, start_s, (double)B.n / start_s, wall_s,
           wall_s - 1.0, rss_started, (double)(rss_started - rss_before) * 1024.0 / (double)B.n,
           p50, p99, max);
}


/* Reads W1's figures between the shards' phases. Once all runs wait,
 * memory is read twice: as found, and after each host collected its Lua
 * garbage on its own thread and malloc_trim returned unused memory to
 * the kernel. An in-process system with a garbage collector is measured
 * after a forced collection. */
static void report_w1(const char *store, uint64_t start, long rss_before)
{
    pthread_barrier_wait(&B.barrier);
    double start_s = (double)(uv_hrtime() - start) / 1e9;
    long waiting = 0;
    for (int k = 0; k < B.shard_count; k++)
        waiting += B.shards[k].waiting;
    long rss_waiting = bench_rss_kib();
    pthread_barrier_wait(&B.barrier);
    malloc_trim(0);
    long rss_collected = bench_rss_kib();
    double lua_bytes = 0;
    for (int k = 0; k < B.shard_count; k++)
        lua_bytes += (double)B.shards[k].lua_collected - (double)B.shards[k].lua_before;

    perf_control("enable");
    uint64_t first_sent = uv_hrtime();
    pthread_barrier_wait(&B.barrier);
    pthread_barrier_wait(&B.barrier);
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
           "\"resident_runs\":%zu,\"shards\":%d,\"n\":%ld,\"start_s\":%.3f,\"starts_per_s\":%.0f,"
           "\"waiting\":%ld,\"rss_kib_before\":%ld,\"rss_kib_waiting\":%ld,"
           "\"bytes_per_waiting_run\":%.0f,\"rss_kib_collected\":%ld,"
           "\"bytes_per_waiting_run_collected\":%.0f,\"lua_bytes_per_waiting_run\":%.0f,"
           "\"wall_s\":%.3f,\"completed_per_s\":%.0f,\"wake_ms_p50\":%.3f,\"wake_ms_p99\":%.3f,"
           "\"wake_ms_max\":%.3f,\"ack_ms_p50\":%.3f,\"ack_ms_p99\":%.3f,\"ack_ms_max\":%.3f}\n",
           store, B.resident, B.shard_count, B.n, start_s, (double)B.n / start_s, waiting,
           rss_before, rss_waiting, (double)(rss_waiting - rss_before) * 1024.0 / (double)B.n,
           rss_collected, (double)(rss_collected - rss_before) * 1024.0 / (double)B.n,
           lua_bytes / (double)B.n, wall_s, (double)B.n / wall_s, w50, w99, wmax, a50, a99,
           amax);
}


int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "w1") != 0 && strcmp(argv[1], "w2") != 0)) {
        fprintf(stderr, "usage: workload w1|w2 N STORE [BATCH] [RESIDENT] [SHARDS]\n");
        return 2;
    }
    B.w2 = strcmp(argv[1], "w2") == 0;
    B.n = atol(argv[2]);
    const char *store = argv[3];
    B.batch = argc > 4 ? atol(argv[4]) : 1000;
    B.resident = argc > 5 ? (size_t)atol(argv[5]) : 0;
    B.shard_count = argc > 6 ? atoi(argv[6]) : 1;
    if (B.n <= 0 || B.batch <= 0 || B.shard_count < 1 || B.shard_count > MAX_SHARDS) {
        fprintf(stderr, "workload: N and BATCH must be 1 or more, SHARDS 1 to %d\n",
                MAX_SHARDS);
        return 2;
    }
    B.sent = calloc((size_t)B.n, sizeof *B.sent);
    B.observed = calloc((size_t)B.n, sizeof *B.observed);
    B.acked = calloc((size_t)B.n, sizeof *B.acked);
    name_stores(store);
    pthread_barrier_init(&B.barrier, NULL, (unsigned)B.shard_count + 1);

    for (int k = 0; k < B.shard_count; k++)
        pthread_create(&B.shards[k].thread, NULL, shard_main, &B.shards[k]);
    pthread_barrier_wait(&B.barrier);
    long rss_before = bench_rss_kib();
    uint64_t start = uv_hrtime();

    if (B.w2)
        report_w2(store, start, rss_before);
    else
        report_w1(store, start, rss_before);

    for (int k = 0; k < B.shard_count; k++)
        pthread_join(B.shards[k].thread, NULL);
    pthread_barrier_destroy(&B.barrier);
    free(B.sent);
    free(B.observed);
    free(B.acked);
    return 0;
}
