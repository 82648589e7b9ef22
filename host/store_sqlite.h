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

#endif
