/*
 * The state behind a journey_host, shared by the files of lib/. It
 * contains the loop handles, the current generation of scripts (a Lua
 * state and the core host over it) and the store that outlives every
 * generation. It also queues the ingests that wait for the next commit
 * and keeps the host's counters.
 */
#ifndef JOURNEY_LIB_HOST_PRIVATE_H
#define JOURNEY_LIB_HOST_PRIVATE_H

#include "journey.h"

#include <assert.h>
#include <pthread.h>

#include <lua.h>

#include "lua_host.h"

/* Every function but the thread-safe ones belongs to the thread that
 * created the host, which runs its loop; debug builds check it. */
#define ON_LOOP_THREAD(host) assert(pthread_equal(pthread_self(), (host)->loop_thread))

typedef struct action_entry {
    struct action_entry *next;
    journey_host *host;
    journey_action_fn fn;
    void *ctx;
    char name[];
} action_entry;

struct journey_call {
    struct journey_call *prev; /* the host's open calls */
    struct journey_call *next;
    journey_host *host;        /* NULL once the host closed */
    uint64_t run_id;
    uint64_t token;
    char name[];
};

typedef struct ingest_done {
    struct ingest_done *next;
    journey_ingest_cb done;
    void *ctx;
    int status;
    uint64_t seq;
    uint64_t ingested_ns; /* uv_hrtime() when ingested */
    uint64_t group;       /* the commit group it waits for, once started */
} ingest_done;

/* The maximum number of commit groups that the SQLite store's threads
 * work on at once: one is written while earlier ones wait for their
 * sync. */
#define JY_GROUPS_IN_FLIGHT 4

typedef struct queued_event {
    struct queued_event *next;
    journey_ingest_cb done;
    void *ctx;
    size_t len;
    char json[];
} queued_event;

struct journey_host {
    uv_loop_t *loop;
    uv_loop_t own_loop;
    int owns_loop;

    lua_State *L;
    jy_lua_host *lh;
    jy_store *store;       /* owned; outlives reloads */
    char **scripts;        /* the paths of the loaded scripts, for reloads */
    size_t script_count;
    int is_virtual;        /* the clock is virtual */
    uint64_t instruction_budget;
    size_t memory_cap;
    uint32_t max_journal;
    size_t resident_runs;
    int64_t history_window; /* the retention of the last journey_prune, 0: none */
    pthread_t loop_thread; /* debug builds check the caller against it */

    uv_check_t commit_check;
    uv_idle_t commit_soon; /* keeps the loop from blocking before a commit */
    uv_timer_t deadline_timer;
    int deadlines_behind;  /* a backlog of due deadlines drains in the timer's slices */
    size_t deadlines_between_ingests; /* fired between ingests in this loop turn */
    uv_async_t async;
    int open_handles;
    int started;
    int closing;
    int failed;            /* a commit failed; events are rejected */
    int dirty;             /* something was written since the last commit */
    int busy;              /* nonzero while the core dispatches or fires
                            * deadlines, where a commit would split a step,
                            * and while ingest callbacks run */
    void (*closed)(void *ctx);
    void *closed_ctx;

    ingest_done *done_head; /* waiting for the next commit */
    ingest_done *done_tail;

    /* The SQLite store commits on its writer thread. The loop starts a
     * group's commit and goes on; the writer's notices (through async)
     * or a later poll finish the group's callbacks. The next group
     * starts once the writer has written the last one, so it gathers
     * what the loop did meanwhile. Up to JY_GROUPS_IN_FLIGHT groups
     * wait for their write or their WAL sync at once. */
    int async_commits;
    struct {
        uint64_t group;
        uint64_t head_ns;        /* when its oldest event was ingested */
    } in_flight[JY_GROUPS_IN_FLIGHT]; /* oldest first, from in_flight_first */
    int in_flight_first;
    int in_flight_count;
    ingest_done *committing_head; /* the callbacks of the groups in flight */
    ingest_done *committing_tail;

    pthread_mutex_t queue_lock; /* guards queue_* for other threads */
    queued_event *queue_head;
    queued_event *queue_tail;

    action_entry *actions; /* owned */
    journey_call *open_calls; /* handed to handlers, not completed yet */
    int adopting_calls;    /* a reload's replay: open calls move to the
                            * new generation's runs */

    journey_log_fn log;
    void *log_ctx;
    journey_trace_fn trace;
    void *trace_ctx;
    journey_failure_fn store_failed;
    void *store_failed_ctx;

    jy_host_stats earlier;  /* counters of the generations before this one */
    journey_stats counters; /* commits and reloads; the rest is computed */
    journey_replay_report last_replay;
    char error[1024];
};

/* Sets the host's error message and returns status. */
int jy_lib_fail(journey_host *host, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates a Lua state and a core host over the host's store, with the
 * configured clock, limits, callbacks and every registered action, but
 * no scripts. */
int jy_lib_new_generation(journey_host *host, lua_State **L, jy_lua_host **lh);

/* Frees a generation from jy_lib_new_generation. */
void jy_lib_free_generation(lua_State *L, jy_lua_host *lh);

/* Replays the store's live runs into the generation lh, which has
 * scripts scripts loaded, and fills report with what the replay did.
 * Returns 0 or a negative code with the message in err. */
int jy_lib_replay(jy_lua_host *lh, size_t scripts, journey_replay_report *report,
                  jy_error *err);

/* Commits the turn's work, waiting for the store, and calls the ingest
 * callbacks it covered. Returns 0 or JOURNEY_EIO. */
int jy_lib_commit(journey_host *host);

/* Commits as jy_lib_commit does, but with a store that commits on a
 * thread of its own it only starts the commit, and the callbacks run
 * once it ends. Returns 0 or JOURNEY_EIO. */
int jy_lib_commit_async(journey_host *host);

/* Makes the loop run the commit check without blocking in its poll. */
void jy_lib_commit_soon(journey_host *host);

/* Arms the loop timer for the earliest deadline (real clock only). */
void jy_lib_arm_timer(journey_host *host);

#endif
