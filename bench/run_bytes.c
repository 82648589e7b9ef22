/*
 * What a waiting run costs in memory. Starts N runs of the W1 journey
 * through journey.h, each waiting for app/account.created matched on the
 * user's e-mail with a timeout of 1 hour. Once all N wait, it runs a
 * full Lua garbage collection, prints one JSON line with the heap, Lua
 * and RSS growth per run, and exits at once with _exit. So a heap
 * profiler that reports memory still allocated at exit (heaptrack's
 * "leaked") finds exactly the waiting runs, without garbage.
 *
 *   run_bytes N STORE [RESIDENT]
 *
 * RESIDENT is the host's resident limit (default 0, no limit): with one,
 * the runs past it wait without their Lua coroutine.
 *
 * heap bytes come from glibc's mallinfo2: uordblks (bytes in use in
 * chunks, the chunk headers included) plus hblkhd (bytes in mmap'ed
 * chunks). Lua allocates through malloc as well, so they cover the Lua
 * state, the host and the store.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

#include "bench_host.h"

static const char script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'w1', on = 'app/started', run = function(j, e)\n"
    "  local created = j.wait_for('app/account.created',\n"
    "                             {match = {email = e.data.email}, timeout = '1h'})\n"
    "  j.call('observed', {n = e.data.n})\n"
    "  return {result = created ~= nil}\n"
    "end }\n";

static long acks;


static void on_acked(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    (void)seq;
    if (status != JOURNEY_OK) {
        fprintf(stderr, "run_bytes: an event was not stored (status %d)\n", status);
        _exit(1);
    }
    acks++;
}


static size_t heap_bytes(void)
{
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}


int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: run_bytes N STORE [RESIDENT]\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *store = argv[2];
    size_t resident = argc > 3 ? (size_t)atol(argv[3]) : 0;
    uv_loop_t *loop = uv_default_loop();

    journey_host *host = bench_host_new(loop, store, script, resident, "run_bytes");
    if (host == NULL)
        return 1;
    if (journey_start(host) != JOURNEY_OK) {
        fprintf(stderr, "run_bytes: %s\n", journey_error(host));
        return 1;
    }
    uv_run(loop, UV_RUN_NOWAIT);

    size_t lua_before = journey_collect_garbage(host);
    size_t heap_before = heap_bytes();
    long rss_before = bench_rss_kib();

    /* 1,000 events per loop turn, so each commit covers that many. */
    char line[256];
    for (long i = 0; i < n;) {
        for (long k = 0; k < 1000 && i < n; k++, i++) {
            int len = snprintf(line, sizeof line,
                               "{\"user\":\"u%ld\",\"name\":\"app/started\","
                               "\"data\":{\"email\":\"u%ld@example.test\",\"n\":%ld}}", i, i, i);
            if (journey_ingest(host, line, (size_t)len, on_acked, NULL) != JOURNEY_OK) {
                fprintf(stderr, "run_bytes: %s\n", journey_error(host));
                return 1;
            }
        }
        uv_run(loop, UV_RUN_NOWAIT);
    }
    while (acks < n)
        uv_run(loop, UV_RUN_NOWAIT);

    uint64_t waiting = journey_live_runs(host);
    size_t lua_waiting = journey_collect_garbage(host);
    malloc_trim(0);
    size_t heap_waiting = heap_bytes();
    long rss_waiting = bench_rss_kib();
    double per_run = n > 0 ? 1.0 / (double)n : 0;
    printf("{\"n\":%ld,\"store\":\"%s\",\"waiting\":%llu,\"heap_bytes_before\":%zu,"
           "\"heap_bytes_waiting\":%zu,\"heap_bytes_per_waiting_run\":%.0f,"
           "\"lua_bytes_per_waiting_run\":%.0f,\"rss_kib_before\":%ld,\"rss_kib_waiting\":%ld,"
           "\"rss_bytes_per_waiting_run\":%.0f}\n",
           n, store, (unsigned long long)waiting, heap_before, heap_waiting,
           (double)(heap_waiting - heap_before) * per_run,
           ((double)lua_waiting - (double)lua_before) * per_run, rss_before, rss_waiting,
           (double)(rss_waiting - rss_before) * 1024.0 * per_run);
    fflush(stdout);
    _exit(waiting == (uint64_t)n ? 0 : 1);
}
