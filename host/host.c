/*
 * Creating and freeing the host, its journeys, logging and tracing, and
 * the read-only queries on runs.
 */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"


jy_host *jy_host_new(jy_clock *clock, jy_store *store,
                     const jy_runtime *runtime)
{
    jy_host *host = calloc(1, sizeof *host);

    if (host == NULL)
        return NULL;
    host->clock = clock;
    host->store = store;
    host->runtime = *runtime;
    host->next_run_id = 1;
    host->keep_ended_runs = 1;
    host->max_journal = JY_DEFAULT_MAX_JOURNAL;
    jy_map_init(&host->runs);
    jy_map_init(&host->live_keys);
    jy_map_init(&host->waits);
    jy_map_init(&host->user_runs);
    jy_timer_heap_init(&host->deadlines);
    return host;
}


static void release_run(const jy_map_entry *entry, void *ctx)
{
    jy_host *host = ctx;
    jy_run *run = entry->value;

    if (jy_run_status_is_live(run->status))
        jy__wait_clear(host, run);
    host->runtime.run_release(host->runtime.ctx, run);
    jy__run_free(run);
}


static void free_wait_list(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    free(entry->value);
}


void jy_host_free(jy_host *host)
{
    if (host == NULL)
        return;

    jy_map_each(&host->runs, release_run, host);
    jy_map_each(&host->waits, free_wait_list, NULL);
    jy_map_free(&host->runs);
    jy_map_free(&host->live_keys);
    jy_map_free(&host->waits);
    jy_map_free(&host->user_runs);
    jy_timer_heap_free(&host->deadlines);

    while (host->queue_head != NULL) {
        jy_pending_event *pending = host->queue_head;
        host->queue_head = pending->next;
        free(pending); /* the store owns the event */
    }

    for (size_t i = 0; i < host->journey_count; i++) {
        host->runtime.journey_release(host->runtime.ctx, host->journeys[i]);
        jy_journey_free(host->journeys[i]);
    }
    free(host->journeys);
    free(host);
}


void jy_host_set_log(jy_host *host, jy_log_fn log, void *ctx)
{
    host->log = log;
    host->log_ctx = ctx;
}


void jy_host_set_trace(jy_host *host, jy_trace_fn trace, void *ctx)
{
    host->trace = trace;
    host->trace_ctx = ctx;
}


void jy_host_log(jy_host *host, jy_log_level level, const jy_run *run,
                 const char *fmt, ...)
{
    if (host->log == NULL)
        return;

    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    host->log(host->log_ctx, level, run != NULL ? run->id : 0,
              run != NULL ? run->journey->name : NULL, message);
}


void jy__trace(jy_host *host, jy_trace_kind kind, const jy_run *run,
               const jy_event *event, const char *detail, jy_time deadline)
{
    if (host->trace == NULL)
        return;

    jy_trace trace = {
        .kind = kind,
        .at = jy_clock_now(host->clock),
        .run_id = run != NULL ? run->id : 0,
        .journey = run != NULL ? run->journey->name : NULL,
        .user = run != NULL ? run->user : NULL,
        .run_status = run != NULL ? (int)run->status : 0,
        .event = event,
        .detail = detail,
        .deadline = deadline,
    };
    host->trace(host->trace_ctx, &trace);
}


int jy_host_add_journey(jy_host *host, jy_journey *journey, jy_error *err)
{
    jy_journey *existing = jy_host_journey(host, journey->name);

    if (existing != NULL)
        return jy_error_set(err, JY_EEXIST,
                            "journey \"%s\" is already defined at %s; give each journey a unique name",
                            journey->name, existing->source);

    jy_journey **journeys = realloc(host->journeys,
                                    (host->journey_count + 1) * sizeof *journeys);
    if (journeys == NULL)
        return jy_error_set(err, JY_ENOMEM, "out of memory adding journey \"%s\"",
                            journey->name);
    journeys[host->journey_count++] = journey;
    host->journeys = journeys;
    return 0;
}


jy_journey *jy_host_journey(const jy_host *host, const char *name)
{
    for (size_t i = 0; i < host->journey_count; i++)
        if (strcmp(host->journeys[i]->name, name) == 0)
            return host->journeys[i];
    return NULL;
}


void jy_journey_free(jy_journey *journey)
{
    if (journey == NULL)
        return;

    for (size_t i = 0; i < journey->on_count; i++)
        free(journey->on[i]);
    for (size_t i = 0; i < journey->cancel_on_count; i++)
        free(journey->cancel_on[i]);
    free(journey->on);
    free(journey->cancel_on);
    free(journey->key_path);
    free(journey->source);
    free(journey->name);
    free(journey);
}


jy_time jy_host_now(const jy_host *host)
{
    return jy_clock_now(host->clock);
}


jy_run *jy_host_run(const jy_host *host, uint64_t id)
{
    return jy_map_get_id(&host->runs, id);
}


typedef struct each_run_ctx {
    void (*visit)(jy_run *run, void *ctx);
    void *ctx;
} each_run_ctx;


static void visit_run(const jy_map_entry *entry, void *ctx)
{
    each_run_ctx *each = ctx;
    each->visit(entry->value, each->ctx);
}


void jy_host_each_run(const jy_host *host,
                      void (*visit)(jy_run *run, void *ctx), void *ctx)
{
    each_run_ctx each = {visit, ctx};
    jy_map_each(&host->runs, visit_run, &each);
}


const char *jy_run_status_name(jy_run_status status)
{
    switch (status) {
    case JY_RUN_RUNNING: return "running";
    case JY_RUN_WAITING: return "waiting";
    case JY_RUN_SLEEPING: return "sleeping";
    case JY_RUN_COMPLETED: return "completed";
    case JY_RUN_FAILED: return "failed";
    case JY_RUN_CANCELLED: return "cancelled";
    }
    return "unknown";
}


int jy_run_status_is_live(jy_run_status status)
{
    return status == JY_RUN_RUNNING || status == JY_RUN_WAITING ||
           status == JY_RUN_SLEEPING;
}


char *jy__pair_key_in(const char *first, const char *second, char *buf, size_t buf_size,
                      size_t *len)
{
    size_t first_len = strlen(first);
    size_t second_len = strlen(second);
    size_t size = first_len + 1 + second_len + 1;
    char *text = size <= buf_size ? buf : malloc(size);

    if (text == NULL)
        return NULL;
    memcpy(text, first, first_len + 1);
    memcpy(text + first_len + 1, second, second_len + 1);
    *len = size - 1;
    return text;
}


void jy__key_release(char *key, const char *buf)
{
    if (key != buf)
        free(key);
}


char *jy__live_key_in(const char *journey, const char *user, const char *key, char *buf,
                      size_t buf_size, size_t *len)
{
    size_t journey_len = strlen(journey);
    size_t user_len = strlen(user);
    size_t key_len = strlen(key);
    size_t size = journey_len + 1 + user_len + 1 + key_len + 1;
    char *text = size <= buf_size ? buf : malloc(size);

    if (text == NULL)
        return NULL;
    memcpy(text, journey, journey_len + 1);
    memcpy(text + journey_len + 1, user, user_len + 1);
    memcpy(text + journey_len + 1 + user_len + 1, key, key_len + 1);
    *len = size - 1;
    return text;
}


char *jy__live_key(const char *journey, const char *user, const char *key, size_t *len)
{
    return jy__live_key_in(journey, user, key, NULL, 0, len);
}


size_t jy__live_key_length(const char *live_key)
{
    size_t journey_len = strlen(live_key);
    size_t user_len = strlen(live_key + journey_len + 1);
    return journey_len + 1 + user_len + 1 + strlen(live_key + journey_len + 1 + user_len + 1);
}
