/*
 * journey serve: the daemon's loop, store, script generations, group
 * commit, signals and the reload watcher (see serve.h).
 */
#include "serve.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "cli.h"
#include "store_option.h"
#include "timefmt.h"

#define DEFAULT_LISTEN "127.0.0.1:8640"
#define RELOAD_DEBOUNCE_MS 200
#define LOG_LINES_PER_SECOND 20
#define RETENTION_INTERVAL_MS (60 * 1000)

const double jy_commit_bucket_bounds[JY_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
};

static const char serve_usage[] =
    "usage: journey serve SCRIPTS_DIR [options]\n"
    "\n"
    "Runs the journeys in SCRIPTS_DIR/*.lua on the real clock and takes events over\n"
    "HTTP. Scripts reload when they change, and on SIGHUP. SIGTERM and SIGINT stop\n"
    "the server after the last commit.\n"
    "\n"
    "options:\n"
    "  --store sqlite:PATH  the store (default: sqlite:journey.db)\n"
    "  --listen ADDR:PORT   where to listen (default: 127.0.0.1:8640)\n"
    "  --max-body BYTES     largest request body accepted (default: 1048576)\n"
    "  --sync LEVEL         SQLite synchronous level: full (default) or normal\n"
    "  --log-format FORMAT  text (default) or json\n"
    "  --retention D        delete ended runs and unreachable events older than D,\n"
    "                       checked every minute (default 90d; off keeps everything)\n"
    "  --instruction-budget N  Lua instructions a run may execute between two waits\n"
    "                       before it fails (default 100000000)\n"
    "  --memory-cap BYTES   memory of all Lua code together (default 4294967296)\n"
    "  --max-journal N      steps a run may journal before it fails (default 100000)\n";


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
        fprintf(stderr, "%s %s %s\n", when, level, message);
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
static void on_host_log(void *ctx, jy_log_level level, uint64_t run_id, const char *journey,
                        const char *message)
{
    jy_server *server = ctx;
    static const char *const levels[] = {"debug", "info", "warn", "error"};

    if (level == JY_LOG_DEBUG)
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
    on_host_log(server, JY_LOG_WARN, 0, NULL, message);
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
        jy_error_set(err, JY_EIO, "cannot read the scripts directory %s", dir);
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


/* Builds a generation: a new Lua state and host over the server's store,
 * with every script loaded. Nothing of the current generation changes. */
static int build_generation(jy_server *server, lua_State **out_L, jy_lua_host **out_lh,
                            size_t *script_count, jy_error *err)
{
    size_t count = 0;
    char **paths = list_scripts(server->scripts_dir, &count, err);
    if (paths == NULL && count == 0 && err->code != 0)
        return err->code;

    lua_State *L = jy_lua_new_state(server->memory_cap);
    if (L == NULL) {
        free_paths(paths, count);
        return jy_error_set(err, JY_ENOMEM, "out of memory creating a Lua state");
    }
    luaL_openlibs(L);
    luaL_requiref(L, "journey", luaopen_journey, 0);
    lua_pop(L, 1);

    jy_lua_host *lh = jy_lua_host_new(L, 0, 0, server->store);
    if (lh == NULL) {
        jy_lua_close_state(L);
        free_paths(paths, count);
        return jy_error_set(err, JY_ENOMEM, "out of memory creating the host");
    }
    lh->owns_store = 0;
    lh->host->keep_ended_runs = 0;
    lh->instruction_budget = server->instruction_budget;
    lh->host->max_journal = server->max_journal;
    jy_host_set_log(lh->host, on_host_log, server);

    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = jy_lua_host_load(lh, paths[i], err);
    free_paths(paths, count);
    if (rc != 0) {
        jy_lua_host_free(lh);
        jy_lua_close_state(L);
        return rc;
    }

    *out_L = L;
    *out_lh = lh;
    *script_count = count;
    return 0;
}


/* Sends every queued acknowledgement: 200 after a commit, 503 when the
 * commit failed. */
static void answer_acks(jy_server *server, int committed, const char *failure)
{
    while (server->acks_head != NULL) {
        jy_pending_ack *ack = server->acks_head;
        server->acks_head = ack->next;
        if (committed)
            jy_http_respond(ack->response, 200, "application/json", ack->body, strlen(ack->body));
        else
            jy_server_error(ack->response, 503, "commit_failed",
                            "the events were not stored: %s", failure);
        free(ack->body);
        free(ack);
    }
    server->acks_tail = NULL;
}


static void stop_server(jy_server *server, int status);


/* Ends the loop turn's transaction group: the events ingested, the steps
 * journaled and the runs changed in this turn become durable together,
 * and only then do their requests get a response. */
static void commit_turn(jy_server *server)
{
    jy_error err;
    jy_error_clear(&err);

    /* The clock goes with groups that wrote something, so journey show
     * can tell how far a deadline is; an idle turn writes nothing. */
    if (server->acks_head != NULL || server->deadline_fired) {
        char clock_text[32];
        snprintf(clock_text, sizeof clock_text, "%lld",
                 (long long)(server->lh != NULL ? jy_host_now(server->lh->host) : 0));
        if (server->lh != NULL)
            server->store->ops->meta_put(server->store, "clock", clock_text, &err);
        server->deadline_fired = 0;
    }

    uint64_t before = uv_hrtime();
    int rc = server->store->ops->commit(server->store, &err);
    double seconds = (double)(uv_hrtime() - before) / 1e9;

    if (rc != 0) {
        jy_server_log(server, "error", "commit failed, stopping: %s", err.message);
        answer_acks(server, 0, err.message);
        stop_server(server, 1);
        return;
    }
    if (server->acks_head != NULL || seconds > 0.00005) {
        size_t b = 0;
        while (b < JY_COMMIT_BUCKETS && seconds > jy_commit_bucket_bounds[b])
            b++;
        server->commit_buckets[b]++;
        server->commits++;
        server->commit_seconds_sum += seconds;
    }
    answer_acks(server, 1, NULL);
}


static void on_deadline(uv_timer_t *timer);


/* Arms the one loop timer for the earliest deadline of the host. */
static void arm_deadline_timer(jy_server *server)
{
    if (server->stopping || server->lh == NULL)
        return;
    jy_time next = jy_host_next_deadline(server->lh->host);
    if (next == JY_TIME_MAX) {
        uv_timer_stop(&server->deadline_timer);
        return;
    }
    jy_time now = jy_host_now(server->lh->host);
    uint64_t delay = next > now ? (uint64_t)(next - now) : 0;
    uv_timer_start(&server->deadline_timer, on_deadline, delay, 0);
}


static void on_idle(uv_idle_t *idle)
{
    (void)idle;
}


static void on_deadline(uv_timer_t *timer)
{
    jy_server *server = timer->data;
    if (server->lh == NULL)
        return;
    jy_host_advance_to(server->lh->host, jy_host_now(server->lh->host));
    server->deadline_fired = 1;
    /* The commit runs after the loop polls; an active idle handle makes
     * that poll return at once instead of waiting for the next event. */
    uv_idle_start(&server->commit_soon, on_idle);
}


/* After each loop turn: commit, then arm the timer for what is next. */
static void on_check(uv_check_t *check)
{
    jy_server *server = check->data;
    if (server->store == NULL)
        return;
    uv_idle_stop(&server->commit_soon);
    commit_turn(server);
    arm_deadline_timer(server);
}


int jy_server_reload(jy_server *server, const char *why)
{
    lua_State *L = NULL;
    jy_lua_host *lh = NULL;
    size_t scripts = 0;
    jy_error err;
    jy_error_clear(&err);

    if (build_generation(server, &L, &lh, &scripts, &err) != 0) {
        server->reload_failures++;
        jy_server_log(server, "error", "reload (%s) failed, the previous scripts stay in force: %s",
                      why, err.message);
        return -1;
    }

    /* Whatever the old generation did is committed first, so the dry run
     * and the new generation replay the same journals. */
    commit_turn(server);

    /* The dry run replays every live run against the new scripts in a
     * generation of its own that writes nothing, so the log can say what
     * the swap will do before it happens. */
    jy_host_recovery dry = {0, 0, 0};
    if (server->lh != NULL) {
        lua_State *dry_L = NULL;
        jy_lua_host *dry_lh = NULL;
        size_t dry_scripts = 0;
        jy_error dry_err;
        jy_error_clear(&dry_err);
        if (build_generation(server, &dry_L, &dry_lh, &dry_scripts, &dry_err) == 0) {
            dry_lh->host->dry_run = 1;
            jy_host_set_log(dry_lh->host, NULL, NULL);
            jy_host_recover(dry_lh->host, &dry, &dry_err);
            jy_lua_host_free(dry_lh);
            jy_lua_close_state(dry_L);
            jy_server_log(server, "info",
                          "reload (%s): dry run of %llu live runs against the new scripts: "
                          "%llu replay cleanly, %llu diverge and will be parked",
                          why, (unsigned long long)(dry.recovered + dry.orphaned),
                          (unsigned long long)(dry.recovered - dry.failed),
                          (unsigned long long)dry.failed);
        }
    }
    if (server->lh != NULL) {
        const jy_host_stats *old = &server->lh->host->stats;
        server->earlier.events_ingested += old->events_ingested;
        server->earlier.events_emitted += old->events_emitted;
        server->earlier.runs_started += old->runs_started;
        jy_lua_host_free(server->lh);
        jy_lua_close_state(server->L);
    }
    server->L = L;
    server->lh = lh;

    jy_host_recovery report;
    if (jy_host_recover(lh->host, &report, &err) != 0)
        jy_server_log(server, "error", "reload (%s): recovery failed: %s", why, err.message);
    jy_host_advance_to(lh->host, jy_host_now(lh->host));
    commit_turn(server);
    server->reloads++;
    jy_server_log(server, "info",
                  "reload (%s): %zu scripts, %zu journeys; %llu live runs moved by replay, "
                  "%llu parked as diverged, %llu of journeys no script defines",
                  why, scripts, lh->host->journey_count,
                  (unsigned long long)(report.recovered - report.failed),
                  (unsigned long long)report.failed, (unsigned long long)report.orphaned);
    arm_deadline_timer(server);
    return 0;
}


/* Deletes ended runs and unreachable events older than the retention;
 * the deletions commit with the next group. */
static void on_retention_timer(uv_timer_t *timer)
{
    jy_server *server = timer->data;
    if (server->lh == NULL || server->stopping)
        return;

    jy_time cutoff = jy_host_now(server->lh->host) - server->retention_ms;
    uint64_t runs = 0, events = 0;
    jy_error err;
    jy_error_clear(&err);
    if (server->store->ops->prune(server->store, cutoff, cutoff, &runs, &events, &err) != 0) {
        jy_server_log(server, "error", "retention failed: %s", err.message);
        return;
    }
    if (runs > 0 || events > 0)
        jy_server_log(server, "info", "retention deleted %llu ended runs and %llu events",
                      (unsigned long long)runs, (unsigned long long)events);
    server->deadline_fired = 1;
    uv_idle_start(&server->commit_soon, on_idle);
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


static void on_http_closed(void *ctx)
{
    jy_server *server = ctx;
    server->http = NULL;

    /* Nothing new arrives now: commit the last group and close. */
    commit_turn(server);
    if (server->lh != NULL) {
        jy_lua_host_free(server->lh);
        jy_lua_close_state(server->L);
        server->lh = NULL;
        server->L = NULL;
    }
    server->store->ops->destroy(server->store);
    server->store = NULL;

    uv_close((uv_handle_t *)&server->deadline_timer, NULL);
    uv_close((uv_handle_t *)&server->reload_timer, NULL);
    uv_close((uv_handle_t *)&server->retention_timer, NULL);
    uv_close((uv_handle_t *)&server->commit_check, NULL);
    uv_close((uv_handle_t *)&server->commit_soon, NULL);
    uv_close((uv_handle_t *)&server->sigterm, NULL);
    uv_close((uv_handle_t *)&server->sigint, NULL);
    uv_close((uv_handle_t *)&server->sighup, NULL);
    uv_close((uv_handle_t *)&server->watch, NULL);
    jy_server_log(server, "info", "stopped");
}


static void stop_server(jy_server *server, int status)
{
    if (server->stopping)
        return;
    server->stopping = 1;
    server->exit_status = status;
    uv_timer_stop(&server->deadline_timer);
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
    on_host_log(server, JY_LOG_WARN, 0, NULL, message);
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
    server.sync = JY_SQLITE_SYNC_FULL;
    server.instruction_budget = JY_DEFAULT_INSTRUCTION_BUDGET;
    server.memory_cap = JY_DEFAULT_MEMORY_CAP;
    server.max_journal = JY_DEFAULT_MAX_JOURNAL;
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
        if (value == NULL) {
            fprintf(stderr, "journey serve: %s needs a value\n\n%s", arg, serve_usage);
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
            if (jy_cli_parse_sync(value, &server.sync) != 0) {
                fprintf(stderr, "journey serve: invalid --sync \"%s\": use full or normal\n", value);
                return 2;
            }
        } else if (strcmp(arg, "--instruction-budget") == 0 ||
                   strcmp(arg, "--memory-cap") == 0 || strcmp(arg, "--max-journal") == 0) {
            unsigned long long n = 0;
            if (jy_cli_parse_limit(arg, value, &n) != 0) {
                fprintf(stderr, "journey serve: invalid %s \"%s\": give a whole number, 1 or "
                                "more\n", arg, value);
                return 2;
            }
            if (strcmp(arg, "--instruction-budget") == 0)
                server.instruction_budget = n;
            else if (strcmp(arg, "--memory-cap") == 0)
                server.memory_cap = (size_t)n;
            else
                server.max_journal = (uint32_t)n;
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
            fprintf(stderr, "journey serve: unknown option %s\n\n%s", arg, serve_usage);
            return 2;
        }
    }
    if (server.scripts_dir == NULL) {
        fprintf(stderr, "journey serve: give the directory of the journey scripts\n\n%s",
                serve_usage);
        return 2;
    }
    if (strncmp(store_spec, "sqlite:", 7) != 0 || store_spec[7] == '\0') {
        fprintf(stderr, "journey serve: invalid --store \"%s\": use sqlite:PATH\n", store_spec);
        return 2;
    }
    char address[128];
    int port = 0;
    if (parse_listen(listen, address, sizeof address, &port) != 0) {
        fprintf(stderr, "journey serve: invalid --listen \"%s\": use ADDRESS:PORT, such as "
                        "127.0.0.1:8640\n", listen);
        return 2;
    }

    server.loop = uv_default_loop();
    server.store_path = store_spec + 7;
    jy_error err;
    jy_error_clear(&err);
    server.store = jy_store_sqlite_open(server.store_path, server.sync, &err);
    if (server.store == NULL) {
        fprintf(stderr, "journey serve: %s\n", err.message);
        return 1;
    }

    /* Every handle exists from here on, so stopping can close them all. */
    uv_timer_init(server.loop, &server.deadline_timer);
    uv_timer_init(server.loop, &server.reload_timer);
    uv_timer_init(server.loop, &server.retention_timer);
    uv_check_init(server.loop, &server.commit_check);
    uv_idle_init(server.loop, &server.commit_soon);
    uv_signal_init(server.loop, &server.sigterm);
    uv_signal_init(server.loop, &server.sigint);
    uv_signal_init(server.loop, &server.sighup);
    uv_fs_event_init(server.loop, &server.watch);
    server.deadline_timer.data = &server;
    server.reload_timer.data = &server;
    server.retention_timer.data = &server;
    server.commit_check.data = &server;
    server.sigterm.data = server.sigint.data = server.sighup.data = &server;
    server.watch.data = &server;
    uv_check_start(&server.commit_check, on_check);

    if (jy_server_reload(&server, "start") != 0) {
        /* At start there is no previous version to keep serving. */
        fprintf(stderr, "journey serve: the scripts in %s do not load; fix them and start "
                        "again\n", server.scripts_dir);
        server.exit_status = 1;
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

    if (jy_http_server_start(server.loop, address, port, &options, jy_server_handle, on_http_log,
                             &server, &server.http, &err) != 0) {
        fprintf(stderr, "journey serve: %s\n", err.message);
        stop_server(&server, 1);
        uv_run(server.loop, UV_RUN_DEFAULT);
        uv_loop_close(server.loop);
        return 1;
    }
    if (server.retention_ms > 0)
        uv_timer_start(&server.retention_timer, on_retention_timer, RETENTION_INTERVAL_MS,
                       RETENTION_INTERVAL_MS);
    jy_server_log(&server, "info", "started: listening on %s:%d, scripts %s, store %s",
                  address, jy_http_server_port(server.http), server.scripts_dir,
                  server.store_path);

    uv_run(server.loop, UV_RUN_DEFAULT);
    uv_loop_close(server.loop);
    return server.exit_status;
}
