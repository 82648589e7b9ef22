/*
 * A burst of deadlines under a steady stream of events, in process
 * through journey.h on the real clock. Prints one JSON line.
 *
 *   burst N STORE [RATE]
 *
 * N runs each sleep until the same instant T. From 1.5 s before T a
 * feeder ingests events that start no run until every run has ended and
 * 0.5 s more. Without RATE (or with 0) it ingests BATCH per loop turn,
 * as many as the loop takes. With RATE it offers RATE events per second
 * on a 1 ms timer, as clients would. A tick that comes late sends every
 * event that fell due since the last one. Each event's acknowledgement
 * latency counts from when it fell due, so a stalled loop shows as
 * latency instead of as fewer events sent.
 *
 * The figures show whether the loop keeps taking events while the N
 * deadlines drain:
 *   - the events acknowledged per second in the second before T and
 *     while the burst drains,
 *   - the drain time, from T to the last run ended,
 *   - the longest gap between two acknowledgements that overlaps the
 *     drain, which is the longest time the loop took no events,
 *   - with RATE, the acknowledgement latency p50, p99 and max of the
 *     events that fell due in the second before T and of those that
 *     fell due during the drain.
 *
 * T is 3 s plus N / 10,000 s after the first start, so starting must
 * run at 10,000 runs/s or more; "started_before_t" says whether it did.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

#include "bench_host.h"

#define BATCH 1000

static const char burst_script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'burst', on = 'app/burst', run = function(j, e)\n"
    "  j.sleep_until(e.data.at)\n"
    "end }\n";

typedef struct latencies {
    uint64_t *ns;
    size_t count;
    size_t capacity;
} latencies;

typedef struct burst {
    uv_loop_t *loop;
    journey_host *host;
    long n;
    long started;         /* start events ingested */
    long start_acks;
    int64_t t_ms;         /* the instant every run sleeps until */
    uint64_t t_ns;        /* T on the monotonic clock */
    long pings;           /* feeder events ingested */
    uint64_t last_ack_ns; /* the previous acknowledgement of a feeder event */
    uint64_t max_gap_ns;  /* during the drain */
    long acked_before;    /* in the second before T */
    long acked_during;    /* from T until the last run ended */
    uint64_t drained_ns;  /* when the last run ended, 0 until then */
    uint64_t stop_ns;     /* when the feeder stops */
    uv_idle_t feeder;
    uv_timer_t pinger;
    long rate;            /* offered events per second, 0 for as many as taken */
    uint64_t feed_ns;     /* when the offered stream began */
    latencies before;     /* of events due in the second before T */
    latencies during;     /* of events due from T until the drain ended */
} burst;

static burst B;


static void on_start_acked(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    (void)status;
    (void)seq;
    B.start_acks++;
}


static void add_latency(latencies *set, uint64_t ns)
{
    if (set->count == set->capacity) {
        set->capacity = set->capacity == 0 ? 65536 : set->capacity * 2;
        set->ns = realloc(set->ns, set->capacity * sizeof *set->ns);
        if (set->ns == NULL) {
            fprintf(stderr, "burst: out of memory\n");
            exit(1);
        }
    }
    set->ns[set->count++] = ns;
}


static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}


/* Sorts the set and prints its p50, p99 and max in milliseconds as JSON
 * members named PREFIX_p50 and so on. */
static void print_latencies(const char *prefix, latencies *set)
{
    size_t n = set->count;
    qsort(set->ns, n, sizeof *set->ns, compare_u64);
    double p50 = n > 0 ? (double)set->ns[(n - 1) / 2] / 1e6 : 0;
    double p99 = n > 0 ? (double)set->ns[(size_t)((double)(n - 1) * 0.99)] / 1e6 : 0;
    double max = n > 0 ? (double)set->ns[n - 1] / 1e6 : 0;
    printf(",\"%s_p50\":%.3f,\"%s_p99\":%.3f,\"%s_max\":%.3f", prefix, p50, prefix, p99,
           prefix, max);
}


/* The instant the offered stream makes event i due. */
static uint64_t due_ns(long i)
{
    return B.feed_ns + (uint64_t)((double)i * 1e9 / (double)B.rate);
}


static void on_ping_acked(void *ctx, int status, uint64_t seq)
{
    (void)seq;
    if (status != JOURNEY_OK)
        return;
    uint64_t now = uv_hrtime();
    if (B.rate > 0) {
        uint64_t due = due_ns((long)(uintptr_t)ctx);
        if (due >= B.t_ns - 1000000000ULL && due < B.t_ns)
            add_latency(&B.before, now - due);
        else if (due >= B.t_ns && (B.drained_ns == 0 || due < B.drained_ns))
            add_latency(&B.during, now - due);
    }
    if (now >= B.t_ns - 1000000000ULL && now < B.t_ns)
        B.acked_before++;
    if (now >= B.t_ns && B.drained_ns == 0)
        B.acked_during++;
    /* A gap counts when it ends after T and begins before the drain
     * ended, so a stall over the whole drain is measured too. */
    if (now >= B.t_ns && (B.drained_ns == 0 || B.last_ack_ns < B.drained_ns) &&
        B.last_ack_ns != 0 && now - B.last_ack_ns > B.max_gap_ns)
        B.max_gap_ns = now - B.last_ack_ns;
    B.last_ack_ns = now;
}


/* Notes when the last run ended, and stops the loop 0.5 s later. */
static void check_drained(void)
{
    uint64_t now = uv_hrtime();
    if (B.drained_ns == 0 && now >= B.t_ns && journey_live_runs(B.host) == 0) {
        B.drained_ns = now;
        B.stop_ns = now + 500000000ULL;
    }
    if (B.stop_ns != 0 && now >= B.stop_ns)
        uv_stop(B.loop);
}


/* Starts the runs, BATCH per loop turn. */
static void feed_starts(uv_idle_t *idle)
{
    char line[192];
    for (long k = 0; k < BATCH && B.started < B.n; k++, B.started++) {
        int len = snprintf(line, sizeof line,
                           "{\"user\":\"u%ld\",\"name\":\"app/burst\",\"data\":{\"at\":%.3f}}",
                           B.started, (double)B.t_ms / 1000.0);
        if (journey_ingest(B.host, line, (size_t)len, on_start_acked, NULL) != JOURNEY_OK) {
            fprintf(stderr, "burst: %s\n", journey_error(B.host));
            exit(1);
        }
    }
    if (B.started == B.n)
        uv_idle_stop(idle);
}


/* Ingests BATCH events that start no run, each loop turn. */
static void feed_pings(uv_idle_t *idle)
{
    (void)idle;
    char line[96];
    for (long k = 0; k < BATCH; k++, B.pings++) {
        int len = snprintf(line, sizeof line, "{\"user\":\"p%ld\",\"name\":\"app/ping\"}",
                           B.pings);
        journey_ingest(B.host, line, (size_t)len, on_ping_acked, NULL);
    }
    check_drained();
}


/* Ingests the events of the offered stream that fell due by now, at
 * most 10 ms worth per tick. A host slower than the offered rate then
 * falls behind, which shows as latency, instead of never leaving this
 * callback. */
static void feed_rate(uv_timer_t *timer)
{
    (void)timer;
    char line[96];
    uint64_t now = uv_hrtime();
    long limit = B.pings + (B.rate / 100 > 0 ? B.rate / 100 : 1);
    while (B.pings < limit && due_ns(B.pings) <= now) {
        int len = snprintf(line, sizeof line, "{\"user\":\"p%ld\",\"name\":\"app/ping\"}",
                           B.pings);
        journey_ingest(B.host, line, (size_t)len, on_ping_acked, (void *)(uintptr_t)B.pings);
        B.pings++;
    }
    check_drained();
}


static void on_ping_time(uv_timer_t *timer)
{
    if (B.rate > 0) {
        B.feed_ns = uv_hrtime();
        uv_timer_start(timer, feed_rate, 1, 1);
        return;
    }
    uv_idle_start(&B.feeder, feed_pings);
}


int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: burst N STORE [RATE]\n");
        return 2;
    }
    B.n = atol(argv[1]);
    B.rate = argc > 3 ? atol(argv[3]) : 0;
    const char *store = argv[2];
    B.loop = uv_default_loop();

    B.host = bench_host_new(B.loop, store, burst_script, 0, "burst");
    if (B.host == NULL)
        return 1;
    journey_start(B.host);

    uint64_t offset_ms = 3000 + (uint64_t)B.n / 10;
    B.t_ms = journey_now(B.host) + (int64_t)offset_ms;
    B.t_ns = uv_hrtime() + offset_ms * 1000000ULL;
    uv_idle_init(B.loop, &B.feeder);
    uv_timer_init(B.loop, &B.pinger);
    uv_idle_start(&B.feeder, feed_starts);
    while (B.start_acks < B.n)
        uv_run(B.loop, UV_RUN_ONCE);
    uint64_t started_ns = uv_hrtime();
    int started_before_t = started_ns + 1500000000ULL <= B.t_ns;

    /* The feeder takes over from the starts 1.5 s before T. */
    uint64_t until_pings = started_ns < B.t_ns - 1500000000ULL
                               ? (B.t_ns - 1500000000ULL - started_ns) / 1000000ULL
                               : 0;
    uv_timer_start(&B.pinger, on_ping_time, until_pings, 0);
    uv_run(B.loop, UV_RUN_DEFAULT);

    double drain_s = (double)(B.drained_ns - B.t_ns) / 1e9;
    printf("{\"bench\":\"deadline_burst\",\"store\":\"%s\",\"n\":%ld,\"started_before_t\":%s,"
           "\"events_per_s_before\":%ld,\"drain_s\":%.3f,\"events_per_s_during\":%.0f,"
           "\"max_ack_gap_ms\":%.1f,\"deadlines_per_s\":%.0f,\"offered_per_s\":%ld",
           store, B.n, started_before_t ? "true" : "false", B.acked_before, drain_s,
           drain_s > 0 ? (double)B.acked_during / drain_s : 0, (double)B.max_gap_ns / 1e6,
           drain_s > 0 ? (double)B.n / drain_s : 0, B.rate);
    if (B.rate > 0) {
        print_latencies("ack_ms_before", &B.before);
        print_latencies("ack_ms_during", &B.during);
    }
    printf("}\n");
    free(B.before.ns);
    free(B.during.ns);

    uv_close((uv_handle_t *)&B.feeder, NULL);
    uv_close((uv_handle_t *)&B.pinger, NULL);
    journey_host_close(B.host, NULL, NULL);
    uv_run(B.loop, UV_RUN_DEFAULT);
    uv_loop_close(B.loop);
    return 0;
}
