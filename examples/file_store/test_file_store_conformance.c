/*
 * Runs the store conformance suite against the file store, then checks
 * what only a file can show: a torn last group, a file of another
 * program, a damaged record, a partly written header and the lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "file_store.h"
#include "store_conformance.h"

typedef struct location {
    char dir[512];
    char path[600];
} location;


static jy_store *open_file_store(void *ctx, int fresh, jy_error *err)
{
    location *where = ctx;

    if (fresh && unlink(where->path) != 0 && errno != ENOENT) {
        jy_error_set(err, JY_EIO, "cannot delete %s: %s", where->path, strerror(errno));
        return NULL;
    }
    return jy_file_store_open(where->path, err);
}


static jy_store *open_or_report(const location *where)
{
    jy_error err;

    jy_error_clear(&err);
    jy_store *store = jy_file_store_open(where->path, &err);
    if (store == NULL)
        fprintf(stderr, "opening %s failed: %s\n", where->path, err.message);
    CHECK(store != NULL);
    return store;
}


static long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}


static void write_file(const char *path, const char *content)
{
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (file == NULL)
        return;
    fputs(content, file);
    CHECK_INT_EQ(fclose(file), 0);
}


static int append_event(jy_store *store, const char *id)
{
    jy_event *event = jy_event_new(id, "user-1", "clicked", 10, NULL, NULL, 0);
    CHECK(event != NULL);
    return event != NULL ? store->ops->event_append(store, event, NULL) : JY_ENOMEM;
}


static int has_event(jy_store *store, uint64_t seq, const char *id)
{
    const jy_event *event = store->ops->event_get(store, seq);
    return event != NULL && event->id != NULL && strcmp(event->id, id) == 0;
}


/* Commits group A (event 1), then group B (event 2, a run, a journal
 * entry), cuts the file at cut bytes before its end and reopens it. */
static void check_torn_group(const location *where, long cut)
{
    unlink(where->path);
    jy_store *store = open_or_report(where);
    if (store == NULL)
        return;
    CHECK_INT_EQ(append_event(store, "a"), 0);
    CHECK_INT_EQ(store->ops->commit(store, NULL), 0);
    long committed_a = file_size(where->path);

    CHECK_INT_EQ(append_event(store, "b"), 0);
    jy_run_record run = {.id = 1, .journey = "welcome", .user = "user-1", .trigger_seq = 2,
                         .status = 1, .deadline = JY_TIME_MAX};
    CHECK_INT_EQ(store->ops->run_put(store, &run, NULL), 0);
    jy_journal_entry entry = {.run_id = 1, .index = 0, .kind = JY_STEP_NOW, .name = "",
                              .result_json = "10"};
    CHECK_INT_EQ(store->ops->journal_append(store, &entry, NULL), 0);
    CHECK_INT_EQ(store->ops->commit(store, NULL), 0);
    store->ops->destroy(store);

    long committed_b = file_size(where->path);
    CHECK(committed_b - cut > committed_a);
    CHECK_INT_EQ(truncate(where->path, committed_b - cut), 0);

    store = open_or_report(where);
    if (store == NULL)
        return;
    CHECK(has_event(store, 1, "a"));
    CHECK(store->ops->event_get(store, 2) == NULL);
    CHECK(store->ops->journal_get(store, 1, 0) == NULL);
    CHECK_INT_EQ(store->ops->run_max_id(store), 0);
    CHECK_INT_EQ(file_size(where->path), committed_a);

    /* A new commit does not bring the torn group back. */
    CHECK_INT_EQ(append_event(store, "c"), 0);
    CHECK_INT_EQ(store->ops->commit(store, NULL), 0);
    store->ops->destroy(store);
    store = open_or_report(where);
    if (store == NULL)
        return;
    CHECK(has_event(store, 1, "a"));
    CHECK(has_event(store, 2, "c"));
    CHECK_INT_EQ(store->ops->run_max_id(store), 0);
    store->ops->destroy(store);
}


static void file_torn_group_dropped(const location *where)
{
    /* The cuts leave the commit line without its newline, leave only
     * its first byte, remove it whole, and tear the journal record. */
    static const long cuts[] = {1, 6, 7, 40};

    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        check_torn_group(where, cuts[i]);
}


static void file_foreign_rejected(const location *where)
{
    static const char content[] = "name,email\nada,ada@example.com\n";
    jy_error err;

    write_file(where->path, content);
    jy_error_clear(&err);
    CHECK(jy_file_store_open(where->path, &err) == NULL);
    CHECK_INT_EQ(err.code, JY_EINVAL);
    CHECK_CONTAINS(err.message, "is not a journey file store");
    CHECK_INT_EQ(file_size(where->path), (long)strlen(content));
}


static void check_damaged_log(const location *where, const char *records, const char *message)
{
    jy_error err;
    char content[512];

    snprintf(content, sizeof content, "journey-file-store\t1\nmeta\tclock\t10\n%scommit\n",
             records);
    write_file(where->path, content);
    jy_error_clear(&err);
    CHECK(jy_file_store_open(where->path, &err) == NULL);
    CHECK_INT_EQ(err.code, JY_EINVAL);
    CHECK_CONTAINS(err.message, message);
}


static void file_damaged_record_rejected(const location *where)
{
    static const char event_one[] = "event\t1\t0\t10\ta\tuser-1\tclicked\t{}\t\\N\n";

    check_damaged_log(where, "event\tnot a number\n", ":3: invalid record");
    check_damaged_log(where, "event\tx\t0\t10\ta\tuser-1\tclicked\t{}\t\\N\n",
                      ":3: invalid record");
    check_damaged_log(where, "meta\tclock\t\\q\n", ":3: invalid record");
    check_damaged_log(where, "journal\t1\t1\t6\t10\tstep\tnull\n",
                      ":3: the journal record does not fit");

    char twice[256];
    snprintf(twice, sizeof twice, "%s%s", event_one, event_one);
    check_damaged_log(where, twice, ":4: the event record does not fit");
}


static void file_partial_header_recreated(const location *where)
{
    write_file(where->path, "journey-fi");
    jy_store *store = open_or_report(where);
    if (store == NULL)
        return;
    CHECK(store->ops->event_get(store, 1) == NULL);
    CHECK_INT_EQ(append_event(store, "a"), 0);
    CHECK_INT_EQ(store->ops->commit(store, NULL), 0);
    store->ops->destroy(store);

    store = open_or_report(where);
    if (store == NULL)
        return;
    CHECK(has_event(store, 1, "a"));
    store->ops->destroy(store);
}


static void file_second_open_locked(const location *where)
{
    jy_error err;

    unlink(where->path);
    jy_store *store = open_or_report(where);
    if (store == NULL)
        return;
    jy_error_clear(&err);
    CHECK(jy_file_store_open(where->path, &err) == NULL);
    CHECK_INT_EQ(err.code, JY_ESTATE);
    CHECK_CONTAINS(err.message, "in use by another process");
    store->ops->destroy(store);

    /* Destroying the store releases the lock. */
    store = open_or_report(where);
    if (store != NULL)
        store->ops->destroy(store);
}


int main(void)
{
    location where;
    const char *tmp = getenv("TMPDIR");

    snprintf(where.dir, sizeof where.dir, "%s/journey-file-store-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(where.dir) == NULL) {
        fprintf(stderr, "cannot create a directory from %s: %s\n", where.dir, strerror(errno));
        return 1;
    }
    snprintf(where.path, sizeof where.path, "%s/store.log", where.dir);

    jy_store_conformance_backend backend = {
        .name = "file",
        .open = open_file_store,
        .ctx = &where,
        .durable = 1,
    };
    int failures = jy_store_conformance_run(&backend);

    file_torn_group_dropped(&where);
    file_foreign_rejected(&where);
    file_damaged_record_rejected(&where);
    file_partial_header_recreated(&where);
    file_second_open_locked(&where);

    CHECK(unlink(where.path) == 0 || errno == ENOENT);
    CHECK_INT_EQ(rmdir(where.dir), 0);
    int rc = check_summary("file store checks");
    return failures == 0 ? rc : 1;
}
