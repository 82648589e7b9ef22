/*
 * journey serve: the daemon's loop, its libjourney host, signals, the
 * reload watcher and retention (see serve.h). The host commits each
 * loop turn's work and then fires the ingest callbacks, which send the
 * responses.
 */
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "duration.h"
#include "option_hint.h"
#include "store_option.h"
#include "timefmt.h"
#include "usage_error.h"

#define DEFAULT_LISTEN "127.0.0.1:8640"
#define RELOAD_DEBOUNCE_MS 200
#define LOG_LINES_PER_SECOND 20
#define RETENTION_INTERVAL_MS (60 * 1000)

static const char serve_usage[] =
    "usage: journey serve SCRIPTS_DIR [options]\n"
    "\n"
    "Runs the journeys in SCRIPTS_DIR/*.lua on the real clock and takes events over\n"
    "HTTP. Scripts reload when they change, and on SIGHUP. SIGTERM and SIGINT stop\n"
    "the server after the last commit.\n"
    "\n"
    "options:\n"
    "  --store SPEC         sqlite:PATH (default: sqlite:journey.db), or memory,\n"
    "                       which keeps nothing across a restart\n"
    "  --listen ADDR:PORT   where to listen (default: 127.0.0.1:8640)\n"
    "  --max-body BYTES     largest request body accepted (default: 1048576)\n"
    "  --sync LEVEL         SQLite synchronous level: full (default) or normal\n"
    "  --log-format FORMAT  text (default) or json\n"
    "  --retention D        delete ended runs and unreachable events older than D,\n"
    "                       checked at start and every minute (default 90d; off keeps\n"
    "                       everything)\n"
    "  --instruction-budget N  Lua instructions a run may execute between two waits\n"
    "                       before it fails (default 100000000)\n"
    "  --memory-cap BYTES   memory of all Lua code together (default 4294967296)\n"
    "  --max-journal N      steps a run may journal before it fails (default 100000)\n"
    "  --resident-runs N    keep the Lua coroutines of at most N suspended runs; the\n"
    "                       others are rebuilt from their journals when they wake\n"
    "                       (default: every run keeps its coroutine)\n";


void jy_server_log(jy_server *server, const char *level, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char when[JY_TIME_TEXT_SIZE];
    jy_time_format((jy_time)now.tv_sec * 1000 + now.tv_nsec / 1000000, when);

    if (!server->json_logs) {
        /* One entry per line: a newline from a request path or a run's
         * traceback is written as \n, so a log reader cannot take its
         * rest for an entry of its own. */
        jy_buf text;
        jy_buf_init(&text);
        for (const unsigned char *p = (const unsigned char *)message; *p != '\0'; p++) {
            if (*p == '\n')
                jy_buf_append_str(&text, "\\n");
            else if (*p == '\t')
                jy_buf_append_str(&text, "\\t");
            else if (*p < 0x20 || *p == 0x7f)
                jy_buf_printf(&text, "\\x%02x", *p);
            else
                jy_buf_append(&text, p, 1);
        }
        if (!jy_buf_failed(&text))
            fprintf(stderr, "%s %s %s\n", when, level, text.data);
        jy_buf_free(&text);
        return;
    }
    jy_buf line;
    jy_buf_init(&line);
    jy_buf_append_str(&line, "{\"time\":");
    jy_buf_append_json_string(&line, when);
    jy_buf_append_str(&line, ",\"level\":");
    jy_buf_append_json_string(&line, level);
    jy_buf_append_str(&line, ",\"message\":");
    jy_buf_append_json_string(&line, message);
    jy_buf_append_str(&line, "}\n");
    if (!jy_buf_failed(&line))
        fputs(line.data, stderr);
    jy_buf_free(&line);
}


/* The host's diagnostics, j.log and print. Warnings and errors are
 * rate-limited, because one broken journey can fail every run of it. */
static void on_host_log(void *ctx, int level, uint64_t run_id, const char *journey,
                        const char *message)
{
    jy_server *server = ctx;
    static const char *const levels[] = {"debug", "info", "warn", "error"};

    if (level <= 0 || level > 3)
        return;
    uint64_t second = uv_now(server->loop) / 1000;
    if (second != server->log_window_start) {
        if (server->log_suppressed > 0)
            jy_server_log(server, "warn", "%llu log lines were suppressed in the last second",
                          (unsigned long long)server->log_suppressed);
        server->log_window_start = second;
        server->log_window_count = 0;
        server->log_suppressed = 0;
    }
    if (++server->log_window_count > LOG_LINES_PER_SECOND) {
        server->log_suppressed++;
        return;
    }
    if (run_id != 0)
        jy_server_log(server, levels[level], "run %llu of %s: %s", (unsigned long long)run_id,
                      journey, message);
    else
        jy_server_log(server, levels[level], "%s", message);
}


void jy_server_note(jy_server *server, const char *message)
{
    on_host_log(server, 2, 0, NULL, message);
}


static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Lists the .lua files of SCRIPTS_DIR, sorted, into a malloc'd array of malloc'd
 * paths. */
static char **list_scripts(const char *dir, size_t *count, jy_error *err)
{
    DIR *d = opendir(dir);
    *count = 0;
    if (d == NULL) {
        jy_error_set(err, JY_EIO, "cannot read the scripts directory %s: %s%s", dir,
                     strerror(errno), errno == ENOENT ? "; create it, or give the directory "
                                                        "that holds the .lua files" : "");
        return NULL;
    }

    char **paths = NULL;
    size_t capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 4, ".lua") != 0 || entry->d_name[0] == '.')
            continue;
        if (*count == capacity) {
            capacity = capacity == 0 ? 16 : capacity * 2;
            char **grown = realloc(paths, capacity * sizeof *grown);
            if (grown == NULL)
                break;
            paths = grown;
        }
        jy_buf path;
        jy_buf_init(&path);
        jy_buf_printf(&path, "%s/%s", dir, entry->d_name);
        char *text = jy_buf_take(&path);
        if (text != NULL)
            paths[(*count)++] = text;
    }
    closedir(d);
    if (*count > 1)
        qsort(paths, *count, sizeof *paths, compare_names);
    return paths;
}


static void free_paths(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}


static void stop_server(jy_server *server, int status);


/* A failed commit breaks the promise behind every acknowledgement, so
 * the server stops instead of accepting events it cannot store. */
static void on_store_failed(void *ctx, const char *message)
{
    jy_server *server = ctx;
    jy_server_log(server, "error", "commit failed, stopping: %s", message);
    stop_server(server, 1);
}


/* Logs what the last start or reload did to the live runs. */
static void log_replay(jy_server *server, const char *why)
{
    journey_replay_report report;
    journey_last_replay(server->host, &report);
    jy_server_log(server, "info",
                  "reload (%s): %zu scripts, %zu journeys; %llu live runs moved by replay, "
                  "%llu parked as diverged, %llu of journeys no script defines",
                  why, report.scripts, report.journeys,
                  (unsigned long long)(report.replayed - report.diverged),
                  (unsigned long long)report.diverged, (unsigned long long)report.orphaned);
}


/* Loads every script of the scripts directory into host. Returns 0, or
 * -1 after logging the reason as a failed start. */
static int load_scripts(jy_server *server, journey_host *host)
{
    jy_error err;
    jy_error_clear(&err);
    size_t count = 0;
    char **paths = list_scripts(server->scripts_dir, &count, &err);
    if (paths == NULL && count == 0 && err.code != 0) {
        jy_server_log(server, "error", "reload (start) failed: %s", err.message);
        return -1;
    }

    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (journey_load(host, paths[i]) != JOURNEY_OK) {
            jy_server_log(server, "error", "reload (start) failed: %s", journey_error(host));
            rc = -1;
        }
    }
    free_paths(paths, count);
    return rc;
}


/* Loads every script of the directory and starts the host: live runs
 * are replayed and passed deadlines fire. */
static int start_host(jy_server *server)
{
    if (load_scripts(server, server->host) != 0)
        return -1;

    /* Before the start this only sets the window of reads that reach
     * back, which the restored waits of the start read within. */
    if (server->retention_ms > 0)
        journey_prune(server->host, server->retention_ms, NULL, NULL);
    if (journey_start(server->host) != JOURNEY_OK) {
        jy_server_log(server, "error", "start failed: %s", journey_error(server->host));
        return -1;
    }
    log_replay(server, "start");
    return 0;
}


/* Loads the scripts into a host of their own, on the memory store and
 * its own loop, and frees it. The server's store opens only after this,
 * so that scripts that do not load leave no store file behind. Their
 * top-level code runs here once more, as it does at every reload.
 * Returns 0; -1 after logging the reason as a failed start does; or -2
 * after printing why no host can be made. */
static int check_scripts(jy_server *server, const journey_config *server_config)
{
    journey_config config;
    journey_config_init(&config);
    config.clock = JOURNEY_CLOCK_VIRTUAL;
    config.instruction_budget = server_config->instruction_budget;
    config.memory_cap = server_config->memory_cap;
    config.max_journal = server_config->max_journal;

    /* A host that cannot be made here (a memory cap too small for a
     * Lua state, for example) cannot be made for the server either, so
     * report it before the port and the store are taken. */
    journey_host *host = NULL;
    char error[1024];
    if (journey_host_new(&config, &host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "journey serve: %s\n", error);
        return -2;
    }

    int rc = load_scripts(server, host);
    journey_host_close(host, NULL, NULL);
    return rc;
}


int jy_server_reload(jy_server *server, const char *why)
{
    jy_error err;
    jy_error_clear(&err);
    size_t count = 0;
    char **paths = list_scripts(server->scripts_dir, &count, &err);
    if (paths == NULL && count == 0 && err.code != 0) {
        jy_server_log(server, "error", "reload (%s) failed, the previous scripts stay in force: "
                                       "%s", why, err.message);
        return -1;
    }
    const char *const *list = (const char *const *)paths;

    /* The dry run replays every live run against the new scripts in a
     * state of its own that writes nothing, so the log shows what the
     * swap will do before it happens. A script that does not load is
     * reported by the reload itself. */
    journey_replay_report dry;
    if (journey_dry_run(server->host, list, count, &dry) == JOURNEY_OK)
        jy_server_log(server, "info",
                      "reload (%s): dry run of %llu live runs against the new scripts: "
                      "%llu replay cleanly, %llu diverge and will be parked",
                      why, (unsigned long long)(dry.replayed + dry.orphaned),
                      (unsigned long long)(dry.replayed - dry.diverged),
                      (unsigned long long)dry.diverged);

    int rc = journey_reload_scripts(server->host, list, count);
    free_paths(paths, count);
    if (rc != JOURNEY_OK && rc != JOURNEY_EDIVERGED) {
        jy_server_log(server, "error", "reload (%s): %s", why, journey_error(server->host));
        return -1;
    }
    log_replay(server, why);
    return 0;
}


/* Deletes ended runs and unreachable events older than the retention;
 * the deletions commit with the next group. */
static void on_retention_timer(uv_timer_t *timer)
{
    jy_server *server = timer->data;
    if (server->stopping)
        return;

    uint64_t runs = 0, events = 0;
    if (journey_prune(server->host, server->retention_ms, &runs, &events) != JOURNEY_OK) {
        jy_server_log(server, "error", "%s", journey_error(server->host));
        return;
    }
    if (runs > 0 || events > 0)
        jy_server_log(server, "info", "retention deleted %llu ended runs and %llu events",
                      (unsigned long long)runs, (unsigned long long)events);
}


static void on_reload_timer(uv_timer_t *timer)
{
    jy_server *server = timer->data;
    jy_server_reload(server, "scripts changed");
}


static void on_watch(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    (void)events;
    jy_server *server = handle->data;
    if (status < 0 || server->stopping)
        return;
    if (filename != NULL) {
        size_t len = strlen(filename);
        if (len < 4 || strcmp(filename + len - 4, ".lua") != 0)
            return;
    }
    /* Editors write a file in several steps; reload once they are done. */
    uv_timer_start(&server->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}


static void on_host_closed(void *ctx)
{
    jy_server *server = ctx;
    server->host = NULL;

    uv_close((uv_handle_t *)&server->reload_timer, NULL);
    uv_close((uv_handle_t *)&server->retention_timer, NULL);
    uv_close((uv_handle_t *)&server->sigterm, NULL);
    uv_close((uv_handle_t *)&server->sigint, NULL);
    uv_close((uv_handle_t *)&server->sighup, NULL);
    uv_close((uv_handle_t *)&server->watch, NULL);
    jy_server_log(server, "info", "stopped");
}


static void on_http_closed(void *ctx)
{
    jy_server *server = ctx;
    server->http = NULL;

    /* Nothing new arrives now: the host commits the last group, fires
     * the callbacks of the requests that wait for it, and closes the
     * store. */
    if (server->host != NULL && server->store_path == NULL && journey_live_runs(server->host) > 0)
        jy_server_log(server, "warn", "%llu live runs end here: the memory store keeps nothing "
                                      "across a restart",
                      (unsigned long long)journey_live_runs(server->host));
    if (server->host != NULL)
        journey_host_close(server->host, on_host_closed, server);
    else
        on_host_closed(server);
}


static void stop_server(jy_server *server, int status)
{
    if (server->stopping)
        return;
    server->stopping = 1;
    server->exit_status = status;
    uv_timer_stop(&server->reload_timer);
    uv_timer_stop(&server->retention_timer);
    if (server->watching)
        uv_fs_event_stop(&server->watch);
    if (server->http != NULL)
        jy_http_server_close(server->http, on_http_closed, server);
    else
        on_http_closed(server);
}


static void on_signal(uv_signal_t *handle, int signum)
{
    jy_server *server = handle->data;
    if (signum == SIGHUP) {
        jy_server_reload(server, "SIGHUP");
        return;
    }
    jy_server_log(server, "info", "received %s, stopping after the last commit",
                  signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_server(server, 0);
}


static void on_http_log(void *ctx, const char *message)
{
    jy_server *server = ctx;
    on_host_log(server, 2, 0, NULL, message);
}


/* Splits "ADDR:PORT" (IPv6 as "[::1]:PORT") into address and port. */
static int parse_listen(const char *text, char *address, size_t size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return -1;
    const char *start = text;
    size_t len = (size_t)(colon - text);
    if (text[0] == '[' && colon[-1] == ']') {
        start++;
        len -= 2;
    }
    if (len == 0 || len >= size)
        return -1;
    memcpy(address, start, len);
    address[len] = '\0';
    char *end = NULL;
    long value = strtol(colon + 1, &end, 10);
    if (*end != '\0' || value < 0 || value > 65535)
        return -1;
    *port = (int)value;
    return 0;
}


int jy_cli_serve(int argc, char **argv)
{
    jy_server server;
    memset(&server, 0, sizeof server);
    const char *store_spec = "sqlite:journey.db";
    const char *listen = DEFAULT_LISTEN;
    jy_http_options options;
    jy_http_options_init(&options);
    journey_config config;
    journey_config_init(&config);
    server.retention_ms = 90LL * 24 * 3600 * 1000;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(serve_usage, stdout);
            return 0;
        }
        if (arg[0] != '-' && server.scripts_dir == NULL) {
            server.scripts_dir = arg;
            continue;
        }
        if (arg[0] != '-') {
            jy_cli_usage_error("serve", "unexpected argument \"%s\" after the scripts "
                                        "directory \"%s\"", arg, server.scripts_dir);
            return 2;
        }
        static const char *const known[] = {
            "--store", "--listen", "--max-body", "--sync", "--instruction-budget",
            "--memory-cap", "--max-journal", "--resident-runs", "--retention", "--log-format",
            NULL};
        if (!jy_cli_is_one_of(arg, known)) {
            jy_cli_unknown_option("serve", arg, serve_usage);
            return 2;
        }
        if (value == NULL) {
            jy_cli_usage_error("serve", "%s needs a value", arg);
            return 2;
        }
        i++;
        if (strcmp(arg, "--store") == 0) {
            store_spec = value;
        } else if (strcmp(arg, "--listen") == 0) {
            listen = value;
        } else if (strcmp(arg, "--max-body") == 0) {
            char *end = NULL;
            long long bytes = strtoll(value, &end, 10);
            if (*end != '\0' || bytes < 1) {
                fprintf(stderr, "journey serve: invalid --max-body \"%s\": give a number of "
                                "bytes\n", value);
                return 2;
            }
            options.max_body = (size_t)bytes;
        } else if (strcmp(arg, "--sync") == 0) {
            if (jy_cli_parse_sync(value, &config.sync_normal) != 0) {
                fprintf(stderr, "journey serve: invalid --sync \"%s\": use full or normal\n", value);
                return 2;
            }
        } else if (strcmp(arg, "--instruction-budget") == 0 ||
                   strcmp(arg, "--memory-cap") == 0 || strcmp(arg, "--max-journal") == 0 ||
                   strcmp(arg, "--resident-runs") == 0) {
            unsigned long long n = 0;
            if (jy_cli_parse_limit(arg, value, &n) != 0) {
                fprintf(stderr, "journey serve: invalid %s \"%s\": give a whole number, %s\n",
                        arg, value, jy_cli_limit_range(arg));
                return 2;
            }
            if (strcmp(arg, "--instruction-budget") == 0)
                config.instruction_budget = n;
            else if (strcmp(arg, "--memory-cap") == 0)
                config.memory_cap = (size_t)n;
            else if (strcmp(arg, "--resident-runs") == 0)
                config.resident_runs = (size_t)n;
            else
                config.max_journal = (uint32_t)n;
        } else if (strcmp(arg, "--retention") == 0) {
            if (strcmp(value, "off") == 0) {
                server.retention_ms = 0;
            } else {
                jy_duration d;
                jy_error derr;
                if (jy_duration_parse(value, strlen(value), &d, &derr) != 0 || d.months != 0 ||
                    d.ms == 0) {
                    fprintf(stderr, "journey serve: invalid --retention \"%s\": give a "
                                    "duration such as 90d, or off\n", value);
                    return 2;
                }
                server.retention_ms = d.ms;
            }
        } else if (strcmp(arg, "--log-format") == 0) {
            if (strcmp(value, "json") != 0 && strcmp(value, "text") != 0) {
                fprintf(stderr, "journey serve: invalid --log-format \"%s\": use text or json\n",
                        value);
                return 2;
            }
            server.json_logs = strcmp(value, "json") == 0;
        } else {
            jy_cli_unknown_option("serve", arg, serve_usage);
            return 2;
        }
    }
    if (server.scripts_dir == NULL) {
        jy_cli_usage_error("serve", "give the directory of the journey scripts");
        return 2;
    }

    /* Checked before the store opens, so a mistyped directory leaves no
     * store file behind. */
    jy_error dir_err;
    jy_error_clear(&dir_err);
    size_t script_count = 0;
    char **script_paths = list_scripts(server.scripts_dir, &script_count, &dir_err);
    if (script_paths == NULL && script_count == 0 && dir_err.code != 0) {
        fprintf(stderr, "journey serve: %s\n", dir_err.message);
        return 1;
    }
    free_paths(script_paths, script_count);

    int memory_store = strcmp(store_spec, "memory") == 0;
    if (!memory_store && (strncmp(store_spec, "sqlite:", 7) != 0 || store_spec[7] == '\0')) {
        fprintf(stderr, "journey serve: invalid --store \"%s\": use sqlite:PATH or memory\n",
                store_spec);
        return 2;
    }
    char address[128];
    int port = 0;
    if (parse_listen(listen, address, sizeof address, &port) != 0) {
        fprintf(stderr, "journey serve: invalid --listen \"%s\": use ADDRESS:PORT, such as "
                        "127.0.0.1:8640\n", listen);
        return 2;
    }

    /* The scripts too are checked before the port and the store, so
     * that scripts that do not load leave no store file behind. */
    int checked = check_scripts(&server, &config);
    if (checked == -1)
        fprintf(stderr, "journey serve: the scripts in %s do not load (the line above names "
                        "the file and line); fix them and start again\n", server.scripts_dir);
    if (checked != 0)
        return 1;

    server.loop = uv_default_loop();
    /* NULL for the memory store, whose runs only the host can show. */
    server.store_path = memory_store ? NULL : store_spec + 7;
    config.loop = server.loop;
    config.store = store_spec;
    config.log = on_host_log;
    config.log_ctx = &server;
    config.store_failed = on_store_failed;
    config.store_failed_ctx = &server;
    /* The port is taken before the store opens, so a port in use leaves
     * no store file behind. Nothing is served before the loop runs, and
     * by then the host is started. */
    jy_error err;
    jy_error_clear(&err);
    if (jy_http_server_start(server.loop, address, port, &options, jy_server_handle, on_http_log,
                             &server, &server.http, &err) != 0) {
        fprintf(stderr, "journey serve: %s\n", err.message);
        uv_run(server.loop, UV_RUN_DEFAULT);
        uv_loop_close(server.loop);
        return 1;
    }

    char error[1024];
    if (journey_host_new(&config, &server.host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "journey serve: %s\n", error);
        jy_http_server_close(server.http, NULL, NULL);
        uv_run(server.loop, UV_RUN_DEFAULT);
        uv_loop_close(server.loop);
        return 1;
    }

    /* Every handle exists from here on, so stopping can close them all. */
    uv_timer_init(server.loop, &server.reload_timer);
    uv_timer_init(server.loop, &server.retention_timer);
    uv_signal_init(server.loop, &server.sigterm);
    uv_signal_init(server.loop, &server.sigint);
    uv_signal_init(server.loop, &server.sighup);
    uv_fs_event_init(server.loop, &server.watch);
    server.reload_timer.data = &server;
    server.retention_timer.data = &server;
    server.sigterm.data = server.sigint.data = server.sighup.data = &server;
    server.watch.data = &server;

    if (start_host(&server) != 0) {
        /* At start there is no previous version to keep serving. */
        fprintf(stderr, "journey serve: the scripts in %s do not load (the line above names "
                        "the file and line); fix them and start again\n", server.scripts_dir);
        stop_server(&server, 1);
        uv_run(server.loop, UV_RUN_DEFAULT);
        uv_loop_close(server.loop);
        return 1;
    }

    uv_signal_start(&server.sigterm, on_signal, SIGTERM);
    uv_signal_start(&server.sigint, on_signal, SIGINT);
    uv_signal_start(&server.sighup, on_signal, SIGHUP);

    if (uv_fs_event_start(&server.watch, on_watch, server.scripts_dir, 0) == 0)
        server.watching = 1;
    else
        jy_server_log(&server, "warn", "cannot watch %s; reload with SIGHUP", server.scripts_dir);

    /* The first prune runs at once: it also sets how far back runs read
     * (see journey_prune). */
    if (server.retention_ms > 0)
        uv_timer_start(&server.retention_timer, on_retention_timer, 0, RETENTION_INTERVAL_MS);
    char resident[96] = "";
    if (config.resident_runs > 0)
        snprintf(resident, sizeof resident, ", coroutines of at most %zu suspended runs kept",
                 config.resident_runs);
    jy_server_log(&server, "info", "started: listening on %s:%d, scripts %s, store %s%s",
                  address, jy_http_server_port(server.http), server.scripts_dir,
                  memory_store ? "memory (nothing survives a restart)" : server.store_path,
                  resident);

    uv_run(server.loop, UV_RUN_DEFAULT);
    uv_loop_close(server.loop);
    return server.exit_status;
}
