/*
 * journey send: posts events to a running `journey serve`.
 *
 *   journey send NAME --user U [--data JSON] [--id ID] [--url URL]
 *   journey send --file events.jsonl [--url URL]
 *
 * It speaks plain HTTP/1.1 over a blocking socket: one request per
 * batch, answered once the server has committed the events.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "cli.h"
#include "event_parse.h"
#include "json_scan.h"
#include "option_hint.h"
#include "store_option.h"
#include "usage_error.h"

#define DEFAULT_URL "http://127.0.0.1:8640"
#define BATCH_EVENTS 500

static const char send_usage[] =
    "usage: journey send NAME --user USER [--data JSON] [--id ID] [--url URL]\n"
    "       journey send --file FILE [--url URL]\n"
    "\n"
    "Posts events to a running journey serve and prints its response.\n"
    "\n"
    "options:\n"
    "  --user USER   the user the event is about\n"
    "  --data JSON   the event's data, a JSON object (default {})\n"
    "  --id ID       an idempotency key, unique per user\n"
    "  --file FILE   JSON Lines, one event per line (- for stdin), sent in batches\n"
    "                of 500\n"
    "  --url URL     the server (default http://127.0.0.1:8640)\n";


/* Splits "http://HOST:PORT" into host and port. */
static int parse_url(const char *url, char *host, size_t size, char *port, size_t port_size)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://") != NULL)
        return -1;

    const char *end = p + strcspn(p, "/");
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon != NULL ? colon : end;
    if (host_end == p || (size_t)(host_end - p) >= size)
        return -1;
    memcpy(host, p, (size_t)(host_end - p));
    host[host_end - p] = '\0';
    if (colon != NULL) {
        size_t n = (size_t)(end - colon - 1);
        if (n == 0 || n >= port_size)
            return -1;
        memcpy(port, colon + 1, n);
        port[n] = '\0';
    } else {
        snprintf(port, port_size, "80");
    }
    return 0;
}


/* Posts body to /events and prints a 2xx response. Returns 0 when every
 * event was stored or a duplicate, 1 otherwise, with *http_status set to
 * the response's status (0 when there was none). Without rejection, a
 * response that is not 2xx is printed on stderr; with it, its body is
 * kept there for the caller. */
static int post_events(const char *url, const char *body, size_t len, int *http_status,
                       jy_buf *rejection)
{
    *http_status = 0;
    char host[256], port[16];
    if (parse_url(url, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "journey send: invalid --url \"%s\": use http://HOST:PORT\n", url);
        return 2;
    }

    struct addrinfo hints = {0}, *addresses = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &addresses);
    if (rc != 0) {
        fprintf(stderr, "journey send: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return 1;
    }
    int fd = -1;
    for (struct addrinfo *a = addresses; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(addresses);
    if (fd < 0) {
        fprintf(stderr, "journey send: cannot connect to %s:%s: %s; is journey serve running?\n",
                host, port, strerror(errno));
        return 1;
    }

    jy_buf request;
    jy_buf_init(&request);
    jy_buf_printf(&request, "POST /events HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: "
                            "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                  host, port, len);
    jy_buf_append(&request, body, len);
    size_t sent = 0;
    while (!jy_buf_failed(&request) && sent < request.len) {
        ssize_t n = write(fd, request.data + sent, request.len - sent);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    int complete = !jy_buf_failed(&request) && sent == request.len;
    jy_buf_free(&request);
    if (!complete) {
        fprintf(stderr, "journey send: sending to %s:%s failed: %s\n", host, port, strerror(errno));
        close(fd);
        return 1;
    }

    jy_buf answer;
    jy_buf_init(&answer);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        jy_buf_append(&answer, chunk, (size_t)n);
    close(fd);
    if (answer.len == 0 || jy_buf_failed(&answer)) {
        fprintf(stderr, "journey send: %s:%s closed the connection without a response\n", host,
                port);
        jy_buf_free(&answer);
        return 1;
    }

    int status = 0;
    sscanf(answer.data, "HTTP/%*s %d", &status);
    *http_status = status;
    const char *payload = strstr(answer.data, "\r\n\r\n");
    payload = payload != NULL ? payload + 4 : answer.data;
    /* A 200 lists each event; one the host could not store (it was
     * closing, say) has an error instead of a seq. */
    int stored = status / 100 == 2 && strstr(payload, "{\"error\":") == NULL;
    if (!stored && status / 100 != 2 && rejection != NULL)
        jy_buf_append(rejection, payload, strcspn(payload, "\r\n"));
    else
        fputs(payload, stored ? stdout : stderr);
    jy_buf_free(&answer);
    return stored ? 0 : 1;
}


/* The lines of one batch with their line numbers, kept so that a batch
 * the server rejects can be sent again line by line. */
typedef struct batch {
    jy_buf body;       /* "[line,line,..." */
    jy_buf lines;      /* the lines, each ending with NUL */
    size_t numbers[BATCH_EVENTS];
    int count;
} batch;


/* Sends each line of a rejected batch on its own, so that only the lines
 * the server rejects are lost. Each of those is named with its line
 * number. Returns 0, or 1 when the server could not be reached. */
static int send_one_by_one(const char *url, const char *path, const batch *pending, size_t *skipped)
{
    const char *line = pending->lines.data;

    for (int i = 0; i < pending->count; i++, line += strlen(line) + 1) {
        jy_buf rejection;
        jy_buf_init(&rejection);
        int http_status = 0;
        if (post_events(url, line, strlen(line), &http_status, &rejection) != 0) {
            if (http_status != 400 && http_status != 413 && http_status != 422) {
                jy_buf_free(&rejection);
                fprintf(stderr, "journey send: %s: lines %zu to %zu and the rest of the file "
                                "were not sent; send them again once the server accepts them "
                                "(ids make a repeat harmless)\n",
                        path, pending->numbers[i], pending->numbers[pending->count - 1]);
                return 1;
            }
            fprintf(stderr, "journey send: %s:%zu: rejected by the server: %s; line not sent\n",
                    path, pending->numbers[i], rejection.data != NULL ? rejection.data : "");
            (*skipped)++;
        }
        jy_buf_free(&rejection);
    }
    return 0;
}


/* Posts a batch and empties it. The server takes a batch whole or not at
 * all, so a batch whose content it rejects (400, 413 or 422) is sent
 * again line by line.
 * Returns 1 when the server could not be reached, and the caller stops,
 * because the server is likely gone. */
static int post_batch(const char *url, const char *path, batch *pending, size_t *skipped)
{
    jy_buf_append_str(&pending->body, "]");
    int http_status = 0;
    int status = 0;
    if (jy_buf_failed(&pending->body) || jy_buf_failed(&pending->lines)) {
        fprintf(stderr, "journey send: out of memory reading %s\n", path);
        status = 1;
    } else {
        jy_buf rejection;
        jy_buf_init(&rejection);
        if (post_events(url, pending->body.data, pending->body.len, &http_status, &rejection) != 0) {
            /* Only a rejection of the content is worth a retry line by
             * line. A 408 or 429 means the client should come back later. */
            if (http_status == 400 || http_status == 413 || http_status == 422) {
                status = send_one_by_one(url, path, pending, skipped);
            } else {
                if (rejection.len > 0)
                    fprintf(stderr, "journey send: the server responded with %d: %s\n", http_status,
                            rejection.data);
                fprintf(stderr, "journey send: %s: lines %zu to %zu and the rest of the file "
                                "were not sent; send them again once the server accepts them "
                                "(ids make a repeat harmless)\n",
                        path, pending->numbers[0], pending->numbers[pending->count - 1]);
                status = 1;
            }
        }
        jy_buf_free(&rejection);
    }
    jy_buf_reset(&pending->body);
    jy_buf_reset(&pending->lines);
    pending->count = 0;
    return status;
}


/* Sends a JSON Lines file in batches, as JSON arrays. Each line is
 * checked here first, so that one invalid line costs only itself, and a
 * batch the server still rejects is sent again line by line. */
static int send_file(const char *url, const char *path)
{
    FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (file == NULL) {
        fprintf(stderr, "journey send: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }

    batch pending = {.count = 0};
    jy_buf_init(&pending.body);
    jy_buf_init(&pending.lines);
    char *line = NULL;
    size_t capacity = 0;
    size_t number = 0, skipped = 0, queued = 0;
    int status = 0;
    ssize_t len;

    while (status == 0 && (len = getline(&line, &capacity, file)) >= 0) {
        number++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';

        /* A byte order mark that an editor put at the start of the file
         * is not part of the first event (RFC 8259, section 8.1). */
        size_t bom = number == 1 ? jy_utf8_bom_length(line, (size_t)len) : 0;
        if (bom > 0) {
            len -= (ssize_t)bom;
            memmove(line, line + bom, (size_t)len + 1);
        }
        if (strspn(line, " \t") == (size_t)len)
            continue;

        /* The lines of a batch are kept NUL-terminated, and the server
         * rejects a NUL byte anyway. */
        const char *nul = memchr(line, '\0', (size_t)len);
        if (nul != NULL) {
            fprintf(stderr, "journey send: %s:%zu: a NUL byte at character %zu; line not sent\n",
                    path, number, (size_t)(nul - line) + 1);
            skipped++;
            continue;
        }

        jy_error err;
        jy_error_clear(&err);
        jy_event *event = jy_event_parse(line, (size_t)len, 0, 0, &err);
        if (event == NULL) {
            fprintf(stderr, "journey send: %s:%zu: %s; line not sent\n", path, number,
                    err.message);
            skipped++;
            continue;
        }
        jy_event_free(event);

        jy_buf_append_str(&pending.body, pending.count == 0 ? "[" : ",");
        jy_buf_append(&pending.body, line, (size_t)len);
        jy_buf_append(&pending.lines, line, (size_t)len + 1);
        pending.numbers[pending.count++] = number;
        queued++;
        if (pending.count == BATCH_EVENTS)
            status = post_batch(url, path, &pending, &skipped);
    }
    /* getline ends on a read error as on the end of the file; a
     * directory given as the file fails this way. */
    int read_failed = status == 0 && ferror(file);
    int read_errno = errno;

    if (status == 0 && pending.count > 0)
        status = post_batch(url, path, &pending, &skipped);

    free(line);
    jy_buf_free(&pending.body);
    jy_buf_free(&pending.lines);
    if (file != stdin)
        fclose(file);
    if (read_failed && status == 0) {
        if (number == 0)
            fprintf(stderr, "journey send: cannot read %s: %s\n", path, strerror(read_errno));
        else
            fprintf(stderr, "journey send: cannot read %s after line %zu: %s; the lines up "
                            "to it were sent\n", path, number, strerror(read_errno));
        return 1;
    }

    /* Nothing to send is not a failure, but most likely the wrong file. */
    if (status == 0 && queued == 0 && skipped == 0)
        fprintf(stderr, "journey send: %s has no events, only blank lines or none; nothing "
                        "was sent\n", path);
    if (skipped > 0) {
        fprintf(stderr, "journey send: %s: %zu line%s not sent; fix %s and send %s again\n",
                path, skipped, skipped == 1 ? "" : "s", skipped == 1 ? "it" : "them",
                skipped == 1 ? "it" : "them");
        if (status == 0)
            status = 1;
    }
    return status;
}


int jy_cli_send(int argc, char **argv)
{
    const char *url = DEFAULT_URL, *name = NULL, *user = NULL, *data = "{}", *id = NULL;
    const char *file = NULL;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(send_usage, stdout);
            return 0;
        }
        if (arg[0] != '-' && name == NULL) {
            name = arg;
            continue;
        }
        if (arg[0] != '-') {
            jy_cli_usage_error("send", "unexpected argument \"%s\" after the event name \"%s\"",
                               arg, name);
            return 2;
        }
        static const char *const known[] = {"--url", "--user", "--data", "--id", "--file",
                                            NULL};
        if (!jy_cli_is_one_of(arg, known)) {
            jy_cli_unknown_option("send", arg, send_usage);
            return 2;
        }
        if (i + 1 >= argc) {
            jy_cli_usage_error("send", "%s needs a value", arg);
            return 2;
        }
        const char *value = argv[++i];
        if (strcmp(arg, "--url") == 0)
            url = value;
        else if (strcmp(arg, "--user") == 0)
            user = value;
        else if (strcmp(arg, "--data") == 0)
            data = value;
        else if (strcmp(arg, "--id") == 0)
            id = value;
        else if (strcmp(arg, "--file") == 0)
            file = value;
        else {
            jy_cli_unknown_option("send", arg, send_usage);
            return 2;
        }
    }

    if (file != NULL && (name != NULL || user != NULL || id != NULL || strcmp(data, "{}") != 0)) {
        jy_cli_usage_error("send", "--file sends the events of its lines; give either --file "
                                   "or an event NAME with --user, --data and --id");
        return 2;
    }
    if (file != NULL)
        return send_file(url, file);
    if (name == NULL || user == NULL) {
        jy_cli_usage_error("send", "give an event NAME and --user, or --file");
        return 2;
    }

    /* Checked here, so that an error points into --data rather than into
     * the request body built around it. */
    size_t pos = 0;
    jy_json_span span;
    jy_error err;
    jy_error_clear(&err);
    size_t data_len = strlen(data);
    int valid = jy_json_scan_value(data, data_len, &pos, &span, &err) == 0 &&
                span.type == JY_JSON_OBJECT;
    if (valid) {
        jy_json_skip_space(data, data_len, &pos);
        valid = pos == data_len;
    }
    if (!valid) {
        fprintf(stderr, "journey send: invalid --data %s: %s; give a JSON object such as "
                        "'{\"plan\":\"pro\"}'\n", data,
                err.message[0] != '\0' ? err.message : "not one JSON object");
        return 2;
    }

    jy_buf body;
    jy_buf_init(&body);
    jy_buf_append_str(&body, "{\"user\":");
    jy_buf_append_json_string(&body, user);
    jy_buf_append_str(&body, ",\"name\":");
    jy_buf_append_json_string(&body, name);
    if (id != NULL) {
        jy_buf_append_str(&body, ",\"id\":");
        jy_buf_append_json_string(&body, id);
    }
    jy_buf_append_str(&body, ",\"data\":");
    jy_buf_append_str(&body, data);
    jy_buf_append_str(&body, "}");
    int http_status = 0;
    int status = jy_buf_failed(&body) ? 1 : post_events(url, body.data, body.len, &http_status,
                                                        NULL);
    jy_buf_free(&body);
    return status;
}
