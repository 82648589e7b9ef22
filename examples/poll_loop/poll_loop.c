/*
 * An embedding example for programs with their own event loop: the host
 * owns a loop, and this program drives it with poll() on the host's
 * backend fd and timeout. It reads events from standard input, one JSON
 * line each, prints "ok SEQ" once each is durable, and after the input
 * ends keeps running until no run is live or --for MS passed.
 *
 *   poll_loop STORE FOR_MS SCRIPT... < events.jsonl
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journey.h"

static int acknowledged;


static void on_ingested(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    if (status == JOURNEY_OK)
        printf("ok %llu\n", (unsigned long long)seq);
    else if (status == JOURNEY_EEXIST)
        printf("duplicate\n");
    else
        printf("error %d\n", status);
    fflush(stdout);
    acknowledged++;
}


static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: poll_loop STORE FOR_MS SCRIPT... < events.jsonl\n");
        return 2;
    }

    journey_config config;
    journey_config_init(&config);
    config.store = argv[1]; /* no loop: the host owns one */
    journey_host *host = NULL;
    char error[512];
    if (journey_host_new(&config, &host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "poll_loop: %s\n", error);
        return 1;
    }
    for (int i = 3; i < argc; i++)
        if (journey_load(host, argv[i]) != JOURNEY_OK) {
            fprintf(stderr, "poll_loop: %s\n", journey_error(host));
            journey_host_close(host, NULL, NULL);
            return 1;
        }
    if (journey_start(host) != JOURNEY_OK) {
        fprintf(stderr, "poll_loop: %s\n", journey_error(host));
        journey_host_close(host, NULL, NULL);
        return 1;
    }

    long long stop_at = -1;
    long long run_for = atoll(argv[2]);
    char line[65536];
    size_t used = 0;
    int skipping = 0; /* the line was too long: drop bytes up to its end */
    int input_open = 1;

    for (;;) {
        struct pollfd fds[2] = {
            {.fd = journey_backend_fd(host), .events = POLLIN},
            {.fd = input_open ? STDIN_FILENO : -1, .events = POLLIN},
        };
        int timeout = journey_backend_timeout(host);
        if (!input_open) {
            long long left = stop_at - now_ms();
            if (left <= 0 || journey_live_runs(host) == 0)
                break;
            if (timeout < 0 || timeout > left)
                timeout = (int)left;
        }
        poll(fds, 2, timeout);

        if (input_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(STDIN_FILENO, line + used, sizeof line - used);
            if (n <= 0) {
                input_open = 0;
                stop_at = now_ms() + run_for;
            } else {
                used += (size_t)n;
                size_t start = 0;
                for (size_t i = 0; i < used; i++) {
                    if (line[i] != '\n')
                        continue;
                    if (skipping)
                        skipping = 0;
                    else if (i > start &&
                             journey_ingest(host, line + start, i - start, on_ingested,
                                            NULL) != 0)
                        printf("error %s\n", journey_error(host));
                    start = i + 1;
                }
                memmove(line, line + start, used - start);
                used -= start;
                /* A full buffer without a newline contains part of a line
                 * too long to take; the rest of it is dropped. */
                if (used == sizeof line) {
                    if (!skipping)
                        printf("error line too long: an event takes at most %zu bytes\n",
                               sizeof line - 1);
                    skipping = 1;
                    used = 0;
                }
            }
        }
        journey_run_once(host);
    }

    fprintf(stderr, "poll_loop: %d events acknowledged, %llu runs still live\n", acknowledged,
            (unsigned long long)journey_live_runs(host));
    journey_host_close(host, NULL, NULL);
    return 0;
}
