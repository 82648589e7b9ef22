/*
 * The SQLite store's writer thread (see sqlite_writer.h).
 *
 * The loop thread fills a batch of statements, with their text values
 * copied into the batch, and hands it over once it contains BATCH_OPS
 * statements or BATCH_TEXT bytes, or when a group ends. Handing over
 * takes the lock once per batch rather than once per statement. The
 * writer executes the batches in order; a batch that ends a group ends
 * with the group's commit.
 */
#include "sqlite_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"

/* A batch is handed over at this many statements or text bytes. */
#define BATCH_OPS 256
#define BATCH_TEXT (256 * 1024)

/* Past this much work handed over and not yet executed, queue() waits
 * for the writer. An estimate from W2's profile, where the writer ran
 * about 300,000 statements a second: a quarter of a second of writes,
 * and some 13 MB of queued statements (200 bytes each) besides their
 * text. The host's wait for slow commits usually stops the loop first. */
#define MAX_QUEUED_OPS 65536
#define MAX_QUEUED_TEXT (64u * 1024 * 1024)

/* Executed batches kept for reuse, and the largest text buffer kept. */
#define MAX_SPARE_BATCHES 4
#define MAX_SPARE_TEXT (1024 * 1024)

typedef struct queued_value {
    jy_sql_type type;
    uint32_t len;        /* JY_SQL_TEXT: bytes, without the NUL */
    sqlite3_int64 value; /* JY_SQL_INT: the value; JY_SQL_TEXT: the
                          * offset into the batch's text */
} queued_value;

typedef struct queued_op {
    int statement;
    int count;
    queued_value values[JY_SQLITE_MAX_VALUES];
} queued_op;

typedef struct batch {
    struct batch *next;
    queued_op *ops;
    size_t count;
    size_t capacity;
    jy_buf text;     /* the ops' text values, one after another */
    uint64_t group;  /* nonzero: commit this group after the ops */
    uint64_t mark;   /* the caller's mark for that group */
    double started;  /* when the loop ended the group */
} batch;

struct jy_sqlite_writer {
    sqlite3 *db;
    const jy_sql_statement *statements;
    int statement_count;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* the writer waits for batches */
    pthread_cond_t progress; /* the loop waits for the writer */

    /* The loop thread's. */
    batch *filling;
    uint64_t next_mark;      /* the mark of the next group to end */
    uint64_t groups_started;
    int group_open;          /* written to since the last group ended */

    /* Under lock. */
    batch *head;
    batch *tail;
    batch *spare;
    int spare_count;
    size_t queued_ops;
    size_t queued_text;
    int busy;                /* the writer is executing a batch */
    int stopping;
    uint64_t written;        /* the last group committed to the file */
    double written_started;  /* when the loop ended that group */
    uint64_t written_mark;   /* and its mark */
    uint64_t committed;      /* the last group durable: written and, with
                              * sync_wal, its WAL synced */
    uint64_t committed_mark; /* and its mark */
    double commit_seconds;
    jy_sqlite_notify_fn notify;
    void *notify_ctx;

    /* With sync_wal, the syncer thread makes written groups durable by
     * syncing the WAL file, while the writer goes on with the next. */
    int sync_wal;
    char *wal_path;
    int wal_fd;              /* the syncer's; -1 until its first sync */
    pthread_t syncer;
    int syncer_started;
    int syncer_stopping;     /* under lock */
    int syncer_done;         /* under lock: the syncer syncs no more */
    pthread_cond_t written_cond; /* the syncer waits for written groups */

    /* The writer's, and the loop's while paused. */
    int in_transaction;

    /* Set once, after failure is written. */
    atomic_int failed;
    char failure[256];
};


static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}


/* Records text as the failure unless one came first. Both threads may
 * fail the writer (the loop when it runs out of memory queuing), so the
 * text is written under the lock. */
static void set_failure(jy_sqlite_writer *writer, const char *text)
{
    pthread_mutex_lock(&writer->lock);
    if (!atomic_load_explicit(&writer->failed, memory_order_relaxed)) {
        snprintf(writer->failure, sizeof writer->failure, "%s", text);
        atomic_store_explicit(&writer->failed, 1, memory_order_release);
    }
    pthread_cond_broadcast(&writer->progress);
    pthread_mutex_unlock(&writer->lock);
}


/* Records a failure with SQLite's message for the call that just
 * failed. Called by the thread that owns the connection. */
static void record_failure(jy_sqlite_writer *writer, const char *what)
{
    char text[sizeof writer->failure];
    snprintf(text, sizeof text, "%s in %s: %s", what, writer->path, sqlite3_errmsg(writer->db));
    set_failure(writer, text);
}


int jy_sqlite_writer_check(jy_sqlite_writer *writer, jy_error *err)
{
    if (!atomic_load_explicit(&writer->failed, memory_order_acquire))
        return 0;
    return jy_error_set(err, JY_EIO, "%s", writer->failure);
}


static void free_batch(batch *b)
{
    if (b == NULL)
        return;
    free(b->ops);
    jy_buf_free(&b->text);
    free(b);
}


/* Keeps an executed batch for reuse, or frees it. Under lock. */
static void recycle(jy_sqlite_writer *writer, batch *b)
{
    if (writer->spare_count >= MAX_SPARE_BATCHES || b->text.capacity > MAX_SPARE_TEXT) {
        free_batch(b);
        return;
    }
    b->count = 0;
    jy_buf_reset(&b->text);
    b->group = 0;
    b->mark = 0;
    b->next = writer->spare;
    writer->spare = b;
    writer->spare_count++;
}


/* Returns an empty batch, reused when one is spare, or NULL. */
static batch *take_batch(jy_sqlite_writer *writer)
{
    pthread_mutex_lock(&writer->lock);
    batch *b = writer->spare;
    if (b != NULL) {
        writer->spare = b->next;
        writer->spare_count--;
    }
    pthread_mutex_unlock(&writer->lock);
    if (b == NULL)
        b = calloc(1, sizeof *b);
    if (b != NULL)
        b->next = NULL;
    return b;
}


/* Binds the values of op from parameter first + 1 on. */
static void bind_op(sqlite3_stmt *stmt, int first, const batch *b, const queued_op *op)
{
    for (int i = 0; i < op->count; i++) {
        const queued_value *v = &op->values[i];
        if (v->type == JY_SQL_INT)
            sqlite3_bind_int64(stmt, first + i + 1, v->value);
        else if (v->type == JY_SQL_TEXT)
            sqlite3_bind_text(stmt, first + i + 1, b->text.data + v->value, (int)v->len,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(stmt, first + i + 1);
    }
}


/* Steps stmt, whose values are bound, and resets it. Returns nonzero
 * when the step failed. */
static int step(jy_sqlite_writer *writer, sqlite3_stmt *stmt, int kind)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        record_failure(writer, writer->statements[kind].failure);
    /* Every op binds all of its statement's values, so the next one
     * overwrites these and they need no clearing. */
    sqlite3_reset(stmt);
    return rc != SQLITE_DONE;
}


/* Runs the count ops of one kind in a batch, in their order:
 * JY_SQLITE_ROWS to a statement while that many are left and the kind
 * has a multi-row statement, then one by one. Sixteen rows in one
 * statement skip the per-statement work of fifteen: bench/sqlite_rows.c
 * wrote 1.5 to 1.6 times as many rows a second so. Returns nonzero
 * when a statement failed. */
static int execute_kind(jy_sqlite_writer *writer, const batch *b, int kind, size_t count)
{
    const jy_sql_statement *statement = &writer->statements[kind];
    size_t left = count; /* ops of this kind not yet executed */
    size_t i = 0;

    /* The loop stops right after a full statement, so the ops before i
     * are all written. */
    if (statement->multi_row != NULL) {
        const queued_op *rows[JY_SQLITE_ROWS];
        int filled = 0;
        for (; i < b->count && left >= JY_SQLITE_ROWS; i++) {
            if (b->ops[i].statement != kind)
                continue;
            rows[filled++] = &b->ops[i];
            if (filled < JY_SQLITE_ROWS)
                continue;
            for (int r = 0; r < JY_SQLITE_ROWS; r++)
                bind_op(statement->multi_row, r * rows[r]->count, b, rows[r]);
            if (step(writer, statement->multi_row, kind) != 0)
                return 1;
            left -= JY_SQLITE_ROWS;
            filled = 0;
        }
    }

    /* The rest, one by one. */
    for (; i < b->count && left > 0; i++) {
        if (b->ops[i].statement != kind)
            continue;
        bind_op(statement->single_row, 0, b, &b->ops[i]);
        if (step(writer, statement->single_row, kind) != 0)
            return 1;
        left--;
    }
    return 0;
}


/* Executes a batch inside the current group's transaction, which it
 * begins when needed, and commits the group the batch ends. After a
 * failure it skips everything. Returns 1 when the batch ends a group
 * and the group is durable. */
static int execute(jy_sqlite_writer *writer, const batch *b)
{
    if (b->count > 0 && !atomic_load_explicit(&writer->failed, memory_order_relaxed) &&
        !writer->in_transaction) {
        if (sqlite3_exec(writer->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            record_failure(writer, "starting a transaction failed");
            return 0;
        }
        writer->in_transaction = 1;
    }

    size_t counts[JY_SQLITE_MAX_KINDS] = {0};
    for (size_t i = 0; i < b->count; i++)
        counts[b->ops[i].statement]++;
    for (int kind = 0; kind < writer->statement_count; kind++) {
        if (atomic_load_explicit(&writer->failed, memory_order_relaxed))
            return 0;
        if (counts[kind] > 0 && execute_kind(writer, b, kind, counts[kind]) != 0)
            return 0;
    }
    if (b->group == 0 || atomic_load_explicit(&writer->failed, memory_order_relaxed))
        return 0;
    if (!writer->in_transaction)
        return 1; /* nothing written since the last commit */
    if (sqlite3_exec(writer->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        record_failure(writer, "committing failed");
        return 0;
    }
    writer->in_transaction = 0;
    return 1;
}


/* Blocks every signal on the calling thread: signals are the loop
 * thread's to handle. */
static void block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}


/* Calls the loop's notify function, if any. Under lock, which it
 * releases for the call. */
static void notify_loop(jy_sqlite_writer *writer)
{
    jy_sqlite_notify_fn notify = writer->notify;
    void *ctx = writer->notify_ctx;
    if (notify == NULL)
        return;
    pthread_mutex_unlock(&writer->lock);
    notify(ctx);
    pthread_mutex_lock(&writer->lock);
}


/* Syncs the directory of the WAL file once, so that the file's entry
 * survives a power loss as its contents do. Returns 0 or an errno. */
static int sync_directory(const char *file)
{
    char *copy = strdup(file);
    if (copy == NULL)
        return ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) != 0 ? errno : 0;
    close(fd);
    /* Some file systems cannot sync a directory; the file's own sync
     * is what they offer. */
    return rc == EINVAL ? 0 : rc;
}


/* Syncs the WAL file. Whatever was written to it before the call is
 * durable when it returns 0; else returns an errno. */
static int sync_wal_file(jy_sqlite_writer *writer)
{
    if (writer->wal_fd < 0) {
        writer->wal_fd = open(writer->wal_path, O_RDWR | O_CLOEXEC);
        if (writer->wal_fd < 0)
            return errno;
        int rc = sync_directory(writer->wal_path);
        if (rc != 0)
            return rc;
    }
    return fdatasync(writer->wal_fd) != 0 ? errno : 0;
}


/* Syncs the database file and its WAL, when there is one, once at the
 * start. A process that crashed may have left writes in the operating
 * system's cache that no sync covered, and what the file contains at
 * open counts as durable. The database file is synced through SQLite's own
 * handle: closing a descriptor of our own on it would drop the locks
 * that SQLite holds on the file, which are per process. SQLite takes no
 * lock on the WAL file, whose descriptor the syncer then keeps. Returns
 * 0 or an errno. */
static int sync_at_start(jy_sqlite_writer *writer, sqlite3 *db)
{
    sqlite3_file *file = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == NULL || file->pMethods == NULL)
        return EIO;
    if (file->pMethods->xSync(file, SQLITE_SYNC_NORMAL) != SQLITE_OK)
        return EIO;

    if (access(writer->wal_path, F_OK) != 0)
        return errno == ENOENT ? 0 : errno;
    return sync_wal_file(writer);
}


/* The syncer thread: one sync of the WAL makes every group written
 * before it durable, so a sync covers each group that the writer wrote
 * while the previous sync ran. */
static void *syncer_main(void *arg)
{
    jy_sqlite_writer *writer = arg;

    block_signals();
    pthread_mutex_lock(&writer->lock);
    for (;;) {
        while (writer->written == writer->committed && !writer->syncer_stopping)
            pthread_cond_wait(&writer->written_cond, &writer->lock);
        if (writer->written == writer->committed)
            break;
        uint64_t group = writer->written;
        uint64_t mark = writer->written_mark;
        double started = writer->written_started;
        pthread_mutex_unlock(&writer->lock);

        int rc = sync_wal_file(writer);
        if (rc != 0) {
            char text[sizeof writer->failure];
            snprintf(text, sizeof text, "syncing %s failed: %s", writer->wal_path,
                     strerror(rc));
            set_failure(writer, text);
        }

        pthread_mutex_lock(&writer->lock);
        if (rc == 0) {
            writer->committed = group;
            writer->committed_mark = mark;
            writer->commit_seconds = monotonic_seconds() - started;
        }
        pthread_cond_broadcast(&writer->progress);
        notify_loop(writer);
        if (rc != 0)
            break;
    }

    /* Ends the waits for the syncer to settle after a failure. */
    writer->syncer_done = 1;
    pthread_cond_broadcast(&writer->progress);
    pthread_mutex_unlock(&writer->lock);
    return NULL;
}


static void *writer_main(void *arg)
{
    jy_sqlite_writer *writer = arg;

    block_signals();
    pthread_mutex_lock(&writer->lock);
    for (;;) {
        while (writer->head == NULL && !writer->stopping)
            pthread_cond_wait(&writer->work, &writer->lock);
        batch *b = writer->head;
        if (b == NULL)
            break;
        writer->head = b->next;
        if (writer->head == NULL)
            writer->tail = NULL;
        writer->busy = 1;
        pthread_mutex_unlock(&writer->lock);

        /* A group that committed is written, and durable once synced,
         * even when the loop fails the writer a moment later. */
        int written = execute(writer, b);
        double now = monotonic_seconds();

        pthread_mutex_lock(&writer->lock);
        writer->busy = 0;
        writer->queued_ops -= b->count;
        writer->queued_text -= b->text.len;
        int ended_group = b->group != 0;
        if (written) {
            writer->written = b->group;
            writer->written_started = b->started;
            writer->written_mark = b->mark;
            if (writer->sync_wal) {
                pthread_cond_signal(&writer->written_cond);
            } else {
                writer->committed = b->group;
                writer->committed_mark = b->mark;
                writer->commit_seconds = now - b->started;
            }
        }
        recycle(writer, b);
        pthread_cond_broadcast(&writer->progress);

        /* The loop hears of every group's end, failed or not, and with
         * sync_wal also of its sync, from the syncer. */
        if (ended_group)
            notify_loop(writer);
    }
    pthread_mutex_unlock(&writer->lock);
    return NULL;
}


/* Frees the writer once its threads are gone. */
static void destroy(jy_sqlite_writer *writer)
{
    while (writer->spare != NULL) {
        batch *b = writer->spare;
        writer->spare = b->next;
        free_batch(b);
    }
    if (writer->wal_fd >= 0)
        close(writer->wal_fd);
    pthread_cond_destroy(&writer->written_cond);
    pthread_cond_destroy(&writer->progress);
    pthread_cond_destroy(&writer->work);
    pthread_mutex_destroy(&writer->lock);
    free(writer->wal_path);
    free(writer->path);
    free(writer);
}


jy_sqlite_writer *jy_sqlite_writer_start(sqlite3 *db, const jy_sql_statement *statements,
                                         int statement_count, const char *path, int sync_wal,
                                         jy_error *err)
{
    if (statement_count > JY_SQLITE_MAX_KINDS) {
        jy_error_set(err, JY_EINVAL, "the writer of %s takes at most %d kinds of statement",
                     path, JY_SQLITE_MAX_KINDS);
        return NULL;
    }
    jy_sqlite_writer *writer = calloc(1, sizeof *writer);
    if (writer == NULL || (writer->path = strdup(path)) == NULL) {
        free(writer);
        jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    writer->db = db;
    writer->statements = statements;
    writer->statement_count = statement_count;
    writer->sync_wal = sync_wal;
    writer->wal_fd = -1;
    atomic_init(&writer->failed, 0);
    pthread_mutex_init(&writer->lock, NULL);
    pthread_cond_init(&writer->work, NULL);
    pthread_cond_init(&writer->progress, NULL);
    pthread_cond_init(&writer->written_cond, NULL);

    if (sync_wal) {
        const char *db_path = sqlite3_db_filename(db, "main");
        const char *wal = sqlite3_filename_wal(db_path);
        if (wal == NULL || (writer->wal_path = strdup(wal)) == NULL) {
            jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
            destroy(writer);
            return NULL;
        }
        int rc = sync_at_start(writer, db);
        if (rc != 0) {
            jy_error_set(err, JY_EIO, "syncing %s at open failed: %s", path, strerror(rc));
            destroy(writer);
            return NULL;
        }
    }

    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        jy_error_set(err, JY_ENOMEM, "cannot start the writer thread of %s", path);
        destroy(writer);
        return NULL;
    }
    if (sync_wal) {
        if (pthread_create(&writer->syncer, NULL, syncer_main, writer) != 0) {
            jy_error_set(err, JY_ENOMEM, "cannot start the syncer thread of %s", path);
            jy_sqlite_writer_stop(writer);
            return NULL;
        }
        writer->syncer_started = 1;
    }
    return writer;
}


/* Hands the batch being filled to the writer, and waits while the
 * writer is too far behind. */
static void hand_off(jy_sqlite_writer *writer)
{
    batch *b = writer->filling;
    if (b == NULL)
        return;
    writer->filling = NULL;

    pthread_mutex_lock(&writer->lock);
    if (writer->tail != NULL)
        writer->tail->next = b;
    else
        writer->head = b;
    writer->tail = b;
    writer->queued_ops += b->count;
    writer->queued_text += b->text.len;
    pthread_cond_signal(&writer->work);
    while ((writer->queued_ops > MAX_QUEUED_OPS || writer->queued_text > MAX_QUEUED_TEXT) &&
           !atomic_load_explicit(&writer->failed, memory_order_relaxed))
        pthread_cond_wait(&writer->progress, &writer->lock);
    pthread_mutex_unlock(&writer->lock);
}


static int grow(void **items, size_t *capacity, size_t need, size_t size)
{
    if (need <= *capacity)
        return 0;
    size_t n = *capacity > 0 ? *capacity : 64;
    while (n < need)
        n *= 2;
    void *grown = realloc(*items, n * size);
    if (grown == NULL)
        return JY_ENOMEM;
    *items = grown;
    *capacity = n;
    return 0;
}


/* Fails the writer for want of memory: the memory copy already has the
 * write that could not be queued. */
static int out_of_memory(jy_sqlite_writer *writer, jy_error *err)
{
    char text[sizeof writer->failure];
    snprintf(text, sizeof text, "out of memory queuing a write to %s", writer->path);
    set_failure(writer, text);
    return jy_sqlite_writer_check(writer, err);
}


int jy_sqlite_writer_queue(jy_sqlite_writer *writer, int statement, const jy_sql_value *values,
                           int count, jy_error *err)
{
    int rc = jy_sqlite_writer_check(writer, err);
    if (rc != 0)
        return rc;

    if (writer->filling == NULL && (writer->filling = take_batch(writer)) == NULL)
        return out_of_memory(writer, err);
    batch *b = writer->filling;

    if (grow((void **)&b->ops, &b->capacity, b->count + 1, sizeof *b->ops) != 0)
        return out_of_memory(writer, err);

    queued_op *op = &b->ops[b->count];
    op->statement = statement;
    op->count = count;
    for (int i = 0; i < count; i++) {
        queued_value *v = &op->values[i];
        v->type = values[i].type;
        v->len = 0;
        if (v->type == JY_SQL_INT) {
            v->value = values[i].i;
        } else if (v->type == JY_SQL_TEXT) {
            size_t len = strlen(values[i].text);
            v->value = (sqlite3_int64)b->text.len;
            v->len = (uint32_t)len;
            jy_buf_append(&b->text, values[i].text, len);
        }
    }
    if (jy_buf_failed(&b->text))
        return out_of_memory(writer, err);
    b->count++;
    writer->group_open = 1;

    if (b->count >= BATCH_OPS || b->text.len >= BATCH_TEXT)
        hand_off(writer);
    return 0;
}


int jy_sqlite_writer_commit_start(jy_sqlite_writer *writer, uint64_t *group, jy_error *err)
{
    *group = 0;
    int rc = jy_sqlite_writer_check(writer, err);
    if (rc != 0)
        return rc;
    if (!writer->group_open)
        return 0;

    if (writer->filling == NULL && (writer->filling = take_batch(writer)) == NULL)
        return out_of_memory(writer, err);
    writer->filling->group = ++writer->groups_started;
    writer->filling->mark = writer->next_mark;
    writer->filling->started = monotonic_seconds();
    writer->group_open = 0;
    *group = writer->groups_started;
    hand_off(writer);
    return 0;
}


int jy_sqlite_writer_commit(jy_sqlite_writer *writer, jy_error *err)
{
    uint64_t group = 0;
    int rc = jy_sqlite_writer_commit_start(writer, &group, err);
    if (rc != 0)
        return rc;

    /* Groups commit in order, so the last one started covers the rest. */
    return jy_sqlite_writer_wait(writer, writer->groups_started, err);
}


/* After a failure, waits until the syncer has synced every group written
 * before it, or can sync no more: such a group is durable, and must be
 * reported as committed rather than failed. Under lock. */
static void settle_after_failure(jy_sqlite_writer *writer)
{
    if (!writer->syncer_started)
        return;
    while (atomic_load_explicit(&writer->failed, memory_order_relaxed) &&
           writer->committed < writer->written && !writer->syncer_done)
        pthread_cond_wait(&writer->progress, &writer->lock);
}


int jy_sqlite_writer_wait(jy_sqlite_writer *writer, uint64_t group, jy_error *err)
{
    pthread_mutex_lock(&writer->lock);
    while (writer->committed < group &&
           !atomic_load_explicit(&writer->failed, memory_order_relaxed))
        pthread_cond_wait(&writer->progress, &writer->lock);
    settle_after_failure(writer);
    pthread_mutex_unlock(&writer->lock);
    return jy_sqlite_writer_check(writer, err);
}


int jy_sqlite_writer_poll(jy_sqlite_writer *writer, uint64_t *committed, uint64_t *written,
                          double *seconds, jy_error *err)
{
    pthread_mutex_lock(&writer->lock);
    settle_after_failure(writer);
    *committed = writer->committed;
    *written = writer->written;
    *seconds = writer->commit_seconds;
    pthread_mutex_unlock(&writer->lock);
    return jy_sqlite_writer_check(writer, err);
}


void jy_sqlite_writer_set_mark(jy_sqlite_writer *writer, uint64_t mark)
{
    writer->next_mark = mark;
}


uint64_t jy_sqlite_writer_committed_mark(jy_sqlite_writer *writer)
{
    pthread_mutex_lock(&writer->lock);
    uint64_t mark = writer->committed_mark;
    pthread_mutex_unlock(&writer->lock);
    return mark;
}


void jy_sqlite_writer_set_notify(jy_sqlite_writer *writer, jy_sqlite_notify_fn notify, void *ctx)
{
    pthread_mutex_lock(&writer->lock);
    writer->notify = notify;
    writer->notify_ctx = ctx;
    pthread_mutex_unlock(&writer->lock);
}


/* Waits until the writer has executed every batch handed to it. */
static void wait_idle(jy_sqlite_writer *writer)
{
    pthread_mutex_lock(&writer->lock);
    while (writer->head != NULL || writer->busy)
        pthread_cond_wait(&writer->progress, &writer->lock);
    pthread_mutex_unlock(&writer->lock);
}


int jy_sqlite_writer_pause(jy_sqlite_writer *writer, jy_error *err)
{
    hand_off(writer);
    wait_idle(writer);
    int rc = jy_sqlite_writer_check(writer, err);
    if (rc != 0)
        return rc;

    if (!writer->in_transaction) {
        if (sqlite3_exec(writer->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return jy_sqlite_writer_fail(writer, "starting a transaction failed", err);
        writer->in_transaction = 1;
    }
    writer->group_open = 1;
    return 0;
}


int jy_sqlite_writer_fail(jy_sqlite_writer *writer, const char *what, jy_error *err)
{
    record_failure(writer, what);
    return jy_sqlite_writer_check(writer, err);
}


void jy_sqlite_writer_stop(jy_sqlite_writer *writer)
{
    if (writer == NULL)
        return;

    /* What was never handed over was never committed either. */
    free_batch(writer->filling);
    writer->filling = NULL;

    pthread_mutex_lock(&writer->lock);
    writer->stopping = 1;
    pthread_cond_signal(&writer->work);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);

    /* The syncer ends after the sync of the last group written. */
    if (writer->syncer_started) {
        pthread_mutex_lock(&writer->lock);
        writer->syncer_stopping = 1;
        pthread_cond_signal(&writer->written_cond);
        pthread_mutex_unlock(&writer->lock);
        pthread_join(writer->syncer, NULL);
    }

    /* A group that was never committed was never acknowledged. */
    if (writer->in_transaction)
        sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
    destroy(writer);
}
