/*
 * The wait index and the deadlines: registering what a suspended run
 * waits for, finding the runs an event wakes by (user, event name) in
 * O(1), and firing deadlines in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "host_internal.h"


static void unlink_wait(jy_host *host, jy_wait_link *link, const char *user,
                        const char *name)
{
    jy_wait_list *list = link->list;

    if (list == NULL)
        return;
    if (link->prev != NULL)
        link->prev->next = link->next;
    else
        list->head = link->next;
    if (link->next != NULL)
        link->next->prev = link->prev;
    else
        list->tail = link->prev;
    list->count--;
    link->list = NULL;

    if (list->count == 0) {
        char buf[JY_KEY_BUFFER];
        size_t len = 0;
        char *key = jy__pair_key_in(user, name, buf, sizeof buf, &len);
        if (key != NULL) {
            jy_map_remove(&host->waits, key, len);
            free(list);
        }
        /* NOTE: without memory for the key, an empty list stays in the
         * index; it is harmless and reused by the next wait. */
        jy__key_release(key, buf);
    }
}


void jy__wait_clear(jy_host *host, jy_run *run)
{
    jy_timer_heap_remove(&host->deadlines, &run->timer);

    for (size_t i = 0; i < run->wait_name_count; i++) {
        if (run->wait_links != NULL)
            unlink_wait(host, &run->wait_links[i], run->user, run->wait_names[i]);
        free(run->wait_names[i]);
    }
    free(run->wait_names);
    free(run->wait_links);
    run->wait_names = NULL;
    run->wait_links = NULL;
    run->wait_name_count = 0;
}


/* A run recovered after a restart keeps the deadline it had, however
 * long the host was down: a restart never resets a timeout. */
static jy_time restored(jy_run *run, jy_time deadline)
{
    if (run->restore_deadline == JY_TIME_MAX)
        return deadline;
    deadline = run->restore_deadline;
    run->restore_deadline = JY_TIME_MAX;
    return deadline;
}


void jy__join_names(const char *const *names, size_t count, char *out, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return;
    for (size_t i = 0; i < count && used + 1 < size; i++) {
        if (i > 0)
            out[used++] = ',';
        size_t len = strlen(names[i]);
        size_t room = size - 1 - used;
        size_t copied = len < room ? len : room;
        memcpy(out + used, names[i], copied);
        used += copied;
    }
    out[used] = '\0';
}


/* Checks that a replaying run suspends where it was suspended before
 * the restart, or before its coroutine was evicted: the same kind of
 * wait, on the same names. The journal does not hold the current wait,
 * so this is the last step a replay can compare. Returns 0 to go on as
 * usual, 1 when a rebuilt run reached its wait, which is registered
 * already, or JY_EDIVERGED with the run's divergence set. */
static int check_suspension(jy_run *run, jy_run_status status, const char *names,
                            jy_error *err)
{
    char current[512];
    const char *before = "";

    switch (run->recovering) {
    case JY_REPLAY_NONE:
        return 0;
    case JY_REPLAY_REBUILT:
        run->recovering = JY_REPLAY_NONE;
        return 1;
    case JY_REPLAY_REBUILD:
        jy__join_names((const char *const *)run->wait_names, run->wait_name_count, current,
                       sizeof current);
        before = current;
        break;
    default:
        before = run->restore_wait_names != NULL ? run->restore_wait_names : "";
        break;
    }

    int rebuilding = run->recovering == JY_REPLAY_REBUILD;
    run->recovering = JY_REPLAY_NONE;
    if (run->restore_status == status && strcmp(before, names) == 0) {
        if (rebuilding) {
            run->recovering = JY_REPLAY_REBUILT;
            return 1;
        }
        run->resumed_as_stored = 1;
        return 0;
    }

    jy_error_set(err, JY_EDIVERGED,
                 "replay diverged at step %u: %s the run was %s%s, but the script now %s%s%s",
                 run->journal_len + 1,
                 rebuilding ? "when its coroutine was evicted" : "as stored",
                 run->restore_status == JY_RUN_SLEEPING ? "sleeping" : "waiting for ",
                 run->restore_status == JY_RUN_SLEEPING ? "" : before,
                 status == JY_RUN_SLEEPING ? "sleeps" : "waits for ",
                 status == JY_RUN_SLEEPING ? "" : names,
                 rebuilding ? "; code outside j.* (a global, a file) took another path when "
                              "the run was replayed, see \"Runs kept in memory\" in "
                              "docs/lua-api.md" : "");
    if (run->divergence == NULL)
        run->divergence = strdup(err != NULL ? err->message : "replay diverged");
    return JY_EDIVERGED;
}


/* Writes the run's record, except for a recovered run that suspended
 * exactly as its stored record says: rewriting 100,000 unchanged
 * records would make a restart slow for nothing. */
static void persist_unless_stored(jy_host *host, jy_run *run)
{
    if (run->resumed_as_stored) {
        run->resumed_as_stored = 0;
        run->suspend_quietly = 1;
        return;
    }
    jy__run_persist(host, run);
}


/* A deadline after now wakes the run at a later instant, where emits
 * cannot loop without time passing, so its emits start a new chain. A
 * wake by an event sets the chain again from that event. */
static void restart_emit_chain(const jy_host *host, jy_run *run, jy_time deadline)
{
    if (deadline > jy_clock_now(host->clock))
        run->emit_chain = 0;
}


int jy_host_wait(jy_host *host, jy_run *run, const char *const *names,
                 size_t name_count, jy_time deadline, int match_ref,
                 jy_error *err)
{
    char joined[512];
    jy__join_names(names, name_count, joined, sizeof joined);
    int rc = check_suspension(run, JY_RUN_WAITING, joined, err);
    if (rc < 0)
        return rc;

    /* A rebuilt run's wait never left the index; only its match is new.
     * A wait_for checked its resume point already, so the rebuild is over
     * either way. */
    if (rc == 1) {
        run->recovering = JY_REPLAY_NONE;
        run->match_ref = match_ref;
        run->status = JY_RUN_WAITING;
        run->suspend_quietly = 1;
        return 0;
    }
    jy__wait_clear(host, run);
    deadline = restored(run, deadline);

    run->wait_names = calloc(name_count, sizeof *run->wait_names);
    run->wait_links = calloc(name_count, sizeof *run->wait_links);
    if (run->wait_names == NULL || run->wait_links == NULL)
        goto nomem;
    run->wait_name_count = name_count;

    for (size_t i = 0; i < name_count; i++) {
        run->wait_names[i] = strdup(names[i]);
        if (run->wait_names[i] == NULL)
            goto nomem;

        char buf[JY_KEY_BUFFER];
        size_t len = 0;
        char *key = jy__pair_key_in(run->user, names[i], buf, sizeof buf, &len);
        if (key == NULL)
            goto nomem;
        jy_wait_list *list = jy_map_get(&host->waits, key, len);
        if (list == NULL) {
            list = calloc(1, sizeof *list);
            if (list == NULL || jy_map_put(&host->waits, key, len, list) != 0) {
                free(list);
                jy__key_release(key, buf);
                goto nomem;
            }
        }
        jy__key_release(key, buf);

        jy_wait_link *link = &run->wait_links[i];
        link->run = run;
        link->list = list;
        link->next = NULL;
        link->prev = list->tail;
        if (list->tail != NULL)
            list->tail->next = link;
        else
            list->head = link;
        list->tail = link;
        list->count++;
    }

    if (jy_timer_heap_push(&host->deadlines, &run->timer, deadline) != 0)
        goto nomem;
    restart_emit_chain(host, run, deadline);

    run->match_ref = match_ref;
    run->status = JY_RUN_WAITING;
    persist_unless_stored(host, run);
    return 0;

nomem:
    jy__wait_clear(host, run);
    return jy_error_set(err, JY_ENOMEM, "out of memory registering the wait of run %llu",
                        (unsigned long long)run->id);
}


int jy_host_sleep(jy_host *host, jy_run *run, jy_time deadline, jy_error *err)
{
    int rc = check_suspension(run, JY_RUN_SLEEPING, "", err);
    if (rc < 0)
        return rc;
    /* j.step's wait between attempts sleeps without checking its resume
     * point first, so this may be the first check of the rebuild. */
    if (rc == 1) {
        run->recovering = JY_REPLAY_NONE;
        run->status = JY_RUN_SLEEPING;
        run->suspend_quietly = 1;
        return 0;
    }
    jy__wait_clear(host, run);
    deadline = restored(run, deadline);

    if (jy_timer_heap_push(&host->deadlines, &run->timer, deadline) != 0)
        return jy_error_set(err, JY_ENOMEM, "out of memory registering the sleep of run %llu",
                            (unsigned long long)run->id);
    restart_emit_chain(host, run, deadline);
    run->status = JY_RUN_SLEEPING;
    persist_unless_stored(host, run);
    return 0;
}


static int push_key(char ***keys, size_t *count, const jy_run *run)
{
    if (run->key == NULL)
        return 0;

    size_t len = 0;
    char *key = jy__live_key(run->journey->name, run->user, run->key, &len);
    char **grown = realloc(*keys, (*count + 1) * sizeof *grown);
    if (key == NULL || grown == NULL) {
        free(key);
        if (grown != NULL)
            *keys = grown;
        return JY_ENOMEM;
    }
    grown[(*count)++] = key;
    *keys = grown;
    return 0;
}


void jy__wait_dispatch(jy_host *host, const jy_event *event, char ***woke_keys,
                       size_t *woke_count)
{
    char buf[JY_KEY_BUFFER];
    size_t len = 0;
    char *key = jy__pair_key_in(event->user, event->name, buf, sizeof buf, &len);
    jy_wait_list *list = key != NULL ? jy_map_get(&host->waits, key, len) : NULL;

    jy__key_release(key, buf);
    if (list == NULL)
        return;

    /* Waking a run changes the list (it leaves, and may wait again at
     * the tail), and may end other runs, so walk a snapshot of run ids
     * and look each one up. A list of one, the common case, needs
     * neither: nothing runs between taking its run and waking it. */
    size_t count = list->count;
    uint64_t one_id = 0;
    uint64_t *ids = count > 1 ? malloc(count * sizeof *ids) : &one_id;
    if (ids == NULL) {
        jy_host_log(host, JY_LOG_ERROR, NULL,
                    "out of memory waking runs for event %llu; its waits stay pending",
                    (unsigned long long)event->seq);
        return;
    }
    size_t n = 0;
    for (jy_wait_link *link = list->head; link != NULL; link = link->next)
        ids[n++] = link->run->id;

    for (size_t i = 0; i < n; i++) {
        jy_run *run = n == 1 ? list->head->run : jy_host_run(host, ids[i]);

        if (run == NULL || run->status != JY_RUN_WAITING)
            continue;
        /* A run never receives its own emits, nor an event twice. */
        if (run->id == event->origin_run || jy_host_run_received(run, event->seq))
            continue;

        int waits_on_name = 0;
        for (size_t k = 0; k < run->wait_name_count; k++)
            if (strcmp(run->wait_names[k], event->name) == 0)
                waits_on_name = 1;
        if (!waits_on_name)
            continue;

        jy_error err;
        jy_error_clear(&err);
        int matched = host->runtime.wait_matches(host->runtime.ctx, run, &err);
        if (matched < 0) {
            /* Whether the event matches cannot be known, so the run fails
             * rather than miss its event and wait for the timeout. */
            jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, strdup(err.message)};
            jy__run_apply_outcome(host, run, &outcome);
            continue;
        }
        if (matched != 1)
            continue;

        /* Only a journey that this event also triggers needs to know
         * which of its keys the event woke. */
        if (jy__journey_triggers_on(run->journey, event->name) &&
            push_key(woke_keys, woke_count, run) != 0)
            jy_host_log(host, JY_LOG_WARN, run,
                        "out of memory recording the woken key; the event may also start a run");
        if (jy__resident_rebuild(host, run) != 0)
            continue;
        jy__wait_clear(host, run);
        jy__run_resume(host, run, event);
    }
    if (ids != &one_id)
        free(ids);
}


int jy__wait_fire_next(jy_host *host, jy_time t)
{
    jy_timer *timer = jy_timer_heap_peek(&host->deadlines);

    if (timer == NULL || timer->deadline > t)
        return 0;

    jy_run *run = (jy_run *)((char *)timer - offsetof(jy_run, timer));
    jy_clock_set(host->clock, timer->deadline);
    if (jy__resident_rebuild(host, run) != 0)
        return 1;
    jy__wait_clear(host, run);
    /* A deadline set for a later instant starts a new cascade. One that
     * fell due at the instant it was set (a zero sleep, a retry without
     * backoff) kept the run's chain, and so belongs to the cascade that
     * chain is part of. */
    if (run->emit_chain == 0)
        host->cascade_emits = 0;
    jy__run_resume(host, run, NULL);
    return 1;
}


int jy_host_wake_soon(jy_host *host, jy_run *run)
{
    if (run->status != JY_RUN_SLEEPING || run->parked)
        return JY_ESTATE;
    /* Moving the deadline to now, rather than resuming here, keeps the
     * resume out of the caller's stack, which may be the run itself. */
    return jy_timer_heap_push(&host->deadlines, &run->timer, jy_clock_now(host->clock));
}


int jy_host_resume_point(jy_host *host, jy_run *run, jy_run_status status, const char *names,
                         jy_error *err)
{
    (void)host;
    return check_suspension(run, status, names != NULL ? names : "", err);
}
