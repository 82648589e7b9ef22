/*
 * The client side of W1 over HTTP: starts N runs (POST /events in
 * batches of 100), then sends each user's app/account.created as its own
 * request over CONNECTIONS keep-alive connections, and writes each
 * user's send time (milliseconds since 1970) to SENT_CSV as "n,ms".
 *
 *   w1_client PORT N CONNECTIONS SENT_CSV
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct connection {
    int fd;
    char in[65536];
    size_t used;
} connection;


static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void send_body(connection *c, const char *body, size_t len)
{
    static char request[1 << 20];
    int head = snprintf(request, 256, "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                        len);
    memcpy(request + head, body, len);
    size_t total = (size_t)head + len;
    if (write(c->fd, request, total) != (ssize_t)total) {
        perror("w1_client: write");
        exit(1);
    }
}


/* Reads until one whole response arrived, and exits on anything but 200. */
static void read_answer(connection *c)
{
    for (;;) {
        c->in[c->used] = '\0';
        char *end = strstr(c->in, "\r\n\r\n");
        if (end != NULL) {
            char *length = strstr(c->in, "Content-Length:");
            size_t body = length != NULL && length < end ? (size_t)atol(length + 15) : 0;
            size_t total = (size_t)(end + 4 - c->in) + body;
            if (c->used >= total) {
                if (strncmp(c->in, "HTTP/1.1 200", 12) != 0) {
                    fprintf(stderr, "w1_client: unexpected response %.200s\n", c->in);
                    exit(1);
                }
                memmove(c->in, c->in + total, c->used - total);
                c->used -= total;
                return;
            }
        }
        ssize_t n = read(c->fd, c->in + c->used, sizeof c->in - c->used - 1);
        if (n <= 0) {
            fprintf(stderr, "w1_client: connection closed\n");
            exit(1);
        }
        c->used += (size_t)n;
    }
}


int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: w1_client PORT N CONNECTIONS SENT_CSV\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[2]);
    int count = atoi(argv[3]);
    FILE *sent = fopen(argv[4], "w");

    connection *conns = calloc((size_t)count, sizeof *conns);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    for (int i = 0; i < count; i++) {
        conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(conns[i].fd, (struct sockaddr *)&address, sizeof address) != 0) {
            perror("w1_client: connect");
            return 1;
        }
    }

    /* Start phase: batches of 100, one batch in flight per connection. */
    static char body[1 << 19];
    long next = 0;
    while (next < n) {
        int used_conns = 0;
        for (int c = 0; c < count && next < n; c++, used_conns++) {
            size_t len = 0;
            body[len++] = '[';
            for (int k = 0; k < 100 && next < n; k++, next++)
                len += (size_t)snprintf(body + len, sizeof body - len,
                                        "%s{\"user\":\"u%ld\",\"name\":\"app/started\","
                                        "\"data\":{\"email\":\"u%ld@example.test\",\"n\":%ld}}",
                                        k > 0 ? "," : "", next, next, next);
            body[len++] = ']';
            send_body(&conns[c], body, len);
        }
        for (int c = 0; c < used_conns; c++)
            read_answer(&conns[c]);
    }
    fprintf(stderr, "w1_client: %ld runs started\n", n);
    printf("started\n");
    fflush(stdout);

    /* Wait for the go-ahead on stdin, so the memory can be read. */
    char go[16];
    if (fgets(go, sizeof go, stdin) == NULL)
        return 1;

    /* Delivery: one event per request, one request in flight per
     * connection. */
    next = 0;
    while (next < n) {
        int used_conns = 0;
        for (int c = 0; c < count && next < n; c++, used_conns++, next++) {
            int len = snprintf(body, sizeof body,
                               "{\"user\":\"u%ld\",\"name\":\"app/account.created\","
                               "\"data\":{\"email\":\"u%ld@example.test\"}}", next, next);
            fprintf(sent, "%ld,%lld\n", next, wall_ms());
            send_body(&conns[c], body, (size_t)len);
        }
        for (int c = 0; c < used_conns; c++)
            read_answer(&conns[c]);
    }
    fclose(sent);
    return 0;
}
