/*
 * A bounded HTTP load for journey serve on 127.0.0.1: CONNECTIONS
 * keep-alive connections, each with one POST /events in flight, until
 * REQUESTS responses came back. Prints requests per second and latency
 * percentiles as one JSON line.
 *
 *   http_load PORT REQUESTS CONNECTIONS EVENTS_PER_REQUEST
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
    long long sent_at;
} connection;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


static int compare_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : (x > y);
}


static long counter;

static void send_request(connection *c, int events)
{
    static char body[1 << 20];
    size_t used = 0;
    body[used++] = '[';
    for (int i = 0; i < events; i++) {
        long n = counter++;
        used += (size_t)snprintf(body + used, sizeof body - used,
                                 "%s{\"id\":\"e%ld\",\"user\":\"u%ld\",\"name\":\"app/signed_up\"}",
                                 i > 0 ? "," : "", n, n % 100000);
    }
    body[used++] = ']';
    /* One write per request: head and body in two writes would meet
     * Nagle's algorithm and the peer's delayed ACK. */
    static char request[(1 << 20) + 256];
    int head_len = snprintf(request, 256,
                            "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                            "application/json\r\nContent-Length: %zu\r\n\r\n", used);
    memcpy(request + head_len, body, used);
    size_t total = (size_t)head_len + used;
    c->sent_at = now_ns();
    if (write(c->fd, request, total) != (ssize_t)total) {
        perror("http_load: write");
        exit(1);
    }
}


/* Returns 1 when a whole response is in c->in, and drops it. */
static int take_response(connection *c)
{
    c->in[c->used] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (end == NULL)
        return 0;
    char *length = strstr(c->in, "Content-Length:");
    size_t body = length != NULL && length < end ? (size_t)atol(length + 15) : 0;
    size_t total = (size_t)(end + 4 - c->in) + body;
    if (c->used < total)
        return 0;
    if (strncmp(c->in, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "http_load: unexpected response: %.200s\n", c->in);
        exit(1);
    }
    memmove(c->in, c->in + total, c->used - total);
    c->used -= total;
    return 1;
}


int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: http_load PORT REQUESTS CONNECTIONS EVENTS_PER_REQUEST\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long requests = atol(argv[2]);
    int count = atoi(argv[3]);
    int events = atoi(argv[4]);

    connection *conns = calloc((size_t)count, sizeof *conns);
    struct pollfd *fds = calloc((size_t)count, sizeof *fds);
    long long *latency = calloc((size_t)requests, sizeof *latency);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);

    long long start = now_ns();
    long sent = 0, answered = 0;
    for (int i = 0; i < count; i++) {
        conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(conns[i].fd, (struct sockaddr *)&address, sizeof address) != 0) {
            perror("http_load: connect");
            return 1;
        }
        fds[i].fd = conns[i].fd;
        fds[i].events = POLLIN;
        if (sent < requests) {
            send_request(&conns[i], events);
            sent++;
        }
    }
    while (answered < requests) {
        poll(fds, (nfds_t)count, 10000);
        for (int i = 0; i < count; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            connection *c = &conns[i];
            ssize_t n = read(c->fd, c->in + c->used, sizeof c->in - c->used - 1);
            if (n <= 0) {
                fprintf(stderr, "http_load: the server closed a connection\n");
                return 1;
            }
            c->used += (size_t)n;
            while (take_response(c)) {
                latency[answered++] = now_ns() - c->sent_at;
                if (sent < requests) {
                    send_request(c, events);
                    sent++;
                }
            }
        }
    }
    double wall = (double)(now_ns() - start) / 1e9;
    qsort(latency, (size_t)requests, sizeof *latency, compare_ll);
    printf("{\"bench\":\"http_load\",\"requests\":%ld,\"connections\":%d,\"events_per_request\":%d,"
           "\"wall_s\":%.3f,\"requests_per_s\":%.0f,\"events_per_s\":%.0f,"
           "\"latency_ms_p50\":%.3f,\"latency_ms_p99\":%.3f,\"latency_ms_max\":%.3f}\n",
           requests, count, events, wall, (double)requests / wall,
           (double)requests * events / wall, (double)latency[(requests - 1) / 2] / 1e6,
           (double)latency[(long)((double)(requests - 1) * 0.99)] / 1e6,
           (double)latency[requests - 1] / 1e6);
    for (int i = 0; i < count; i++)
        close(conns[i].fd);
    free(conns);
    free(fds);
    free(latency);
    return 0;
}
