/*
 * The Lua side of a host: one jy_lua_host ties a jy_host to a Lua state
 * and implements the runtime interface (host/runtime.h) with Lua
 * coroutines. Shared by the files of bindings/ only.
 *
 * Several hosts may share one Lua state (specs create many). Each run
 * coroutine is registered in a per-state table that maps the thread to
 * its run, so j.* functions can find the run that calls them.
 */
#ifndef JOURNEY_BINDINGS_LUA_HOST_H
#define JOURNEY_BINDINGS_LUA_HOST_H

#include <lauxlib.h>
#include <lua.h>

#include "duration.h"
#include "host.h"

/* Debug builds check that every entry from the scheduler leaves the
 * host thread's stack as it found it, because a leak there grows the
 * stack for the life of the host. */
#ifdef NDEBUG
#define JY_STACK_ENTER(L) ((void)0)
#define JY_STACK_LEAVE(L) ((void)0)
#else
#include <assert.h>
#define JY_STACK_ENTER(L) const int jy_stack_top_ = lua_gettop(L)
#define JY_STACK_LEAVE(L) assert(lua_gettop(L) == jy_stack_top_)
#endif

/* Run flags kept in jy_run.runtime_flags. */
#define JY_RUN_IN_STEP 1u     /* executing the function of a j.step */
#define JY_RUN_STEP_MISUSE 2u /* the step function called a suspending step */
#define JY_RUN_BUDGET_SPENT 4u /* the run spent its instruction budget */
#define JY_RUN_IN_CALL 8u     /* j.call is running the action's handler */
#define JY_RUN_AWAITING_CALL 16u /* suspended in j.call until the call
                                  * completes; its coroutine cannot be
                                  * evicted, since a rebuild would call the
                                  * handler again */

/* The defaults of the guards; each is documented in docs/lua-api.md. */
#define JY_DEFAULT_INSTRUCTION_BUDGET 100000000ULL
#define JY_DEFAULT_MEMORY_CAP ((size_t)4 << 30)

/* Coroutines of ended runs kept for new runs. A new thread costs its
 * allocation now and a sweep by the collector later, and runs start and
 * end at a high rate, while a few dozen spare threads cover the runs
 * that end between two starts. */
#define JY_SPARE_THREADS 64

/* An action handler: called by j.call with the run and a token that
 * identifies this call. It completes the call with jy_lua_complete_call, now or
 * later. args_json is borrowed for the call. */
typedef void (*jy_lua_action_fn)(void *ctx, jy_host *host, uint64_t run_id, uint64_t token,
                                 const char *name, const char *args_json);

typedef struct jy_lua_action {
    struct jy_lua_action *next;
    jy_lua_action_fn fn;
    void *ctx;
    char name[];
} jy_lua_action;

typedef struct jy_lua_host {
    lua_State *L;          /* a thread of the state owned by this host,
                            * used for work outside runs */
    int thread_ref;        /* anchors L in the registry */
    jy_host *host;
    jy_clock clock;
    jy_store *store;       /* owned while owns_store is set */
    int owns_store;        /* 0: a server keeps the store across reloads */
    int log_ref;           /* optional Lua log function, or LUA_NOREF */
    int event_data_ref;    /* decoded data of the current event */
    const jy_event *current_event;
    int refs;              /* registry refs held for runs and journeys,
                            * spare threads aside; zero after close */
    int spare_threads[JY_SPARE_THREADS]; /* registry refs of coroutines
                            * that returned, for new runs to reuse */
    int spare_count;
    uint64_t instruction_budget; /* per run, between two suspensions */
    jy_lua_action *actions;      /* owned list */
} jy_lua_host;

/* Registers an action for j.call. Returns 0, JY_EEXIST or JY_ENOMEM. */
int jy_lua_register_action(jy_lua_host *lh, const char *name, jy_lua_action_fn fn, void *ctx);

/* Returns the action of that name, or NULL. */
jy_lua_action *jy_lua_find_action(jy_lua_host *lh, const char *name);

/* Completes the j.call that (run_id, token) names: value_json is the
 * call's value (NULL for null), error (may be NULL) a failure message.
 * The run resumes at the next advance of the host. Returns 0,
 * JY_ENOTFOUND when the run is gone, JY_ESTATE when the call timed out
 * or was completed already, JY_EINVAL when value_json is not JSON. */
int jy_lua_complete_call(jy_lua_host *lh, uint64_t run_id, uint64_t token,
                         const char *value_json, const char *error);

/* Creates a host on the state of L with a virtual clock at start (or a
 * real clock when is_virtual is 0) over store, which it owns from then
 * on (see owns_store); NULL store means a new memory store. Returns NULL
 * when out of memory, and the caller keeps store. The host anchors a
 * thread of its own; free with jy_lua_host_free. */
jy_lua_host *jy_lua_host_new(lua_State *L, int is_virtual, jy_time start, jy_store *store);

/* Releases every run, journey and ref, and the store. NULL is ignored. */
void jy_lua_host_free(jy_lua_host *lh);

/* Loads the journeys of the script at path (chunk name "@path", so
 * messages start with "path:line:"). Returns 0, or a negative code with
 * the message in err; journeys defined before an error stay loaded. */
int jy_lua_host_load(jy_lua_host *lh, const char *path, jy_error *err);

/* Registers the journey.define table at index idx of L with lh.
 * [-0, +0, v] raises on an invalid definition. */
void jy_lua_define(lua_State *L, jy_lua_host *lh, int idx);

/* Parses one event in the wire format from line[0..len): {"id"?,
 * "user", "name" (or "event"), "ts", "data"?}. A missing ts is an error
 * when require_ts, else default_ts. Returns a new event (the caller
 * owns it), or NULL with a message in err that names the field and
 * the reason. The parse runs in C (jy_event_parse) and leaves the Lua
 * state alone. */
jy_event *jy_lua_parse_event(jy_lua_host *lh, const char *line, size_t len,
                             int require_ts, jy_time default_ts, jy_error *err);

/* Attaches the instruction budget to a run's coroutine co. */
void jy_lua_budget_attach(lua_State *co, jy_run *run);

/* Starts a new budget period for run, before each resume. */
void jy_lua_budget_reset(jy_run *run);

/* Creates a Lua state whose allocator fails past memory_cap bytes.
 * Close it with jy_lua_close_state. Returns NULL when out of memory. */
lua_State *jy_lua_new_state(size_t memory_cap);

/* Returns 1 when an allocation of the state failed since the last call,
 * and clears the mark. Always 0 for a state this file did not create. */
int jy_lua_take_memory_failure(lua_State *L);

/* Creates a state like jy_lua_new_state for a replay that runs to its
 * end, such as journey simulate (a host on a virtual clock). Blocks up
 * to 1 KiB come from a pool that keeps freed blocks for reuse instead
 * of returning them to malloc, which is faster but holds the largest
 * amount of small blocks ever used until the state is closed. */
lua_State *jy_lua_new_batch_state(size_t memory_cap);

/* Returns 1 for a state from jy_lua_new_state or jy_lua_new_batch_state,
 * whose threads' extra space contains their run (or NULL). Other states,
 * such as a spec runner's, were created with garbage there. */
int jy_lua_state_is_ours(lua_State *L);

/* Closes a state from jy_lua_new_state and frees its allocator. */
void jy_lua_close_state(lua_State *L);

/* Writes a lua-cjson error message into out with its token names
 * ("T_OBJ_END") replaced by the characters they stand for. */
void jy_lua_plain_json_error(const char *message, char *out, size_t size);

/* Opens the journey module: pushes its table. [-0, +1, m] */
int luaopen_journey(lua_State *L);

/* --- shared helpers --- */

/* Returns the run whose coroutine is L, or raises an error naming
 * function (such as "j.wait_for") when L is not a run. [-0, +0, v] */
jy_run *jy_lua_check_run(lua_State *L, const char *function);

/* Like jy_lua_check_run for functions that journal a step: also raises
 * when called inside the function of a j.step. [-0, +0, v] */
jy_run *jy_lua_check_journaled_run(lua_State *L, const char *function);

/* Returns the run whose coroutine is L, or NULL. [-0, +0, -] */
jy_run *jy_lua_current_run(lua_State *L);

/* Returns the run whose coroutine is being resumed on this OS thread,
 * or NULL. A coroutine that a run's script created has no run of its
 * own, and its instructions count against this one. */
jy_run *jy_lua_resumed_run(void);

/* Returns 1 when the value at idx is the coroutine of a run, or of a
 * run that was evicted and goes on in a rebuilt coroutine, else 0.
 * [-0, +0, m] */
int jy_lua_is_run_thread(lua_State *L, int idx);

/* Raises the error of a failed host call as a Lua error at the caller's
 * line. [-0, +0, v] */
int jy_lua_raise(lua_State *L, const jy_error *err);

/* Raises an error naming function when the table at idx (if it is a
 * table) has a key outside known (a NULL-terminated list), so a typo
 * such as "timout" fails loudly instead of being ignored. [-0, +0, v] */
void jy_lua_check_fields(lua_State *L, int idx, const char *function,
                         const char *const *known);

/* Reads a duration: a number of seconds or a string such as "2d".
 * Raises an error that quotes a bad value and names what it is for.
 * [-0, +0, v] */
jy_duration jy_lua_check_duration(lua_State *L, int idx, const char *what);

/* Reads a time: epoch seconds or an ISO-8601 string. [-0, +0, v] */
jy_time jy_lua_check_time(lua_State *L, int idx, const char *what);

/* Pushes the text of buf as a Lua string and frees buf. When the string
 * does not fit in the memory cap, frees buf first and then raises. A
 * buf whose appends failed raises "out of memory " followed by task,
 * such as "journaling j.events". [-0, +1, m] */
void jy_lua_push_buf(lua_State *L, jy_buf *buf, const char *task);

/* Pushes a time as seconds since the epoch. [-0, +1, -] */
void jy_lua_push_time(lua_State *L, jy_time t);

/* Pushes event as a new table {seq, id, user, name, ts, data,
 * user_attributes}, so every receiver gets its own copy. data and
 * user_attributes are decoded when first read (bindings/event_table.c).
 * [-0, +1, m] */
void jy_lua_push_event(lua_State *L, const jy_event *event);

/* Pushes event as jy_lua_push_event does, with the table at data_idx
 * as its data (no copy), or decoded from the event when data_idx is 0.
 * [-0, +1, m] */
void jy_lua_push_event_with_data(lua_State *L, const jy_event *event, int data_idx);

/* Returns 1 when jy_lua_push_event decodes event's data whole at once
 * (short data) rather than field by field. */
int jy_lua_event_data_is_small(const jy_event *event);

/* Decodes the rest of every pending event.data table inside the value
 * at idx, so that it is whole for code that reads it raw. [-0, +0, e] */
void jy_lua_complete_pending_data(lua_State *L, int idx);

/* Decodes the rest of the table at idx when it is a pending event.data
 * table; nested tables are left as they are. [-0, +0, e] */
void jy_lua_complete_pending_table(lua_State *L, int idx);

/* Decodes JSON text and pushes the value, JSON null as nil. Raises on
 * invalid JSON. [-0, +1, e] */
void jy_lua_json_decode(lua_State *L, const char *json);

/* Decodes len bytes of JSON text, as jy_lua_json_decode. [-0, +1, e] */
void jy_lua_json_decode_text(lua_State *L, const char *text, size_t len);

/* Encodes the value at idx as JSON; returns a malloc'd string, or NULL
 * with an error message pushed when the value cannot be encoded.
 * [-0, +(0|1), m] */
char *jy_lua_json_encode(lua_State *L, int idx);

/* Encodes as jy_lua_json_encode does and sets *status to LUA_OK, or to
 * LUA_ERRMEM when memory ran out and LUA_ERRRUN when the value cannot
 * be written as JSON. [-0, +(0|1), -] */
char *jy_lua_json_encode_status(lua_State *L, int idx, int *status);

/* Encodes the value at idx as JSON and pushes the text as a Lua string.
 * Returns LUA_OK, or LUA_ERRMEM or LUA_ERRRUN with an error message
 * pushed in place of the text. Nothing leaks when the text does not fit
 * in the memory cap. [-0, +1, -] */
int jy_lua_json_push(lua_State *L, int idx);

/* Returns 1 when the data value at data_idx satisfies the match table
 * at match_idx: every key of match (dotted keys as paths) is present
 * in data with an equal value; nested tables compare by value; types
 * are strict but integer and float numbers compare by value.
 * [-0, +0, -] */
int jy_lua_match(lua_State *L, int match_idx, int data_idx);

/* Installs journaled os.time, math.random and run-tagged print into the
 * globals of the state of L; a function already wrapped stays as it is.
 * [-0, +0, m] */
void jy_lua_install_sandbox(lua_State *L);

/* Pushes the metatable shared by every run's j table; its __index contains
 * the j.* functions. [-0, +1, m] */
void jy_lua_push_api(lua_State *L);

/* Step functions, one file each. [-?, +?, v] as documented for Lua. */
int ljy_wait_for(lua_State *L);
int ljy_events(lua_State *L);
int ljy_sleep(lua_State *L);
int ljy_sleep_until(lua_State *L);
int ljy_emit(lua_State *L);
int ljy_step(lua_State *L);
int ljy_call(lua_State *L);

/* The resume driver: the only caller of lua_resume. Resumes the run's
 * coroutine co with nargs values on its stack and fills outcome. */
void jy_lua_resume(jy_lua_host *lh, jy_run *run, lua_State *co, int nargs,
                   jy_outcome *outcome);

/* Returns the jy_lua_host of run. */
jy_lua_host *jy_lua_host_of(const jy_run *run);

/* Journals a step or raises the host's error. [-0, +0, v] */
void jy_lua_journal(lua_State *L, jy_run *run, jy_step_kind kind,
                    const char *name, const char *result_json);

/* Reads the next journal entry of a replaying run: returns it, or NULL
 * when the step must run live; raises on divergence. [-0, +0, v] */
const jy_journal_entry *jy_lua_replay(lua_State *L, jy_run *run,
                                      jy_step_kind kind, const char *name);

#endif
