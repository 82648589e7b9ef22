/*
 * The SQLite store's WAL sync. At the full synchronous level an event
 * is acknowledged only after a sync of the WAL file that began after
 * the event was ingested, and journey_durable_seq reaches it no sooner.
 * The normal level syncs nothing per commit. A sync that fails fails
 * the host, and a write that fails while an earlier group syncs leaves
 * that group acknowledged.
 *
 * This program defines fdatasync, so the store's calls reach this
 * definition, which calls the C library's own. For the WAL file it
 * first sleeps sync_delay_ms, so that an acknowledgement sent before
 * the sync ended would arrive while it still runs, and it can make
 * the sync fail with EIO.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sqlite3.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"
#include "wal_file.h"

#define EVENTS 12

/* A clock of steps: ingests and the starts and ends of WAL syncs each
 * take the next tick, so the test can order them across threads. */
static atomic_long ticks;
static atomic_long wal_syncs_started;
static atomic_long last_sync_start_done; /* start tick of the last finished sync */
static atomic_int fail_wal_sync;
static atomic_int sync_delay_ms = 20;


int fdatasync(int fd)
{
    static int (*real_fdatasync)(int);
    if (real_fdatasync == NULL)
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (!is_wal_file(fd))
        return real_fdatasync(fd);

    long start = atomic_fetch_add(&ticks, 1) + 1;
    atomic_fetch_add(&wal_syncs_started, 1);
    struct timespec delay = {.tv_sec = 0, .tv_nsec = atomic_load(&sync_delay_ms) * 1000000L};
    nanosleep(&delay, NULL);
    if (atomic_load(&fail_wal_sync)) {
        errno = EIO;
        return -1;
    }
    int rc = real_fdatasync(fd);

    /* The syncer syncs one at a time, and these few events make no
     * checkpoint, so the last sync to end is the last one begun. */
    atomic_store(&last_sync_start_done, start);
    atomic_fetch_add(&ticks, 1);
    return rc;
}


typedef struct ack {
    journey_host *host;
    int done;
    int status;
    uint64_t seq;
    long ingested_at;  /* tick of the ingest */
    long synced_after; /* start tick of the last finished sync at the ack */
    uint64_t durable;  /* journey_durable_seq at the ack */
} ack;


static void on_ack(void *ctx, int status, uint64_t seq)
{
    ack *a = ctx;
    a->done = 1;
    a->status = status;
    a->seq = seq;
    a->synced_after = atomic_load(&last_sync_start_done);
    a->durable = journey_durable_seq(a->host);
}


/* One case: a store file in a directory of its own, and a host on it. */
typedef struct store_case {
    char dir[64];
    char path[128];
    char spec[160];
    uv_loop_t loop;
    journey_host *host;
} store_case;


/* Creates the host over the case's file without starting it. */
static journey_host *new_host(store_case *c, int sync_normal)
{
    uv_loop_init(&c->loop);
    journey_config config;
    journey_config_init(&config);
    config.loop = &c->loop;
    config.store = c->spec;
    config.sync_normal = sync_normal;
    char error[256];
    c->host = NULL;
    CHECK_INT_EQ(journey_host_new(&config, &c->host, error, sizeof error), JOURNEY_OK);
    return c->host;
}


/* Makes the case's directory and starts a host on a new store there, at
 * the normal sync level or the full one. Returns NULL on failure. */
static journey_host *begin_case(store_case *c, int sync_normal)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/journey-wal-sync-XXXXXX");
    CHECK(mkdtemp(c->dir) != NULL);
    snprintf(c->path, sizeof c->path, "%s/store.db", c->dir);
    snprintf(c->spec, sizeof c->spec, "sqlite:%s", c->path);
    if (new_host(c, sync_normal) != NULL)
        CHECK_INT_EQ(journey_start(c->host), JOURNEY_OK);
    return c->host;
}


static void close_host(store_case *c)
{
    journey_host_close(c->host, NULL, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&c->loop), 0);
}


static void remove_dir(const store_case *c)
{
    char cleanup[200];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", c->dir);
    CHECK_INT_EQ(system(cleanup), 0);
}


/* Sleeps a millisecond and runs the loop's due work once. */
static void turn(uv_loop_t *loop)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&pause, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}


/* Ingests one event and runs the loop until it is acknowledged, for at
 * most two seconds. */
static void ingest_and_wait(uv_loop_t *loop, journey_host *host, int n, ack *a)
{
    char line[96];
    int len = snprintf(line, sizeof line, "{\"user\":\"u%d\",\"name\":\"app/visited\"}", n);
    a->host = host;
    a->ingested_at = atomic_fetch_add(&ticks, 1) + 1;
    CHECK_INT_EQ(journey_ingest(host, line, (size_t)len, on_ack, a), JOURNEY_OK);
    for (int i = 0; i < 2000 && !a->done; i++)
        turn(loop);
    CHECK(a->done);
}


/* At the full level each acknowledgement comes after a WAL sync that
 * began after its event was ingested, which is after its commit. */
static void full_acks_after_sync(void)
{
    store_case c;
    if (begin_case(&c, 0) == NULL)
        return;

    for (int n = 0; n < EVENTS; n++) {
        ack a = {0};
        ingest_and_wait(&c.loop, c.host, n, &a);
        CHECK_INT_EQ(a.status, JOURNEY_OK);
        CHECK(a.synced_after > a.ingested_at);
        CHECK(a.durable >= a.seq);
    }
    CHECK(atomic_load(&wal_syncs_started) >= EVENTS);
    close_host(&c);
    remove_dir(&c);
}


/* Another connection reads a group once it is written, while its sync
 * still runs, but journey_durable_seq stays below the group's events
 * until the sync ends. */
static void durable_seq_waits_for_sync(void)
{
    store_case c;
    if (begin_case(&c, 0) == NULL)
        return;
    sqlite3 *reader = NULL;
    CHECK_INT_EQ(sqlite3_open_v2(c.path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *find = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(reader, "SELECT max(seq) FROM events WHERE user = 'seen'",
                                    -1, &find, NULL), SQLITE_OK);

    atomic_store(&sync_delay_ms, 200);
    ack a = {.host = c.host};
    const char *line = "{\"user\":\"seen\",\"name\":\"app/visited\"}";
    CHECK_INT_EQ(journey_ingest(c.host, line, strlen(line), on_ack, &a), JOURNEY_OK);
    int64_t visible = 0;
    uint64_t durable_while_visible = 0;
    for (int i = 0; i < 2000 && !a.done; i++) {
        turn(&c.loop);
        if (visible == 0 && !a.done && sqlite3_step(find) == SQLITE_ROW) {
            visible = sqlite3_column_int64(find, 0);
            durable_while_visible = journey_durable_seq(c.host);
        }
        sqlite3_reset(find);
    }
    atomic_store(&sync_delay_ms, 20);

    CHECK(a.done);
    CHECK_INT_EQ(a.status, JOURNEY_OK);
    CHECK(visible > 0);
    CHECK_INT_EQ(visible, (int64_t)a.seq);
    CHECK(durable_while_visible < a.seq);
    CHECK(a.durable >= a.seq);
    sqlite3_finalize(find);
    sqlite3_close(reader);
    close_host(&c);
    remove_dir(&c);
}


/* A write that fails while the group before it waits for its sync: that
 * group becomes durable, so its event is acknowledged, and only the
 * failed group's event hears of the failure. Another connection takes
 * the seq of the second event, so the writer's insert of it fails. */
static void failed_write_keeps_synced_group(void)
{
    store_case c;
    if (begin_case(&c, 0) == NULL)
        return;
    sqlite3 *other = NULL;
    CHECK_INT_EQ(sqlite3_open(c.path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    CHECK_INT_EQ(sqlite3_exec(other, "INSERT INTO events (seq, user, id, name, ts, data)"
                                     " VALUES (2, 'other', 'x', 'app/x', 0, '{}')",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);

    atomic_store(&sync_delay_ms, 300);
    ack first = {.host = c.host}, second = {.host = c.host};
    const char *e1 = "{\"id\":\"e1\",\"user\":\"u1\",\"name\":\"app/visited\"}";
    const char *e2 = "{\"id\":\"e2\",\"user\":\"u2\",\"name\":\"app/visited\"}";
    CHECK_INT_EQ(journey_ingest(c.host, e1, strlen(e1), on_ack, &first), JOURNEY_OK);

    /* A few short turns write e1's group and start its sync; e2 follows
     * well within the 1.5 ms after which an ingest waits for it. */
    for (int i = 0; i < 4; i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000};
        nanosleep(&pause, NULL);
        uv_run(&c.loop, UV_RUN_NOWAIT);
    }
    CHECK_INT_EQ(journey_ingest(c.host, e2, strlen(e2), on_ack, &second), JOURNEY_OK);
    for (int i = 0; i < 2000 && !(first.done && second.done); i++)
        turn(&c.loop);
    atomic_store(&sync_delay_ms, 20);

    CHECK(first.done);
    CHECK_INT_EQ(first.status, JOURNEY_OK);
    CHECK(second.done);
    CHECK_INT_EQ(second.status, JOURNEY_EIO);
    CHECK_CONTAINS(journey_error(c.host), "storing an event failed");
    close_host(&c);

    /* The file contains e1, as its acknowledgement promised. */
    sqlite3 *db = NULL;
    CHECK_INT_EQ(sqlite3_open_v2(c.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE id = 'e1'", -1,
                                    &stmt, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    CHECK_INT_EQ(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    remove_dir(&c);
}


/* A store opened at the full level syncs the WAL it finds before its
 * events count as durable: a process that crashed may have left them
 * unsynced. A host at the normal level writes the events; a reader
 * keeps its WAL from being removed when that host closes. */
static void open_syncs_left_wal(void)
{
    store_case c;
    if (begin_case(&c, 1) == NULL)
        return;
    sqlite3 *reader = NULL;
    CHECK_INT_EQ(sqlite3_open_v2(c.path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(reader, "SELECT count(*) FROM events", NULL, NULL, NULL),
                 SQLITE_OK);
    for (int n = 0; n < 3; n++) {
        ack a = {0};
        ingest_and_wait(&c.loop, c.host, n, &a);
        CHECK_INT_EQ(a.status, JOURNEY_OK);
    }
    close_host(&c);
    char wal[200];
    snprintf(wal, sizeof wal, "%s-wal", c.path);
    CHECK(access(wal, F_OK) == 0);

    long syncs_before = atomic_load(&wal_syncs_started);
    if (new_host(&c, 0) != NULL) {
        CHECK(atomic_load(&wal_syncs_started) > syncs_before);
        CHECK_INT_EQ(journey_durable_seq(c.host), 3);
        close_host(&c);
    }
    sqlite3_close(reader);
    remove_dir(&c);
}


/* At the normal level the commits do not sync the WAL, and events are
 * acknowledged all the same. */
static void normal_acks_without_sync(void)
{
    store_case c;
    if (begin_case(&c, 1) == NULL)
        return;

    long syncs_before = atomic_load(&wal_syncs_started);
    for (int n = 0; n < EVENTS; n++) {
        ack a = {0};
        ingest_and_wait(&c.loop, c.host, n, &a);
        CHECK_INT_EQ(a.status, JOURNEY_OK);
    }
    CHECK_INT_EQ(atomic_load(&wal_syncs_started) - syncs_before, 0);
    close_host(&c);
    remove_dir(&c);
}


/* A WAL sync that fails leaves the group not durable: its event hears
 * of the failure, and the host takes no more events. */
static void failed_sync_fails_host(void)
{
    store_case c;
    if (begin_case(&c, 0) == NULL)
        return;

    ack first = {0};
    ingest_and_wait(&c.loop, c.host, 0, &first);
    CHECK_INT_EQ(first.status, JOURNEY_OK);

    atomic_store(&fail_wal_sync, 1);
    ack second = {0};
    ingest_and_wait(&c.loop, c.host, 1, &second);
    CHECK_INT_EQ(second.status, JOURNEY_EIO);
    CHECK_CONTAINS(journey_error(c.host), "syncing");
    CHECK_CONTAINS(journey_error(c.host), "store.db-wal");

    const char *line = "{\"user\":\"u2\",\"name\":\"app/visited\"}";
    CHECK_INT_EQ(journey_ingest(c.host, line, strlen(line), NULL, NULL), JOURNEY_EIO);
    atomic_store(&fail_wal_sync, 0);
    close_host(&c);
    remove_dir(&c);
}


int main(void)
{
    full_acks_after_sync();
    durable_seq_waits_for_sync();
    failed_write_keeps_synced_group();
    open_syncs_left_wal();
    normal_acks_without_sync();
    failed_sync_fails_host();
    return check_summary("test_wal_sync");
}
