/*
 * A small HTTP/1.1 server on libuv, for the event API of `journey
 * serve`. It parses requests with http-parser, keeps connections alive,
 * responds to pipelined requests in the order they arrived, enforces a body
 * limit and timeouts, and hands each complete request to one handler.
 * The handler responds at once or later (after a commit) through the
 * response handle.
 *
 * Connections follow HTTP/1.1 keep-alive rules: HTTP/1.1 stays open
 * unless the request says "Connection: close", and HTTP/1.0 closes
 * unless it says "Connection: keep-alive". Up to 32 pipelined requests
 * per connection may wait for their responses. At that count the server
 * stops reading from the client until responses go out. A request with
 * "Expect: 100-continue" gets "100 Continue" when no earlier response
 * on its connection is still pending. Otherwise the client sends the
 * body after its own wait.
 *
 * A rejected request gets a JSON body {"error": "...", "reason": "..."}
 * after the responses pending before it, and the connection then
 * closes: 400 malformed_http, 408 request_timeout, 413 body_too_large,
 * 431 header_too_large. A path with an invalid percent-encoding or an
 * encoded NUL gets 400 invalid_path and keeps the connection.
 *
 * thread: every function belongs to the loop's thread.
 */
#ifndef JOURNEY_HOST_HTTP_SERVER_H
#define JOURNEY_HOST_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "error.h"

typedef struct jy_http_server jy_http_server;
typedef struct jy_http_response jy_http_response;

typedef struct jy_http_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* the path without the query, percent-decoded;
                                 "." and ".." segments are kept, '+' stays '+' */
    const char *query;        /* the raw query string without "?", or "" */
    const char *content_type; /* the Content-Type value, or NULL */
    const char *body;         /* NUL-terminated for convenience; may hold NULs */
    size_t body_len;
    const char *peer;         /* "127.0.0.1:54321", for logs */
} jy_http_request;

/* Receives each complete request. The request and its strings are
 * borrowed until the handler returns; response is valid until
 * jy_http_respond is called on it, which must happen exactly once, now or
 * later, even when the client has gone (the response is then dropped). */
typedef void (*jy_http_handler)(void *ctx, const jy_http_request *request,
                                jy_http_response *response);

/* Receives the server's own diagnostics, one line each, starting with
 * "http: ": rejected requests (with the peer), accept errors, the
 * connection limit, writes that timed out because the client stopped
 * reading, and invalid responses from the handler. */
typedef void (*jy_http_log)(void *ctx, const char *message);

/* Limits of a server. Every field but max_body must be above 0. */
typedef struct jy_http_options {
    size_t max_body;             /* larger bodies get 413, chunked ones too; default 1 MiB */
    size_t max_header_bytes;     /* larger header sections (request line through
                                    the blank line) get 431; default 64 KiB.
                                    http-parser's compiled-in limit (80 KiB by
                                    default) applies as well. */
    uint64_t request_timeout_ms; /* a request not complete this long after its
                                    first byte gets 408; default 10 s */
    uint64_t idle_timeout_ms;    /* an idle keep-alive connection closes, and so
                                    does one whose client reads no response
                                    bytes for this long; default 60 s */
    size_t max_connections;      /* further connections are closed at once; default 1024 */
} jy_http_options;

/* Fills options with the defaults named above. */
void jy_http_options_init(jy_http_options *options);

/* Starts listening on address:port, a numeric IPv4 or IPv6 address
 * (port 0 picks a free one; see jy_http_server_port). options may be
 * NULL for the defaults, and log may be NULL. Returns 0 and sets
 * *server, or JY_EINVAL for a bad argument or JY_EIO when the socket
 * cannot listen, with a message naming the address. After JY_EIO the
 * loop must run once more to release the failed socket. The server is
 * freed by jy_http_server_close. */
int jy_http_server_start(uv_loop_t *loop, const char *address, int port,
                         const jy_http_options *options, jy_http_handler handler,
                         jy_http_log log, void *ctx, jy_http_server **server,
                         jy_error *err);

/* Returns the port the server listens on. */
int jy_http_server_port(const jy_http_server *server);

/* Sends the response to a request: status (200 to 599), a Content-Type
 * (NULL sends application/octet-stream), and body, which is copied and
 * may be NULL when body_len is 0. An invalid status or a Content-Type
 * with control characters sends 500 instead and logs why. 204 and 304
 * go out without a body, and so does the response to HEAD. Responses on
 * one connection go out in request order, so a response given early
 * waits for the ones before it. Never calls the handler. */
void jy_http_respond(jy_http_response *response, int status, const char *content_type,
                     const char *body, size_t body_len);

/* Sets the Allow header of a response before jy_http_respond, as a 405
 * needs: methods is a list such as "GET, HEAD", copied. Returns 0,
 * JY_EINVAL for a list with control characters, or JY_ENOMEM. */
int jy_http_response_allow(jy_http_response *response, const char *methods);

/* Returns the number of open connections. */
size_t jy_http_server_connections(const jy_http_server *server);

/* Stops accepting, closes idle connections and lets busy ones finish
 * their pending responses, then frees the server and calls closed(ctx)
 * once, from a later loop callback. Busy connections parse no further
 * requests, and each closes after its last response is written.
 * Requests still unanswered keep their response handles valid until
 * answered, and the server waits for them while their clients stay
 * connected. A NULL server or a second call does nothing, and the
 * server must not be used after this call. */
void jy_http_server_close(jy_http_server *server, void (*closed)(void *ctx), void *ctx);

#endif
