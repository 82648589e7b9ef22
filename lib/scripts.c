/*
 * Scripts and what outlives them: loading, reloading with a new list,
 * dry runs against other scripts, retention, and the program's own
 * values in the store.
 *
 * A reload builds a new generation (a Lua state and a core host over
 * the same store) and swaps it in only when every script loads. The
 * live runs then move to it by replay from their journals.
 */
#include "host_private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The program's keys in the store's meta table start with this, so they
 * never collide with the host's own ("clock", the high-water marks). */
#define APP_META_PREFIX "app."


int journey_load(journey_host *host, const char *path)
{
    ON_LOOP_THREAD(host);
    jy_error err;
    jy_error_clear(&err);
    if (path == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "journey_load needs the path of a script");
    if (host->closing || host->started)
        return jy_lib_fail(host, JOURNEY_ESTATE, "%s", host->closing
                               ? "the host is closing"
                               : "the host is started; load scripts before journey_start, and "
                                 "call journey_reload after editing them");
    if (jy_lua_host_load(host->lh, path, &err) != 0)
        return jy_lib_fail(host, JOURNEY_EINVAL, "%s", err.message);

    char **grown = realloc(host->scripts, (host->script_count + 1) * sizeof *grown);
    char *copy = strdup(path);
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            host->scripts = grown;
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory remembering %s", path);
    }
    grown[host->script_count++] = copy;
    host->scripts = grown;
    return JOURNEY_OK;
}


static void free_paths(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}


/* Builds a generation with every script of paths loaded. On a load
 * error the message names the script and line. */
static int load_generation(journey_host *host, const char *const *paths, size_t count,
                           lua_State **out_L, jy_lua_host **out_lh)
{
    lua_State *L = NULL;
    jy_lua_host *lh = NULL;
    if (jy_lib_new_generation(host, &L, &lh) != 0)
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory creating a Lua state");

    jy_error err;
    jy_error_clear(&err);
    for (size_t i = 0; i < count; i++) {
        if (paths[i] == NULL) {
            jy_lib_free_generation(L, lh);
            return jy_lib_fail(host, JOURNEY_EINVAL, "script %zu of the list is NULL; give "
                                                     "the path of every script", i);
        }
        if (jy_lua_host_load(lh, paths[i], &err) != 0) {
            jy_lib_free_generation(L, lh);
            return jy_lib_fail(host, JOURNEY_EINVAL, "%s", err.message);
        }
    }
    *out_L = L;
    *out_lh = lh;
    return JOURNEY_OK;
}


int jy_lib_replay(jy_lua_host *lh, size_t scripts, journey_replay_report *report,
                  jy_error *err)
{
    jy_host_recovery recovery = {0, 0, 0, 0};
    int rc = jy_host_recover(lh->host, &recovery, err);
    report->replayed = recovery.recovered;
    report->diverged = recovery.parked + recovery.failed;
    report->orphaned = recovery.orphaned;
    report->scripts = scripts;
    report->journeys = lh->host->journey_count;
    return rc;
}


/* Adds the counters of a generation that is going away to the host's
 * totals, so statistics survive reloads. */
static void keep_counters(journey_host *host, const jy_host_stats *old)
{
    jy_host_stats *sum = &host->earlier;
    for (size_t b = 0; b <= JY_WAKE_BUCKETS; b++)
        sum->wake_buckets[b] += old->wake_buckets[b];
    sum->wake_seconds_sum += old->wake_seconds_sum;
    sum->events_ingested += old->events_ingested;
    sum->events_duplicate += old->events_duplicate;
    sum->events_emitted += old->events_emitted;
    sum->runs_started += old->runs_started;
    sum->runs_completed += old->runs_completed;
    sum->runs_failed += old->runs_failed;
    sum->runs_cancelled += old->runs_cancelled;
}


int journey_reload_scripts(journey_host *host, const char *const *paths, size_t count)
{
    ON_LOOP_THREAD(host);
    if (!host->started || host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is %s; reload after journey_start",
                           host->closing ? "closing" : "not started");
    if (paths == NULL && count > 0)
        return jy_lib_fail(host, JOURNEY_EINVAL, "journey_reload_scripts needs the list of "
                                                 "scripts");

    /* The list is copied first: paths may be the host's own list. */
    char **copies = calloc(count > 0 ? count : 1, sizeof *copies);
    for (size_t i = 0; copies != NULL && i < count; i++) {
        if (paths[i] != NULL && (copies[i] = strdup(paths[i])) == NULL) {
            free_paths(copies, i);
            copies = NULL;
        }
    }
    if (copies == NULL)
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reloading");

    /* The new scripts load into a state of their own; the old ones stay
     * in force when one of them fails. */
    lua_State *L = NULL;
    jy_lua_host *lh = NULL;
    int rc = load_generation(host, (const char *const *)copies, count, &L, &lh);
    if (rc != JOURNEY_OK) {
        free_paths(copies, count);
        host->counters.reload_failures++;
        if (rc == JOURNEY_EINVAL) {
            char reason[sizeof host->error];
            snprintf(reason, sizeof reason, "%s", host->error);
            return jy_lib_fail(host, rc, "reload failed, the previous scripts stay in force: "
                                         "%s", reason);
        }
        return rc;
    }

    /* A call that its handler finished waits for its run to resume at a
     * deadline set to now. Firing what is due here lets the old scripts
     * journal its result, which the new ones then replay, instead of
     * calling the handler again. */
    if (host->started) {
        host->busy++;
        jy_host_fire_due(host->lh->host, jy_host_now(host->lh->host), SIZE_MAX);
        host->busy--;
        host->dirty = 1;
    }

    /* Commit what the old scripts did, then move the live runs to the
     * new ones by replay. */
    jy_lib_commit(host);
    keep_counters(host, &host->lh->host->stats);
    jy_lib_free_generation(host->L, host->lh);
    host->L = L;
    host->lh = lh;
    free_paths(host->scripts, host->script_count);
    host->scripts = copies;
    host->script_count = count;
    host->counters.reloads++;

    jy_error err;
    jy_error_clear(&err);
    host->adopting_calls = 1;
    rc = jy_lib_replay(lh, count, &host->last_replay, &err);
    host->adopting_calls = 0;
    if (rc != 0)
        return jy_lib_fail(host, rc, "%s", err.message);
    if (!host->is_virtual)
        jy_host_advance_to(lh->host, jy_host_now(lh->host));
    host->dirty = 1;
    jy_lib_commit_soon(host);
    jy_lib_arm_timer(host);
    if (host->last_replay.diverged > 0)
        return jy_lib_fail(host, JOURNEY_EDIVERGED, "reloaded; %llu live runs did not replay "
                                                    "against the new scripts and were parked: "
                                                    "they stay stored as they were until a "
                                                    "start or reload replays them",
                           (unsigned long long)host->last_replay.diverged);
    return JOURNEY_OK;
}


int journey_reload(journey_host *host)
{
    return journey_reload_scripts(host, (const char *const *)host->scripts, host->script_count);
}


int journey_dry_run(journey_host *host, const char *const *paths, size_t count,
                    journey_replay_report *report)
{
    ON_LOOP_THREAD(host);
    memset(report, 0, sizeof *report);
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");
    if (paths == NULL && count > 0)
        return jy_lib_fail(host, JOURNEY_EINVAL, "journey_dry_run needs the list of scripts");

    lua_State *L = NULL;
    jy_lua_host *lh = NULL;
    int rc = load_generation(host, paths, count, &L, &lh);
    if (rc != JOURNEY_OK)
        return rc;

    /* The journals must be complete before they are replayed. */
    if (host->started)
        jy_lib_commit(host);

    lh->host->dry_run = 1;
    jy_host_set_log(lh->host, NULL, NULL);
    jy_host_set_trace(lh->host, NULL, NULL);
    jy_error err;
    jy_error_clear(&err);
    rc = jy_lib_replay(lh, count, report, &err);
    jy_lib_free_generation(L, lh);
    if (rc != 0)
        return jy_lib_fail(host, rc, "%s", err.message);
    return JOURNEY_OK;
}


void journey_last_replay(const journey_host *host, journey_replay_report *report)
{
    *report = host->last_replay;
}


int journey_prune(journey_host *host, int64_t older_than, uint64_t *runs, uint64_t *events)
{
    ON_LOOP_THREAD(host);
    uint64_t runs_deleted = 0, events_deleted = 0;
    if (runs != NULL)
        *runs = 0;
    if (events != NULL)
        *events = 0;
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");
    if (older_than < 0)
        return jy_lib_fail(host, JOURNEY_EINVAL, "invalid retention %lld ms: give 0 or more",
                           (long long)older_than);

    /* From now on, reads that reach back see the same window whenever
     * the next prune runs. */
    host->history_window = older_than;
    host->lh->host->history_window = older_than;

    /* Before the start the live runs are not replayed yet, so what their
     * journals refer to is unknown: only the window is set, and the
     * restored waits of the start read within it. */
    if (!host->started)
        return JOURNEY_OK;

    /* A cutoff before the start of time means nothing is old enough. */
    jy_time now = jy_host_now(host->lh->host);
    jy_time cutoff = now > JY_TIME_MIN + older_than ? now - older_than : JY_TIME_MIN;

    /* A live run that took an event from before its trigger (with
     * since) needs it at every replay, so events stay from there on. */
    jy_time events_cutoff = cutoff;
    jy_time referenced = jy_host_oldest_reference(host->lh->host);
    if (referenced < events_cutoff)
        events_cutoff = referenced;

    jy_error err;
    jy_error_clear(&err);
    if (host->store->ops->prune(host->store, cutoff, events_cutoff, &runs_deleted,
                                &events_deleted, &err) != 0)
        return jy_lib_fail(host, err.code != 0 ? err.code : JOURNEY_EIO, "retention failed: %s",
                           err.message);
    /* A prune writes the store's high-water marks even when it deletes
     * nothing, so its group needs a commit either way. */
    host->dirty = 1;
    if (!host->is_virtual)
        jy_lib_commit_soon(host);
    if (runs != NULL)
        *runs = runs_deleted;
    if (events != NULL)
        *events = events_deleted;
    return JOURNEY_OK;
}


/* Writes APP_META_PREFIX key into out, or fails naming the key. */
static int app_key(journey_host *host, const char *key, char *out, size_t size)
{
    if (key == NULL || key[0] == '\0')
        return jy_lib_fail(host, JOURNEY_EINVAL, "a meta key must be a non-empty string");
    if ((size_t)snprintf(out, size, "%s%s", APP_META_PREFIX, key) >= size)
        return jy_lib_fail(host, JOURNEY_ERANGE, "meta key \"%.40s...\" is too long; use at "
                                                 "most %zu bytes", key,
                           size - sizeof APP_META_PREFIX);
    return JOURNEY_OK;
}


int journey_meta_get(journey_host *host, const char *key, char **value)
{
    ON_LOOP_THREAD(host);
    char full[256];
    *value = NULL;
    int rc = app_key(host, key, full, sizeof full);
    if (rc != JOURNEY_OK)
        return rc;
    jy_error err;
    jy_error_clear(&err);
    if (host->store->ops->meta_get(host->store, full, value, &err) != 0)
        return jy_lib_fail(host, err.code != 0 ? err.code : JOURNEY_EIO, "%s", err.message);
    return JOURNEY_OK;
}


int journey_meta_put(journey_host *host, const char *key, const char *value)
{
    ON_LOOP_THREAD(host);
    char full[256];
    int rc = app_key(host, key, full, sizeof full);
    if (rc != JOURNEY_OK)
        return rc;
    if (value == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "the value of meta key %s is NULL; give a "
                                                 "string", key);
    /* After a failed commit nothing written reaches the store, so the
     * value would be lost without a word. */
    if (host->failed)
        return jy_lib_fail(host, JOURNEY_EIO, "a commit failed, so meta key %s is not stored; "
                                              "close the host and start again", key);
    jy_error err;
    jy_error_clear(&err);
    if (host->store->ops->meta_put(host->store, full, value, &err) != 0)
        return jy_lib_fail(host, err.code != 0 ? err.code : JOURNEY_EIO, "%s", err.message);
    host->dirty = 1;
    return JOURNEY_OK;
}
