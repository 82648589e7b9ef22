/*
 * journey serve: the daemon. serve.c owns the loop, the libjourney host
 * (store, scripts, group commit), signals and the reload watcher;
 * serve_api.c handles the HTTP requests.
 */
#ifndef JOURNEY_CLI_SERVE_H
#define JOURNEY_CLI_SERVE_H

#include <stdint.h>

#include <uv.h>

#include "journey.h"

#include "buffer.h"
#include "http_server.h"

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
    const char *store_path;  /* the SQLite file, NULL with the memory store */
    int json_logs;

    journey_host *host;

    jy_http_server *http;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    uv_fs_event_t watch;
    uv_timer_t reload_timer;
    uv_timer_t retention_timer;
    int64_t retention_ms;    /* 0: keep everything */
    int watching;

    int stopping;
    int exit_status;

    /* metrics of the HTTP API; the host counts the rest */
    jy_rejections rejected;
    uint64_t events_accepted;
    uint64_t log_suppressed;
    uint64_t log_window_start;
    uint64_t log_window_count;
} jy_server;

/* Writes one log line: text or JSON, with the level and the message. */
void jy_server_log(jy_server *server, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs a warning through the rate limit of the host's log. */
void jy_server_note(jy_server *server, const char *message);

/* The HTTP handler (serve_api.c). */
void jy_server_handle(void *ctx, const jy_http_request *request, jy_http_response *response);

/* Responds with a JSON error body {"error": message, "reason": reason}. */
void jy_server_error(jy_http_response *response, int status, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reloads every script of the scripts directory after a dry run that
 * logs what the reload will do. Returns 0, or -1 with the old scripts
 * kept. */
int jy_server_reload(jy_server *server, const char *why);

#endif
