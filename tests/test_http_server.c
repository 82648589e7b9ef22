/*
 * Tests of the HTTP server against real sockets on 127.0.0.1: requests
 * and responses, keep-alive, pipelining, limits, timeouts, disconnects
 * and server close.
 *
 * The server and its clients share one libuv loop. Every wait runs the
 * loop under a watchdog timer that fails the test after a few seconds,
 * and every test ends by closing the loop with no handle left.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "buffer.h"
#include "check.h"
#include "http_server.h"

/* How long one wait may take before the test fails, in milliseconds. */
#define WAIT_TIMEOUT_MS 5000

#define MAX_REQUESTS 64
#define MAX_CLIENTS 8
#define MAX_LOGS 16
#define MAX_REPLIES 64

/* Pending responses on one connection at which the server stops
 * reading: JY_HTTP_MAX_PIPELINE in host/http_server.c. */
#define PIPELINE_LIMIT 32

/* A copy of what the handler received. */
typedef struct recorded_request {
    char *method;
    char *path;
    char *query;
    char *content_type; /* NULL when the request had none */
    char *body;
    size_t body_len;
    int body_terminated; /* the body was followed by a NUL */
    char *peer;
} recorded_request;

typedef struct test_client test_client;

typedef struct test_env {
    uv_loop_t loop;
    uv_timer_t watchdog;
    uv_timer_t pause_timer;
    int timed_out;
    int paused;
    jy_http_options options;
    jy_http_server *server;
    int port;
    int defer;           /* keep responses in pending instead of responding */
    size_t response_len; /* when above 0, respond with this many 'x' bytes */
    recorded_request requests[MAX_REQUESTS];
    int request_count;
    jy_http_response *pending[MAX_REQUESTS];
    char *logs[MAX_LOGS];
    int log_count;
    int closed_count;
    test_client *clients[MAX_CLIENTS];
    int client_count;
} test_env;

struct test_client {
    test_env *env;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int connect_status; /* 1 once connected, a libuv error on failure */
    int connect_done;
    jy_buf received;
    int eof;
    int read_error;
    int closing;
    int closed;
    uv_timer_t *sip_timer; /* when set, pause reading after each read */
};

/* One response as the client read it. */
typedef struct http_reply {
    int status;
    char content_type[128];
    char connection[128];
    long content_length; /* -1 when absent */
    int has_date;
    const char *body; /* points into the client's buffer */
    size_t body_len;
} http_reply;

/* Runs the loop until cond is true or the watchdog fires, then counts a
 * check that fails with the condition's text on a timeout. */
#define RUN_UNTIL(env, cond)                                                   \
    do {                                                                       \
        watchdog_start(env);                                                   \
        while (!(cond) && !(env)->timed_out)                                   \
            uv_run(&(env)->loop, UV_RUN_ONCE);                                 \
        watchdog_stop(env);                                                    \
        check_count++;                                                         \
        if (!(cond)) {                                                         \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: timed out after %d ms waiting for %s\n",   \
                    __FILE__, __LINE__, WAIT_TIMEOUT_MS, #cond);               \
        }                                                                      \
    } while (0)


static void on_watchdog(uv_timer_t *timer)
{
    test_env *env = timer->data;

    env->timed_out = 1;
}


static void watchdog_start(test_env *env)
{
    env->timed_out = 0;
    uv_timer_start(&env->watchdog, on_watchdog, WAIT_TIMEOUT_MS, 0);
}


static void watchdog_stop(test_env *env)
{
    uv_timer_stop(&env->watchdog);
}


static void on_pause_timer(uv_timer_t *timer)
{
    test_env *env = timer->data;

    env->paused = 0;
}


/* Runs the loop for ms milliseconds, to show that something does not
 * happen. */
static void run_for(test_env *env, uint64_t ms)
{
    env->paused = 1;
    uv_timer_start(&env->pause_timer, on_pause_timer, ms, 0);
    while (env->paused)
        uv_run(&env->loop, UV_RUN_ONCE);
}


static char *copy_text(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}


static void record_handler(void *ctx, const jy_http_request *request,
                           jy_http_response *response)
{
    test_env *env = ctx;
    int index = env->request_count++;

    if (index >= MAX_REQUESTS) {
        jy_http_respond(response, 500, "text/plain", "", 0);
        return;
    }

    recorded_request *copy = &env->requests[index];
    copy->method = copy_text(request->method);
    copy->path = copy_text(request->path);
    copy->query = copy_text(request->query);
    copy->content_type = copy_text(request->content_type);
    copy->body = malloc(request->body_len + 1);
    memcpy(copy->body, request->body, request->body_len + 1);
    copy->body_len = request->body_len;
    copy->body_terminated = request->body[request->body_len] == '\0';
    copy->peer = copy_text(request->peer);

    if (env->defer) {
        env->pending[index] = response;
        return;
    }
    if (env->response_len > 0) {
        char *body = malloc(env->response_len);
        memset(body, 'x', env->response_len);
        jy_http_respond(response, 200, "text/plain", body, env->response_len);
        free(body);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "response %d", index + 1);
    jy_http_respond(response, 200, "text/plain", text, strlen(text));
}


/* Responds to the deferred request at index with "response <index + 1>". */
static void respond_pending(test_env *env, int index)
{
    char text[32];

    snprintf(text, sizeof text, "response %d", index + 1);
    CHECK(env->pending[index] != NULL);
    if (env->pending[index] == NULL)
        return;
    jy_http_respond(env->pending[index], 200, "text/plain", text, strlen(text));
    env->pending[index] = NULL;
}


static void record_log(void *ctx, const char *message)
{
    test_env *env = ctx;

    if (env->log_count < MAX_LOGS)
        env->logs[env->log_count] = strdup(message);
    env->log_count++;
}


static void on_server_closed(void *ctx)
{
    test_env *env = ctx;

    env->closed_count++;
}


static void env_init(test_env *env)
{
    memset(env, 0, sizeof *env);
    uv_loop_init(&env->loop);
    uv_timer_init(&env->loop, &env->watchdog);
    uv_timer_init(&env->loop, &env->pause_timer);
    env->watchdog.data = env;
    env->pause_timer.data = env;
    jy_http_options_init(&env->options);
}


static void env_start(test_env *env)
{
    jy_error err;
    int rc = jy_http_server_start(&env->loop, "127.0.0.1", 0, &env->options, record_handler,
                                  record_log, env, &env->server, &err);

    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "server start failed: %s\n", err.message);
        env->server = NULL;
        return;
    }
    env->port = jy_http_server_port(env->server);
    CHECK(env->port > 0);
}


/* Closes the server, waiting for closed(ctx). */
static void env_close_server(test_env *env)
{
    jy_http_server_close(env->server, on_server_closed, env);
    env->server = NULL;
    RUN_UNTIL(env, env->closed_count > 0);
}


static void on_client_closed(uv_handle_t *handle)
{
    test_client *client = handle->data;

    client->closed = 1;
}


static void on_walk_close(uv_handle_t *handle, void *arg)
{
    (void)arg;
    fprintf(stderr, "handle left open: %s\n", uv_handle_type_name(uv_handle_get_type(handle)));
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}


/* Responds to the requests the test left pending, closes the clients
 * and the server, checks that closed(ctx) ran exactly once, and closes
 * the loop, which must have no handle left. */
static void env_finish(test_env *env)
{
    for (int i = 0; i < MAX_REQUESTS; i++) {
        CHECK(env->pending[i] == NULL);
        if (env->pending[i] != NULL)
            respond_pending(env, i);
    }

    for (int i = 0; i < env->client_count; i++) {
        test_client *client = env->clients[i];
        if (!client->closing) {
            client->closing = 1;
            uv_close((uv_handle_t *)&client->tcp, on_client_closed);
        }
    }

    int started = env->server != NULL || env->closed_count > 0;
    if (env->server != NULL)
        env_close_server(env);

    uv_close((uv_handle_t *)&env->watchdog, NULL);
    uv_close((uv_handle_t *)&env->pause_timer, NULL);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    if (started)
        CHECK_INT_EQ(env->closed_count, 1);

    int rc = uv_loop_close(&env->loop);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        uv_walk(&env->loop, on_walk_close, NULL);
        uv_run(&env->loop, UV_RUN_DEFAULT);
        uv_loop_close(&env->loop);
    }

    for (int i = 0; i < env->request_count && i < MAX_REQUESTS; i++) {
        recorded_request *copy = &env->requests[i];
        free(copy->method);
        free(copy->path);
        free(copy->query);
        free(copy->content_type);
        free(copy->body);
        free(copy->peer);
    }
    for (int i = 0; i < env->log_count && i < MAX_LOGS; i++)
        free(env->logs[i]);
    for (int i = 0; i < env->client_count; i++)
        jy_buf_free(&env->clients[i]->received);
}


static void on_client_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = suggested;
}


static void on_client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);


static void on_sip_timer(uv_timer_t *timer)
{
    test_client *client = timer->data;

    if (!client->closing && !client->eof)
        uv_read_start((uv_stream_t *)&client->tcp, on_client_alloc, on_client_read);
}


static void on_client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    test_client *client = stream->data;

    if (nread > 0 && client->sip_timer != NULL) {
        uv_read_stop(stream);
        uv_timer_start(client->sip_timer, on_sip_timer, 2, 0);
    }
    if (nread > 0)
        jy_buf_append(&client->received, buf->base, (size_t)nread);
    else if (nread == UV_EOF)
        client->eof = 1;
    else if (nread < 0)
        client->read_error = (int)nread;
    free(buf->base);
}


static void on_client_connected(uv_connect_t *req, int status)
{
    test_client *client = req->data;

    client->connect_done = 1;
    client->connect_status = status == 0 ? 1 : status;
    if (status == 0)
        uv_read_start((uv_stream_t *)&client->tcp, on_client_alloc, on_client_read);
}


/* Opens a connection to the server and waits until it is established
 * (or refused: see connect_status). */
static void client_connect(test_env *env, test_client *client)
{
    struct sockaddr_in addr;

    memset(client, 0, sizeof *client);
    client->env = env;
    jy_buf_init(&client->received);
    uv_tcp_init(&env->loop, &client->tcp);
    client->tcp.data = client;
    client->connect_req.data = client;
    env->clients[env->client_count++] = client;

    uv_ip4_addr("127.0.0.1", env->port, &addr);
    uv_tcp_connect(&client->connect_req, &client->tcp, (const struct sockaddr *)&addr,
                   on_client_connected);
    RUN_UNTIL(env, client->connect_done);
}


typedef struct client_write {
    uv_write_t req;
    char data[];
} client_write;


static void on_client_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}


static void client_send(test_client *client, const char *data, size_t len)
{
    client_write *write = malloc(sizeof *write + len);
    memcpy(write->data, data, len);
    write->req.data = write;
    uv_buf_t buf = uv_buf_init(write->data, (unsigned int)len);
    int rc = uv_write(&write->req, (uv_stream_t *)&client->tcp, &buf, 1, on_client_written);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        free(write);
}


static void client_send_str(test_client *client, const char *text)
{
    client_send(client, text, strlen(text));
}


/* Closes the client's socket and waits for the close callback. */
static void client_close(test_client *client)
{
    client->closing = 1;
    uv_close((uv_handle_t *)&client->tcp, on_client_closed);
    RUN_UNTIL(client->env, client->closed);
}


/* Closes the client's socket with a TCP reset. */
static void client_reset(test_client *client)
{
    client->closing = 1;
    int rc = uv_tcp_close_reset(&client->tcp, on_client_closed);
    CHECK_INT_EQ(rc, 0);
    RUN_UNTIL(client->env, client->closed);
}


static void on_client_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    CHECK_INT_EQ(status, 0);
}


/* Shuts down the client's write side, so the server reads EOF. */
static void client_shutdown(test_client *client)
{
    int rc = uv_shutdown(&client->shutdown_req, (uv_stream_t *)&client->tcp,
                         on_client_shutdown);
    CHECK_INT_EQ(rc, 0);
}


/* Formats the client's local address as "127.0.0.1:port", the form of
 * request->peer. */
static void client_address(test_client *client, char *out, size_t size)
{
    struct sockaddr_in addr;
    int len = sizeof addr;

    uv_tcp_getsockname(&client->tcp, (struct sockaddr *)&addr, &len);
    snprintf(out, size, "127.0.0.1:%d", ntohs(addr.sin_port));
}


static void copy_header_value(const char *start, const char *end, char *out, size_t size)
{
    while (start < end && *start == ' ')
        start++;
    size_t len = (size_t)(end - start);
    if (len >= size)
        len = size - 1;
    memcpy(out, start, len);
    out[len] = '\0';
}


/* Parses the complete responses at the start of text into replies and
 * returns how many there are. A response without Content-Length has no
 * body, which is true for 100 and 204 and for nothing else this server
 * sends. */
static int parse_replies(const char *text, size_t len, http_reply *replies, int max)
{
    size_t offset = 0;
    int count = 0;

    while (count < max && offset < len) {
        const char *start = text + offset;
        const char *end = text + len;
        const char *head_end = NULL;
        for (const char *p = start; p + 4 <= end; p++) {
            if (memcmp(p, "\r\n\r\n", 4) == 0) {
                head_end = p;
                break;
            }
        }
        if (head_end == NULL)
            break;

        http_reply *reply = &replies[count];
        memset(reply, 0, sizeof *reply);
        reply->content_length = -1;
        if (sscanf(start, "HTTP/1.1 %d", &reply->status) != 1)
            break;

        const char *line = memchr(start, '\n', (size_t)(head_end - start));
        while (line != NULL && line < head_end) {
            line++;
            const char *line_end = memchr(line, '\r', (size_t)(head_end + 2 - line));
            const char *colon = memchr(line, ':', (size_t)(line_end - line));
            if (colon != NULL) {
                size_t name_len = (size_t)(colon - line);
                char value[128];
                copy_header_value(colon + 1, line_end, value, sizeof value);
                if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0)
                    snprintf(reply->content_type, sizeof reply->content_type, "%s", value);
                else if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0)
                    snprintf(reply->connection, sizeof reply->connection, "%s", value);
                else if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0)
                    reply->content_length = strtol(value, NULL, 10);
                else if (name_len == 4 && strncasecmp(line, "Date", 4) == 0)
                    reply->has_date = 1;
            }
            line = memchr(line, '\n', (size_t)(head_end + 2 - line));
        }

        size_t body_len = reply->content_length > 0 ? (size_t)reply->content_length : 0;
        const char *body = head_end + 4;
        if ((size_t)(end - body) < body_len)
            break;
        reply->body = body;
        reply->body_len = body_len;
        offset = (size_t)(body + body_len - text);
        count++;
    }
    return count;
}


static http_reply client_replies_buffer[MAX_REPLIES];

/* Returns the complete responses the client has read so far; the array
 * is overwritten by the next call. */
static int client_replies(test_client *client, http_reply **replies)
{
    int count = 0;

    if (client->received.data != NULL)
        count = parse_replies(client->received.data, client->received.len,
                              client_replies_buffer, MAX_REPLIES);
    if (replies != NULL)
        *replies = client_replies_buffer;
    return count;
}


static int client_reply_count(test_client *client)
{
    return client_replies(client, NULL);
}


/* Returns nonzero when the reply body equals text. */
static int reply_body_is(const http_reply *reply, const char *text)
{
    return reply->body_len == strlen(text) && memcmp(reply->body, text, reply->body_len) == 0;
}


static void http_serves_simple_get(void)
{
    test_env env;
    test_client client;
    http_reply *replies;
    char address[64];

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /hello?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);

    CHECK_INT_EQ(env.request_count, 1);
    recorded_request *request = &env.requests[0];
    client_address(&client, address, sizeof address);
    CHECK_STR_EQ(request->method, "GET");
    CHECK_STR_EQ(request->path, "/hello");
    CHECK_STR_EQ(request->query, "x=1&y=%20");
    CHECK(request->content_type == NULL);
    CHECK_INT_EQ(request->body_len, 0);
    CHECK(request->body_terminated);
    CHECK_STR_EQ(request->peer, address);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK(strncmp(client.received.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_INT_EQ(replies[0].status, 200);
    CHECK_STR_EQ(replies[0].content_type, "text/plain");
    CHECK_INT_EQ(replies[0].content_length, 10);
    CHECK_STR_EQ(replies[0].connection, "keep-alive");
    CHECK(replies[0].has_date);
    CHECK(reply_body_is(&replies[0], "response 1"));
    CHECK(!client.eof);
    CHECK_INT_EQ(jy_http_server_connections(env.server), 1);

    env_finish(&env);
    CHECK_INT_EQ(env.log_count, 0);
}


static void http_passes_post_body_to_handler(void)
{
    test_env env;
    test_client client;
    static const char request_text[] =
        "POST /events HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Content-Length: 5\r\n\r\n"
        "a\0b\0c";

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send(&client, request_text, sizeof request_text - 1);
    RUN_UNTIL(&env, client_reply_count(&client) == 1);

    CHECK_INT_EQ(env.request_count, 1);
    recorded_request *request = &env.requests[0];
    CHECK_STR_EQ(request->method, "POST");
    CHECK_STR_EQ(request->path, "/events");
    CHECK_STR_EQ(request->query, "");
    CHECK_STR_EQ(request->content_type, "application/json; charset=utf-8");
    CHECK_INT_EQ(request->body_len, 5);
    CHECK(memcmp(request->body, "a\0b\0c", 5) == 0);
    CHECK(request->body_terminated);

    env_finish(&env);
}


static void http_keeps_connection_alive(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);

    client_send_str(&client, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);
    client_send_str(&client, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 2);

    CHECK_INT_EQ(client_replies(&client, &replies), 2);
    CHECK_STR_EQ(replies[0].connection, "keep-alive");
    CHECK_STR_EQ(replies[1].connection, "keep-alive");
    CHECK(reply_body_is(&replies[1], "response 2"));
    CHECK_INT_EQ(env.request_count, 2);
    CHECK_STR_EQ(env.requests[1].path, "/second");
    CHECK_STR_EQ(env.requests[0].peer, env.requests[1].peer);
    CHECK_INT_EQ(jy_http_server_connections(env.server), 1);
    CHECK(!client.eof);

    env_finish(&env);
}


static void http_writes_pipelined_responses_in_order(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client,
                    "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 3);
    CHECK_STR_EQ(env.requests[0].path, "/one");
    CHECK_STR_EQ(env.requests[1].path, "/two");
    CHECK_STR_EQ(env.requests[1].body, "abc");
    CHECK_STR_EQ(env.requests[2].path, "/three");

    /* Later responses wait for the first. */
    respond_pending(&env, 2);
    respond_pending(&env, 1);
    run_for(&env, 100);
    CHECK_INT_EQ(client.received.len, 0);

    respond_pending(&env, 0);
    RUN_UNTIL(&env, client_reply_count(&client) == 3);
    CHECK_INT_EQ(client_replies(&client, &replies), 3);
    CHECK(reply_body_is(&replies[0], "response 1"));
    CHECK(reply_body_is(&replies[1], "response 2"));
    CHECK(reply_body_is(&replies[2], "response 3"));
    CHECK_STR_EQ(replies[2].connection, "keep-alive");

    env_finish(&env);
}


static void http_pauses_reading_at_pipeline_limit(void)
{
    enum { TOTAL = PIPELINE_LIMIT + 8 };
    test_env env;
    test_client client;
    http_reply *replies;
    jy_buf requests;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    jy_buf_init(&requests);
    for (int i = 0; i < TOTAL; i++)
        jy_buf_printf(&requests, "GET /item/%d HTTP/1.1\r\nHost: x\r\n\r\n", i + 1);
    client_send(&client, requests.data, requests.len);
    jy_buf_free(&requests);

    RUN_UNTIL(&env, env.request_count == PIPELINE_LIMIT);
    run_for(&env, 100);
    CHECK_INT_EQ(env.request_count, PIPELINE_LIMIT);

    /* Each response written frees one place in the pipeline. */
    for (int i = 0; i < TOTAL; i++) {
        RUN_UNTIL(&env, env.request_count > i);
        respond_pending(&env, i);
    }
    RUN_UNTIL(&env, client_reply_count(&client) == TOTAL);

    CHECK_INT_EQ(env.request_count, TOTAL);
    CHECK_STR_EQ(env.requests[TOTAL - 1].path, "/item/40");
    CHECK_INT_EQ(client_replies(&client, &replies), TOTAL);
    int in_order = 1;
    for (int i = 0; i < TOTAL; i++) {
        char text[32];
        snprintf(text, sizeof text, "response %d", i + 1);
        in_order = in_order && reply_body_is(&replies[i], text);
    }
    CHECK(in_order);

    env_finish(&env);
}


static void http_closes_http10_connection(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /old HTTP/1.0\r\n\r\n");
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 200);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0], "response 1"));
    client_close(&client);
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);

    env_finish(&env);
}


static void http_keeps_http10_connection_on_request(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);
    client_send_str(&client, "GET /b HTTP/1.0\r\n\r\n");
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 2);
    CHECK_STR_EQ(replies[0].connection, "keep-alive");
    CHECK_STR_EQ(replies[1].connection, "close");
    CHECK_INT_EQ(env.request_count, 2);

    env_finish(&env);
}


static void http_honours_connection_close(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client,
                    "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    "GET /ignored HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_STR_EQ(env.requests[0].path, "/last");

    env_finish(&env);
}


static void http_rejects_oversized_content_length(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.options.max_body = 16;
    env_start(&env);
    client_connect(&env, &client);

    /* Only the headers: the response must not wait for the body. */
    client_send_str(&client, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 413);
    CHECK_STR_EQ(replies[0].content_type, "application/json");
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0],
                        "{\"error\":\"the request body of 1000 bytes exceeds the limit of "
                        "16 bytes; send smaller batches, or raise the limit (journey serve "
                        "--max-body)\",\"reason\":\"body_too_large\"}"));
    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_CONTAINS(env.logs[0], "http: rejected request from 127.0.0.1:");
    CHECK_CONTAINS(env.logs[0], ": 413 the request body of 1000 bytes");

    env_finish(&env);
}


static void http_rejects_oversized_chunked_body(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.options.max_body = 16;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client,
                    "POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "a\r\n0123456789\r\na\r\n0123456789\r\n");
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 413);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0],
                        "{\"error\":\"the request body exceeds the limit of 16 bytes; send "
                        "smaller batches, or raise the limit (journey serve --max-body)\","
                        "\"reason\":\"body_too_large\"}"));
    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_CONTAINS(env.logs[0], ": 413 ");

    env_finish(&env);
}


static void http_accepts_chunked_body(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.options.max_body = 16;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client,
                    "POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 200);
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_INT_EQ(env.requests[0].body_len, 11);
    CHECK_STR_EQ(env.requests[0].body, "hello world");

    env_finish(&env);
}


/* Builds a GET request whose header section, request line through the
 * blank line, is exactly size bytes. */
static void build_request_of_size(jy_buf *out, size_t size)
{
    static const char start[] = "GET / HTTP/1.1\r\nX-Fill: ";
    static const char end[] = "\r\n\r\n";
    size_t fill = size - (sizeof start - 1) - (sizeof end - 1);

    jy_buf_append_str(out, start);
    for (size_t i = 0; i < fill; i++)
        jy_buf_append(out, "f", 1);
    jy_buf_append_str(out, end);
}


static void http_accepts_header_section_at_limit(void)
{
    test_env env;
    test_client client;
    http_reply *replies;
    jy_buf request;

    env_init(&env);
    env.options.max_header_bytes = 256;
    env_start(&env);
    client_connect(&env, &client);
    jy_buf_init(&request);
    build_request_of_size(&request, 256);
    CHECK_INT_EQ(request.len, 256);
    client_send(&client, request.data, request.len);
    jy_buf_free(&request);
    RUN_UNTIL(&env, client_reply_count(&client) == 1);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 200);
    CHECK_INT_EQ(env.log_count, 0);

    env_finish(&env);
}


static void http_rejects_oversized_header_section(void)
{
    test_env env;
    test_client client;
    http_reply *replies;
    jy_buf request;

    env_init(&env);
    env.options.max_header_bytes = 256;
    env_start(&env);

    /* One byte over the limit, complete. */
    client_connect(&env, &client);
    jy_buf_init(&request);
    build_request_of_size(&request, 257);
    client_send(&client, request.data, request.len);
    jy_buf_free(&request);
    RUN_UNTIL(&env, client.eof);
    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 431);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0],
                        "{\"error\":\"the request header section exceeds 256 bytes\","
                        "\"reason\":\"header_too_large\"}"));

    /* Far over the limit and never finished. */
    test_client endless;
    client_connect(&env, &endless);
    jy_buf_init(&request);
    jy_buf_append_str(&request, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        jy_buf_printf(&request, "X-Header-%d: value\r\n", i);
    client_send(&endless, request.data, request.len);
    jy_buf_free(&request);
    RUN_UNTIL(&env, endless.eof);
    CHECK_INT_EQ(client_replies(&endless, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 431);

    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 2);
    CHECK_CONTAINS(env.logs[0], ": 431 the request header section exceeds 256 bytes");
    CHECK_CONTAINS(env.logs[1], ": 431 ");

    env_finish(&env);
}


static void http_rejects_header_section_over_parser_limit(void)
{
    test_env env;
    test_client client;
    http_reply *replies;
    jy_buf request;

    env_init(&env);
    env.options.max_header_bytes = 1024 * 1024;
    env_start(&env);
    client_connect(&env, &client);

    /* http-parser rejects header sections over its compiled-in limit,
     * 80 KiB by default, whatever max_header_bytes allows. */
    jy_buf_init(&request);
    build_request_of_size(&request, 100 * 1024);
    client_send(&client, request.data, request.len);
    jy_buf_free(&request);
    RUN_UNTIL(&env, client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 431);
    CHECK(reply_body_is(&replies[0], "{\"error\":\"the request header section exceeds the "
                                     "parser's limit\",\"reason\":\"header_too_large\"}"));
    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 1);

    env_finish(&env);
}


static void http_rejects_malformed_request(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /fine HTTP/1.1\r\nHost: x\r\n\r\n"
                             "this is not http\r\n\r\n");
    RUN_UNTIL(&env, client.eof);

    /* The valid request before the garbage still gets its response first. */
    CHECK_INT_EQ(client_replies(&client, &replies), 2);
    CHECK_INT_EQ(replies[0].status, 200);
    CHECK_STR_EQ(replies[0].connection, "keep-alive");
    CHECK_INT_EQ(replies[1].status, 400);
    CHECK_STR_EQ(replies[1].content_type, "application/json");
    CHECK_STR_EQ(replies[1].connection, "close");
    CHECK(reply_body_is(&replies[1], "{\"error\":\"malformed HTTP request: invalid HTTP "
                                     "method\",\"reason\":\"malformed_http\"}"));
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_CONTAINS(env.logs[0], "http: rejected request from 127.0.0.1:");
    CHECK_CONTAINS(env.logs[0], ": 400 malformed HTTP request");

    env_finish(&env);
}


static void http_times_out_stalled_request(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.options.request_timeout_ms = 100;
    env_start(&env);
    client_connect(&env, &client);
    uint64_t sent_at = uv_now(&env.loop);
    client_send_str(&client, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    RUN_UNTIL(&env, client.eof);

    CHECK(uv_now(&env.loop) - sent_at >= 100);
    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].status, 408);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0], "{\"error\":\"the request was not complete within "
                                     "100 ms\",\"reason\":\"request_timeout\"}"));
    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_CONTAINS(env.logs[0], ": 408 the request was not complete within 100 ms");

    env_finish(&env);
}


static void http_closes_idle_connection(void)
{
    test_env env;
    test_client client;
    test_client silent;

    env_init(&env);
    env.options.idle_timeout_ms = 100;
    env_start(&env);

    client_connect(&env, &client);
    uint64_t sent_at = uv_now(&env.loop);
    client_send_str(&client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);
    size_t response_len = client.received.len;
    RUN_UNTIL(&env, client.eof);
    CHECK(uv_now(&env.loop) - sent_at >= 100);
    CHECK_INT_EQ(client.received.len, response_len);

    /* A connection that never sends a byte closes too. */
    client_connect(&env, &silent);
    RUN_UNTIL(&env, silent.eof);
    CHECK_INT_EQ(silent.received.len, 0);

    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);
    CHECK_INT_EQ(env.log_count, 0);

    env_finish(&env);
}


static void http_drops_response_after_client_reset(void)
{
    test_env env;
    test_client client;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 1);

    client_reset(&client);
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);

    /* The response handle stays valid after its connection is gone. */
    respond_pending(&env, 0);
    run_for(&env, 50);
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_INT_EQ(env.log_count, 0);

    env_finish(&env);
}


static void http_writes_response_after_half_close(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 1);

    client_shutdown(&client);
    run_for(&env, 50);
    CHECK_INT_EQ(jy_http_server_connections(env.server), 1);

    respond_pending(&env, 0);
    RUN_UNTIL(&env, client.eof);
    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0], "response 1"));
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);

    env_finish(&env);
}


static void http_drops_partial_request_on_disconnect(void)
{
    test_env env;
    test_client client;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 1);
    run_for(&env, 20);

    client_close(&client);
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);
    CHECK_INT_EQ(env.request_count, 0);
    CHECK_INT_EQ(env.log_count, 0);

    env_finish(&env);
}


static void http_decodes_percent_encoded_path(void)
{
    static const struct {
        const char *target;
        const char *path;
        const char *query;
    } cases[] = {
        {"/users/a%2Fb", "/users/a/b", ""},
        {"/users/john%20doe", "/users/john doe", ""},
        {"/users/%C3%A9l%C3%A8ve", "/users/\xc3\xa9l\xc3\xa8ve", ""},
        {"/users/../admin", "/users/../admin", ""},
        {"/users/%2E%2E/x", "/users/../x", ""},
        {"/a+b", "/a+b", ""},
        {"/search?q=a%20b&r=%2F", "/search", "q=a%20b&r=%2F"},
        {"/page#fragment", "/page", ""},
        {"http://127.0.0.1/absolute%21?k=v", "/absolute!", "k=v"},
    };
    enum { CASES = sizeof cases / sizeof cases[0] };
    test_env env;
    test_client client;
    jy_buf requests;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    jy_buf_init(&requests);
    for (int i = 0; i < CASES; i++)
        jy_buf_printf(&requests, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].target);
    client_send(&client, requests.data, requests.len);
    jy_buf_free(&requests);
    RUN_UNTIL(&env, client_reply_count(&client) == CASES);

    CHECK_INT_EQ(env.request_count, CASES);
    for (int i = 0; i < CASES && i < env.request_count; i++) {
        CHECK_STR_EQ(env.requests[i].path, cases[i].path);
        CHECK_STR_EQ(env.requests[i].query, cases[i].query);
    }

    env_finish(&env);
}


static void http_rejects_invalid_percent_encoding(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /bad%zz HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /short%4 HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /nul%00x HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /good HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 4);

    /* The framing is intact, so the connection stays usable. */
    CHECK_INT_EQ(client_replies(&client, &replies), 4);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(replies[i].status, 400);
        CHECK_STR_EQ(replies[i].connection, "keep-alive");
        CHECK(reply_body_is(&replies[i], "{\"error\":\"the request path has an invalid "
                                         "percent-encoding or an encoded NUL\","
                                         "\"reason\":\"invalid_path\"}"));
    }
    CHECK_INT_EQ(replies[3].status, 200);
    CHECK(reply_body_is(&replies[3], "response 1"));
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_STR_EQ(env.requests[0].path, "/good");
    CHECK_INT_EQ(env.log_count, 3);
    CHECK_CONTAINS(env.logs[2], ": 400 the request path has an invalid percent-encoding");
    CHECK(!client.eof);

    env_finish(&env);
}


static void http_closes_connections_over_limit(void)
{
    test_env env;
    test_client first;
    test_client second;
    test_client third;

    env_init(&env);
    env.options.max_connections = 2;
    env_start(&env);
    client_connect(&env, &first);
    client_connect(&env, &second);
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 2);

    /* The kernel completes the handshake; the server then closes. */
    client_connect(&env, &third);
    CHECK_INT_EQ(third.connect_status, 1);
    RUN_UNTIL(&env, third.eof || third.read_error != 0);
    CHECK_INT_EQ(third.received.len, 0);
    CHECK_INT_EQ(jy_http_server_connections(env.server), 2);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_STR_EQ(env.logs[0], "http: connection limit of 2 reached, so new connections "
                              "are closed at once until one closes");

    /* The connections within the limit still work. */
    client_send_str(&first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&first) == 1);

    client_close(&first);
    RUN_UNTIL(&env, env.log_count == 2);
    CHECK_STR_EQ(env.logs[1], "http: below the connection limit again after closing 1 "
                              "new connections at once");
    CHECK_INT_EQ(jy_http_server_connections(env.server), 1);

    env_finish(&env);
    CHECK_INT_EQ(env.log_count, 2);
}


static void http_close_writes_pending_response(void)
{
    test_env env;
    test_client client;
    test_client late;
    http_reply *replies;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 1);

    jy_http_server *server = env.server;
    env.server = NULL;
    jy_http_server_close(server, on_server_closed, &env);
    run_for(&env, 50);
    CHECK_INT_EQ(env.closed_count, 0);
    CHECK(!client.eof);

    /* New connections are refused at once. */
    client_connect(&env, &late);
    CHECK(late.connect_status < 0);

    respond_pending(&env, 0);
    RUN_UNTIL(&env, client.eof);
    CHECK_INT_EQ(env.closed_count, 0);
    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_STR_EQ(replies[0].connection, "close");
    CHECK(reply_body_is(&replies[0], "response 1"));

    client_close(&client);
    RUN_UNTIL(&env, env.closed_count == 1);

    env_finish(&env);
    CHECK_INT_EQ(env.closed_count, 1);
}


static void http_close_closes_idle_connections(void)
{
    test_env env;
    test_client idle;
    test_client partial;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &idle);
    client_send_str(&idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&idle) == 1);
    client_connect(&env, &partial);
    client_send_str(&partial, "GET /half HTTP/1.1\r\n");
    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 2);
    run_for(&env, 20);
    size_t idle_len = idle.received.len;

    env_close_server(&env);
    RUN_UNTIL(&env, idle.eof && partial.eof);
    CHECK_INT_EQ(idle.received.len, idle_len);
    CHECK_INT_EQ(partial.received.len, 0);
    CHECK_INT_EQ(env.closed_count, 1);

    env_finish(&env);
    CHECK_INT_EQ(env.request_count, 1);
}


static void http_sends_100_continue(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             "Expect: 100-continue\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1);
    CHECK_STR_EQ(client.received.data, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_INT_EQ(env.request_count, 0);

    client_send_str(&client, "hello");
    RUN_UNTIL(&env, client_reply_count(&client) == 2);
    CHECK_INT_EQ(client_replies(&client, &replies), 2);
    CHECK_INT_EQ(replies[0].status, 100);
    CHECK_INT_EQ(replies[1].status, 200);
    CHECK_INT_EQ(env.request_count, 1);
    CHECK_STR_EQ(env.requests[0].body, "hello");

    env_finish(&env);
}


static void http_omits_body_for_head(void)
{
    test_env env;
    test_client client;

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "HEAD /thing HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client.received.data != NULL
                        && strstr(client.received.data, "\r\n\r\n") != NULL);
    run_for(&env, 50);

    const char *text = client.received.data;
    CHECK_CONTAINS(text, "Content-Length: 10\r\n");
    CHECK(strlen(strstr(text, "\r\n\r\n")) == 4);
    CHECK_STR_EQ(env.requests[0].method, "HEAD");

    env_finish(&env);
}


static void http_sends_status_given_by_handler(void)
{
    test_env env;
    test_client client;
    http_reply *replies;

    env_init(&env);
    env.defer = 1;
    env_start(&env);
    client_connect(&env, &client);
    client_send_str(&client, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                             "DELETE /thing HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /odd HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /raw HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 4);

    jy_http_respond(env.pending[0], 404, "application/json", "{}", 2);
    CHECK_INT_EQ(jy_http_response_allow(env.pending[1], "GET\r\nX-Evil: 1"), JY_EINVAL);
    CHECK_INT_EQ(jy_http_response_allow(env.pending[1], "GET, HEAD"), 0);
    jy_http_respond(env.pending[1], 204, "text/plain", NULL, 0);
    CHECK_INT_EQ(jy_http_response_allow(env.pending[2], "POST"), 0);
    jy_http_respond(env.pending[2], 42, "text/plain", "x", 1);
    jy_http_respond(env.pending[3], 200, NULL, "raw", 3);
    for (int i = 0; i < 4; i++)
        env.pending[i] = NULL;
    RUN_UNTIL(&env, client_reply_count(&client) == 4);

    CHECK_INT_EQ(client_replies(&client, &replies), 4);
    CHECK_INT_EQ(replies[0].status, 404);
    CHECK_CONTAINS(client.received.data, "HTTP/1.1 404 Not Found\r\n");
    CHECK_STR_EQ(replies[0].content_type, "application/json");
    CHECK(reply_body_is(&replies[0], "{}"));
    CHECK_INT_EQ(replies[1].status, 204);
    CHECK_INT_EQ(replies[1].content_length, -1);
    CHECK_CONTAINS(client.received.data, "HTTP/1.1 204 No Content\r\n");
    CHECK_CONTAINS(client.received.data, "Allow: GET, HEAD\r\n");
    CHECK(strstr(client.received.data, "X-Evil") == NULL);
    CHECK(strstr(client.received.data, "Allow: POST") == NULL);
    CHECK_INT_EQ(replies[2].status, 500);
    CHECK_INT_EQ(replies[2].content_length, 0);
    CHECK_STR_EQ(replies[3].content_type, "application/octet-stream");
    CHECK(reply_body_is(&replies[3], "raw"));
    CHECK_STR_EQ(env.requests[1].method, "DELETE");
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_STR_EQ(env.logs[0], "http: handler responded with an invalid status (status 42), "
                              "sending 500 instead");

    env_finish(&env);
}


static void http_parses_request_sent_byte_by_byte(void)
{
    test_env env;
    test_client client;
    static const char text[] =
        "POST /bytes?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        "Content-Length: 4\r\n\r\nbody";

    env_init(&env);
    env_start(&env);
    client_connect(&env, &client);
    for (size_t i = 0; i < sizeof text - 1; i++) {
        client_send(&client, text + i, 1);
        uv_run(&env.loop, UV_RUN_NOWAIT);
    }
    RUN_UNTIL(&env, client_reply_count(&client) == 1);

    CHECK_INT_EQ(env.request_count, 1);
    CHECK_STR_EQ(env.requests[0].path, "/bytes");
    CHECK_STR_EQ(env.requests[0].query, "x=1");
    CHECK_STR_EQ(env.requests[0].content_type, "text/plain");
    CHECK_STR_EQ(env.requests[0].body, "body");

    env_finish(&env);
}


static void http_closes_connection_of_client_not_reading(void)
{
    test_env env;
    test_client client;

    env_init(&env);
    env.options.idle_timeout_ms = 200;
    /* Far more than the loopback socket buffers hold. */
    env.response_len = 16 * 1024 * 1024;
    env_start(&env);
    client_connect(&env, &client);
    uv_read_stop((uv_stream_t *)&client.tcp);
    uint64_t sent_at = uv_now(&env.loop);
    client_send_str(&client, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, env.request_count == 1);

    RUN_UNTIL(&env, jy_http_server_connections(env.server) == 0);
    CHECK(uv_now(&env.loop) - sent_at >= 200);
    CHECK_INT_EQ(env.log_count, 1);
    CHECK_CONTAINS(env.logs[0], "http: write to 127.0.0.1:");
    CHECK_CONTAINS(env.logs[0], " timed out: the client read no response bytes in 200 ms, "
                                "so the connection was closed");

    env_finish(&env);
}


static void http_keeps_slow_reader_connected(void)
{
    enum { RESPONSE_LEN = 8 * 1024 * 1024 };
    test_env env;
    test_client client;
    uv_timer_t sip_timer;
    http_reply *replies;

    env_init(&env);
    env.options.idle_timeout_ms = 300;
    env.response_len = RESPONSE_LEN;
    env_start(&env);
    client_connect(&env, &client);

    /* The client pauses 2 ms after every read, so the response takes
     * several write-timer periods to arrive but moves in each. A
     * connection closed in the middle would cancel the write and end the
     * stream before the whole response. The idle timer may close the
     * connection once the response is all in the kernel's buffers. */
    uv_timer_init(&env.loop, &sip_timer);
    sip_timer.data = &client;
    client.sip_timer = &sip_timer;
    client_send_str(&client, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&env, client_reply_count(&client) == 1 || client.eof);

    CHECK_INT_EQ(client_replies(&client, &replies), 1);
    CHECK_INT_EQ(replies[0].body_len, RESPONSE_LEN);

    uv_close((uv_handle_t *)&sip_timer, NULL);
    env_finish(&env);
}


static void http_start_rejects_invalid_arguments(void)
{
    uv_loop_t loop;
    jy_http_options options;
    jy_http_server *server = NULL;
    jy_error err;

    uv_loop_init(&loop);
    jy_http_options_init(&options);

    int rc = jy_http_server_start(&loop, "localhost", 0, &options, record_handler, NULL,
                                  NULL, &server, &err);
    CHECK_INT_EQ(rc, JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid listen address \"localhost\"");

    rc = jy_http_server_start(&loop, "127.0.0.1", 70000, &options, record_handler, NULL,
                              NULL, &server, &err);
    CHECK_INT_EQ(rc, JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid port 70000");

    options.max_connections = 0;
    rc = jy_http_server_start(&loop, "127.0.0.1", 0, &options, record_handler, NULL, NULL,
                              &server, &err);
    CHECK_INT_EQ(rc, JY_EINVAL);
    CHECK_CONTAINS(err.message, "max_connections");
    CHECK(server == NULL);

    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}


static void http_start_reports_port_in_use(void)
{
    test_env env;
    jy_http_server *second = NULL;
    jy_error err;
    char expected[64];

    env_init(&env);
    env_start(&env);
    int rc = jy_http_server_start(&env.loop, "127.0.0.1", env.port, &env.options,
                                  record_handler, record_log, &env, &second, &err);
    CHECK_INT_EQ(rc, JY_EIO);
    CHECK(second == NULL);
    snprintf(expected, sizeof expected, "cannot listen on 127.0.0.1:%d: ", env.port);
    CHECK_CONTAINS(err.message, expected);
    CHECK_CONTAINS(err.message, "address already in use");

    /* The failed server's handle is closed by the loop; env_finish
     * checks that nothing is left. */
    env_finish(&env);
}


int main(void)
{
    http_serves_simple_get();
    http_passes_post_body_to_handler();
    http_keeps_connection_alive();
    http_writes_pipelined_responses_in_order();
    http_pauses_reading_at_pipeline_limit();
    http_closes_http10_connection();
    http_keeps_http10_connection_on_request();
    http_honours_connection_close();
    http_rejects_oversized_content_length();
    http_rejects_oversized_chunked_body();
    http_accepts_chunked_body();
    http_accepts_header_section_at_limit();
    http_rejects_oversized_header_section();
    http_rejects_header_section_over_parser_limit();
    http_rejects_malformed_request();
    http_times_out_stalled_request();
    http_closes_idle_connection();
    http_drops_response_after_client_reset();
    http_writes_response_after_half_close();
    http_drops_partial_request_on_disconnect();
    http_decodes_percent_encoded_path();
    http_rejects_invalid_percent_encoding();
    http_closes_connections_over_limit();
    http_close_writes_pending_response();
    http_close_closes_idle_connections();
    http_sends_100_continue();
    http_omits_body_for_head();
    http_sends_status_given_by_handler();
    http_parses_request_sent_byte_by_byte();
    http_closes_connection_of_client_not_reading();
    http_keeps_slow_reader_connected();
    http_start_rejects_invalid_arguments();
    http_start_reports_port_in_use();
    return check_summary("test_http_server");
}
