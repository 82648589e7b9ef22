/*
 * journey runs and journey show: read a SQLite store and explain its
 * runs to a support engineer.
 *
 * Both commands open the store read-only with SQLite directly and never
 * through jy_store_sqlite_open, which takes the store's exclusive lock
 * and loads every event. So they work beside a host that is using the
 * store, and each command reads inside one transaction, which gives it
 * a consistent snapshot while the host commits.
 *
 * Journal results are JSON texts. Their fields are read with SQLite's
 * JSON functions (json_valid, ->, ->>, json_each), which SQLite has
 * built in since 3.38.0. With an older SQLite these queries fail to
 * prepare, and the commands print SQLite's error.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buffer.h"
#include "cli.h"
#include "option_hint.h"
#include "run.h"
#include "store.h"
#include "store_sqlite.h"
#include "timefmt.h"
#include "usage_error.h"

/* "JRNY", the application id the SQLite store writes into its files. */
#define STORE_APPLICATION_ID 0x4A524E59

#define DEFAULT_RUN_LIMIT 50

/* Output size at which journey runs --json writes what it has so far. */
#define JSON_FLUSH_BYTES (64 * 1024)

/* Bytes of event data and step values a journal line shows before
 * "...". The result, the error and everything in --json stay whole. */
#define CLIP_BYTES 100

/* Events of the user that a cancelled run lists as possible causes. */
#define MAX_CANCEL_CANDIDATES 5

/* Sequence numbers a j.events line lists before "and N more". */
#define MAX_LISTED_SEQS 10

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY (24 * MS_PER_HOUR)

static const char runs_usage[] =
    "usage: journey runs --store sqlite:PATH [options]\n"
    "\n"
    "Lists the runs in a store, newest first: id, journey, user, key, status,\n"
    "start time, and the end time or the current wait with its deadline. The\n"
    "store is opened read-only, so a host may be using it.\n"
    "\n"
    "options:\n"
    "  --store sqlite:PATH  the store to read (required)\n"
    "  --status S[,S...]    only runs with these statuses: running, waiting,\n"
    "                       sleeping, completed, failed, cancelled, or live\n"
    "                       (running, waiting and sleeping)\n"
    "  --user U             only runs of user U\n"
    "  --journey J          only runs of journey J\n"
    "  --limit N            show at most N runs (default 50; 0 shows all)\n"
    "  --json               print one JSON object per run (JSON Lines)\n";

static const char show_usage[] =
    "usage: journey show RUN --store sqlite:PATH [--json]\n"
    "\n"
    "Explains run RUN: its status and what it waits for, the event that\n"
    "started it, its result or error, every journaled step in words, and the\n"
    "events it emitted. The store is opened read-only, so a host may be\n"
    "using it.\n"
    "\n"
    "options:\n"
    "  --store sqlite:PATH  the store to read (required)\n"
    "  --json               print everything as one JSON object\n";


/* ---- Reading the store ---- */

typedef struct store_reader {
    const char *command; /* "runs" or "show", for messages */
    const char *path;
    sqlite3 *db;
} store_reader;


static void report_sqlite_error(const store_reader *reader, const char *what)
{
    fprintf(stderr, "journey %s: %s in %s failed: %s\n", reader->command, what, reader->path,
            sqlite3_errmsg(reader->db));
}


/* Returns the integer a one-value query yields, or -1 when it fails. */
static sqlite3_int64 query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    sqlite3_int64 value = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}


/* Returns the path in "sqlite:PATH", or NULL after printing why spec
 * does not name a SQLite store. */
static const char *store_path_of(const char *command, const char *spec)
{
    if (spec == NULL) {
        fprintf(stderr, "journey %s: missing --store sqlite:PATH\n", command);
        return NULL;
    }
    if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '\0')
        return spec + 7;
    if (strcmp(spec, "memory") == 0)
        fprintf(stderr, "journey %s: the memory store ends with the process that used it, so "
                        "there is nothing to read; give --store sqlite:PATH\n", command);
    else
        fprintf(stderr, "journey %s: invalid store \"%s\": give sqlite:PATH\n", command, spec);
    return NULL;
}


/* Opens the store read-only and checks that it is a journey store of a
 * schema this build reads. Returns 0, or 1 after printing the reason. */
static int open_reader(store_reader *reader)
{
    struct stat info;
    if (stat(reader->path, &info) != 0) {
        fprintf(stderr, "journey %s: cannot open the store %s: %s\n", reader->command,
                reader->path, strerror(errno));
        return 1;
    }
    if (S_ISDIR(info.st_mode)) {
        fprintf(stderr, "journey %s: cannot open the store %s: it is a directory; give the "
                        "path of the store file\n", reader->command, reader->path);
        return 1;
    }

    if (sqlite3_open_v2(reader->path, &reader->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "journey %s: cannot open the store %s: %s\n", reader->command,
                reader->path, reader->db != NULL ? sqlite3_errmsg(reader->db) : "out of memory");
        return 1;
    }
    /* A host checkpointing the WAL holds its locks for a moment. */
    sqlite3_busy_timeout(reader->db, 5000);

    /* Every query reads the same commit, because they all run in this
     * one read transaction, the version check included: a host that
     * opens the file may move it to a newer version meanwhile. */
    if (sqlite3_exec(reader->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        report_sqlite_error(reader, "starting a read transaction");
        return 1;
    }

    sqlite3_int64 application_id = query_int(reader->db, "PRAGMA application_id");
    sqlite3_int64 version = query_int(reader->db, "PRAGMA user_version");
    if (application_id < 0 || version < 0) {
        fprintf(stderr, "journey %s: cannot read %s: %s (is it a SQLite database?)\n",
                reader->command, reader->path, sqlite3_errmsg(reader->db));
        return 1;
    }
    if (application_id != STORE_APPLICATION_ID) {
        fprintf(stderr, "journey %s: %s is not a journey store (its SQLite application id is "
                        "0x%08llX, a journey store has 0x%08X); give the path of a store "
                        "that journey wrote with --store sqlite:PATH\n",
                reader->command, reader->path, (unsigned long long)application_id,
                STORE_APPLICATION_ID);
        return 1;
    }
    if (version > JY_SQLITE_SCHEMA_VERSION) {
        fprintf(stderr, "journey %s: %s has store schema version %lld, newer than this journey "
                        "reads (%d); use a newer journey\n",
                reader->command, reader->path, (long long)version, JY_SQLITE_SCHEMA_VERSION);
        return 1;
    }
    if (version < 1) {
        fprintf(stderr, "journey %s: %s has an unknown store schema version %lld\n",
                reader->command, reader->path, (long long)version);
        return 1;
    }

    /* From schema version 2 on, a run's deadline is a column of runs.
     * A view in the connection's own temporary schema gives the queries
     * below the table of version 1, so they read both. */
    if (version >= 2 &&
        sqlite3_exec(reader->db, "CREATE TEMP VIEW deadlines AS SELECT id AS run_id,"
                                 " deadline AS at FROM runs WHERE deadline IS NOT NULL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        report_sqlite_error(reader, "reading the deadlines");
        return 1;
    }
    return 0;
}


static void close_reader(store_reader *reader)
{
    if (reader->db == NULL)
        return;
    sqlite3_exec(reader->db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader->db);
    reader->db = NULL;
}


/* Returns a malloc'd copy of a text column, NULL for SQL NULL. */
static char *column_text_copy(sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return text != NULL ? strdup((const char *)text) : NULL;
}


/* Reads the store's clock (meta.clock), which journey simulate and the
 * Lua API's h:commit() save at every commit. Returns 1 and sets *clock,
 * or 0 when the store has none. */
static int read_store_clock(const store_reader *reader, jy_time *clock)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;

    if (sqlite3_prepare_v2(reader->db, "SELECT value FROM meta WHERE key = 'clock'", -1, &stmt,
                           NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        char *end = NULL;
        long long value = strtoll(text, &end, 10);
        if (end != text && *end == '\0') {
            *clock = value;
            found = 1;
        }
    }
    sqlite3_finalize(stmt);
    return found;
}


/* ---- Formatting ---- */

static void append_time(jy_buf *buf, jy_time t)
{
    char text[JY_TIME_TEXT_SIZE];
    jy_time_format(t, text);
    jy_buf_append_str(buf, text);
}


static void append_json_time(jy_buf *buf, jy_time t)
{
    jy_buf_append_str(buf, "\"");
    append_time(buf, t);
    jy_buf_append_str(buf, "\"");
}


static void append_unit(jy_buf *buf, int64_t count, const char *unit)
{
    jy_buf_printf(buf, "%" PRId64 " %s%s", count, unit, count == 1 ? "" : "s");
}


/* Appends a non-negative span of milliseconds in its two largest units:
 * "12 days 3 hours", "5 minutes", "750 ms". */
static void append_span(jy_buf *buf, int64_t ms)
{
    static const struct { int64_t ms; const char *name; } units[] = {
        {MS_PER_DAY, "day"}, {MS_PER_HOUR, "hour"}, {MS_PER_MINUTE, "minute"},
        {MS_PER_SECOND, "second"},
    };
    size_t count = sizeof units / sizeof units[0];

    if (ms < MS_PER_SECOND) {
        jy_buf_printf(buf, "%" PRId64 " ms", ms);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (ms < units[i].ms)
            continue;
        append_unit(buf, ms / units[i].ms, units[i].name);
        int64_t rest = ms % units[i].ms;
        if (i + 1 < count && rest >= units[i + 1].ms) {
            jy_buf_append_str(buf, " ");
            append_unit(buf, rest / units[i + 1].ms, units[i + 1].name);
        }
        return;
    }
}


/* Appends where deadline lies relative to the store's clock. */
static void append_relative(jy_buf *buf, jy_time deadline, int has_clock, jy_time clock)
{
    if (!has_clock) {
        jy_buf_append_str(buf, "the store has no saved clock to compare with");
        return;
    }
    if (deadline > clock) {
        jy_buf_append_str(buf, "in ");
        append_span(buf, deadline - clock);
        jy_buf_append_str(buf, " from the store's clock");
    } else if (deadline == clock) {
        jy_buf_append_str(buf, "due at the store's clock");
    } else {
        append_span(buf, clock - deadline);
        jy_buf_append_str(buf, " overdue at the store's clock, so the host fires it when it "
                               "next runs");
    }
}


/* Appends text, cut after about max bytes with "..." at a UTF-8
 * character boundary. */
static void append_clipped(jy_buf *buf, const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max) {
        jy_buf_append(buf, text, len);
        return;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    jy_buf_append(buf, text, cut);
    jy_buf_append_str(buf, "...");
}


/* Appends stored JSON text as a JSON value without line breaks, or as a
 * JSON string when it is not valid JSON, so the output always parses and
 * a JSON Lines record stays on one line. NULL becomes null. */
static void append_json_value(sqlite3 *db, jy_buf *buf, const char *json)
{
    if (json == NULL) {
        jy_buf_append_str(buf, "null");
        return;
    }
    sqlite3_stmt *stmt = NULL;
    const char *minified = NULL;
    if (sqlite3_prepare_v2(db, "SELECT CASE WHEN json_valid(?1) THEN json(?1) END", -1, &stmt,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW)
            minified = (const char *)sqlite3_column_text(stmt, 0);
    }
    if (minified != NULL)
        jy_buf_append_str(buf, minified);
    else
        jy_buf_append_json_string(buf, json);
    sqlite3_finalize(stmt);
}


static void append_json_string_or_null(jy_buf *buf, const char *text)
{
    if (text != NULL)
        jy_buf_append_json_string(buf, text);
    else
        jy_buf_append_str(buf, "null");
}


/* Appends comma-separated names as a JSON array of strings. */
static void append_json_names(jy_buf *buf, const char *names)
{
    jy_buf_append_str(buf, "[");
    const char *start = names;
    for (;;) {
        const char *comma = strchr(start, ',');
        size_t len = comma != NULL ? (size_t)(comma - start) : strlen(start);
        char *name = strndup(start, len);
        if (start != names)
            jy_buf_append_str(buf, ",");
        jy_buf_append_json_string(buf, name != NULL ? name : "");
        free(name);
        if (comma == NULL)
            break;
        start = comma + 1;
    }
    jy_buf_append_str(buf, "]");
}


/* Appends comma-separated wait names as words: "a or b". */
static void append_names_words(jy_buf *buf, const char *names)
{
    for (const char *p = names; *p != '\0'; p++) {
        if (*p == ',')
            jy_buf_append_str(buf, " or ");
        else
            jy_buf_append(buf, p, 1);
    }
}


/* Writes buf to stdout. Returns 0, or 1 after printing why it failed. */
static int write_output(const char *command, jy_buf *buf)
{
    if (jy_buf_failed(buf)) {
        fprintf(stderr, "journey %s: out of memory formatting the output\n", command);
        return 1;
    }
    if (fwrite(buf->data, 1, buf->len, stdout) != buf->len || fflush(stdout) != 0) {
        fprintf(stderr, "journey %s: writing the output failed: %s\n", command,
                strerror(errno));
        return 1;
    }
    return 0;
}


/* Parses a whole decimal number of at most max. Returns 0, or -1 when
 * text is not one. */
static int parse_count(const char *text, uint64_t max, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > max)
        return -1;
    *out = value;
    return 0;
}


/* ---- journey runs ---- */

typedef struct runs_options {
    const char *store_spec;
    const char *status_text;
    const char *user;
    const char *journey;
    uint64_t limit;
    int json;
    unsigned status_mask; /* bit s set for status s, or 0 for every status */
} runs_options;


/* Parses "waiting,sleeping" or "live" into a mask of status bits.
 * Returns 0, or -1 naming the bad word in *bad. */
static int parse_status_list(const char *text, unsigned *mask, char *bad, size_t bad_size)
{
    *mask = 0;
    const char *start = text;
    for (;;) {
        const char *comma = strchr(start, ',');
        size_t len = comma != NULL ? (size_t)(comma - start) : strlen(start);
        int matched = 0;

        if (len == 4 && strncmp(start, "live", 4) == 0) {
            *mask |= 1u << JY_RUN_RUNNING | 1u << JY_RUN_WAITING | 1u << JY_RUN_SLEEPING;
            matched = 1;
        }
        for (int s = JY_RUN_RUNNING; !matched && s <= JY_RUN_CANCELLED; s++) {
            const char *name = jy_run_status_name((jy_run_status)s);
            if (strlen(name) == len && strncmp(start, name, len) == 0) {
                *mask |= 1u << s;
                matched = 1;
            }
        }
        if (!matched) {
            snprintf(bad, bad_size, "%.*s", (int)len, start);
            return -1;
        }
        if (comma == NULL)
            return 0;
        start = comma + 1;
    }
}


static int parse_runs_args(runs_options *opts, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **value = NULL;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(runs_usage, stdout);
            exit(0);
        } else if (strcmp(arg, "--json") == 0) {
            opts->json = 1;
            continue;
        } else if (strcmp(arg, "--store") == 0) {
            value = &opts->store_spec;
        } else if (strcmp(arg, "--status") == 0) {
            value = &opts->status_text;
        } else if (strcmp(arg, "--user") == 0) {
            value = &opts->user;
        } else if (strcmp(arg, "--journey") == 0) {
            value = &opts->journey;
        } else if (strcmp(arg, "--limit") == 0) {
            if (i + 1 >= argc) {
                jy_cli_usage_error("runs", "--limit needs a value");
                return 2;
            }
            if (parse_count(argv[++i], INT64_MAX, &opts->limit) != 0) {
                fprintf(stderr, "journey runs: invalid --limit \"%s\": give a whole number of "
                                "runs, or 0 for all\n", argv[i]);
                return 2;
            }
            continue;
        } else if (arg[0] == '-') {
            jy_cli_unknown_option("runs", arg, runs_usage);
            return 2;
        } else {
            jy_cli_usage_error("runs", "unexpected argument \"%s\"; to explain one run, use "
                                       "journey show RUN", arg);
            return 2;
        }

        if (i + 1 >= argc) {
            jy_cli_usage_error("runs", "%s needs a value", arg);
            return 2;
        }
        *value = argv[++i];
    }

    if (opts->status_text != NULL) {
        char bad[64];
        if (parse_status_list(opts->status_text, &opts->status_mask, bad, sizeof bad) != 0) {
            fprintf(stderr, "journey runs: invalid --status \"%s\": use running, waiting, "
                            "sleeping, completed, failed, cancelled or live, several separated "
                            "by commas\n", bad);
            return 2;
        }
    }
    return 0;
}


/* Appends the WHERE clause of the filters, where ?1 is the user and ?2
 * the journey. */
static void append_runs_filter(jy_buf *sql, const runs_options *opts)
{
    jy_buf_append_str(sql, " WHERE 1");
    if (opts->status_mask != 0) {
        jy_buf_append_str(sql, " AND r.status IN (");
        int first = 1;
        for (int s = JY_RUN_RUNNING; s <= JY_RUN_CANCELLED; s++) {
            if (opts->status_mask & (1u << s)) {
                jy_buf_printf(sql, "%s%d", first ? "" : ",", s);
                first = 0;
            }
        }
        jy_buf_append_str(sql, ")");
    }
    if (opts->user != NULL)
        jy_buf_append_str(sql, " AND r.user = ?1");
    if (opts->journey != NULL)
        jy_buf_append_str(sql, " AND r.journey = ?2");
}


static sqlite3_stmt *prepare_runs_query(store_reader *reader, const runs_options *opts,
                                        const char *select, const char *tail)
{
    jy_buf sql;
    jy_buf_init(&sql);
    jy_buf_append_str(&sql, select);
    append_runs_filter(&sql, opts);
    jy_buf_append_str(&sql, tail);

    sqlite3_stmt *stmt = NULL;
    if (jy_buf_failed(&sql) ||
        sqlite3_prepare_v2(reader->db, sql.data, -1, &stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(reader, "querying the runs");
        stmt = NULL;
    }
    jy_buf_free(&sql);
    if (stmt == NULL)
        return NULL;
    if (opts->user != NULL)
        sqlite3_bind_text(stmt, 1, opts->user, -1, SQLITE_STATIC);
    if (opts->journey != NULL)
        sqlite3_bind_text(stmt, 2, opts->journey, -1, SQLITE_STATIC);
    return stmt;
}


/* The columns of the runs query, in order. */
enum {
    RUN_COL_ID,
    RUN_COL_JOURNEY,
    RUN_COL_USER,
    RUN_COL_KEY,
    RUN_COL_TRIGGER_SEQ,
    RUN_COL_STATUS,
    RUN_COL_STARTED,
    RUN_COL_ENDED,
    RUN_COL_RESULT,
    RUN_COL_ERROR,
    RUN_COL_WAIT_NAMES,
    RUN_COL_DEADLINE,
    RUN_COL_TRIGGER_NAME,
    RUN_COL_STEPS,
};

static const char runs_select[] =
    "SELECT r.id, r.journey, r.user, r.key, r.trigger_seq, r.status, r.started_at,"
    " r.ended_at, r.result, r.error, r.wait_names, d.at, t.name,"
    " (SELECT count(*) FROM journal j WHERE j.run_id = r.id)"
    " FROM runs r LEFT JOIN deadlines d ON d.run_id = r.id"
    " LEFT JOIN events t ON t.seq = r.trigger_seq";


static const char *status_name_of(int status)
{
    if (status < JY_RUN_RUNNING || status > JY_RUN_CANCELLED)
        return "unknown";
    return jy_run_status_name((jy_run_status)status);
}


static int is_live_status(int status)
{
    return status >= JY_RUN_RUNNING && status <= JY_RUN_SLEEPING;
}


static void append_run_json_line(sqlite3 *db, jy_buf *out, sqlite3_stmt *row)
{
    int status = sqlite3_column_int(row, RUN_COL_STATUS);
    jy_buf_printf(out, "{\"id\":%lld,\"journey\":", (long long)sqlite3_column_int64(row, RUN_COL_ID));
    jy_buf_append_json_string(out, (const char *)sqlite3_column_text(row, RUN_COL_JOURNEY));
    jy_buf_append_str(out, ",\"user\":");
    jy_buf_append_json_string(out, (const char *)sqlite3_column_text(row, RUN_COL_USER));
    jy_buf_append_str(out, ",\"key\":");
    append_json_string_or_null(out, (const char *)sqlite3_column_text(row, RUN_COL_KEY));
    jy_buf_printf(out, ",\"status\":\"%s\",\"status_code\":%d", status_name_of(status), status);
    jy_buf_printf(out, ",\"trigger_seq\":%lld,\"trigger_name\":",
                  (long long)sqlite3_column_int64(row, RUN_COL_TRIGGER_SEQ));
    append_json_string_or_null(out, (const char *)sqlite3_column_text(row, RUN_COL_TRIGGER_NAME));
    jy_buf_append_str(out, ",\"started_at\":");
    append_json_time(out, sqlite3_column_int64(row, RUN_COL_STARTED));
    jy_buf_append_str(out, ",\"ended_at\":");
    if (is_live_status(status))
        jy_buf_append_str(out, "null");
    else
        append_json_time(out, sqlite3_column_int64(row, RUN_COL_ENDED));

    const char *wait_names = (const char *)sqlite3_column_text(row, RUN_COL_WAIT_NAMES);
    jy_buf_append_str(out, ",\"wait_names\":");
    if (wait_names != NULL)
        append_json_names(out, wait_names);
    else
        jy_buf_append_str(out, "null");
    jy_buf_append_str(out, ",\"deadline\":");
    if (sqlite3_column_type(row, RUN_COL_DEADLINE) != SQLITE_NULL)
        append_json_time(out, sqlite3_column_int64(row, RUN_COL_DEADLINE));
    else
        jy_buf_append_str(out, "null");

    jy_buf_append_str(out, ",\"result\":");
    append_json_value(db, out, (const char *)sqlite3_column_text(row, RUN_COL_RESULT));
    jy_buf_append_str(out, ",\"error\":");
    append_json_string_or_null(out, (const char *)sqlite3_column_text(row, RUN_COL_ERROR));
    jy_buf_printf(out, ",\"steps\":%lld}\n", (long long)sqlite3_column_int64(row, RUN_COL_STEPS));
}


/* One row of the runs table, as the text of its cells. */
typedef struct table_row {
    char *cells[7];
} table_row;

static const char *const table_header[7] = {
    "run", "journey", "user", "key", "status", "started", "ended, or waiting until",
};


/* Appends the last column: the end time, or the current wait. */
static void append_run_state(jy_buf *cell, sqlite3_stmt *row)
{
    int status = sqlite3_column_int(row, RUN_COL_STATUS);
    const char *wait_names = (const char *)sqlite3_column_text(row, RUN_COL_WAIT_NAMES);
    int has_deadline = sqlite3_column_type(row, RUN_COL_DEADLINE) != SQLITE_NULL;

    if (!is_live_status(status)) {
        append_time(cell, sqlite3_column_int64(row, RUN_COL_ENDED));
        return;
    }
    if (status == JY_RUN_WAITING)
        jy_buf_printf(cell, "%s ", wait_names != NULL ? wait_names : "(names not stored)");
    else if (status == JY_RUN_SLEEPING)
        jy_buf_append_str(cell, "sleep ");
    else
        jy_buf_append_str(cell, "-");
    if (status == JY_RUN_RUNNING)
        return;
    if (has_deadline) {
        jy_buf_append_str(cell, "until ");
        append_time(cell, sqlite3_column_int64(row, RUN_COL_DEADLINE));
    } else {
        jy_buf_append_str(cell, "(no deadline stored)");
    }
}


static char *take_cell(jy_buf *cell)
{
    char *text = jy_buf_take(cell);
    return text != NULL ? text : strdup("?");
}


static void fill_table_row(table_row *out, sqlite3_stmt *row)
{
    jy_buf cell;
    jy_buf_init(&cell);

    jy_buf_printf(&cell, "%lld", (long long)sqlite3_column_int64(row, RUN_COL_ID));
    out->cells[0] = take_cell(&cell);
    out->cells[1] = column_text_copy(row, RUN_COL_JOURNEY);
    out->cells[2] = column_text_copy(row, RUN_COL_USER);
    out->cells[3] = sqlite3_column_type(row, RUN_COL_KEY) != SQLITE_NULL
        ? column_text_copy(row, RUN_COL_KEY) : strdup("-");
    out->cells[4] = strdup(status_name_of(sqlite3_column_int(row, RUN_COL_STATUS)));
    append_time(&cell, sqlite3_column_int64(row, RUN_COL_STARTED));
    out->cells[5] = take_cell(&cell);
    append_run_state(&cell, row);
    out->cells[6] = take_cell(&cell);
    jy_buf_free(&cell);
}


static void append_table(jy_buf *out, table_row *rows, size_t count)
{
    size_t widths[7];
    for (int c = 0; c < 7; c++)
        widths[c] = strlen(table_header[c]);
    for (size_t r = 0; r < count; r++)
        for (int c = 0; c < 7; c++)
            if (rows[r].cells[c] != NULL && strlen(rows[r].cells[c]) > widths[c])
                widths[c] = strlen(rows[r].cells[c]);

    for (size_t r = 0; r <= count; r++) {
        const char *const *cells = r == 0 ? table_header : (const char *const *)rows[r - 1].cells;
        for (int c = 0; c < 7; c++) {
            const char *text = cells[c] != NULL ? cells[c] : "?";
            if (c == 6) {
                jy_buf_printf(out, "%s\n", text);
            } else if (c == 0) {
                /* Run ids are numbers, so they align right. */
                jy_buf_printf(out, "%*s  ", (int)widths[c], text);
            } else {
                jy_buf_printf(out, "%-*s  ", (int)widths[c], text);
            }
        }
    }
}


int jy_cli_runs(int argc, char **argv)
{
    runs_options opts = {.limit = DEFAULT_RUN_LIMIT};
    int status = parse_runs_args(&opts, argc, argv);
    if (status != 0)
        return status;

    store_reader reader = {.command = "runs"};
    reader.path = store_path_of("runs", opts.store_spec);
    if (reader.path == NULL)
        return 2;
    if (open_reader(&reader) != 0) {
        close_reader(&reader);
        return 1;
    }

    sqlite3_stmt *count_stmt = prepare_runs_query(&reader, &opts, "SELECT count(*) FROM runs r",
                                                  "");
    jy_buf tail;
    jy_buf_init(&tail);
    jy_buf_append_str(&tail, " ORDER BY r.id DESC");
    if (opts.limit > 0)
        jy_buf_printf(&tail, " LIMIT %" PRIu64, opts.limit);
    sqlite3_stmt *stmt = jy_buf_failed(&tail)
        ? NULL : prepare_runs_query(&reader, &opts, runs_select, tail.data);
    jy_buf_free(&tail);

    jy_buf out;
    jy_buf_init(&out);
    table_row *rows = NULL;
    size_t row_count = 0;
    size_t row_capacity = 0;
    sqlite3_int64 matching = 0;
    status = 1;
    if (count_stmt == NULL || stmt == NULL)
        goto done;
    if (sqlite3_step(count_stmt) != SQLITE_ROW) {
        report_sqlite_error(&reader, "counting the runs");
        goto done;
    }
    matching = sqlite3_column_int64(count_stmt, 0);

    uint64_t shown = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        shown++;
        if (opts.json) {
            /* JSON Lines stream out in pieces, so --limit 0 on a large
             * store needs little memory. The table keeps its rows to
             * size the columns. */
            append_run_json_line(reader.db, &out, stmt);
            if (out.len >= JSON_FLUSH_BYTES) {
                if (write_output("runs", &out) != 0)
                    goto done;
                jy_buf_reset(&out);
            }
            continue;
        }
        if (row_count == row_capacity) {
            row_capacity = row_capacity == 0 ? 64 : row_capacity * 2;
            table_row *grown = realloc(rows, row_capacity * sizeof *grown);
            if (grown == NULL) {
                fprintf(stderr, "journey runs: out of memory listing the runs\n");
                goto done;
            }
            rows = grown;
        }
        fill_table_row(&rows[row_count++], stmt);
    }
    if (rc != SQLITE_DONE) {
        report_sqlite_error(&reader, "reading the runs");
        goto done;
    }

    /* The count and the rows come from one snapshot, so they agree. */
    uint64_t more = (uint64_t)matching > shown ? (uint64_t)matching - shown : 0;
    if (!opts.json) {
        if (shown == 0)
            jy_buf_printf(&out, "no runs in %s match\n", reader.path);
        else
            append_table(&out, rows, row_count);
        if (more > 0)
            jy_buf_printf(&out, "%" PRIu64 " more %s; --limit %" PRIu64
                                " shows them, --limit 0 shows all\n",
                          more, more == 1 ? "run matches" : "runs match", shown + more);
    } else if (more > 0) {
        /* The note goes to stderr, so stdout holds only JSON Lines. */
        fprintf(stderr, "journey runs: %" PRIu64 " more %s; --limit 0 shows all\n",
                more, more == 1 ? "run matches" : "runs match");
    }
    status = write_output("runs", &out);

done:
    sqlite3_finalize(count_stmt);
    sqlite3_finalize(stmt);
    for (size_t r = 0; r < row_count; r++)
        for (int c = 0; c < 7; c++)
            free(rows[r].cells[c]);
    free(rows);
    jy_buf_free(&out);
    close_reader(&reader);
    return status;
}


/* ---- journey show: loading a run ---- */

typedef struct stored_event {
    uint64_t seq;
    int found;      /* 0 when the seq is no longer in the store */
    char *user;
    char *id;       /* NULL for events without an id */
    char *name;
    jy_time ts;
    char *data;
    uint64_t origin_run;
} stored_event;

typedef struct run_view {
    uint64_t id;
    char *journey;
    char *user;
    char *key;
    uint64_t trigger_seq;
    int status;
    jy_time started_at;
    jy_time ended_at;
    char *result;
    char *error;
    char *wait_names;
    int has_deadline;
    jy_time deadline;
} run_view;

typedef struct journal_view {
    uint32_t index;
    int kind;
    char *name;
    jy_time at;
    char *result;
    char *words;           /* the step and its result in words */
    stored_event event;    /* the event a wait_for received or an emit stored */
    int has_event;
} journal_view;

typedef struct show_context {
    store_reader reader;
    sqlite3_stmt *event_stmt;
    sqlite3_stmt *json_stmt;
    sqlite3_stmt *seqs_stmt;
    run_view run;
    int has_clock;
    jy_time clock;
    stored_event trigger;
    journal_view *journal;
    size_t journal_count;
    stored_event *emitted;
    size_t emitted_count;
    int *emitted_used;       /* emitted[i] is linked to a journal emit line */
    stored_event *cancel_candidates;
    size_t cancel_candidate_count;
} show_context;


static void free_event(stored_event *event)
{
    free(event->user);
    free(event->id);
    free(event->name);
    free(event->data);
    memset(event, 0, sizeof *event);
}


static void read_event_row(sqlite3_stmt *stmt, stored_event *event)
{
    event->seq = (uint64_t)sqlite3_column_int64(stmt, 0);
    event->found = 1;
    event->user = column_text_copy(stmt, 1);
    event->id = column_text_copy(stmt, 2);
    event->name = column_text_copy(stmt, 3);
    event->ts = sqlite3_column_int64(stmt, 4);
    event->data = column_text_copy(stmt, 5);
    event->origin_run = (uint64_t)sqlite3_column_int64(stmt, 6);
}


static const char event_columns[] = "seq, user, id, name, ts, data, origin_run";


/* Loads event seq into *event. event->found stays 0 when the event is
 * gone. Returns 0, or 1 after printing a read error. */
static int load_event(show_context *ctx, uint64_t seq, stored_event *event)
{
    memset(event, 0, sizeof *event);
    event->seq = seq;
    sqlite3_stmt *stmt = ctx->event_stmt;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_event_row(stmt, event);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        report_sqlite_error(&ctx->reader, "reading an event");
        return 1;
    }
    return 0;
}


/* Returns the value at path ("$.event") of json as a malloc'd text:
 * JSON text when as_json, else the SQL value (a string without quotes).
 * Returns NULL when json is invalid or has nothing at path. */
static char *json_get(show_context *ctx, const char *json, const char *path, int as_json)
{
    sqlite3_stmt *stmt = ctx->json_stmt;
    char *value = NULL;

    sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        value = column_text_copy(stmt, as_json ? 1 : 2);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return value;
}


/* Returns the integer at path of json, or -1 when there is none. */
static int64_t json_get_int(show_context *ctx, const char *json, const char *path)
{
    char *text = json_get(ctx, json, path, 0);
    int64_t value = -1;
    if (text != NULL) {
        char *end = NULL;
        long long parsed = strtoll(text, &end, 10);
        if (end != text && *end == '\0')
            value = parsed;
    }
    free(text);
    return value;
}


static int prepare_show_statements(show_context *ctx)
{
    char event_sql[128];
    snprintf(event_sql, sizeof event_sql, "SELECT %s FROM events WHERE seq = ?1", event_columns);

    /* CASE keeps the JSON functions away from invalid text, where they
     * would raise an error instead of returning NULL. */
    static const char json_sql[] =
        "SELECT CASE WHEN json_valid(?1) THEN json_type(?1, ?2) END,"
        " CASE WHEN json_valid(?1) THEN ?1 -> ?2 END,"
        " CASE WHEN json_valid(?1) THEN ?1 ->> ?2 END";
    static const char seqs_sql[] =
        "SELECT value FROM json_each(CASE WHEN json_valid(?1) THEN ?1 ELSE '{}' END,"
        " '$.events')";

    sqlite3 *db = ctx->reader.db;
    if (sqlite3_prepare_v2(db, event_sql, -1, &ctx->event_stmt, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, json_sql, -1, &ctx->json_stmt, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, seqs_sql, -1, &ctx->seqs_stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(&ctx->reader, "preparing the queries");
        return 1;
    }
    return 0;
}


/* Loads the run record. Returns 0, -1 when the run is absent, or 1
 * after printing a read error. */
static int load_run(show_context *ctx, uint64_t id)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(ctx->reader.db,
                           "SELECT r.id, r.journey, r.user, r.key, r.trigger_seq, r.status,"
                           " r.started_at, r.ended_at, r.result, r.error, r.wait_names, d.at"
                           " FROM runs r LEFT JOIN deadlines d ON d.run_id = r.id"
                           " WHERE r.id = ?1", -1, &stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(&ctx->reader, "reading the run");
        return 1;
    }
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        run_view *run = &ctx->run;
        run->id = (uint64_t)sqlite3_column_int64(stmt, 0);
        run->journey = column_text_copy(stmt, 1);
        run->user = column_text_copy(stmt, 2);
        run->key = column_text_copy(stmt, 3);
        run->trigger_seq = (uint64_t)sqlite3_column_int64(stmt, 4);
        run->status = sqlite3_column_int(stmt, 5);
        run->started_at = sqlite3_column_int64(stmt, 6);
        run->ended_at = sqlite3_column_int64(stmt, 7);
        run->result = column_text_copy(stmt, 8);
        run->error = column_text_copy(stmt, 9);
        run->wait_names = column_text_copy(stmt, 10);
        run->has_deadline = sqlite3_column_type(stmt, 11) != SQLITE_NULL;
        run->deadline = sqlite3_column_int64(stmt, 11);
    } else if (rc != SQLITE_DONE) {
        report_sqlite_error(&ctx->reader, "reading the run");
    }
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? -1 : 1;
}


/* Loads every event the run emitted (events.origin_run), oldest first. */
static int load_emitted(show_context *ctx)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM events WHERE origin_run = ?1 ORDER BY seq",
             event_columns);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(ctx->reader.db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(&ctx->reader, "reading the emitted events");
        return 1;
    }
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)ctx->run.id);

    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (ctx->emitted_count == capacity) {
            capacity = capacity == 0 ? 16 : capacity * 2;
            stored_event *grown = realloc(ctx->emitted, capacity * sizeof *grown);
            int *used = realloc(ctx->emitted_used, capacity * sizeof *used);
            if (grown != NULL)
                ctx->emitted = grown;
            if (used != NULL)
                ctx->emitted_used = used;
            if (grown == NULL || used == NULL) {
                fprintf(stderr, "journey show: out of memory reading the emitted events\n");
                sqlite3_finalize(stmt);
                return 1;
            }
        }
        read_event_row(stmt, &ctx->emitted[ctx->emitted_count]);
        ctx->emitted_used[ctx->emitted_count] = 0;
        ctx->emitted_count++;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        report_sqlite_error(&ctx->reader, "reading the emitted events");
        return 1;
    }
    return 0;
}


/* Loads the user's events stored after the trigger with the time the
 * run was cancelled, other than the run's own emits: the likely
 * cancel_on events, because the store does not record which event
 * cancelled a run. */
static int load_cancel_candidates(show_context *ctx)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM events WHERE user = ?1 AND ts = ?2"
                              " AND origin_run <> ?3 AND seq > ?4 ORDER BY seq LIMIT %d",
             event_columns, MAX_CANCEL_CANDIDATES);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(ctx->reader.db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(&ctx->reader, "reading the user's events");
        return 1;
    }
    sqlite3_bind_text(stmt, 1, ctx->run.user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, ctx->run.ended_at);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)ctx->run.id);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)ctx->run.trigger_seq);

    ctx->cancel_candidates = calloc(MAX_CANCEL_CANDIDATES, sizeof *ctx->cancel_candidates);
    if (ctx->cancel_candidates == NULL) {
        sqlite3_finalize(stmt);
        fprintf(stderr, "journey show: out of memory reading the user's events\n");
        return 1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
           ctx->cancel_candidate_count < MAX_CANCEL_CANDIDATES)
        read_event_row(stmt, &ctx->cancel_candidates[ctx->cancel_candidate_count++]);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        report_sqlite_error(&ctx->reader, "reading the user's events");
        return 1;
    }
    return 0;
}


/* ---- journey show: journal entries in words ---- */

static const char *kind_name_of(int kind)
{
    if (kind < JY_STEP_WAIT_FOR || kind > JY_STEP_OS_TIME)
        return NULL;
    return jy_step_kind_name((jy_step_kind)kind);
}


/* Appends " event #SEQ NAME at TS [for USER] DATA", or a note that the
 * event is gone. */
static void append_event_words(jy_buf *words, const stored_event *event, const char *run_user)
{
    jy_buf_printf(words, "event #%" PRIu64, event->seq);
    if (!event->found) {
        jy_buf_append_str(words, " (no longer in the store)");
        return;
    }
    jy_buf_printf(words, " %s at ", event->name);
    append_time(words, event->ts);
    if (run_user != NULL && event->user != NULL && strcmp(event->user, run_user) != 0)
        jy_buf_printf(words, " for user %s", event->user);
    if (event->data != NULL && strcmp(event->data, "{}") != 0) {
        jy_buf_append_str(words, " ");
        append_clipped(words, event->data, CLIP_BYTES);
    }
}


/* Finds the emitted event that journal emit entry produced: the first
 * unlinked one with its name and time. Retention may have deleted it. */
static stored_event *link_emitted(show_context *ctx, const journal_view *entry)
{
    for (size_t i = 0; i < ctx->emitted_count; i++) {
        stored_event *event = &ctx->emitted[i];
        if (ctx->emitted_used[i] || event->ts != entry->at || event->name == NULL ||
            strcmp(event->name, entry->name) != 0)
            continue;
        ctx->emitted_used[i] = 1;
        return event;
    }
    return NULL;
}


/* Copies an event so the journal entry owns it. */
static void copy_event(stored_event *to, const stored_event *from)
{
    *to = *from;
    to->user = from->user != NULL ? strdup(from->user) : NULL;
    to->id = from->id != NULL ? strdup(from->id) : NULL;
    to->name = from->name != NULL ? strdup(from->name) : NULL;
    to->data = from->data != NULL ? strdup(from->data) : NULL;
}


static int describe_wait_for(show_context *ctx, journal_view *entry, jy_buf *words)
{
    jy_buf_append_str(words, "wait_for ");
    append_names_words(words, entry->name);
    jy_buf_append_str(words, " -> ");
    int64_t seq = json_get_int(ctx, entry->result, "$.event");
    if (seq < 0) {
        jy_buf_append_str(words, strcmp(entry->result, "null") == 0
                                     ? "timed out" : "unreadable result ");
        if (strcmp(entry->result, "null") != 0)
            append_clipped(words, entry->result, CLIP_BYTES);
        return 0;
    }
    if (load_event(ctx, (uint64_t)seq, &entry->event) != 0)
        return 1;
    entry->has_event = 1;
    append_event_words(words, &entry->event, ctx->run.user);
    return 0;
}


static int describe_events(show_context *ctx, journal_view *entry, jy_buf *words)
{
    jy_buf_append_str(words, "events ");
    append_names_words(words, entry->name);
    jy_buf_append_str(words, " -> ");
    sqlite3_stmt *stmt = ctx->seqs_stmt;
    sqlite3_bind_text(stmt, 1, entry->result, -1, SQLITE_STATIC);

    jy_buf list;
    jy_buf_init(&list);
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count < MAX_LISTED_SEQS)
            jy_buf_printf(&list, "%s#%lld", count > 0 ? ", " : "",
                          (long long)sqlite3_column_int64(stmt, 0));
        count++;
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) {
        jy_buf_free(&list);
        report_sqlite_error(&ctx->reader, "reading a journal entry");
        return 1;
    }

    if (count == 0) {
        jy_buf_append_str(words, "no events");
    } else {
        jy_buf_printf(words, "%zu event%s: %s", count, count == 1 ? "" : "s",
                      list.data != NULL ? list.data : "");
        if (count > MAX_LISTED_SEQS)
            jy_buf_printf(words, " and %zu more", count - MAX_LISTED_SEQS);
    }
    jy_buf_free(&list);
    return 0;
}


static void describe_sleep(show_context *ctx, journal_view *entry, jy_buf *words)
{
    /* A sleep journaled under a step's name is that step's retry backoff. */
    if (entry->kind == JY_STEP_SLEEP && entry->name[0] != '\0')
        jy_buf_printf(words, "sleep before retrying step \"%s\" -> ", entry->name);
    else
        jy_buf_printf(words, "%s -> ", kind_name_of(entry->kind));

    char *until = json_get(ctx, entry->result, "$.until", 0);
    if (until == NULL) {
        jy_buf_append_str(words, "unreadable result ");
        append_clipped(words, entry->result, CLIP_BYTES);
        return;
    }
    jy_buf_append_str(words, "woke at ");
    append_time(words, strtoll(until, NULL, 10));
    free(until);
}


static void describe_emit(show_context *ctx, journal_view *entry, jy_buf *words)
{
    jy_buf_printf(words, "emit %s -> ", entry->name);
    stored_event *event = link_emitted(ctx, entry);
    if (event == NULL) {
        jy_buf_append_str(words, "event not found among the run's emitted events (retention "
                                 "may have deleted it)");
        return;
    }
    copy_event(&entry->event, event);
    entry->has_event = 1;
    jy_buf_printf(words, "event #%" PRIu64, event->seq);
    if (event->user != NULL && strcmp(event->user, ctx->run.user) != 0)
        jy_buf_printf(words, " for user %s", event->user);
    if (event->data != NULL && strcmp(event->data, "{}") != 0) {
        jy_buf_append_str(words, " ");
        append_clipped(words, event->data, CLIP_BYTES);
    }
}


static void describe_step(show_context *ctx, journal_view *entry, jy_buf *words)
{
    jy_buf_printf(words, "step \"%s\"", entry->name);
    char *ok = json_get(ctx, entry->result, "$.ok", 0);

    if (ok != NULL && strcmp(ok, "1") == 0) {
        int64_t n = json_get_int(ctx, entry->result, "$.n");
        char *values = json_get(ctx, entry->result, "$.values", 1);
        jy_buf_append_str(words, " -> ");
        if (n == 0) {
            jy_buf_append_str(words, "returned nothing");
        } else if (n == 1) {
            char *value = json_get(ctx, entry->result, "$.values[0]", 1);
            append_clipped(words, value != NULL ? value : "null", CLIP_BYTES);
            free(value);
        } else {
            jy_buf_printf(words, "%" PRId64 " values ", n);
            append_clipped(words, values != NULL ? values : "[]", CLIP_BYTES);
        }
        free(values);
    } else if (ok != NULL && strcmp(ok, "0") == 0) {
        int64_t attempt = json_get_int(ctx, entry->result, "$.attempt");
        char *final = json_get(ctx, entry->result, "$.final", 0);
        char *error = json_get(ctx, entry->result, "$.error", 0);
        jy_buf_printf(words, " attempt %" PRId64 " failed%s: %s", attempt,
                      final != NULL && strcmp(final, "1") == 0 ? ", no retry left" : "",
                      error != NULL ? error : "(no message)");
        free(final);
        free(error);
    } else {
        jy_buf_append_str(words, " -> unreadable result ");
        append_clipped(words, entry->result, CLIP_BYTES);
    }
    free(ok);
}


/* Writes entry->words. Returns 0, or 1 after printing a read error. */
static int describe_entry(show_context *ctx, journal_view *entry)
{
    jy_buf words;
    jy_buf_init(&words);
    int rc = 0;

    switch (entry->kind) {
    case JY_STEP_WAIT_FOR:
        rc = describe_wait_for(ctx, entry, &words);
        break;
    case JY_STEP_EVENTS:
        rc = describe_events(ctx, entry, &words);
        break;
    case JY_STEP_SLEEP:
    case JY_STEP_SLEEP_UNTIL:
        describe_sleep(ctx, entry, &words);
        break;
    case JY_STEP_EMIT:
        describe_emit(ctx, entry, &words);
        break;
    case JY_STEP_STEP:
        describe_step(ctx, entry, &words);
        break;
    case JY_STEP_NOW:
        jy_buf_append_str(&words, "now -> ");
        append_time(&words, json_get_int(ctx, entry->result, "$"));
        break;
    case JY_STEP_OS_TIME: {
        int64_t seconds = json_get_int(ctx, entry->result, "$");
        jy_buf_printf(&words, "os.time -> %" PRId64 " (", seconds);
        append_time(&words, seconds * MS_PER_SECOND);
        jy_buf_append_str(&words, ")");
        break;
    }
    case JY_STEP_RANDOM:
        jy_buf_printf(&words, "math.random -> %s", entry->result);
        break;
    case JY_STEP_CALL:
        jy_buf_printf(&words, "call \"%s\" -> ", entry->name);
        append_clipped(&words, entry->result, CLIP_BYTES);
        break;
    default:
        jy_buf_printf(&words, "step kind %d, unknown to this journey: name \"%s\", result ",
                      entry->kind, entry->name);
        append_clipped(&words, entry->result, CLIP_BYTES);
        break;
    }
    entry->words = jy_buf_take(&words);
    return rc;
}


static int load_journal(show_context *ctx)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(ctx->reader.db,
                           "SELECT idx, kind, name, at, result FROM journal WHERE run_id = ?1"
                           " ORDER BY idx", -1, &stmt, NULL) != SQLITE_OK) {
        report_sqlite_error(&ctx->reader, "reading the journal");
        return 1;
    }
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)ctx->run.id);

    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (ctx->journal_count == capacity) {
            capacity = capacity == 0 ? 16 : capacity * 2;
            journal_view *grown = realloc(ctx->journal, capacity * sizeof *grown);
            if (grown == NULL) {
                fprintf(stderr, "journey show: out of memory reading the journal\n");
                sqlite3_finalize(stmt);
                return 1;
            }
            ctx->journal = grown;
        }
        journal_view *entry = &ctx->journal[ctx->journal_count++];
        memset(entry, 0, sizeof *entry);
        entry->index = (uint32_t)sqlite3_column_int64(stmt, 0);
        entry->kind = sqlite3_column_int(stmt, 1);
        entry->name = column_text_copy(stmt, 2);
        entry->at = sqlite3_column_int64(stmt, 3);
        entry->result = column_text_copy(stmt, 4);
        if (entry->name == NULL)
            entry->name = strdup("");
        if (entry->result == NULL)
            entry->result = strdup("null");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        report_sqlite_error(&ctx->reader, "reading the journal");
        return 1;
    }

    for (size_t i = 0; i < ctx->journal_count; i++)
        if (describe_entry(ctx, &ctx->journal[i]) != 0)
            return 1;
    return 0;
}


/* ---- journey show: the run in words ---- */

/* Returns the step a sleeping run retries after its backoff, when the
 * last journal entry is a failed attempt with retries left, else NULL. */
static const journal_view *pending_retry(show_context *ctx)
{
    if (ctx->run.status != JY_RUN_SLEEPING || ctx->journal_count == 0)
        return NULL;
    const journal_view *last = &ctx->journal[ctx->journal_count - 1];
    if (last->kind != JY_STEP_STEP)
        return NULL;
    char *ok = json_get(ctx, last->result, "$.ok", 0);
    char *final = json_get(ctx, last->result, "$.final", 0);
    int retrying = ok != NULL && strcmp(ok, "0") == 0 && final != NULL && strcmp(final, "0") == 0;
    free(ok);
    free(final);
    return retrying ? last : NULL;
}


/* Appends what the run does now and what ends that, in a sentence or
 * two. Continuation lines start with indent. */
static void append_status_words(show_context *ctx, jy_buf *out, const char *indent)
{
    const run_view *run = &ctx->run;

    switch (run->status) {
    case JY_RUN_RUNNING:
        jy_buf_printf(out, "running: the store holds the run as executing a step, which hosts "
                           "do not normally commit,\n%sbecause they commit between events. A "
                           "host that opens this store replays the run from its journal.\n",
                      indent);
        return;

    case JY_RUN_WAITING:
        jy_buf_append_str(out, "waiting for ");
        append_names_words(out, run->wait_names != NULL ? run->wait_names : "(names not stored)");
        if (run->has_deadline) {
            jy_buf_append_str(out, " until ");
            append_time(out, run->deadline);
            jy_buf_append_str(out, " (");
            append_relative(out, run->deadline, ctx->has_clock, ctx->clock);
            jy_buf_append_str(out, ")");
        }
        jy_buf_printf(out, ".\n%sThe next such event of user %s wakes the run if it passes the "
                           "wait's match (match: not stored).\n", indent, run->user);
        if (run->has_deadline)
            jy_buf_printf(out, "%sAt the deadline the wait times out and wait_for returns nil.\n",
                          indent);
        return;

    case JY_RUN_SLEEPING: {
        const journal_view *retry = pending_retry(ctx);
        if (retry != NULL)
            jy_buf_printf(out, "sleeping before retrying step \"%s\"", retry->name);
        else
            jy_buf_append_str(out, "sleeping");
        if (run->has_deadline) {
            jy_buf_append_str(out, " until ");
            append_time(out, run->deadline);
            jy_buf_append_str(out, " (");
            append_relative(out, run->deadline, ctx->has_clock, ctx->clock);
            jy_buf_append_str(out, ")");
        } else {
            jy_buf_append_str(out, " (no deadline stored)");
        }
        jy_buf_printf(out, ".\n%sOnly the deadline wakes it; events do not.\n", indent);
        return;
    }

    case JY_RUN_COMPLETED:
        jy_buf_append_str(out, "completed: the run returned, so it does nothing more.\n");
        return;

    case JY_RUN_FAILED:
        /* The host fails a run itself when its replay diverges; that is
         * no error the script raised. */
        if (run->error != NULL && strstr(run->error, "replay diverged") != NULL)
            jy_buf_append_str(out, "failed: its replay took another path than the run had "
                                   "taken, and it will not run again.\n");
        else
            jy_buf_append_str(out, "failed: the run raised an error and will not run again.\n");
        return;

    case JY_RUN_CANCELLED:
        jy_buf_printf(out, "cancelled: an event in the journey's cancel_on list arrived for "
                           "user %s and ended the run.\n%sThe store does not record which "
                           "event; ", run->user, indent);
        if (ctx->cancel_candidate_count == 0) {
            jy_buf_append_str(out, "no other event of the user has the cancel time.\n");
            return;
        }
        jy_buf_append_str(out, "events of the user at the cancel time: ");
        for (size_t i = 0; i < ctx->cancel_candidate_count; i++)
            jy_buf_printf(out, "%s#%" PRIu64 " %s", i > 0 ? ", " : "",
                          ctx->cancel_candidates[i].seq, ctx->cancel_candidates[i].name);
        jy_buf_append_str(out, ".\n");
        return;

    default:
        jy_buf_printf(out, "unknown status %d, which this journey does not know; a newer "
                           "journey may have written it.\n", run->status);
        return;
    }
}


/* Appends text with every line after the first starting with indent. */
static void append_indented(jy_buf *out, const char *text, const char *indent)
{
    for (const char *p = text; *p != '\0'; p++) {
        jy_buf_append(out, p, 1);
        if (*p == '\n' && p[1] != '\0')
            jy_buf_append_str(out, indent);
    }
    jy_buf_append_str(out, "\n");
}


#define LABEL_WIDTH 12

static void append_label(jy_buf *out, const char *label)
{
    jy_buf_printf(out, "%-*s", LABEL_WIDTH, label);
}


/* Appends the pending wait or sleep as the journal's last line. */
static void append_pending_line(show_context *ctx, jy_buf *out, int number_width,
                                int time_width)
{
    const run_view *run = &ctx->run;
    if (run->status != JY_RUN_WAITING && run->status != JY_RUN_SLEEPING)
        return;

    jy_buf_printf(out, "  %*zu  %-*s  ", number_width, ctx->journal_count + 1, time_width,
                  "(pending)");
    if (run->status == JY_RUN_WAITING) {
        jy_buf_append_str(out, "wait_for ");
        append_names_words(out, run->wait_names != NULL ? run->wait_names : "(names not stored)");
    } else {
        const journal_view *retry = pending_retry(ctx);
        if (retry != NULL)
            jy_buf_printf(out, "sleep before retrying step \"%s\"", retry->name);
        else
            jy_buf_append_str(out, "sleep");
    }
    if (run->has_deadline) {
        jy_buf_append_str(out, " until ");
        append_time(out, run->deadline);
    }
    jy_buf_append_str(out, "\n");
}


static void append_show_text(show_context *ctx, jy_buf *out)
{
    const run_view *run = &ctx->run;
    char indent[LABEL_WIDTH + 1];
    memset(indent, ' ', LABEL_WIDTH);
    indent[LABEL_WIDTH] = '\0';

    append_label(out, "run");
    jy_buf_printf(out, "%" PRIu64 "\n", run->id);
    append_label(out, "journey");
    jy_buf_printf(out, "%s\n", run->journey);
    append_label(out, "user");
    jy_buf_printf(out, "%s\n", run->user);
    append_label(out, "key");
    jy_buf_printf(out, "%s\n", run->key != NULL ? run->key : "none (every trigger starts its own run)");
    append_label(out, "status");
    append_status_words(ctx, out, indent);
    if (is_live_status(run->status)) {
        append_label(out, "store clock");
        if (ctx->has_clock)
            append_time(out, ctx->clock);
        else
            jy_buf_append_str(out, "not saved in this store");
        jy_buf_append_str(out, "\n");
    }

    append_label(out, "started");
    append_time(out, run->started_at);
    jy_buf_append_str(out, "\n");
    if (!is_live_status(run->status)) {
        append_label(out, "ended");
        append_time(out, run->ended_at);
        if (run->ended_at > run->started_at) {
            jy_buf_append_str(out, ", ");
            append_span(out, run->ended_at - run->started_at);
            jy_buf_append_str(out, " after the start\n");
        } else {
            jy_buf_append_str(out, ", the instant it started\n");
        }
    }

    append_label(out, "trigger");
    const stored_event *trigger = &ctx->trigger;
    if (!trigger->found) {
        jy_buf_printf(out, "event #%" PRIu64 ", no longer in the store (retention deletes "
                           "events that no live run can reach)\n", run->trigger_seq);
    } else {
        jy_buf_printf(out, "event #%" PRIu64 " %s at ", trigger->seq, trigger->name);
        append_time(out, trigger->ts);
        if (trigger->id != NULL)
            jy_buf_printf(out, ", id %s", trigger->id);
        if (trigger->origin_run != 0)
            jy_buf_printf(out, ", emitted by run %" PRIu64, trigger->origin_run);
        jy_buf_append_str(out, "\n");
        append_label(out, "");
        jy_buf_append_str(out, "data ");
        append_indented(out, trigger->data != NULL ? trigger->data : "{}", indent);
    }

    if (run->status == JY_RUN_COMPLETED) {
        append_label(out, "result");
        append_indented(out, run->result != NULL ? run->result : "null", indent);
    }
    if (run->status == JY_RUN_FAILED) {
        append_label(out, "error");
        append_indented(out, run->error != NULL ? run->error : "(no error stored)", indent);
    }

    int number_width = 1;
    for (size_t n = ctx->journal_count + 1; n >= 10; n /= 10)
        number_width++;

    /* Times with milliseconds are 4 characters longer, so the column
     * takes the width of the longest one. */
    int time_width = 20;
    for (size_t i = 0; i < ctx->journal_count; i++) {
        char text[JY_TIME_TEXT_SIZE];
        jy_time_format(ctx->journal[i].at, text);
        if ((int)strlen(text) > time_width)
            time_width = (int)strlen(text);
    }
    jy_buf_printf(out, "\njournal: %zu step%s\n", ctx->journal_count,
                  ctx->journal_count == 1 ? "" : "s");
    for (size_t i = 0; i < ctx->journal_count; i++) {
        const journal_view *entry = &ctx->journal[i];
        char text[JY_TIME_TEXT_SIZE];
        jy_time_format(entry->at, text);
        jy_buf_printf(out, "  %*u  %-*s  ", number_width, entry->index + 1, time_width, text);
        append_indented(out, entry->words != NULL ? entry->words : "?", "      ");
    }
    append_pending_line(ctx, out, number_width, time_width);

    jy_buf_printf(out, "\nemitted: %zu event%s\n", ctx->emitted_count,
                  ctx->emitted_count == 1 ? "" : "s");
    int seq_width = 1;
    if (ctx->emitted_count > 0)
        for (uint64_t n = ctx->emitted[ctx->emitted_count - 1].seq; n >= 10; n /= 10)
            seq_width++;
    int name_width = 0;
    for (size_t i = 0; i < ctx->emitted_count; i++)
        if (ctx->emitted[i].name != NULL && (int)strlen(ctx->emitted[i].name) > name_width)
            name_width = (int)strlen(ctx->emitted[i].name);
    for (size_t i = 0; i < ctx->emitted_count; i++) {
        const stored_event *event = &ctx->emitted[i];
        jy_buf_printf(out, "  #%-*" PRIu64 "  ", seq_width, event->seq);
        append_time(out, event->ts);
        jy_buf_printf(out, "  %-*s  ", name_width, event->name != NULL ? event->name : "?");
        if (event->user != NULL && strcmp(event->user, run->user) != 0)
            jy_buf_printf(out, "for user %s  ", event->user);
        append_clipped(out, event->data != NULL ? event->data : "{}", CLIP_BYTES);
        jy_buf_append_str(out, "\n");
    }
}


/* ---- journey show: JSON ---- */

static void append_event_json(sqlite3 *db, jy_buf *out, const stored_event *event)
{
    if (!event->found) {
        jy_buf_printf(out, "{\"seq\":%" PRIu64 ",\"stored\":false}", event->seq);
        return;
    }
    jy_buf_printf(out, "{\"seq\":%" PRIu64 ",\"stored\":true,\"id\":", event->seq);
    append_json_string_or_null(out, event->id);
    jy_buf_append_str(out, ",\"user\":");
    append_json_string_or_null(out, event->user);
    jy_buf_append_str(out, ",\"name\":");
    append_json_string_or_null(out, event->name);
    jy_buf_append_str(out, ",\"ts\":");
    append_json_time(out, event->ts);
    jy_buf_append_str(out, ",\"data\":");
    append_json_value(db, out, event->data);
    jy_buf_printf(out, ",\"origin_run\":%" PRIu64 "}", event->origin_run);
}


static void append_show_json(show_context *ctx, jy_buf *out)
{
    sqlite3 *db = ctx->reader.db;
    const run_view *run = &ctx->run;

    jy_buf_printf(out, "{\"id\":%" PRIu64 ",\"journey\":", run->id);
    jy_buf_append_json_string(out, run->journey);
    jy_buf_append_str(out, ",\"user\":");
    jy_buf_append_json_string(out, run->user);
    jy_buf_append_str(out, ",\"key\":");
    append_json_string_or_null(out, run->key);
    jy_buf_printf(out, ",\"status\":\"%s\",\"status_code\":%d,\"status_text\":",
                  status_name_of(run->status), run->status);
    jy_buf words;
    jy_buf_init(&words);
    append_status_words(ctx, &words, "");
    /* The text form's lines become one paragraph. */
    if (words.data != NULL) {
        for (char *p = words.data; *p != '\0'; p++)
            if (*p == '\n')
                *p = ' ';
        while (words.len > 0 && words.data[words.len - 1] == ' ')
            words.data[--words.len] = '\0';
    }
    append_json_string_or_null(out, jy_buf_failed(&words) ? NULL : words.data);
    jy_buf_free(&words);

    jy_buf_append_str(out, ",\"store_clock\":");
    if (ctx->has_clock)
        append_json_time(out, ctx->clock);
    else
        jy_buf_append_str(out, "null");
    jy_buf_append_str(out, ",\"started_at\":");
    append_json_time(out, run->started_at);
    jy_buf_append_str(out, ",\"ended_at\":");
    if (is_live_status(run->status))
        jy_buf_append_str(out, "null");
    else
        append_json_time(out, run->ended_at);

    jy_buf_append_str(out, ",\"wait\":");
    if (is_live_status(run->status) && run->status != JY_RUN_RUNNING) {
        jy_buf_append_str(out, "{\"names\":");
        if (run->wait_names != NULL)
            append_json_names(out, run->wait_names);
        else
            jy_buf_append_str(out, "null");
        jy_buf_append_str(out, ",\"deadline\":");
        if (run->has_deadline)
            append_json_time(out, run->deadline);
        else
            jy_buf_append_str(out, "null");
        jy_buf_append_str(out, "}");
    } else {
        jy_buf_append_str(out, "null");
    }

    jy_buf_printf(out, ",\"trigger_seq\":%" PRIu64 ",\"trigger\":", run->trigger_seq);
    append_event_json(db, out, &ctx->trigger);
    jy_buf_append_str(out, ",\"result\":");
    append_json_value(db, out, run->result);
    jy_buf_append_str(out, ",\"error\":");
    append_json_string_or_null(out, run->error);

    jy_buf_append_str(out, ",\"cancel_candidates\":[");
    for (size_t i = 0; i < ctx->cancel_candidate_count; i++) {
        if (i > 0)
            jy_buf_append_str(out, ",");
        append_event_json(db, out, &ctx->cancel_candidates[i]);
    }

    jy_buf_append_str(out, "],\"journal\":[");
    for (size_t i = 0; i < ctx->journal_count; i++) {
        const journal_view *entry = &ctx->journal[i];
        const char *kind = kind_name_of(entry->kind);
        jy_buf_printf(out, "%s{\"step\":%u,\"at\":", i > 0 ? "," : "", entry->index + 1);
        append_json_time(out, entry->at);
        jy_buf_append_str(out, ",\"kind\":");
        append_json_string_or_null(out, kind);
        jy_buf_printf(out, ",\"kind_code\":%d,\"name\":", entry->kind);
        jy_buf_append_json_string(out, entry->name);
        jy_buf_append_str(out, ",\"result\":");
        append_json_value(db, out, entry->result);
        jy_buf_append_str(out, ",\"text\":");
        append_json_string_or_null(out, entry->words);
        if (entry->has_event) {
            jy_buf_append_str(out, ",\"event\":");
            append_event_json(db, out, &entry->event);
        }
        jy_buf_append_str(out, "}");
    }

    jy_buf_append_str(out, "],\"emitted\":[");
    for (size_t i = 0; i < ctx->emitted_count; i++) {
        if (i > 0)
            jy_buf_append_str(out, ",");
        append_event_json(db, out, &ctx->emitted[i]);
    }
    jy_buf_append_str(out, "]}\n");
}


/* ---- journey show: the command ---- */

static void free_show_context(show_context *ctx)
{
    sqlite3_finalize(ctx->event_stmt);
    sqlite3_finalize(ctx->json_stmt);
    sqlite3_finalize(ctx->seqs_stmt);
    run_view *run = &ctx->run;
    free(run->journey);
    free(run->user);
    free(run->key);
    free(run->result);
    free(run->error);
    free(run->wait_names);
    free_event(&ctx->trigger);
    for (size_t i = 0; i < ctx->journal_count; i++) {
        free(ctx->journal[i].name);
        free(ctx->journal[i].result);
        free(ctx->journal[i].words);
        free_event(&ctx->journal[i].event);
    }
    free(ctx->journal);
    for (size_t i = 0; i < ctx->emitted_count; i++)
        free_event(&ctx->emitted[i]);
    free(ctx->emitted);
    free(ctx->emitted_used);
    for (size_t i = 0; i < ctx->cancel_candidate_count; i++)
        free_event(&ctx->cancel_candidates[i]);
    free(ctx->cancel_candidates);
    close_reader(&ctx->reader);
}


/* Prints that the run is absent, with the range of ids the store has. */
static void report_missing_run(show_context *ctx, uint64_t id)
{
    sqlite3_int64 max_id = query_int(ctx->reader.db, "SELECT coalesce(max(id), 0) FROM runs");
    fprintf(stderr, "journey show: run %" PRIu64 " not found in %s", id, ctx->reader.path);
    if (max_id <= 0)
        fprintf(stderr, " (the store has no runs)\n");
    else if ((sqlite3_int64)id < max_id)
        fprintf(stderr, " (run ids there go up to %lld; retention deletes ended runs once they "
                        "are older than the retention period)\n", (long long)max_id);
    else
        fprintf(stderr, " (the newest run there is %lld)\n", (long long)max_id);
}


int jy_cli_show(int argc, char **argv)
{
    const char *store_spec = NULL;
    const char *run_text = NULL;
    int json = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(show_usage, stdout);
            return 0;
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if (strcmp(arg, "--store") == 0) {
            if (i + 1 >= argc) {
                jy_cli_usage_error("show", "--store needs a value");
                return 2;
            }
            store_spec = argv[++i];
        } else if (arg[0] == '-' && arg[1] == '-') {
            jy_cli_unknown_option("show", arg, show_usage);
            return 2;
        } else if (run_text != NULL) {
            jy_cli_usage_error("show", "give one run id, got \"%s\" and \"%s\"", run_text,
                               arg);
            return 2;
        } else {
            run_text = arg;
        }
    }
    if (run_text == NULL) {
        jy_cli_usage_error("show", "missing the run id; journey runs lists them");
        return 2;
    }

    uint64_t run_id = 0;
    const char *digits = run_text[0] == '#' ? run_text + 1 : run_text;
    if (parse_count(digits, INT64_MAX, &run_id) != 0 || run_id == 0) {
        fprintf(stderr, "journey show: invalid run id \"%s\": give a whole number such as 42, "
                        "as journey runs lists them\n", run_text);
        return 2;
    }

    show_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.reader.command = "show";
    ctx.reader.path = store_path_of("show", store_spec);
    if (ctx.reader.path == NULL)
        return 2;

    int status = 1;
    if (open_reader(&ctx.reader) != 0 || prepare_show_statements(&ctx) != 0)
        goto done;
    int found = load_run(&ctx, run_id);
    if (found == -1)
        report_missing_run(&ctx, run_id);
    if (found != 0)
        goto done;

    ctx.has_clock = read_store_clock(&ctx.reader, &ctx.clock);
    if (load_event(&ctx, ctx.run.trigger_seq, &ctx.trigger) != 0 || load_emitted(&ctx) != 0 ||
        load_journal(&ctx) != 0)
        goto done;
    if (ctx.run.status == JY_RUN_CANCELLED && load_cancel_candidates(&ctx) != 0)
        goto done;

    jy_buf out;
    jy_buf_init(&out);
    if (json)
        append_show_json(&ctx, &out);
    else
        append_show_text(&ctx, &out);
    status = write_output("show", &out);
    jy_buf_free(&out);

done:
    free_show_context(&ctx);
    return status;
}
