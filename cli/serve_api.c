/*
 * The HTTP API of journey serve: POST /events, GET /runs, GET
 * /runs/{id}, GET /healthz and GET /metrics (see docs/http-api.md).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "json_scan.h"
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


/* A POST /events whose events were ingested: the response goes out
 * once the ingest callback of every one of them has fired, which is
 * after the loop turn's commit made them durable. */
typedef struct pending_batch {
    jy_server *server;
    jy_http_response *response;
    size_t count;
    size_t remaining;
    struct batch_item {
        struct pending_batch *batch;
        int status;
        uint64_t seq;
        char *id;
        char *error; /* why the host did not take it, or NULL */
    } items[];
} pending_batch;


static void free_batch(pending_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        free(batch->items[i].id);
        free(batch->items[i].error);
    }
    free(batch);
}


/* Sends the response of a batch whose every event was settled. */
static void answer_batch(pending_batch *batch)
{
    jy_server *server = batch->server;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->items[i].status == JOURNEY_EIO) {
            jy_server_error(batch->response, 503, "commit_failed",
                            "the events were not stored: the commit failed; see the server's "
                            "log");
            free_batch(batch);
            return;
        }
    }

    jy_buf body;
    jy_buf_init(&body);
    jy_buf_append_str(&body, "{\"events\":[");
    size_t accepted = 0, duplicates = 0;
    for (size_t i = 0; i < batch->count; i++) {
        const struct batch_item *item = &batch->items[i];
        if (i > 0)
            jy_buf_append_str(&body, ",");
        if (item->status == JOURNEY_OK) {
            accepted++;
            jy_buf_printf(&body, "{\"seq\":%llu", (unsigned long long)item->seq);
        } else if (item->status == JOURNEY_EEXIST) {
            duplicates++;
            jy_buf_append_str(&body, "{\"duplicate\":true");
        } else {
            jy_buf_printf(&body, "{\"error\":");
            jy_buf_append_json_string(&body, item->error != NULL ? item->error
                                                                 : "the event was not stored");
        }
        if (item->id != NULL) {
            jy_buf_append_str(&body, ",\"id\":");
            jy_buf_append_json_string(&body, item->id);
        }
        jy_buf_append_str(&body, "}");
    }
    jy_buf_printf(&body, "],\"accepted\":%zu,\"duplicates\":%zu}\n", accepted, duplicates);
    server->events_accepted += accepted;

    if (jy_buf_failed(&body))
        jy_server_error(batch->response, 503, "out_of_memory",
                        "out of memory building the response");
    else
        jy_http_respond(batch->response, 200, "application/json", body.data, body.len);
    jy_buf_free(&body);
    free_batch(batch);
}


static void on_event_committed(void *ctx, int status, uint64_t seq)
{
    struct batch_item *item = ctx;
    item->status = status;
    item->seq = seq;
    if (--item->batch->remaining == 0)
        answer_batch(item->batch);
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

    /* Every event is checked before any is stored, so a request is taken
     * whole or not at all. */
    journey_event **events = NULL;
    size_t count = 0;
    int rc = journey_events_parse(server->host, request->body, request->body_len, 0,
                                  MAX_EVENTS_PER_REQUEST, &events, &count);
    if (rc == JOURNEY_EJSON) {
        server->rejected.malformed_json++;
        int bom = jy_utf8_bom_length(request->body, request->body_len) > 0;
        reject(server, request, response, 400, "malformed_json", "%s%s",
               journey_error(server->host),
               bom ? "; the body starts with a UTF-8 byte order mark, which JSON sent over "
                     "HTTP must not have: send the body without it" : "");
        return;
    }
    if (rc == JOURNEY_ERANGE || rc == JOURNEY_EINVAL) {
        server->rejected.invalid_event++;
        reject(server, request, response, 422,
               rc == JOURNEY_ERANGE ? "invalid_event_count" : "invalid_event", "%s",
               journey_error(server->host));
        return;
    }
    if (rc != JOURNEY_OK) {
        jy_server_error(response, 503, "out_of_memory", "%s", journey_error(server->host));
        return;
    }
    int64_t now = journey_now(server->host);
    for (size_t i = 0; i < count; i++) {
        if (events[i]->ts > now + MAX_FUTURE_MS) {
            server->rejected.invalid_event++;
            reject(server, request, response, 422, "invalid_event",
                   "event %zu: \"ts\" is more than 24 hours in the future; check the "
                   "sender's clock", i);
            journey_events_free(events, count);
            return;
        }
    }

    pending_batch *batch = calloc(1, sizeof *batch + count * sizeof batch->items[0]);
    if (batch == NULL) {
        journey_events_free(events, count);
        jy_server_error(response, 503, "out_of_memory", "out of memory reading the events");
        return;
    }
    batch->server = server;
    batch->response = response;
    batch->count = count;
    batch->remaining = count;
    for (size_t i = 0; i < count; i++) {
        struct batch_item *item = &batch->items[i];
        journey_event *event = events[i];
        events[i] = NULL;
        item->batch = batch;
        if (event->id != NULL)
            item->id = strdup(event->id);
        if (journey_ingest_event(server->host, event, on_event_committed, item) != JOURNEY_OK) {
            /* Its callback never fires, so the response carries the error. */
            item->status = JOURNEY_EINVAL;
            item->error = strdup(journey_error(server->host));
            batch->remaining--;
        }
    }
    journey_events_free(events, 0);
    if (batch->remaining == 0)
        answer_batch(batch);
}


static void handle_metrics(jy_server *server, jy_http_response *response)
{
    char *host_metrics = NULL;
    if (journey_metrics_text(server->host, &host_metrics) != JOURNEY_OK) {
        jy_server_error(response, 503, "out_of_memory", "out of memory building the metrics");
        return;
    }

    jy_buf out;
    jy_buf_init(&out);
    jy_buf_append_str(&out, "# HELP journey_events_accepted_total Events accepted over HTTP.\n"
                            "# TYPE journey_events_accepted_total counter\n");
    jy_buf_printf(&out, "journey_events_accepted_total %llu\n",
                  (unsigned long long)server->events_accepted);
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
    jy_buf_append_str(&out, host_metrics);
    journey_free(host_metrics);

    if (jy_buf_failed(&out))
        jy_server_error(response, 503, "out_of_memory", "out of memory building the metrics");
    else
        jy_http_respond(response, 200, "text/plain; version=0.0.4", out.data, out.len);
    jy_buf_free(&out);
}


/* The maximum length of a query value the handlers read, in bytes once
 * decoded. */
#define MAX_QUERY_VALUE 4095

/* Decodes len bytes of a query value ("+" and "%XX") into out (size
 * bytes, NUL-terminated, cut to fit). Returns the decoded length, and
 * sets *nul when the value contains a NUL. */
static size_t decode_query_value(const char *p, size_t len, char *out, size_t size, int *nul)
{
    size_t used = 0;
    *nul = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && isxdigit((unsigned char)p[i + 1]) &&
                   isxdigit((unsigned char)p[i + 2])) {
            char hex[3] = {p[i + 1], p[i + 2], '\0'};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        if (c == '\0')
            *nul = 1;
        if (used + 1 < size)
            out[used] = c;
        used++;
    }
    if (size > 0)
        out[used < size ? used : size - 1] = '\0';
    return used;
}


/* Reads the value of key in a query string into out. Returns 1 when
 * present. reject_bad_query has checked that it fits. */
static int query_value(const char *query, const char *key, char *out, size_t size)
{
    size_t key_len = strlen(key);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
            int nul = 0;
            decode_query_value(p + key_len + 1, len - key_len - 1, out, size, &nul);
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}


/* Tells whether the query parameter name of len bytes is in known, a
 * NULL-terminated list. */
static int is_known_parameter(const char *name, size_t len, const char *const *known)
{
    for (size_t i = 0; known[i] != NULL; i++)
        if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0)
            return 1;
    return 0;
}


/* Rejects the request with 400 and returns 1 when the query has a
 * parameter that known (a NULL-terminated list) does not name, or a
 * value longer than MAX_QUERY_VALUE or with a NUL. A misspelt filter
 * would otherwise select everything, and a user id or event name has
 * neither such value, whose cut would select other runs or events. */
static int reject_bad_query(jy_server *server, const jy_http_request *request,
                            jy_http_response *response, const char *const *known,
                            const char *takes)
{
    const char *p = request->query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *equals = memchr(p, '=', len);
        size_t name_len = equals != NULL ? (size_t)(equals - p) : len;
        if (len > 0 && !is_known_parameter(p, name_len, known)) {
            reject(server, request, response, 400, "invalid_query",
                   "unknown parameter \"%.*s\": %s", (int)(name_len < 40 ? name_len : 40), p,
                   takes);
            return 1;
        }
        if (equals != NULL) {
            char scratch[1];
            int nul = 0;
            size_t key_len = (size_t)(equals - p);
            size_t value_len = decode_query_value(equals + 1, len - key_len - 1, scratch,
                                                  sizeof scratch, &nul);
            if (nul || value_len > MAX_QUERY_VALUE) {
                reject(server, request, response, 400, "invalid_query",
                       "invalid %.*s: %s", (int)(key_len < 40 ? key_len : 40), p,
                       nul ? "it holds a NUL character (%00), which no id or name has"
                           : "longer than 4095 bytes");
                return 1;
            }
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}


/* The status filter of GET /runs: one stored status, or "live" for the
 * first three, as `journey runs --status live` takes it. */
#define STATUS_LIVE 6

static int status_number(const char *name)
{
    static const char *const names[] = {"running", "waiting", "sleeping", "completed",
                                        "failed", "cancelled", "live"};
    for (int i = 0; i <= STATUS_LIVE; i++)
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
    " r.error, r.wait_names, r.deadline FROM runs r";


/* Returns the number that text writes in plain digits, without a sign,
 * spaces or a leading zero, or 0 when it writes none of 1 or more that
 * fits in 63 bits. A run id, a limit and a cursor are such numbers. */
static long long parse_positive(const char *text)
{
    if (text[0] < '1' || text[0] > '9')
        return 0;
    for (const char *p = text; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return 0;
    errno = 0;
    long long n = strtoll(text, NULL, 10);
    return errno == ERANGE ? 0 : n;
}


/* Returns the run id that text (the part of the path after "/runs/")
 * names, or 0 when it is not a whole number of 1 or more. */
static long long parse_run_id(const char *text)
{
    return parse_positive(text);
}


/* GET /runs and GET /runs/{id} with the memory store: a live run by
 * its id from the host; the list, and ended runs, need the history that
 * only a SQLite store keeps. */
static void handle_live_runs(jy_server *server, const jy_http_request *request,
                             jy_http_response *response)
{
    const char *id_text = request->path + strlen("/runs");
    if (*id_text == '\0') {
        reject(server, request, response, 501, "no_history",
               "the memory store keeps no run history to list; start the server with "
               "--store sqlite:PATH to list runs");
        return;
    }
    long long id = parse_run_id(id_text + 1);
    char *json = NULL;
    if (id == 0 || journey_run_json(server->host, (uint64_t)id, &json) != JOURNEY_OK) {
        server->rejected.not_found++;
        reject(server, request, response, 404, "not_found",
               "no live run with id \"%s\"; the memory store keeps no ended runs",
               id_text + 1);
        return;
    }
    jy_http_respond(response, 200, "application/json", json, strlen(json));
    journey_free(json);
}


/* Appends the reason a run is parked. The file keeps a parked run as it
 * was before its replay failed, so only the host has the reason. */
static void append_parked(jy_server *server, uint64_t id, jy_buf *body)
{
    char *json = NULL;
    if (journey_run_json(server->host, id, &json) != JOURNEY_OK)
        return;

    jy_json_span object = {JY_JSON_OBJECT, json, strlen(json)};
    jy_json_span member;
    if (jy_json_object_find(&object, "parked", 6, &member, NULL) == 1) {
        jy_buf_append_str(body, ",\"parked\":");
        jy_buf_append(body, member.text, member.len);
    }
    journey_free(json);
}


/* GET /runs and GET /runs/{id}, from the committed state of the file. */
/* Opens the store file read-only for one request, which then reads the
 * committed state. Responds with 503 and returns NULL when it cannot. */
static sqlite3 *open_reader(jy_server *server, jy_http_response *response)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(server->store_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        jy_server_error(response, 503, "store_unavailable", "cannot read the store: %s",
                        db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    return db;
}


static void handle_runs(jy_server *server, const jy_http_request *request,
                        jy_http_response *response)
{
    if (server->store_path == NULL) {
        handle_live_runs(server, request, response);
        return;
    }
    static const char *const list_parameters[] = {"status", "user", "journey", "limit",
                                                  "before", NULL};
    static const char *const no_parameters[] = {NULL};
    int listing = strcmp(request->path, "/runs") == 0;
    if (reject_bad_query(server, request, response, listing ? list_parameters : no_parameters,
                         listing ? "GET /runs takes status, user, journey, limit and before"
                                 : "GET /runs/{id} takes no parameters"))
        return;
    sqlite3 *db = open_reader(server, response);
    if (db == NULL)
        return;

    jy_buf body;
    jy_buf_init(&body);
    sqlite3_stmt *stmt = NULL;
    const char *id_text = request->path + strlen("/runs");

    if (*id_text == '/') {
        long long id = parse_run_id(id_text + 1);
        if (id == 0) {
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
            reject(server, request, response, 404, "not_found", "run %s not found", id_text + 1);
            return;
        }
        append_run(&body, stmt);
        sqlite3_finalize(stmt);

        /* The journal goes into the run object. */
        body.len--;
        body.data[body.len] = '\0';
        append_parked(server, (uint64_t)id, &body);
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
                            "failed, cancelled or live", value);
            sqlite3_close(db);
            return;
        }
        if (query_value(request->query, "limit", value, sizeof value)) {
            limit = parse_positive(value);
            if (limit < 1 || limit > MAX_PAGE) {
                reject(server, request, response, 400, "invalid_query",
                                "invalid limit \"%s\": give 1 to %d", value, MAX_PAGE);
                sqlite3_close(db);
                return;
            }
        }
        if (query_value(request->query, "before", value, sizeof value)) {
            before = parse_positive(value);
            if (before < 1) {
                reject(server, request, response, 400, "invalid_query",
                       "invalid before \"%s\": give a run id, as next_before returns it", value);
                sqlite3_close(db);
                return;
            }
        }
        char user[MAX_QUERY_VALUE + 1] = "", journey[MAX_QUERY_VALUE + 1] = "";
        int has_user = query_value(request->query, "user", user, sizeof user);
        int has_journey = query_value(request->query, "journey", journey, sizeof journey);

        jy_buf sql;
        jy_buf_init(&sql);
        jy_buf_printf(&sql, "%s WHERE (?1 < 0 OR r.status = ?1 OR (?1 = %d AND r.status < 3))"
                            " AND (?2 IS NULL OR r.user = ?2)"
                            " AND (?3 IS NULL OR r.journey = ?3) AND (?4 = 0 OR r.id < ?4)"
                            " ORDER BY r.id DESC LIMIT ?5", run_columns, STATUS_LIVE);
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
        journey_stats stats;
        journey_get_stats(server->host, &stats);
        while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
            if (rows == limit) {
                more = 1;
                break;
            }
            if (rows > 0)
                jy_buf_append_str(&body, ",");
            append_run(&body, stmt);
            last_id = sqlite3_column_int64(stmt, 0);
            if (stats.runs_parked > 0 && sqlite3_column_int(stmt, 4) <= 2 && body.len > 0) {
                body.data[--body.len] = '\0';     /* reopens the run's object */
                append_parked(server, (uint64_t)last_id, &body);
                jy_buf_append_str(&body, "}");
            }
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


/* GET /events: the committed events in seq order, with the run and
 * journey of each emitted one. An application reads what its journeys
 * emit here, by name, and keeps next_after as its cursor. */
static void handle_event_feed(jy_server *server, const jy_http_request *request,
                              jy_http_response *response)
{
    if (server->store_path == NULL) {
        reject(server, request, response, 501, "no_history",
               "the memory store keeps no event history to read; start the server with "
               "--store sqlite:PATH to read events");
        return;
    }
    static const char *const feed_parameters[] = {"after", "limit", "emitted", "name", "user",
                                                  NULL};
    if (reject_bad_query(server, request, response, feed_parameters,
                         "GET /events takes after, limit, emitted, name and user"))
        return;

    char value[64];
    long long after = 0, limit = 100;
    if (query_value(request->query, "after", value, sizeof value) &&
        strcmp(value, "0") != 0 && (after = parse_positive(value)) < 1) {
        reject(server, request, response, 400, "invalid_query",
               "invalid after \"%s\": give 0 or a seq, as next_after returns it", value);
        return;
    }
    if (query_value(request->query, "limit", value, sizeof value) &&
        ((limit = parse_positive(value)) < 1 || limit > MAX_PAGE)) {
        reject(server, request, response, 400, "invalid_query",
               "invalid limit \"%s\": give 1 to %d", value, MAX_PAGE);
        return;
    }
    int emitted = -1;
    if (query_value(request->query, "emitted", value, sizeof value)) {
        emitted = strcmp(value, "true") == 0 ? 1 : strcmp(value, "false") == 0 ? 0 : -2;
        if (emitted == -2) {
            reject(server, request, response, 400, "invalid_query",
                   "invalid emitted \"%s\": give true or false", value);
            return;
        }
    }

    /* A name ending in "*" selects the names that start with the rest,
     * as a journey's on does. */
    char name[MAX_QUERY_VALUE + 1] = "", user[MAX_QUERY_VALUE + 1] = "";
    int has_name = query_value(request->query, "name", name, sizeof name);
    int has_user = query_value(request->query, "user", user, sizeof user);
    size_t name_len = strlen(name);
    int prefix = has_name && name_len > 0 && name[name_len - 1] == '*';
    if (prefix)
        name[name_len - 1] = '\0';

    sqlite3 *db = open_reader(server, response);
    if (db == NULL)
        return;

    /* The file shows a group as soon as it is written, before the sync
     * that makes it durable, so the page stops at the durable seq: an
     * application must not act on an event that a power loss can undo.
     * Events up to it are written, so this read finds them all. */
    long long durable = (long long)journey_durable_seq(server->host);

    /* One read transaction for the page and the highest seq, so that a
     * commit between the two cannot slip events past the cursor. */
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *stmt = NULL;
    sqlite3_prepare_v2(db,
                       "SELECT e.seq, e.id, e.user, e.name, e.ts, e.data, e.origin_run,"
                       " r.journey FROM events e LEFT JOIN runs r ON r.id = e.origin_run"
                       " WHERE e.seq > ?1 AND e.seq <= ?7 AND (?2 IS NULL OR e.user = ?2)"
                       " AND (?3 IS NULL OR e.name = ?3)"
                       " AND (?4 IS NULL OR substr(e.name, 1, length(?4)) = ?4)"
                       " AND (?5 < 0 OR (?5 = 1) = (e.origin_run > 0))"
                       " ORDER BY e.seq LIMIT ?6", -1, &stmt, NULL);
    sqlite3_bind_int64(stmt, 1, after);
    if (has_user)
        sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
    if (has_name)
        sqlite3_bind_text(stmt, prefix ? 4 : 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 5, emitted);
    sqlite3_bind_int64(stmt, 6, limit);
    sqlite3_bind_int64(stmt, 7, durable);

    jy_buf body;
    jy_buf_init(&body);
    jy_buf_append_str(&body, "{\"events\":[");
    long long last_seq = after;
    int rows = 0;
    while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
        last_seq = sqlite3_column_int64(stmt, 0);
        jy_buf_printf(&body, "%s{\"seq\":%lld", rows++ > 0 ? "," : "", last_seq);
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
            jy_buf_append_str(&body, ",\"id\":");
            jy_buf_append_json_string(&body, (const char *)sqlite3_column_text(stmt, 1));
        }
        jy_buf_append_str(&body, ",\"user\":");
        jy_buf_append_json_string(&body, (const char *)sqlite3_column_text(stmt, 2));
        jy_buf_append_str(&body, ",\"name\":");
        jy_buf_append_json_string(&body, (const char *)sqlite3_column_text(stmt, 3));
        jy_buf_append_str(&body, ",\"ts\":");
        append_time(&body, sqlite3_column_int64(stmt, 4));
        jy_buf_append_str(&body, ",\"data\":");
        jy_buf_append_str(&body, (const char *)sqlite3_column_text(stmt, 5));
        if (sqlite3_column_int64(stmt, 6) > 0) {
            jy_buf_printf(&body, ",\"run\":%lld", (long long)sqlite3_column_int64(stmt, 6));
            if (sqlite3_column_type(stmt, 7) != SQLITE_NULL) {
                jy_buf_append_str(&body, ",\"journey\":");
                jy_buf_append_json_string(&body, (const char *)sqlite3_column_text(stmt, 7));
            }
        }
        jy_buf_append_str(&body, "}");
    }
    int failed = stmt == NULL;
    sqlite3_finalize(stmt);

    /* A page shorter than the limit read to the end of the events, so
     * the cursor moves to the highest seq: a filter that matches
     * nothing does not make the next poll read the same events again. */
    if (!failed && rows < limit) {
        sqlite3_stmt *max = NULL;
        sqlite3_prepare_v2(db, "SELECT max(seq) FROM events WHERE seq <= ?", -1, &max, NULL);
        sqlite3_bind_int64(max, 1, durable);
        if (max != NULL && sqlite3_step(max) == SQLITE_ROW &&
            sqlite3_column_int64(max, 0) > last_seq)
            last_seq = sqlite3_column_int64(max, 0);
        sqlite3_finalize(max);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (failed) {
        jy_server_error(response, 503, "store_unavailable", "cannot read the store: %s",
                        sqlite3_errmsg(db));
        sqlite3_close(db);
        jy_buf_free(&body);
        return;
    }
    sqlite3_close(db);
    jy_buf_printf(&body, "],\"next_after\":%lld}\n", last_seq);

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
    /* HEAD gets the response of GET without its body, which the HTTP
     * server drops, because load balancers' health checks send HEAD. */
    int is_get = strcmp(request->method, "GET") == 0 || strcmp(request->method, "HEAD") == 0;
    int is_post = strcmp(request->method, "POST") == 0;

    if (server->stopping || server->host == NULL) {
        jy_server_error(response, 503, "stopping", "the server is stopping");
        return;
    }

    if (strcmp(path, "/events") == 0) {
        if (is_post) {
            handle_post_events(server, request, response);
            return;
        }
        if (is_get) {
            handle_event_feed(server, request, response);
            return;
        }
    } else if (strcmp(path, "/healthz") == 0) {
        if (is_get) {
            journey_stats stats;
            journey_get_stats(server->host, &stats);
            char body[160];
            int n = snprintf(body, sizeof body,
                             "{\"status\":\"ok\",\"live_runs\":%llu,\"deadlines\":%llu}\n",
                             (unsigned long long)stats.runs_live,
                             (unsigned long long)stats.deadlines);
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

    /* A 405 names the methods the resource takes (RFC 9110, 15.5.6). */
    server->rejected.method_not_allowed++;
    jy_http_response_allow(response, strcmp(path, "/events") == 0 ? "GET, HEAD, POST"
                                                                   : "GET, HEAD");
    reject(server, request, response, 405, "method_not_allowed", "%s is not allowed on %s",
                    request->method, path);
}
