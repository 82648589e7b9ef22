/*
 * The SQLite store's writer thread.
 *
 * The SQLite store serves every read from its memory copy, so during
 * operation the file only takes writes. Executing those statements, and
 * the commit that makes them durable, was about half of the loop's time
 * in a durable wait-and-resume workload. The writer runs them on a
 * thread of its own, so the loop goes on dispatching events while the
 * file catches up, and one host uses both cores.
 *
 * The loop thread queues statements with their values copied. The
 * writer executes them, in order within each kind of statement and
 * several rows per statement where it can, inside one transaction per
 * commit group that it begins itself, and commits a group when it reaches that
 * group's commit mark. The loop either waits for a commit (commit) or
 * starts it and polls for its end (commit_start, poll). After each
 * commit, the writer calls a notify function from its own thread.
 *
 * The first write that fails marks the writer failed: it skips every
 * later statement and refuses every later commit with the first error,
 * as the memory copy is then ahead of the file.
 *
 * A queue that grows past a bound makes queue() wait until the writer
 * has caught up, so memory stays bounded when the file is slower than
 * the loop.
 */
#ifndef JOURNEY_HOST_SQLITE_WRITER_H
#define JOURNEY_HOST_SQLITE_WRITER_H

#include <sqlite3.h>
#include <stdint.h>

#include "error.h"

typedef struct jy_sqlite_writer jy_sqlite_writer;

/* The largest number of values one queued statement binds. */
#define JY_SQLITE_MAX_VALUES 12

/* One value bound to a statement's parameter. */
typedef enum jy_sql_type { JY_SQL_NULL, JY_SQL_INT, JY_SQL_TEXT } jy_sql_type;

typedef struct jy_sql_value {
    jy_sql_type type;
    sqlite3_int64 i;  /* JY_SQL_INT */
    const char *text; /* JY_SQL_TEXT: NUL-terminated; copied by queue() */
} jy_sql_value;

/* Called by the writer's thread after it committed a group. */
typedef void (*jy_sqlite_notify_fn)(void *ctx);

/* The maximum number of kinds of statement that one writer runs. */
#define JY_SQLITE_MAX_KINDS 8

/* The rows that one multi-row statement writes. */
#define JY_SQLITE_ROWS 16

/* A kind of statement that queue() refers to by its index. */
typedef struct jy_sql_statement {
    sqlite3_stmt *single_row; /* writes one row */
    sqlite3_stmt *multi_row;  /* the same for JY_SQLITE_ROWS rows, whose values
                          * follow one another; NULL when there is none */
    const char *failure; /* names what failed ("storing an event failed") */
} jy_sql_statement;

/* Starts the writer on db, which the caller opened and keeps open until
 * jy_sqlite_writer_stop. statements describes the statement_count kinds
 * of statement, and must outlive the writer. path names the file in
 * messages. With sync_wal nonzero, a second thread syncs db's WAL file
 * after commits, and a group counts as committed only once synced; db
 * then should run at synchronous = NORMAL, which leaves the commits
 * unsynced. Returns NULL with err set when a thread cannot start.
 *
 * The writer keeps the order of the statements of one kind, and runs
 * those of a batch together, JY_SQLITE_ROWS at a time where it can.
 * So statements of different kinds must not depend on their order, as
 * inserts into different tables do not. */
jy_sqlite_writer *jy_sqlite_writer_start(sqlite3 *db, const jy_sql_statement *statements,
                                         int statement_count, const char *path, int sync_wal,
                                         jy_error *err);

/* Executes what is queued, rolls back a group that was never
 * committed, and stops the thread. NULL is ignored. */
void jy_sqlite_writer_stop(jy_sqlite_writer *writer);

/* Queues the statement with index statement and its count values (at
 * most JY_SQLITE_MAX_VALUES). Returns 0, or JY_EIO when the writer has
 * failed. Running out of memory here fails the writer, since the memory
 * copy already has the write. */
int jy_sqlite_writer_queue(jy_sqlite_writer *writer, int statement, const jy_sql_value *values,
                           int count, jy_error *err);

/* Ends the current group: the writer commits it after its statements.
 * Sets *group to the group's number, or to 0 when nothing was written
 * since the last commit. Does not wait. Returns 0, or JY_EIO (or
 * JY_ENOMEM) with the reason in err. */
int jy_sqlite_writer_commit_start(jy_sqlite_writer *writer, uint64_t *group, jy_error *err);

/* Ends the current group and waits until every group is committed.
 * Returns 0 or JY_EIO. */
int jy_sqlite_writer_commit(jy_sqlite_writer *writer, jy_error *err);

/* Waits until group is committed. Returns 0 or JY_EIO. After a failure
 * it first waits for the sync of the groups written before it, so that
 * the caller can tell them apart by poll. */
int jy_sqlite_writer_wait(jy_sqlite_writer *writer, uint64_t group, jy_error *err);

/* Reads the number of the last group committed and that of the last
 * group written. Without sync_wal the two are the same; with it, a
 * written group waits for its sync. Also reads the seconds from the
 * last committed group's commit_start to its commit. Does not wait,
 * except after a failure, for the sync of the groups written before it.
 * Returns 0, or JY_EIO once the writer has failed. */
int jy_sqlite_writer_poll(jy_sqlite_writer *writer, uint64_t *committed, uint64_t *written,
                          double *seconds, jy_error *err);

/* Sets the mark of the group being filled, such as the highest event
 * seq written so far. Once the group is committed, committed_mark
 * returns it. Loop thread only. */
void jy_sqlite_writer_set_mark(jy_sqlite_writer *writer, uint64_t mark);

/* Returns the mark of the last group committed (durable), 0 before the
 * first. */
uint64_t jy_sqlite_writer_committed_mark(jy_sqlite_writer *writer);

/* Sets the function the writer calls after each group is written and
 * after each sync (NULL: none). */
void jy_sqlite_writer_set_notify(jy_sqlite_writer *writer, jy_sqlite_notify_fn notify,
                                 void *ctx);

/* Waits until the writer has executed everything queued, then opens the
 * current group's transaction if it is not open. Until the next queue()
 * or commit, the caller may use the connection itself, inside that
 * transaction; fail() records an error of its own. Returns 0 or JY_EIO. */
int jy_sqlite_writer_pause(jy_sqlite_writer *writer, jy_error *err);

/* Marks the writer failed by what (a phrase such as "pruning failed"),
 * with SQLite's message, unless it failed before. Returns JY_EIO with
 * the first failure in err (may be NULL). Only while paused. */
int jy_sqlite_writer_fail(jy_sqlite_writer *writer, const char *what, jy_error *err);

/* Returns JY_EIO with the first failure in err once the writer failed,
 * else 0. */
int jy_sqlite_writer_check(jy_sqlite_writer *writer, jy_error *err);

#endif
