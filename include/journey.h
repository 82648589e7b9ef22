/*
 * journey.h: embed the journey host in a C program.
 *
 * A host runs user journeys written in Lua on a libuv loop: it stores
 * the events you give it, runs the journeys they trigger, and wakes runs
 * when their events arrive or their deadlines pass. Everything it does
 * in one loop turn is committed together at the end of the turn (on the
 * real clock, a turn that ingests for long commits between two ingests
 * as well), and an ingest's callback fires once its event is durable.
 *
 * Ownership: strings passed in are copied unless a comment states
 * otherwise; pointers handed out are borrowed until the call named in
 * their comment, or are freed by the caller with journey_free.
 *
 * Errors: functions return JOURNEY_OK (0) or a negative journey_status.
 * journey_error(host) returns the message of the last failed call on
 * that host. No function aborts the process on bad input: invalid JSON,
 * unknown names, out-of-range values, calls in the wrong state, and the
 * NULL arguments that a function's comment lists. Other pointers,
 * the host and output pointers among them, must not be NULL.
 *
 * Compiling: journey.h includes uv.h, which needs POSIX declarations;
 * with -std=c11 define _POSIX_C_SOURCE=200809L (or use -std=gnu11).
 *
 * Threads: every function belongs to the thread that runs the host's
 * loop (the thread that created the host), except journey_version,
 * journey_config_init, journey_free, journey_ingest_threadsafe and the
 * functions whose comment reads "thread: any". Debug builds of the
 * library assert it.
 */
#ifndef JOURNEY_H
#define JOURNEY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JOURNEY_VERSION_MAJOR 0
#define JOURNEY_VERSION_MINOR 1
#define JOURNEY_VERSION_PATCH 0
#define JOURNEY_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define JOURNEY_API __attribute__((visibility("default")))
#else
#define JOURNEY_API
#endif

typedef enum journey_status {
    JOURNEY_OK = 0,
    JOURNEY_EINVAL = -1,    /* bad input: an event, a script, an option */
    JOURNEY_ENOMEM = -2,    /* an allocation failed */
    JOURNEY_ERANGE = -3,    /* a value outside what the host can represent */
    JOURNEY_ENOTFOUND = -4, /* no such run or script */
    JOURNEY_EEXIST = -5,    /* a duplicate event: same user and id */
    JOURNEY_ESTATE = -6,    /* the call does not fit the host's state */
    JOURNEY_EDIVERGED = -7, /* a replay asked for another step than its journal */
    JOURNEY_EIO = -8,       /* the store or a file failed */
    JOURNEY_EJSON = -9,     /* text that is not valid JSON */
} journey_status;

typedef struct journey_host journey_host;

/* --- Store backends ---------------------------------------------------
 *
 * A host keeps events, runs and journals in a store. Besides "memory"
 * and "sqlite:PATH", an embedder may give it a backend of its own through
 * journey_config.store_backend: a journey_store whose ops implement the
 * contract of docs/store-interface.md (ordering, duplicates, commit
 * groups, what survives a reopen). These types have the layout the host
 * uses internally; the library checks that at compile time.
 */

typedef struct journey_store_error {
    int code;          /* a negative journey_status */
    char message[512];
} journey_store_error;

typedef struct journey_event {
    uint64_t seq;          /* assigned by the store on append */
    uint64_t origin_run;   /* the run that emitted it, 0 for outside events */
    int64_t ts;            /* milliseconds since 1970 */
    const char *id;        /* idempotency key, unique per user, or NULL */
    const char *user;
    const char *name;
    const char *data_json; /* a JSON object */
    const char *user_json; /* the user's attributes, or NULL */
} journey_event;

typedef struct journey_journal_entry {
    uint64_t run_id;
    uint32_t index;          /* from 0, consecutive per run */
    int kind;                /* 1 wait_for ... 10 call, as stored */
    int64_t at;              /* milliseconds since 1970 */
    const char *name;
    const char *result_json;
} journey_journal_entry;

typedef struct journey_run_record {
    uint64_t id;
    const char *journey;
    const char *user;
    const char *key;          /* NULL for runs without a key */
    uint64_t trigger_seq;
    int64_t started_at;
    int64_t ended_at;         /* 0 while live */
    int status;               /* 0 running, 1 waiting, 2 sleeping, 3 completed,
                               * 4 failed, 5 cancelled */
    const char *result_json;
    const char *error;
    const char *wait_names;   /* comma-separated, or NULL */
    int64_t deadline;         /* INT64_MAX when none */
} journey_run_record;

typedef struct journey_store journey_store;
typedef int (*journey_event_visit_fn)(const journey_event *event, void *ctx);
typedef int (*journey_run_visit_fn)(const journey_run_record *record, void *ctx);

/* The operations of a backend; docs/store-interface.md states what each
 * must guarantee. Every function returns 0 or a negative journey_status
 * and fills err (which may be NULL) with a message. thread: the loop's. */
typedef struct journey_store_ops {
    const char *name;
    int (*event_append)(journey_store *store, journey_event *event, journey_store_error *err);
    const journey_event *(*event_get)(journey_store *store, uint64_t seq);
    int (*event_scan)(journey_store *store, const char *user, uint64_t from_seq,
                      journey_event_visit_fn visit, void *ctx);
    int (*run_put)(journey_store *store, const journey_run_record *record,
                   journey_store_error *err);
    int (*journal_append)(journey_store *store, const journey_journal_entry *entry,
                          journey_store_error *err);
    const journey_journal_entry *(*journal_get)(journey_store *store, uint64_t run_id,
                                                uint32_t index);
    int (*run_scan_live)(journey_store *store, journey_run_visit_fn visit, void *ctx);
    uint64_t (*run_max_id)(journey_store *store);
    int (*user_put)(journey_store *store, const char *user, const char *attributes_json,
                    int64_t at, journey_store_error *err);
    int (*meta_get)(journey_store *store, const char *key, char **value,
                    journey_store_error *err);
    int (*meta_put)(journey_store *store, const char *key, const char *value,
                    journey_store_error *err);
    int (*prune)(journey_store *store, int64_t ended_before, int64_t events_before,
                 uint64_t *runs_deleted, uint64_t *events_deleted, journey_store_error *err);
    int (*commit)(journey_store *store, journey_store_error *err);
    void (*destroy)(journey_store *store);
} journey_store_ops;

/* A backend is any struct that starts with this one. */
struct journey_store {
    const journey_store_ops *ops;
};

/* The memory store, as a building block for backends that keep their
 * reads in memory and write a durable copy elsewhere (the SQLite store
 * and examples/file_store work this way). Returns NULL when out of
 * memory; free with ops->destroy. thread: any, before the host uses it. */
JOURNEY_API journey_store *journey_store_memory_new(void);

/* Puts an event with its seq already set, loaded from a durable copy,
 * into a memory store; takes ownership. Seqs must grow. */
JOURNEY_API int journey_store_memory_load_event(journey_store *store, journey_event *event);

/* Puts a journal entry loaded from a durable copy (copied). */
JOURNEY_API int journey_store_memory_load_journal(journey_store *store,
                                                  const journey_journal_entry *entry);

/* Makes the next appended event get at least next_seq. */
JOURNEY_API void journey_store_memory_reserve_seq(journey_store *store, uint64_t next_seq);

/* Allocates an event with every string copied into one block; id and
 * user_json may be NULL. Free with journey_event_free. */
JOURNEY_API journey_event *journey_event_new(const char *id, const char *user,
                                             const char *name, int64_t ts,
                                             const char *data_json, const char *user_json,
                                             uint64_t origin_run);

/* Frees an event from journey_event_new, or one a backend received and
 * owns. NULL is ignored. */
JOURNEY_API void journey_event_free(journey_event *event);


/* Receives the host's diagnostics and the journeys' j.log and print.
 * level: 0 debug, 1 info, 2 warn, 3 error. run_id is 0 and journey NULL
 * outside a run. The strings are borrowed for the call.
 * thread: the loop's. */
typedef void (*journey_log_fn)(void *ctx, int level, uint64_t run_id, const char *journey,
                               const char *message);

/* The host's clock. The real clock reads the system time and fires
 * deadlines from a loop timer. The virtual clock starts at 0 and moves
 * only through journey_advance_to and the ts of ingested events, which
 * is how `journey simulate` replays past events: deadlines fire in
 * event time, and no loop timer is armed. */
typedef enum journey_clock {
    JOURNEY_CLOCK_REAL = 0,
    JOURNEY_CLOCK_VIRTUAL = 1,
} journey_clock;

/* What a trace reports. */
typedef enum journey_trace_kind {
    JOURNEY_TRACE_EVENT = 0,     /* an event was stored and is being dispatched */
    JOURNEY_TRACE_DUPLICATE = 1, /* an event was ignored as a duplicate */
    JOURNEY_TRACE_STARTED = 2,   /* a run started; event is its trigger */
    JOURNEY_TRACE_WAITING = 3,   /* a run waits; detail lists the names */
    JOURNEY_TRACE_SLEEPING = 4,  /* a run sleeps until deadline */
    JOURNEY_TRACE_WOKEN = 5,     /* a wait or sleep ended; event NULL on a deadline */
    JOURNEY_TRACE_EMITTED = 6,   /* a run emitted event (not dispatched yet) */
    JOURNEY_TRACE_COMPLETED = 7, /* detail is the result as JSON */
    JOURNEY_TRACE_FAILED = 8,    /* detail is the error */
    JOURNEY_TRACE_CANCELLED = 9, /* event is the cancel_on event, or NULL */
    JOURNEY_TRACE_LOG = 10,      /* detail is the message of j.log or print */
} journey_trace_kind;

/* One thing a journey did, as it happens. Every pointer is borrowed for
 * the callback only. */
typedef struct journey_trace {
    int kind;                    /* a journey_trace_kind */
    int64_t at;                  /* the host's clock, ms since 1970 */
    uint64_t run_id;             /* 0 for EVENT and DUPLICATE */
    const char *journey;         /* NULL for EVENT and DUPLICATE */
    const char *user;            /* the run's user; NULL without a run */
    int run_status;              /* as in journey_run_record.status */
    const journey_event *event;  /* may be NULL */
    const char *detail;          /* may be NULL */
    int64_t deadline;            /* WAITING and SLEEPING */
} journey_trace;

/* Receives every trace of the host. The replay of live runs at a start
 * or reload traces nothing for the steps and the suspension it replays.
 * thread: the loop's. */
typedef void (*journey_trace_fn)(void *ctx, const journey_trace *trace);

/* Called once when a group commit failed: the host can no longer keep
 * its promise that acknowledged events are durable, so from then on it
 * rejects events with JOURNEY_EIO, and the program should close it.
 * message is borrowed for the call. thread: the loop's. */
typedef void (*journey_failure_fn)(void *ctx, const char *message);

typedef struct journey_config {
    uv_loop_t *loop;             /* borrowed, must outlive the host; NULL:
                                  * the host creates and owns a loop, for
                                  * programs that drive it with
                                  * journey_backend_fd and journey_run_once */
    const char *store;           /* "memory" or "sqlite:PATH" (copied); default
                                  * "memory" */
    journey_store *store_backend; /* a backend of the embedder's; when set,
                                  * store is ignored and the host owns the
                                  * backend, also when creation fails */
    int sync_normal;             /* SQLite: 1 skips the WAL sync after each commit
                                  * (synchronous NORMAL), 0 syncs it as FULL would */
    uint64_t instruction_budget; /* per run between waits; 0: the default */
    size_t memory_cap;           /* bytes for all Lua code; 0: the default */
    uint32_t max_journal;        /* steps per run; 0: the default */
    journey_log_fn log;          /* NULL: diagnostics are dropped */
    void *log_ctx;
    journey_clock clock;         /* JOURNEY_CLOCK_REAL (default) or
                                  * JOURNEY_CLOCK_VIRTUAL */
    journey_trace_fn trace;      /* NULL: no traces */
    void *trace_ctx;
    journey_failure_fn store_failed; /* NULL: only the log hears of it */
    void *store_failed_ctx;
    size_t resident_runs;        /* suspended runs that keep their Lua
                                  * coroutine; past it, the least recently
                                  * suspended ones drop theirs and are
                                  * rebuilt by replay when they wake, which
                                  * halves memory per waiting run and costs
                                  * a replay per wake (scripts must replay
                                  * the same way; runs in j.call stay).
                                  * See "Runs kept in memory" in
                                  * docs/lua-api.md. 0: every run keeps
                                  * its coroutine */
} journey_config;

/* Returns the library's version, "MAJOR.MINOR.PATCH"; a static string.
 * thread: any. */
JOURNEY_API const char *journey_version(void);

/* Fills config with the defaults. thread: any. */
JOURNEY_API void journey_config_init(journey_config *config);

/* Creates a host. On failure returns a negative status (JOURNEY_EIO for
 * a store that cannot be opened, JOURNEY_ESTATE for a store another
 * process holds), leaves *host NULL and writes the reason into error
 * (error_size bytes, may be NULL). config NULL means the defaults.
 * Free the host with journey_host_close. thread: the loop's. */
JOURNEY_API int journey_host_new(const journey_config *config, journey_host **host,
                                 char *error, size_t error_size);

/* Loads the journeys of the Lua script at path (journey.define calls).
 * Load every script before journey_start: afterwards the call returns
 * JOURNEY_ESTATE. A script that fails to load, or a missing file,
 * returns JOURNEY_EINVAL with the file and line in journey_error.
 * thread: the loop's. */
JOURNEY_API int journey_load(journey_host *host, const char *path);

/* Loads every script given to journey_load again, in a new Lua state.
 * When one fails, the previous scripts stay in force and the call
 * returns JOURNEY_EINVAL with the file and line in journey_error.
 * Otherwise the live runs move to the new scripts by replay. Runs whose
 * replay diverges are parked: they stay stored as they were, and the
 * next start or reload replays them again. The call then returns
 * JOURNEY_EDIVERGED with their count. Actions stay registered, and a
 * call still open moves to its run in the new scripts without calling
 * the handler again. thread: the loop's. */
JOURNEY_API int journey_reload(journey_host *host);

/* Starts the host: replays the store's live runs from their journals,
 * fires deadlines that passed while it was down, and from then on
 * commits at the end of every loop turn and keeps a timer for the next
 * deadline. thread: the loop's. */
JOURNEY_API int journey_start(journey_host *host);

/* Called once an ingested event is durable (status JOURNEY_OK, seq its
 * sequence number), was a duplicate (JOURNEY_EEXIST, seq 0), or could
 * not be stored (another negative status). thread: the loop's. */
typedef void (*journey_ingest_cb)(void *ctx, int status, uint64_t seq);

/* Ingests one event, JSON text in the wire format {"id"?, "user",
 * "name", "ts"?, "data"?} (json[0..len), copied). A missing ts means
 * now. Dispatches it at once and returns JOURNEY_OK. done (may be NULL)
 * fires after the next commit, which is the loop turn's, unless on the
 * real clock a later journey_ingest of the same turn commits first
 * because the oldest event waiting for a commit has waited 1 ms. A
 * SQLite store commits on its writer thread. done then fires on the
 * loop thread once that commit ended, from the loop or from a later
 * journey_ingest. A journey_ingest may wait for the writer when the
 * group being committed has waited 1.5 ms. Any other return (JOURNEY_EINVAL
 * for a bad event, JOURNEY_ESTATE before journey_start) sets
 * journey_error, and done never fires.
 * thread: the loop's. */
JOURNEY_API int journey_ingest(journey_host *host, const char *json, size_t len,
                               journey_ingest_cb done, void *ctx);

/* Like journey_ingest, from any thread: the event is copied and handed
 * to the loop thread through a uv_async handle, and taken in once the
 * host is started. done fires on the loop thread, also with a negative
 * status (JOURNEY_EINVAL for a bad event, whose reason is then in
 * journey_error). Returns JOURNEY_OK, JOURNEY_ENOMEM, or JOURNEY_EINVAL
 * for a NULL json (no message: journey_error is the loop thread's).
 * thread: any, until journey_host_close starts. */
JOURNEY_API int journey_ingest_threadsafe(journey_host *host, const char *json, size_t len,
                                          journey_ingest_cb done, void *ctx);

/* One pending j.call of a run, handed to an action handler. */
typedef struct journey_call journey_call;

/* An action handler: j.call(name, args) in a journey calls it with the
 * arguments as JSON text (borrowed for the call; "null" without
 * arguments). The handler completes the call with journey_call_done, at
 * once or later from another callback of the loop. The run waits
 * meanwhile, up to the call's timeout (one hour unless j.call sets
 * another).
 * thread: the loop's. */
typedef void (*journey_action_fn)(void *ctx, journey_call *call, const char *args_json);

/* Registers handler fn under name, for j.call(name, ...). ctx is passed
 * back to fn. Returns JOURNEY_EEXIST for a name taken already.
 * thread: the loop's. */
JOURNEY_API int journey_register_action(journey_host *host, const char *name,
                                        journey_action_fn fn, void *ctx);

/* Returns the id of the run that made the call, for idempotency keys. */
JOURNEY_API uint64_t journey_call_run_id(const journey_call *call);

/* Returns the action's name; borrowed until journey_call_done. */
JOURNEY_API const char *journey_call_name(const journey_call *call);

/* Completes a call and frees it; calling it twice on one call is a
 * use-after-free, as with free(). value_json is the value j.call returns
 * (JSON text, copied; NULL for nil), or error (NULL on success) makes
 * j.call raise that message in the run. The result is journaled, so a
 * replay of the run never calls the handler again. Returns JOURNEY_OK;
 * JOURNEY_ESTATE when the call timed out or the run is gone (the result
 * is dropped); JOURNEY_EINVAL when value_json is not one JSON value
 * (the call stays open). Only the syntax is checked: a value too large
 * for the memory cap fails the run when j.call decodes it.
 * thread: the loop's. */
JOURNEY_API int journey_call_done(journey_call *call, const char *value_json, const char *error);

/* Writes the live run with that id as JSON (id, journey, user, status,
 * steps, current wait and deadline) into *json, which the caller frees
 * with journey_free. A run that ended is released at once, so ended
 * runs and unknown ids return JOURNEY_ENOTFOUND; their results are in
 * the store (`journey show RUN --store sqlite:PATH`).
 * thread: the loop's. */
JOURNEY_API int journey_run_json(journey_host *host, uint64_t run_id, char **json);

/* Returns the number of live runs. thread: the loop's. */
JOURNEY_API uint64_t journey_live_runs(const journey_host *host);

/* Returns, for a host on the SQLite store, the highest event seq such
 * that every event at or below it is durable: committed and, at the full
 * sync level, synced. Another connection to the store file can see later
 * events, which a power loss may still undo, so a reader that must see
 * only durable events (as GET /events of journey serve does) reads up to
 * this seq. Returns 0 for other stores. thread: the loop's. */
JOURNEY_API uint64_t journey_durable_seq(const journey_host *host);

/* Runs a full cycle of the garbage collector of the host's Lua state and
 * returns the bytes the state uses afterwards. The collector runs
 * incrementally on its own, so a host never needs this call. It lets a
 * benchmark read the memory of the live runs without the garbage of a
 * collection cycle still under way. thread: the loop's. */
JOURNEY_API size_t journey_collect_garbage(journey_host *host);

/* --- Events -----------------------------------------------------------
 *
 * An event can be parsed first and ingested later, so a program can
 * check a whole batch before it stores any of it (all or nothing), or
 * sort past events before a replay.
 */

/* journey_event_parse flag: an event without "ts" is invalid, instead
 * of taking the host's clock. */
#define JOURNEY_PARSE_REQUIRE_TS 1u

/* Parses one event in the wire format from json[0..len). On success
 * *event is a new event (free it with journey_event_free, or give it to
 * journey_ingest_event). Returns JOURNEY_EINVAL (or JOURNEY_EJSON for
 * text that is not JSON) with a message in journey_error that names the
 * field and the fix. thread: the loop's. */
JOURNEY_API int journey_event_parse(journey_host *host, const char *json, size_t len,
                                    unsigned flags, journey_event **event);

/* Parses a JSON object or an array of 1 to max_events objects into
 * *events (an array of *count events; free with journey_events_free).
 * Nothing is returned unless every event is valid: JOURNEY_EJSON for
 * text that is not JSON, JOURNEY_ERANGE for an empty or too long array,
 * JOURNEY_EINVAL naming the first invalid event by its index from 0.
 * thread: the loop's. */
JOURNEY_API int journey_events_parse(journey_host *host, const char *json, size_t len,
                                     unsigned flags, size_t max_events,
                                     journey_event ***events, size_t *count);

/* Frees an array from journey_events_parse and the events left in it
 * (entries set to NULL are skipped). thread: any. */
JOURNEY_API void journey_events_free(journey_event **events, size_t count);

/* Ingests a parsed event and takes ownership of it, also when the call
 * fails. Otherwise as journey_ingest. thread: the loop's. */
JOURNEY_API int journey_ingest_event(journey_host *host, journey_event *event,
                                     journey_ingest_cb done, void *ctx);

/* --- Clock and commits -------------------------------------------------- */

/* Returns the host's clock, in ms since 1970. thread: the loop's. */
JOURNEY_API int64_t journey_now(const journey_host *host);

/* Returns the earliest deadline of a live run, or INT64_MAX when none.
 * thread: the loop's. */
JOURNEY_API int64_t journey_next_deadline(const journey_host *host);

/* Moves a virtual clock forward to at, firing every deadline at or
 * before it in order. Before journey_start it only sets the clock. A
 * time behind the clock fires what is due and leaves the clock.
 * Returns JOURNEY_ESTATE on a real clock. thread: the loop's. */
JOURNEY_API int journey_advance_to(journey_host *host, int64_t at);

/* Commits now what the host did since the last commit, waiting for the
 * store (also for a SQLite store's writer thread), then calls the ingest
 * callbacks it covered. An event that a callback ingests meanwhile
 * waits for the next commit. The host also commits after every loop
 * turn, so only a program that does not run the loop (a replay) needs
 * this. Returns JOURNEY_EIO when the commit failed. thread: the loop's. */
JOURNEY_API int journey_commit(journey_host *host);

/* --- Scripts, replays and retention -------------------------------------- */

/* What a start, a reload or a dry run did to the live runs. */
typedef struct journey_replay_report {
    uint64_t replayed; /* live runs replayed from their journals */
    uint64_t diverged; /* of those, runs whose replay failed or diverged:
                        * parked, kept in the store as they were for the
                        * next start or reload */
    uint64_t orphaned; /* live runs of journeys no loaded script defines */
    size_t scripts;    /* scripts loaded */
    size_t journeys;   /* journeys they define */
} journey_replay_report;

/* Reloads with another list of scripts (paths copied), which replaces
 * the host's list when every script loads; otherwise as journey_reload.
 * An empty list unloads every journey; their live runs stay in the
 * store, counted as orphaned, until a script defines them again.
 * thread: the loop's. */
JOURNEY_API int journey_reload_scripts(journey_host *host, const char *const *paths,
                                       size_t count);

/* Replays every live run against the scripts at paths in a separate Lua
 * state that writes nothing and calls no action handler, and reports
 * what a reload to them would do (diverged: the runs it would park).
 * Each run stops where its replay ends. The host and its runs do not
 * change, except that the turn's work is committed first. Returns
 * JOURNEY_EINVAL when a script does not load. thread: the loop's. */
JOURNEY_API int journey_dry_run(journey_host *host, const char *const *paths, size_t count,
                                journey_replay_report *report);

/* Fills report with what the last journey_start or reload did.
 * thread: the loop's. */
JOURNEY_API void journey_last_replay(const journey_host *host, journey_replay_report *report);

/* Deletes runs that ended more than older_than ms before the clock, and
 * events older than that which no live run can reach. The deletions
 * commit with the next group. Counts go to runs and events (either may
 * be NULL). From the first call on, j.wait_for and j.events with since
 * read no event older than older_than before the clock, or than the
 * run's start when that is earlier. So what a run reads does not depend
 * on when the last prune ran. 0 lifts that bound. Before
 * journey_start the call only sets this bound, which the start's
 * restored waits then read within: call it there when you prune.
 * thread: the loop's. */
JOURNEY_API int journey_prune(journey_host *host, int64_t older_than, uint64_t *runs,
                              uint64_t *events);

/* Reads and writes the program's own values in the store, such as the
 * offset of an input the program consumed. A value written commits with
 * the events of the same group, atomically. Keys live in a namespace of
 * their own, apart from the host's. journey_meta_get sets *value to a
 * string the caller frees with journey_free, or NULL when the key is
 * not set. Both work before journey_start too. thread: the loop's. */
JOURNEY_API int journey_meta_get(journey_host *host, const char *key, char **value);
JOURNEY_API int journey_meta_put(journey_host *host, const char *key, const char *value);

/* --- Statistics --------------------------------------------------------- */

#define JOURNEY_COMMIT_BUCKETS 10
#define JOURNEY_WAKE_BUCKETS 8

/* Counters since the host was created (reloads included), and the
 * current sizes. */
typedef struct journey_stats {
    uint64_t events_ingested;  /* stored, emitted ones included */
    uint64_t events_duplicate;
    uint64_t events_emitted;
    uint64_t runs_started;
    uint64_t runs_completed;
    uint64_t runs_failed;
    uint64_t runs_cancelled;
    uint64_t runs_live;
    uint64_t waits;            /* (user, event name) entries of waiting runs */
    uint64_t deadlines;        /* pending deadlines */
    uint64_t commits;          /* commits that wrote something */
    double commit_seconds_sum;
    uint64_t commit_buckets[JOURNEY_COMMIT_BUCKETS + 1]; /* the last is +Inf */
    double wake_seconds_sum;   /* event ingested -> waiting run resumed */
    uint64_t wake_buckets[JOURNEY_WAKE_BUCKETS + 1];     /* the last is +Inf */
    uint64_t reloads;
    uint64_t reload_failures;
    uint64_t runs_evicted;     /* live runs suspended without a coroutine now */
    uint64_t evictions;        /* coroutines dropped past resident_runs */
    uint64_t rebuilds;         /* coroutines rebuilt by replay on a wake */
    uint64_t runs_parked;      /* live runs whose replay failed or diverged,
                                * kept as stored until a reload */
} journey_stats;

/* The upper bounds, in seconds, of the buckets of journey_stats;
 * static arrays. thread: any. */
JOURNEY_API const double *journey_commit_bucket_bounds(void);
JOURNEY_API const double *journey_wake_bucket_bounds(void);

/* Fills stats. thread: the loop's. */
JOURNEY_API void journey_get_stats(const journey_host *host, journey_stats *stats);

/* One journey of the loaded scripts, with its runs. */
typedef struct journey_journey_info {
    const char *name; /* borrowed until the next load or reload */
    uint64_t started; /* since the scripts last loaded */
    uint64_t completed;
    uint64_t failed;
    uint64_t cancelled;
    uint64_t running; /* live runs, recovered ones included */
    uint64_t waiting;
    uint64_t sleeping;
} journey_journey_info;

/* Writes the loaded journeys, in the order the scripts define them,
 * into *infos (free with journey_free) and their number into *count.
 * thread: the loop's. */
JOURNEY_API int journey_journeys(const journey_host *host, journey_journey_info **infos,
                                 size_t *count);

/* Writes the host's metrics in the Prometheus text format into *text
 * (free with journey_free). thread: the loop's. */
JOURNEY_API int journey_metrics_text(const journey_host *host, char **text);

/* Formats a trace as one transcript line without a newline, such as
 * "2024-01-01T10:00:00Z  onboarding #3 u1  waits for app/login until
 * ...", into *line (free with journey_free). Returns JOURNEY_ENOTFOUND
 * and sets *line NULL for traces a transcript leaves out: duplicates,
 * and ingested events unless with_events. thread: any. */
JOURNEY_API int journey_trace_text(const journey_trace *trace, int with_events, char **line);

/* Returns the message of the last failed call on host; borrowed until
 * the next call on it. thread: the loop's. */
JOURNEY_API const char *journey_error(const journey_host *host);

/* Frees memory the library handed out. NULL is ignored. thread: any. */
JOURNEY_API void journey_free(void *pointer);

/* For programs with their own event loop (config.loop NULL): the file
 * descriptor to poll for reading, and the milliseconds until the host
 * needs to run (-1: no deadline). thread: the loop's. */
JOURNEY_API int journey_backend_fd(journey_host *host);
JOURNEY_API int journey_backend_timeout(journey_host *host);

/* Runs the host's own loop once without blocking: I/O that is ready,
 * timers that are due, and the commit. Returns the number of live
 * handles, as uv_run does. thread: the loop's. */
JOURNEY_API int journey_run_once(journey_host *host);

/* Closes the host: stops its timers, commits, closes the store and
 * frees everything once its handles closed, then calls closed(ctx) (may
 * be NULL) on the loop thread. Ingest callbacks still pending fire
 * inside this call: JOURNEY_OK for events the final commit stored,
 * JOURNEY_ESTATE for events still queued from other threads. Calls that
 * handlers hold stay valid: complete each with journey_call_done, which
 * frees it and returns JOURNEY_ESTATE (the run calls again after the
 * next start). With a borrowed loop, keep running it until closed
 * fires; with the host's own loop, the call completes before it
 * returns. thread: the loop's. */
JOURNEY_API void journey_host_close(journey_host *host, void (*closed)(void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif
