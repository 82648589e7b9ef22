/*
 * Runs the store conformance suite against the memory store and the
 * SQLite store. The SQLite store lives in a temporary directory that is
 * removed at the end, with the -wal, -shm and .lock files next to it.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "run.h"
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


/* A store as schema version 1 wrote it, with deadlines in a table of
 * their own: run 1 waits until 5000, run 2 has ended, run 3 runs. */
static const char version_1_store_sql[] =
    "PRAGMA application_id = 1246907993; PRAGMA user_version = 1;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, user TEXT NOT NULL, id TEXT,"
    " name TEXT NOT NULL, ts INTEGER NOT NULL, data TEXT NOT NULL, user_attributes TEXT,"
    " origin_run INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX events_user_id ON events (user, id) WHERE id IS NOT NULL;"
    "CREATE INDEX events_user_seq ON events (user, seq);"
    "CREATE INDEX events_ts ON events (ts);"
    "CREATE TABLE users (id TEXT PRIMARY KEY, attributes TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, journey TEXT NOT NULL, user TEXT NOT NULL,"
    " key TEXT, trigger_seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL DEFAULT 0, result TEXT,"
    " error TEXT, wait_names TEXT);"
    "CREATE INDEX runs_live ON runs (status) WHERE status < 3;"
    "CREATE INDEX runs_user ON runs (user, id);"
    "CREATE INDEX runs_journey ON runs (journey, id);"
    "CREATE INDEX runs_ended ON runs (ended_at) WHERE status >= 3;"
    "CREATE TABLE journal (run_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, name TEXT NOT NULL, at INTEGER NOT NULL,"
    " result TEXT NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE deadlines (run_id INTEGER PRIMARY KEY, at INTEGER NOT NULL);"
    "CREATE INDEX deadlines_at ON deadlines (at, run_id);"
    "INSERT INTO events VALUES (1, 'u1', NULL, 'app/signed_up', 100, '{}', NULL, 0);"
    "INSERT INTO runs VALUES (1, 'welcome', 'u1', NULL, 1, 1, 100, 0, NULL, NULL, 'app/paid');"
    "INSERT INTO runs VALUES (2, 'welcome', 'u1', NULL, 1, 3, 100, 200, '{}', NULL, NULL);"
    "INSERT INTO runs VALUES (3, 'welcome', 'u1', NULL, 1, 0, 100, 0, NULL, NULL, NULL);"
    "INSERT INTO deadlines VALUES (1, 5000);";


static int find_deadline(const jy_run_record *record, void *ctx)
{
    jy_time *deadlines = ctx;
    if (record->id <= 3)
        deadlines[record->id] = record->deadline;
    return 0;
}


/* Opening a store of schema version 1 moves its deadlines into runs and
 * keeps every live run's deadline. */
static void version_1_store_is_moved_on(const char *path)
{
    sqlite3 *db = NULL;
    CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(db, version_1_store_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    for (int open = 0; open < 2; open++) {
        jy_error err;
        jy_error_clear(&err);
        jy_store *store = jy_store_sqlite_open(path, JY_SQLITE_SYNC_FULL, &err);
        CHECK(store != NULL);
        if (store == NULL) {
            fprintf(stderr, "    opening the version 1 store failed: %s\n", err.message);
            return;
        }
        jy_time deadlines[4] = {0, 0, 0, 0};
        CHECK_INT_EQ(store->ops->run_scan_live(store, find_deadline, deadlines), 0);
        CHECK_INT_EQ(deadlines[1], 5000);
        CHECK_INT_EQ(deadlines[2], 0);
        CHECK_INT_EQ(deadlines[3], JY_TIME_MAX);
        CHECK_INT_EQ(store->ops->run_max_id(store), 3);
        store->ops->destroy(store);
    }

    CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT count(*) FROM sqlite_master"
                                        "  WHERE name = 'deadlines')", -1, &stmt, NULL),
                 SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    CHECK_INT_EQ(sqlite3_column_int(stmt, 0), 2);
    CHECK_INT_EQ(sqlite3_column_int(stmt, 1), 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
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
    version_1_store_is_moved_on(location.path);
    CHECK_INT_EQ(remove_sqlite_files(location.path), 0);
    CHECK_INT_EQ(rmdir(location.dir), 0);

    int rc = check_summary("test_store_conformance cleanup");
    return failures == 0 ? rc : 1;
}
