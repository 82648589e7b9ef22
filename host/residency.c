/*
 * The resident limit: the choice of suspended runs that keep their Lua
 * coroutine in memory.
 *
 * A suspended run is its journal plus its wait, the same state a
 * restart starts from, so its coroutine is only a cache. With a resident
 * limit, the host keeps the coroutines of the runs that suspended most
 * recently and drops the others. A wake rebuilds a dropped coroutine by
 * replaying the journal, as recovery does, and then delivers the wake.
 * The wait index, the deadline and the wait's match stay in place, so an
 * evicted run is found and matched like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "host_internal.h"


void jy__resident_remove(jy_host *host, jy_run *run)
{
    if (!run->resident)
        return;

    if (run->resident_prev != NULL)
        run->resident_prev->resident_next = run->resident_next;
    else
        host->resident_head = run->resident_next;
    if (run->resident_next != NULL)
        run->resident_next->resident_prev = run->resident_prev;
    else
        host->resident_tail = run->resident_prev;
    run->resident_prev = NULL;
    run->resident_next = NULL;
    run->resident = 0;
    host->resident_count--;
}


static void evict(jy_host *host, jy_run *run)
{
    jy__resident_remove(host, run);

    /* A run that the runtime keeps (one waiting for an action's result)
     * stays out of the list until it suspends again. */
    if (host->runtime.run_evict(host->runtime.ctx, run) != 0)
        return;

    run->evicted = 1;
    host->stats.runs_evicted++;
    host->stats.evictions++;
}


void jy__resident_add(jy_host *host, jy_run *run)
{
    if (host->resident_limit == 0 || run->evicted)
        return;

    jy__resident_remove(host, run);
    run->resident_prev = host->resident_tail;
    run->resident_next = NULL;
    if (host->resident_tail != NULL)
        host->resident_tail->resident_next = run;
    else
        host->resident_head = run;
    host->resident_tail = run;
    run->resident = 1;
    host->resident_count++;

    while (host->resident_count > host->resident_limit)
        evict(host, host->resident_head);
}


int jy__resident_rebuild(jy_host *host, jy_run *run)
{
    if (!run->evicted)
        return 0;

    run->evicted = 0;
    host->stats.runs_evicted--;
    host->stats.rebuilds++;

    /* The replay must end in the wait or sleep the run is in now, with
     * the same names and deadline. The check in waits.c compares them and
     * registers nothing, because the wait is registered already. */
    run->recovering = JY_REPLAY_REBUILD;
    run->restore_status = run->status;
    run->restore_deadline = run->timer.deadline;
    run->replay_pos = 0;
    run->status = JY_RUN_RUNNING;

    jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, NULL};
    const jy_event *trigger = host->store->ops->event_get(host->store, run->trigger_seq);
    if (trigger == NULL) {
        outcome.error = strdup("its trigger event is not in the store, so its coroutine "
                               "cannot be rebuilt");
    } else {
        host->runtime.run_start(host->runtime.ctx, run, trigger, &outcome);
        if (outcome.kind == JY_OUTCOME_SUSPENDED && run->recovering != JY_REPLAY_NONE) {
            /* It suspended in a j.* step that does not check its resume
             * point, so nothing compared it with the wait it was in. */
            outcome.kind = JY_OUTCOME_FAILED;
            outcome.error = strdup("replay diverged: the rebuilt run suspended somewhere "
                                   "other than the wait it was evicted in");
        }
    }

    run->restore_deadline = JY_TIME_MAX;
    if (outcome.kind == JY_OUTCOME_SUSPENDED) {
        run->suspend_quietly = 0;
        return 0;
    }

    /* A rebuild that completed ran past its journal without a wait, which
     * is a divergence like any other. */
    if (outcome.kind == JY_OUTCOME_COMPLETED) {
        free(outcome.result_json);
        outcome.result_json = NULL;
        outcome.kind = JY_OUTCOME_FAILED;
        outcome.error = strdup("replay diverged: the rebuilt run ended where it was "
                               "suspended before");
    }
    run->recovering = JY_REPLAY_NONE;
    jy__run_apply_outcome(host, run, &outcome);
    return -1;
}
