/*
 * A preload library for tests: delays every fdatasync of a file whose
 * name ends in "-wal" by SLOW_WAL_SYNC_MS milliseconds (default 1000),
 * then calls the C library's fdatasync. A test preloads it into
 * journey serve to widen the time between a group's write and its sync.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wal_file.h"

int fdatasync(int fd);


int fdatasync(int fd)
{
    static int (*real_fdatasync)(int);
    if (real_fdatasync == NULL)
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (is_wal_file(fd)) {
        const char *text = getenv("SLOW_WAL_SYNC_MS");
        long ms = text != NULL ? atol(text) : 1000;
        struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&delay, NULL);
    }
    return real_fdatasync(fd);
}
