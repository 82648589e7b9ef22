/*
 * The SQLite store (see store_sqlite.h).
 *
 * Reads are served by a memory store that holds the same events and
 * live runs; SQLite holds the durable copy. Every write goes to both:
 * to memory at once, and to SQLite through the writer thread
 * (sqlite_writer.h), inside one transaction per group that commit()
 * ends, so a group of events, journal entries and run changes becomes
 * durable together or not at all.
 *
 * A new run is put twice in one turn: as running when it starts, then
 * as waiting, sleeping or ended when its coroutine stops. So its first
 * record is held back until its next put or the commit, and the file
 * gets one row write instead of two.
 *
 * After a SQLite write fails, the memory copy is ahead of the file, so
 * the store refuses every later commit with the first error; the host
 * must stop and recover from the file.
 */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buffer.h"
#include "hashmap.h"
#include "sqlite_writer.h"

/* The stored status of a running run (JY_RUN_RUNNING), as in the
 * schema's comment on runs_live. */
#define STATUS_RUNNING 0

/* "JRNY": marks a SQLite file as a journey store. */
#define APPLICATION_ID 0x4A524E59

static const char schema_sql[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  user TEXT NOT NULL,"
    "  id TEXT,"
    "  name TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  data TEXT NOT NULL,"
    "  user_attributes TEXT,"
    "  origin_run INTEGER NOT NULL DEFAULT 0);"
    /* idempotency: one event per (user, id) */
    "CREATE UNIQUE INDEX events_user_id ON events (user, id) WHERE id IS NOT NULL;"
    /* wait_for and j.events scan one user's events in order */
    "CREATE INDEX events_user_seq ON events (user, seq);"
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  attributes TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  journey TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  key TEXT,"
    "  trigger_seq INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL DEFAULT 0,"
    "  result TEXT,"
    "  error TEXT,"
    "  wait_names TEXT,"
    /* the pending deadline of a waiting or sleeping run, else NULL */
    "  deadline INTEGER);"
    /* recovery loads live runs (running 0, waiting 1, sleeping 2) */
    "CREATE INDEX runs_live ON runs (status) WHERE status < 3;"
    "CREATE INDEX runs_user ON runs (user, id);"
    "CREATE INDEX runs_journey ON runs (journey, id);"
    "CREATE INDEX runs_ended ON runs (ended_at) WHERE status >= 3;"
    "CREATE TABLE journal ("
    "  run_id INTEGER NOT NULL,"
    "  idx INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  result TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, idx)) WITHOUT ROWID;";

/* Version 1 kept deadlines in a table of their own, which cost every
 * run two more statements. This moves them into runs. The store's lock
 * on the file keeps other journey processes out meanwhile. */
static const char migrate_1_to_2_sql[] =
    "ALTER TABLE runs ADD COLUMN deadline INTEGER;"
    "UPDATE runs SET deadline = (SELECT at FROM deadlines WHERE run_id = runs.id)"
    " WHERE status < 3;"
    "DROP TABLE deadlines;"
    "PRAGMA user_version = 2;";

enum {
    STMT_INSERT_EVENT,
    STMT_UPSERT_RUN,
    STMT_INSERT_JOURNAL,
    STMT_UPSERT_USER,
    STMT_UPSERT_META,
    STMT_DELETE_EVENT,
    STMT_COUNT
};

/* A statement's SQL: head, then the row of parameters once per row it
 * writes, separated by commas, then tail. A statement without a row
 * writes one row only. */
typedef struct statement_text {
    const char *head;
    const char *row;
    const char *tail;
    const char *failure; /* what failed when it does, for the store's error */
} statement_text;

static const statement_text statement_texts[STMT_COUNT] = {
    [STMT_INSERT_EVENT] = {
        "INSERT INTO events (seq, user, id, name, ts, data, user_attributes, origin_run)"
        " VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?)", "", "storing an event failed"},
    /* A run's journey, user, key, trigger and start never change, so an
     * update leaves the indexes on them alone (REPLACE would delete and
     * insert the row, and rewrite every index). A run that appears
     * twice among the rows is updated in their order. */
    [STMT_UPSERT_RUN] = {
        "INSERT INTO runs (id, journey, user, key, trigger_seq, status, started_at,"
        " ended_at, result, error, wait_names, deadline) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
        " ended_at = excluded.ended_at, result = excluded.result, error = excluded.error,"
        " wait_names = excluded.wait_names, deadline = excluded.deadline",
        "storing a run failed"},
    [STMT_INSERT_JOURNAL] = {
        "INSERT INTO journal (run_id, idx, kind, name, at, result) VALUES ",
        "(?, ?, ?, ?, ?, ?)", "", "journaling a step failed"},
    [STMT_UPSERT_USER] = {
        "INSERT OR REPLACE INTO users (id, attributes, updated_at) VALUES ", "(?, ?, ?)", "",
        "storing a user failed"},
    [STMT_UPSERT_META] = {
        "INSERT OR REPLACE INTO meta (key, value) VALUES ", "(?, ?)", "",
        "storing a setting failed"},
    /* Run by prune on the loop's thread while the writer is paused. */
    [STMT_DELETE_EVENT] = {"DELETE FROM events WHERE seq = ?", NULL, "",
                           "deleting an event failed"},
};

typedef struct sqlite_store {
    jy_store base;
    jy_store *mem;
    sqlite3 *db;
    jy_sql_statement statements[STMT_COUNT];
    jy_sqlite_writer *writer; /* runs every write once the store is open */
    char *path;
    int lock_fd;             /* holds the exclusive lock on PATH.lock */
    uint64_t max_run_id;
    uint64_t loaded_seq;     /* the highest event seq in the file at open */
    uint64_t *held;          /* new runs whose first record is held back */
    size_t held_count;
    size_t held_capacity;
    jy_map held_ids;         /* the ids in held not written since; the
                              * values only mark them */
} sqlite_store;


/* Reports a failure of the connection while the store opens, before
 * the writer runs. */
static int fail(sqlite_store *store, jy_error *err, const char *what)
{
    return jy_error_set(err, JY_EIO, "%s in %s: %s", what, store->path,
                        sqlite3_errmsg(store->db));
}


static jy_sql_value sql_int(sqlite3_int64 i)
{
    return (jy_sql_value){JY_SQL_INT, i, NULL};
}


static jy_sql_value sql_text(const char *text)
{
    return text != NULL ? (jy_sql_value){JY_SQL_TEXT, 0, text}
                        : (jy_sql_value){JY_SQL_NULL, 0, NULL};
}


static jy_sql_value sql_null(void)
{
    return (jy_sql_value){JY_SQL_NULL, 0, NULL};
}


/* Runs a bound statement to completion on the paused writer's
 * connection, and resets it. */
static int step(sqlite_store *store, sqlite3_stmt *stmt, jy_error *err, const char *what)
{
    int rc = sqlite3_step(stmt);
    int failed = rc != SQLITE_DONE ? jy_sqlite_writer_fail(store->writer, what, err) : 0;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return failed;
}


static int sqlite_event_append(jy_store *base, jy_event *event, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    /* On this error the caller keeps the event, as on every error other
     * than JY_EEXIST. */
    int rc = jy_sqlite_writer_check(store->writer, err);
    if (rc != 0)
        return rc;

    /* Memory first: it assigns the seq and rejects duplicates. */
    rc = store->mem->ops->event_append(store->mem, event, err);
    if (rc != 0)
        return rc;

    const jy_sql_value values[] = {
        sql_int((sqlite3_int64)event->seq), sql_text(event->user), sql_text(event->id),
        sql_text(event->name), sql_int(event->ts), sql_text(event->data_json),
        sql_text(event->user_json), sql_int((sqlite3_int64)event->origin_run),
    };

    /* The memory copy owns the event now, so a write that fails cannot
     * hand it back. It fails the writer instead: the next commit reports
     * the error, and nothing of this group is acknowledged. */
    jy_error ignored;
    jy_sqlite_writer_queue(store->writer, STMT_INSERT_EVENT, values, 8, &ignored);
    jy_sqlite_writer_set_mark(store->writer, event->seq);
    return 0;
}


static const jy_event *sqlite_event_get(jy_store *base, uint64_t seq)
{
    sqlite_store *store = (sqlite_store *)base;
    return store->mem->ops->event_get(store->mem, seq);
}


static int sqlite_event_scan(jy_store *base, const char *user, uint64_t from_seq,
                             jy_event_visit_fn visit, void *ctx)
{
    sqlite_store *store = (sqlite_store *)base;
    return store->mem->ops->event_scan(store->mem, user, from_seq, visit, ctx);
}


/* Writes a run's row. Its deadline is NULL unless it is live and has
 * one. */
static int write_run(sqlite_store *store, const jy_run_record *record, jy_error *err)
{
    int has_deadline = record->status <= 2 && record->deadline != JY_TIME_MAX;
    const jy_sql_value values[] = {
        sql_int((sqlite3_int64)record->id), sql_text(record->journey), sql_text(record->user),
        sql_text(record->key), sql_int((sqlite3_int64)record->trigger_seq),
        sql_int(record->status), sql_int(record->started_at), sql_int(record->ended_at),
        sql_text(record->result_json), sql_text(record->error), sql_text(record->wait_names),
        has_deadline ? sql_int(record->deadline) : sql_null(),
    };
    return jy_sqlite_writer_queue(store->writer, STMT_UPSERT_RUN, values, 12, err);
}


/* Writes the new runs whose first record is still held back, in the
 * state memory has now. Memory has every such run, because only prune
 * deletes runs there, and prune writes these first. */
static int write_held_runs(sqlite_store *store, jy_error *err)
{
    int rc = 0;

    for (size_t i = 0; i < store->held_count; i++) {
        uint64_t id = store->held[i];
        if (jy_map_remove_id(&store->held_ids, id) == NULL)
            continue; /* a later put wrote it */
        const jy_run_record *record = jy_store_memory_run_get(store->mem, id);
        if (rc == 0 && record != NULL)
            rc = write_run(store, record, err);
    }
    store->held_count = 0;
    return rc;
}


/* Holds back the first record of the new run id. Returns nonzero when
 * out of memory, and the caller writes the record at once instead. */
static int hold_new_run(sqlite_store *store, uint64_t id)
{
    if (store->held_count == store->held_capacity) {
        size_t capacity = store->held_capacity > 0 ? store->held_capacity * 2 : 256;
        uint64_t *grown = realloc(store->held, capacity * sizeof *grown);
        if (grown == NULL)
            return JY_ENOMEM;
        store->held = grown;
        store->held_capacity = capacity;
    }
    if (jy_map_put_id(&store->held_ids, id, store) != 0)
        return JY_ENOMEM;
    store->held[store->held_count++] = id;
    return 0;
}


static int sqlite_run_put(jy_store *base, const jy_run_record *record, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    int rc = jy_sqlite_writer_check(store->writer, err);
    if (rc != 0)
        return rc;

    const jy_run_record *stored = jy_store_memory_run_get(store->mem, record->id);
    int was_held = stored != NULL && jy_map_get_id(&store->held_ids, record->id) != NULL;

    rc = store->mem->ops->run_put(store->mem, record, err);
    if (rc != 0)
        return rc;
    if (record->id > store->max_run_id)
        store->max_run_id = record->id;

    if (stored == NULL && record->status == STATUS_RUNNING && hold_new_run(store, record->id) == 0)
        return 0;
    if (was_held)
        jy_map_remove_id(&store->held_ids, record->id);
    return write_run(store, record, err);
}


static int sqlite_journal_append(jy_store *base, const jy_journal_entry *entry,
                                 jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    int rc = jy_sqlite_writer_check(store->writer, err);
    if (rc != 0)
        return rc;

    rc = store->mem->ops->journal_append(store->mem, entry, err);
    if (rc != 0)
        return rc;

    const jy_sql_value values[] = {
        sql_int((sqlite3_int64)entry->run_id), sql_int(entry->index), sql_int((int)entry->kind),
        sql_text(entry->name != NULL ? entry->name : ""), sql_int(entry->at),
        sql_text(entry->result_json != NULL ? entry->result_json : "null"),
    };
    return jy_sqlite_writer_queue(store->writer, STMT_INSERT_JOURNAL, values, 6, err);
}


static const jy_journal_entry *sqlite_journal_get(jy_store *base, uint64_t run_id,
                                                  uint32_t index)
{
    sqlite_store *store = (sqlite_store *)base;
    return store->mem->ops->journal_get(store->mem, run_id, index);
}


static int sqlite_run_scan_live(jy_store *base, jy_run_visit_fn visit, void *ctx)
{
    sqlite_store *store = (sqlite_store *)base;
    return store->mem->ops->run_scan_live(store->mem, visit, ctx);
}


static uint64_t sqlite_run_max_id(jy_store *base)
{
    return ((sqlite_store *)base)->max_run_id;
}


static int sqlite_user_put(jy_store *base, const char *user, const char *attributes_json,
                           jy_time at, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    const jy_sql_value values[] = {sql_text(user), sql_text(attributes_json), sql_int(at)};
    return jy_sqlite_writer_queue(store->writer, STMT_UPSERT_USER, values, 3, err);
}


static int sqlite_meta_get(jy_store *base, const char *key, char **value, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    return store->mem->ops->meta_get(store->mem, key, value, err);
}


static int sqlite_meta_put(jy_store *base, const char *key, const char *value, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    int rc = jy_sqlite_writer_check(store->writer, err);
    if (rc != 0)
        return rc;

    rc = store->mem->ops->meta_put(store->mem, key, value, err);
    if (rc != 0)
        return rc;
    const jy_sql_value values[] = {sql_text(key), sql_text(value)};
    return jy_sqlite_writer_queue(store->writer, STMT_UPSERT_META, values, 2, err);
}


/* Runs one SQL statement with two time bounds (?1, ?2). */
static int exec_bounded(sqlite_store *store, const char *sql, jy_time a, jy_time b,
                        uint64_t *changes, jy_error *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return jy_sqlite_writer_fail(store->writer, "preparing a retention query failed", err);
    sqlite3_bind_int64(stmt, 1, a);
    sqlite3_bind_int64(stmt, 2, b);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) {
        rc = jy_sqlite_writer_fail(store->writer, "pruning failed", err);
        sqlite3_finalize(stmt);
        return rc;
    }
    sqlite3_finalize(stmt);
    if (changes != NULL)
        *changes = (uint64_t)sqlite3_changes(store->db);
    return 0;
}


/* Deletes from the file an event that memory's prune deleted. A failure
 * fails the writer, and prune reports it. */
static void delete_stored_event(uint64_t seq, void *ctx)
{
    sqlite_store *store = ctx;
    sqlite3_stmt *stmt = store->statements[STMT_DELETE_EVENT].single_row;

    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)seq);
    step(store, stmt, NULL, "deleting an event failed");
}


static int sqlite_prune(jy_store *base, jy_time ended_before, jy_time events_before,
                        uint64_t *runs_deleted, uint64_t *events_deleted, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;

    /* The file's runs must be current before the queries below pick
     * which to delete, and before memory deletes runs of its own. */
    int rc = write_held_runs(store, err);
    if (rc != 0)
        return rc;

    /* Retention reads the file and counts what it deletes, so it runs
     * here, with the writer paused inside the current group. */
    rc = jy_sqlite_writer_pause(store->writer, err);
    if (rc != 0)
        return rc;

    /* Ids and sequence numbers are never reused, but the rows that hold
     * the highest ones may be deleted below. So keep the high-water marks. */
    rc = exec_bounded(store,
                      "INSERT OR REPLACE INTO meta (key, value) SELECT 'max_event_seq',"
                      " max(seq) FROM events HAVING max(seq) IS NOT NULL", 0, 0, NULL, err);
    if (rc == 0)
        rc = exec_bounded(store,
                          "INSERT OR REPLACE INTO meta (key, value) SELECT 'max_run_id',"
                          " max(id) FROM runs HAVING max(id) IS NOT NULL", 0, 0, NULL, err);
    if (rc != 0)
        return rc;

    /* Memory decides which events go, and the file deletes the same
     * ones, so that both keep what the live runs can reach. */
    rc = jy_store_memory_prune(store->mem, ended_before, events_before, delete_stored_event,
                               store, runs_deleted, events_deleted);
    if (rc == 0)
        rc = jy_sqlite_writer_check(store->writer, err);
    if (rc != 0)
        return rc;

    /* Ended runs by age, as in memory. The file may hold more of them,
     * since memory loads only the live runs. */
    rc = exec_bounded(store,
                      "DELETE FROM journal WHERE run_id IN"
                      " (SELECT id FROM runs WHERE status >= 3 AND ended_at < ?1)",
                      ended_before, 0, NULL, err);
    if (rc == 0)
        rc = exec_bounded(store, "DELETE FROM runs WHERE status >= 3 AND ended_at < ?1",
                          ended_before, 0, runs_deleted, err);
    return rc;
}


static int sqlite_commit(jy_store *base, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    int rc = write_held_runs(store, err);
    if (rc != 0)
        return rc;
    return jy_sqlite_writer_commit(store->writer, err);
}


int jy_store_sqlite_commit_start(jy_store *base, uint64_t *group, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    *group = 0;
    int rc = write_held_runs(store, err);
    if (rc != 0)
        return rc;
    return jy_sqlite_writer_commit_start(store->writer, group, err);
}


uint64_t jy_store_sqlite_durable_seq(jy_store *base)
{
    sqlite_store *store = (sqlite_store *)base;
    uint64_t mark = jy_sqlite_writer_committed_mark(store->writer);
    return mark > store->loaded_seq ? mark : store->loaded_seq;
}


int jy_store_sqlite_poll(jy_store *base, uint64_t *committed, uint64_t *written,
                         double *seconds, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    return jy_sqlite_writer_poll(store->writer, committed, written, seconds, err);
}


int jy_store_sqlite_wait(jy_store *base, uint64_t group, jy_error *err)
{
    sqlite_store *store = (sqlite_store *)base;
    return jy_sqlite_writer_wait(store->writer, group, err);
}


void jy_store_sqlite_set_notify(jy_store *base, void (*notify)(void *ctx), void *ctx)
{
    sqlite_store *store = (sqlite_store *)base;
    jy_sqlite_writer_set_notify(store->writer, notify, ctx);
}


static void sqlite_destroy(jy_store *base)
{
    sqlite_store *store = (sqlite_store *)base;

    if (store == NULL)
        return;
    /* The writer rolls back a group that was never committed, and so
     * never acknowledged. */
    jy_sqlite_writer_stop(store->writer);
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(store->statements[i].single_row);
        sqlite3_finalize(store->statements[i].multi_row);
    }
    sqlite3_close(store->db);
    if (store->lock_fd >= 0)
        close(store->lock_fd);
    if (store->mem != NULL)
        store->mem->ops->destroy(store->mem);
    free(store->held);
    jy_map_free(&store->held_ids);
    free(store->path);
    free(store);
}


static const jy_store_ops sqlite_ops = {
    .name = "sqlite",
    .event_append = sqlite_event_append,
    .event_get = sqlite_event_get,
    .event_scan = sqlite_event_scan,
    .run_put = sqlite_run_put,
    .journal_append = sqlite_journal_append,
    .journal_get = sqlite_journal_get,
    .run_scan_live = sqlite_run_scan_live,
    .run_max_id = sqlite_run_max_id,
    .user_put = sqlite_user_put,
    .meta_get = sqlite_meta_get,
    .meta_put = sqlite_meta_put,
    .prune = sqlite_prune,
    .commit = sqlite_commit,
    .destroy = sqlite_destroy,
};


/* Returns the integer a one-value query yields, or -1 on error. */
static sqlite3_int64 query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    sqlite3_int64 value = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}


/* Takes an exclusive lock on PATH.lock, so a second host cannot open
 * the same store: each host serves reads from its own memory copy, and
 * two of them would overwrite each other's runs. The kernel drops the
 * lock when the process ends, even by SIGKILL. */
static int lock_store(sqlite_store *store, jy_error *err)
{
    size_t len = strlen(store->path);
    char *lock_path = malloc(len + sizeof ".lock");
    if (lock_path == NULL)
        return jy_error_set(err, JY_ENOMEM, "out of memory opening %s", store->path);
    memcpy(lock_path, store->path, len);
    memcpy(lock_path + len, ".lock", sizeof ".lock");

    store->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (store->lock_fd < 0) {
        int rc = jy_error_set(err, JY_EIO, "cannot open the lock file %s: %s", lock_path,
                              strerror(errno));
        free(lock_path);
        return rc;
    }
    if (flock(store->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK
            ? jy_error_set(err, JY_ESTATE, "the store %s is in use by another journey host, in "
                                           "this process or another; stop it first, or give "
                                           "another store path", store->path)
            : jy_error_set(err, JY_EIO, "cannot lock %s: %s", lock_path, strerror(errno));
        free(lock_path);
        return rc;
    }
    free(lock_path);
    return 0;
}


/* Creates the schema in a new file, or checks the one found. */
static int check_schema(sqlite_store *store, jy_error *err)
{
    sqlite3 *db = store->db;
    sqlite3_int64 application_id = query_int(db, "PRAGMA application_id");
    sqlite3_int64 version = query_int(db, "PRAGMA user_version");
    sqlite3_int64 tables = query_int(db, "SELECT count(*) FROM sqlite_master");

    if (application_id < 0 || version < 0 || tables < 0)
        return jy_error_set(err, JY_EIO, "cannot read %s: %s (is it a SQLite database?)",
                            store->path, sqlite3_errmsg(db));

    if (tables == 0) {
        char pragmas[128];
        snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 APPLICATION_ID, JY_SQLITE_SCHEMA_VERSION);
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return jy_error_set(err, JY_EIO, "cannot create the store schema in %s: %s",
                                store->path, sqlite3_errmsg(db));
        return 0;
    }

    if (application_id != APPLICATION_ID)
        return jy_error_set(err, JY_EINVAL,
                            "%s is a SQLite database but not a journey store; give a new "
                            "file name or the path of an existing store", store->path);
    if (version > JY_SQLITE_SCHEMA_VERSION)
        return jy_error_set(err, JY_EINVAL,
                            "%s has store schema version %lld, newer than this journey "
                            "supports (%d); run a newer journey on it",
                            store->path, (long long)version, JY_SQLITE_SCHEMA_VERSION);
    if (version < 1)
        return jy_error_set(err, JY_EINVAL, "%s has an unknown store schema version %lld",
                            store->path, (long long)version);
    if (version == 1 &&
        (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(db, migrate_1_to_2_sql, NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)) {
        /* The message first, because the rollback replaces SQLite's. */
        int rc = jy_error_set(err, JY_EIO, "cannot move %s to store schema version 2: %s",
                              store->path, sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}


/* Loads what the scheduler reads from memory: events, live runs with
 * their journals, settings. */
static int load(sqlite_store *store, jy_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(store->db,
                           "SELECT seq, user, id, name, ts, data, user_attributes, origin_run"
                           " FROM events ORDER BY seq", -1, &stmt, NULL) != SQLITE_OK)
        return fail(store, err, "reading events failed");
    while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
        jy_event *event = jy_event_new((const char *)sqlite3_column_text(stmt, 2),
                                       (const char *)sqlite3_column_text(stmt, 1),
                                       (const char *)sqlite3_column_text(stmt, 3),
                                       sqlite3_column_int64(stmt, 4),
                                       (const char *)sqlite3_column_text(stmt, 5),
                                       (const char *)sqlite3_column_text(stmt, 6),
                                       (uint64_t)sqlite3_column_int64(stmt, 7));
        if (event == NULL) {
            rc = jy_error_set(err, JY_ENOMEM, "out of memory loading events from %s", store->path);
            break;
        }
        event->seq = (uint64_t)sqlite3_column_int64(stmt, 0);
        if (jy_store_memory_load_event(store->mem, event) != 0)
            rc = jy_error_set(err, JY_EIO, "cannot load event %lld from %s",
                              (long long)sqlite3_column_int64(stmt, 0), store->path);
    }
    sqlite3_finalize(stmt);
    if (rc != 0)
        return rc;

    if (sqlite3_prepare_v2(store->db,
                           "SELECT id, journey, user, key, trigger_seq, status,"
                           " started_at, ended_at, wait_names, deadline"
                           " FROM runs WHERE status < 3 ORDER BY id", -1, &stmt, NULL) != SQLITE_OK)
        return fail(store, err, "reading runs failed");
    while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
        jy_run_record record = {
            .id = (uint64_t)sqlite3_column_int64(stmt, 0),
            .journey = (const char *)sqlite3_column_text(stmt, 1),
            .user = (const char *)sqlite3_column_text(stmt, 2),
            .key = (const char *)sqlite3_column_text(stmt, 3),
            .trigger_seq = (uint64_t)sqlite3_column_int64(stmt, 4),
            .status = sqlite3_column_int(stmt, 5),
            .started_at = sqlite3_column_int64(stmt, 6),
            .ended_at = sqlite3_column_int64(stmt, 7),
            .wait_names = (const char *)sqlite3_column_text(stmt, 8),
            .deadline = sqlite3_column_type(stmt, 9) == SQLITE_NULL
                            ? JY_TIME_MAX : sqlite3_column_int64(stmt, 9),
        };
        rc = store->mem->ops->run_put(store->mem, &record, err);
    }
    sqlite3_finalize(stmt);
    if (rc != 0)
        return rc;

    if (sqlite3_prepare_v2(store->db,
                           "SELECT j.run_id, j.idx, j.kind, j.name, j.at, j.result FROM journal j"
                           " JOIN runs r ON r.id = j.run_id WHERE r.status < 3"
                           " ORDER BY j.run_id, j.idx", -1, &stmt, NULL) != SQLITE_OK)
        return fail(store, err, "reading journals failed");
    while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
        jy_journal_entry entry = {
            .run_id = (uint64_t)sqlite3_column_int64(stmt, 0),
            .index = (uint32_t)sqlite3_column_int64(stmt, 1),
            .kind = (jy_step_kind)sqlite3_column_int(stmt, 2),
            .name = (const char *)sqlite3_column_text(stmt, 3),
            .at = sqlite3_column_int64(stmt, 4),
            .result_json = (const char *)sqlite3_column_text(stmt, 5),
        };
        if (jy_store_memory_load_journal(store->mem, &entry) != 0)
            rc = jy_error_set(err, JY_EIO, "journal of run %llu in %s has a gap at entry %u",
                              (unsigned long long)entry.run_id, store->path, entry.index);
    }
    sqlite3_finalize(stmt);
    if (rc != 0)
        return rc;

    if (sqlite3_prepare_v2(store->db, "SELECT key, value FROM meta", -1, &stmt, NULL) != SQLITE_OK)
        return fail(store, err, "reading settings failed");
    while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW)
        rc = store->mem->ops->meta_put(store->mem, (const char *)sqlite3_column_text(stmt, 0),
                                       (const char *)sqlite3_column_text(stmt, 1), err);
    sqlite3_finalize(stmt);

    sqlite3_int64 max_id = query_int(store->db,
                                     "SELECT max(coalesce((SELECT max(id) FROM runs), 0),"
                                     " coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                                     " WHERE key = 'max_run_id'), 0))");
    store->max_run_id = max_id > 0 ? (uint64_t)max_id : 0;

    /* After a prune the newest events may be gone; numbering goes on
     * from the high-water mark all the same. */
    sqlite3_int64 max_seq = query_int(store->db,
                                      "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                                      " WHERE key = 'max_event_seq'), 0)");
    if (rc == 0 && max_seq > 0)
        jy_store_memory_reserve_seq(store->mem, (uint64_t)max_seq + 1);

    /* What the file contains at open counts as durable: at the full level
     * the writer syncs the file and its WAL before the store is used. */
    sqlite3_int64 stored_seq = query_int(store->db, "SELECT coalesce(max(seq), 0) FROM events");
    store->loaded_seq = (uint64_t)(stored_seq > max_seq ? stored_seq : max_seq);
    return rc;
}


/* Prepares the statement of the given kind for the given number of
 * rows. */
static int prepare(sqlite_store *store, int kind, int rows, sqlite3_stmt **stmt, jy_error *err)
{
    const statement_text *text = &statement_texts[kind];
    jy_buf sql;
    jy_buf_init(&sql);
    jy_buf_append_str(&sql, text->head);
    for (int r = 0; r < rows && text->row != NULL; r++) {
        if (r > 0)
            jy_buf_append_str(&sql, ", ");
        jy_buf_append_str(&sql, text->row);
    }
    jy_buf_append_str(&sql, text->tail);
    if (jy_buf_failed(&sql)) {
        jy_buf_free(&sql);
        return jy_error_set(err, JY_ENOMEM, "out of memory opening %s", store->path);
    }

    int rc = sqlite3_prepare_v3(store->db, sql.data, (int)sql.len, SQLITE_PREPARE_PERSISTENT,
                                stmt, NULL);
    jy_buf_free(&sql);
    if (rc != SQLITE_OK)
        return jy_error_set(err, JY_EIO, "cannot prepare a statement on %s: %s", store->path,
                            sqlite3_errmsg(store->db));
    return 0;
}


jy_store *jy_store_sqlite_open(const char *path, jy_sqlite_sync sync, jy_error *err)
{
    sqlite_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    store->base.ops = &sqlite_ops;
    store->lock_fd = -1;
    jy_map_init(&store->held_ids);
    store->path = strdup(path);
    store->mem = jy_store_memory_new();
    if (store->path == NULL || store->mem == NULL) {
        jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
        goto failed;
    }

    if (lock_store(store, err) != 0)
        goto failed;

    /* One thread at a time uses the connection: the loop while the store
     * opens and while the writer is paused, the writer otherwise, with
     * the writer's lock between them. So the connection needs no mutex
     * of its own, which SQLite would take at every bind and step. */
    if (sqlite3_open_v2(path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        jy_error_set(err, JY_EIO, "cannot open the store %s: %s", path,
                     store->db != NULL ? sqlite3_errmsg(store->db) : "out of memory");
        goto failed;
    }
    sqlite3_busy_timeout(store->db, 5000);
    if (check_schema(store, err) != 0)
        goto failed;

    /* WAL lets readers (journey runs, journey show) work beside the
     * host. SQLite itself runs at synchronous = NORMAL, which syncs at
     * checkpoints only. At the full level the writer syncs the WAL after
     * each commit as FULL would, but on a thread of its own, so the
     * next group's statements run during the sync and one sync can
     * cover several groups. */
    const char *pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";
    if (sqlite3_exec(store->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        jy_error_set(err, JY_EIO, "cannot set WAL mode on %s: %s", path,
                     sqlite3_errmsg(store->db));
        goto failed;
    }

    for (int i = 0; i < STMT_COUNT; i++) {
        if (prepare(store, i, 1, &store->statements[i].single_row, err) != 0 ||
            (statement_texts[i].row != NULL &&
             prepare(store, i, JY_SQLITE_ROWS, &store->statements[i].multi_row, err) != 0))
            goto failed;
        store->statements[i].failure = statement_texts[i].failure;
    }

    if (load(store, err) != 0)
        goto failed;

    /* From here on, only the writer uses the connection. */
    store->writer = jy_sqlite_writer_start(store->db, store->statements, STMT_COUNT, path,
                                           sync == JY_SQLITE_SYNC_FULL, err);
    if (store->writer == NULL)
        goto failed;
    return &store->base;

failed:
    sqlite_destroy(&store->base);
    return NULL;
}
