/*
 * An embedding example: a TCP server on libuv that takes one event per
 * line (the JSON wire format) and answers each line once the event is
 * durable: "ok SEQ", "duplicate" or "error MESSAGE".
 *
 *   line_server PORT STORE SCRIPT...
 *
 * It listens on 127.0.0.1 only. The host shares the server's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "journey.h"

typedef struct client {
    uv_tcp_t tcp;
    char line[65536];
    size_t used;
    int skipping; /* the line was too long: drop bytes up to its end */
    int pending; /* answers still owed; the client is freed at zero */
    int closed;
} client;

typedef struct answer {
    uv_write_t write;
    client *owner;
    char text[600];
} answer;

static journey_host *host;
static uv_signal_t stop_signal;
static uv_tcp_t listener;


static void on_client_closed(uv_handle_t *handle)
{
    client *c = handle->data;
    if (c->pending == 0)
        free(c);
}


static void release(client *c)
{
    if (c->closed && c->pending == 0)
        free(c);
}


static void on_written(uv_write_t *write, int status)
{
    (void)status;
    answer *a = write->data;
    a->owner->pending--;
    release(a->owner);
    free(a);
}


static void send_line(client *c, const char *text)
{
    answer *a = malloc(sizeof *a);
    if (a == NULL)
        return;
    a->owner = c;
    a->write.data = a;
    snprintf(a->text, sizeof a->text, "%s\n", text);
    uv_buf_t buf = uv_buf_init(a->text, (unsigned)strlen(a->text));
    c->pending++;
    if (c->closed || uv_write(&a->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
        c->pending--;
        free(a);
    }
}


/* Fires after the commit that made the event durable. */
static void on_ingested(void *ctx, int status, uint64_t seq)
{
    client *c = ctx;
    char text[64];
    c->pending--;
    if (status == JOURNEY_OK)
        snprintf(text, sizeof text, "ok %llu", (unsigned long long)seq);
    else if (status == JOURNEY_EEXIST)
        snprintf(text, sizeof text, "duplicate");
    else
        snprintf(text, sizeof text, "error %d", status);
    if (!c->closed)
        send_line(c, text);
    release(c);
}


static void take_line(client *c, const char *line, size_t len)
{
    if (len == 0)
        return;
    c->pending++;
    if (journey_ingest(host, line, len, on_ingested, c) != JOURNEY_OK) {
        c->pending--;
        char text[600];
        snprintf(text, sizeof text, "error %s", journey_error(host));
        send_line(c, text);
    }
}


static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = handle->data;
    buf->base = c->line + c->used;
    buf->len = sizeof c->line - c->used;
}


static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    client *c = stream->data;
    if (nread < 0) {
        c->closed = 1;
        uv_close((uv_handle_t *)stream, on_client_closed);
        return;
    }
    c->used += (size_t)nread;

    size_t start = 0;
    for (size_t i = 0; i < c->used; i++) {
        if (c->line[i] != '\n')
            continue;
        /* The end of a line that was too long, which got its one error reply. */
        if (c->skipping)
            c->skipping = 0;
        else
            take_line(c, c->line + start, i - start);
        start = i + 1;
    }
    memmove(c->line, c->line + start, c->used - start);
    c->used -= start;
    if (c->used == sizeof c->line) {
        if (!c->skipping)
            send_line(c, "error line too long");
        c->skipping = 1;
        c->used = 0;
    }
}


static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}


static void on_stop(uv_signal_t *signal, int signum)
{
    (void)signum;
    uv_close((uv_handle_t *)&listener, NULL);
    uv_close((uv_handle_t *)signal, NULL);
    journey_host_close(host, NULL, NULL);
}


static void on_log(void *ctx, int level, uint64_t run_id, const char *journey,
                   const char *message)
{
    (void)ctx;
    if (level >= 2)
        fprintf(stderr, "journey: run %llu %s: %s\n", (unsigned long long)run_id,
                journey != NULL ? journey : "-", message);
}


int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: line_server PORT STORE SCRIPT...\n");
        return 2;
    }

    uv_loop_t *loop = uv_default_loop();
    journey_config config;
    journey_config_init(&config);
    config.loop = loop;
    config.store = argv[2];
    config.log = on_log;

    char error[512];
    if (journey_host_new(&config, &host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "line_server: %s\n", error);
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        if (journey_load(host, argv[i]) != JOURNEY_OK) {
            fprintf(stderr, "line_server: %s\n", journey_error(host));
            journey_host_close(host, NULL, NULL);
            uv_run(loop, UV_RUN_DEFAULT);
            return 1;
        }
    }
    if (journey_start(host) != JOURNEY_OK) {
        fprintf(stderr, "line_server: %s\n", journey_error(host));
        return 1;
    }

    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &address);
    uv_tcp_init(loop, &listener);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&address, 0) != 0 ||
        uv_listen((uv_stream_t *)&listener, 64, on_connection) != 0) {
        fprintf(stderr, "line_server: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    uv_signal_init(loop, &stop_signal);
    uv_signal_start(&stop_signal, on_stop, SIGTERM);
    fprintf(stderr, "line_server: listening on 127.0.0.1:%s, journey %s\n", argv[1],
            journey_version());

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
