/*
 * The HTTP/1.1 server behind `journey serve` (see http_server.h).
 *
 * Each accepted client gets a connection with its own http-parser. The
 * parser pauses at the end of every header section and every message,
 * so the read callback hands one request at a time to the handler and
 * counts header bytes exactly. Every request appends a response to the
 * connection's queue, and responses are written only from its head,
 * which keeps them in request order whenever the handler responds.
 *
 * A connection closes in one of two ways. An abort (read or write
 * error, idle timeout, server close while nothing is pending) closes
 * the socket at once. A graceful close (after a `Connection: close`
 * response, a rejected request, or server close while responses are
 * pending) first writes every queued response, then shuts down the
 * write side and discards input until the client closes or a linger
 * timer fires. Closing while unread input remains would make the kernel
 * send a reset, which can destroy the last response before the client
 * reads it.
 *
 * On EOF from the client, the responses still pending are written
 * before the connection closes, because the client may have shut down
 * only its write side.
 */
#include "http_server.h"

#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buffer.h"

/* Size of the read buffer that all connections of a server share. libuv
 * calls the read callback right after the allocation callback on the
 * loop's thread, so one buffer serves every read. */
#define JY_HTTP_READ_BUFFER_SIZE 65536

/* Requests on one connection whose responses are not yet written. At
 * this count the server stops reading from the client until responses
 * go out, so a client that pipelines without reading cannot grow the
 * queue without bound. */
#define JY_HTTP_MAX_PIPELINE 32

/* How long a gracefully closing connection waits, after its last
 * response, for the client to close its side, in milliseconds. */
#define JY_HTTP_LINGER_MS 2000

/* Listen backlog. The kernel caps it at net.core.somaxconn. */
#define JY_HTTP_BACKLOG 511

typedef struct jy_http_conn jy_http_conn;

struct jy_http_response {
    jy_http_conn *conn;     /* NULL once the connection has closed */
    jy_http_response *next; /* the next response in the connection's queue */
    uv_write_t write_req;
    int ready; /* the handler has responded, or the server built it */
    int keep_alive;   /* the request allows further requests after it */
    int head_request; /* a HEAD request: the body is not sent */
    int status;
    char *content_type; /* NULL when the copy failed */
    char *allow;        /* the Allow header of a 405, or NULL */
    char *body;
    size_t body_len;
    char *head; /* status line and headers, built when the response is written */
};

/* What the connection's timer measures. */
enum {
    JY_HTTP_TIMER_NONE,
    JY_HTTP_TIMER_IDLE,    /* nothing pending: idle_timeout_ms */
    JY_HTTP_TIMER_REQUEST, /* a request is arriving: request_timeout_ms */
    JY_HTTP_TIMER_LINGER,  /* closing: JY_HTTP_LINGER_MS */
};

struct jy_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t write_timer; /* runs while writes are in flight */
    uv_shutdown_t shutdown_req;
    jy_http_server *server;
    jy_http_conn *prev;
    jy_http_conn *next;
    char peer[64]; /* "127.0.0.1:54321" or "[::1]:54321" */
    int handles_open;
    int timer_mode;

    /* The request being parsed. */
    http_parser parser;
    jy_buf url;
    jy_buf field;
    jy_buf value;
    jy_buf content_type;
    jy_buf body;
    jy_buf path;
    int has_content_type;
    int expect_continue;
    int in_value; /* the last header callback delivered a value */
    int in_request;
    int headers_done;
    size_t header_bytes;
    int message_ready;
    int keep_alive;
    int reject_status; /* set by a parser callback that fails on purpose */
    const char *reject_reason;
    char reject_message[200];

    /* Responses not yet handed to uv_write, oldest first. */
    jy_http_response *queue_head;
    jy_http_response *queue_tail;
    size_t queued;
    size_t writes_in_flight;
    uint64_t bytes_queued;  /* handed to uv_write since the connection opened */
    uint64_t bytes_written; /* of those, written when the write timer last looked */

    /* Input kept back while the pipeline is full. */
    char *held_input;
    size_t held_input_len;

    int parsing; /* input is parsed as requests; once 0 it is discarded */
    int reading;
    int processing;
    int eof;
    int close_when_drained;
    int lingering;
    int closing;
};

struct jy_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    jy_http_options options;
    jy_http_handler handler;
    jy_http_log log;
    void *ctx;
    int port;
    http_parser_settings settings;
    jy_http_conn *conns;
    size_t conn_count;
    size_t rejected_open;       /* connections over the limit, still closing */
    size_t rejected_while_full; /* connections refused since the limit was reached */
    int full;
    int listener_open;
    int closing;
    void (*closed)(void *ctx);
    void *closed_ctx;
    char read_buffer[JY_HTTP_READ_BUFFER_SIZE];
};

static void conn_close(jy_http_conn *conn);
static void conn_flush(jy_http_conn *conn);
static void conn_process_input(jy_http_conn *conn, const char *data, size_t len);
static void conn_resume_input(jy_http_conn *conn);
static void conn_reject(jy_http_conn *conn, int status, const char *reason,
                        const char *message);


void jy_http_options_init(jy_http_options *options)
{
    options->max_body = 1024 * 1024;
    options->max_header_bytes = 64 * 1024;
    options->request_timeout_ms = 10 * 1000;
    options->idle_timeout_ms = 60 * 1000;
    options->max_connections = 1024;
}


static void server_log(jy_http_server *server, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void server_log(jy_http_server *server, const char *fmt, ...)
{
    if (server->log == NULL)
        return;

    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    server->log(server->ctx, line);
}


/* Frees the server and calls closed(ctx) once the listener, every
 * connection and every refused connection have closed. */
static void server_maybe_finish(jy_http_server *server)
{
    if (!server->closing || server->listener_open || server->conn_count > 0
        || server->rejected_open > 0)
        return;

    void (*closed)(void *) = server->closed;
    void *closed_ctx = server->closed_ctx;
    free(server);
    if (closed != NULL)
        closed(closed_ctx);
}


/* Formats the current time as an IMF-fixdate (RFC 9110, section 5.6.7).
 * The names are spelled out because strftime's %a and %b follow the
 * locale. */
static void format_http_date(char *out, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL) {
        snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}


static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


/* Decodes the %XX escapes of a path into out without touching "." or
 * ".." segments. '+' stays '+' because it means a space only in
 * form-encoded queries. Returns 0, or -1 on a malformed escape or an
 * encoded NUL, which the NUL-terminated path could not carry. */
static int percent_decode(const char *text, size_t len, jy_buf *out)
{
    jy_buf_reset(out);
    jy_buf_append(out, "", 0);
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int high = hex_value(text[i + 1]);
            int low = hex_value(text[i + 2]);
            if (high < 0 || low < 0 || (high == 0 && low == 0))
                return -1;
            c = (char)(high * 16 + low);
            i += 2;
        }
        jy_buf_append(out, &c, 1);
    }
    return 0;
}


/* Finds the path and the query in a request target. An absolute-form
 * target ("http://host/p?q") is reduced to its path, and a fragment,
 * which clients should not send, is dropped. */
static void split_target(const char *target, size_t len, size_t *path_start,
                         size_t *path_len, size_t *query_start, size_t *query_len)
{
    size_t start = 0;

    if (len > 0 && target[0] != '/' && target[0] != '*') {
        const char *scheme_end = strstr(target, "://");
        if (scheme_end != NULL) {
            start = (size_t)(scheme_end - target) + 3;
            while (start < len && target[start] != '/' && target[start] != '?')
                start++;
        }
    }

    size_t end = start;
    while (end < len && target[end] != '?' && target[end] != '#')
        end++;
    *path_start = start;
    *path_len = end - start;

    *query_start = end;
    *query_len = 0;
    if (end < len && target[end] == '?') {
        *query_start = end + 1;
        size_t query_end = end + 1;
        while (query_end < len && target[query_end] != '#')
            query_end++;
        *query_len = query_end - (end + 1);
    }
}


/* Removes trailing spaces and tabs, which http-parser leaves in header
 * values. */
static void trim_value(jy_buf *value)
{
    while (value->len > 0
           && (value->data[value->len - 1] == ' ' || value->data[value->len - 1] == '\t'))
        value->data[--value->len] = '\0';
}


static void response_free(jy_http_response *response)
{
    free(response->content_type);
    free(response->allow);
    free(response->body);
    free(response->head);
    free(response);
}


/* Returns nonzero when a header value could be sent as it is: no
 * control characters, so it cannot split the header section. */
static int header_value_is_valid(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}


/* Stores the handler's status, content_type and body (copied) in
 * response. A status outside 200..599, an invalid Content-Type or a
 * failed copy turns the response into a 500 with an empty body. */
static void response_set(jy_http_response *response, jy_http_server *server, int status,
                         const char *content_type, const char *body, size_t body_len)
{
    const char *problem = NULL;

    if (status < 200 || status > 599)
        problem = "an invalid status";
    else if (content_type != NULL && !header_value_is_valid(content_type))
        problem = "a Content-Type with control characters";
    else if (body == NULL && body_len > 0)
        problem = "a NULL body with a nonzero length";

    if (problem == NULL) {
        response->content_type = strdup(content_type != NULL ? content_type
                                                             : "application/octet-stream");
        response->body = malloc(body_len > 0 ? body_len : 1);
        if (response->content_type == NULL || response->body == NULL)
            problem = "a response that could not be copied (out of memory)";
        else if (body_len > 0)
            memcpy(response->body, body, body_len);
    }

    if (problem != NULL) {
        server_log(server, "http: handler responded with %s (status %d), sending 500 "
                   "instead", problem, status);
        free(response->content_type);
        free(response->body);
        free(response->allow);
        response->content_type = NULL;
        response->body = NULL;
        response->allow = NULL;
        body_len = 0;
        status = 500;
    }

    response->status = status;
    response->body_len = body_len;
    response->ready = 1;
}


static void conn_timer_stop(jy_http_conn *conn)
{
    uv_timer_stop(&conn->timer);
    conn->timer_mode = JY_HTTP_TIMER_NONE;
}


static void on_conn_timer(uv_timer_t *timer);

static void conn_timer_start(jy_http_conn *conn, int mode)
{
    const jy_http_options *options = &conn->server->options;
    uint64_t timeout = JY_HTTP_LINGER_MS;

    if (mode == JY_HTTP_TIMER_IDLE)
        timeout = options->idle_timeout_ms;
    else if (mode == JY_HTTP_TIMER_REQUEST)
        timeout = options->request_timeout_ms;
    conn->timer_mode = mode;
    uv_timer_start(&conn->timer, on_conn_timer, timeout, 0);
}


static void on_conn_handle_closed(uv_handle_t *handle)
{
    jy_http_conn *conn = handle->data;

    if (--conn->handles_open > 0)
        return;

    jy_http_server *server = conn->server;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    server->conn_count--;

    jy_buf_free(&conn->url);
    jy_buf_free(&conn->field);
    jy_buf_free(&conn->value);
    jy_buf_free(&conn->content_type);
    jy_buf_free(&conn->body);
    jy_buf_free(&conn->path);
    free(conn);

    if (server->full && server->conn_count < server->options.max_connections) {
        server->full = 0;
        server_log(server, "http: below the connection limit again after closing %zu "
                   "new connections at once", server->rejected_while_full);
        server->rejected_while_full = 0;
    }
    server_maybe_finish(server);
}


/* Closes the socket at once. Ready responses still queued are freed,
 * and the others are detached for jy_http_respond to free. Writes in
 * flight are cancelled by uv_close, and their callbacks free them. */
static void conn_close(jy_http_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = 1;
    conn->parsing = 0;

    jy_http_response *response = conn->queue_head;
    while (response != NULL) {
        jy_http_response *next = response->next;
        if (response->ready) {
            response_free(response);
        } else {
            response->conn = NULL;
            response->next = NULL;
        }
        response = next;
    }
    conn->queue_head = NULL;
    conn->queue_tail = NULL;
    conn->queued = 0;

    free(conn->held_input);
    conn->held_input = NULL;
    conn->held_input_len = 0;

    uv_close((uv_handle_t *)&conn->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&conn->write_timer, on_conn_handle_closed);
}


static void on_read_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    jy_http_conn *conn = handle->data;

    (void)suggested;
    *buf = uv_buf_init(conn->server->read_buffer, sizeof conn->server->read_buffer);
}


static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static int conn_read_start(jy_http_conn *conn)
{
    if (conn->reading || conn->eof || conn->closing)
        return 0;

    int rc = uv_read_start((uv_stream_t *)&conn->tcp, on_read_alloc, on_read);
    if (rc != 0) {
        conn_close(conn);
        return rc;
    }
    conn->reading = 1;
    return 0;
}


static void conn_read_stop(jy_http_conn *conn)
{
    if (conn->reading)
        uv_read_stop((uv_stream_t *)&conn->tcp);
    conn->reading = 0;
}


static void on_shutdown(uv_shutdown_t *req, int status)
{
    jy_http_conn *conn = req->data;

    if (status < 0)
        conn_close(conn);
}


/* Shuts down the write side once every response is written and keeps
 * reading, discarding input, until the client closes or the linger
 * timer fires. */
static void conn_linger(jy_http_conn *conn)
{
    if (conn->lingering || conn->closing)
        return;
    conn->lingering = 1;
    conn->parsing = 0;

    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
        conn_close(conn);
        return;
    }

    conn_timer_start(conn, JY_HTTP_TIMER_LINGER);
    conn_read_start(conn);
}


/* Runs whenever the queue or the writes in flight shrink. It closes a
 * connection marked to close once drained, or arms the idle timer of
 * one that has nothing left to do. */
static void conn_check_drained(jy_http_conn *conn)
{
    if (conn->closing || conn->queue_head != NULL || conn->writes_in_flight > 0)
        return;

    if (conn->close_when_drained) {
        if (conn->eof)
            conn_close(conn);
        else
            conn_linger(conn);
        return;
    }

    if (!conn->in_request && conn->parsing)
        conn_timer_start(conn, JY_HTTP_TIMER_IDLE);
}


/* Closes a connection when, for idle_timeout_ms, none of its pending
 * response bytes could be handed to the kernel, which happens when the
 * client stops reading. Without this, such a client would hold its
 * connection, and server close, forever. Progress is seen only when the
 * kernel reports room in the socket buffer, so a client that reads very
 * slowly can be closed too. */
static void on_write_timer(uv_timer_t *timer)
{
    jy_http_conn *conn = timer->data;
    size_t unwritten = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
    uint64_t written = conn->bytes_queued - unwritten;

    if (conn->closing)
        return;
    if (written == conn->bytes_written) {
        server_log(conn->server, "http: write to %s timed out: the client read no "
                   "response bytes in %llu ms, so the connection was closed", conn->peer,
                   (unsigned long long)conn->server->options.idle_timeout_ms);
        conn_close(conn);
        return;
    }
    conn->bytes_written = written;
    uv_timer_start(&conn->write_timer, on_write_timer, conn->server->options.idle_timeout_ms, 0);
}


static void conn_write_started(jy_http_conn *conn, size_t len)
{
    conn->bytes_queued += len;
    if (conn->writes_in_flight++ > 0)
        return;
    conn->bytes_written = conn->bytes_queued
                          - uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
    uv_timer_start(&conn->write_timer, on_write_timer, conn->server->options.idle_timeout_ms, 0);
}


/* Runs in every write callback. Input held back for a full pipeline is
 * resumed here and not in jy_http_respond, so that responding never
 * calls the handler again from inside the caller's code. */
static void conn_write_done(jy_http_conn *conn, int status)
{
    conn->writes_in_flight--;
    if (conn->closing)
        return;

    if (status < 0) {
        conn_close(conn);
        return;
    }
    if (conn->writes_in_flight == 0)
        uv_timer_stop(&conn->write_timer);
    conn_resume_input(conn);
    conn_check_drained(conn);
}


static void on_response_written(uv_write_t *req, int status)
{
    jy_http_response *response = req->data;
    jy_http_conn *conn = response->conn;

    response_free(response);
    conn_write_done(conn, status);
}


/* Builds the status line and headers of a ready response and hands it
 * to uv_write. The response is freed in the write callback. Returns
 * 0 or a libuv error code, after which the caller closes the
 * connection. */
static int conn_write_response(jy_http_conn *conn, jy_http_response *response,
                               int close_after)
{
    int status = response->status;
    int no_body = status == 204 || status == 304;
    const char *reason = http_status_str((enum http_status)status);
    char date[40];
    jy_buf head;

    if (strcmp(reason, "<unknown>") == 0)
        reason = "";
    format_http_date(date, sizeof date);

    jy_buf_init(&head);
    jy_buf_printf(&head, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason, date);
    if (response->content_type != NULL)
        jy_buf_printf(&head, "Content-Type: %s\r\n", response->content_type);
    if (response->allow != NULL)
        jy_buf_printf(&head, "Allow: %s\r\n", response->allow);
    if (!no_body)
        jy_buf_printf(&head, "Content-Length: %zu\r\n", response->body_len);
    jy_buf_printf(&head, "Connection: %s\r\n\r\n", close_after ? "close" : "keep-alive");
    if (jy_buf_failed(&head)) {
        jy_buf_free(&head);
        response_free(response);
        return UV_ENOMEM;
    }

    uv_buf_t bufs[2];
    unsigned int buf_count = 1;
    bufs[0] = uv_buf_init(head.data, (unsigned int)head.len);
    response->head = jy_buf_take(&head);
    if (!no_body && !response->head_request && response->body_len > 0) {
        /* Set directly: uv_buf_init takes an unsigned int length. */
        bufs[1].base = response->body;
        bufs[1].len = response->body_len;
        buf_count = 2;
    }

    response->write_req.data = response;
    int rc = uv_write(&response->write_req, (uv_stream_t *)&conn->tcp, bufs, buf_count,
                      on_response_written);
    if (rc != 0) {
        response_free(response);
        return rc;
    }
    conn_write_started(conn, bufs[0].len + (buf_count == 2 ? bufs[1].len : 0));
    return 0;
}


/* Processes input that was kept back while the pipeline was full, then
 * reads again. Does nothing while input is being processed, because
 * that loop checks the pipeline itself. */
static void conn_resume_input(jy_http_conn *conn)
{
    if (conn->processing || conn->closing || !conn->parsing
        || conn->queued >= JY_HTTP_MAX_PIPELINE)
        return;

    if (conn->held_input != NULL) {
        char *input = conn->held_input;
        size_t input_len = conn->held_input_len;
        conn->held_input = NULL;
        conn->held_input_len = 0;
        conn_process_input(conn, input, input_len);
        free(input);
    }

    if (conn->held_input == NULL && conn->parsing)
        conn_read_start(conn);
}


/* Writes ready responses from the head of the queue, stopping at the
 * first one the handler has not responded to yet. */
static void conn_flush(jy_http_conn *conn)
{
    while (!conn->closing && conn->queue_head != NULL && conn->queue_head->ready) {
        jy_http_response *response = conn->queue_head;
        conn->queue_head = response->next;
        if (conn->queue_head == NULL)
            conn->queue_tail = NULL;
        conn->queued--;
        response->next = NULL;

        /* Nothing is parsed after a request that closes the connection,
         * so that response is the last one in the queue. */
        int close_after = !response->keep_alive
                          || (conn->close_when_drained && conn->queue_head == NULL);
        if (close_after) {
            conn->close_when_drained = 1;
            conn->parsing = 0;
        }
        if (conn_write_response(conn, response, close_after) != 0) {
            conn_close(conn);
            return;
        }
    }

    conn_check_drained(conn);
}


static void conn_enqueue(jy_http_conn *conn, jy_http_response *response)
{
    response->conn = conn;
    if (conn->queue_tail != NULL)
        conn->queue_tail->next = response;
    else
        conn->queue_head = response;
    conn->queue_tail = response;
    conn->queued++;
}


/* Queues an error response with a JSON body {"error": message,
 * "reason": reason} behind the pending responses, and logs the
 * rejection.
 * Returns 0, or -1 when out of memory (the caller closes). */
static int conn_queue_error(jy_http_conn *conn, int status, const char *reason,
                            const char *message, int keep_alive)
{
    jy_http_server *server = conn->server;
    jy_http_response *response = calloc(1, sizeof *response);
    jy_buf json;

    server_log(server, "http: rejected request from %s: %d %s", conn->peer, status, message);

    jy_buf_init(&json);
    jy_buf_append_str(&json, "{\"error\":");
    jy_buf_append_json_string(&json, message);
    jy_buf_append_str(&json, ",\"reason\":");
    jy_buf_append_json_string(&json, reason);
    jy_buf_append_str(&json, "}");
    if (response == NULL || jy_buf_failed(&json)) {
        free(response);
        jy_buf_free(&json);
        return -1;
    }

    response->keep_alive = keep_alive;
    response->ready = 1;
    response->status = status;
    response->content_type = strdup("application/json");
    response->body_len = json.len;
    response->body = jy_buf_take(&json);
    if (response->content_type == NULL) {
        response_free(response);
        return -1;
    }
    conn_enqueue(conn, response);
    return 0;
}


/* Rejects the request being parsed. The error response goes out after
 * the pending responses, and the connection then closes, because the
 * rest of the input cannot be framed. */
static void conn_reject(jy_http_conn *conn, int status, const char *reason,
                        const char *message)
{
    conn->parsing = 0;
    conn->in_request = 0;
    conn_timer_stop(conn);
    free(conn->held_input);
    conn->held_input = NULL;
    conn->held_input_len = 0;

    if (conn_queue_error(conn, status, reason, message, 0) != 0) {
        conn_close(conn);
        return;
    }

    /* Reading goes on, so that EOF and resets are noticed, but input is
     * now discarded. */
    conn_read_start(conn);
    conn_flush(conn);
}


static void on_continue_written(uv_write_t *req, int status)
{
    jy_http_conn *conn = req->data;

    free(req);
    conn_write_done(conn, status);
}


/* Sends "100 Continue" to a request with "Expect: 100-continue" whose
 * body fits max_body. It goes out only when no earlier response is
 * still queued, because an interim response must not come before the
 * responses to earlier requests. Otherwise the client sends the body
 * after its own wait (one second in curl). */
static void conn_send_continue(jy_http_conn *conn)
{
    static char text[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int has_body = (conn->parser.flags & F_CHUNKED) != 0
                   || ((conn->parser.flags & F_CONTENTLENGTH) != 0
                       && conn->parser.content_length > 0);

    if (!conn->expect_continue || !has_body || conn->queue_head != NULL
        || conn->parser.http_major != 1 || conn->parser.http_minor < 1)
        return;

    uv_write_t *req = malloc(sizeof *req);
    if (req == NULL)
        return;
    uv_buf_t buf = uv_buf_init(text, sizeof text - 1);
    req->data = conn;
    if (uv_write(req, (uv_stream_t *)&conn->tcp, &buf, 1, on_continue_written) != 0) {
        free(req);
        conn_close(conn);
        return;
    }
    conn_write_started(conn, buf.len);
}


/* Hands the complete request to the handler with a new response queued
 * behind the earlier ones. */
static void conn_dispatch(jy_http_conn *conn)
{
    jy_http_server *server = conn->server;
    int keep_alive = conn->keep_alive && !conn->parser.upgrade;

    conn->message_ready = 0;
    conn->headers_done = 0;
    conn->header_bytes = 0;
    conn_timer_stop(conn);

    /* The server does not switch protocols, and after a request that
     * closes the connection any further input is ignored. */
    if (!keep_alive)
        conn->parsing = 0;

    if (jy_buf_failed(&conn->url) || jy_buf_failed(&conn->body)
        || jy_buf_failed(&conn->content_type)) {
        conn_reject(conn, 500, "out_of_memory", "the server ran out of memory");
        return;
    }

    size_t path_start, path_len, query_start, query_len;
    const char *target = conn->url.data != NULL ? conn->url.data : "";
    split_target(target, conn->url.len, &path_start, &path_len, &query_start, &query_len);
    if (percent_decode(target + path_start, path_len, &conn->path) != 0) {
        if (conn_queue_error(conn, 400, "invalid_path",
                             "the request path has an invalid percent-encoding "
                             "or an encoded NUL", keep_alive) != 0)
            conn_close(conn);
        else
            conn_flush(conn);
        return;
    }
    if (jy_buf_failed(&conn->path)) {
        conn_reject(conn, 500, "out_of_memory", "the server ran out of memory");
        return;
    }

    jy_http_response *response = calloc(1, sizeof *response);
    if (response == NULL) {
        conn_reject(conn, 500, "out_of_memory", "the server ran out of memory");
        return;
    }
    response->keep_alive = keep_alive;
    response->head_request = conn->parser.method == HTTP_HEAD;
    conn_enqueue(conn, response);

    /* The query is cut out of the URL buffer in place, which is reset
     * before the next request. */
    const char *query = "";
    if (conn->url.data != NULL) {
        conn->url.data[query_start + query_len] = '\0';
        query = conn->url.data + query_start;
    }

    jy_http_request request = {
        .method = http_method_str((enum http_method)conn->parser.method),
        .path = conn->path.data,
        .query = query,
        .content_type = conn->has_content_type ? conn->content_type.data : NULL,
        .body = conn->body.data != NULL ? conn->body.data : "",
        .body_len = conn->body.len,
        .peer = conn->peer,
    };
    server->handler(server->ctx, &request, response);
}


/* Feeds input to the parser one step at a time: the parser pauses after
 * each header section and each message, so header bytes are counted
 * exactly and each request is dispatched before the next is parsed. */
static void conn_process_input(jy_http_conn *conn, const char *data, size_t len)
{
    const jy_http_options *options = &conn->server->options;
    size_t offset = 0;

    conn->processing = 1;
    while (offset < len && conn->parsing && !conn->closing) {
        if (!conn->in_request && conn->queued >= JY_HTTP_MAX_PIPELINE) {
            conn->held_input = malloc(len - offset);
            if (conn->held_input == NULL) {
                conn_close(conn);
                break;
            }
            memcpy(conn->held_input, data + offset, len - offset);
            conn->held_input_len = len - offset;
            conn_read_stop(conn);
            break;
        }

        /* The parser is fed at most one byte past the limit, so an
         * oversized header section is never parsed further. */
        int counting = !conn->headers_done;
        size_t slice = len - offset;
        size_t room = options->max_header_bytes - conn->header_bytes;
        if (counting && slice > room)
            slice = room + 1;

        size_t parsed = http_parser_execute(&conn->parser, &conn->server->settings,
                                            data + offset, slice);
        offset += parsed;
        enum http_errno error = HTTP_PARSER_ERRNO(&conn->parser);

        if (counting) {
            /* The parser pauses on the final LF of the header section
             * and consumes it on resume. */
            conn->header_bytes += parsed + (conn->headers_done ? 1 : 0);
            if (conn->header_bytes > options->max_header_bytes) {
                char message[160];
                snprintf(message, sizeof message,
                         "the request header section exceeds %zu bytes",
                         options->max_header_bytes);
                conn_reject(conn, 431, "header_too_large", message);
                break;
            }
        }

        if (error == HPE_PAUSED) {
            http_parser_pause(&conn->parser, 0);
            if (conn->message_ready)
                conn_dispatch(conn);
            else if (counting && conn->headers_done)
                conn_send_continue(conn);
            continue;
        }

        if (error != HPE_OK) {
            if (conn->reject_status != 0) {
                conn_reject(conn, conn->reject_status, conn->reject_reason,
                            conn->reject_message);
            } else if (error == HPE_HEADER_OVERFLOW) {
                conn_reject(conn, 431, "header_too_large",
                            "the request header section exceeds the parser's limit");
            } else {
                char message[160];
                snprintf(message, sizeof message, "malformed HTTP request: %s",
                         http_errno_description(error));
                conn_reject(conn, 400, "malformed_http", message);
            }
            break;
        }
    }
    conn->processing = 0;
}


static void conn_on_eof(jy_http_conn *conn)
{
    conn->eof = 1;
    conn_read_stop(conn);
    if (conn->lingering) {
        conn_close(conn);
        return;
    }

    /* A request cut short by EOF can never complete, but the responses
     * to complete ones are still written. */
    conn->parsing = 0;
    conn->in_request = 0;
    conn->close_when_drained = 1;
    conn_timer_stop(conn);
    conn_check_drained(conn);
}


static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    jy_http_conn *conn = stream->data;

    if (nread == UV_EOF) {
        conn_on_eof(conn);
        return;
    }
    if (nread < 0) {
        conn_close(conn);
        return;
    }
    if (nread > 0 && conn->parsing)
        conn_process_input(conn, buf->base, (size_t)nread);
}


static void on_conn_timer(uv_timer_t *timer)
{
    jy_http_conn *conn = timer->data;
    int mode = conn->timer_mode;

    conn->timer_mode = JY_HTTP_TIMER_NONE;
    if (conn->closing)
        return;

    if (mode == JY_HTTP_TIMER_REQUEST && conn->in_request && conn->parsing) {
        char message[160];
        snprintf(message, sizeof message, "the request was not complete within %llu ms",
                 (unsigned long long)conn->server->options.request_timeout_ms);
        conn_reject(conn, 408, "request_timeout", message);
        return;
    }

    /* An idle timeout closes without a response, because no request is
     * waiting for one. A linger timeout gives up waiting for the client. */
    if (mode == JY_HTTP_TIMER_IDLE || mode == JY_HTTP_TIMER_LINGER)
        conn_close(conn);
}


/* Parser callbacks. Each finds its connection in parser->data. */

static int on_message_begin(http_parser *parser)
{
    jy_http_conn *conn = parser->data;

    jy_buf_reset(&conn->url);
    jy_buf_reset(&conn->field);
    jy_buf_reset(&conn->value);
    jy_buf_reset(&conn->content_type);
    jy_buf_reset(&conn->body);
    conn->has_content_type = 0;
    conn->expect_continue = 0;
    conn->in_value = 0;
    conn->in_request = 1;
    conn_timer_start(conn, JY_HTTP_TIMER_REQUEST);
    return 0;
}


static int on_url(http_parser *parser, const char *at, size_t len)
{
    jy_http_conn *conn = parser->data;

    jy_buf_append(&conn->url, at, len);
    return 0;
}


/* Stores the values of the headers the server uses (Content-Type and
 * Expect) and ignores the rest. */
static void finish_header(jy_http_conn *conn)
{
    if (jy_buf_failed(&conn->field) || jy_buf_failed(&conn->value)
        || conn->field.data == NULL)
        return;

    trim_value(&conn->value);
    const char *value = conn->value.data != NULL ? conn->value.data : "";
    if (strcasecmp(conn->field.data, "Content-Type") == 0) {
        jy_buf_reset(&conn->content_type);
        jy_buf_append_str(&conn->content_type, value);
        conn->has_content_type = 1;
    } else if (strcasecmp(conn->field.data, "Expect") == 0) {
        conn->expect_continue = strcasecmp(value, "100-continue") == 0;
    }
}


static int on_header_field(http_parser *parser, const char *at, size_t len)
{
    jy_http_conn *conn = parser->data;

    if (conn->in_value) {
        finish_header(conn);
        jy_buf_reset(&conn->field);
        jy_buf_reset(&conn->value);
        conn->in_value = 0;
    }
    jy_buf_append(&conn->field, at, len);
    return 0;
}


static int on_header_value(http_parser *parser, const char *at, size_t len)
{
    jy_http_conn *conn = parser->data;

    conn->in_value = 1;
    jy_buf_append(&conn->value, at, len);
    return 0;
}


static int on_headers_complete(http_parser *parser)
{
    jy_http_conn *conn = parser->data;
    size_t max_body = conn->server->options.max_body;

    if (conn->in_value)
        finish_header(conn);
    conn->headers_done = 1;

    /* A declared length over the limit is rejected before any of the
     * body arrives. Chunked bodies are checked as they come in. */
    if ((parser->flags & F_CHUNKED) == 0 && (parser->flags & F_CONTENTLENGTH) != 0
        && parser->content_length > max_body) {
        conn->reject_status = 413;
        conn->reject_reason = "body_too_large";
        snprintf(conn->reject_message, sizeof conn->reject_message,
                 "the request body of %llu bytes exceeds the limit of %zu bytes; send "
                 "smaller batches, or raise the limit (journey serve --max-body)",
                 (unsigned long long)parser->content_length, max_body);
        return -1;
    }

    http_parser_pause(parser, 1);
    return 0;
}


static int on_body(http_parser *parser, const char *at, size_t len)
{
    jy_http_conn *conn = parser->data;
    size_t max_body = conn->server->options.max_body;

    if (len > max_body - conn->body.len) {
        conn->reject_status = 413;
        conn->reject_reason = "body_too_large";
        snprintf(conn->reject_message, sizeof conn->reject_message,
                 "the request body exceeds the limit of %zu bytes; send smaller batches, "
                 "or raise the limit (journey serve --max-body)", max_body);
        return -1;
    }
    jy_buf_append(&conn->body, at, len);
    return 0;
}


static int on_message_complete(http_parser *parser)
{
    jy_http_conn *conn = parser->data;

    conn->keep_alive = http_should_keep_alive(parser);
    conn->in_request = 0;
    conn->message_ready = 1;
    http_parser_pause(parser, 1);
    return 0;
}


static void format_peer(jy_http_conn *conn)
{
    struct sockaddr_storage addr;
    int len = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "";

    snprintf(conn->peer, sizeof conn->peer, "unknown");
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len) != 0)
        return;

    if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;
        uv_ip4_name(in, host, sizeof host);
        snprintf(conn->peer, sizeof conn->peer, "%s:%d", host, ntohs(in->sin_port));
    } else if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
        uv_ip6_name(in6, host, sizeof host);
        snprintf(conn->peer, sizeof conn->peer, "[%s]:%d", host, ntohs(in6->sin6_port));
    }
}


static void on_rejected_closed(uv_handle_t *handle)
{
    jy_http_server *server = handle->data;

    free(handle);
    server->rejected_open--;
    server_maybe_finish(server);
}


/* Accepts a connection over max_connections and closes it at once.
 * libuv stops polling the listener until the pending connection is
 * accepted, so it cannot simply be left in the backlog. */
static void server_refuse_connection(jy_http_server *server)
{
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    if (tcp == NULL) {
        /* NOTE: with no memory to accept this connection, libuv stops
         * polling the listener until a later callback accepts one. */
        server_log(server, "http: accept failed: out of memory");
        return;
    }
    uv_tcp_init(server->loop, tcp);
    tcp->data = server;
    server->rejected_open++;
    int rc = uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)tcp);
    if (rc != 0)
        server_log(server, "http: accept failed: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)tcp, on_rejected_closed);
}


static void on_connection(uv_stream_t *listener, int status)
{
    jy_http_server *server = listener->data;

    if (status < 0) {
        server_log(server, "http: accept failed: %s", uv_strerror(status));
        return;
    }
    if (server->conn_count >= server->options.max_connections) {
        if (!server->full) {
            server->full = 1;
            server_log(server, "http: connection limit of %zu reached, so new connections "
                       "are closed at once until one closes", server->options.max_connections);
        }
        server->rejected_while_full++;
        server_refuse_connection(server);
        return;
    }

    jy_http_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        server_log(server, "http: accept failed: out of memory");
        server_refuse_connection(server);
        return;
    }
    conn->server = server;
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->conn_count++;

    uv_tcp_init(server->loop, &conn->tcp);
    uv_timer_init(server->loop, &conn->timer);
    uv_timer_init(server->loop, &conn->write_timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->write_timer.data = conn;
    conn->handles_open = 3;
    jy_buf_init(&conn->url);
    jy_buf_init(&conn->field);
    jy_buf_init(&conn->value);
    jy_buf_init(&conn->content_type);
    jy_buf_init(&conn->body);
    jy_buf_init(&conn->path);
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    conn->parsing = 1;

    int rc = uv_accept(listener, (uv_stream_t *)&conn->tcp);
    if (rc != 0) {
        server_log(server, "http: accept failed: %s", uv_strerror(rc));
        conn_close(conn);
        return;
    }

    /* Responses are small and often pipelined, and Nagle's algorithm
     * would hold each back until the previous one is acknowledged. */
    uv_tcp_nodelay(&conn->tcp, 1);
    format_peer(conn);
    conn_timer_start(conn, JY_HTTP_TIMER_IDLE);
    conn_read_start(conn);
}


static void on_listener_closed(uv_handle_t *handle)
{
    jy_http_server *server = handle->data;

    server->listener_open = 0;
    server_maybe_finish(server);
}


static void free_server_on_close(uv_handle_t *handle)
{
    free(handle->data);
}


int jy_http_server_start(uv_loop_t *loop, const char *address, int port,
                         const jy_http_options *options, jy_http_handler handler,
                         jy_http_log log, void *ctx, jy_http_server **server_out,
                         jy_error *err)
{
    struct sockaddr_storage addr;
    jy_http_options defaults;

    if (loop == NULL || address == NULL || handler == NULL || server_out == NULL)
        return jy_error_set(err, JY_EINVAL, "http server: loop, address, handler and "
                            "server must not be NULL");
    if (port < 0 || port > 65535)
        return jy_error_set(err, JY_EINVAL, "invalid port %d: expected 0 to 65535", port);
    if (uv_ip4_addr(address, port, (struct sockaddr_in *)&addr) != 0
        && uv_ip6_addr(address, port, (struct sockaddr_in6 *)&addr) != 0)
        return jy_error_set(err, JY_EINVAL, "invalid listen address \"%s\": expected an "
                            "IPv4 or IPv6 address such as 127.0.0.1", address);

    if (options == NULL) {
        jy_http_options_init(&defaults);
        options = &defaults;
    }
    if (options->max_header_bytes == 0 || options->request_timeout_ms == 0
        || options->idle_timeout_ms == 0 || options->max_connections == 0)
        return jy_error_set(err, JY_EINVAL, "invalid http options: max_header_bytes, "
                            "the timeouts and max_connections must be above 0");

    jy_http_server *server = calloc(1, sizeof *server);
    if (server == NULL)
        return jy_error_set(err, JY_ENOMEM, "out of memory starting the http server");
    server->loop = loop;
    server->options = *options;
    server->handler = handler;
    server->log = log;
    server->ctx = ctx;
    http_parser_settings_init(&server->settings);
    server->settings.on_message_begin = on_message_begin;
    server->settings.on_url = on_url;
    server->settings.on_header_field = on_header_field;
    server->settings.on_header_value = on_header_value;
    server->settings.on_headers_complete = on_headers_complete;
    server->settings.on_body = on_body;
    server->settings.on_message_complete = on_message_complete;

    int rc = uv_tcp_init(loop, &server->listener);
    if (rc != 0) {
        free(server);
        return jy_error_set(err, JY_EIO, "cannot create the listening socket: %s",
                            uv_strerror(rc));
    }
    server->listener.data = server;
    server->listener_open = 1;

    rc = uv_tcp_bind(&server->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server->listener, JY_HTTP_BACKLOG, on_connection);
    if (rc == 0) {
        int len = sizeof addr;
        rc = uv_tcp_getsockname(&server->listener, (struct sockaddr *)&addr, &len);
    }
    if (rc != 0) {
        /* The handle is initialized, so the memory goes only after the
         * loop runs the close callback. */
        uv_close((uv_handle_t *)&server->listener, free_server_on_close);
        int ipv6 = strchr(address, ':') != NULL;
        return jy_error_set(err, JY_EIO, "cannot listen on %s%s%s:%d: %s%s", ipv6 ? "[" : "",
                            address, ipv6 ? "]" : "", port, uv_strerror(rc),
                            rc == UV_EADDRINUSE ? "; stop the program that listens there, or "
                                                  "give another port (port 0 picks a free one)"
                                                : "");
    }

    if (addr.ss_family == AF_INET6)
        server->port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    else
        server->port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    *server_out = server;
    jy_error_clear(err);
    return 0;
}


int jy_http_server_port(const jy_http_server *server)
{
    return server->port;
}


size_t jy_http_server_connections(const jy_http_server *server)
{
    return server->conn_count;
}


void jy_http_respond(jy_http_response *response, int status, const char *content_type,
                     const char *body, size_t body_len)
{
    if (response == NULL)
        return;

    jy_http_conn *conn = response->conn;
    if (conn == NULL) {
        response_free(response);
        return;
    }

    /* A second call for a response still queued is a caller bug, and
     * the first call's values are kept. */
    if (response->ready)
        return;
    response_set(response, conn->server, status, content_type, body, body_len);
    conn_flush(conn);
}


int jy_http_response_allow(jy_http_response *response, const char *methods)
{
    if (response == NULL || response->ready || !header_value_is_valid(methods))
        return JY_EINVAL;
    char *copy = strdup(methods);
    if (copy == NULL)
        return JY_ENOMEM;
    free(response->allow);
    response->allow = copy;
    return 0;
}


void jy_http_server_close(jy_http_server *server, void (*closed)(void *ctx), void *ctx)
{
    if (server == NULL || server->closing)
        return;
    server->closing = 1;
    server->closed = closed;
    server->closed_ctx = ctx;

    uv_close((uv_handle_t *)&server->listener, on_listener_closed);

    /* conn_close unlinks nothing until the close callbacks run, so the
     * list stays intact during this walk. */
    for (jy_http_conn *conn = server->conns; conn != NULL; conn = conn->next) {
        if (conn->closing)
            continue;
        if (conn->queue_head == NULL && conn->writes_in_flight == 0) {
            conn_close(conn);
            continue;
        }

        /* A busy connection parses nothing more, drops any request still
         * arriving, and closes after its queued responses are written. */
        conn->parsing = 0;
        conn->in_request = 0;
        conn->close_when_drained = 1;
        conn_timer_stop(conn);
        free(conn->held_input);
        conn->held_input = NULL;
        conn->held_input_len = 0;
        conn_read_start(conn);
    }
}
