/*
 * Dispatching events: the queue, cancel_on, waking waits, starting runs,
 * and moving a virtual clock between events and deadlines.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "host_internal.h"


/* Returns nonzero when name matches a trigger pattern: an exact name,
 * "*" for every event, or a prefix followed by "*" for every name that
 * starts with that prefix. */
static int pattern_matches(const char *pattern, const char *name)
{
    size_t len = strlen(pattern);

    if (len > 0 && pattern[len - 1] == '*')
        return strncmp(pattern, name, len - 1) == 0;
    return strcmp(pattern, name) == 0;
}


int jy__journey_triggers_on(const jy_journey *journey, const char *name)
{
    for (size_t i = 0; i < journey->on_count; i++)
        if (pattern_matches(journey->on[i], name))
            return 1;
    return 0;
}


static int journey_cancels_on(const jy_journey *journey, const char *name)
{
    for (size_t i = 0; i < journey->cancel_on_count; i++)
        if (pattern_matches(journey->cancel_on[i], name))
            return 1;
    return 0;
}


/* Ends the user's live runs whose journey lists event's name in
 * cancel_on. A journey keyed by a path other than "id" cancels only the
 * run whose key the event carries, when it carries one. */
static void apply_cancels(jy_host *host, const jy_event *event)
{
    /* Most hosts have no cancel_on at all, and the lookup of the user's
     * runs is a cache miss in a large map. */
    int any = 0;
    for (size_t i = 0; i < host->journey_count && !any; i++)
        any = host->journeys[i]->cancel_on_count > 0;
    if (!any)
        return;

    jy_run *run = jy_map_get_str(&host->user_runs, event->user);

    while (run != NULL) {
        jy_run *next = run->user_next;

        if (run->id != event->origin_run &&
            journey_cancels_on(run->journey, event->name)) {
            int cancel = 1;

            /* Ids are unique per user, so a cancel event's id never equals
             * a trigger's. A journey keyed by "id" therefore cancels all. */
            if (run->journey->key_mode == JY_KEY_PATH && run->key != NULL &&
                strcmp(run->journey->key_path, "id") != 0) {
                char *key = NULL;
                if (host->runtime.event_key(host->runtime.ctx, run->journey, &key) == 0 &&
                    key != NULL && strcmp(key, run->key) != 0)
                    cancel = 0;
                free(key);
            }
            /* A running run is on the C stack of this very ingest (its
             * action handler ingested the event), so it is cancelled
             * when its coroutine stops, not freed under it. A parked run
             * keeps the status it was stored with, running too, but runs
             * nowhere. */
            if (cancel && run->status == JY_RUN_RUNNING && !run->parked) {
                if (run->cancel_seq == 0)
                    run->cancel_seq = event->seq;
            } else if (cancel) {
                jy__run_cancel(host, run, event);
            }
        }
        run = next;
    }
}


static int key_was_woken(char **woke_keys, size_t woke_count,
                         const char *live_key, size_t live_key_len)
{
    /* Compare the lengths first, because a memcmp over live_key_len
     * bytes would read past the end of a shorter woken key. */
    for (size_t i = 0; i < woke_count; i++)
        if (jy__live_key_length(woke_keys[i]) == live_key_len &&
            memcmp(woke_keys[i], live_key, live_key_len + 1) == 0)
            return 1;
    return 0;
}


static void apply_triggers(jy_host *host, const jy_event *event,
                           char **woke_keys, size_t woke_count)
{
    for (size_t i = 0; i < host->journey_count; i++) {
        jy_journey *journey = host->journeys[i];
        char *path_key = NULL;

        if (!jy__journey_triggers_on(journey, event->name))
            continue;

        if (journey->key_mode == JY_KEY_NONE) {
            jy__run_start(host, journey, event, NULL);
            continue;
        }

        if (journey->key_mode != JY_KEY_USER &&
            (host->runtime.event_key(host->runtime.ctx, journey, &path_key) != 0 ||
             path_key == NULL)) {
            jy_host_log(host, JY_LOG_WARN, NULL,
                        "event %s of user %s has no value at key path \"%s\" of journey %s; no run started",
                        event->name, event->user, journey->key_path, journey->name);
            continue;
        }
        const char *key = journey->key_mode == JY_KEY_USER ? event->user : path_key;

        char buf[JY_KEY_BUFFER];
        size_t live_len = 0;
        char *live_key = jy__live_key_in(journey->name, event->user, key, buf, sizeof buf,
                                         &live_len);
        if (live_key != NULL &&
            jy_map_get(&host->live_keys, live_key, live_len) == NULL &&
            !key_was_woken(woke_keys, woke_count, live_key, live_len))
            jy__run_start(host, journey, event, key);
        jy__key_release(live_key, buf);
        free(path_key);
    }
}


static void dispatch(jy_host *host, const jy_event *event)
{
    char **woke_keys = NULL;
    size_t woke_count = 0;

    jy__trace(host, JY_TRACE_EVENT, NULL, event, NULL, 0);

    if (host->runtime.event_open(host->runtime.ctx, event) != 0) {
        jy_host_log(host, JY_LOG_ERROR, NULL,
                    "event %llu (%s of user %s) could not be prepared for journeys; skipped",
                    (unsigned long long)event->seq, event->name, event->user);
        return;
    }

    apply_cancels(host, event);
    jy__wait_dispatch(host, event, &woke_keys, &woke_count);
    apply_triggers(host, event, woke_keys, woke_count);
    host->runtime.event_close(host->runtime.ctx);

    for (size_t i = 0; i < woke_count; i++)
        free(woke_keys[i]);
    free(woke_keys);
}


/* Stores the event, then dispatches it. Takes ownership of event. */
static int store_and_dispatch(jy_host *host, jy_event *event, jy_error *err)
{
    int rc = host->store->ops->event_append(host->store, event, err);

    if (rc == JY_EEXIST) {
        host->stats.events_duplicate++;
        /* The store freed the event; a trace of it would read freed
         * memory, so the duplicate is reported without it. */
        jy__trace(host, JY_TRACE_DUPLICATE, NULL, NULL, NULL, 0);
        return rc;
    }
    if (rc != 0) {
        jy_event_free(event);
        return rc;
    }

    host->stats.events_ingested++;
    if (event->user_json != NULL &&
        host->store->ops->user_put(host->store, event->user, event->user_json, event->ts,
                                   err) != 0)
        jy_host_log(host, JY_LOG_WARN, NULL, "attributes of user %s not stored: %s",
                    event->user, err != NULL ? err->message : "store error");
    /* An event from outside starts a chain. An action handler may ingest
     * one while another event is dispatched, whose chain is put back. */
    uint32_t outer_chain = host->dispatch_chain;
    host->dispatch_chain = 0;
    dispatch(host, event);
    host->dispatch_chain = outer_chain;
    return 0;
}


/* Dispatches queued events (those emitted by runs, already stored)
 * until none is left. Dispatching one may queue more; they go to the
 * back. */
static void drain_queue(jy_host *host)
{
    if (host->dispatching)
        return;
    host->dispatching = 1;
    /* Runs as part of an action handler's ingest inside another event's
     * dispatch too, whose chain the rest of that dispatch needs. */
    uint32_t outer_chain = host->dispatch_chain;

    while (host->queue_head != NULL) {
        jy_pending_event *pending = host->queue_head;
        host->queue_head = pending->next;
        if (host->queue_head == NULL)
            host->queue_tail = NULL;

        const jy_event *event = pending->event;
        host->dispatch_chain = pending->emit_chain;
        free(pending);
        dispatch(host, event);
    }

    host->dispatch_chain = outer_chain;
    host->dispatching = 0;
}


const double jy_wake_bucket_bounds[JY_WAKE_BUCKETS] = {
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.1,
};


static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}


void jy__record_wake(jy_host *host)
{
    if (host->ingest_started_ns == 0)
        return;
    double seconds = (double)(monotonic_ns() - host->ingest_started_ns) / 1e9;
    size_t b = 0;
    while (b < JY_WAKE_BUCKETS && seconds > jy_wake_bucket_bounds[b])
        b++;
    host->stats.wake_buckets[b]++;
    host->stats.wake_seconds_sum += seconds;
}


int jy_host_ingest(jy_host *host, jy_event *event, jy_error *err)
{
    if (host->clock->kind == JY_CLOCK_VIRTUAL &&
        event->ts > jy_clock_now(host->clock)) {
        /* Events before deadlines at the same instant: fire what is due
         * strictly before the event, then move to the event. */
        jy_host_advance_to(host, event->ts - 1);
        jy_clock_set(host->clock, event->ts);
    }

    /* Wake latency counts from here, the moment the host took the event,
     * to the moment a run it wakes resumes. */
    host->ingest_started_ns = monotonic_ns();
    /* An event from outside starts a cascade of emits, unless an action
     * handler ingests it while another event is dispatched. */
    if (!host->dispatching)
        host->cascade_emits = 0;
    host->dispatching = 1;
    int rc = store_and_dispatch(host, event, err);
    host->dispatching = 0;
    drain_queue(host);
    host->ingest_started_ns = 0;
    return rc;
}


int jy_host_check_emit(const jy_run *run, jy_error *err)
{
    if (run->host->cascade_emits >= JY_MAX_EMIT_CASCADE)
        return jy_error_set(err, JY_ERANGE,
                            "not emitted, because runs already emitted %d events at this "
                            "instant in reaction to one event or deadline. Either a journey "
                            "starts or wakes on its own emits (give the events it emits names "
                            "it does not listen to), or one event fans out too far (spread the "
                            "emits over time with j.sleep)", JY_MAX_EMIT_CASCADE);
    if (run->emit_chain < JY_MAX_EMIT_CHAIN)
        return 0;
    return jy_error_set(err, JY_ERANGE,
                        "not emitted, because it would follow %d events that runs emitted in "
                        "reaction to one another at the same instant. A journey probably starts "
                        "or wakes on its own emits: give the events it emits names it does not "
                        "listen to", JY_MAX_EMIT_CHAIN);
}


int jy_host_emit(jy_host *host, jy_run *run, jy_event *event, jy_error *err)
{
    jy_pending_event *pending = malloc(sizeof *pending);

    if (pending == NULL) {
        jy_event_free(event);
        return jy_error_set(err, JY_ENOMEM, "out of memory emitting an event");
    }

    /* Stored now, so the emitting run's j.events lists it at once;
     * dispatched later, once the run has suspended or ended. */
    event->origin_run = run->id;
    int rc = host->store->ops->event_append(host->store, event, err);
    if (rc != 0) {
        free(pending);
        if (rc != JY_EEXIST)
            jy_event_free(event);
        return rc;
    }
    host->stats.events_ingested++;
    host->stats.events_emitted++;

    pending->event = event;
    pending->emit_chain = run->emit_chain + 1;
    host->cascade_emits++;
    pending->next = NULL;
    if (host->queue_tail != NULL)
        host->queue_tail->next = pending;
    else
        host->queue_head = pending;
    host->queue_tail = pending;

    jy__trace(host, JY_TRACE_EMITTED, run, event, NULL, 0);
    return 0;
}


jy_time jy_host_next_deadline(const jy_host *host)
{
    jy_timer *timer = jy_timer_heap_peek(&host->deadlines);
    return timer != NULL ? timer->deadline : JY_TIME_MAX;
}


void jy_host_advance_to(jy_host *host, jy_time t)
{
    while (jy__wait_fire_next(host, t))
        drain_queue(host);
    jy_clock_set(host->clock, t);
}


size_t jy_host_fire_due(jy_host *host, jy_time t, size_t max)
{
    size_t fired = 0;
    while (fired < max && jy__wait_fire_next(host, t)) {
        drain_queue(host);
        fired++;
    }
    return fired;
}
