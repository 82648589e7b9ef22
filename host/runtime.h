/*
 * How the scheduler reaches the language runtime.
 *
 * The host never touches Lua. It asks the runtime to start a run, to
 * resume it with what woke it, to say whether an event satisfies a
 * run's wait, and to compute a run key; the runtime (bindings/) calls
 * back into the host (host.h) to journal steps, register waits and
 * emit events while a run executes.
 */
#ifndef JOURNEY_HOST_RUNTIME_H
#define JOURNEY_HOST_RUNTIME_H

#include "error.h"
#include "event.h"
#include "run.h"

/* What a run did when it last gave control back. */
typedef enum jy_outcome_kind {
    JY_OUTCOME_SUSPENDED, /* it called jy_host_wait or jy_host_sleep */
    JY_OUTCOME_COMPLETED, /* it returned; result_json contains the value */
    JY_OUTCOME_FAILED,    /* it raised; error contains the message */
} jy_outcome_kind;

typedef struct jy_outcome {
    jy_outcome_kind kind;
    char *result_json; /* malloc'd, the host takes ownership */
    char *error;       /* malloc'd, the host takes ownership */
} jy_outcome;

typedef struct jy_runtime {
    void *ctx;

    /* Makes event the current event for the calls below until
     * event_close; lets the runtime decode its data once. */
    int (*event_open)(void *ctx, const jy_event *event);
    void (*event_close)(void *ctx);

    /* Computes the key of the current event for journey (JY_KEY_PATH).
     * Sets *key to a malloc'd string, or NULL when the path is absent.
     * Returns 0 or a negative code. */
    int (*event_key)(void *ctx, const jy_journey *journey, char **key);

    /* Returns 1 when the current event satisfies run's wait, 0 when it
     * does not, or a negative code with the message in err when the
     * match could not be computed, as when Lua's memory cap is reached. */
    int (*wait_matches)(void *ctx, jy_run *run, jy_error *err);

    /* Starts run with its trigger event (the current event). */
    void (*run_start)(void *ctx, jy_run *run, const jy_event *trigger,
                      jy_outcome *outcome);

    /* Resumes a suspended run. event is what woke a wait_for, or NULL for
     * a timeout or the end of a sleep. */
    void (*run_resume)(void *ctx, jy_run *run, const jy_event *event,
                       jy_outcome *outcome);

    /* Drops the coroutine of a suspended run, keeping its wait's match,
     * so that a later run_start can rebuild it by replay. Returns 0, or
     * nonzero when the run must keep its coroutine (it waits for an
     * action's handler, whose result is not journaled yet). */
    int (*run_evict)(void *ctx, jy_run *run);

    /* Releases what the runtime holds for an ended run (its coroutine,
     * match) and closes its pending to-be-closed variables. */
    void (*run_release)(void *ctx, jy_run *run);

    /* Releases what the runtime holds for a journey. */
    void (*journey_release)(void *ctx, jy_journey *journey);
} jy_runtime;

#endif
