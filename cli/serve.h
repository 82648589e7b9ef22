/*
 * journey serve: the daemon. serve.c owns the loop, the store, the
 * generations of scripts (a reload builds a new one) and the group
 * commit; serve_api.c handles the HTTP requests.
 */
#ifndef JOURNEY_CLI_SERVE_H
#define JOURNEY_CLI_SERVE_H

#include <stdint.h>

#include <lua.h>
#include <uv.h>

#include "buffer.h"
#include "http_server.h"
#include "lua_host.h"
#include "store_sqlite.h"

#define JY_COMMIT_BUCKETS 10

/* A response that waits for the commit of the events it acknowledges. */
typedef struct jy_pending_ack {
    struct jy_pending_ack *next;
    jy_http_response *response;
    char *body; /* JSON, sent with 200 once committed */
} jy_pending_ack;

typedef struct jy_rejections {
    uint64_t malformed_json;
    uint64_t invalid_event;
    uint64_t unsupported_media_type;
    uint64_t not_found;
    uint64_t method_not_allowed;
} jy_rejections;

typedef struct jy_server {
    uv_loop_t *loop;
    const char *scripts_dir;
    const char *store_path;
    jy_sqlite_sync sync;
    int json_logs;
    uint64_t instruction_budget;
    size_t memory_cap;
    uint32_t max_journal;

    jy_store *store; /* outlives every generation */
    lua_State *L;    /* the current generation's state */
    jy_lua_host *lh; /* the current generation's host */

    jy_http_server *http;
    uv_timer_t deadline_timer;
    uv_check_t commit_check;
    uv_idle_t commit_soon;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    uv_fs_event_t watch;
    uv_timer_t reload_timer;
    uv_timer_t retention_timer;
    int64_t retention_ms;    /* 0: keep everything */
    int watching;

    jy_pending_ack *acks_head;
    jy_pending_ack *acks_tail;
    int stopping;
    int exit_status;
    int deadline_fired; /* a deadline ran since the last commit */

    /* metrics */
    jy_host_stats earlier;   /* counters of the generations before this one */
    jy_rejections rejected;
    uint64_t events_accepted;
    uint64_t events_duplicate;
    uint64_t commits;
    uint64_t commit_buckets[JY_COMMIT_BUCKETS + 1]; /* last: +Inf */
    double commit_seconds_sum;
    uint64_t reloads;
    uint64_t reload_failures;
    uint64_t log_suppressed;
    uint64_t log_window_start;
    uint64_t log_window_count;
} jy_server;

/* The upper bounds of the commit latency histogram, in seconds. */
extern const double jy_commit_bucket_bounds[JY_COMMIT_BUCKETS];

/* Writes one log line: text or JSON, with the level and the message. */
void jy_server_log(jy_server *server, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs a warning through the rate limit of the host's log. */
void jy_server_note(jy_server *server, const char *message);

/* The HTTP handler (serve_api.c). */
void jy_server_handle(void *ctx, const jy_http_request *request, jy_http_response *response);

/* Queues a response until the next commit. Takes ownership of body. */
void jy_server_queue_ack(jy_server *server, jy_http_response *response, char *body);

/* Responds with a JSON error body {"error": message, "reason": reason}. */
void jy_server_error(jy_http_response *response, int status, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reloads every script: a new generation, swapped in only when every
 * script loads. Returns 0, or -1 with the old generation kept. */
int jy_server_reload(jy_server *server, const char *why);

#endif
