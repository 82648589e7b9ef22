/*
 * The SQLite store: the durable backend of the store interface.
 */
#ifndef JOURNEY_HOST_STORE_SQLITE_H
#define JOURNEY_HOST_STORE_SQLITE_H

#include "store.h"

/* The schema version this build reads and writes (PRAGMA user_version). */
#define JY_SQLITE_SCHEMA_VERSION 2

typedef enum jy_sqlite_sync {
    JY_SQLITE_SYNC_FULL,   /* fsync at every commit: survives power loss */
    JY_SQLITE_SYNC_NORMAL, /* survives a process crash; a power loss may
                            * undo the last commits */
} jy_sqlite_sync;

/* Opens (creating when missing) the store at path: WAL mode, the given
 * synchronous level, and the schema of this version. Loads the events
 * and live runs into memory, because the scheduler reads only memory;
 * every write goes to both and becomes durable at commit().
 *
 * Rejects, with a message naming the path: a file that is not SQLite, a
 * SQLite database that is not a journey store, and a store written by a
 * newer schema version. Returns NULL then; free with ops->destroy. */
jy_store *jy_store_sqlite_open(const char *path, jy_sqlite_sync sync, jy_error *err);

/* The store writes and commits on a thread of its own (sqlite_writer.h).
 * ops->commit waits for the commit. These three let a loop go on while
 * a group commits instead:
 *
 * commit_start ends the current group and sets *group to its number, or
 * to 0 when nothing was written since the last one. Groups commit in
 * the order they started. poll sets *committed to the last group
 * committed (durable) and *written to the last group written to the
 * file, which at the full level then waits for its WAL sync. It sets
 * *seconds to how long the last committed group took from its start,
 * and returns JY_EIO once a write failed, and then no group after
 * *committed will commit. wait blocks until group is committed, or returns JY_EIO.
 * set_notify names a function that the writer's threads call after a
 * group is written and after it is synced. */
int jy_store_sqlite_commit_start(jy_store *store, uint64_t *group, jy_error *err);
/* Returns the highest event seq such that every event at or below it is
 * durable: committed, and synced at the full level. Another connection
 * to the file may see later events, which a power loss can still undo. */
uint64_t jy_store_sqlite_durable_seq(jy_store *store);
int jy_store_sqlite_poll(jy_store *store, uint64_t *committed, uint64_t *written,
                         double *seconds, jy_error *err);
int jy_store_sqlite_wait(jy_store *store, uint64_t group, jy_error *err);
void jy_store_sqlite_set_notify(jy_store *store, void (*notify)(void *ctx), void *ctx);

#endif
