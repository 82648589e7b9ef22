/*
 * The life of a run: start, resume, end (completed, failed, cancelled),
 * its journal and replay cursor, and the set of events it received.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "host_internal.h"


static void link_user_run(jy_host *host, jy_run *run)
{
    jy_run *first = jy_map_get_str(&host->user_runs, run->user);

    run->user_prev = NULL;
    run->user_next = first;
    if (first != NULL)
        first->user_prev = run;
    if (jy_map_put_str(&host->user_runs, run->user, run) != 0)
        jy_host_log(host, JY_LOG_ERROR, run,
                    "out of memory indexing the run by user; cancel_on will not reach it");
}


static void unlink_user_run(jy_host *host, jy_run *run)
{
    if (run->user_prev != NULL) {
        run->user_prev->user_next = run->user_next;
    } else if (run->user_next != NULL) {
        jy_map_put_str(&host->user_runs, run->user, run->user_next);
    } else {
        jy_map_remove_str(&host->user_runs, run->user);
    }
    if (run->user_next != NULL)
        run->user_next->user_prev = run->user_prev;
    run->user_prev = NULL;
    run->user_next = NULL;
}


static void release_key(jy_host *host, jy_run *run)
{
    if (run->key == NULL)
        return;

    char buf[JY_KEY_BUFFER];
    size_t len = 0;
    char *live_key = jy__live_key_in(run->journey->name, run->user, run->key, buf, sizeof buf,
                                     &len);
    if (live_key != NULL)
        jy_map_remove_if(&host->live_keys, live_key, len, run);
    jy__key_release(live_key, buf);
}


/* Makes run the live run of its key, for a run that starts or recovers. */
static void index_key(jy_host *host, jy_run *run)
{
    if (run->key == NULL)
        return;

    char buf[JY_KEY_BUFFER];
    size_t len = 0;
    char *live_key = jy__live_key_in(run->journey->name, run->user, run->key, buf, sizeof buf,
                                     &len);
    if (live_key == NULL || jy_map_put(&host->live_keys, live_key, len, run) != 0)
        jy_host_log(host, JY_LOG_ERROR, run,
                    "out of memory indexing the run key; a second run may start");
    jy__key_release(live_key, buf);
}


void jy__run_persist(jy_host *host, jy_run *run)
{
    if (host->dry_run)
        return;

    char names[512] = "";
    size_t used = 0;

    for (size_t i = 0; i < run->wait_name_count; i++) {
        size_t n = strlen(run->wait_names[i]);
        if (used + n + 2 >= sizeof names)
            break;
        if (i > 0)
            names[used++] = ',';
        memcpy(names + used, run->wait_names[i], n + 1);
        used += n;
    }

    jy_run_record record = {
        .id = run->id,
        .journey = run->journey->name,
        .user = run->user,
        .key = run->key,
        .trigger_seq = run->trigger_seq,
        .started_at = run->started_at,
        .ended_at = run->ended_at,
        .status = run->status,
        .result_json = run->result_json,
        .error = run->error,
        .wait_names = run->wait_name_count > 0 ? names : NULL,
        .deadline = jy_timer_is_queued(&run->timer) ? run->timer.deadline : JY_TIME_MAX,
    };
    jy_error err;
    jy_error_clear(&err);
    if (host->store->ops->run_put(host->store, &record, &err) != 0)
        jy_host_log(host, JY_LOG_ERROR, run, "run state not stored: %s", err.message);
}


/* Releases an ended run's runtime resources and, unless the host keeps
 * ended runs for inspection, frees it; its record stays in the store. */
static void release_ended(jy_host *host, jy_run *run)
{
    if (run->oldest_seq != 0) {
        run->oldest_seq = 0;
        host->stats.runs_reaching_back--;
    }
    jy__resident_remove(host, run);
    if (run->evicted) {
        run->evicted = 0;
        host->stats.runs_evicted--;
    }
    host->runtime.run_release(host->runtime.ctx, run);
    if (host->keep_ended_runs)
        return;
    jy_map_remove_id(&host->runs, run->id);
    jy__run_free(run);
}


/* Moves a run that left its coroutine to the state its outcome names. */
void jy__run_apply_outcome(jy_host *host, jy_run *run, jy_outcome *outcome)
{
    if (outcome->kind == JY_OUTCOME_SUSPENDED && run->cancel_seq != 0) {
        const jy_event *event = host->store->ops->event_get(host->store, run->cancel_seq);
        run->cancel_seq = 0;
        jy__run_cancel(host, run, event);
        return;
    }
    if (outcome->kind == JY_OUTCOME_SUSPENDED) {
        jy__resident_add(host, run);
        if (run->suspend_quietly) {
            run->suspend_quietly = 0;
            return;
        }
        if (run->status == JY_RUN_WAITING) {
            char names[512];
            jy__join_names((const char *const *)run->wait_names, run->wait_name_count, names,
                           sizeof names);
            jy__trace(host, JY_TRACE_WAITING, run, NULL, names, run->timer.deadline);
        } else if (run->status == JY_RUN_SLEEPING) {
            jy__trace(host, JY_TRACE_SLEEPING, run, NULL, NULL, run->timer.deadline);
        }
        return;
    }

    jy__wait_clear(host, run);
    run->recovering = JY_REPLAY_NONE;
    run->ended_at = jy_clock_now(host->clock);
    unlink_user_run(host, run);
    release_key(host, run);
    host->stats.runs_live--;

    if (outcome->kind == JY_OUTCOME_COMPLETED) {
        run->status = JY_RUN_COMPLETED;
        run->result_json = outcome->result_json;
        run->journey->stats.completed++;
        host->stats.runs_completed++;
        jy__trace(host, JY_TRACE_COMPLETED, run, NULL, run->result_json, 0);
    } else {
        run->status = JY_RUN_FAILED;
        run->error = outcome->error;
        run->journey->stats.failed++;
        host->stats.runs_failed++;
        jy_host_log(host, JY_LOG_ERROR, run, "run failed: %s",
                    run->error != NULL ? run->error : "(no message)");
        jy__trace(host, JY_TRACE_FAILED, run, NULL, run->error, 0);
    }
    outcome->result_json = NULL;
    outcome->error = NULL;

    jy__run_persist(host, run);
    release_ended(host, run);
}


/* Seqs of received events that a run's own block has room for: the
 * trigger and the first event a wait takes. */
#define INLINE_RECEIVED 2


/* Returns whether run->received is the room in the run's own block. */
static int received_inline(const jy_run *run)
{
    return run->received == (uint64_t *)(run + 1);
}


/* Allocates a zeroed run with room for INLINE_RECEIVED seqs and copies
 * of user and key (which may be NULL) in the same block: a run starts
 * with each event of a busy stream, and one allocation is cheaper than
 * four. */
static jy_run *new_run(const char *user, const char *key)
{
    size_t user_size = strlen(user) + 1;
    size_t key_size = key != NULL ? strlen(key) + 1 : 0;
    size_t received_size = INLINE_RECEIVED * sizeof(uint64_t);
    jy_run *run = calloc(1, sizeof *run + received_size + user_size + key_size);

    if (run == NULL)
        return NULL;
    run->received = (uint64_t *)(run + 1);
    run->received_capacity = INLINE_RECEIVED;
    char *strings = (char *)(run + 1) + received_size;
    run->user = memcpy(strings, user, user_size);
    if (key != NULL)
        run->key = memcpy(strings + user_size, key, key_size);
    return run;
}


void jy__run_start(jy_host *host, jy_journey *journey, const jy_event *trigger,
                   const char *key)
{
    jy_run *run = new_run(trigger->user, key);

    if (run == NULL)
        goto nomem;
    run->id = host->next_run_id;
    run->host = host;
    run->journey = journey;
    run->trigger_seq = trigger->seq;
    run->emit_chain = host->dispatch_chain;
    run->started_at = jy_clock_now(host->clock);
    run->status = JY_RUN_RUNNING;
    run->match_ref = -1;
    run->runtime_ref = -1;
    run->restore_deadline = JY_TIME_MAX;
    jy_timer_init(&run->timer);
    if (jy_host_mark_received(run, trigger->seq) != 0 ||
        jy_map_put_id(&host->runs, run->id, run) != 0) {
        jy__run_free(run);
        goto nomem;
    }
    host->next_run_id++;

    index_key(host, run);
    link_user_run(host, run);

    journey->stats.started++;
    host->stats.runs_started++;
    host->stats.runs_live++;
    jy__run_persist(host, run);
    jy__trace(host, JY_TRACE_STARTED, run, trigger, NULL, 0);

    jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, NULL};
    host->runtime.run_start(host->runtime.ctx, run, trigger, &outcome);
    jy__run_apply_outcome(host, run, &outcome);
    return;

nomem:
    jy_host_log(host, JY_LOG_ERROR, NULL,
                "out of memory starting journey %s for user %s; no run started",
                journey->name, trigger->user);
}


/* The fields of a stored run that recovery needs, copied because the
 * store's record may be replaced while the run is replayed. */
typedef struct saved_run {
    uint64_t id;
    char *journey;
    char *user;
    char *key;
    uint64_t trigger_seq;
    jy_time started_at;
    jy_time deadline;
    int status;
    char *wait_names;
} saved_run;

typedef struct saved_runs {
    saved_run *items;
    size_t count;
    size_t capacity;
    int failed;
} saved_runs;


static int save_run(const jy_run_record *record, void *ctx)
{
    saved_runs *list = ctx;

    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 256 : list->capacity * 2;
        saved_run *items = realloc(list->items, capacity * sizeof *items);
        if (items == NULL) {
            list->failed = 1;
            return 1;
        }
        list->items = items;
        list->capacity = capacity;
    }
    saved_run *saved = &list->items[list->count++];
    saved->id = record->id;
    saved->journey = strdup(record->journey);
    saved->user = strdup(record->user);
    saved->key = record->key != NULL ? strdup(record->key) : NULL;
    saved->trigger_seq = record->trigger_seq;
    saved->started_at = record->started_at;
    saved->deadline = record->deadline;
    saved->status = record->status;
    saved->wait_names = record->wait_names != NULL ? strdup(record->wait_names) : NULL;
    if (saved->journey == NULL || saved->user == NULL ||
        (record->key != NULL && saved->key == NULL))
        list->failed = 1;
    return list->failed;
}


/* Marks a stored run that cannot be replayed as failed, with why. */
static void fail_stored_run(jy_host *host, jy_run *run, const char *why)
{
    jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, strdup(why)};
    jy_host_log(host, JY_LOG_ERROR, run, "run %llu not recovered: %s",
                (unsigned long long)run->id, why);
    jy__run_apply_outcome(host, run, &outcome);
}


/* Returns the lowest seq before trigger_seq that the stored journal of
 * run_id refers to, or 0 when none. A wait_for's entry contains
 * {"event":N} and a j.events entry {"events":[N,...]}, so every number
 * after the first colon is a seq. Read from the text, for the runs whose
 * journal is not replayed: a parked run stopped short, and a run of a
 * journey no script defines is not replayed at all. */
static uint64_t journal_oldest_reference(jy_store *store, uint64_t run_id, uint64_t trigger_seq)
{
    uint64_t oldest = 0;

    for (uint32_t i = 0;; i++) {
        const jy_journal_entry *entry = store->ops->journal_get(store, run_id, i);
        if (entry == NULL)
            break;
        if (entry->kind != JY_STEP_WAIT_FOR && entry->kind != JY_STEP_EVENTS)
            continue;

        const char *p = strchr(entry->result_json, ':');
        while (p != NULL && *p != '\0') {
            if (*p < '0' || *p > '9') {
                p++;
                continue;
            }
            char *end = NULL;
            uint64_t seq = strtoull(p, &end, 10);
            if (seq < trigger_seq && (oldest == 0 || seq < oldest))
                oldest = seq;
            p = end;
        }
    }
    return oldest;
}


/* Parks a run whose replay failed or diverged, as a changed script makes
 * it do. The store keeps the run as
 * it was, so the next start or reload replays it again, against fixed
 * scripts perhaps. In memory it keeps its key and its place among the
 * user's runs, so a second run with its key does not start and
 * cancel_on still ends it, but no event or deadline wakes it. */
static void park_run(jy_host *host, jy_run *run, jy_outcome *outcome)
{
    jy__wait_clear(host, run);
    host->runtime.run_release(host->runtime.ctx, run);
    jy_host_note_reference(run, journal_oldest_reference(host->store, run->id,
                                                         run->trigger_seq));
    run->status = run->restore_status;
    run->recovering = JY_REPLAY_NONE;
    run->parked = 1;
    host->stats.runs_parked++;
    if (run->divergence == NULL) {
        run->divergence = outcome->error;
        outcome->error = NULL;
    }
    free(outcome->error);
    free(outcome->result_json);

    jy_host_log(host, JY_LOG_ERROR, run,
                "run %llu parked: %s. It stays stored as it was, and the next start or reload "
                "replays it again: restore or fix the journey's script to resume it",
                (unsigned long long)run->id,
                run->divergence != NULL ? run->divergence : "its replay failed");
}


/* Rebuilds one live run from its record and replays its journal. */
static void restore_run(jy_host *host, const saved_run *saved, jy_host_recovery *report)
{
    jy_journey *journey = jy_host_journey(host, saved->journey);
    if (journey == NULL) {
        /* The run stays live in the store, so it resumes once a script
         * defines its journey again. */
        jy_host_log(host, JY_LOG_WARN, NULL,
                    "run %llu of journey %s not recovered: no loaded script defines that "
                    "journey; it stays stored as it is",
                    (unsigned long long)saved->id, saved->journey);
        report->orphaned++;

        /* Retention keeps what its journal refers to from before its
         * trigger, so that it can resume. */
        uint64_t oldest = journal_oldest_reference(host->store, saved->id, saved->trigger_seq);
        if (oldest != 0 && (host->orphan_oldest_seq == 0 || oldest < host->orphan_oldest_seq))
            host->orphan_oldest_seq = oldest;
        return;
    }

    jy_run *run = new_run(saved->user, saved->key);
    if (run == NULL)
        goto nomem;
    run->id = saved->id;
    run->host = host;
    run->journey = journey;
    run->trigger_seq = saved->trigger_seq;
    run->started_at = saved->started_at;
    run->status = JY_RUN_RUNNING;
    run->match_ref = -1;
    run->runtime_ref = -1;
    run->restore_deadline = saved->deadline;
    run->recovering = JY_REPLAY_RESTART;
    run->restore_status = (jy_run_status)saved->status;
    run->restore_wait_names = saved->wait_names != NULL ? strdup(saved->wait_names) : NULL;
    jy_timer_init(&run->timer);
    while (host->store->ops->journal_get(host->store, run->id, run->journal_len) != NULL)
        run->journal_len++;
    if (jy_host_mark_received(run, run->trigger_seq) != 0 ||
        jy_map_put_id(&host->runs, run->id, run) != 0) {
        jy__run_free(run);
        goto nomem;
    }

    index_key(host, run);
    link_user_run(host, run);
    host->stats.runs_live++;
    report->recovered++;

    const jy_event *trigger = host->store->ops->event_get(host->store, run->trigger_seq);
    if (trigger == NULL) {
        fail_stored_run(host, run, "its trigger event is no longer in the store");
        report->failed++;
        return;
    }

    jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, NULL};
    host->runtime.run_start(host->runtime.ctx, run, trigger, &outcome);
    /* A run that returns before its replay reached the stored suspension
     * took another path than the stored run. */
    if (outcome.kind == JY_OUTCOME_COMPLETED && run->recovering != JY_REPLAY_NONE &&
        run->divergence == NULL) {
        jy_buf reason;
        jy_buf_init(&reason);
        jy_buf_printf(&reason, "replay diverged at step %u: as stored the run was %s%s, "
                            "but the script now returns", run->journal_len + 1,
                      run->restore_status == JY_RUN_SLEEPING ? "sleeping" : "waiting for ",
                      run->restore_status == JY_RUN_SLEEPING || run->restore_wait_names == NULL
                          ? "" : run->restore_wait_names);
        run->divergence = jy_buf_take(&reason);
        if (run->divergence == NULL)
            run->divergence = strdup("replay diverged: the script now returns");
        outcome.kind = JY_OUTCOME_FAILED;
    }

    /* A failure before the replay reached the stored suspension, or a
     * suspension elsewhere, comes from the scripts. A failure after it is
     * the run's own, as it would have been without the restart. */
    if (outcome.kind == JY_OUTCOME_FAILED &&
        (run->recovering != JY_REPLAY_NONE || run->divergence != NULL)) {
        park_run(host, run, &outcome);
        report->parked++;
        return;
    }
    jy__run_apply_outcome(host, run, &outcome);
    return;

nomem:
    jy_host_log(host, JY_LOG_ERROR, NULL, "out of memory recovering run %llu; it stays stored "
                "as it was", (unsigned long long)saved->id);
    report->parked++;
}


int jy_host_recover(jy_host *host, jy_host_recovery *report, jy_error *err)
{
    saved_runs list = {0};

    memset(report, 0, sizeof *report);
    uint64_t max_id = host->store->ops->run_max_id(host->store);
    if (max_id >= host->next_run_id)
        host->next_run_id = max_id + 1;

    int rc = host->store->ops->run_scan_live(host->store, save_run, &list);
    if (rc != 0 || list.failed) {
        rc = jy_error_set(err, rc != 0 ? rc : JY_ENOMEM, "cannot read the live runs from the store");
    } else {
        for (size_t i = 0; i < list.count; i++)
            restore_run(host, &list.items[i], report);
    }

    for (size_t i = 0; i < list.count; i++) {
        free(list.items[i].journey);
        free(list.items[i].user);
        free(list.items[i].key);
        free(list.items[i].wait_names);
    }
    free(list.items);
    return rc;
}


void jy__run_resume(jy_host *host, jy_run *run, const jy_event *event)
{
    /* A parked run has no coroutine, and nothing should wake it. */
    if (run->parked) {
        jy_host_log(host, JY_LOG_ERROR, run, "run %llu is parked and was not resumed",
                    (unsigned long long)run->id);
        return;
    }
    if (event != NULL) {
        jy__record_wake(host);
        run->emit_chain = host->dispatch_chain;
    }
    jy__trace(host, JY_TRACE_WOKEN, run, event, NULL, 0);
    jy__resident_remove(host, run);
    run->status = JY_RUN_RUNNING;

    jy_outcome outcome = {JY_OUTCOME_FAILED, NULL, NULL};
    host->runtime.run_resume(host->runtime.ctx, run, event, &outcome);
    jy__run_apply_outcome(host, run, &outcome);
}


void jy__run_cancel(jy_host *host, jy_run *run, const jy_event *event)
{
    if (run->parked) {
        run->parked = 0;
        host->stats.runs_parked--;
    }
    jy__wait_clear(host, run);
    run->status = JY_RUN_CANCELLED;
    run->ended_at = jy_clock_now(host->clock);
    unlink_user_run(host, run);
    release_key(host, run);
    run->journey->stats.cancelled++;
    host->stats.runs_cancelled++;
    host->stats.runs_live--;
    jy__run_persist(host, run);
    jy__trace(host, JY_TRACE_CANCELLED, run, event, NULL, 0);
    release_ended(host, run);
}


void jy__run_free(jy_run *run)
{
    if (!received_inline(run))
        free(run->received);
    free(run->named_floor);
    free(run->result_json);
    free(run->error);
    free(run->divergence);
    free(run->restore_wait_names);
    free(run->call_outcome);
    free(run);
}


int jy_host_run_received(const jy_run *run, uint64_t seq)
{
    size_t lo = 0, hi = run->received_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (run->received[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < run->received_count && run->received[lo] == seq;
}


void jy_host_note_reference(jy_run *run, uint64_t seq)
{
    if (seq == 0 || seq >= run->trigger_seq || (run->oldest_seq != 0 && seq >= run->oldest_seq))
        return;
    if (run->oldest_seq == 0)
        run->host->stats.runs_reaching_back++;
    run->oldest_seq = seq;
}


typedef struct oldest_search {
    const jy_host *host;
    jy_time oldest;
} oldest_search;


static void visit_oldest(jy_run *run, void *ctx)
{
    oldest_search *search = ctx;
    if (run->oldest_seq == 0 || !jy_run_status_is_live(run->status))
        return;
    const jy_event *event = search->host->store->ops->event_get(search->host->store,
                                                                run->oldest_seq);
    if (event != NULL && event->ts < search->oldest)
        search->oldest = event->ts;
}


jy_time jy_host_oldest_reference(const jy_host *host)
{
    oldest_search search = {host, JY_TIME_MAX};
    if (host->stats.runs_reaching_back > 0)
        jy_host_each_run(host, visit_oldest, &search);

    if (host->orphan_oldest_seq != 0) {
        const jy_event *event = host->store->ops->event_get(host->store,
                                                            host->orphan_oldest_seq);
        if (event != NULL && event->ts < search.oldest)
            search.oldest = event->ts;
    }
    return search.oldest;
}


int jy_host_mark_received(jy_run *run, uint64_t seq)
{
    if (jy_host_run_received(run, seq))
        return 0;
    jy_host_note_reference(run, seq);

    if (run->received_count == run->received_capacity) {
        size_t capacity = run->received_capacity * 2;
        uint64_t *grown = received_inline(run) ? malloc(capacity * sizeof *grown)
                                               : realloc(run->received, capacity * sizeof *grown);
        if (grown == NULL)
            return JY_ENOMEM;
        if (received_inline(run))
            memcpy(grown, run->received, run->received_count * sizeof *grown);
        run->received = grown;
        run->received_capacity = capacity;
    }

    /* Seqs mostly arrive in increasing order, so this shift is short. */
    size_t i = run->received_count;
    while (i > 0 && run->received[i - 1] > seq) {
        run->received[i] = run->received[i - 1];
        i--;
    }
    run->received[i] = seq;
    run->received_count++;
    return 0;
}


/* Writes a step as the script wrote it: step("charge"), or sleep() for
 * the steps that have no name. Long names are cut. */
static void step_text(jy_step_kind kind, const char *name, char *out, size_t size)
{
    if (name == NULL || name[0] == '\0')
        snprintf(out, size, "%s()", jy_step_kind_name(kind));
    else
        snprintf(out, size, "%s(\"%.100s\")", jy_step_kind_name(kind), name);
}


int jy_host_replay_next(jy_host *host, jy_run *run, jy_step_kind kind,
                        const char *name, const jy_journal_entry **entry,
                        jy_error *err)
{
    if (run->replay_pos >= run->journal_len)
        return 0;

    const jy_journal_entry *e =
        host->store->ops->journal_get(host->store, run->id, run->replay_pos);
    if (e == NULL)
        return jy_error_set(err, JY_EIO, "journal entry %u of run %llu is missing from the store",
                            run->replay_pos, (unsigned long long)run->id);

    if (e->kind != kind || strcmp(e->name, name != NULL ? name : "") != 0) {
        char held[160], asked[160];
        step_text(e->kind, e->name, held, sizeof held);
        step_text(kind, name, asked, sizeof asked);
        jy_error_set(err, JY_EDIVERGED,
                     "replay diverged at step %u: the journal holds %s but the script asked "
                     "for %s",
                     run->replay_pos + 1, held, asked);
        /* Kept on the run, so a pcall in the script cannot hide it. */
        if (run->divergence == NULL)
            run->divergence = strdup(err != NULL ? err->message : "replay diverged");
        return JY_EDIVERGED;
    }

    run->replay_pos++;
    *entry = e;
    return 1;
}


int jy_host_journal(jy_host *host, jy_run *run, jy_step_kind kind,
                    const char *name, const char *result_json, jy_error *err)
{
    /* A run that journals without end (a loop of j.now, say) would grow
     * its replay and the store for ever. */
    if (run->journal_len >= host->max_journal)
        return jy_error_set(err, JY_ERANGE,
                            "run reached the journal cap of %u steps; a run that needs more "
                            "should end and let a new run continue",
                            host->max_journal);

    /* Before the restart (or the eviction of its coroutine), the run
     * suspended right after its last journaled step, so a new step here
     * means the script changed or does not replay the same way. */
    if (run->recovering != JY_REPLAY_NONE) {
        jy_error_set(err, JY_EDIVERGED,
                     "replay diverged at step %u: the script asked for %s(\"%s\") after the "
                     "end of the journal, where the run was %s %s",
                     run->journal_len + 1, jy_step_kind_name(kind), name != NULL ? name : "",
                     run->restore_status == JY_RUN_SLEEPING ? "sleeping" : "waiting",
                     run->recovering == JY_REPLAY_RESTART
                         ? "as stored" : "when its coroutine was evicted");
        if (run->divergence == NULL)
            run->divergence = strdup(err != NULL ? err->message : "replay diverged");
        return JY_EDIVERGED;
    }

    /* A dry run checks that each run replays to where it was suspended.
     * A step after that would act (store an emitted event, say), so the
     * run stops at the first one. */
    if (host->dry_run)
        return jy_error_set(err, JY_ESTATE,
                            "a dry run stops each run at the end of its replay");

    jy_journal_entry entry = {
        .run_id = run->id,
        .index = run->journal_len,
        .kind = kind,
        .at = jy_clock_now(host->clock),
        .name = name != NULL ? name : "",
        .result_json = result_json != NULL ? result_json : "null",
    };
    int rc = host->store->ops->journal_append(host->store, &entry, err);

    if (rc != 0)
        return rc;
    run->journal_len++;
    run->replay_pos = run->journal_len;
    /* A live step ran, so the restored deadline (if any) is spent, and
     * the run's next suspension differs from its stored record (a wait
     * that took a stored event at once never suspended as stored). */
    run->restore_deadline = JY_TIME_MAX;
    run->resumed_as_stored = 0;
    return 0;
}
