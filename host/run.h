/*
 * Journeys and runs as the scheduler keeps them.
 *
 * A journey is a definition (name, trigger, cancel events, key rule);
 * its Lua function lives on the runtime side and is reached through
 * runtime_ref. A run is one execution of a journey for one user. While
 * it waits, it sits in the wait index under (user, event name) and, with
 * a deadline, in the deadline heap through its embedded timer.
 */
#ifndef JOURNEY_HOST_RUN_H
#define JOURNEY_HOST_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "jtime.h"
#include "timer_heap.h"

typedef enum jy_key_mode {
    JY_KEY_USER, /* one live run per user (the default) */
    JY_KEY_PATH, /* one live run per value at key_path in the trigger */
    JY_KEY_NONE, /* every trigger starts its own run */
} jy_key_mode;

typedef struct jy_journey_stats {
    uint64_t started;
    uint64_t completed;
    uint64_t failed;
    uint64_t cancelled;
} jy_journey_stats;

typedef struct jy_journey {
    char *name;
    char *source;           /* "path:line" of journey.define, for messages */
    char **on;              /* names, prefix patterns ("app/" then "*") or "*" */
    size_t on_count;
    char **cancel_on;       /* names or patterns, as for on */
    size_t cancel_on_count;
    jy_key_mode key_mode;
    char *key_path;         /* for JY_KEY_PATH: "data.cart_id" */
    int runtime_ref;        /* the runtime's handle on the run function */
    jy_journey_stats stats;
} jy_journey;

typedef enum jy_run_status {
    JY_RUN_RUNNING = 0,
    JY_RUN_WAITING = 1,   /* in wait_for: an event or the timeout wakes it */
    JY_RUN_SLEEPING = 2,  /* in sleep or sleep_until: only the deadline */
    JY_RUN_COMPLETED = 3,
    JY_RUN_FAILED = 4,
    JY_RUN_CANCELLED = 5,
} jy_run_status;

/* Returns "running", "waiting", "sleeping", "completed", "failed" or
 * "cancelled". */
const char *jy_run_status_name(jy_run_status status);

/* Returns nonzero for waiting, sleeping and running runs. */
int jy_run_status_is_live(jy_run_status status);

/* Why a run is replaying its journal, in jy_run.recovering. */
typedef enum jy_replay_mode {
    JY_REPLAY_NONE = 0,
    JY_REPLAY_RESTART = 1, /* after a restart or a reload, until it suspends */
    JY_REPLAY_REBUILD = 2, /* rebuilding an evicted run's coroutine on a wake */
    JY_REPLAY_REBUILT = 3, /* that rebuild reached the run's wait or sleep,
                            * which is registered already */
} jy_replay_mode;

typedef struct jy_run jy_run;

/* How far the waits with one list of names may skip: every event of the
 * user from the trigger up to seq was received or emitted by the run, or
 * has a name that the list leaves out. */
typedef struct jy_named_floor {
    uint64_t seq;
    size_t name_count;
    char names[]; /* the list, each name ended by a NUL byte, since a
                   * name may contain the "," that the journal joins
                   * them with */
} jy_named_floor;
struct jy_host;

/* One entry of the wait index: run waits for event name under user. */
typedef struct jy_wait_link {
    struct jy_wait_link *prev;
    struct jy_wait_link *next;
    struct jy_wait_list *list;
    jy_run *run;
} jy_wait_link;

typedef struct jy_wait_list {
    jy_wait_link *head;
    jy_wait_link *tail;
    size_t count;
} jy_wait_list;

struct jy_run {
    uint64_t id;
    struct jy_host *host;   /* borrowed: the host that owns the run */
    jy_journey *journey;
    char *user;             /* in the run's own block, after the struct */
    char *key;              /* live-run key, NULL when the journey has none;
                             * in the run's own block too */
    uint64_t trigger_seq;
    jy_time started_at;
    jy_time ended_at;
    jy_run_status status;

    uint32_t journal_len;   /* entries in the store */
    uint32_t replay_pos;    /* next entry a replaying run reads */
    jy_time restore_deadline; /* recovery: the deadline of the wait or sleep
                               * the run was in, JY_TIME_MAX when none */
    int recovering;           /* a jy_replay_mode: replaying until it suspends */
    int resumed_as_stored;    /* recovery reached the stored suspension, whose
                               * record needs no rewrite */
    int suspend_quietly;      /* that suspension was traced before the
                               * restart, so it is not traced again */
    jy_run_status restore_status; /* recovery: waiting or sleeping */
    char *restore_wait_names; /* recovery: the names it waited for */
    char *divergence;       /* why replay failed, or NULL */

    uint64_t scan_floor;    /* every event of the user from the trigger up to
                             * this seq was received or emitted by the run,
                             * so j.wait_for's search starts after it; 0
                             * until known */
    uint64_t cancel_seq;    /* a cancel_on event that came while the run's
                             * coroutine was running (from its own action
                             * handler), applied once it stops; 0 when none */
    jy_named_floor *named_floor; /* a further floor for the waits with the
                                  * names of the last wait that set one, or
                                  * NULL */
    uint64_t oldest_seq;    /* the lowest seq before the trigger that the
                             * journal refers to (a wait_for or j.events
                             * with since), which a replay needs; 0 when
                             * none */
    uint64_t *received;     /* sorted seqs this run got through wait_for */
    size_t received_count;
    size_t received_capacity;

    jy_timer timer;         /* the deadline of the current wait or sleep */
    char **wait_names;      /* names of the current wait_for */
    size_t wait_name_count;
    jy_wait_link *wait_links; /* one per wait name */
    int match_ref;          /* the runtime's handle on the wait's match */

    int runtime_ref;        /* the runtime's handle on the run's coroutine */
    unsigned runtime_flags; /* bits the runtime keeps per run */
    uint64_t budget_used;   /* instructions since the run last resumed */
    uint64_t call_token;    /* counts j.call steps; a late result for an old one is dropped */
    char *call_outcome;     /* the result of the pending j.call, JSON */
    char *result_json;
    char *error;

    jy_run *user_prev;      /* the user's live runs, for cancel_on */
    jy_run *user_next;

    jy_run *resident_prev;  /* suspended runs that hold their coroutine, */
    jy_run *resident_next;  /* least recently suspended first */
    unsigned char resident; /* 1 while in that list */
    unsigned char evicted;  /* 1 while suspended without a coroutine */
    unsigned char parked;   /* 1 while kept as stored after its replay
                             * failed or diverged (see run->divergence) */
    uint32_t emit_chain;    /* events emitted in a row that led to the event
                             * that started or last woke the run: 0 for an
                             * event from outside */
};

#endif
