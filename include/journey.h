/*
 * journey.h: embed the journey host in a C program.
 *
 * A host runs user journeys written in Lua on a libuv loop: it stores
 * the events you give it, runs the journeys they trigger, and wakes runs
 * when their events arrive or their deadlines pass. Everything it does
 * in one loop turn is committed together at the end of the turn, and an
 * ingest's callback fires once its event is durable.
 *
 * Ownership: strings passed in are copied unless a comment states
 * otherwise; pointers handed out are borrowed until the call named in
 * their comment, or are freed by the caller with journey_free.
 *
 * Errors: functions return JOURNEY_OK (0) or a negative journey_status.
 * journey_error(host) returns the message of the last failed call on
 * that host. No function aborts the process on bad input.
 *
 * Compiling: journey.h includes uv.h, which needs POSIX declarations;
 * with -std=c11 define _POSIX_C_SOURCE=200809L (or use -std=gnu11).
 *
 * Threads: every function belongs to the thread that runs the host's
 * loop (the thread that created the host), except journey_version,
 * journey_config_init, journey_free and journey_ingest_threadsafe.
 * Debug builds of the library assert it.
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
    int sync_normal;             /* SQLite: 1 for synchronous NORMAL, 0 FULL */
    uint64_t instruction_budget; /* per run between waits; 0: the default */
    size_t memory_cap;           /* bytes for all Lua code; 0: the default */
    uint32_t max_journal;        /* steps per run; 0: the default */
    journey_log_fn log;          /* NULL: diagnostics are dropped */
    void *log_ctx;
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
 * replay diverges are parked as failed, and the call returns
 * JOURNEY_EDIVERGED with their count. Actions stay registered.
 * thread: the loop's. */
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
 * now. Dispatches it at once and returns JOURNEY_OK; done (may be NULL)
 * fires after the loop turn's commit. Any other return (JOURNEY_EINVAL
 * for a bad event, JOURNEY_ESTATE before journey_start) sets
 * journey_error, and done never fires. thread: the loop's. */
JOURNEY_API int journey_ingest(journey_host *host, const char *json, size_t len,
                               journey_ingest_cb done, void *ctx);

/* Like journey_ingest, from any thread: the event is copied and handed
 * to the loop thread through a uv_async handle, and taken in once the
 * host is started. done fires on the loop thread, also with a negative
 * status (JOURNEY_EINVAL for a bad event, whose reason is then in
 * journey_error). Returns JOURNEY_OK or JOURNEY_ENOMEM.
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
 * is dropped); JOURNEY_EINVAL when value_json is not JSON (the call
 * stays open). thread: the loop's. */
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
