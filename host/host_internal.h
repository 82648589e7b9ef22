/*
 * Functions shared by the files of the scheduler (host.c, dispatch.c,
 * waits.c, run.c) and by nothing else.
 */
#ifndef JOURNEY_HOST_HOST_INTERNAL_H
#define JOURNEY_HOST_HOST_INTERNAL_H

#include "host.h"

/* Sends a trace to the trace callback, when there is one. */
void jy__trace(jy_host *host, jy_trace_kind kind, const jy_run *run,
               const jy_event *event, const char *detail, jy_time deadline);

/* Creates and starts a run of journey for the current event. key is
 * copied (NULL for JY_KEY_NONE). */
void jy__run_start(jy_host *host, jy_journey *journey, const jy_event *trigger,
                   const char *key);

/* Resumes a suspended run whose wait ended: event woke it, or NULL for a
 * deadline. The wait must already be cleared. */
void jy__run_resume(jy_host *host, jy_run *run, const jy_event *event);

/* Ends a live run as cancelled by event. */
void jy__run_cancel(jy_host *host, jy_run *run, const jy_event *event);

/* Lists a run that just suspended as resident and, past the host's
 * resident limit, evicts the coroutines of the least recently suspended
 * runs (host/residency.c). */
void jy__resident_add(jy_host *host, jy_run *run);

/* Takes run out of the resident list (it resumes or ends). */
void jy__resident_remove(jy_host *host, jy_run *run);

/* Gives an evicted run its coroutine back before a wake: replays its
 * journal up to the wait or sleep it is in. Returns 0, or -1 when the
 * replay diverged or failed and the run has ended as failed. */
int jy__resident_rebuild(jy_host *host, jy_run *run);

/* Moves a run whose coroutine gave back control to the state its
 * outcome names: suspended, completed or failed (host/run.c). */
void jy__run_apply_outcome(jy_host *host, jy_run *run, jy_outcome *outcome);

/* Writes the run's record to the store. */
void jy__run_persist(jy_host *host, jy_run *run);

/* Frees a run's memory (the run must be ended and released). */
void jy__run_free(jy_run *run);

/* Counts the wake latency of a run that an ingested event woke. */
void jy__record_wake(jy_host *host);

/* Takes run out of the wait index and the deadline heap. */
void jy__wait_clear(jy_host *host, jy_run *run);

/* Joins names with commas into out (size bytes, NUL-terminated), as run
 * records store them. A list that does not fit is cut at size - 1
 * bytes, which may end it with a comma. */
void jy__join_names(const char *const *names, size_t count, char *out, size_t size);

/* Returns 1 when an event of that name starts runs of journey. */
int jy__journey_triggers_on(const jy_journey *journey, const char *name);

/* Wakes every run waiting on (event->user, event->name) whose match
 * accepts event. Sets *woke_keys to the live keys of the woken runs (malloc'd array of malloc'd strings) for the trigger
 * check. */
void jy__wait_dispatch(jy_host *host, const jy_event *event, char ***woke_keys,
                       size_t *woke_count);

/* Fires one due deadline; returns 0 when none is due at or before t. */
int jy__wait_fire_next(jy_host *host, jy_time t);

/* Room on the stack for the composite keys (wait keys, live-run keys)
 * of usual users, names and keys: building one is part of every wait,
 * every dispatch and every run start. */
#define JY_KEY_BUFFER 128

/* Builds "first NUL second" into buf when it fits in buf_size bytes,
 * else into a malloc'd block, and sets *len to its length without the
 * final NUL. The wait index keys (user, name) so. Release the result
 * with jy__key_release. Returns NULL when out of memory. */
char *jy__pair_key_in(const char *first, const char *second, char *buf, size_t buf_size,
                      size_t *len);

/* Frees a key from jy__pair_key_in or jy__live_key_in unless it is buf. */
void jy__key_release(char *key, const char *buf);

/* Builds the key of a live run, "journey NUL user NUL key", into a
 * malloc'd buffer. Run keys are scoped to the user, so two users' carts
 * with the same id never block each other. */
char *jy__live_key(const char *journey, const char *user, const char *key, size_t *len);

/* Builds the key of a live run as jy__live_key does, into buf when it
 * fits in buf_size bytes, else into a malloc'd block. Release it with
 * jy__key_release. Looking a key up needs no copy that outlives the
 * call, and most keys are short. */
char *jy__live_key_in(const char *journey, const char *user, const char *key, char *buf,
                      size_t buf_size, size_t *len);

/* Returns the length of a key from jy__live_key, without the final NUL. */
size_t jy__live_key_length(const char *live_key);

#endif
