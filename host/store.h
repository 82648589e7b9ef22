/*
 * The store interface: where events, runs and journals live.
 *
 * The scheduler talks to storage only through these operations, so the
 * memory backend (tests, simulate) and durable backends are
 * interchangeable. Contract for every backend:
 *
 * - Events are appended in the order the host ingests them and get
 *   increasing sequence numbers starting at 1. An event whose (user, id)
 *   is already stored is rejected with JY_EEXIST and not stored.
 * - Journal entries of a run are appended with consecutive indexes from
 *   0; an entry is never changed once appended.
 * - Everything appended or put becomes durable together at commit(); a
 *   backend without durability treats commit() as a no-op.
 * - Pointers from event_get, event_scan and journal_get are borrowed and
 *   stay valid until destroy(), or until prune() deletes that event or
 *   run; events and journal entries are immutable. A record handed to a
 *   run_scan_live visitor is valid only during the call.
 * - destroy() does not commit: a durable backend drops what was written
 *   after the last commit, as a crash would.
 */
#ifndef JOURNEY_HOST_STORE_H
#define JOURNEY_HOST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "jtime.h"

/* The kinds of journaled steps. The numbers are stored; never reuse one. */
typedef enum jy_step_kind {
    JY_STEP_WAIT_FOR = 1,
    JY_STEP_EVENTS = 2,
    JY_STEP_SLEEP = 3,
    JY_STEP_SLEEP_UNTIL = 4,
    JY_STEP_EMIT = 5,
    JY_STEP_STEP = 6,
    JY_STEP_NOW = 7,
    JY_STEP_RANDOM = 8,
    JY_STEP_OS_TIME = 9,
    JY_STEP_CALL = 10,
} jy_step_kind;

/* Returns the Lua-facing name of a step kind ("wait_for", "sleep", ...). */
const char *jy_step_kind_name(jy_step_kind kind);

typedef struct jy_journal_entry {
    uint64_t run_id;
    uint32_t index;          /* position in the run's journal, from 0 */
    jy_step_kind kind;
    jy_time at;              /* clock time when the step completed */
    const char *name;        /* event names, step name or "" */
    const char *result_json; /* the step's result as JSON text */
} jy_journal_entry;

/* The persisted state of a run, written at every status change. */
typedef struct jy_run_record {
    uint64_t id;
    const char *journey;
    const char *user;
    const char *key;          /* run key, or NULL for runs without one */
    uint64_t trigger_seq;
    jy_time started_at;
    jy_time ended_at;         /* 0 while live */
    int status;               /* a jy_run_status */
    const char *result_json;  /* completed runs, else NULL */
    const char *error;        /* failed runs, else NULL */
    const char *wait_names;   /* current wait, comma-separated, or NULL */
    jy_time deadline;         /* current wait or sleep, JY_TIME_MAX if none */
} jy_run_record;

typedef struct jy_store jy_store;

/* Visitors return 0 to go on and nonzero to stop the scan. */
typedef int (*jy_event_visit_fn)(const jy_event *event, void *ctx);
typedef int (*jy_run_visit_fn)(const jy_run_record *record, void *ctx);

typedef struct jy_store_ops {
    const char *name;

    /* Appends event and takes ownership of it on success (also when the
     * result is JY_EEXIST, in which case the event is freed). Sets
     * event->seq. On any other error the event is not stored and the
     * caller keeps it. Sequence numbers are never reused, also after
     * prune() and a reopen. */
    int (*event_append)(jy_store *store, jy_event *event, jy_error *err);

    /* Returns the event with sequence number seq, or NULL. */
    const jy_event *(*event_get)(jy_store *store, uint64_t seq);

    /* Visits the events of user with seq >= from_seq in sequence order. */
    int (*event_scan)(jy_store *store, const char *user, uint64_t from_seq,
                      jy_event_visit_fn visit, void *ctx);

    /* Inserts or replaces the record of run record->id. Strings are
     * copied, and must not be the store's own strings for that run (a
     * scanned record), which the put may write over. The journey, user,
     * key, trigger_seq and started_at of a run never change after its
     * first put. */
    int (*run_put)(jy_store *store, const jy_run_record *record,
                   jy_error *err);

    /* Appends entry (copied) to its run's journal; entry->index must be
     * the run's current journal length. */
    int (*journal_append)(jy_store *store, const jy_journal_entry *entry,
                          jy_error *err);

    /* Returns entry index of run run_id, or NULL past the end. */
    const jy_journal_entry *(*journal_get)(jy_store *store, uint64_t run_id,
                                           uint32_t index);

    /* Visits the records of live runs (running, waiting, sleeping) in
     * id order; recovery replays them after a restart. */
    int (*run_scan_live)(jy_store *store, jy_run_visit_fn visit, void *ctx);

    /* Returns the highest run id ever stored, 0 when none, so new runs
     * never reuse an id. */
    uint64_t (*run_max_id)(jy_store *store);

    /* Stores the latest attributes of user (a JSON object) seen at at. */
    int (*user_put)(jy_store *store, const char *user, const char *attributes_json,
                    jy_time at, jy_error *err);

    /* Reads a small named value into a malloc'd string (*value NULL when
     * absent). Used for state such as a durable virtual clock. */
    int (*meta_get)(jy_store *store, const char *key, char **value, jy_error *err);

    /* Stores a small named value; durable at the next commit. */
    int (*meta_put)(jy_store *store, const char *key, const char *value, jy_error *err);

    /* Retention: deletes runs that ended before ended_before (with their
     * journals), and events older than events_before that no live run
     * can still reach: a user's events stored before the trigger of that
     * user's oldest live run. Sets *runs_deleted and *events_deleted. */
    int (*prune)(jy_store *store, jy_time ended_before, jy_time events_before,
                 uint64_t *runs_deleted, uint64_t *events_deleted, jy_error *err);

    /* Makes everything written so far durable. */
    int (*commit)(jy_store *store, jy_error *err);

    /* Frees the store and everything it holds. */
    void (*destroy)(jy_store *store);
} jy_store_ops;

struct jy_store {
    const jy_store_ops *ops;
};

/* Creates the memory store: everything in process memory, nothing
 * durable. Returns NULL when out of memory. */
jy_store *jy_store_memory_new(void);

/* Puts an event that already has its seq (loaded from a durable store)
 * into a memory store; seq must be above every seq stored so far. Takes
 * ownership of event. Returns 0, JY_EINVAL for a seq out of order, or
 * JY_ENOMEM. */
int jy_store_memory_load_event(jy_store *store, jy_event *event);

/* Makes the next appended event get at least next_seq, so sequence
 * numbers are not reused after the newest events were pruned. */
void jy_store_memory_reserve_seq(jy_store *store, uint64_t next_seq);

/* Puts a journal entry loaded from a durable store; same rules as
 * journal_append. */
int jy_store_memory_load_journal(jy_store *store, const jy_journal_entry *entry);

/* Called with the seq of each event that a prune deletes. */
typedef void (*jy_store_deleted_fn)(uint64_t seq, void *ctx);

/* The prune of a memory store, which also reports each deleted event to
 * deleted (when not NULL), so that a store built on it can delete the
 * same events. */
int jy_store_memory_prune(jy_store *store, jy_time ended_before, jy_time events_before,
                          jy_store_deleted_fn deleted, void *ctx, uint64_t *runs_deleted,
                          uint64_t *events_deleted);

/* Returns the record of run id in a memory store, or NULL when it has
 * none. The record stays valid until the next run_put of that run, a
 * prune or destroy. */
const jy_run_record *jy_store_memory_run_get(jy_store *store, uint64_t id);

#endif
