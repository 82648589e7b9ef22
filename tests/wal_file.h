/*
 * What the tests that slow down or fail the SQLite store's WAL syncs
 * share: telling a descriptor of the WAL file apart.
 */
#ifndef JOURNEY_TESTS_WAL_FILE_H
#define JOURNEY_TESTS_WAL_FILE_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Tells whether fd is open on a file whose name ends in "-wal". */
static inline int is_wal_file(int fd)
{
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 4)
        return 0;
    target[n] = '\0';
    return strcmp(target + n - 4, "-wal") == 0;
}

#endif
