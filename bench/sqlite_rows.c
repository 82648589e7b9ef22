/*
 * What a row costs SQLite with one row per INSERT against several rows
 * per INSERT, as the store's writer thread writes them. Inserts N rows
 * into a table shaped like the store's runs table, with its partial
 * index on live runs. With INDEXES 1 the table also has its indexes on
 * user and on journey. A transaction ends with the first statement that
 * brings it to 1,000 rows. Prints one JSON line with the rows per
 * second.
 *
 *   sqlite_rows PATH N ROWS_PER_STATEMENT INDEXES
 *
 * PATH is removed first, with its -wal file. The connection runs in WAL
 * mode at synchronous = NORMAL, as the store's does.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRANSACTION_ROWS 1000
#define VALUES_PER_ROW 12
#define MAX_ROWS_PER_STATEMENT 64

static const char schema[] =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, journey TEXT NOT NULL, user TEXT NOT NULL,"
    " key TEXT, trigger_seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL DEFAULT 0, result TEXT,"
    " error TEXT, wait_names TEXT, deadline INTEGER);"
    "CREATE INDEX runs_live ON runs (status) WHERE status < 3;";

static const char indexes[] =
    "CREATE INDEX runs_user ON runs (user, id);"
    "CREATE INDEX runs_journey ON runs (journey, id);";


static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}


static int fail(sqlite3 *db, const char *step)
{
    fprintf(stderr, "sqlite_rows: %s failed: %s\n", step, sqlite3_errmsg(db));
    return 1;
}


/* Binds the values of run id as the store binds a new waiting run. */
static void bind_run(sqlite3_stmt *stmt, int first, long id)
{
    char user[32];
    snprintf(user, sizeof user, "u%ld", id);
    sqlite3_bind_int64(stmt, first + 1, id);
    sqlite3_bind_text(stmt, first + 2, "w1", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, first + 3, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, first + 4, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, first + 5, id);
    sqlite3_bind_int64(stmt, first + 6, 1);
    sqlite3_bind_int64(stmt, first + 7, 1700000000000LL + id);
    sqlite3_bind_int64(stmt, first + 8, 0);
    sqlite3_bind_null(stmt, first + 9);
    sqlite3_bind_null(stmt, first + 10);
    sqlite3_bind_text(stmt, first + 11, "app/account.created", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, first + 12, 1700003600000LL + id);
}


int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: sqlite_rows PATH N ROWS_PER_STATEMENT INDEXES\n");
        return 2;
    }
    const char *path = argv[1];
    long n = atol(argv[2]);
    int per_statement = atoi(argv[3]);
    int with_indexes = atoi(argv[4]) != 0;
    if (per_statement < 1 || per_statement > MAX_ROWS_PER_STATEMENT || n < per_statement ||
        n % per_statement != 0) {
        fprintf(stderr, "sqlite_rows: give ROWS_PER_STATEMENT from 1 to %d, and N a multiple "
                        "of it\n", MAX_ROWS_PER_STATEMENT);
        return 2;
    }

    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", path);
    remove(path);
    remove(wal);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                       SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return fail(db, "opening the file");
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        (with_indexes && sqlite3_exec(db, indexes, NULL, NULL, NULL) != SQLITE_OK))
        return fail(db, "creating the table");

    /* The store's upsert of a run, with its row repeated per_statement
     * times. */
    char sql[8192];
    int len = snprintf(sql, sizeof sql,
                       "INSERT INTO runs (id, journey, user, key, trigger_seq, status,"
                       " started_at, ended_at, result, error, wait_names, deadline) VALUES ");
    for (int r = 0; r < per_statement; r++)
        len += snprintf(sql + len, sizeof sql - (size_t)len, "%s(?,?,?,?,?,?,?,?,?,?,?,?)",
                        r > 0 ? "," : "");
    snprintf(sql + len, sizeof sql - (size_t)len,
             " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
             " ended_at = excluded.ended_at, result = excluded.result, error = excluded.error,"
             " wait_names = excluded.wait_names, deadline = excluded.deadline");
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return fail(db, "preparing the insert");

    double start = seconds_now();
    long in_transaction = 0;
    for (long id = 1; id <= n; id += per_statement) {
        if (in_transaction == 0 &&
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "beginning a transaction");
        for (int r = 0; r < per_statement; r++)
            bind_run(stmt, r * VALUES_PER_ROW, id + r);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            return fail(db, "inserting");
        sqlite3_reset(stmt);

        in_transaction += per_statement;
        int last = id + per_statement > n;
        if ((in_transaction >= TRANSACTION_ROWS || last) &&
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "committing");
        if (in_transaction >= TRANSACTION_ROWS)
            in_transaction = 0;
    }
    double seconds = seconds_now() - start;

    sqlite3_finalize(stmt);
    sqlite3_close(db);
    printf("{\"bench\":\"sqlite_rows\",\"rows\":%ld,\"rows_per_statement\":%d,"
           "\"user_and_journey_indexes\":%s,\"seconds\":%.3f,\"rows_per_s\":%.0f}\n",
           n, per_statement, with_indexes ? "true" : "false", seconds, (double)n / seconds);
    return 0;
}
