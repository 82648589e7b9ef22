/*
 * The HTTP API of journey serve: POST /events, GET /runs, GET
 * /runs/{id}, GET /healthz and GET /metrics (see docs/http-api.md).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <sqlite3.h>

#include "serve.h"
#include "timefmt.h"

/* Events may not claim a time further ahead than this. A clock that far
 * off is a bug in the sender, and such an event would sit unseen. */
#define MAX_FUTURE_MS (24LL * 3600 * 1000)
#define MAX_EVENTS_PER_REQUEST 10000
#define DEFAULT_PAGE 50
#define MAX_PAGE 1000


void jy_server_error(jy_http_response *response, int status, const char *reason,
                     const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    jy_buf body;
    jy_buf_init(&body);
    jy_buf_append_str(&body, "{\"error\":");
    jy_buf_append_json_string(&body, message);
    jy_buf_append_str(&body, ",\"reason\":");
    jy_buf_append_json_string(&body, reason);
    jy_buf_append_str(&body, "}\n");
    if (jy_buf_failed(&body))
        jy_http_respond(response, status, "application/json", "{}\n", 3);
    else
        jy_http_respond(response, status, "application/json", body.data, body.len);
    jy_buf_free(&body);
}


/* Responds to a request the API rejects, and logs one line for it (the
 * server's log rate-limits them). */
static void reject(jy_server *server, const jy_http_request *request,
                   jy_http_response *response, int status, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void reject(jy_server *server, const jy_http_request *request,
                   jy_http_response *response, int status, const char *reason,
                   const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    char line[1400];
    snprintf(line, sizeof line, "rejected %s %s from %s: %d %s: %s", request->method,
             request->path, request->peer != NULL ? request->peer : "?", status, reason, message);
    jy_server_note(server, line);
    jy_server_error(response, status, reason, "%s", message);
}


void jy_server_queue_ack(jy_server *server, jy_http_response *response, char *body)
{
    jy_pending_ack *ack = malloc(sizeof *ack);
    if (ack == NULL) {
        free(body);
        jy_server_error(response, 503, "out_of_memory", "out of memory queueing the response");
        return;
    }
    ack->response = response;
    ack->body = body;
    ack->next = NULL;
    if (server->acks_tail != NULL)
        server->acks_tail->next = ack;
    else
        server->acks_head = ack;
    server->acks_tail = ack;
}


static int is_json_content_type(const char *value)
{
    if (value == NULL)
        return 0;
    const char *type = "application/json";
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0)
        return 0;
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}


typedef struct parsed_events {
    jy_event **items;
    size_t count;
} parsed_events;


static void free_parsed(parsed_events *parsed)
{
    for (size_t i = 0; i < parsed->count; i++)
        jy_event_free(parsed->items[i]);
    free(parsed->items);
    parsed->items = NULL;
    parsed->count = 0;
}


/* Decodes the body (an event or an array of events) and pushes the
 * JSON text of each event in a Lua array. [-0, +1, e] */
static int split_body(lua_State *L)
{
    const char *body = lua_touserdata(L, 1);
    jy_lua_json_decode(L, body);                  /* stack: ud, value */
    if (!lua_istable(L, -1))
        return luaL_error(L, "the body must be a JSON object or an array of objects");

    size_t n = lua_rawlen(L, -1);
    lua_newtable(L);                              /* stack: ud, value, texts */
    if (n == 0 && body[strspn(body, " \t\r\n")] == '[') {
        lua_pushliteral(L, "too_many_events:the array holds no events; send at least one");
        return lua_error(L);
    }
    if (n == 0) {
        /* One object: the reader checks it as sent. */
        lua_pushstring(L, body);
        lua_rawseti(L, -2, 1);
        return 1;
    }
    if (n > MAX_EVENTS_PER_REQUEST) {
        lua_pushfstring(L, "too_many_events:the array holds %d events; send at most %d per "
                           "request", (int)n, MAX_EVENTS_PER_REQUEST);
        return lua_error(L);
    }
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i);       /* stack: ..., texts, item */
        char *json = jy_lua_json_encode(L, -1);
        if (json == NULL)
            return luaL_error(L, "event %d cannot be read: %s", (int)i - 1, lua_tostring(L, -1));
        lua_pushstring(L, json);
        free(json);
        lua_rawseti(L, -3, (lua_Integer)i);
        lua_pop(L, 1);
    }
    return 1;
}


static void handle_post_events(jy_server *server, const jy_http_request *request,
                               jy_http_response *response)
{
    if (!is_json_content_type(request->content_type)) {
        server->rejected.unsupported_media_type++;
        reject(server, request, response, 415, "unsupported_media_type",
                        "Content-Type must be application/json, got %s",
                        request->content_type != NULL ? request->content_type : "none");
        return;
    }

    lua_State *L = server->lh->L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, split_body);
    lua_pushlightuserdata(L, (void *)request->body);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        server->rejected.malformed_json++;
        const char *message = lua_tostring(L, -1);
        const char *prefix = "invalid JSON in stored data: ";
        const char *count_prefix = "too_many_events:";
        if (message != NULL && strncmp(message, count_prefix, strlen(count_prefix)) == 0) {
            server->rejected.invalid_event++;
            reject(server, request, response, 422, "invalid_event_count", "%s",
                   message + strlen(count_prefix));
            lua_settop(L, top);
            return;
        }
        if (message != NULL && strncmp(message, prefix, strlen(prefix)) == 0) {
            char plain[600];
            jy_lua_plain_json_error(message + strlen(prefix), plain, sizeof plain);
            reject(server, request, response, 400, "malformed_json", "invalid JSON: %s", plain);
        } else {
            reject(server, request, response, 400, "malformed_json", "%s",
                   message != NULL ? message : "invalid body");
        }
        lua_settop(L, top);
        return;
    }                                               /* stack: texts */

    /* Every event is checked before any is stored, so a request is taken
     * whole or not at all. */
    size_t n = lua_rawlen(L, -1);
    parsed_events parsed = {calloc(n > 0 ? n : 1, sizeof(jy_event *)), 0};
    jy_time now = jy_host_now(server->lh->host);
    for (size_t i = 0; i < n && parsed.items != NULL; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        size_t len = 0;
        const char *text = lua_tolstring(L, -1, &len);
        jy_error err;
        jy_error_clear(&err);
        jy_event *event = jy_lua_parse_event(server->lh, text, len, 0, now, &err);
        lua_pop(L, 1);
        if (event == NULL || event->ts > now + MAX_FUTURE_MS) {
            server->rejected.invalid_event++;
            if (event != NULL)
                reject(server, request, response, 422, "invalid_event",
                                "event %zu: \"ts\" is more than 24 hours in the future; check "
                                "the sender's clock", i);
            else
                reject(server, request, response, 422, "invalid_event", "event %zu: %s", i,
                                err.message);
            jy_event_free(event);
            free_parsed(&parsed);
            lua_settop(L, top);
            return;
        }
        parsed.items[parsed.count++] = event;
    }
    lua_settop(L, top);
    if (parsed.items == NULL) {
        jy_server_error(response, 503, "out_of_memory", "out of memory reading the events");
        return;
    }

    jy_buf body;
    jy_buf_init(&body);
    jy_buf_append_str(&body, "{\"events\":[");
    size_t accepted = 0, duplicates = 0;
    for (size_t i = 0; i < parsed.count; i++) {
        jy_event *event = parsed.items[i];
        parsed.items[i] = NULL;
        char *id = event->id != NULL ? strdup(event->id) : NULL;
        jy_error err;
        jy_error_clear(&err);
        int rc = jy_host_ingest(server->lh->host, event, &err);
        if (i > 0)
            jy_buf_append_str(&body, ",");
        if (rc == 0) {
            accepted++;
            jy_buf_printf(&body, "{\"seq\":%llu", (unsigned long long)event->seq);
        } else if (rc == JY_EEXIST) {
            duplicates++;
            jy_buf_append_str(&body, "{\"duplicate\":true");
        } else {
            jy_buf_printf(&body, "{\"error\":");
            jy_buf_append_json_string(&body, err.message);
        }
        if (id != NULL) {
            jy_buf_append_str(&body, ",\"id\":");
            jy_buf_append_json_string(&body, id);
        }
        jy_buf_append_str(&body, "}");
        free(id);
    }
    free(parsed.items);
    jy_buf_printf(&body, "],\"accepted\":%zu,\"duplicates\":%zu}\n", accepted, duplicates);
    server->events_accepted += accepted;
    server->events_duplicate += duplicates;

    char *text = jy_buf_take(&body);
    if (text == NULL) {
        jy_server_error(response, 503, "out_of_memory", "out of memory building the response");
        return;
    }
    /* The response goes out once the loop turn's commit made them durable. */
    jy_server_queue_ack(server, response, text);
}


typedef struct live_tally {
    const jy_journey *journey;
    uint64_t by_status[3];
} live_tally;


static void tally_run(jy_run *run, void *ctx)
{
    live_tally *tally = ctx;
    if (run->journey == tally->journey && run->status <= JY_RUN_SLEEPING)
        tally->by_status[run->status]++;
}


static void handle_metrics(jy_server *server, jy_http_response *response)
{
    jy_host *host = server->lh->host;
    jy_buf out;
    jy_buf_init(&out);

    jy_buf_append_str(&out, "# HELP journey_events_ingested_total Events stored, emitted ones included.\n"
                            "# TYPE journey_events_ingested_total counter\n");
    jy_buf_printf(&out, "journey_events_ingested_total %llu\n",
                  (unsigned long long)(server->earlier.events_ingested +
                                       host->stats.events_ingested));
    jy_buf_append_str(&out, "# HELP journey_events_accepted_total Events accepted over HTTP.\n"
                            "# TYPE journey_events_accepted_total counter\n");
    jy_buf_printf(&out, "journey_events_accepted_total %llu\n",
                  (unsigned long long)server->events_accepted);
    jy_buf_append_str(&out, "# HELP journey_events_duplicate_total Events ignored as duplicates.\n"
                            "# TYPE journey_events_duplicate_total counter\n");
    jy_buf_printf(&out, "journey_events_duplicate_total %llu\n",
                  (unsigned long long)server->events_duplicate);
    jy_buf_append_str(&out, "# HELP journey_events_emitted_total Events that runs emitted.\n"
                            "# TYPE journey_events_emitted_total counter\n");
    jy_buf_printf(&out, "journey_events_emitted_total %llu\n",
                  (unsigned long long)(server->earlier.events_emitted +
                                       host->stats.events_emitted));

    jy_buf_append_str(&out, "# HELP journey_requests_rejected_total Requests rejected, by reason.\n"
                            "# TYPE journey_requests_rejected_total counter\n");
    jy_buf_printf(&out, "journey_requests_rejected_total{reason=\"malformed_json\"} %llu\n",
                  (unsigned long long)server->rejected.malformed_json);
    jy_buf_printf(&out, "journey_requests_rejected_total{reason=\"invalid_event\"} %llu\n",
                  (unsigned long long)server->rejected.invalid_event);
    jy_buf_printf(&out, "journey_requests_rejected_total{reason=\"unsupported_media_type\"} %llu\n",
                  (unsigned long long)server->rejected.unsupported_media_type);
    jy_buf_printf(&out, "journey_requests_rejected_total{reason=\"not_found\"} %llu\n",
                  (unsigned long long)server->rejected.not_found);
    jy_buf_printf(&out, "journey_requests_rejected_total{reason=\"method_not_allowed\"} %llu\n",
                  (unsigned long long)server->rejected.method_not_allowed);

    jy_buf_append_str(&out, "# HELP journey_runs Live runs by journey and status.\n"
                            "# TYPE journey_runs gauge\n");
    static const char *const live_names[] = {"running", "waiting", "sleeping"};
    for (size_t i = 0; i < host->journey_count; i++) {
        live_tally tally = {host->journeys[i], {0, 0, 0}};
        jy_host_each_run(host, tally_run, &tally);
        for (int st = 0; st < 3; st++)
            jy_buf_printf(&out, "journey_runs{journey=\"%s\",status=\"%s\"} %llu\n",
                          host->journeys[i]->name, live_names[st],
                          (unsigned long long)tally.by_status[st]);
    }
    jy_buf_append_str(&out, "# HELP journey_runs_ended_total Runs that ended since the scripts "
                            "last loaded, by journey and status.\n"
                            "# TYPE journey_runs_ended_total counter\n");
    for (size_t i = 0; i < host->journey_count; i++) {
        const jy_journey *j = host->journeys[i];
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"completed\"} %llu\n",
                      j->name, (unsigned long long)j->stats.completed);
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"failed\"} %llu\n",
                      j->name, (unsigned long long)j->stats.failed);
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"cancelled\"} %llu\n",
                      j->name, (unsigned long long)j->stats.cancelled);
    }

    jy_buf_append_str(&out, "# HELP journey_waits Wait index entries: (user, event name) pairs "
                            "that live runs wait on.\n# TYPE journey_waits gauge\n");
    jy_buf_printf(&out, "journey_waits %zu\n", host->waits.count);
    jy_buf_append_str(&out, "# HELP journey_deadlines Pending deadlines.\n"
                            "# TYPE journey_deadlines gauge\n");
    jy_buf_printf(&out, "journey_deadlines %zu\n", host->deadlines.count);

    jy_buf_append_str(&out, "# HELP journey_commit_seconds Duration of group commits.\n"
                            "# TYPE journey_commit_seconds histogram\n");
    uint64_t cumulative = 0;
    for (int b = 0; b < JY_COMMIT_BUCKETS; b++) {
        cumulative += server->commit_buckets[b];
        jy_buf_printf(&out, "journey_commit_seconds_bucket{le=\"%g\"} %llu\n",
                      jy_commit_bucket_bounds[b], (unsigned long long)cumulative);
    }
    cumulative += server->commit_buckets[JY_COMMIT_BUCKETS];
    jy_buf_printf(&out, "journey_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
                  (unsigned long long)cumulative);
    jy_buf_printf(&out, "journey_commit_seconds_sum %.6f\n", server->commit_seconds_sum);
    jy_buf_printf(&out, "journey_commit_seconds_count %llu\n", (unsigned long long)cumulative);

    jy_buf_append_str(&out, "# HELP journey_wake_seconds Time from an event reaching the "
                            "host to a waiting run it woke resuming, since the scripts last "
                            "loaded.\n# TYPE journey_wake_seconds histogram\n");
    cumulative = 0;
    for (int b = 0; b < JY_WAKE_BUCKETS; b++) {
        cumulative += host->stats.wake_buckets[b];
        jy_buf_printf(&out, "journey_wake_seconds_bucket{le=\"%g\"} %llu\n",
                      jy_wake_bucket_bounds[b], (unsigned long long)cumulative);
    }
    cumulative += host->stats.wake_buckets[JY_WAKE_BUCKETS];
    jy_buf_printf(&out, "journey_wake_seconds_bucket{le=\"+Inf\"} %llu\n",
                  (unsigned long long)cumulative);
    jy_buf_printf(&out, "journey_wake_seconds_sum %.6f\n", host->stats.wake_seconds_sum);
    jy_buf_printf(&out, "journey_wake_seconds_count %llu\n", (unsigned long long)cumulative);

    jy_buf_append_str(&out, "# HELP journey_script_reloads_total Script reloads, by result.\n"
                            "# TYPE journey_script_reloads_total counter\n");
    jy_buf_printf(&out, "journey_script_reloads_total{result=\"loaded\"} %llu\n",
                  (unsigned long long)server->reloads);
    jy_buf_printf(&out, "journey_script_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)server->reload_failures);

    if (jy_buf_failed(&out))
        jy_server_error(response, 503, "out_of_memory", "out of memory building the metrics");
    else
        jy_http_respond(response, 200, "text/plain; version=0.0.4", out.data, out.len);
    jy_buf_free(&out);
}


/* Reads the value of key in a query string into out (not decoded beyond
 * "+"/"%XX"). Returns 1 when present. */
static int query_value(const char *query, const char *key, char *out, size_t size)
{
    size_t key_len = strlen(key);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
            size_t used = 0;
            for (size_t i = key_len + 1; i < len && used + 1 < size; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && i + 2 < len && isxdigit((unsigned char)p[i + 1]) &&
                           isxdigit((unsigned char)p[i + 2])) {
                    char hex[3] = {p[i + 1], p[i + 2], '\0'};
                    c = (char)strtol(hex, NULL, 16);
                    i += 2;
                }
                out[used++] = c;
            }
            out[used] = '\0';
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}


static int status_number(const char *name)
{
    static const char *const names[] = {"running", "waiting", "sleeping", "completed",
                                        "failed", "cancelled"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}


static void append_time(jy_buf *buf, sqlite3_int64 ms)
{
    char text[JY_TIME_TEXT_SIZE];
    jy_time_format(ms, text);
    jy_buf_append_json_string(buf, text);
}


/* Appends one row of the runs query as a JSON object. */
static void append_run(jy_buf *buf, sqlite3_stmt *stmt)
{
    static const char *const names[] = {"running", "waiting", "sleeping", "completed",
                                        "failed", "cancelled"};
    int status = sqlite3_column_int(stmt, 4);

    jy_buf_printf(buf, "{\"id\":%lld,\"journey\":", (long long)sqlite3_column_int64(stmt, 0));
    jy_buf_append_json_string(buf, (const char *)sqlite3_column_text(stmt, 1));
    jy_buf_append_str(buf, ",\"user\":");
    jy_buf_append_json_string(buf, (const char *)sqlite3_column_text(stmt, 2));
    if (sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
        jy_buf_append_str(buf, ",\"key\":");
        jy_buf_append_json_string(buf, (const char *)sqlite3_column_text(stmt, 3));
    }
    jy_buf_append_str(buf, ",\"status\":");
    jy_buf_append_json_string(buf, status >= 0 && status < 6 ? names[status] : "unknown");
    jy_buf_append_str(buf, ",\"started_at\":");
    append_time(buf, sqlite3_column_int64(stmt, 5));
    if (status >= 3) {
        jy_buf_append_str(buf, ",\"ended_at\":");
        append_time(buf, sqlite3_column_int64(stmt, 6));
    }
    if (sqlite3_column_type(stmt, 7) != SQLITE_NULL) {
        jy_buf_append_str(buf, ",\"result\":");
        jy_buf_append_str(buf, (const char *)sqlite3_column_text(stmt, 7));
    }
    if (sqlite3_column_type(stmt, 8) != SQLITE_NULL) {
        jy_buf_append_str(buf, ",\"error\":");
        jy_buf_append_json_string(buf, (const char *)sqlite3_column_text(stmt, 8));
    }
    if (status <= 2 && sqlite3_column_type(stmt, 9) != SQLITE_NULL) {
        jy_buf_append_str(buf, ",\"waiting_for\":");
        jy_buf_append_json_string(buf, (const char *)sqlite3_column_text(stmt, 9));
    }
    if (status <= 2 && sqlite3_column_type(stmt, 10) != SQLITE_NULL) {
        jy_buf_append_str(buf, ",\"deadline\":");
        append_time(buf, sqlite3_column_int64(stmt, 10));
    }
    jy_buf_append_str(buf, "}");
}


static const char run_columns[] =
    "SELECT r.id, r.journey, r.user, r.key, r.status, r.started_at, r.ended_at, r.result,"
    " r.error, r.wait_names, d.at FROM runs r LEFT JOIN deadlines d ON d.run_id = r.id";


/* GET /runs and GET /runs/{id}, from the committed state of the file. */
static void handle_runs(jy_server *server, const jy_http_request *request,
                        jy_http_response *response)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(server->store_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        jy_server_error(response, 503, "store_unavailable", "cannot read the store: %s",
                        db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 1000);

    jy_buf body;
    jy_buf_init(&body);
    sqlite3_stmt *stmt = NULL;
    const char *id_text = request->path + strlen("/runs");

    if (*id_text == '/') {
        char *end = NULL;
        long long id = strtoll(id_text + 1, &end, 10);
        if (id_text[1] == '\0' || *end != '\0' || id < 1) {
            server->rejected.not_found++;
            reject(server, request, response, 404, "not_found", "no run with id \"%s\"", id_text + 1);
            sqlite3_close(db);
            return;
        }
        jy_buf sql;
        jy_buf_init(&sql);
        jy_buf_printf(&sql, "%s WHERE r.id = ?", run_columns);
        sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL);
        jy_buf_free(&sql);
        sqlite3_bind_int64(stmt, 1, id);
        if (stmt == NULL || sqlite3_step(stmt) != SQLITE_ROW) {
            sqlite3_finalize(stmt);
            sqlite3_close(db);
            server->rejected.not_found++;
            reject(server, request, response, 404, "not_found", "run %lld not found", id);
            return;
        }
        append_run(&body, stmt);
        sqlite3_finalize(stmt);

        /* The journal goes into the run object. */
        body.len--;
        body.data[body.len] = '\0';
        jy_buf_append_str(&body, ",\"journal\":[");
        sqlite3_prepare_v2(db, "SELECT idx, kind, name, at, result FROM journal WHERE run_id = ?"
                               " ORDER BY idx", -1, &stmt, NULL);
        sqlite3_bind_int64(stmt, 1, id);
        static const char *const kinds[] = {"", "wait_for", "events", "sleep", "sleep_until",
                                            "emit", "step", "now", "math.random", "os.time"};
        int first = 1;
        while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
            int kind = sqlite3_column_int(stmt, 1);
            jy_buf_printf(&body, "%s{\"index\":%d,\"kind\":", first ? "" : ",",
                          sqlite3_column_int(stmt, 0));
            jy_buf_append_json_string(&body, kind >= 1 && kind <= 9 ? kinds[kind] : "unknown");
            jy_buf_append_str(&body, ",\"name\":");
            jy_buf_append_json_string(&body, (const char *)sqlite3_column_text(stmt, 2));
            jy_buf_append_str(&body, ",\"at\":");
            append_time(&body, sqlite3_column_int64(stmt, 3));
            jy_buf_append_str(&body, ",\"result\":");
            jy_buf_append_str(&body, (const char *)sqlite3_column_text(stmt, 4));
            jy_buf_append_str(&body, "}");
            first = 0;
        }
        sqlite3_finalize(stmt);
        jy_buf_append_str(&body, "]}\n");
    } else if (*id_text == '\0') {
        char value[256];
        int status = -1;
        long long limit = DEFAULT_PAGE, before = 0;
        if (query_value(request->query, "status", value, sizeof value) &&
            (status = status_number(value)) < 0) {
            reject(server, request, response, 400, "invalid_query",
                            "invalid status \"%s\": use running, waiting, sleeping, completed, "
                            "failed or cancelled", value);
            sqlite3_close(db);
            return;
        }
        if (query_value(request->query, "limit", value, sizeof value)) {
            char *end = NULL;
            limit = strtoll(value, &end, 10);
            if (*end != '\0' || limit < 1 || limit > MAX_PAGE) {
                reject(server, request, response, 400, "invalid_query",
                                "invalid limit \"%s\": give 1 to %d", value, MAX_PAGE);
                sqlite3_close(db);
                return;
            }
        }
        if (query_value(request->query, "before", value, sizeof value)) {
            char *end = NULL;
            before = strtoll(value, &end, 10);
            if (value[0] == '\0' || *end != '\0' || before < 1) {
                reject(server, request, response, 400, "invalid_query",
                       "invalid before \"%s\": give a run id, as next_before returns it", value);
                sqlite3_close(db);
                return;
            }
        }
        char user[512] = "", journey[256] = "";
        int has_user = query_value(request->query, "user", user, sizeof user);
        int has_journey = query_value(request->query, "journey", journey, sizeof journey);

        jy_buf sql;
        jy_buf_init(&sql);
        jy_buf_printf(&sql, "%s WHERE (?1 < 0 OR r.status = ?1) AND (?2 IS NULL OR r.user = ?2)"
                            " AND (?3 IS NULL OR r.journey = ?3) AND (?4 = 0 OR r.id < ?4)"
                            " ORDER BY r.id DESC LIMIT ?5", run_columns);
        sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL);
        jy_buf_free(&sql);
        sqlite3_bind_int(stmt, 1, status);
        if (has_user)
            sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
        if (has_journey)
            sqlite3_bind_text(stmt, 3, journey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, before);
        sqlite3_bind_int64(stmt, 5, limit + 1);

        jy_buf_append_str(&body, "{\"runs\":[");
        long long rows = 0, last_id = 0;
        int more = 0;
        while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
            if (rows == limit) {
                more = 1;
                break;
            }
            if (rows > 0)
                jy_buf_append_str(&body, ",");
            append_run(&body, stmt);
            last_id = sqlite3_column_int64(stmt, 0);
            rows++;
        }
        sqlite3_finalize(stmt);
        if (more)
            jy_buf_printf(&body, "],\"next_before\":%lld}\n", last_id);
        else
            jy_buf_append_str(&body, "],\"next_before\":null}\n");
    } else {
        sqlite3_close(db);
        server->rejected.not_found++;
        reject(server, request, response, 404, "not_found", "no resource at %s", request->path);
        return;
    }
    sqlite3_close(db);

    if (jy_buf_failed(&body))
        jy_server_error(response, 503, "out_of_memory", "out of memory building the answer");
    else
        jy_http_respond(response, 200, "application/json", body.data, body.len);
    jy_buf_free(&body);
}


void jy_server_handle(void *ctx, const jy_http_request *request, jy_http_response *response)
{
    jy_server *server = ctx;
    const char *path = request->path;
    int is_get = strcmp(request->method, "GET") == 0;
    int is_post = strcmp(request->method, "POST") == 0;

    if (server->stopping || server->lh == NULL) {
        jy_server_error(response, 503, "stopping", "the server is stopping");
        return;
    }

    if (strcmp(path, "/events") == 0) {
        if (is_post) {
            handle_post_events(server, request, response);
            return;
        }
    } else if (strcmp(path, "/healthz") == 0) {
        if (is_get) {
            char body[160];
            int n = snprintf(body, sizeof body,
                             "{\"status\":\"ok\",\"live_runs\":%llu,\"deadlines\":%zu}\n",
                             (unsigned long long)server->lh->host->stats.runs_live,
                             server->lh->host->deadlines.count);
            jy_http_respond(response, 200, "application/json", body, (size_t)n);
            return;
        }
    } else if (strcmp(path, "/metrics") == 0) {
        if (is_get) {
            handle_metrics(server, response);
            return;
        }
    } else if (strcmp(path, "/runs") == 0 || strncmp(path, "/runs/", 6) == 0) {
        if (is_get) {
            handle_runs(server, request, response);
            return;
        }
    } else {
        server->rejected.not_found++;
        reject(server, request, response, 404, "not_found",
                        "no resource at %s; the API has /events, /runs, /runs/{id}, /healthz "
                        "and /metrics", path);
        return;
    }

    server->rejected.method_not_allowed++;
    reject(server, request, response, 405, "method_not_allowed", "%s is not allowed on %s",
                    request->method, path);
}
