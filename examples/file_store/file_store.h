/*
 * The file store: an append-only log file behind the store interface,
 * written outside the core as an example backend (see README.md).
 */
#ifndef JOURNEY_EXAMPLES_FILE_STORE_H
#define JOURNEY_EXAMPLES_FILE_STORE_H

#include "store.h"

/* Opens the store in the log file at path, creating the file when it is
 * missing, and replays the log up to its last commit line. Whatever
 * follows that line (a group that was never committed, or a line torn
 * by a crash) is cut off the file.
 *
 * Takes an exclusive flock() on the file, so a second process cannot
 * open it while this store is open. Returns NULL and fills err when the
 * file cannot be opened, is locked, is not a file store or contains an
 * invalid committed record. Free the store with ops->destroy. */
jy_store *jy_file_store_open(const char *path, jy_error *err);

#endif
