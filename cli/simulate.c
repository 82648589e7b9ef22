/*
 * journey simulate: a backtest. Reads past events (JSON Lines), replays
 * them in timestamp order through the given journeys on a virtual
 * clock, and prints what the journeys did and a summary.
 *
 * The whole input is read and sorted before the replay, because real
 * exports are rarely in perfect order. That costs the input text while
 * parsing plus 16 bytes per event for the sort; the memory store keeps
 * every event for the run anyway, so the sort adds little on top.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "journey.h"

#include "buffer.h"
#include "cli.h"
#include "duration.h"
#include "event_parse.h"
#include "input_text.h"
#include "json_scan.h"
#include "option_hint.h"
#include "quote.h"
#include "store_option.h"
#include "timefmt.h"
#include "usage_error.h"

#define DEFAULT_HORIZON_MS (90LL * 24 * 3600 * 1000)
#define MAX_LOG_LINES 20
#define MAX_JOBS 16

static const char simulate_usage[] =
    "usage: journey simulate SCRIPT... --events FILE [options]\n"
    "\n"
    "Replays past events through the journeys in SCRIPT... on a virtual clock.\n"
    "Events are sorted by ts; deadlines fire between them in event time. After\n"
    "the last event the clock runs on until every run has ended or the horizon.\n"
    "\n"
    "options:\n"
    "  --events FILE    JSON Lines input, one event per line; - reads stdin\n"
    "  --until WHEN     horizon: an ISO-8601 time, or a duration after the last\n"
    "                   event such as 30d (default: 90d)\n"
    "  --emitted FILE   write every emitted event as JSON Lines, with its\n"
    "                   journey and run\n"
    "  --json           print only the summary, as one JSON object\n"
    "  --quiet          print the summary without the transcript\n"
    "  --show-events    also show every input event in the transcript\n"
    "  --strict         stop at the first invalid input line\n"
    "  --store SPEC     memory (default) or sqlite:PATH; with SQLite the replay is\n"
    "                   durable and a second run on the same file resumes it\n"
    "  --sync LEVEL     SQLite synchronous level: full (default) or normal\n"
    "  --commit-every N events per commit group with a durable store (default 500)\n"
    "  --acks FILE      after each commit, append one line per acknowledged\n"
    "                   event: its id, or line:N for events without one\n"
    "  --instruction-budget N  Lua instructions a run may execute between two waits\n"
    "                   before it fails (default 100000000)\n"
    "  --memory-cap BYTES  memory of all Lua code together (default 4294967296)\n"
    "  --max-journal N  steps a run may journal before it fails (default 100000)\n"
    "  --resident-runs N  keep the Lua coroutines of at most N suspended runs; the\n"
    "                   others are rebuilt from their journals when they wake\n"
    "                   (default: every run keeps its coroutine)\n"
    "  --jobs N         replay on N threads, each with its own host and a share of\n"
    "                   the users (memory store only; 1 to 16, default 1)\n"
    "  --retention D    delete runs that ended, and events no live run can reach,\n"
    "                   once they are older than D in event time (default 90d;\n"
    "                   off keeps everything)\n";

typedef struct input_event {
    journey_event *event;
    size_t line;
} input_event;

typedef struct name_count {
    char *name;
    uint64_t count;
} name_count;

/* One line of a job's transcript or emitted file, kept until the jobs'
 * outputs are merged in time order. */
typedef struct timed_line {
    jy_time at;
    char *text;
} timed_line;

typedef struct timed_lines {
    timed_line *items;
    size_t count;
    size_t capacity;
} timed_lines;

/* What one job of --jobs keeps besides its simulation: its share of the
 * input and its outputs. */
typedef struct sim_job {
    int index;
    int count;                /* jobs in all */
    size_t *inputs;           /* indices into the sorted input */
    size_t input_count;
    timed_lines transcript;
    timed_lines emitted;
    char *foreign_emit;       /* the first emit for another job's user */
} sim_job;

typedef struct simulation {
    const char *events_path;
    const char *store_spec;
    const char *acks_path;
    journey_config config;
    long commit_every;
    const char *until_text;
    const char *emitted_path;
    int json;
    int quiet;
    int show_events;
    int strict;

    FILE *emitted;
    FILE *acks;
    jy_buf pending_acks; /* acknowledgements waiting for the next commit */
    jy_buf pending_emitted; /* --emitted lines of a durable replay, written
                             * once their commit is done */
    long uncommitted;
    uint64_t groups;
    double *commit_ms;   /* duration of each commit that wrote something */
    size_t commit_count;
    size_t commit_capacity;
    const char *retention_text;
    jy_duration retention;
    uint64_t pruned_runs;
    uint64_t pruned_events;
    jy_buf line;
    name_count *emitted_names;
    size_t emitted_name_count;
    uint64_t emitted_total;
    uint64_t lines_read;
    uint64_t lines_rejected;
    uint64_t skipped_before_resume;
    uint64_t past_horizon;  /* valid input events after the horizon, not replayed */
    uint64_t resumed_past;  /* input events a previous run already committed */
    uint64_t log_lines;
    size_t position;        /* index of the next sorted input event */
    char fingerprint[24];   /* of the input text, to resume by position */
    int write_failed;
    int jobs;               /* --jobs */
    sim_job *job;           /* set in a job's own simulation */
} simulation;


/* Returns the job that replays user's events: FNV-1a of the id. */
static int job_of(const char *user, int jobs)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (int)(h % (uint64_t)jobs);
}


/* Whether the replay writes a store that a later run resumes. */
static int is_durable(const simulation *sim)
{
    return strcmp(sim->store_spec, "memory") != 0;
}


/* Numbers the runs of all jobs apart: job k's run n is run
 * (n - 1) * jobs + k + 1. */
static uint64_t global_run_id(const simulation *sim, uint64_t run_id)
{
    if (sim->job == NULL || run_id == 0)
        return run_id;
    return (run_id - 1) * (uint64_t)sim->job->count + (uint64_t)sim->job->index + 1;
}


static void keep_line(simulation *sim, timed_lines *lines, jy_time at, const char *text,
                      size_t len)
{
    if (lines->count == lines->capacity) {
        size_t capacity = lines->capacity == 0 ? 1024 : lines->capacity * 2;
        timed_line *grown = realloc(lines->items, capacity * sizeof *grown);
        if (grown == NULL) {
            sim->write_failed = 1;
            return;
        }
        lines->items = grown;
        lines->capacity = capacity;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        sim->write_failed = 1;
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    lines->items[lines->count].at = at;
    lines->items[lines->count].text = copy;
    lines->count++;
}


static void count_emitted(simulation *sim, const char *name, uint64_t n)
{
    for (size_t i = 0; i < sim->emitted_name_count; i++) {
        if (strcmp(sim->emitted_names[i].name, name) == 0) {
            sim->emitted_names[i].count += n;
            return;
        }
    }
    name_count *grown = realloc(sim->emitted_names,
                                (sim->emitted_name_count + 1) * sizeof *grown);
    char *copy = strdup(name);
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            sim->emitted_names = grown;
        return;
    }
    grown[sim->emitted_name_count].name = copy;
    grown[sim->emitted_name_count].count = n;
    sim->emitted_names = grown;
    sim->emitted_name_count++;
}


static void write_emitted(simulation *sim, const journey_trace *trace)
{
    const journey_event *event = trace->event;
    char when[JY_TIME_TEXT_SIZE];

    jy_buf_reset(&sim->line);
    jy_buf_append_str(&sim->line, "{\"user\":");
    jy_buf_append_json_string(&sim->line, event->user);
    jy_buf_append_str(&sim->line, ",\"name\":");
    jy_buf_append_json_string(&sim->line, event->name);
    jy_time_format(event->ts, when);
    jy_buf_append_str(&sim->line, ",\"ts\":");
    jy_buf_append_json_string(&sim->line, when);
    jy_buf_append_str(&sim->line, ",\"data\":");
    jy_buf_append_str(&sim->line, event->data_json);
    jy_buf_append_str(&sim->line, ",\"journey\":");
    jy_buf_append_json_string(&sim->line, trace->journey);
    jy_buf_printf(&sim->line, ",\"run\":%llu}\n", (unsigned long long)trace->run_id);
    if (jy_buf_failed(&sim->line))
        return;
    if (sim->job != NULL)
        keep_line(sim, &sim->job->emitted, trace->at, sim->line.data, sim->line.len);
    else if (is_durable(sim))
        jy_buf_append(&sim->pending_emitted, sim->line.data, sim->line.len);
    else if (fwrite(sim->line.data, 1, sim->line.len, sim->emitted) != sim->line.len)
        sim->write_failed = 1;
}


static void on_trace(void *ctx, const journey_trace *host_trace)
{
    simulation *sim = ctx;
    journey_trace trace = *host_trace;
    trace.run_id = global_run_id(sim, trace.run_id);

    if (trace.kind == JOURNEY_TRACE_EMITTED) {
        sim->emitted_total++;
        count_emitted(sim, trace.event->name, 1);
        if (sim->emitted != NULL || (sim->job != NULL && sim->emitted_path != NULL))
            write_emitted(sim, &trace);

        /* Another job replays that user, so the event would miss the runs
         * it should reach there. */
        if (sim->job != NULL && sim->job->foreign_emit == NULL &&
            job_of(trace.event->user, sim->job->count) != sim->job->index) {
            jy_buf message;
            jy_buf_init(&message);
            jy_buf_printf(&message, "journey %s emitted %s for user %s, whom another job replays "
                                "(users go to jobs by a hash of their id); run this replay "
                                "without --jobs",
                          trace.journey, trace.event->name, trace.event->user);
            sim->job->foreign_emit = jy_buf_take(&message);
        }
    }
    if (sim->quiet || sim->json)
        return;

    char *line = NULL;
    if (journey_trace_text(&trace, sim->show_events, &line) == JOURNEY_OK) {
        if (sim->job != NULL) {
            keep_line(sim, &sim->job->transcript, trace.at, line, strlen(line));
        } else {
            fputs(line, stdout);
            fputc('\n', stdout);
        }
    }
    journey_free(line);
}


/* Warnings and errors go to stderr; j.log and print reach the
 * transcript through traces. The levels are those of journey_log_fn. */
static void on_log(void *ctx, int level, uint64_t run_id, const char *journey,
                   const char *message)
{
    simulation *sim = ctx;
    if (level < 2)
        return;

    /* One bug in a journey fails every run of it; after a screenful the
     * transcript and the summary tell the rest. */
    if (++sim->log_lines > MAX_LOG_LINES) {
        if (sim->log_lines == MAX_LOG_LINES + 1)
            fprintf(stderr, "journey: further warnings and errors are not shown; failed runs "
                            "are in the transcript and the summary\n");
        return;
    }
    if (run_id != 0)
        fprintf(stderr, "journey: %s: run %llu of %s: %s\n",
                level == 2 ? "warning" : "error",
                (unsigned long long)global_run_id(sim, run_id), journey, message);
    else
        fprintf(stderr, "journey: %s: %s\n", level == 2 ? "warning" : "error", message);
}


static int compare_input(const void *a, const void *b)
{
    const input_event *x = a;
    const input_event *y = b;

    if (x->event->ts != y->event->ts)
        return x->event->ts < y->event->ts ? -1 : 1;
    return x->line < y->line ? -1 : (x->line > y->line);
}


/* Whether the events are in replay order already, as most inputs are,
 * so that the sort can be skipped. */
static int in_order(const input_event *events, size_t count)
{
    for (size_t i = 1; i < count; i++)
        if (compare_input(&events[i - 1], &events[i]) > 0)
            return 0;
    return 1;
}


/* Returns the value after the option at argv[*i] and moves *i to it, or
 * prints a usage error and returns NULL when the option is last. */
static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        jy_cli_usage_error("simulate", "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}


static int parse_args(simulation *sim, int argc, char **argv, const char ***scripts,
                      size_t *script_count)
{
    *scripts = calloc((size_t)argc, sizeof **scripts);
    if (*scripts == NULL)
        return 1;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **value = NULL;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(simulate_usage, stdout);
            exit(0);
        } else if (strcmp(arg, "--events") == 0) {
            value = &sim->events_path;
        } else if (strcmp(arg, "--until") == 0) {
            value = &sim->until_text;
        } else if (strcmp(arg, "--emitted") == 0) {
            value = &sim->emitted_path;
        } else if (strcmp(arg, "--json") == 0) {
            sim->json = 1;
        } else if (strcmp(arg, "--quiet") == 0) {
            sim->quiet = 1;
        } else if (strcmp(arg, "--show-events") == 0) {
            sim->show_events = 1;
        } else if (strcmp(arg, "--strict") == 0) {
            sim->strict = 1;
        } else if (strcmp(arg, "--store") == 0) {
            value = &sim->store_spec;
        } else if (strcmp(arg, "--acks") == 0) {
            value = &sim->acks_path;
        } else if (strcmp(arg, "--retention") == 0) {
            value = &sim->retention_text;
        } else if (strcmp(arg, "--instruction-budget") == 0 ||
                   strcmp(arg, "--memory-cap") == 0 || strcmp(arg, "--max-journal") == 0 ||
                   strcmp(arg, "--resident-runs") == 0) {
            const char *text = option_value(argc, argv, &i);
            if (text == NULL)
                return 2;
            unsigned long long n = 0;
            if (jy_cli_parse_limit(arg, text, &n) != 0) {
                fprintf(stderr, "journey simulate: invalid %s \"%s\": give a whole number, %s\n",
                        arg, text, jy_cli_limit_range(arg));
                return 2;
            }
            if (strcmp(arg, "--instruction-budget") == 0)
                sim->config.instruction_budget = n;
            else if (strcmp(arg, "--memory-cap") == 0)
                sim->config.memory_cap = (size_t)n;
            else if (strcmp(arg, "--resident-runs") == 0)
                sim->config.resident_runs = (size_t)n;
            else
                sim->config.max_journal = (uint32_t)n;
        } else if (strcmp(arg, "--jobs") == 0) {
            const char *text = option_value(argc, argv, &i);
            if (text == NULL)
                return 2;
            char *end = NULL;
            long jobs = strtol(text, &end, 10);
            if (end == text || *end != '\0' || jobs < 1 || jobs > MAX_JOBS) {
                fprintf(stderr, "journey simulate: invalid --jobs \"%s\": give a whole number "
                                "from 1 to %d\n", text, MAX_JOBS);
                return 2;
            }
            sim->jobs = (int)jobs;
        } else if (strcmp(arg, "--sync") == 0 || strcmp(arg, "--commit-every") == 0) {
            const char *text = option_value(argc, argv, &i);
            if (text == NULL)
                return 2;
            char *end = NULL;
            if (strcmp(arg, "--sync") == 0 &&
                jy_cli_parse_sync(text, &sim->config.sync_normal) != 0) {
                fprintf(stderr, "journey simulate: invalid --sync \"%s\": use full or normal\n",
                        text);
                return 2;
            }
            if (strcmp(arg, "--commit-every") == 0 &&
                ((sim->commit_every = strtol(text, &end, 10)) < 1 || *end != '\0')) {
                fprintf(stderr, "journey simulate: invalid --commit-every \"%s\": give a "
                                "whole number of events, 1 or more\n", text);
                return 2;
            }
        } else if (arg[0] == '-' && arg[1] == '-') {
            jy_cli_unknown_option("simulate", arg, simulate_usage);
            return 2;
        } else {
            (*scripts)[(*script_count)++] = arg;
        }

        if (value != NULL && (*value = option_value(argc, argv, &i)) == NULL)
            return 2;
    }

    if (sim->emitted_path != NULL && strcmp(sim->emitted_path, "-") == 0) {
        fprintf(stderr, "journey simulate: invalid --emitted \"-\": standard output carries "
                        "the transcript and the summary; give a file path such as "
                        "emitted.jsonl\n");
        return 2;
    }
    if (sim->events_path == NULL || *script_count == 0) {
        jy_cli_usage_error("simulate", "%s",
                           *script_count == 0 ? "give at least one journey script"
                                              : "missing --events FILE (use - for stdin)");
        return 2;
    }
    return 0;
}


/* Parses every line; bad lines are reported and counted, or stop the
 * run with --strict. Returns 0, or 1 when --strict stopped it. */
/* One share of the input's lines, parsed on a thread of its own. Lines
 * are numbered from 1 within the share until all shares are counted. */
typedef struct parse_part {
    const char *start;
    const char *end;
    input_event *events;
    size_t count;
    size_t capacity;
    size_t lines;           /* lines in the share, blank ones included */
    uint64_t lines_read;    /* lines that were not blank */
    uint64_t lines_rejected;
    size_t error_lines[MAX_LOG_LINES];  /* the first rejections, in order */
    char *errors[MAX_LOG_LINES];
    int out_of_memory;
    pthread_t thread;
} parse_part;


static void *parse_part_main(void *arg)
{
    parse_part *part = arg;
    const char *cursor = part->start;

    while (cursor < part->end) {
        const char *newline = memchr(cursor, '\n', (size_t)(part->end - cursor));
        const char *line = cursor;
        size_t len = newline != NULL ? (size_t)(newline - cursor) : (size_t)(part->end - cursor);
        cursor = newline != NULL ? newline + 1 : part->end;
        part->lines++;

        if (len > 0 && line[len - 1] == '\r')
            len--;
        size_t blank = 0;
        while (blank < len && (line[blank] == ' ' || line[blank] == '\t'))
            blank++;
        if (blank == len)
            continue; /* blank lines separate nothing and are skipped */
        part->lines_read++;

        /* The replay requires a ts, so no default time is needed. A byte
         * order mark past the start of the input comes from files joined
         * with cat, and the parser would name only its first byte. */
        jy_error err;
        jy_error_clear(&err);
        jy_event *event = NULL;
        if (jy_utf8_bom_length(line, len) > 0)
            jy_error_set(&err, JY_EINVAL, "the line starts with a UTF-8 byte order mark, which "
                                          "is skipped only at the start of the input (joined "
                                          "files can carry one); remove it");
        else
            event = jy_event_parse(line, len, 1, 0, &err);
        if (event == NULL) {
            if (part->lines_rejected < MAX_LOG_LINES) {
                part->error_lines[part->lines_rejected] = part->lines;
                part->errors[part->lines_rejected] = strdup(err.message);
            }
            part->lines_rejected++;
            continue;
        }

        if (part->count == part->capacity) {
            size_t capacity = part->capacity == 0 ? 1024 : part->capacity * 2;
            input_event *grown = realloc(part->events, capacity * sizeof *grown);
            if (grown == NULL) {
                jy_event_free(event);
                part->out_of_memory = 1;
                return NULL;
            }
            part->events = grown;
            part->capacity = capacity;
        }
        part->events[part->count].event = (journey_event *)event;
        part->events[part->count].line = part->lines;
        part->count++;
    }
    return NULL;
}


/* Splits text into whole lines for parts, each with about as many bytes. */
static void split_input(const char *text, size_t len, parse_part *parts, int part_count)
{
    const char *start = text;

    for (int k = 0; k < part_count; k++) {
        const char *end = text + len * (size_t)(k + 1) / (size_t)part_count;
        if (end < start)
            end = start;
        if (k == part_count - 1) {
            end = text + len;
        } else if (end < text + len) {
            const char *newline = memchr(end, '\n', (size_t)(text + len - end));
            end = newline != NULL ? newline + 1 : text + len;
        }
        parts[k].start = start;
        parts[k].end = end;
        start = end;
    }
}


/* Returns whether the first character of text past white space opens a
 * JSON array. */
static int starts_like_array(const char *text, size_t len)
{
    size_t first = 0;
    jy_json_skip_space(text, len, &first);
    return first < len && text[first] == '[';
}


/* A wrong format fails every line, so past the first lines the count
 * in the summary is enough. */
static void say_further_lines_hidden(void)
{
    fprintf(stderr, "journey simulate: further invalid lines are not shown; the summary "
                    "counts them\n");
}


/* Parses every line of text into events, on one thread per job (at
 * least two for a large input, since reading is part of a replay's
 * time), and reports rejected lines in input order. */
static int parse_input(simulation *sim, const char *text, size_t len, input_event **events,
                       size_t *count)
{
    int part_count = sim->jobs > 1 ? sim->jobs : 1;
    if (part_count < 2 && len >= 4 * 1024 * 1024)
        part_count = 2;

    parse_part *parts = calloc((size_t)part_count, sizeof *parts);
    if (parts == NULL) {
        fprintf(stderr, "journey simulate: out of memory reading events\n");
        return 1;
    }
    split_input(text, len, parts, part_count);

    int started = 0;
    for (int k = 1; k < part_count; k++) {
        if (pthread_create(&parts[k].thread, NULL, parse_part_main, &parts[k]) != 0)
            break;
        started = k;
    }
    parse_part_main(&parts[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(parts[k].thread, NULL);
    /* A share whose thread did not start is parsed here. */
    for (int k = started + 1; k < part_count; k++)
        parse_part_main(&parts[k]);

    /* Number the lines across shares, report the first rejections in
     * order, and join the events. A share that ran out of memory stopped
     * short, so the numbers of the shares after it would be wrong. */
    int status = 0;
    int out_of_memory = 0;
    for (int k = 0; k < part_count; k++)
        out_of_memory |= parts[k].out_of_memory;
    size_t total = 0;
    size_t first_line = 0;

    /* Invalid lines in an input that starts like a JSON array are most
     * likely one array of events. The note comes before the invalid
     * lines, which would push it out of sight. */
    uint64_t rejected = 0;
    for (int k = 0; k < part_count; k++)
        rejected += parts[k].lines_rejected;
    if (rejected > 0 && !out_of_memory && starts_like_array(text, len))
        fprintf(stderr, "journey simulate: %s looks like one JSON array, but the input is "
                        "JSON Lines, one event object per line: convert it with "
                        "jq -c '.[]'\n", sim->events_path);

    for (int k = 0; k < part_count && !out_of_memory; k++) {
        parse_part *part = &parts[k];
        for (size_t i = 0; i < part->count; i++)
            part->events[i].line += first_line;
        for (uint64_t i = 0; i < part->lines_rejected && i < MAX_LOG_LINES; i++) {
            sim->lines_rejected++;
            if (sim->lines_rejected <= MAX_LOG_LINES)
                fprintf(stderr, "%s:%zu: %s\n", sim->events_path,
                        first_line + part->error_lines[i],
                        part->errors[i] != NULL ? part->errors[i] : "invalid event");
            else if (sim->lines_rejected == MAX_LOG_LINES + 1)
                say_further_lines_hidden();
            if (sim->strict)
                break;
        }
        if (sim->strict && sim->lines_rejected > 0) {
            fprintf(stderr, "journey simulate: stopped at the first invalid line (--strict)\n");
            status = 1;
            break;
        }
        if (part->lines_rejected > MAX_LOG_LINES) {
            uint64_t more = part->lines_rejected - MAX_LOG_LINES;
            if (sim->lines_rejected <= MAX_LOG_LINES &&
                sim->lines_rejected + more > MAX_LOG_LINES)
                say_further_lines_hidden();
            sim->lines_rejected += more;
        }
        sim->lines_read += part->lines_read;
        first_line += part->lines;
        total += part->count;
    }

    /* An input without one valid line is in another format. An empty one
     * is valid JSON Lines, but most likely an export that failed. */
    if (status == 0 && !out_of_memory && sim->lines_rejected > 0 && total == 0) {
        fprintf(stderr, "journey simulate: no line of %s is a valid event; nothing to "
                        "replay\n", sim->events_path);
        status = 1;
    }
    if (status == 0 && !out_of_memory && sim->lines_read == 0)
        fprintf(stderr, "journey simulate: warning: %s contains no events (it is empty or "
                        "blank); nothing was replayed\n", sim->events_path);

    if (status == 0 && total > 0 && !out_of_memory) {
        *events = malloc(total * sizeof **events);
        out_of_memory = *events == NULL;
    }
    if (out_of_memory) {
        fprintf(stderr, "journey simulate: out of memory reading events\n");
        status = 1;
    }
    if (status == 0) {
        size_t at = 0;
        for (int k = 0; k < part_count; k++) {
            if (parts[k].count > 0)
                memcpy(*events + at, parts[k].events, parts[k].count * sizeof **events);
            at += parts[k].count;
            parts[k].count = 0;
        }
        *count = total;
    }

    for (int k = 0; k < part_count; k++) {
        for (size_t i = 0; i < parts[k].count; i++)
            journey_event_free(parts[k].events[i].event);
        free(parts[k].events);
        for (size_t i = 0; i < MAX_LOG_LINES; i++)
            free(parts[k].errors[i]);
    }
    free(parts);
    return status;
}


static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y);
}


/* Returns the p-th percentile (0..100) of the sorted values. */
static double percentile(const double *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t i = (size_t)((p / 100.0) * (double)(count - 1) + 0.5);
    return sorted[i < count ? i : count - 1];
}


/* Returns the peak resident set size of this process in KiB. */
static long peak_rss_kib(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return usage.ru_maxrss; /* Linux reports KiB */
}


/* What the summary counts: one host's figures, or the sum of the
 * jobs'. */
typedef struct summary_counts {
    journey_stats stats;
    journey_journey_info *journeys; /* free with journey_free */
    size_t journey_count;
    jy_time ended_at;               /* where the clock stopped */
} summary_counts;


static void count_host(journey_host *host, summary_counts *counts)
{
    journey_get_stats(host, &counts->stats);
    counts->journeys = NULL;
    counts->journey_count = 0;
    if (journey_journeys(host, &counts->journeys, &counts->journey_count) != JOURNEY_OK)
        fprintf(stderr, "journey simulate: out of memory counting runs per journey\n");
    counts->ended_at = journey_now(host);
}


static void print_summary(simulation *sim, const summary_counts *counts, jy_time first,
                          jy_time last, jy_time horizon, double wall, size_t stored)
{
    journey_stats stats = counts->stats;
    const journey_journey_info *journeys = counts->journeys;
    size_t journey_count = counts->journey_count;

    char first_text[JY_TIME_TEXT_SIZE], last_text[JY_TIME_TEXT_SIZE];
    char horizon_text[JY_TIME_TEXT_SIZE], end_text[JY_TIME_TEXT_SIZE];
    double rate = wall > 0 ? (double)sim->lines_read / wall : 0;

    jy_time_format(first, first_text);
    jy_time_format(last, last_text);
    jy_time_format(horizon, horizon_text);
    jy_time_format(counts->ended_at, end_text);

    if (sim->json) {
        printf("{\"events_read\":%llu,\"events_rejected\":%llu,\"events_duplicate\":%llu,"
               "\"events_past_horizon\":%llu,\"events_emitted\":%llu,\"runs_started\":%llu,"
               "\"journeys\":{",
               (unsigned long long)sim->lines_read, (unsigned long long)sim->lines_rejected,
               (unsigned long long)stats.events_duplicate,
               (unsigned long long)sim->past_horizon,
               (unsigned long long)sim->emitted_total,
               (unsigned long long)stats.runs_started);
        for (size_t i = 0; i < journey_count; i++) {
            const journey_journey_info *j = &journeys[i];
            jy_buf name;
            jy_buf_init(&name);
            jy_buf_append_json_string(&name, j->name);
            printf("%s%s:{\"started\":%llu,\"completed\":%llu,\"failed\":%llu,"
                   "\"cancelled\":%llu,\"waiting\":%llu}",
                   i > 0 ? "," : "", name.data != NULL ? name.data : "\"\"",
                   (unsigned long long)j->started, (unsigned long long)j->completed,
                   (unsigned long long)j->failed, (unsigned long long)j->cancelled,
                   (unsigned long long)(j->running + j->waiting + j->sleeping));
            jy_buf_free(&name);
        }
        printf("},\"emitted\":{");
        for (size_t i = 0; i < sim->emitted_name_count; i++) {
            jy_buf name;
            jy_buf_init(&name);
            jy_buf_append_json_string(&name, sim->emitted_names[i].name);
            printf("%s%s:%llu", i > 0 ? "," : "", name.data != NULL ? name.data : "\"\"",
                   (unsigned long long)sim->emitted_names[i].count);
            jy_buf_free(&name);
        }
        if (sim->commit_count > 1)
            qsort(sim->commit_ms, sim->commit_count, sizeof *sim->commit_ms, compare_doubles);
        printf("},\"commits\":%zu,\"commit_ms_p50\":%.3f,\"commit_ms_p99\":%.3f,"
               "\"commit_ms_max\":%.3f,\"pruned_runs\":%llu,\"pruned_events\":%llu",
               sim->commit_count, percentile(sim->commit_ms, sim->commit_count, 50),
               percentile(sim->commit_ms, sim->commit_count, 99),
               percentile(sim->commit_ms, sim->commit_count, 100),
               (unsigned long long)sim->pruned_runs, (unsigned long long)sim->pruned_events);
        printf(",\"runs_parked\":%llu", (unsigned long long)stats.runs_parked);
        printf(",\"resident_runs\":%zu,\"evictions\":%llu,\"rebuilds\":%llu,\"jobs\":%d",
               sim->config.resident_runs, (unsigned long long)stats.evictions,
               (unsigned long long)stats.rebuilds, sim->jobs > 1 ? sim->jobs : 1);
        printf(",\"first_event\":\"%s\",\"last_event\":\"%s\",\"until\":\"%s\","
               "\"ended_at\":\"%s\",\"wall_seconds\":%.6f,\"events_per_second\":%.0f,"
               "\"peak_rss_kib\":%ld}\n",
               stored > 0 ? first_text : "", stored > 0 ? last_text : "",
               stored > 0 ? horizon_text : "", stored > 0 ? end_text : "", wall, rate,
               peak_rss_kib());
        return;
    }

    FILE *out = stdout;
    fprintf(out, "\nsummary\n");
    fprintf(out, "  events read       %llu from %s (rejected: %llu, duplicates ignored: %llu",
            (unsigned long long)sim->lines_read, sim->events_path,
            (unsigned long long)sim->lines_rejected,
            (unsigned long long)stats.events_duplicate);
    if (sim->resumed_past > 0)
        fprintf(out, ", committed before the restart: %llu",
                (unsigned long long)sim->resumed_past);
    if (sim->past_horizon > 0)
        fprintf(out, ", after the horizon: %llu", (unsigned long long)sim->past_horizon);
    fprintf(out, ")\n");
    if (stored > 0 && horizon < first)
        fprintf(out, "  event time        %s to %s, none replayed (horizon %s is before the "
                     "first event)\n", first_text, last_text, horizon_text);
    else if (stored > 0)
        fprintf(out, "  event time        %s to %s, clock ran on to %s (horizon %s)\n",
                first_text, last_text, end_text, horizon_text);
    fprintf(out, "\n  %-24s %9s %10s %7s %10s %8s\n", "journey", "started", "completed",
            "failed", "cancelled", "waiting");
    for (size_t i = 0; i < journey_count; i++) {
        const journey_journey_info *j = &journeys[i];
        fprintf(out, "  %-24s %9llu %10llu %7llu %10llu %8llu\n", j->name,
                (unsigned long long)j->started, (unsigned long long)j->completed,
                (unsigned long long)j->failed, (unsigned long long)j->cancelled,
                (unsigned long long)(j->running + j->waiting + j->sleeping));
    }
    if (stats.runs_parked > 0)
        fprintf(out, "\n  parked runs       %llu of the waiting runs above: their replay failed "
                     "or diverged, so they stay as stored until a start with fixed scripts\n",
                (unsigned long long)stats.runs_parked);
    fprintf(out, "\n  events emitted    %llu\n", (unsigned long long)sim->emitted_total);
    for (size_t i = 0; i < sim->emitted_name_count; i++)
        fprintf(out, "    %-30s %llu\n", sim->emitted_names[i].name,
                (unsigned long long)sim->emitted_names[i].count);
    fprintf(out, "\n  wall time         %.3f s, %.0f events/s, peak RSS %.1f MiB\n", wall, rate,
            (double)peak_rss_kib() / 1024.0);
    if (sim->commit_count > 0 && is_durable(sim)) {
        qsort(sim->commit_ms, sim->commit_count, sizeof *sim->commit_ms, compare_doubles);
        fprintf(out, "  commits           %zu, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                sim->commit_count, percentile(sim->commit_ms, sim->commit_count, 50),
                percentile(sim->commit_ms, sim->commit_count, 99),
                percentile(sim->commit_ms, sim->commit_count, 100));
    }
    if (sim->pruned_runs > 0 || sim->pruned_events > 0)
        fprintf(out, "  retention         deleted %llu ended runs and %llu events\n",
                (unsigned long long)sim->pruned_runs, (unsigned long long)sim->pruned_events);
    if (sim->jobs > 1)
        fprintf(out, "  jobs              %d, each replaying a share of the users\n", sim->jobs);
    if (sim->config.resident_runs > 0)
        fprintf(out, "  resident runs     at most %zu; %llu coroutines evicted, %llu rebuilt\n",
                sim->config.resident_runs, (unsigned long long)stats.evictions,
                (unsigned long long)stats.rebuilds);
}


/* Deletes what retention allows, in event time. */
static void apply_retention(simulation *sim, journey_host *host)
{
    if (sim->retention.ms == 0)
        return;

    uint64_t runs = 0, events = 0;
    if (journey_prune(host, sim->retention.ms, &runs, &events) != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: %s\n", journey_error(host));
        return;
    }
    sim->pruned_runs += runs;
    sim->pruned_events += events;
}


/* Keeps the duration of one commit for the summary's percentiles, up to
 * a million of them. */
static void record_commit(simulation *sim, double ms)
{
    if (sim->commit_count >= 1000000)
        return;
    if (sim->commit_count == sim->commit_capacity) {
        size_t capacity = sim->commit_capacity == 0 ? 256 : sim->commit_capacity * 2;
        double *grown = realloc(sim->commit_ms, capacity * sizeof *grown);
        if (grown == NULL)
            return;
        sim->commit_ms = grown;
        sim->commit_capacity = capacity;
    }
    sim->commit_ms[sim->commit_count++] = ms;
}


/* Writes the lines a commit covered to file (when there is one), and
 * empties them. */
static void write_pending(simulation *sim, FILE *file, jy_buf *lines)
{
    if (file != NULL && lines->len > 0 &&
        (fwrite(lines->data, 1, lines->len, file) != lines->len || fflush(file) != 0))
        sim->write_failed = 1;
    jy_buf_reset(lines);
}


/* Ends a commit group: saves how far the input was read, commits (the
 * host saves its clock with it), and only then writes the
 * acknowledgements of the group's events. Returns 0 or 1. */
static int commit_group(simulation *sim, journey_host *host)
{
    char position_text[32];
    snprintf(position_text, sizeof position_text, "%zu", sim->position);
    if (journey_meta_put(host, "input_fingerprint", sim->fingerprint) != JOURNEY_OK ||
        journey_meta_put(host, "input_position", position_text) != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: commit failed, nothing since the last commit is "
                        "acknowledged: %s\n", journey_error(host));
        return 1;
    }

    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    int rc = journey_commit(host);
    clock_gettime(CLOCK_MONOTONIC, &after);
    if (rc == JOURNEY_OK)
        record_commit(sim, (double)(after.tv_sec - before.tv_sec) * 1e3 +
                               (double)(after.tv_nsec - before.tv_nsec) / 1e6);
    if (rc != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: commit failed, nothing since the last commit is "
                        "acknowledged: %s\n", journey_error(host));
        return 1;
    }
    write_pending(sim, sim->acks, &sim->pending_acks);

    /* An emitted event is in the file once its commit is, so a resumed
     * replay, which does not emit it again, appends only what is new. */
    write_pending(sim, sim->emitted, &sim->pending_emitted);
    sim->uncommitted = 0;

    /* Retention runs every few groups; its deletions commit with the
     * next group. */
    if (++sim->groups % 20 == 0)
        apply_retention(sim, host);
    return 0;
}


/* Names the input by its content (FNV-1a, 64 bits), so a durable replay
 * can check whether a store was fed from the same input. */
static void fingerprint(const char *text, size_t len, char out[24])
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "%016llx:%zu", (unsigned long long)h, len % 100000);
}


/* Returns how many sorted input events a previous replay of this same
 * input committed, or 0 when the store was fed another input. Sets
 * *fed when the store was fed by a replay before. */
static size_t saved_position(journey_host *host, const char *fingerprint_text, int *fed)
{
    char *saved = NULL;
    char *position = NULL;
    size_t n = 0;

    *fed = 0;
    if (journey_meta_get(host, "input_fingerprint", &saved) == JOURNEY_OK && saved != NULL) {
        *fed = 1;
        if (strcmp(saved, fingerprint_text) == 0 &&
            journey_meta_get(host, "input_position", &position) == JOURNEY_OK &&
            position != NULL)
            n = (size_t)strtoull(position, NULL, 10);
    }
    journey_free(saved);
    journey_free(position);
    return n;
}


static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}


/* The reading that a --until text, which parses as neither a time nor a
 * duration, most likely meant. A number followed by a word ("-1h",
 * "3dys") is a duration, and digits followed by '-' or ':' ("2024-06-31",
 * "12:00") are a time. */
typedef enum until_reading { UNTIL_EITHER, UNTIL_DURATION, UNTIL_TIME } until_reading;


static until_reading guess_until(const char *text)
{
    const char *p = text;

    while (*p == ' ')
        p++;
    if (*p == '-' || *p == '+')
        p++;
    const char *digits = p;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == digits)
        return UNTIL_EITHER;
    /* "20240601T1200Z" and "2024W01" are ISO-8601's basic and week
     * forms: a year's four digits, then T or W and a digit. A unit
     * ("1000Wks") has a letter after the W. */
    if (*p == '-' || *p == ':' ||
        ((*p == 'T' || *p == 'W') && p - digits >= 4 && p[1] >= '0' && p[1] <= '9'))
        return UNTIL_TIME;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    while (*p == ' ')
        p++;
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        return UNTIL_DURATION;
    return UNTIL_EITHER;
}


/* Returns the reason of a parse message, without the "invalid time
 * "TEXT": " or "invalid duration "TEXT": " that the parsers put first,
 * since the caller names the text already. */
static const char *reason_of(const char *message, const char *reading, const char *text)
{
    char quoted[QUOTE_BUF_SIZE];
    char prefix[QUOTE_BUF_SIZE + 32];

    jy_quote_text(text, strlen(text), QUOTE_MAX_BYTES, quoted);
    int n = snprintf(prefix, sizeof prefix, "invalid %s %s: ", reading, quoted);
    if (n > 0 && (size_t)n < sizeof prefix && strncmp(message, prefix, (size_t)n) == 0)
        return message + n;
    return message;
}


/* Resolves --until: an ISO-8601 time, or a duration after last. */
static int resolve_horizon(const char *text, jy_time last, jy_time *horizon)
{
    jy_error err;
    jy_duration after = {DEFAULT_HORIZON_MS, 0};

    if (text != NULL) {
        jy_error_clear(&err);
        if (jy_time_parse(text, strlen(text), horizon, &err) == 0)
            return 0;
        jy_error time_err = err;
        jy_error_clear(&err);
        if (jy_duration_parse(text, strlen(text), &after, &err) != 0) {
            /* Both readings failed: give the reason of the one the text
             * looks like, or both when it looks like neither. */
            until_reading reading = guess_until(text);
            char quoted[QUOTE_BUF_SIZE];
            jy_quote_text(text, strlen(text), QUOTE_MAX_BYTES, quoted);
            if (reading == UNTIL_DURATION)
                fprintf(stderr, "journey simulate: invalid --until %s: %s; give a duration such "
                                "as 30d or an ISO-8601 time\n",
                        quoted, reason_of(err.message, "duration", text));
            else if (reading == UNTIL_TIME)
                fprintf(stderr, "journey simulate: invalid --until %s: %s; give an ISO-8601 time "
                                "such as 2011-12-09T12:50:00Z or a duration\n",
                        quoted, reason_of(time_err.message, "time", text));
            else
                fprintf(stderr, "journey simulate: invalid --until %s: give an ISO-8601 time (%s) "
                                "or a duration such as 30d (%s)\n",
                        quoted, time_err.message, err.message);
            return 2;
        }
    }
    if (jy_time_add(last, after, horizon, &err) != 0) {
        fprintf(stderr, "journey simulate: invalid --until: %s\n", err.message);
        return 2;
    }
    return 0;
}


/* Feeds the sorted input events to host from start_at on, or for a job
 * only those at indices (count of them). Then runs on through the
 * deadlines until every run ended or the horizon, applies retention and
 * commits. Returns 0, or 1 when a commit failed. */
static int replay(simulation *sim, journey_host *host, input_event *events, size_t count,
                  const size_t *indices, size_t start_at, jy_time horizon, int fed,
                  jy_time resumed)
{
    /* Until an event is fed, the position is where the replay resumed. */
    if (indices == NULL)
        sim->position = start_at;

    /* Retention's window also bounds what runs read of the past, from
     * the first event on (see journey_prune). */
    apply_retention(sim, host);
    int stopped_at_horizon = 0;
    for (size_t k = start_at; k < count; k++) {
        size_t i = indices != NULL ? indices[k] : k;
        journey_event *event = events[i].event;
        /* The horizon also bounds the input, which is in time order, so
         * this event and the rest are not replayed. The position stays
         * before them: a later replay of the same input into the same
         * store, with a later horizon, feeds them. */
        if (event->ts > horizon) {
            stopped_at_horizon = 1;
            sim->past_horizon += count - k;
            break;
        }
        sim->position = i + 1;
        events[i].event = NULL;
        /* Without an id, an event at or before the resumed clock cannot be
         * distinguished from one the store already contains, so it is not
         * fed again. The clock stops at the last event fed, so an event
         * at that instant was fed too. */
        if (start_at == 0 && fed && event->id == NULL && event->ts <= resumed) {
            sim->skipped_before_resume++;
            journey_event_free(event);
            continue;
        }
        if (sim->acks != NULL) {
            if (event->id != NULL)
                jy_buf_printf(&sim->pending_acks, "%s\n", event->id);
            else
                jy_buf_printf(&sim->pending_acks, "line:%zu\n", events[i].line);
        }
        if (journey_ingest_event(host, event, NULL, NULL) != JOURNEY_OK)
            fprintf(stderr, "%s:%zu: event not ingested: %s\n", sim->events_path,
                    events[i].line, journey_error(host));
        if (++sim->uncommitted >= sim->commit_every && commit_group(sim, host) != 0)
            return 1;
    }

    if (indices == NULL && !stopped_at_horizon)
        sim->position = count;

    /* Run on through the deadlines until every run ended or the horizon. */
    while (journey_live_runs(host) > 0) {
        int64_t next = journey_next_deadline(host);
        if (next == INT64_MAX || next > horizon)
            break;
        journey_advance_to(host, next);
        if (++sim->uncommitted >= sim->commit_every && commit_group(sim, host) != 0)
            return 1;
    }
    apply_retention(sim, host);
    return commit_group(sim, host);
}


/* One job of --jobs: a host on its own thread that replays the events
 * of its share of the users. */
typedef struct job_thread {
    simulation sim;            /* the job's own, copied from the command's */
    sim_job job;
    const char **scripts;
    size_t script_count;
    input_event *events;       /* the command's sorted input, shared */
    jy_time first;
    jy_time horizon;
    summary_counts counts;     /* read on the job's thread, which owns the host */
    char **journey_names;      /* copies: the host's names end with the host */
    double finished;           /* seconds from the command's start to the replay's end */
    const struct timespec *started;
    int status;
    pthread_t thread;
} job_thread;


/* Gives a job's simulation the command's options and none of its
 * running state (open files, counters, buffers). */
static void copy_options(simulation *job, const simulation *sim)
{
    memset(job, 0, sizeof *job);
    job->events_path = sim->events_path;
    job->store_spec = sim->store_spec;
    job->config = sim->config;
    job->commit_every = sim->commit_every;
    job->until_text = sim->until_text;
    job->emitted_path = sim->emitted_path;
    job->json = sim->json;
    job->quiet = sim->quiet;
    job->show_events = sim->show_events;
    job->strict = sim->strict;
    job->retention_text = sim->retention_text;
    job->retention = sim->retention;
    memcpy(job->fingerprint, sim->fingerprint, sizeof job->fingerprint);
    job->jobs = sim->jobs;
    jy_buf_init(&job->pending_acks);
    jy_buf_init(&job->line);
}


/* Replays the job's events on a host that this thread creates, counts
 * what it did and closes it: a host belongs to the thread of its loop. */
static void *job_main(void *arg)
{
    job_thread *t = arg;
    simulation *sim = &t->sim;
    journey_host *host = NULL;
    char error[1024];

    sim->config.trace_ctx = sim;
    sim->config.log_ctx = sim;
    t->status = 1;
    if (journey_host_new(&sim->config, &host, error, sizeof error) != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: job %d: %s\n", t->job.index + 1, error);
        return NULL;
    }
    for (size_t i = 0; i < t->script_count; i++) {
        if (journey_load(host, t->scripts[i]) != JOURNEY_OK) {
            fprintf(stderr, "journey simulate: cannot load %s: %s\n", t->scripts[i],
                    journey_error(host));
            goto done;
        }
    }
    journey_advance_to(host, t->first);
    apply_retention(sim, host); /* before the start, it sets the window only */
    if (journey_start(host) != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: job %d: %s\n", t->job.index + 1,
                journey_error(host));
        goto done;
    }
    if (replay(sim, host, t->events, t->job.input_count, t->job.inputs, 0, t->horizon, 0,
               JY_TIME_MIN) != 0)
        goto done;

    /* The summary's wall time ends with the replay, before the host is
     * torn down, as it does with one job. */
    t->finished = seconds_since(t->started);
    count_host(host, &t->counts);
    t->journey_names = calloc(t->counts.journey_count + 1, sizeof *t->journey_names);
    if (t->journey_names == NULL)
        goto done;
    for (size_t i = 0; i < t->counts.journey_count; i++) {
        t->journey_names[i] = strdup(t->counts.journeys[i].name);
        if (t->journey_names[i] == NULL)
            goto done;
        t->counts.journeys[i].name = t->journey_names[i];
    }
    t->status = 0;

done:
    journey_host_close(host, NULL, NULL);
    return NULL;
}


/* Writes the jobs' lines in time order; at equal times, job by job. */
static void merge_lines(job_thread *threads, int jobs, int emitted, FILE *out,
                        int *write_failed)
{
    timed_lines *lines[MAX_JOBS];
    size_t next[MAX_JOBS] = {0};

    for (int k = 0; k < jobs; k++)
        lines[k] = emitted ? &threads[k].job.emitted : &threads[k].job.transcript;

    for (;;) {
        int best = -1;
        for (int k = 0; k < jobs; k++) {
            if (next[k] >= lines[k]->count)
                continue;
            if (best < 0 || lines[k]->items[next[k]].at < lines[best]->items[next[best]].at)
                best = k;
        }
        if (best < 0)
            return;
        const char *text = lines[best]->items[next[best]++].text;
        if (fputs(text, out) == EOF || (!emitted && fputc('\n', out) == EOF))
            *write_failed = 1;
    }
}


static void free_lines(timed_lines *lines)
{
    for (size_t i = 0; i < lines->count; i++)
        free(lines->items[i].text);
    free(lines->items);
}


/* Adds a job's counts to the command's; the first job's become the
 * sum, which then owns its journeys. */
static void add_counts(summary_counts *sum, summary_counts *job_counts, int first_job)
{
    summary_counts job = *job_counts;
    if (first_job) {
        *sum = job;
        job_counts->journeys = NULL;
        return;
    }

    journey_stats *a = &sum->stats;
    const journey_stats *b = &job.stats;
    a->events_ingested += b->events_ingested;
    a->events_duplicate += b->events_duplicate;
    a->events_emitted += b->events_emitted;
    a->runs_started += b->runs_started;
    a->runs_completed += b->runs_completed;
    a->runs_failed += b->runs_failed;
    a->runs_cancelled += b->runs_cancelled;
    a->runs_live += b->runs_live;
    a->waits += b->waits;
    a->deadlines += b->deadlines;
    a->runs_evicted += b->runs_evicted;
    a->evictions += b->evictions;
    a->rebuilds += b->rebuilds;

    /* Every job loaded the same scripts, so the journeys come in the
     * same order. */
    for (size_t i = 0; i < sum->journey_count && i < job.journey_count; i++) {
        sum->journeys[i].started += job.journeys[i].started;
        sum->journeys[i].completed += job.journeys[i].completed;
        sum->journeys[i].failed += job.journeys[i].failed;
        sum->journeys[i].cancelled += job.journeys[i].cancelled;
        sum->journeys[i].running += job.journeys[i].running;
        sum->journeys[i].waiting += job.journeys[i].waiting;
        sum->journeys[i].sleeping += job.journeys[i].sleeping;
    }
    if (job.ended_at > sum->ended_at)
        sum->ended_at = job.ended_at;
}


/* Replays the input on sim->jobs threads, users split by job_of, and
 * prints what a single replay prints, merged in time order. Returns the
 * command's exit status. */
static int run_jobs(simulation *sim, const char **scripts, size_t script_count,
                    input_event *events, size_t count, jy_time first, jy_time last,
                    jy_time horizon, const struct timespec *started)
{
    int jobs = sim->jobs;
    int status = 0;
    job_thread *threads = calloc((size_t)jobs, sizeof *threads);
    if (threads == NULL)
        return 1;

    for (int k = 0; k < jobs; k++) {
        job_thread *t = &threads[k];
        copy_options(&t->sim, sim);
        t->sim.job = &t->job;
        t->job.index = k;
        t->job.count = jobs;
        t->job.inputs = malloc((count > 0 ? count : 1) * sizeof *t->job.inputs);
        t->scripts = scripts;
        t->script_count = script_count;
        t->events = events;
        t->first = first;
        t->horizon = horizon;
        t->started = started;
        if (t->job.inputs == NULL)
            status = 1;
    }
    if (status != 0)
        goto done;
    for (size_t i = 0; i < count; i++) {
        sim_job *job = &threads[job_of(events[i].event->user, jobs)].job;
        job->inputs[job->input_count++] = i;
    }

    int started_threads = 0;
    for (int k = 0; k < jobs; k++) {
        if (pthread_create(&threads[k].thread, NULL, job_main, &threads[k]) != 0) {
            fprintf(stderr, "journey simulate: cannot start job %d\n", k + 1);
            status = 1;
            break;
        }
        started_threads++;
    }
    for (int k = 0; k < started_threads; k++)
        pthread_join(threads[k].thread, NULL);
    if (status != 0)
        goto done;

    for (int k = 0; k < jobs; k++) {
        if (threads[k].status != 0 || threads[k].sim.write_failed)
            status = 1;
        if (threads[k].job.foreign_emit != NULL && status == 0) {
            fprintf(stderr, "journey simulate: --jobs %d: %s\n", jobs,
                    threads[k].job.foreign_emit);
            status = 1;
        }
    }
    if (status != 0)
        goto done;

    if (!sim->quiet && !sim->json)
        merge_lines(threads, jobs, 0, stdout, &sim->write_failed);
    if (sim->emitted != NULL)
        merge_lines(threads, jobs, 1, sim->emitted, &sim->write_failed);

    summary_counts counts;
    double wall = 0;
    for (int k = 0; k < jobs; k++) {
        simulation *js = &threads[k].sim;
        if (threads[k].finished > wall)
            wall = threads[k].finished;
        add_counts(&counts, &threads[k].counts, k == 0);
        for (size_t i = 0; i < js->emitted_name_count; i++)
            count_emitted(sim, js->emitted_names[i].name, js->emitted_names[i].count);
        sim->emitted_total += js->emitted_total;
        sim->pruned_runs += js->pruned_runs;
        sim->pruned_events += js->pruned_events;
        sim->past_horizon += js->past_horizon;
        for (size_t i = 0; i < js->commit_count; i++)
            record_commit(sim, js->commit_ms[i]);
    }
    print_summary(sim, &counts, first, last, horizon, wall, count);
    journey_free(counts.journeys);

done:
    for (int k = 0; k < jobs; k++) {
        job_thread *t = &threads[k];
        journey_free(t->counts.journeys);
        for (size_t i = 0; t->journey_names != NULL && t->journey_names[i] != NULL; i++)
            free(t->journey_names[i]);
        free(t->journey_names);
        free(t->job.inputs);
        free(t->job.foreign_emit);
        free_lines(&t->job.transcript);
        free_lines(&t->job.emitted);
        jy_buf_free(&t->sim.pending_acks);
        jy_buf_free(&t->sim.line);
        free(t->sim.commit_ms);
        for (size_t i = 0; i < t->sim.emitted_name_count; i++)
            free(t->sim.emitted_names[i].name);
        free(t->sim.emitted_names);
    }
    free(threads);
    return status;
}


int jy_cli_simulate(int argc, char **argv)
{
    simulation sim;
    memset(&sim, 0, sizeof sim);
    jy_buf_init(&sim.line);
    jy_buf_init(&sim.pending_acks);
    jy_buf_init(&sim.pending_emitted);
    sim.store_spec = "memory";
    sim.commit_every = 500;
    journey_config_init(&sim.config);

    const char **scripts = NULL;
    size_t script_count = 0;
    int status = parse_args(&sim, argc, argv, &scripts, &script_count);
    if (status != 0) {
        free(scripts);
        return status;
    }

    if (sim.retention_text == NULL)
        sim.retention_text = "90d";
    if (strcmp(sim.retention_text, "off") != 0) {
        jy_error err;
        jy_error_clear(&err);
        if (jy_duration_parse(sim.retention_text, strlen(sim.retention_text), &sim.retention,
                              &err) != 0 || sim.retention.months != 0 || sim.retention.ms == 0) {
            fprintf(stderr, "journey simulate: invalid --retention \"%s\": %s\n",
                    sim.retention_text,
                    sim.retention.months != 0 ? "use days, not calendar months"
                    : sim.retention.ms == 0 && err.message[0] == '\0'
                        ? "give a duration above zero, or off to keep everything"
                        : err.message);
            free(scripts);
            return 2;
        }
    }

    /* Each job keeps its own host, and a durable replay writes one store. */
    if (sim.jobs > 1 && (is_durable(&sim) || sim.acks_path != NULL)) {
        fprintf(stderr, "journey simulate: --jobs %d needs the memory store, without --store "
                        "sqlite:PATH and --acks; give one or the other\n", sim.jobs);
        free(scripts);
        return 2;
    }

    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);

    jy_input_text input;
    if (jy_input_text_open(sim.events_path, &input) != 0) {
        fprintf(stderr, "journey simulate: cannot read events from %s: %s\n", sim.events_path,
                strerror(errno));
        free(scripts);
        return 1;
    }

    /* The replay is a host on a virtual clock that this command moves
     * itself; it never runs the host's loop. */
    sim.config.store = sim.store_spec;
    sim.config.clock = JOURNEY_CLOCK_VIRTUAL;
    sim.config.log = on_log;
    sim.config.log_ctx = &sim;
    sim.config.trace = on_trace;
    sim.config.trace_ctx = &sim;
    input_event *events = NULL;
    size_t count = 0;
    journey_host *host = NULL;
    char host_error[1024];
    int rc = journey_host_new(&sim.config, &host, host_error, sizeof host_error);
    if (rc != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: %s\n", host_error);
        /* A malformed --store is bad usage; a store that fails to open is not. */
        status = rc == JOURNEY_EINVAL && (strncmp(sim.store_spec, "sqlite:", 7) != 0 ||
                                          sim.store_spec[7] == '\0') ? 2 : 1;
        goto done;
    }

    for (size_t i = 0; i < script_count; i++) {
        if (journey_load(host, scripts[i]) != JOURNEY_OK) {
            fprintf(stderr, "journey simulate: cannot load %s: %s\n", scripts[i],
                    journey_error(host));
            status = 1;
            goto done;
        }
    }
    journey_journey_info *defined = NULL;
    size_t defined_count = 0;
    journey_journeys(host, &defined, &defined_count);
    journey_free(defined);
    if (defined_count == 0) {
        fprintf(stderr, "journey simulate: the scripts define no journey; call "
                        "journey.define{...} in them\n");
        status = 1;
        goto done;
    }

    if (parse_input(&sim, input.text, input.len, &events, &count) != 0) {
        status = 1;
        goto done;
    }
    /* Only a durable store is resumed by position, and hashing a large
     * input byte by byte takes about a second per gigabyte. */
    if (is_durable(&sim))
        fingerprint(input.text, input.len, sim.fingerprint);
    jy_input_text_release(&input);
    if (count > 1 && !in_order(events, count))
        qsort(events, count, sizeof *events, compare_input);

    if (sim.acks_path != NULL) {
        sim.acks = fopen(sim.acks_path, "a");
        if (sim.acks == NULL) {
            fprintf(stderr, "journey simulate: cannot write %s: %s\n", sim.acks_path,
                    strerror(errno));
            status = 1;
            goto done;
        }
    }

    if (sim.emitted_path != NULL) {
        /* A durable replay that resumes a store appends: it adds the
         * events that the earlier runs did not emit. A new store starts
         * the file afresh, as a replay in memory does. */
        int resumes = 0;
        char *saved = NULL;
        if (is_durable(&sim) &&
            journey_meta_get(host, "input_fingerprint", &saved) == JOURNEY_OK && saved != NULL)
            resumes = 1;
        journey_free(saved);
        sim.emitted = fopen(sim.emitted_path, resumes ? "a" : "w");
        if (sim.emitted == NULL) {
            fprintf(stderr, "journey simulate: cannot write %s: %s\n", sim.emitted_path,
                    strerror(errno));
            status = 1;
            goto done;
        }
    }

    jy_time first = count > 0 ? events[0].event->ts : 0;
    jy_time last = count > 0 ? events[count - 1].event->ts : 0;
    jy_time horizon = 0;
    status = resolve_horizon(sim.until_text, last, &horizon);
    if (status != 0)
        goto done;

    if (sim.jobs > 1) {
        if (count > 0 && horizon < first)
            fprintf(stderr, "journey simulate: warning: --until %s is before the first event, "
                            "so no event is replayed\n", sim.until_text);
        status = run_jobs(&sim, scripts, script_count, events, count, first, last, horizon,
                          &started);
        if (sim.emitted != NULL && (fclose(sim.emitted) != 0 || sim.write_failed) &&
            status == 0) {
            fprintf(stderr, "journey simulate: writing %s failed\n", sim.emitted_path);
            status = 1;
        }
        sim.emitted = NULL;
        goto done;
    }

    /* A durable store resumes where its last commit left the clock (the
     * host takes the later of that and the first event), and its live
     * runs are replayed from their journals. */
    journey_advance_to(host, first);
    int fed = 0;
    size_t start_at = saved_position(host, sim.fingerprint, &fed);
    /* Before the start it sets only the window of reads that reach back,
     * which the restored waits of the start read within. */
    apply_retention(&sim, host);
    if (journey_start(host) != JOURNEY_OK) {
        fprintf(stderr, "journey simulate: recovery failed: %s\n", journey_error(host));
        status = 1;
        goto done;
    }
    jy_time resumed = fed ? journey_now(host) : JY_TIME_MIN;
    journey_replay_report recovery;
    journey_last_replay(host, &recovery);

    /* The same input resumes exactly after the last committed event;
     * another input relies on event ids (see below). */
    if (start_at > count)
        start_at = 0;
    sim.resumed_past = start_at;
    if (fed)
        fprintf(stderr, "journey simulate: resumed from %s: replayed %llu live runs, %llu of "
                        "which were parked (their replay failed or diverged); %llu runs of "
                        "journeys that no script defines were left as they are; %zu input "
                        "events were already committed\n",
                sim.store_spec, (unsigned long long)recovery.replayed,
                (unsigned long long)recovery.diverged, (unsigned long long)recovery.orphaned,
                start_at);
    if (count > 0 && horizon < first)
        fprintf(stderr, "journey simulate: warning: --until %s is before the first event, so "
                        "no event is replayed\n", sim.until_text);

    for (size_t i = 0; i < start_at; i++) {
        journey_event_free(events[i].event);
        events[i].event = NULL;
    }
    if (replay(&sim, host, events, count, NULL, start_at, horizon, fed, resumed) != 0) {
        status = 1;
        goto done;
    }
    if (sim.skipped_before_resume > 0)
        fprintf(stderr, "journey simulate: skipped %llu event%s without an id at or before the "
                        "clock the store resumed at; give events ids to resume exactly\n",
                (unsigned long long)sim.skipped_before_resume,
                sim.skipped_before_resume == 1 ? "" : "s");

    summary_counts counts;
    count_host(host, &counts);
    print_summary(&sim, &counts, first, last, horizon, seconds_since(&started), count);
    journey_free(counts.journeys);
    if (sim.emitted != NULL && (fclose(sim.emitted) != 0 || sim.write_failed)) {
        fprintf(stderr, "journey simulate: writing %s failed\n", sim.emitted_path);
        status = 1;
    }
    sim.emitted = NULL;

done:
    /* Closing commits nothing new here: every group was committed, or a
     * failed commit already stopped the replay. */
    journey_host_close(host, NULL, NULL);
    if (sim.emitted != NULL)
        fclose(sim.emitted);
    if (sim.acks != NULL && fclose(sim.acks) != 0 && status == 0)
        status = 1;
    jy_buf_free(&sim.pending_acks);
    jy_buf_free(&sim.pending_emitted);
    free(sim.commit_ms);
    for (size_t i = 0; i < count; i++)
        journey_event_free(events[i].event);
    free(events);
    jy_input_text_release(&input);
    free(scripts);
    for (size_t i = 0; i < sim.emitted_name_count; i++)
        free(sim.emitted_names[i].name);
    free(sim.emitted_names);
    jy_buf_free(&sim.line);
    return status;
}
