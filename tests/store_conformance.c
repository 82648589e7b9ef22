/*
 * The store conformance suite (see store_conformance.h).
 *
 * Checks are named <concept>_<behaviour>. The ones named durable_* run
 * only for durable backends. Run the suite under AddressSanitizer and
 * LeakSanitizer as well, because two ownership rules fail there rather
 * than in a check. A rejected duplicate that the store does not free is
 * a leak, and a borrowed pointer that the store freed is a
 * use-after-free.
 */
#include "store_conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "run.h"

/* Strings that a text-based backend must escape or quote to keep. */
#define TRICKY_TEXT "tab\there, line\nbreak, CR\r, back\\slash, \\N, quote\" caf\xc3\xa9"

typedef struct suite {
    const jy_store_conformance_backend *backend;
    jy_store *store; /* NULL after a failed open */
} suite;

typedef void (*check_fn)(suite *s);


/* ---- Helpers -------------------------------------------------------- */

static int open_store(suite *s, int fresh)
{
    jy_error err;

    jy_error_clear(&err);
    s->store = s->backend->open(s->backend->ctx, fresh, &err);
    CHECK(s->store != NULL);
    if (s->store == NULL) {
        fprintf(stderr, "    opening the %s store failed: %s\n", s->backend->name,
                err.message);
        return -1;
    }
    return 0;
}


static void destroy_store(suite *s)
{
    if (s->store != NULL)
        s->store->ops->destroy(s->store);
    s->store = NULL;
}


/* Destroys the store without a commit, as a crash would, and reopens it. */
static int crash_and_reopen(suite *s)
{
    destroy_store(s);
    return open_store(s, 0);
}


/* Commits, destroys and reopens the store: a clean restart. */
static int close_and_reopen(suite *s)
{
    jy_error err;

    jy_error_clear(&err);
    CHECK_INT_EQ(s->store->ops->commit(s->store, &err), 0);
    destroy_store(s);
    return open_store(s, 0);
}


static int commit(jy_store *store)
{
    jy_error err;

    jy_error_clear(&err);
    int rc = store->ops->commit(store, &err);
    if (rc != 0)
        fprintf(stderr, "    commit failed: %s\n", err.message);
    return rc;
}


/* Appends an event and returns its seq, or 0 when the append failed. */
static uint64_t append_event(jy_store *store, const char *id, const char *user,
                             const char *name, jy_time ts)
{
    jy_error err;
    jy_event *event = jy_event_new(id, user, name, ts, "{\"n\":1}", NULL, 0);

    CHECK(event != NULL);
    if (event == NULL)
        return 0;
    jy_error_clear(&err);
    int rc = store->ops->event_append(store, event, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "    appending event %s of %s failed: %s\n", name, user, err.message);
        return 0;
    }
    return event->seq;
}


/* Appends an event and returns the append's result code. */
static int try_append_event(jy_store *store, const char *id, const char *user,
                            const char *name, jy_time ts)
{
    jy_event *event = jy_event_new(id, user, name, ts, NULL, NULL, 0);

    if (event == NULL)
        return JY_ENOMEM;
    return store->ops->event_append(store, event, NULL);
}


static jy_run_record make_run(uint64_t id, jy_run_status status)
{
    int ended = !jy_run_status_is_live(status);
    jy_run_record record = {
        .id = id,
        .journey = "welcome",
        .user = "user-1",
        .key = NULL,
        .trigger_seq = 1,
        .started_at = 1000,
        .ended_at = ended ? 2000 : 0,
        .status = status,
        .result_json = status == JY_RUN_COMPLETED ? "{\"sent\":true}" : NULL,
        .error = status == JY_RUN_FAILED ? "step send failed" : NULL,
        .wait_names = status == JY_RUN_WAITING ? "paid,cancelled" : NULL,
        .deadline = status == JY_RUN_WAITING || status == JY_RUN_SLEEPING ? 5000 : JY_TIME_MAX,
    };
    return record;
}


static int put_run(jy_store *store, const jy_run_record *record)
{
    jy_error err;

    jy_error_clear(&err);
    int rc = store->ops->run_put(store, record, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        fprintf(stderr, "    putting run %llu failed: %s\n", (unsigned long long)record->id,
                err.message);
    return rc;
}


static jy_journal_entry make_entry(uint64_t run_id, uint32_t index)
{
    jy_journal_entry entry = {
        .run_id = run_id,
        .index = index,
        .kind = JY_STEP_STEP,
        .at = 3000 + (jy_time)index,
        .name = "send_mail",
        .result_json = "{\"ok\":true}",
    };
    return entry;
}


static int try_append_entry(jy_store *store, uint64_t run_id, uint32_t index)
{
    jy_journal_entry entry = make_entry(run_id, index);
    return store->ops->journal_append(store, &entry, NULL);
}


/* Returns the length of run_id's journal: the first index for which
 * journal_get returns NULL. */
static uint32_t journal_length(jy_store *store, uint64_t run_id)
{
    uint32_t length = 0;

    while (length < 100000 && store->ops->journal_get(store, run_id, length) != NULL)
        length++;
    return length;
}


static int put_meta(jy_store *store, const char *key, const char *value)
{
    jy_error err;

    jy_error_clear(&err);
    int rc = store->ops->meta_put(store, key, value, &err);
    CHECK_INT_EQ(rc, 0);
    return rc;
}


/* Reads a meta value into a malloc'd string, NULL when absent. */
static char *get_meta(jy_store *store, const char *key)
{
    jy_error err;
    char *value = NULL;

    jy_error_clear(&err);
    CHECK_INT_EQ(store->ops->meta_get(store, key, &value, &err), 0);
    return value;
}


static int prune(jy_store *store, jy_time ended_before, jy_time events_before,
                 uint64_t *runs_deleted, uint64_t *events_deleted)
{
    jy_error err;

    jy_error_clear(&err);
    *runs_deleted = UINT64_MAX;
    *events_deleted = UINT64_MAX;
    int rc = store->ops->prune(store, ended_before, events_before, runs_deleted,
                               events_deleted, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        fprintf(stderr, "    prune failed: %s\n", err.message);
    return rc;
}


#define MAX_VISITS 64

/* The seqs an event scan visited. */
typedef struct seq_list {
    uint64_t seqs[MAX_VISITS];
    size_t count;
    size_t stop_after; /* visits after which the scan stops, 0 for all */
} seq_list;


static int record_seq(const jy_event *event, void *ctx)
{
    seq_list *list = ctx;

    if (list->count < MAX_VISITS)
        list->seqs[list->count] = event->seq;
    list->count++;
    return list->stop_after != 0 && list->count >= list->stop_after;
}


/* Scans user's events from from_seq into list and returns scan's result. */
static int scan_events(jy_store *store, const char *user, uint64_t from_seq, seq_list *list)
{
    list->count = 0;
    return store->ops->event_scan(store, user, from_seq, record_seq, list);
}


/* The ids and statuses that a live-run scan visited. */
typedef struct run_list {
    uint64_t ids[MAX_VISITS];
    int statuses[MAX_VISITS];
    size_t count;
    size_t stop_after; /* visits after which the scan stops, 0 for all */
} run_list;


static int record_run(const jy_run_record *record, void *ctx)
{
    run_list *list = ctx;

    if (list->count < MAX_VISITS) {
        list->ids[list->count] = record->id;
        list->statuses[list->count] = record->status;
    }
    list->count++;
    return list->stop_after != 0 && list->count >= list->stop_after;
}


static int scan_live(jy_store *store, run_list *list)
{
    list->count = 0;
    return store->ops->run_scan_live(store, record_run, list);
}


/* A deep copy of one live run, taken during a scan. */
typedef struct found_run {
    uint64_t target_id;
    int found;
    int strings_failed;
    jy_run_record record; /* strings malloc'd */
} found_run;


static char *copy_or_null(const char *text, int *failed)
{
    if (text == NULL)
        return NULL;
    char *copy = strdup(text);
    if (copy == NULL)
        *failed = 1;
    return copy;
}


static int copy_target_run(const jy_run_record *record, void *ctx)
{
    found_run *found = ctx;

    if (record->id != found->target_id)
        return 0;
    found->found++;
    if (found->found > 1)
        return 0;
    found->record = *record;
    found->record.journey = copy_or_null(record->journey, &found->strings_failed);
    found->record.user = copy_or_null(record->user, &found->strings_failed);
    found->record.key = copy_or_null(record->key, &found->strings_failed);
    found->record.result_json = copy_or_null(record->result_json, &found->strings_failed);
    found->record.error = copy_or_null(record->error, &found->strings_failed);
    found->record.wait_names = copy_or_null(record->wait_names, &found->strings_failed);
    return 0;
}


static void free_found_run(found_run *found)
{
    free((char *)found->record.journey);
    free((char *)found->record.user);
    free((char *)found->record.key);
    free((char *)found->record.result_json);
    free((char *)found->record.error);
    free((char *)found->record.wait_names);
}


/* Scans the live runs for run id and copies its record into found.
 * Returns 1 when the scan visited it exactly once. */
static int find_live_run(jy_store *store, uint64_t id, found_run *found)
{
    memset(found, 0, sizeof *found);
    found->target_id = id;
    CHECK_INT_EQ(store->ops->run_scan_live(store, copy_target_run, found), 0);
    CHECK(!found->strings_failed);
    return found->found == 1;
}


#define CHECK_OPTIONAL_STR_EQ(actual, expected)                            \
    do {                                                                   \
        const char *check_expected_ = (expected);                          \
        if (check_expected_ == NULL)                                       \
            CHECK((actual) == NULL);                                       \
        else                                                               \
            CHECK_STR_EQ((actual), check_expected_);                       \
    } while (0)


static void check_run_equals(const jy_run_record *actual, const jy_run_record *expected)
{
    CHECK_INT_EQ(actual->id, expected->id);
    CHECK_STR_EQ(actual->journey, expected->journey);
    CHECK_STR_EQ(actual->user, expected->user);
    CHECK_OPTIONAL_STR_EQ(actual->key, expected->key);
    CHECK_INT_EQ(actual->trigger_seq, expected->trigger_seq);
    CHECK_INT_EQ(actual->started_at, expected->started_at);
    CHECK_INT_EQ(actual->ended_at, expected->ended_at);
    CHECK_INT_EQ(actual->status, expected->status);
    CHECK_OPTIONAL_STR_EQ(actual->result_json, expected->result_json);
    CHECK_OPTIONAL_STR_EQ(actual->error, expected->error);
    CHECK_OPTIONAL_STR_EQ(actual->wait_names, expected->wait_names);
    CHECK_INT_EQ(actual->deadline, expected->deadline);
}


/* Checks that the live run expected->id is stored with exactly its fields. */
static void check_live_run(jy_store *store, const jy_run_record *expected)
{
    found_run found;

    CHECK(find_live_run(store, expected->id, &found));
    if (found.found == 1)
        check_run_equals(&found.record, expected);
    free_found_run(&found);
}


static void check_entry_equals(const jy_journal_entry *actual, const jy_journal_entry *expected)
{
    CHECK(actual != NULL);
    if (actual == NULL)
        return;
    CHECK_INT_EQ(actual->run_id, expected->run_id);
    CHECK_INT_EQ(actual->index, expected->index);
    CHECK_INT_EQ(actual->kind, expected->kind);
    CHECK_INT_EQ(actual->at, expected->at);
    CHECK_STR_EQ(actual->name, expected->name);
    CHECK_STR_EQ(actual->result_json, expected->result_json);
}


/* The events that the field checks store: every optional field both
 * set and NULL, an empty id, a negative time and text that needs
 * escaping. */
typedef struct event_spec {
    const char *id;
    const char *user;
    const char *name;
    jy_time ts;
    const char *data_json;
    const char *user_json;
    uint64_t origin_run;
} event_spec;

static const event_spec field_events[] = {
    {"order-1", "user-1", "order_placed", 1700000000123, "{\"total\":42.5}",
     "{\"plan\":\"pro\"}", 0},
    {NULL, "user-1", "page_viewed", -86400000, "{}", NULL, 7},
    {"", "user \t2", "name with spaces", 0, "{\"text\":\"" TRICKY_TEXT "\"}", TRICKY_TEXT,
     UINT64_MAX >> 1},
};
#define FIELD_EVENT_COUNT (sizeof field_events / sizeof field_events[0])


static uint64_t append_spec(jy_store *store, const event_spec *spec)
{
    jy_event *event = jy_event_new(spec->id, spec->user, spec->name, spec->ts, spec->data_json,
                                   spec->user_json, spec->origin_run);
    CHECK(event != NULL);
    if (event == NULL)
        return 0;
    int rc = store->ops->event_append(store, event, NULL);
    CHECK_INT_EQ(rc, 0);
    return rc == 0 ? event->seq : 0;
}


static void check_event_equals(const jy_event *actual, const event_spec *expected, uint64_t seq)
{
    CHECK(actual != NULL);
    if (actual == NULL)
        return;
    CHECK_INT_EQ(actual->seq, seq);
    CHECK_OPTIONAL_STR_EQ(actual->id, expected->id);
    CHECK_STR_EQ(actual->user, expected->user);
    CHECK_STR_EQ(actual->name, expected->name);
    CHECK_INT_EQ(actual->ts, expected->ts);
    CHECK_STR_EQ(actual->data_json, expected->data_json);
    CHECK_OPTIONAL_STR_EQ(actual->user_json, expected->user_json);
    CHECK_INT_EQ(actual->origin_run, expected->origin_run);
}


/* ---- Events --------------------------------------------------------- */

static void event_seq_starts_at_one(suite *s)
{
    uint64_t first = append_event(s->store, "a", "user-1", "signed_up", 10);
    uint64_t second = append_event(s->store, "b", "user-2", "signed_up", 5);
    uint64_t third = append_event(s->store, NULL, "user-1", "clicked", 20);

    CHECK_INT_EQ(first, 1);
    CHECK(second > first);
    CHECK(third > second);
}


static void event_append_sets_seq(suite *s)
{
    jy_event *event = jy_event_new("a", "user-1", "signed_up", 10, NULL, NULL, 0);

    CHECK(event != NULL);
    if (event == NULL)
        return;
    CHECK_INT_EQ(event->seq, 0);
    CHECK_INT_EQ(s->store->ops->event_append(s->store, event, NULL), 0);
    CHECK_INT_EQ(event->seq, 1);
    CHECK(s->store->ops->event_get(s->store, event->seq) != NULL);
}


static void event_duplicate_rejected(suite *s)
{
    uint64_t seq = append_event(s->store, "order-1", "user-1", "order_placed", 10);
    jy_error err;
    jy_event *duplicate = jy_event_new("order-1", "user-1", "order_changed", 20, NULL, NULL, 0);

    CHECK(duplicate != NULL);
    if (duplicate == NULL)
        return;
    jy_error_clear(&err);
    /* The store frees the rejected event: LeakSanitizer reports it if not. */
    CHECK_INT_EQ(s->store->ops->event_append(s->store, duplicate, &err), JY_EEXIST);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "user-1", 0, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    CHECK_INT_EQ(list.seqs[0], seq);
    const jy_event *stored = s->store->ops->event_get(s->store, seq);
    CHECK(stored != NULL);
    if (stored != NULL)
        CHECK_STR_EQ(stored->name, "order_placed");
    CHECK(s->store->ops->event_get(s->store, seq + 1) == NULL);

    /* The rejection leaves the store usable and numbering increasing. */
    uint64_t next = append_event(s->store, "order-2", "user-1", "order_placed", 30);
    CHECK(next > seq);
}


static void event_duplicate_id_other_user_accepted(suite *s)
{
    uint64_t first = append_event(s->store, "order-1", "user-1", "order_placed", 10);
    uint64_t second = append_event(s->store, "order-1", "user-2", "order_placed", 10);

    CHECK(first != 0);
    CHECK(second > first);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "user-2", 0, &list), 0);
    CHECK_INT_EQ(list.count, 1);
}


static void event_without_id_never_duplicate(suite *s)
{
    uint64_t first = append_event(s->store, NULL, "user-1", "clicked", 10);
    uint64_t second = append_event(s->store, NULL, "user-1", "clicked", 10);

    CHECK(first != 0);
    CHECK(second > first);
}


static void event_get_returns_fields(suite *s)
{
    uint64_t seqs[FIELD_EVENT_COUNT];

    for (size_t i = 0; i < FIELD_EVENT_COUNT; i++)
        seqs[i] = append_spec(s->store, &field_events[i]);
    for (size_t i = 0; i < FIELD_EVENT_COUNT; i++)
        check_event_equals(s->store->ops->event_get(s->store, seqs[i]), &field_events[i],
                           seqs[i]);
}


static void event_get_unknown_null(suite *s)
{
    CHECK(s->store->ops->event_get(s->store, 1) == NULL);

    uint64_t seq = append_event(s->store, "a", "user-1", "signed_up", 10);
    CHECK(s->store->ops->event_get(s->store, 0) == NULL);
    CHECK(s->store->ops->event_get(s->store, seq + 1) == NULL);
    CHECK(s->store->ops->event_get(s->store, UINT64_MAX) == NULL);
}


static void event_scan_user_in_order(suite *s)
{
    uint64_t a1 = append_event(s->store, NULL, "alice", "one", 30);
    append_event(s->store, NULL, "bob", "one", 10);
    uint64_t a2 = append_event(s->store, NULL, "alice", "two", 10);
    append_event(s->store, NULL, "bob", "two", 40);
    uint64_t a3 = append_event(s->store, NULL, "alice", "three", 20);

    /* Sequence order, not timestamp order. */
    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "alice", 0, &list), 0);
    CHECK_INT_EQ(list.count, 3);
    CHECK_INT_EQ(list.seqs[0], a1);
    CHECK_INT_EQ(list.seqs[1], a2);
    CHECK_INT_EQ(list.seqs[2], a3);
}


static void event_scan_from_seq(suite *s)
{
    append_event(s->store, NULL, "alice", "one", 10);
    uint64_t bob = append_event(s->store, NULL, "bob", "one", 10);
    uint64_t a2 = append_event(s->store, NULL, "alice", "two", 10);
    uint64_t a3 = append_event(s->store, NULL, "alice", "three", 10);
    seq_list list = {0};

    /* from_seq is inclusive. */
    CHECK_INT_EQ(scan_events(s->store, "alice", a2, &list), 0);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(list.seqs[0], a2);
    CHECK_INT_EQ(list.seqs[1], a3);

    /* A from_seq between two of the user's events starts at the next. */
    CHECK_INT_EQ(scan_events(s->store, "alice", bob, &list), 0);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(list.seqs[0], a2);

    CHECK_INT_EQ(scan_events(s->store, "alice", a3 + 1, &list), 0);
    CHECK_INT_EQ(list.count, 0);
    CHECK_INT_EQ(scan_events(s->store, "alice", UINT64_MAX, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static void event_scan_visitor_stops(suite *s)
{
    for (int i = 0; i < 5; i++)
        append_event(s->store, NULL, "alice", "clicked", 10 + i);

    seq_list list = {.stop_after = 2};
    CHECK_INT_EQ(scan_events(s->store, "alice", 0, &list), 0);
    CHECK_INT_EQ(list.count, 2);
}


static void event_scan_unknown_user(suite *s)
{
    append_event(s->store, NULL, "alice", "clicked", 10);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "nobody", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
    CHECK_INT_EQ(scan_events(s->store, "", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static int remember_first_event(const jy_event *event, void *ctx)
{
    *(const jy_event **)ctx = event;
    return 1;
}


static void event_pointers_stay_valid(suite *s)
{
    uint64_t seq = append_spec(s->store, &field_events[0]);
    const jy_event *got = s->store->ops->event_get(s->store, seq);
    const jy_event *visited = NULL;

    s->store->ops->event_scan(s->store, field_events[0].user, 0, remember_first_event,
                              &visited);
    CHECK(got != NULL);
    CHECK(visited != NULL);

    /* Enough appends to make array-based backends grow their arrays. */
    char id[32];
    int failed_appends = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "bulk-%d", i);
        const char *user = i % 2 ? field_events[0].user : "user-9";
        failed_appends += try_append_event(s->store, id, user, "bulk", 100 + i) != 0;
    }
    CHECK_INT_EQ(failed_appends, 0);

    check_event_equals(got, &field_events[0], seq);
    check_event_equals(visited, &field_events[0], seq);
}


/* ---- Runs ----------------------------------------------------------- */

static void run_put_copies_strings(suite *s)
{
    char journey[] = "welcome";
    char user[] = "user-1";
    char key[] = "cart-7";
    char wait_names[] = "paid,cancelled";
    jy_run_record record = make_run(4, JY_RUN_WAITING);

    record.journey = journey;
    record.user = user;
    record.key = key;
    record.wait_names = wait_names;
    put_run(s->store, &record);

    /* The caller may reuse its buffers as soon as run_put returns. */
    memset(journey, 'x', sizeof journey - 1);
    memset(user, 'x', sizeof user - 1);
    memset(key, 'x', sizeof key - 1);
    memset(wait_names, 'x', sizeof wait_names - 1);

    jy_run_record expected = make_run(4, JY_RUN_WAITING);
    expected.key = "cart-7";
    check_live_run(s->store, &expected);
}


static void run_put_replaces_record(suite *s)
{
    jy_run_record first = make_run(7, JY_RUN_WAITING);
    jy_run_record second = make_run(7, JY_RUN_SLEEPING);

    first.key = "cart-1";
    second.trigger_seq = 3;
    second.started_at = 1500;
    second.deadline = 9000;
    put_run(s->store, &first);
    put_run(s->store, &second);

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    /* NULL replaces a string that was set: key and wait_names. */
    check_live_run(s->store, &second);
}


static void run_fields_roundtrip(suite *s)
{
    jy_run_record running = make_run(1, JY_RUN_RUNNING);
    jy_run_record waiting = make_run(2, JY_RUN_WAITING);
    jy_run_record sleeping = make_run(3, JY_RUN_SLEEPING);

    running.key = "";
    waiting.key = TRICKY_TEXT;
    waiting.journey = "journey " TRICKY_TEXT;
    waiting.user = "user " TRICKY_TEXT;
    waiting.wait_names = "a,b," TRICKY_TEXT;
    waiting.trigger_seq = UINT64_MAX >> 1;
    waiting.started_at = -5;
    sleeping.deadline = JY_TIME_MAX - 1;
    put_run(s->store, &running);
    put_run(s->store, &waiting);
    put_run(s->store, &sleeping);

    check_live_run(s->store, &running);
    check_live_run(s->store, &waiting);
    check_live_run(s->store, &sleeping);
}


static void run_scan_live_only_live(suite *s)
{
    for (int status = JY_RUN_RUNNING; status <= JY_RUN_CANCELLED; status++) {
        jy_run_record record = make_run((uint64_t)status + 1, (jy_run_status)status);
        put_run(s->store, &record);
    }

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 3);
    CHECK_INT_EQ(list.statuses[0], JY_RUN_RUNNING);
    CHECK_INT_EQ(list.statuses[1], JY_RUN_WAITING);
    CHECK_INT_EQ(list.statuses[2], JY_RUN_SLEEPING);
}


static void run_scan_live_id_order(suite *s)
{
    static const uint64_t put_order[] = {40, 3, 17, 1000, 2};
    static const uint64_t id_order[] = {2, 3, 17, 40, 1000};

    for (size_t i = 0; i < 5; i++) {
        jy_run_record record = make_run(put_order[i], JY_RUN_WAITING);
        put_run(s->store, &record);
    }

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 5);
    for (size_t i = 0; i < 5 && i < list.count; i++)
        CHECK_INT_EQ(list.ids[i], id_order[i]);
}


static void run_scan_live_visitor_stops(suite *s)
{
    for (uint64_t id = 1; id <= 4; id++) {
        jy_run_record record = make_run(id, JY_RUN_SLEEPING);
        put_run(s->store, &record);
    }

    run_list list = {.stop_after = 1};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    CHECK_INT_EQ(list.ids[0], 1);
}


static void run_scan_live_drops_ended_run(suite *s)
{
    jy_run_record live = make_run(5, JY_RUN_WAITING);
    jy_run_record ended = make_run(5, JY_RUN_COMPLETED);

    put_run(s->store, &live);
    put_run(s->store, &ended);

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static void run_max_id_tracks_highest(suite *s)
{
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 0);

    jy_run_record record = make_run(3, JY_RUN_WAITING);
    put_run(s->store, &record);
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 3);

    /* Ended runs count too. */
    record = make_run(9, JY_RUN_FAILED);
    put_run(s->store, &record);
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 9);

    record = make_run(5, JY_RUN_RUNNING);
    put_run(s->store, &record);
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 9);
}


static void run_max_id_kept_after_prune(suite *s)
{
    jy_run_record live = make_run(3, JY_RUN_WAITING);
    jy_run_record ended = make_run(9, JY_RUN_COMPLETED);
    uint64_t runs_deleted, events_deleted;

    put_run(s->store, &live);
    put_run(s->store, &ended);
    prune(s->store, ended.ended_at + 1, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 1);

    /* "Highest ever stored": a new run must not get id 9 again. */
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 9);
}


/* ---- Journals ------------------------------------------------------- */

static void journal_append_consecutive(suite *s)
{
    jy_journal_entry entries[3];
    static const jy_step_kind kinds[3] = {JY_STEP_WAIT_FOR, JY_STEP_EMIT, JY_STEP_OS_TIME};
    static const char *const names[3] = {"paid,cancelled", "", TRICKY_TEXT};
    static const char *const results[3] = {"{\"seq\":4}", "null", "\"" TRICKY_TEXT "\""};

    for (uint32_t i = 0; i < 3; i++) {
        entries[i] = make_entry(12, i);
        entries[i].kind = kinds[i];
        entries[i].name = names[i];
        entries[i].result_json = results[i];
        entries[i].at = -1000 + (jy_time)i;
        CHECK_INT_EQ(s->store->ops->journal_append(s->store, &entries[i], NULL), 0);
    }
    for (uint32_t i = 0; i < 3; i++)
        check_entry_equals(s->store->ops->journal_get(s->store, 12, i), &entries[i]);
    CHECK_INT_EQ(journal_length(s->store, 12), 3);
}


static void journal_append_wrong_index_rejected(suite *s)
{
    /* An empty journal accepts only index 0. */
    CHECK(try_append_entry(s->store, 12, 1) < 0);
    CHECK(s->store->ops->journal_get(s->store, 12, 0) == NULL);
    CHECK(s->store->ops->journal_get(s->store, 12, 1) == NULL);

    jy_journal_entry first = make_entry(12, 0);
    CHECK_INT_EQ(s->store->ops->journal_append(s->store, &first, NULL), 0);

    /* An entry is never changed once appended. */
    jy_journal_entry rewrite = make_entry(12, 0);
    rewrite.name = "rewritten";
    CHECK(s->store->ops->journal_append(s->store, &rewrite, NULL) < 0);
    check_entry_equals(s->store->ops->journal_get(s->store, 12, 0), &first);

    /* No gaps. */
    CHECK(try_append_entry(s->store, 12, 2) < 0);
    CHECK_INT_EQ(journal_length(s->store, 12), 1);
    CHECK_INT_EQ(try_append_entry(s->store, 12, 1), 0);
    CHECK_INT_EQ(journal_length(s->store, 12), 2);
}


static void journal_get_past_end_null(suite *s)
{
    CHECK(s->store->ops->journal_get(s->store, 12, 0) == NULL);

    CHECK_INT_EQ(try_append_entry(s->store, 12, 0), 0);
    CHECK_INT_EQ(try_append_entry(s->store, 12, 1), 0);
    CHECK(s->store->ops->journal_get(s->store, 12, 2) == NULL);
    CHECK(s->store->ops->journal_get(s->store, 12, UINT32_MAX) == NULL);
    CHECK(s->store->ops->journal_get(s->store, 13, 0) == NULL);
    CHECK(s->store->ops->journal_get(s->store, 0, 0) == NULL);
}


static void journal_append_copies_strings(suite *s)
{
    char name[] = "send_mail";
    char result[] = "{\"ok\":true}";
    jy_journal_entry entry = make_entry(12, 0);

    entry.name = name;
    entry.result_json = result;
    CHECK_INT_EQ(s->store->ops->journal_append(s->store, &entry, NULL), 0);
    memset(name, 'x', sizeof name - 1);
    memset(result, 'x', sizeof result - 1);

    check_entry_equals(s->store->ops->journal_get(s->store, 12, 0), &(jy_journal_entry){
        .run_id = 12, .index = 0, .kind = JY_STEP_STEP, .at = entry.at,
        .name = "send_mail", .result_json = "{\"ok\":true}"});
}


static void journal_runs_independent(suite *s)
{
    CHECK_INT_EQ(try_append_entry(s->store, 1, 0), 0);
    CHECK_INT_EQ(try_append_entry(s->store, 2, 0), 0);
    CHECK_INT_EQ(try_append_entry(s->store, 1, 1), 0);
    CHECK_INT_EQ(try_append_entry(s->store, 1, 2), 0);

    CHECK_INT_EQ(journal_length(s->store, 1), 3);
    CHECK_INT_EQ(journal_length(s->store, 2), 1);
    const jy_journal_entry *entry = s->store->ops->journal_get(s->store, 2, 0);
    CHECK(entry != NULL);
    if (entry != NULL)
        CHECK_INT_EQ(entry->run_id, 2);
}


static void journal_pointers_stay_valid(suite *s)
{
    jy_journal_entry first = make_entry(12, 0);

    CHECK_INT_EQ(s->store->ops->journal_append(s->store, &first, NULL), 0);
    const jy_journal_entry *got = s->store->ops->journal_get(s->store, 12, 0);
    CHECK(got != NULL);

    /* Enough appends to make array-based backends grow their arrays. */
    int failed_appends = 0;
    for (uint32_t i = 1; i < 300; i++)
        failed_appends += try_append_entry(s->store, 12, i) != 0;
    for (uint32_t i = 0; i < 300; i++)
        failed_appends += try_append_entry(s->store, 100 + i, 0) != 0;
    CHECK_INT_EQ(failed_appends, 0);

    check_entry_equals(got, &first);
}


/* ---- Users and meta ------------------------------------------------- */

static void user_put_accepted(suite *s)
{
    jy_error err;
    char attributes[] = "{\"plan\":\"pro\"}";

    jy_error_clear(&err);
    CHECK_INT_EQ(s->store->ops->user_put(s->store, "user-1", attributes, 10, &err), 0);
    memset(attributes, 'x', sizeof attributes - 1);
    CHECK_INT_EQ(s->store->ops->user_put(s->store, "user-1", "{\"plan\":\"free\"}", 20, &err),
                 0);
    CHECK_INT_EQ(s->store->ops->user_put(s->store, TRICKY_TEXT, "{}", -1, &err), 0);
    CHECK_INT_EQ(commit(s->store), 0);
}


static void meta_get_absent_null(suite *s)
{
    jy_error err;
    char *value = (char *)"unchanged";

    jy_error_clear(&err);
    CHECK_INT_EQ(s->store->ops->meta_get(s->store, "clock", &value, &err), 0);
    CHECK(value == NULL);
}


static void meta_put_replaces_value(suite *s)
{
    char value[] = "1700000000000";

    put_meta(s->store, "clock", value);
    memset(value, '9', sizeof value - 1);
    put_meta(s->store, "position", "12");

    char *clock = get_meta(s->store, "clock");
    CHECK_STR_EQ(clock, "1700000000000");

    /* The returned string belongs to the caller. */
    if (clock != NULL)
        clock[0] = 'x';
    free(clock);
    clock = get_meta(s->store, "clock");
    CHECK_STR_EQ(clock, "1700000000000");
    free(clock);

    put_meta(s->store, "clock", "");
    clock = get_meta(s->store, "clock");
    CHECK_STR_EQ(clock, "");
    free(clock);

    put_meta(s->store, TRICKY_TEXT, TRICKY_TEXT);
    char *tricky = get_meta(s->store, TRICKY_TEXT);
    CHECK_STR_EQ(tricky, TRICKY_TEXT);
    free(tricky);

    char *position = get_meta(s->store, "position");
    CHECK_STR_EQ(position, "12");
    free(position);
}


/* ---- Prune ---------------------------------------------------------- */

static void prune_deletes_ended_runs_before_cutoff(suite *s)
{
    /* id, status, ended_at: ended_at equal to the cutoff is not before it. */
    static const struct {
        uint64_t id;
        jy_run_status status;
        jy_time ended_at;
    } runs[] = {
        {1, JY_RUN_COMPLETED, 100},
        {2, JY_RUN_FAILED, 199},
        {3, JY_RUN_CANCELLED, 200},
        {4, JY_RUN_COMPLETED, 300},
        {5, JY_RUN_WAITING, 0},
        {6, JY_RUN_SLEEPING, 0},
    };
    uint64_t runs_deleted, events_deleted;

    for (size_t i = 0; i < 6; i++) {
        jy_run_record record = make_run(runs[i].id, runs[i].status);
        record.started_at = 50;
        record.ended_at = runs[i].ended_at;
        put_run(s->store, &record);
        CHECK_INT_EQ(try_append_entry(s->store, runs[i].id, 0), 0);
        CHECK_INT_EQ(try_append_entry(s->store, runs[i].id, 1), 0);
    }
    uint64_t seq = append_event(s->store, NULL, "user-1", "old", 10);

    prune(s->store, 200, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 2);
    CHECK_INT_EQ(events_deleted, 0);

    CHECK_INT_EQ(journal_length(s->store, 1), 0);
    CHECK_INT_EQ(journal_length(s->store, 2), 0);
    CHECK_INT_EQ(journal_length(s->store, 3), 2);
    CHECK_INT_EQ(journal_length(s->store, 4), 2);
    CHECK_INT_EQ(journal_length(s->store, 5), 2);
    CHECK_INT_EQ(journal_length(s->store, 6), 2);
    CHECK(s->store->ops->event_get(s->store, seq) != NULL);

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(list.ids[0], 5);
    CHECK_INT_EQ(list.ids[1], 6);

    /* Nothing is left to delete the second time. */
    prune(s->store, 200, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 0);
}


static void prune_keeps_events_live_runs_reach(suite *s)
{
    /* seq: ts. Alice's live run has the fourth event as its trigger. */
    uint64_t s1 = append_event(s->store, "e1", "alice", "one", 10);
    uint64_t s2 = append_event(s->store, "e2", "alice", "two", 100);
    uint64_t s3 = append_event(s->store, "e3", "bob", "three", 20);
    uint64_t s4 = append_event(s->store, "e4", "alice", "four", 30);
    uint64_t s5 = append_event(s->store, "e5", "bob", "five", 40);
    uint64_t s6 = append_event(s->store, "e6", "alice", "six", 50);
    uint64_t runs_deleted, events_deleted;

    jy_run_record live = make_run(2, JY_RUN_WAITING);
    live.user = "alice";
    live.trigger_seq = s4;
    put_run(s->store, &live);
    /* An ended run does not keep its trigger event. */
    jy_run_record ended = make_run(1, JY_RUN_COMPLETED);
    ended.user = "alice";
    ended.trigger_seq = s1;
    ended.ended_at = 500;
    put_run(s->store, &ended);

    /* Older than 45 and no live run of their user reaches them: s1, and
     * bob's s3 and s5, although they follow alice's trigger. s2 is
     * before the trigger but new, s4 is old but reachable. */
    prune(s->store, JY_TIME_MIN, 45, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 0);
    CHECK_INT_EQ(events_deleted, 3);

    CHECK(s->store->ops->event_get(s->store, s1) == NULL);
    CHECK(s->store->ops->event_get(s->store, s3) == NULL);
    CHECK(s->store->ops->event_get(s->store, s5) == NULL);
    CHECK(s->store->ops->event_get(s->store, s2) != NULL);
    CHECK(s->store->ops->event_get(s->store, s4) != NULL);
    CHECK(s->store->ops->event_get(s->store, s6) != NULL);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "alice", 0, &list), 0);
    CHECK_INT_EQ(list.count, 3);
    CHECK_INT_EQ(list.seqs[0], s2);
    CHECK_INT_EQ(list.seqs[1], s4);
    CHECK_INT_EQ(list.seqs[2], s6);
    CHECK_INT_EQ(scan_events(s->store, "bob", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


/* A user's live runs keep its events from the oldest trigger on, and a
 * later run of a user with no other live run keeps only its own. */
static void prune_keeps_events_per_user(suite *s)
{
    uint64_t a1 = append_event(s->store, NULL, "alice", "one", 10);
    uint64_t a2 = append_event(s->store, NULL, "alice", "two", 20);
    uint64_t a3 = append_event(s->store, NULL, "alice", "three", 30);
    uint64_t b1 = append_event(s->store, NULL, "bob", "one", 15);
    uint64_t b2 = append_event(s->store, NULL, "bob", "two", 25);
    uint64_t runs_deleted, events_deleted;

    jy_run_record older = make_run(1, JY_RUN_WAITING);
    older.user = "alice";
    older.trigger_seq = a1;
    jy_run_record newer = make_run(2, JY_RUN_SLEEPING);
    newer.user = "alice";
    newer.trigger_seq = a3;
    jy_run_record bobs = make_run(3, JY_RUN_WAITING);
    bobs.user = "bob";
    bobs.trigger_seq = b2;
    put_run(s->store, &older);
    put_run(s->store, &newer);
    put_run(s->store, &bobs);

    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 1);
    CHECK(s->store->ops->event_get(s->store, b1) == NULL);
    CHECK(s->store->ops->event_get(s->store, b2) != NULL);
    CHECK(s->store->ops->event_get(s->store, a1) != NULL);

    /* Once every run of alice has ended, all her old events can go. */
    older.status = JY_RUN_COMPLETED;
    older.ended_at = 40;
    newer.status = JY_RUN_CANCELLED;
    newer.ended_at = 40;
    put_run(s->store, &older);
    put_run(s->store, &newer);
    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 3);
    CHECK(s->store->ops->event_get(s->store, a1) == NULL);
    CHECK(s->store->ops->event_get(s->store, a2) == NULL);
    CHECK(s->store->ops->event_get(s->store, a3) == NULL);
    CHECK(s->store->ops->event_get(s->store, b2) != NULL);
}


/* When a user's oldest live run ends, the next oldest one sets what
 * stays, although a run of the user is still live. */
static void prune_follows_next_oldest_run(suite *s)
{
    uint64_t a1 = append_event(s->store, NULL, "alice", "one", 10);
    uint64_t a2 = append_event(s->store, NULL, "alice", "two", 20);
    uint64_t a3 = append_event(s->store, NULL, "alice", "three", 30);
    uint64_t a4 = append_event(s->store, NULL, "alice", "four", 35);
    uint64_t runs_deleted, events_deleted;

    jy_run_record oldest = make_run(1, JY_RUN_WAITING);
    oldest.user = "alice";
    oldest.trigger_seq = a1;
    jy_run_record middle = make_run(2, JY_RUN_SLEEPING);
    middle.user = "alice";
    middle.trigger_seq = a3;
    jy_run_record newest = make_run(3, JY_RUN_WAITING);
    newest.user = "alice";
    newest.trigger_seq = a4;
    put_run(s->store, &newest);
    put_run(s->store, &oldest);
    put_run(s->store, &middle);

    oldest.status = JY_RUN_COMPLETED;
    oldest.ended_at = 40;
    put_run(s->store, &oldest);
    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 2);
    CHECK(s->store->ops->event_get(s->store, a1) == NULL);
    CHECK(s->store->ops->event_get(s->store, a2) == NULL);
    CHECK(s->store->ops->event_get(s->store, a3) != NULL);

    /* The newest run ending changes nothing, the middle one still holds. */
    newest.status = JY_RUN_CANCELLED;
    newest.ended_at = 40;
    put_run(s->store, &newest);
    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 0);
    CHECK(s->store->ops->event_get(s->store, a3) != NULL);

    middle.status = JY_RUN_FAILED;
    middle.ended_at = 40;
    put_run(s->store, &middle);
    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 2);
}


/* After most stored events were deleted, lookups by seq still find the
 * rest and the events appended next. */
static void prune_many_then_lookup(suite *s)
{
    uint64_t first = 0;
    uint64_t runs_deleted, events_deleted;

    for (int i = 0; i < 3000; i++) {
        uint64_t seq = append_event(s->store, NULL, "churn", "tick", 10);
        if (i == 0)
            first = seq;
    }
    uint64_t keeper_seq = append_event(s->store, NULL, "keeper", "start", 10);
    jy_run_record live = make_run(1, JY_RUN_WAITING);
    live.user = "keeper";
    live.trigger_seq = keeper_seq;
    put_run(s->store, &live);

    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 3000);
    CHECK(s->store->ops->event_get(s->store, first) == NULL);
    CHECK(s->store->ops->event_get(s->store, keeper_seq - 1) == NULL);
    const jy_event *event = s->store->ops->event_get(s->store, keeper_seq);
    CHECK(event != NULL);
    if (event != NULL)
        CHECK_STR_EQ(event->user, "keeper");

    uint64_t next = append_event(s->store, NULL, "keeper", "later", 60);
    CHECK(next > keeper_seq);
    event = s->store->ops->event_get(s->store, next);
    CHECK(event != NULL);
    if (event != NULL)
        CHECK_STR_EQ(event->name, "later");
    CHECK(s->store->ops->event_get(s->store, next + 1) == NULL);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "keeper", 0, &list), 0);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(scan_events(s->store, "churn", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static void prune_without_live_runs_deletes_old_events(suite *s)
{
    uint64_t old_first = append_event(s->store, NULL, "alice", "one", 10);
    uint64_t recent = append_event(s->store, NULL, "alice", "two", 60);
    uint64_t old_last = append_event(s->store, NULL, "alice", "three", 20);
    uint64_t runs_deleted, events_deleted;

    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 2);
    CHECK(s->store->ops->event_get(s->store, old_first) == NULL);
    CHECK(s->store->ops->event_get(s->store, old_last) == NULL);
    CHECK(s->store->ops->event_get(s->store, recent) != NULL);

    /* Deleting the newest event does not free its seq for reuse. */
    uint64_t next = append_event(s->store, NULL, "alice", "four", 70);
    CHECK(next > old_last);
    CHECK(s->store->ops->event_get(s->store, next) != NULL);
}


static void prune_nothing_old_counts_zero(suite *s)
{
    uint64_t seq = append_event(s->store, "a", "alice", "one", 10);
    jy_run_record ended = make_run(1, JY_RUN_COMPLETED);
    uint64_t runs_deleted, events_deleted;

    put_run(s->store, &ended);
    CHECK_INT_EQ(try_append_entry(s->store, 1, 0), 0);

    prune(s->store, JY_TIME_MIN, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 0);
    CHECK_INT_EQ(events_deleted, 0);
    CHECK(s->store->ops->event_get(s->store, seq) != NULL);
    CHECK_INT_EQ(journal_length(s->store, 1), 1);
}


static void prune_releases_event_ids(suite *s)
{
    append_event(s->store, "order-1", "alice", "order_placed", 10);
    uint64_t runs_deleted, events_deleted;

    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 1);

    /* The duplicate check covers only the events still stored. */
    CHECK_INT_EQ(try_append_event(s->store, "order-1", "alice", "order_placed", 60), 0);
    CHECK_INT_EQ(try_append_event(s->store, "order-1", "alice", "order_placed", 60), JY_EEXIST);
}


static void prune_repeated_deletes_newly_old_events(suite *s)
{
    uint64_t s1 = append_event(s->store, NULL, "alice", "one", 10);
    uint64_t s2 = append_event(s->store, NULL, "bob", "two", 20);
    uint64_t s3 = append_event(s->store, NULL, "alice", "three", 100);
    uint64_t runs_deleted, events_deleted;

    /* A live run triggered by alice's first event keeps all of hers. */
    jy_run_record live = make_run(1, JY_RUN_WAITING);
    live.user = "alice";
    live.trigger_seq = s1;
    put_run(s->store, &live);
    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 1);
    CHECK(s->store->ops->event_get(s->store, s1) != NULL);
    CHECK(s->store->ops->event_get(s->store, s2) == NULL);

    /* Once it has ended, the next prune finds her old event. */
    jy_run_record ended = live;
    ended.status = JY_RUN_COMPLETED;
    ended.ended_at = 100;
    put_run(s->store, &ended);
    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 1);
    CHECK(s->store->ops->event_get(s->store, s1) == NULL);

    /* Events appended after a prune are pruned by a later one. */
    uint64_t s4 = append_event(s->store, NULL, "bob", "four", 110);
    uint64_t s5 = append_event(s->store, NULL, "alice", "five", 120);
    jy_run_record waiting = make_run(2, JY_RUN_WAITING);
    waiting.user = "alice";
    waiting.trigger_seq = s5;
    put_run(s->store, &waiting);
    prune(s->store, JY_TIME_MIN, 115, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 2);
    CHECK(s->store->ops->event_get(s->store, s3) == NULL);
    CHECK(s->store->ops->event_get(s->store, s4) == NULL);
    CHECK(s->store->ops->event_get(s->store, s5) != NULL);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "alice", 0, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    CHECK_INT_EQ(list.seqs[0], s5);
    CHECK_INT_EQ(scan_events(s->store, "bob", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static void prune_deletes_runs_ended_in_any_order(suite *s)
{
    uint64_t runs_deleted, events_deleted;
    static const jy_time ended_at[] = {300, 100, 200};

    /* Each run journals one entry, so a journal length of 0 means the
     * run was deleted. */
    for (uint64_t id = 1; id <= 3; id++) {
        jy_run_record ended = make_run(id, JY_RUN_COMPLETED);
        ended.ended_at = ended_at[id - 1];
        put_run(s->store, &ended);
        CHECK_INT_EQ(try_append_entry(s->store, id, 0), 0);
    }
    jy_run_record live = make_run(4, JY_RUN_WAITING);
    put_run(s->store, &live);
    CHECK_INT_EQ(try_append_entry(s->store, 4, 0), 0);

    prune(s->store, 250, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 2);
    CHECK_INT_EQ(journal_length(s->store, 1), 1);
    CHECK_INT_EQ(journal_length(s->store, 2), 0);
    CHECK_INT_EQ(journal_length(s->store, 3), 0);
    CHECK_INT_EQ(journal_length(s->store, 4), 1);

    /* A record written again counts with its new end, and a live run
     * that ends is pruned like any other. */
    jy_run_record rewritten = make_run(1, JY_RUN_FAILED);
    rewritten.ended_at = 50;
    put_run(s->store, &rewritten);
    jy_run_record finished = make_run(4, JY_RUN_CANCELLED);
    finished.ended_at = 120;
    put_run(s->store, &finished);
    prune(s->store, 250, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 2);
    CHECK_INT_EQ(journal_length(s->store, 1), 0);
    CHECK_INT_EQ(journal_length(s->store, 4), 0);

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


/* ---- Commit --------------------------------------------------------- */

static void commit_without_writes_succeeds(suite *s)
{
    CHECK_INT_EQ(commit(s->store), 0);
    CHECK_INT_EQ(commit(s->store), 0);
}


static void commit_keeps_state_readable(suite *s)
{
    uint64_t seq = append_event(s->store, "a", "alice", "one", 10);
    jy_run_record live = make_run(1, JY_RUN_WAITING);

    put_run(s->store, &live);
    CHECK_INT_EQ(try_append_entry(s->store, 1, 0), 0);
    put_meta(s->store, "clock", "10");
    CHECK_INT_EQ(commit(s->store), 0);

    CHECK(s->store->ops->event_get(s->store, seq) != NULL);
    check_live_run(s->store, &live);
    CHECK_INT_EQ(journal_length(s->store, 1), 1);
    char *clock = get_meta(s->store, "clock");
    CHECK_STR_EQ(clock, "10");
    free(clock);

    /* Writing goes on after a commit. */
    CHECK(append_event(s->store, "b", "alice", "two", 20) > seq);
    CHECK_INT_EQ(try_append_entry(s->store, 1, 1), 0);
    CHECK_INT_EQ(commit(s->store), 0);
}


/* ---- Durable backends ----------------------------------------------- */

/* The state that the durable checks commit and look for again: three
 * events, a waiting run with a two-step journal, an ended run and two
 * meta values. */
typedef struct committed_state {
    uint64_t seqs[FIELD_EVENT_COUNT];
    jy_run_record live;
    jy_run_record ended;
    jy_journal_entry entries[2];
} committed_state;


static void write_state(jy_store *store, committed_state *state)
{
    for (size_t i = 0; i < FIELD_EVENT_COUNT; i++)
        state->seqs[i] = append_spec(store, &field_events[i]);

    state->live = make_run(4, JY_RUN_WAITING);
    state->live.key = "cart " TRICKY_TEXT;
    state->live.trigger_seq = state->seqs[0];
    put_run(store, &state->live);
    for (uint32_t i = 0; i < 2; i++) {
        state->entries[i] = make_entry(4, i);
        state->entries[i].name = i == 0 ? TRICKY_TEXT : "";
        CHECK_INT_EQ(store->ops->journal_append(store, &state->entries[i], NULL), 0);
    }

    state->ended = make_run(6, JY_RUN_COMPLETED);
    put_run(store, &state->ended);
    CHECK_INT_EQ(try_append_entry(store, 6, 0), 0);

    put_meta(store, "clock", "1700000000000");
    put_meta(store, "note", TRICKY_TEXT);
    CHECK_INT_EQ(store->ops->user_put(store, "user-1", "{\"plan\":\"pro\"}", 10, NULL), 0);
}


static void check_state(jy_store *store, const committed_state *state)
{
    for (size_t i = 0; i < FIELD_EVENT_COUNT; i++)
        check_event_equals(store->ops->event_get(store, state->seqs[i]), &field_events[i],
                           state->seqs[i]);

    seq_list list = {0};
    CHECK_INT_EQ(scan_events(store, "user-1", 0, &list), 0);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(list.seqs[0], state->seqs[0]);
    CHECK_INT_EQ(list.seqs[1], state->seqs[1]);

    run_list runs = {0};
    CHECK_INT_EQ(scan_live(store, &runs), 0);
    CHECK_INT_EQ(runs.count, 1);
    check_live_run(store, &state->live);
    CHECK_INT_EQ(journal_length(store, 4), 2);
    for (uint32_t i = 0; i < 2; i++)
        check_entry_equals(store->ops->journal_get(store, 4, i), &state->entries[i]);
    CHECK_INT_EQ(store->ops->run_max_id(store), 6);

    char *clock = get_meta(store, "clock");
    CHECK_STR_EQ(clock, "1700000000000");
    free(clock);
    char *note = get_meta(store, "note");
    CHECK_STR_EQ(note, TRICKY_TEXT);
    free(note);
}


static void durable_commit_survives_reopen(suite *s)
{
    committed_state state;

    write_state(s->store, &state);
    if (close_and_reopen(s) != 0)
        return;
    check_state(s->store, &state);

    /* A second restart without writes changes nothing. */
    if (close_and_reopen(s) != 0)
        return;
    check_state(s->store, &state);
}


static void durable_numbering_continues_after_reopen(suite *s)
{
    committed_state state;

    write_state(s->store, &state);
    if (close_and_reopen(s) != 0)
        return;

    uint64_t next = append_event(s->store, "after", "user-1", "after_restart", 50);
    CHECK(next > state.seqs[FIELD_EVENT_COUNT - 1]);
    CHECK_INT_EQ(try_append_event(s->store, field_events[0].id, field_events[0].user, "again",
                                  60),
                 JY_EEXIST);

    /* The journal goes on at its stored length. */
    CHECK(try_append_entry(s->store, 4, 1) < 0);
    CHECK(try_append_entry(s->store, 4, 3) < 0);
    CHECK_INT_EQ(try_append_entry(s->store, 4, 2), 0);
    CHECK_INT_EQ(journal_length(s->store, 4), 3);
}


static void durable_rejected_writes_not_stored(suite *s)
{
    committed_state state;

    write_state(s->store, &state);
    CHECK_INT_EQ(commit(s->store), 0);

    CHECK_INT_EQ(try_append_event(s->store, field_events[0].id, field_events[0].user, "again",
                                  60),
                 JY_EEXIST);
    CHECK(try_append_entry(s->store, 4, 0) < 0);
    CHECK(try_append_entry(s->store, 4, 5) < 0);
    if (close_and_reopen(s) != 0)
        return;

    check_state(s->store, &state);
    CHECK(s->store->ops->event_get(s->store, state.seqs[FIELD_EVENT_COUNT - 1] + 1) == NULL);
}


static void durable_ended_run_not_live_after_reopen(suite *s)
{
    jy_run_record run = make_run(8, JY_RUN_WAITING);

    put_run(s->store, &run);
    CHECK_INT_EQ(commit(s->store), 0);
    run = make_run(8, JY_RUN_CANCELLED);
    put_run(s->store, &run);
    if (close_and_reopen(s) != 0)
        return;

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 0);
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 8);
}


/* A run that changes several times in one group is stored as its last
 * change left it. */
static void durable_last_change_in_group_survives(suite *s)
{
    jy_run_record started = make_run(11, JY_RUN_RUNNING);
    jy_run_record waiting = make_run(11, JY_RUN_WAITING);
    jy_run_record sleeping = make_run(11, JY_RUN_SLEEPING);
    jy_run_record quick = make_run(12, JY_RUN_RUNNING);
    jy_run_record quick_done = make_run(12, JY_RUN_COMPLETED);

    waiting.deadline = 7000;
    sleeping.deadline = 9000;
    put_run(s->store, &started);
    put_run(s->store, &waiting);
    put_run(s->store, &sleeping);
    put_run(s->store, &quick);
    put_run(s->store, &quick_done);
    if (close_and_reopen(s) != 0)
        return;

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    check_live_run(s->store, &sleeping);
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 12);
}


/* A large group, in which every kind of write comes many times and
 * interleaved, and each run changes twice, is stored as its last
 * changes left it. A backend that batches or reorders its writes must
 * keep the order of the changes to one run and one key. */
static void durable_large_interleaved_group_survives(suite *s)
{
    enum { RUNS = 40 };
    char users[RUNS][16];
    jy_run_record last[RUNS];

    for (int i = 0; i < RUNS; i++) {
        snprintf(users[i], sizeof users[i], "user-%d", i);
        jy_run_record waiting = make_run(100 + (uint64_t)i, JY_RUN_WAITING);
        waiting.user = users[i];
        put_run(s->store, &waiting);
    }
    CHECK_INT_EQ(commit(s->store), 0);

    for (int i = 0; i < RUNS; i++) {
        char key[16], value[16];
        CHECK(append_event(s->store, NULL, users[i], "tick", 1000 + i) != 0);
        jy_run_record sleeping = make_run(100 + (uint64_t)i, JY_RUN_SLEEPING);
        sleeping.user = users[i];
        sleeping.deadline = 6000 + i;
        put_run(s->store, &sleeping);
        for (uint32_t index = 0; index < 2; index++)
            CHECK_INT_EQ(try_append_entry(s->store, 100 + (uint64_t)i, index), 0);
        last[i] = make_run(100 + (uint64_t)i, JY_RUN_WAITING);
        last[i].user = users[i];
        last[i].deadline = 8000 + i;
        last[i].wait_names = "paid";
        put_run(s->store, &last[i]);
        snprintf(key, sizeof key, "key-%d", i % 3);
        snprintf(value, sizeof value, "value-%d", i);
        put_meta(s->store, key, value);
    }
    if (close_and_reopen(s) != 0)
        return;

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, RUNS);
    for (int i = 0; i < RUNS; i++) {
        check_live_run(s->store, &last[i]);
        CHECK_INT_EQ(journal_length(s->store, 100 + (uint64_t)i), 2);
        seq_list seqs = {0};
        CHECK_INT_EQ(scan_events(s->store, users[i], 0, &seqs), 0);
        CHECK_INT_EQ(seqs.count, 1);
    }
    const char *expected_values[3] = {"value-39", "value-37", "value-38"};
    for (int k = 0; k < 3; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", k);
        char *value = get_meta(s->store, key);
        CHECK_STR_EQ(value, expected_values[k]);
        free(value);
    }
}


/* A run put once, as running, is stored by the commit. */
static void durable_running_run_survives_reopen(suite *s)
{
    jy_run_record running = make_run(15, JY_RUN_RUNNING);

    put_run(s->store, &running);
    if (close_and_reopen(s) != 0)
        return;

    check_live_run(s->store, &running);
}


/* A deadline that an earlier group stored goes when a later group
 * leaves the run live without one, after any number of changes. */
static void durable_deadline_dropped_in_later_group(suite *s)
{
    jy_run_record waiting = make_run(13, JY_RUN_WAITING);

    put_run(s->store, &waiting);
    CHECK_INT_EQ(commit(s->store), 0);

    jy_run_record untimed = waiting;
    untimed.deadline = JY_TIME_MAX;
    jy_run_record renamed = untimed;
    renamed.wait_names = "paid";
    put_run(s->store, &untimed);
    put_run(s->store, &renamed);
    if (close_and_reopen(s) != 0)
        return;

    check_live_run(s->store, &renamed);
}


/* A run that ends and is pruned in the same group stays deleted after a
 * restart. It does not come back as the last commit left it. */
static void durable_run_ended_and_pruned_in_one_group(suite *s)
{
    jy_run_record waiting = make_run(14, JY_RUN_WAITING);
    uint64_t runs_deleted, events_deleted;

    put_run(s->store, &waiting);
    CHECK_INT_EQ(commit(s->store), 0);

    jy_run_record done = make_run(14, JY_RUN_COMPLETED);
    done.ended_at = 100;
    put_run(s->store, &done);
    prune(s->store, 200, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 1);
    if (close_and_reopen(s) != 0)
        return;

    run_list list = {0};
    CHECK_INT_EQ(scan_live(s->store, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


/* Writes a second group on top of committed_state: events, a journal
 * entry and a status change of the live run, a new run and a changed
 * meta value. */
static int write_second_group(jy_store *store, const committed_state *state)
{
    jy_journal_entry entry = make_entry(4, 2);
    jy_run_record woken = state->live;
    jy_run_record started = make_run(20, JY_RUN_SLEEPING);
    int failed = 0;

    failed |= try_append_event(store, "group-2", "user-1", "paid", 100) != 0;
    failed |= try_append_event(store, NULL, "user-3", "signed_up", 100) != 0;
    failed |= store->ops->journal_append(store, &entry, NULL) != 0;
    woken.status = JY_RUN_SLEEPING;
    woken.wait_names = NULL;
    woken.deadline = 8000;
    failed |= store->ops->run_put(store, &woken, NULL) != 0;
    failed |= store->ops->run_put(store, &started, NULL) != 0;
    failed |= store->ops->meta_put(store, "clock", "1700000000100", NULL) != 0;
    return failed;
}


static void check_second_group(jy_store *store, const committed_state *state)
{
    seq_list list = {0};
    CHECK_INT_EQ(scan_events(store, "user-3", 0, &list), 0);
    CHECK_INT_EQ(list.count, 1);
    CHECK_INT_EQ(scan_events(store, "user-1", 0, &list), 0);
    CHECK_INT_EQ(list.count, 3);
    CHECK_INT_EQ(journal_length(store, 4), 3);

    found_run found;
    CHECK(find_live_run(store, state->live.id, &found));
    CHECK_INT_EQ(found.record.status, JY_RUN_SLEEPING);
    CHECK_INT_EQ(found.record.deadline, 8000);
    free_found_run(&found);

    CHECK(find_live_run(store, 20, &found));
    free_found_run(&found);
    CHECK_INT_EQ(store->ops->run_max_id(store), 20);
    char *clock = get_meta(store, "clock");
    CHECK_STR_EQ(clock, "1700000000100");
    free(clock);
}


static void durable_uncommitted_lost_on_destroy(suite *s)
{
    committed_state state;

    write_state(s->store, &state);
    CHECK_INT_EQ(commit(s->store), 0);
    CHECK_INT_EQ(write_second_group(s->store, &state), 0);
    check_second_group(s->store, &state);

    /* Without a commit, none of the second group survives. */
    if (crash_and_reopen(s) != 0)
        return;
    check_state(s->store, &state);
    CHECK(s->store->ops->event_get(s->store, state.seqs[FIELD_EVENT_COUNT - 1] + 1) == NULL);

    /* The same group, committed this time, survives whole. */
    CHECK_INT_EQ(write_second_group(s->store, &state), 0);
    if (close_and_reopen(s) != 0)
        return;
    check_second_group(s->store, &state);
}


/* Exit codes of the writer process of durable_crash_keeps_last_commit. */
enum { WRITER_OK = 0, WRITER_OPEN_FAILED = 10, WRITER_WRITE_FAILED, WRITER_COMMIT_FAILED };

/* Runs in the child: commits the second group, then writes a third
 * group large enough to reach the backend's file, and exits without a
 * commit or destroy, as a killed process would. */
static int run_crashing_writer(const jy_store_conformance_backend *backend,
                               const committed_state *state)
{
    jy_store *store = backend->open(backend->ctx, 0, NULL);
    if (store == NULL)
        return WRITER_OPEN_FAILED;
    if (write_second_group(store, state) != 0)
        return WRITER_WRITE_FAILED;
    if (store->ops->commit(store, NULL) != 0)
        return WRITER_COMMIT_FAILED;

    char data[512];
    memset(data, 'd', sizeof data);
    memcpy(data, "{\"pad\":\"", 8);
    memcpy(data + sizeof data - 3, "\"}", 3);
    for (int i = 0; i < 2000; i++) {
        jy_event *event = jy_event_new(NULL, "user-4", "uncommitted", 200 + i, data, NULL, 0);
        if (event == NULL || store->ops->event_append(store, event, NULL) != 0)
            return WRITER_WRITE_FAILED;
    }
    jy_run_record run = make_run(30, JY_RUN_WAITING);
    if (store->ops->run_put(store, &run, NULL) != 0 ||
        store->ops->meta_put(store, "clock", "1800000000000", NULL) != 0)
        return WRITER_WRITE_FAILED;
    return WRITER_OK;
}


static void durable_crash_keeps_last_commit(suite *s)
{
    committed_state state;

    write_state(s->store, &state);
    CHECK_INT_EQ(commit(s->store), 0);
    destroy_store(s);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(run_crashing_writer(s->backend, &state));

    int status = 0;
    CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT_EQ(WEXITSTATUS(status), WRITER_OK);

    if (open_store(s, 0) != 0)
        return;
    check_second_group(s->store, &state);
    seq_list list = {0};
    CHECK_INT_EQ(scan_events(s->store, "user-4", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
    found_run found;
    CHECK(!find_live_run(s->store, 30, &found));
    free_found_run(&found);

    /* The reopened store accepts and keeps new commits. */
    uint64_t seq = append_event(s->store, NULL, "user-5", "after_crash", 300);
    if (close_and_reopen(s) != 0)
        return;
    CHECK(s->store->ops->event_get(s->store, seq) != NULL);
    CHECK_INT_EQ(scan_events(s->store, "user-4", 0, &list), 0);
    CHECK_INT_EQ(list.count, 0);
}


static void durable_prune_survives_reopen(suite *s)
{
    uint64_t old = append_event(s->store, "old", "alice", "one", 10);
    uint64_t recent = append_event(s->store, "recent", "alice", "two", 60);
    jy_run_record ended = make_run(1, JY_RUN_COMPLETED);
    jy_run_record live = make_run(2, JY_RUN_SLEEPING);
    uint64_t runs_deleted, events_deleted;

    ended.ended_at = 20;
    live.trigger_seq = recent;
    put_run(s->store, &ended);
    put_run(s->store, &live);
    CHECK_INT_EQ(try_append_entry(s->store, 2, 0), 0);
    CHECK_INT_EQ(commit(s->store), 0);

    prune(s->store, 50, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 1);
    CHECK_INT_EQ(events_deleted, 1);

    /* A prune that is not committed is undone. */
    if (crash_and_reopen(s) != 0)
        return;
    CHECK(s->store->ops->event_get(s->store, old) != NULL);

    prune(s->store, 50, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 1);
    CHECK_INT_EQ(events_deleted, 1);
    if (close_and_reopen(s) != 0)
        return;
    CHECK(s->store->ops->event_get(s->store, old) == NULL);
    CHECK(s->store->ops->event_get(s->store, recent) != NULL);
    check_live_run(s->store, &live);
    CHECK_INT_EQ(journal_length(s->store, 2), 1);
    CHECK_INT_EQ(try_append_event(s->store, "old", "alice", "one", 70), 0);
    CHECK_INT_EQ(try_append_event(s->store, "recent", "alice", "two", 70), JY_EEXIST);
}


/* The file deletes the same events as memory, user by user. */
static void durable_prune_per_user_survives_reopen(suite *s)
{
    uint64_t alice_old = append_event(s->store, NULL, "alice", "one", 10);
    uint64_t bob_old = append_event(s->store, NULL, "bob", "one", 15);
    uint64_t runs_deleted, events_deleted;

    jy_run_record live = make_run(1, JY_RUN_WAITING);
    live.user = "alice";
    live.trigger_seq = alice_old;
    put_run(s->store, &live);
    prune(s->store, JY_TIME_MIN, 100, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 1);
    if (close_and_reopen(s) != 0)
        return;

    CHECK(s->store->ops->event_get(s->store, alice_old) != NULL);
    CHECK(s->store->ops->event_get(s->store, bob_old) == NULL);
}


static void durable_run_max_id_after_prune(suite *s)
{
    jy_run_record live = make_run(3, JY_RUN_WAITING);
    jy_run_record ended = make_run(9, JY_RUN_COMPLETED);
    uint64_t runs_deleted, events_deleted;

    put_run(s->store, &live);
    put_run(s->store, &ended);
    prune(s->store, ended.ended_at + 1, JY_TIME_MIN, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(runs_deleted, 1);
    if (close_and_reopen(s) != 0)
        return;

    /* "Highest ever stored", so the restarted host does not reuse 9. */
    CHECK_INT_EQ(s->store->ops->run_max_id(s->store), 9);
}


static void durable_event_seq_after_prune(suite *s)
{
    append_event(s->store, NULL, "alice", "one", 10);
    uint64_t newest = append_event(s->store, NULL, "alice", "two", 20);
    uint64_t runs_deleted, events_deleted;

    prune(s->store, JY_TIME_MIN, 50, &runs_deleted, &events_deleted);
    CHECK_INT_EQ(events_deleted, 2);
    if (close_and_reopen(s) != 0)
        return;

    /* Sequence numbers keep increasing: an ended run's trigger_seq must
     * never name a newer event. */
    uint64_t next = append_event(s->store, NULL, "alice", "three", 30);
    CHECK(next > newest);
}


/* ---- Runner --------------------------------------------------------- */

typedef struct check_case {
    const char *name;
    check_fn run;
    int durable_only;
} check_case;

#define CASE(fn) {#fn, fn, 0}
#define DURABLE_CASE(fn) {#fn, fn, 1}

static const check_case cases[] = {
    CASE(event_seq_starts_at_one),
    CASE(event_append_sets_seq),
    CASE(event_duplicate_rejected),
    CASE(event_duplicate_id_other_user_accepted),
    CASE(event_without_id_never_duplicate),
    CASE(event_get_returns_fields),
    CASE(event_get_unknown_null),
    CASE(event_scan_user_in_order),
    CASE(event_scan_from_seq),
    CASE(event_scan_visitor_stops),
    CASE(event_scan_unknown_user),
    CASE(event_pointers_stay_valid),
    CASE(run_put_copies_strings),
    CASE(run_put_replaces_record),
    CASE(run_fields_roundtrip),
    CASE(run_scan_live_only_live),
    CASE(run_scan_live_id_order),
    CASE(run_scan_live_visitor_stops),
    CASE(run_scan_live_drops_ended_run),
    CASE(run_max_id_tracks_highest),
    CASE(run_max_id_kept_after_prune),
    CASE(journal_append_consecutive),
    CASE(journal_append_wrong_index_rejected),
    CASE(journal_get_past_end_null),
    CASE(journal_append_copies_strings),
    CASE(journal_runs_independent),
    CASE(journal_pointers_stay_valid),
    CASE(user_put_accepted),
    CASE(meta_get_absent_null),
    CASE(meta_put_replaces_value),
    CASE(prune_deletes_ended_runs_before_cutoff),
    CASE(prune_keeps_events_live_runs_reach),
    CASE(prune_keeps_events_per_user),
    CASE(prune_follows_next_oldest_run),
    CASE(prune_many_then_lookup),
    CASE(prune_without_live_runs_deletes_old_events),
    CASE(prune_nothing_old_counts_zero),
    CASE(prune_releases_event_ids),
    CASE(prune_repeated_deletes_newly_old_events),
    CASE(prune_deletes_runs_ended_in_any_order),
    CASE(commit_without_writes_succeeds),
    CASE(commit_keeps_state_readable),
    DURABLE_CASE(durable_commit_survives_reopen),
    DURABLE_CASE(durable_numbering_continues_after_reopen),
    DURABLE_CASE(durable_rejected_writes_not_stored),
    DURABLE_CASE(durable_ended_run_not_live_after_reopen),
    DURABLE_CASE(durable_last_change_in_group_survives),
    DURABLE_CASE(durable_large_interleaved_group_survives),
    DURABLE_CASE(durable_running_run_survives_reopen),
    DURABLE_CASE(durable_deadline_dropped_in_later_group),
    DURABLE_CASE(durable_run_ended_and_pruned_in_one_group),
    DURABLE_CASE(durable_uncommitted_lost_on_destroy),
    DURABLE_CASE(durable_crash_keeps_last_commit),
    DURABLE_CASE(durable_prune_survives_reopen),
    DURABLE_CASE(durable_prune_per_user_survives_reopen),
    DURABLE_CASE(durable_run_max_id_after_prune),
    DURABLE_CASE(durable_event_seq_after_prune),
};


static int is_expected_failure(const jy_store_conformance_backend *backend, const char *name)
{
    if (backend->expected_failures == NULL)
        return 0;
    for (const char *const *entry = backend->expected_failures; *entry != NULL; entry++)
        if (strcmp(*entry, name) == 0)
            return 1;
    return 0;
}


int jy_store_conformance_run(const jy_store_conformance_backend *backend)
{
    int checks_before = check_count;
    int failures_before = check_failures;
    int expected = 0;

    printf("store conformance: %s backend\n", backend->name);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const check_case *c = &cases[i];
        if (c->durable_only && !backend->durable)
            continue;

        suite s = {.backend = backend, .store = NULL};
        int failures_at_start = check_failures;
        fflush(stdout);
        if (open_store(&s, 1) == 0)
            c->run(&s);
        destroy_store(&s);

        int failed = check_failures > failures_at_start;
        if (is_expected_failure(backend, c->name)) {
            if (failed) {
                check_failures = failures_at_start;
                expected++;
                printf("  expected failure  %s (a known bug of the backend)\n", c->name);
            } else {
                check_failures++;
                printf("  FAILED  %s passed but is listed as an expected failure; remove it "
                       "from the list\n", c->name);
            }
            continue;
        }
        printf("  %s  %s\n", failed ? "FAILED" : "ok", c->name);
    }

    int checks = check_count - checks_before;
    int failures = check_failures - failures_before;
    printf("%s backend: %d checks, %d failed, %d expected failures\n", backend->name, checks,
           failures, expected);
    return failures;
}
