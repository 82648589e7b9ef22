/*
 * The file store (see file_store.h and README.md).
 *
 * A memory store serves every read. Every write goes to the memory
 * store first, which validates it (duplicate event ids, journal
 * indexes) and assigns event seqs, and then as one line to the log.
 * commit() appends a commit line and fsyncs. Opening replays the log
 * into a new memory store, up to the last commit line, through the
 * same memory operations, so the replayed store equals the one that
 * wrote the log.
 *
 * The log is text, one record per line:
 *
 *   journey-file-store 1                      first line, the format
 *   event   seq origin_run ts id user name data_json user_json
 *   run     id journey user key trigger_seq started_at ended_at status
 *           result_json error wait_names deadline
 *   journal run_id index kind at name result_json
 *   user    user at attributes_json
 *   meta    key value
 *   prune   ended_before events_before
 *   commit
 *
 * Fields are separated by one tab. Text is escaped as in PostgreSQL's
 * COPY text format: backslash, tab, newline and carriage return become
 * \\, \t, \n and \r, and a NULL string is \N.
 */
#include "file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_LINE "journey-file-store\t1\n"
#define COMMIT_LINE "commit\n"
#define MAX_FIELDS 14

typedef struct file_store {
    jy_store base;
    jy_store *mem;      /* serves every read and contains every write */
    FILE *log;          /* opened for appending; closing it releases the lock */
    char *path;
    int dirty;          /* written since the last commit */
    int failed;         /* set by a failed write or commit, rejects later ones */
    char failure[512];
} file_store;


/* ---- Writing records ------------------------------------------------ */

static void write_text(FILE *log, const char *text)
{
    fputc('\t', log);
    if (text == NULL) {
        fputs("\\N", log);
        return;
    }
    for (const char *c = text; *c != '\0'; c++) {
        switch (*c) {
        case '\\': fputs("\\\\", log); break;
        case '\t': fputs("\\t", log); break;
        case '\n': fputs("\\n", log); break;
        case '\r': fputs("\\r", log); break;
        default: fputc(*c, log); break;
        }
    }
}


static void write_unsigned(FILE *log, uint64_t value)
{
    fprintf(log, "\t%" PRIu64, value);
}


static void write_signed(FILE *log, int64_t value)
{
    fprintf(log, "\t%" PRId64, value);
}


/* Marks the store failed, so that later writes and commits are rejected,
 * because the memory store may now contain what the log lacks. */
static int fail(file_store *store, jy_error *err, const char *action)
{
    if (!store->failed) {
        store->failed = 1;
        snprintf(store->failure, sizeof store->failure, "%s %s failed: %s", action, store->path,
                 strerror(errno));
    }
    return jy_error_set(err, JY_EIO, "%s", store->failure);
}


/* Rejects a write after a failure, and otherwise marks the group dirty. */
static int check_writable(file_store *store, jy_error *err)
{
    if (store->failed)
        return jy_error_set(err, JY_EIO, "%s; reopen the store", store->failure);
    store->dirty = 1;
    return 0;
}


/* ---- The store operations ------------------------------------------- */

static int file_event_append(jy_store *base, jy_event *event, jy_error *err)
{
    file_store *store = (file_store *)base;

    /* On this error the caller keeps the event, as on any error other
     * than JY_EEXIST. */
    int rc = check_writable(store, err);
    if (rc != 0)
        return rc;
    rc = store->mem->ops->event_append(store->mem, event, err);
    if (rc != 0)
        return rc;

    /* The memory store owns the event now, and it has its seq. */
    fputs("event", store->log);
    write_unsigned(store->log, event->seq);
    write_unsigned(store->log, event->origin_run);
    write_signed(store->log, event->ts);
    write_text(store->log, event->id);
    write_text(store->log, event->user);
    write_text(store->log, event->name);
    write_text(store->log, event->data_json);
    write_text(store->log, event->user_json);
    fputc('\n', store->log);
    return 0;
}


static const jy_event *file_event_get(jy_store *base, uint64_t seq)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->event_get(store->mem, seq);
}


static int file_event_scan(jy_store *base, const char *user, uint64_t from_seq,
                           jy_event_visit_fn visit, void *ctx)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->event_scan(store->mem, user, from_seq, visit, ctx);
}


static int file_run_put(jy_store *base, const jy_run_record *record, jy_error *err)
{
    file_store *store = (file_store *)base;
    int rc = check_writable(store, err);
    if (rc == 0)
        rc = store->mem->ops->run_put(store->mem, record, err);
    if (rc != 0)
        return rc;

    fputs("run", store->log);
    write_unsigned(store->log, record->id);
    write_text(store->log, record->journey);
    write_text(store->log, record->user);
    write_text(store->log, record->key);
    write_unsigned(store->log, record->trigger_seq);
    write_signed(store->log, record->started_at);
    write_signed(store->log, record->ended_at);
    write_signed(store->log, record->status);
    write_text(store->log, record->result_json);
    write_text(store->log, record->error);
    write_text(store->log, record->wait_names);
    write_signed(store->log, record->deadline);
    fputc('\n', store->log);
    return 0;
}


static int file_journal_append(jy_store *base, const jy_journal_entry *entry, jy_error *err)
{
    file_store *store = (file_store *)base;
    int rc = check_writable(store, err);
    if (rc == 0)
        rc = store->mem->ops->journal_append(store->mem, entry, err);
    if (rc != 0)
        return rc;

    fputs("journal", store->log);
    write_unsigned(store->log, entry->run_id);
    write_unsigned(store->log, entry->index);
    write_signed(store->log, entry->kind);
    write_signed(store->log, entry->at);
    write_text(store->log, entry->name);
    write_text(store->log, entry->result_json);
    fputc('\n', store->log);
    return 0;
}


static const jy_journal_entry *file_journal_get(jy_store *base, uint64_t run_id,
                                                uint32_t index)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->journal_get(store->mem, run_id, index);
}


static int file_run_scan_live(jy_store *base, jy_run_visit_fn visit, void *ctx)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->run_scan_live(store->mem, visit, ctx);
}


static uint64_t file_run_max_id(jy_store *base)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->run_max_id(store->mem);
}


static int file_user_put(jy_store *base, const char *user, const char *attributes_json,
                         jy_time at, jy_error *err)
{
    file_store *store = (file_store *)base;
    int rc = check_writable(store, err);
    if (rc == 0)
        rc = store->mem->ops->user_put(store->mem, user, attributes_json, at, err);
    if (rc != 0)
        return rc;

    fputs("user", store->log);
    write_text(store->log, user);
    write_signed(store->log, at);
    write_text(store->log, attributes_json);
    fputc('\n', store->log);
    return 0;
}


static int file_meta_get(jy_store *base, const char *key, char **value, jy_error *err)
{
    file_store *store = (file_store *)base;
    return store->mem->ops->meta_get(store->mem, key, value, err);
}


static int file_meta_put(jy_store *base, const char *key, const char *value, jy_error *err)
{
    file_store *store = (file_store *)base;
    int rc = check_writable(store, err);
    if (rc == 0)
        rc = store->mem->ops->meta_put(store->mem, key, value, err);
    if (rc != 0)
        return rc;

    fputs("meta", store->log);
    write_text(store->log, key);
    write_text(store->log, value);
    fputc('\n', store->log);
    return 0;
}


/* Logs the prune's arguments rather than what it deleted, because
 * replaying the same prune on the same replayed state deletes the same
 * runs and events. */
static int file_prune(jy_store *base, jy_time ended_before, jy_time events_before,
                      uint64_t *runs_deleted, uint64_t *events_deleted, jy_error *err)
{
    file_store *store = (file_store *)base;
    int rc = check_writable(store, err);
    if (rc == 0)
        rc = store->mem->ops->prune(store->mem, ended_before, events_before, runs_deleted,
                                    events_deleted, err);
    if (rc != 0)
        return rc;

    fputs("prune", store->log);
    write_signed(store->log, ended_before);
    write_signed(store->log, events_before);
    fputc('\n', store->log);
    return 0;
}


static int file_commit(jy_store *base, jy_error *err)
{
    file_store *store = (file_store *)base;

    if (store->failed)
        return jy_error_set(err, JY_EIO, "%s; reopen the store", store->failure);
    if (!store->dirty)
        return 0;

    /* The group must be in the file whole before the commit line follows
     * it. A commit line after a partly written group would make that
     * part look committed. */
    if (fflush(store->log) != 0 || ferror(store->log))
        return fail(store, err, "writing to");
    if (fputs(COMMIT_LINE, store->log) == EOF || fflush(store->log) != 0)
        return fail(store, err, "writing to");
    if (fsync(fileno(store->log)) != 0)
        return fail(store, err, "syncing");
    store->dirty = 0;
    return 0;
}


static void file_destroy(jy_store *base)
{
    file_store *store = (file_store *)base;

    /* Lines written after the last commit may reach the file here, and
     * the next open cuts them off. Closing also releases the lock. */
    if (store->log != NULL)
        fclose(store->log);
    if (store->mem != NULL)
        store->mem->ops->destroy(store->mem);
    free(store->path);
    free(store);
}


static const jy_store_ops file_ops = {
    .name = "file",
    .event_append = file_event_append,
    .event_get = file_event_get,
    .event_scan = file_event_scan,
    .run_put = file_run_put,
    .journal_append = file_journal_append,
    .journal_get = file_journal_get,
    .run_scan_live = file_run_scan_live,
    .run_max_id = file_run_max_id,
    .user_put = file_user_put,
    .meta_get = file_meta_get,
    .meta_put = file_meta_put,
    .prune = file_prune,
    .commit = file_commit,
    .destroy = file_destroy,
};


/* ---- Replaying the log ---------------------------------------------- */

/* Splits line (without its newline) at tabs and unescapes each field in
 * place. A field that is exactly \N becomes NULL. Returns the number of
 * fields, or -1 for too many fields or an invalid escape. */
static int split_fields(char *line, char **fields)
{
    int count = 0;
    char *field = line;

    for (;;) {
        if (count == MAX_FIELDS)
            return -1;
        char *end = strchr(field, '\t');
        if (end != NULL)
            *end = '\0';

        if (strcmp(field, "\\N") == 0) {
            fields[count++] = NULL;
        } else {
            char *out = field;
            for (const char *in = field; *in != '\0'; in++) {
                if (*in != '\\') {
                    *out++ = *in;
                    continue;
                }
                in++;
                switch (*in) {
                case '\\': *out++ = '\\'; break;
                case 't': *out++ = '\t'; break;
                case 'n': *out++ = '\n'; break;
                case 'r': *out++ = '\r'; break;
                default: return -1;
                }
            }
            *out = '\0';
            fields[count++] = field;
        }

        if (end == NULL)
            return count;
        field = end + 1;
    }
}


static int parse_unsigned(const char *text, uint64_t *value)
{
    char *end = NULL;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *value = parsed;
    return 0;
}


static int parse_signed(const char *text, int64_t *value)
{
    char *end = NULL;

    if (text == NULL || (text[0] != '-' && (text[0] < '0' || text[0] > '9')))
        return -1;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *value = parsed;
    return 0;
}


static int replay_event(jy_store *mem, char **fields)
{
    uint64_t seq, origin_run;
    int64_t ts;
    const char *id = fields[4], *user = fields[5], *name = fields[6];
    const char *data_json = fields[7], *user_json = fields[8];

    if (parse_unsigned(fields[1], &seq) != 0 ||
        parse_unsigned(fields[2], &origin_run) != 0 ||
        parse_signed(fields[3], &ts) != 0 ||
        user == NULL || name == NULL || data_json == NULL)
        return JY_EINVAL;

    jy_event *event = jy_event_new(id, user, name, ts, data_json, user_json, origin_run);
    if (event == NULL)
        return JY_ENOMEM;
    event->seq = seq;

    /* JY_EINVAL from here means a seq out of order, not a syntax error. */
    int rc = jy_store_memory_load_event(mem, event);
    return rc == JY_EINVAL ? JY_ESTATE : rc;
}


static int replay_run(jy_store *mem, char **fields)
{
    jy_run_record record = {
        .journey = fields[2],
        .user = fields[3],
        .key = fields[4],
        .result_json = fields[9],
        .error = fields[10],
        .wait_names = fields[11],
    };
    int64_t status;

    if (parse_unsigned(fields[1], &record.id) != 0 ||
        parse_unsigned(fields[5], &record.trigger_seq) != 0 ||
        parse_signed(fields[6], &record.started_at) != 0 ||
        parse_signed(fields[7], &record.ended_at) != 0 ||
        parse_signed(fields[8], &status) != 0 ||
        parse_signed(fields[12], &record.deadline) != 0 ||
        record.journey == NULL || record.user == NULL)
        return JY_EINVAL;
    record.status = (int)status;
    return mem->ops->run_put(mem, &record, NULL);
}


static int replay_journal(jy_store *mem, char **fields)
{
    jy_journal_entry entry = {.name = fields[5], .result_json = fields[6]};
    uint64_t index;
    int64_t kind;

    if (parse_unsigned(fields[1], &entry.run_id) != 0 ||
        parse_unsigned(fields[2], &index) != 0 || index > UINT32_MAX ||
        parse_signed(fields[3], &kind) != 0 ||
        parse_signed(fields[4], &entry.at) != 0)
        return JY_EINVAL;
    entry.index = (uint32_t)index;
    entry.kind = (jy_step_kind)kind;
    return jy_store_memory_load_journal(mem, &entry);
}


static int replay_user(jy_store *mem, char **fields)
{
    int64_t at;

    if (fields[1] == NULL || parse_signed(fields[2], &at) != 0 || fields[3] == NULL)
        return JY_EINVAL;
    return mem->ops->user_put(mem, fields[1], fields[3], at, NULL);
}


static int replay_meta(jy_store *mem, char **fields)
{
    if (fields[1] == NULL || fields[2] == NULL)
        return JY_EINVAL;
    return mem->ops->meta_put(mem, fields[1], fields[2], NULL);
}


static int replay_prune(jy_store *mem, char **fields)
{
    int64_t ended_before, events_before;
    uint64_t runs_deleted, events_deleted;

    if (parse_signed(fields[1], &ended_before) != 0 ||
        parse_signed(fields[2], &events_before) != 0)
        return JY_EINVAL;
    return mem->ops->prune(mem, ended_before, events_before, &runs_deleted, &events_deleted,
                           NULL);
}


static const struct {
    const char *type;
    int field_count; /* the type's name included */
    int (*replay)(jy_store *mem, char **fields);
} record_types[] = {
    {"event", 9, replay_event},
    {"run", 13, replay_run},
    {"journal", 7, replay_journal},
    {"user", 4, replay_user},
    {"meta", 3, replay_meta},
    {"prune", 3, replay_prune},
};


/* Applies one committed line (without its newline) to the memory store. */
static int replay_line(file_store *store, char *line, size_t line_number, jy_error *err)
{
    char *fields[MAX_FIELDS];
    int count = split_fields(line, fields);

    for (size_t i = 0; i < sizeof record_types / sizeof record_types[0]; i++) {
        if (count < 1 || fields[0] == NULL || strcmp(fields[0], record_types[i].type) != 0)
            continue;
        if (count != record_types[i].field_count)
            break;
        int rc = record_types[i].replay(store->mem, fields);
        if (rc == 0)
            return 0;
        if (rc == JY_ENOMEM)
            return jy_error_set(err, rc, "out of memory replaying %s", store->path);
        if (rc == JY_EINVAL)
            break;
        return jy_error_set(err, JY_EINVAL,
                            "%s:%zu: the %s record does not fit the records before it (a "
                            "duplicate event, an event seq out of order or a journal index "
                            "gap); the file is damaged",
                            store->path, line_number, record_types[i].type);
    }
    return jy_error_set(err, JY_EINVAL, "%s:%zu: invalid record; the file is damaged",
                        store->path, line_number);
}


/* Returns the offset just past the last commit line of in (or past the
 * header when there is none), leaving in at its start. A last line
 * without its newline is torn and never counts. */
static long find_committed_end(FILE *in)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long offset = 0;
    long committed_end = (long)strlen(HEADER_LINE);

    while ((length = getline(&line, &capacity, in)) > 0) {
        offset += length;
        if (strcmp(line, COMMIT_LINE) == 0)
            committed_end = offset;
    }
    free(line);
    rewind(in);
    return committed_end;
}


/* Replays the committed lines of the log into store->mem and returns the
 * offset where they end, or -1 after filling err. */
static long replay_log(file_store *store, jy_error *err)
{
    FILE *in = fopen(store->path, "r");
    if (in == NULL) {
        jy_error_set(err, JY_EIO, "cannot read %s: %s", store->path, strerror(errno));
        return -1;
    }

    long committed_end = find_committed_end(in);
    char *line = NULL;
    size_t capacity = 0;
    size_t line_number = 0;
    long offset = 0;
    int rc = 0;

    while (rc == 0 && offset < committed_end) {
        ssize_t length = getline(&line, &capacity, in);
        if (length <= 0)
            break;
        offset += length;
        line_number++;
        line[length - 1] = '\0';

        if (line_number == 1) {
            if (strcmp(line, "journey-file-store\t1") != 0)
                rc = jy_error_set(err, JY_EINVAL,
                                  "%s is not a journey file store (its first line is not "
                                  "\"journey-file-store<TAB>1\"); give another path",
                                  store->path);
        } else if (strcmp(line, "commit") != 0) {
            rc = replay_line(store, line, line_number, err);
        }
    }
    free(line);
    fclose(in);
    return rc == 0 ? committed_end : -1;
}


/* Writes the header line into an empty log and makes the new file's
 * directory entry durable too. */
static int create_log(file_store *store, int fd, jy_error *err)
{
    if (ftruncate(fd, 0) != 0 || write(fd, HEADER_LINE, strlen(HEADER_LINE)) !=
                                     (ssize_t)strlen(HEADER_LINE) || fsync(fd) != 0)
        return jy_error_set(err, JY_EIO, "cannot create %s: %s", store->path, strerror(errno));

    char *dir = strdup(store->path);
    if (dir == NULL)
        return jy_error_set(err, JY_ENOMEM, "out of memory opening %s", store->path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        slash[0] = '\0';

    int rc = 0;
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || fsync(dir_fd) != 0)
        rc = jy_error_set(err, JY_EIO, "cannot sync the directory %s: %s", dir, strerror(errno));
    if (dir_fd >= 0)
        close(dir_fd);
    free(dir);
    return rc;
}


/* Opens and locks the log, creating it when it is missing or holds only
 * part of the header (a crash during creation). Returns the descriptor,
 * or -1 after filling err. */
static int open_log(file_store *store, jy_error *err)
{
    int fd = open(store->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        jy_error_set(err, JY_EIO, "cannot open %s: %s", store->path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            jy_error_set(err, JY_ESTATE,
                         "the store %s is in use by another process; stop it first, or give "
                         "another path", store->path);
        else
            jy_error_set(err, JY_EIO, "cannot lock %s: %s", store->path, strerror(errno));
        close(fd);
        return -1;
    }

    char start[sizeof HEADER_LINE];
    ssize_t length = pread(fd, start, strlen(HEADER_LINE), 0);
    if (length < 0) {
        jy_error_set(err, JY_EIO, "cannot read %s: %s", store->path, strerror(errno));
        close(fd);
        return -1;
    }
    int header_incomplete = length < (ssize_t)strlen(HEADER_LINE) &&
                            memcmp(start, HEADER_LINE, (size_t)length) == 0;
    if (header_incomplete && create_log(store, fd, err) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}


jy_store *jy_file_store_open(const char *path, jy_error *err)
{
    file_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    store->base.ops = &file_ops;
    store->path = strdup(path);
    store->mem = jy_store_memory_new();
    if (store->path == NULL || store->mem == NULL) {
        jy_error_set(err, JY_ENOMEM, "out of memory opening %s", path);
        goto failed;
    }

    int fd = open_log(store, err);
    if (fd < 0)
        goto failed;
    store->log = fdopen(fd, "a");
    if (store->log == NULL) {
        jy_error_set(err, JY_EIO, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        goto failed;
    }

    long committed_end = replay_log(store, err);
    if (committed_end < 0)
        goto failed;

    /* Cut off what was never committed, so that the next commit line
     * cannot make it look committed. */
    if (ftruncate(fd, committed_end) != 0 || fsync(fd) != 0) {
        jy_error_set(err, JY_EIO, "cannot cut the uncommitted end off %s: %s", path,
                     strerror(errno));
        goto failed;
    }
    return &store->base;

failed:
    file_destroy(&store->base);
    return NULL;
}
