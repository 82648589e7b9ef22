/*
 * Runs the store conformance suite against the memory store and the
 * SQLite store. The SQLite store lives in a temporary directory that is
 * removed at the end, with the -wal, -shm and .lock files next to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "store_conformance.h"
#include "store_sqlite.h"

static const char *const sqlite_file_suffixes[] = {"", "-wal", "-shm", "-journal", ".lock"};
#define SQLITE_FILE_COUNT (sizeof sqlite_file_suffixes / sizeof sqlite_file_suffixes[0])

typedef struct sqlite_location {
    char dir[512];
    char path[600];
} sqlite_location;


static jy_store *open_memory(void *ctx, int fresh, jy_error *err)
{
    (void)ctx;
    (void)fresh;
    jy_store *store = jy_store_memory_new();
    if (store == NULL)
        jy_error_set(err, JY_ENOMEM, "out of memory creating the memory store");
    return store;
}


/* Deletes the database and every file SQLite and the store keep beside
 * it. Returns 0, or -1 when a file exists but cannot be deleted. */
static int remove_sqlite_files(const char *path)
{
    char file[700];
    int rc = 0;

    for (size_t i = 0; i < SQLITE_FILE_COUNT; i++) {
        snprintf(file, sizeof file, "%s%s", path, sqlite_file_suffixes[i]);
        if (unlink(file) != 0 && errno != ENOENT) {
            fprintf(stderr, "cannot delete %s: %s\n", file, strerror(errno));
            rc = -1;
        }
    }
    return rc;
}


static jy_store *open_sqlite(void *ctx, int fresh, jy_error *err)
{
    sqlite_location *location = ctx;

    if (fresh && remove_sqlite_files(location->path) != 0) {
        jy_error_set(err, JY_EIO, "cannot delete the old store files of %s", location->path);
        return NULL;
    }
    return jy_store_sqlite_open(location->path, JY_SQLITE_SYNC_FULL, err);
}


int main(void)
{
    int failures = 0;

    jy_store_conformance_backend memory = {
        .name = "memory",
        .open = open_memory,
        .durable = 0,
    };
    failures += jy_store_conformance_run(&memory);

    sqlite_location location;
    const char *tmp = getenv("TMPDIR");
    snprintf(location.dir, sizeof location.dir, "%s/journey-store-conformance-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    CHECK(mkdtemp(location.dir) != NULL);
    snprintf(location.path, sizeof location.path, "%s/store.db", location.dir);

    static const char *const sqlite_known_bugs[] = {NULL};
    jy_store_conformance_backend sqlite = {
        .name = "sqlite",
        .open = open_sqlite,
        .ctx = &location,
        .durable = 1,
        .expected_failures = sqlite_known_bugs,
    };
    failures += jy_store_conformance_run(&sqlite);

    CHECK_INT_EQ(remove_sqlite_files(location.path), 0);
    CHECK_INT_EQ(rmdir(location.dir), 0);

    int rc = check_summary("test_store_conformance cleanup");
    return failures == 0 ? rc : 1;
}
