/*
 * What the in-process benchmarks share: a libjourney host on the
 * caller's loop with one script given as Lua text, and the process's
 * resident memory.
 */
#ifndef JOURNEY_BENCH_HOST_H
#define JOURNEY_BENCH_HOST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

/* Creates a host on loop over store and loads script, which is written
 * to a temporary file for journey_load and removed again; resident_runs
 * goes to the host's config (0: no limit). Register actions, then call
 * journey_start. On failure prints the reason after program's name and
 * returns NULL. */
static inline journey_host *bench_host_new(uv_loop_t *loop, const char *store,
                                           const char *script, size_t resident_runs,
                                           const char *program)
{
    char path[] = "/tmp/journey-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, script, strlen(script)) != (ssize_t)strlen(script)) {
        fprintf(stderr, "%s: cannot write the script to %s\n", program, path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);

    journey_config config;
    journey_config_init(&config);
    config.loop = loop;
    config.store = store;
    config.resident_runs = resident_runs;
    journey_host *host = NULL;
    char error[256];
    if (journey_host_new(&config, &host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "%s: %s\n", program, error);
        remove(path);
        return NULL;
    }
    int loaded = journey_load(host, path);
    remove(path);
    if (loaded != JOURNEY_OK) {
        fprintf(stderr, "%s: %s\n", program, journey_error(host));
        journey_host_close(host, NULL, NULL);
        return NULL;
    }
    return host;
}

/* Returns the process's resident memory (VmRSS) in KiB, 0 when
 * /proc/self/status cannot be read. */
static inline long bench_rss_kib(void)
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

#endif
