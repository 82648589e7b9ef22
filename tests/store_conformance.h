/*
 * The store conformance suite: checks one store backend against the
 * contract of host/store.h.
 *
 * A backend passes when every check passes. Each check opens a fresh
 * store, exercises one behaviour through jy_store_ops and destroys the
 * store. For a durable backend, further checks close and reopen the
 * store, destroy it without a commit (as a crash would) and let a child
 * process exit in the middle of a commit group, then verify what the
 * reopened store holds. docs/store-interface.md describes the contract
 * and how to run the suite against a new backend.
 */
#ifndef JOURNEY_TESTS_STORE_CONFORMANCE_H
#define JOURNEY_TESTS_STORE_CONFORMANCE_H

#include "store.h"

typedef struct jy_store_conformance_backend {
    /* Backend name, printed before each check's result. */
    const char *name;

    /* Opens a store of the backend. With fresh nonzero, the store must
     * start empty and discard whatever an earlier store left behind.
     * With fresh zero, it must reopen what the previous store of this
     * backend committed (only called when durable is set). Returns
     * NULL and fills err on failure. */
    jy_store *(*open)(void *ctx, int fresh, jy_error *err);

    /* Passed to open unchanged. */
    void *ctx;

    /* Nonzero for a backend whose commits survive destroy and reopen.
     * Enables the durable checks. */
    int durable;

    /* NULL-terminated names of checks that fail because of a known bug
     * in the backend, or NULL. Such a check is reported as an expected
     * failure and not counted. When it passes, the suite counts a
     * failure, so the entry is removed once the bug is fixed. */
    const char *const *expected_failures;
} jy_store_conformance_backend;

/* Runs every check against backend, printing one line per check and a
 * summary line. Returns the number of failed checks, 0 when the backend
 * conforms. */
int jy_store_conformance_run(const jy_store_conformance_backend *backend);

#endif
