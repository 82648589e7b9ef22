/*
 * The host: journeys, runs, the wait index, the deadline heap and the
 * event queue, over a store, a clock and a runtime.
 *
 * The scheduler's rules:
 * - Events are dispatched one at a time, in the order ingested. Events a
 *   run emits are stored at once (its j.events returns them) and dispatched
 *   once that run has suspended or ended, at the same instant.
 * - For each event: first cancel_on ends live runs, then waiting runs
 *   whose wait matches wake, then journeys whose trigger matches start
 *   runs (unless a live run holds the key, or this event woke a run of
 *   that journey and key).
 * - At the same instant, events come before deadlines: the virtual clock
 *   fires deadlines strictly before an event's ts, then ingests it.
 * - Equal deadlines fire in the order they were set.
 *
 * thread: every function here belongs to the thread that owns the host.
 */
#ifndef JOURNEY_HOST_HOST_H
#define JOURNEY_HOST_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "error.h"
#include "event.h"
#include "hashmap.h"
#include "run.h"
#include "runtime.h"
#include "store.h"
#include "timer_heap.h"

typedef enum jy_log_level {
    JY_LOG_DEBUG,
    JY_LOG_INFO,
    JY_LOG_WARN,
    JY_LOG_ERROR,
} jy_log_level;

/* Receives every diagnostic of the host and every j.log and print of a
 * run. run_id is 0 and journey NULL outside a run. */
typedef void (*jy_log_fn)(void *ctx, jy_log_level level, uint64_t run_id,
                          const char *journey, const char *message);

/* What a trace reports; a transcript is built from these. */
typedef enum jy_trace_kind {
    JY_TRACE_EVENT,     /* an event was stored and is being dispatched */
    JY_TRACE_DUPLICATE, /* an event was ignored as a duplicate */
    JY_TRACE_STARTED,   /* a run started; event is its trigger */
    JY_TRACE_WAITING,   /* a run waits; detail lists names, deadline set */
    JY_TRACE_SLEEPING,  /* a run sleeps until deadline */
    JY_TRACE_WOKEN,     /* a wait ended; event NULL on timeout */
    JY_TRACE_EMITTED,   /* a run emitted event (not yet dispatched) */
    JY_TRACE_COMPLETED, /* detail is the result JSON */
    JY_TRACE_FAILED,    /* detail is the error */
    JY_TRACE_CANCELLED, /* event is the cancel_on event */
    JY_TRACE_LOG,       /* detail is the message of j.log or print */
} jy_trace_kind;

/* The run's fields are copied flat, so a trace has the layout of the
 * public journey_trace and needs no run to be read. */
typedef struct jy_trace {
    jy_trace_kind kind;
    jy_time at;
    uint64_t run_id;       /* 0 for EVENT and DUPLICATE */
    const char *journey;   /* NULL for EVENT and DUPLICATE */
    const char *user;      /* the run's user, NULL without a run */
    int run_status;        /* a jy_run_status */
    const jy_event *event; /* may be NULL */
    const char *detail;    /* may be NULL */
    jy_time deadline;      /* WAITING and SLEEPING */
} jy_trace;

typedef void (*jy_trace_fn)(void *ctx, const jy_trace *trace);

/* Upper bounds of the wake latency histogram, in seconds. */
#define JY_WAKE_BUCKETS 8

/* The maximum number of events that runs may emit in reaction to one
 * another at one instant. Real flows are a few events deep, while a
 * journey that triggers on its own emits (on = "*", say) would loop and
 * hold the host's loop for good. */
#define JY_MAX_EMIT_CHAIN 100

/* The maximum number of events that runs may emit at one instant in
 * reaction to one event from outside or one deadline. A journey that
 * emits twice for each event it reacts to stays within the chain limit
 * at every depth but doubles at each one. */
#define JY_MAX_EMIT_CASCADE 10000
extern const double jy_wake_bucket_bounds[JY_WAKE_BUCKETS];

typedef struct jy_host_stats {
    uint64_t wake_buckets[JY_WAKE_BUCKETS + 1]; /* last: +Inf */
    double wake_seconds_sum;
    uint64_t events_ingested;
    uint64_t events_duplicate;
    uint64_t events_emitted;
    uint64_t runs_started;
    uint64_t runs_completed;
    uint64_t runs_failed;
    uint64_t runs_cancelled;
    uint64_t runs_live;
    uint64_t runs_reaching_back; /* live runs whose oldest_seq is set */
    uint64_t runs_parked;        /* live runs kept as stored after their
                                  * replay failed or diverged */
    uint64_t runs_evicted;  /* live runs suspended without a coroutine now */
    uint64_t evictions;     /* coroutines dropped, since the host began */
    uint64_t rebuilds;      /* coroutines rebuilt by replay on a wake */
} jy_host_stats;

typedef struct jy_pending_event {
    struct jy_pending_event *next;
    const jy_event *event; /* stored already; owned by the store */
    uint32_t emit_chain;   /* the emitting run's emit_chain plus 1 */
} jy_pending_event;

typedef struct jy_host {
    jy_clock *clock;     /* borrowed */
    jy_store *store;     /* borrowed */
    jy_runtime runtime;

    jy_log_fn log;
    void *log_ctx;
    jy_trace_fn trace;
    void *trace_ctx;

    jy_journey **journeys; /* owned */
    size_t journey_count;

    jy_map runs;      /* run id -> run, live and ended; owns the runs */
    jy_map live_keys; /* journey NUL key -> live run */
    jy_map waits;     /* user NUL event name -> jy_wait_list */
    jy_map user_runs; /* user -> first live run of that user */
    jy_timer_heap deadlines;

    jy_pending_event *queue_head;
    jy_pending_event *queue_tail;
    int dispatching;
    uint32_t dispatch_chain; /* emit_chain of the event being dispatched */
    uint32_t cascade_emits;  /* events emitted since the last event from
                              * outside or deadline */
    uint64_t orphan_oldest_seq; /* the lowest seq before its trigger that a
                                 * stored run of a journey no script
                                 * defines refers to, 0 when none */

    uint64_t next_run_id;
    jy_host_stats stats;
    int keep_ended_runs; /* 1: ended runs stay in `runs` for inspection */
    uint64_t ingest_started_ns; /* monotonic time the current ingest began */
    int dry_run;          /* 1: replay checks only; nothing is written to the store */
    jy_time history_window; /* 0, or the retention in force: reads that
                             * reach back before the trigger (since) see
                             * no event older than now minus this */
    uint32_t max_journal; /* steps a run may journal; the next one fails it */

    size_t resident_limit; /* suspended runs that keep a coroutine; 0: all */
    size_t resident_count;
    jy_run *resident_head; /* the least recently suspended resident run */
    jy_run *resident_tail;
} jy_host;

/* The default of max_journal. */
#define JY_DEFAULT_MAX_JOURNAL 100000

/* Creates a host over clock and store (both borrowed: they must outlive
 * the host) and runtime (copied). Returns NULL when out of memory. */
jy_host *jy_host_new(jy_clock *clock, jy_store *store,
                     const jy_runtime *runtime);

/* Ends the host: releases every run and journey through the runtime and
 * frees them. Does not commit or destroy the store. NULL is ignored. */
void jy_host_free(jy_host *host);

void jy_host_set_log(jy_host *host, jy_log_fn log, void *ctx);
void jy_host_set_trace(jy_host *host, jy_trace_fn trace, void *ctx);

/* Sends a formatted message to the log callback; does nothing without
 * one. run may be NULL. */
void jy_host_log(jy_host *host, jy_log_level level, const jy_run *run,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Adds a journey and takes ownership of it. A journey with the same name
 * is rejected with JY_EEXIST and left to the caller. */
int jy_host_add_journey(jy_host *host, jy_journey *journey, jy_error *err);

/* Returns the journey with that name, or NULL. */
jy_journey *jy_host_journey(const jy_host *host, const char *name);

/* Frees a journey that the host does not own (one never added). */
void jy_journey_free(jy_journey *journey);

/* Returns the clock time. */
jy_time jy_host_now(const jy_host *host);

/* Ingests event and takes ownership of it. On a virtual clock, deadlines
 * before event->ts fire first and the clock moves to event->ts; an
 * event older than the clock keeps its ts and the clock stays. Returns
 * 0, JY_EEXIST for a duplicate (user, id) (counted, ignored), or a
 * negative code from the store. */
int jy_host_ingest(jy_host *host, jy_event *event, jy_error *err);

/* Returns the earliest pending deadline, or JY_TIME_MAX when none. */
jy_time jy_host_next_deadline(const jy_host *host);

/* Fires, in deadline order, every deadline at or before t. On a virtual
 * clock the clock steps to each deadline, then ends at t. On a real
 * clock pass the current time. */
void jy_host_advance_to(jy_host *host, jy_time t);

/* Fires, in deadline order, at most max deadlines at or before t and
 * returns how many fired; the clock does not move. A server loop on the
 * real clock calls it once per loop turn while deadlines are due, so a
 * burst of deadlines falling due together does not stop it from taking
 * events in between. */
size_t jy_host_fire_due(jy_host *host, jy_time t, size_t max);

typedef struct jy_host_recovery {
    uint64_t recovered; /* live runs rebuilt and replayed */
    uint64_t parked;    /* of those, runs whose replay failed or diverged,
                         * kept as the store has them */
    uint64_t failed;    /* of those, runs failed for good: their trigger
                         * event is no longer stored */
    uint64_t orphaned;  /* live runs of journeys no loaded script defines */
} jy_host_recovery;

/* Rebuilds the store's live runs after a restart: each run is replayed
 * from its journal (taking step results from it, emitting and stepping
 * nothing again) and re-armed with the deadline it had. Deadlines that
 * passed while the host was down fire at the next jy_host_advance_to.
 * A run whose replay diverges is parked as failed; the others go on.
 * Load every script first. Returns 0 or a negative code. */
int jy_host_recover(jy_host *host, jy_host_recovery *report, jy_error *err);

/* Returns the run with that id, or NULL. Ended runs are found only
 * while keep_ended_runs is set (the default); otherwise the host frees
 * a run once its final state is stored. */
jy_run *jy_host_run(const jy_host *host, uint64_t id);

/* Calls visit for every run, in no particular order. */
void jy_host_each_run(const jy_host *host,
                      void (*visit)(jy_run *run, void *ctx), void *ctx);

/* --- Called by the runtime while a run executes. --- */

/* Reads the next journal entry when the run is replaying. Returns 1 and
 * sets *entry when one was read and it is of kind and name; 0 when the
 * run is past its journal and must do the step live; JY_EDIVERGED, with
 * a message naming both steps, when the journal contains another step. */
int jy_host_replay_next(jy_host *host, jy_run *run, jy_step_kind kind,
                        const char *name, const jy_journal_entry **entry,
                        jy_error *err);

/* Journals a completed step of run with its result (JSON text). */
int jy_host_journal(jy_host *host, jy_run *run, jy_step_kind kind,
                    const char *name, const char *result_json, jy_error *err);

/* Registers the wait of a run that is about to suspend in wait_for:
 * names (copied) under the run's user, the deadline, and match_ref (the
 * runtime's handle, given back through run->match_ref). */
int jy_host_wait(jy_host *host, jy_run *run, const char *const *names,
                 size_t name_count, jy_time deadline, int match_ref,
                 jy_error *err);

/* Registers the deadline of a run that is about to suspend in sleep. */
int jy_host_sleep(jy_host *host, jy_run *run, jy_time deadline, jy_error *err);

/* Checks, for a run that recovery replays, that the first live step is
 * the wait (status JY_RUN_WAITING, names comma-separated) or sleep
 * (JY_RUN_SLEEPING) it was suspended in before the restart; call it
 * before a wait or sleep that may return at once, because an event that
 * arrived meanwhile can end the wait without a suspension. Returns 0, or
 * JY_EDIVERGED with the run's divergence set. Does nothing for a run
 * that is not replaying. For an evicted run whose coroutine is being
 * rebuilt it returns 1, because the wait or sleep is registered already
 * and the wake is on its way. The caller then suspends at once, without
 * looking for events, and the next jy_host_wait or jy_host_sleep
 * registers nothing. */
int jy_host_resume_point(jy_host *host, jy_run *run, jy_run_status status, const char *names,
                         jy_error *err);

/* Stores an event emitted by run and queues it; it is dispatched once
 * the run has suspended or ended. Takes ownership of event. The caller
 * checks jy_host_check_emit first, before it journals the emit. */
int jy_host_emit(jy_host *host, jy_run *run, jy_event *event, jy_error *err);

/* Returns 0 when run may emit now. Returns JY_ERANGE with the reason
 * when the event would follow JY_MAX_EMIT_CHAIN events that runs emitted
 * in reaction to one another at one instant, or JY_MAX_EMIT_CASCADE
 * events emitted in reaction to one event from outside or deadline. */
int jy_host_check_emit(const jy_run *run, jy_error *err);

/* Notes that run's journal refers to event seq (a j.events result), so
 * that retention keeps it while the run is live when it is older than
 * the run's trigger. */
void jy_host_note_reference(jy_run *run, uint64_t seq);

/* Returns the ts of the oldest event that a live run's journal refers
 * to from before its trigger, or JY_TIME_MAX when none does. Retention
 * keeps events from there on, since replaying those runs needs them.
 * Parked runs and runs of journeys no script defines count too: their
 * references are read from their journals, which were not replayed. */
jy_time jy_host_oldest_reference(const jy_host *host);

/* Returns nonzero when run already received event seq (its trigger or a
 * wait_for result). */
int jy_host_run_received(const jy_run *run, uint64_t seq);

/* Ends the sleep of a suspended run early: its deadline moves to now,
 * so the next jy_host_advance_to resumes it. Used for actions that
 * completed. Returns JY_ESTATE when the run is not sleeping. */
int jy_host_wake_soon(jy_host *host, jy_run *run);

/* Records that run received event seq through wait_for. */
int jy_host_mark_received(jy_run *run, uint64_t seq);

#endif
