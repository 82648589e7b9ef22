/*
 * The memory store: the store interface over plain arrays and hash
 * maps. Nothing survives the process; specs and `journey simulate` use
 * it because it is fast and needs no file.
 *
 * Every event is kept until prune deletes it, so memory grows with the
 * input: roughly the event's text plus about 100 bytes of index.
 *
 * Retention works user by user, because a run reads only its own user's
 * events. A user's events from the trigger of its oldest live run on
 * stay, and another user's old events can go. Users whose events may
 * be old enough wait in a heap keyed by the earliest such event's time,
 * so a prune visits only the users it can delete something from.
 */
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "id_heap.h"
#include "store.h"


typedef struct event_list {
    jy_event **items;
    size_t count;
    size_t capacity;
} event_list;

/* The triggers of a user's live runs in ascending order, once the user
 * has more than one. Two runs may share a trigger. */
typedef struct trigger_set {
    uint32_t count;
    uint32_t capacity;
    uint64_t seqs[];
} trigger_set;

/* One user's events in seq order (borrowed from memory_store.events)
 * and what retention needs to know about the user. */
typedef struct user_events {
    jy_event **items;
    uint32_t count;
    uint32_t capacity;
    uint32_t live_runs;
    uint32_t queued;      /* in users_to_prune under queued_key */
    union {
        uint64_t trigger;  /* the live run's trigger, with one live run */
        trigger_set *set;  /* with more */
    } live;
    jy_time queued_key;
} user_events;

typedef struct journal {
    jy_journal_entry **entries; /* each entry and its strings in one block */
    uint32_t count;
    uint32_t capacity;
} journal;

typedef struct memory_store {
    jy_store base;
    event_list events; /* index seq - first_seq, NULL where pruned; owns them */
    uint64_t first_seq; /* seq of events.items[0] */
    uint64_t next_seq;
    size_t prune_floor; /* events.items below this index are all NULL */
    jy_map by_user;    /* user -> user_events */
    jy_map by_id;      /* user NUL id -> event */
    jy_map journals;   /* run id -> journal */
    jy_map runs;       /* run id -> run_copy */
    /* (ended_at, id) of ended runs, so prune finds the runs to delete
     * without visiting every run. A run's entry goes out of date when
     * the run changes; prune drops such entries as it meets them. */
    jy_id_heap ended_runs;
    /* (time, user_events pointer) of users that may have events to
     * delete; an entry whose time is not the user's queued_key is out
     * of date. */
    jy_id_heap users_to_prune;
    jy_map users;      /* user -> attributes JSON (malloc'd) */
    jy_map meta;       /* key -> value (malloc'd) */
    uint64_t max_run_id;
} memory_store;

/* A run record and its strings in one block. A later put of the same
 * run writes over it when its strings fit. */
typedef struct run_copy {
    jy_run_record record;
    char strings[];
} run_copy;


static int list_push(event_list *list, jy_event *event)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 4 : list->capacity * 2;
        jy_event **items = realloc(list->items, capacity * sizeof *items);
        if (items == NULL)
            return JY_ENOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = event;
    return 0;
}


static int user_push(user_events *user, jy_event *event)
{
    if (user->count == user->capacity) {
        if (user->capacity > UINT32_MAX / 2)
            return JY_ENOMEM;
        uint32_t capacity = user->capacity == 0 ? 4 : user->capacity * 2;
        jy_event **items = realloc(user->items, capacity * sizeof *items);
        if (items == NULL)
            return JY_ENOMEM;
        user->items = items;
        user->capacity = capacity;
    }
    user->items[user->count++] = event;
    return 0;
}


/* Returns user's state, created empty when absent and create is set, or
 * NULL. */
static user_events *user_state(memory_store *store, const char *user, int create)
{
    user_events *state = jy_map_get_str(&store->by_user, user);

    if (state != NULL || !create)
        return state;
    state = calloc(1, sizeof *state);
    if (state == NULL)
        return NULL;
    if (jy_map_put_str(&store->by_user, user, state) != 0) {
        free(state);
        return NULL;
    }
    return state;
}


/* The seq from which the user's events stay whatever their age. */
static uint64_t retention_limit(const user_events *user)
{
    if (user->live_runs == 0)
        return UINT64_MAX;
    return user->live_runs == 1 ? user->live.trigger : user->live.set->seqs[0];
}


/* Queues user for the prune that reaches key, unless it is queued for
 * an earlier time already. */
static int queue_user(memory_store *store, user_events *user, jy_time key)
{
    if (user->queued && user->queued_key <= key)
        return 0;
    if (jy_id_heap_push(&store->users_to_prune, key, (uint64_t)(uintptr_t)user) != 0)
        return JY_ENOMEM;
    user->queued = 1;
    user->queued_key = key;
    return 0;
}


static int dedupe_key(const jy_event *event, char **key, size_t *len)
{
    size_t user_len = strlen(event->user);
    size_t id_len = strlen(event->id);

    *len = user_len + 1 + id_len;
    *key = malloc(*len);
    if (*key == NULL)
        return JY_ENOMEM;
    memcpy(*key, event->user, user_len);
    (*key)[user_len] = '\0';
    memcpy(*key + user_len + 1, event->id, id_len);
    return 0;
}


static int memory_event_append(jy_store *base, jy_event *event, jy_error *err)
{
    memory_store *store = (memory_store *)base;
    char *key = NULL;
    size_t key_len = 0;

    if (event->id != NULL) {
        if (dedupe_key(event, &key, &key_len) != 0)
            goto nomem;
        if (jy_map_get(&store->by_id, key, key_len) != NULL) {
            free(key);
            jy_event_free(event);
            return JY_EEXIST;
        }
    }

    user_events *user = user_state(store, event->user, 1);
    if (user == NULL)
        goto nomem;

    /* Queue the user and grow both lists before changing either, so a
     * failure leaves the store as it was. A queue entry that is not
     * needed costs one visit of the user. A new event is below the
     * retention limit only when the user has no live run, because its
     * seq is above every trigger. */
    if (retention_limit(user) == UINT64_MAX && queue_user(store, user, event->ts) != 0)
        goto nomem;
    if (store->events.count == 0)
        store->first_seq = store->next_seq;
    if (list_push(&store->events, event) != 0)
        goto nomem;
    if (user_push(user, event) != 0) {
        store->events.count--;
        goto nomem;
    }
    if (key != NULL && jy_map_put(&store->by_id, key, key_len, event) != 0) {
        store->events.count--;
        user->count--;
        goto nomem;
    }

    event->seq = store->next_seq++;
    free(key);
    return 0;

nomem:
    free(key);
    return jy_error_set(err, JY_ENOMEM, "out of memory storing event %s for user %s",
                        event->name, event->user);
}


static const jy_event *memory_event_get(jy_store *base, uint64_t seq)
{
    memory_store *store = (memory_store *)base;

    if (store->events.count == 0 || seq < store->first_seq ||
        seq - store->first_seq >= store->events.count)
        return NULL;
    return store->events.items[seq - store->first_seq];
}


static int memory_event_scan(jy_store *base, const char *user_id,
                             uint64_t from_seq, jy_event_visit_fn visit,
                             void *ctx)
{
    memory_store *store = (memory_store *)base;
    const user_events *user = jy_map_get_str(&store->by_user, user_id);

    if (user == NULL)
        return 0;

    /* Sequence numbers grow along the list, so a binary search finds the
     * first event at or after from_seq. */
    size_t lo = 0, hi = user->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user->items[mid]->seq < from_seq)
            lo = mid + 1;
        else
            hi = mid;
    }

    for (size_t i = lo; i < user->count; i++)
        if (visit(user->items[i], ctx) != 0)
            break;
    return 0;
}


static char *copy_string(char **cursor, const char *text)
{
    if (text == NULL)
        return NULL;
    size_t n = strlen(text) + 1;
    char *dst = *cursor;
    memcpy(dst, text, n);
    *cursor += n;
    return dst;
}


static size_t string_size(const char *text)
{
    return text != NULL ? strlen(text) + 1 : 0;
}


/* The statuses of waiting, sleeping and running runs. */
static int is_live(const jy_run_record *record)
{
    return record->status <= 2;
}


/* Adds the heap entry that prune needs for an ended record, unless the
 * record it replaces (old, or NULL) left one that is still right. */
static int index_for_prune(memory_store *store, const jy_run_record *old,
                           const jy_run_record *record)
{
    if (is_live(record))
        return 0;
    if (old != NULL && !is_live(old) && old->ended_at == record->ended_at)
        return 0;
    return jy_id_heap_push(&store->ended_runs, record->ended_at, record->id);
}


/* Makes room for one more live run of user, so that adding it cannot
 * fail once the record is stored. A user with one live run keeps its
 * trigger inline and needs a new set for a second one, which *spare
 * then points to. A set that grows keeps its triggers. */
static int reserve_live_run(user_events *user, trigger_set **spare)
{
    *spare = NULL;
    if (user->live_runs == 0)
        return 0;
    if (user->live_runs == 1) {
        *spare = malloc(sizeof **spare + 4 * sizeof (*spare)->seqs[0]);
        if (*spare == NULL)
            return JY_ENOMEM;
        (*spare)->count = 0;
        (*spare)->capacity = 4;
        return 0;
    }
    trigger_set *set = user->live.set;
    if (set->count < set->capacity)
        return 0;
    if (set->capacity > UINT32_MAX / 4)
        return JY_ENOMEM;
    trigger_set *grown = realloc(set, sizeof *set + 2 * (size_t)set->capacity * sizeof set->seqs[0]);
    if (grown == NULL)
        return JY_ENOMEM;
    grown->capacity *= 2;
    user->live.set = grown;
    return 0;
}


/* Adds the trigger of a run that became live, with what
 * reserve_live_run prepared. */
static void add_live_run(user_events *user, uint64_t trigger, trigger_set *spare)
{
    if (user->live_runs == 0) {
        user->live.trigger = trigger;
        user->live_runs = 1;
        return;
    }
    if (user->live_runs == 1) {
        spare->seqs[0] = user->live.trigger;
        spare->count = 1;
        user->live.set = spare;
    }
    trigger_set *set = user->live.set;
    uint32_t i = set->count;
    while (i > 0 && set->seqs[i - 1] > trigger) {
        set->seqs[i] = set->seqs[i - 1];
        i--;
    }
    set->seqs[i] = trigger;
    set->count++;
    user->live_runs++;
}


/* Removes the trigger of a run that ended. When the lowest trigger goes,
 * the user's events below the next one may be old enough to delete, so
 * the user is queued for the next prune. */
static void remove_live_run(memory_store *store, user_events *user, uint64_t trigger)
{
    uint64_t limit = retention_limit(user);

    if (user->live_runs == 1) {
        user->live_runs = 0;
    } else {
        trigger_set *set = user->live.set;
        uint32_t i = 0;
        while (i < set->count && set->seqs[i] != trigger)
            i++;
        if (i == set->count)
            return; /* not counted as live, so nothing to remove */
        memmove(set->seqs + i, set->seqs + i + 1, (set->count - i - 1) * sizeof set->seqs[0]);
        set->count--;
        user->live_runs--;
        if (user->live_runs == 1) {
            uint64_t last = set->seqs[0];
            free(set);
            user->live.trigger = last;
        }
    }

    /* Out of memory, the user's old events wait for its next event to
     * queue it again. */
    if (retention_limit(user) > limit && user->count > 0)
        queue_user(store, user, JY_TIME_MIN);
}


/* Returns copy when record's strings fit in it, else a new block, or
 * NULL when out of memory. */
static run_copy *block_for(run_copy *copy, size_t size)
{
    if (copy != NULL && malloc_usable_size(copy) >= offsetof(run_copy, strings) + size)
        return copy;
    return malloc(offsetof(run_copy, strings) + (size > 0 ? size : 1));
}


static int memory_run_put(jy_store *base, const jy_run_record *record,
                          jy_error *err)
{
    memory_store *store = (memory_store *)base;
    size_t size = string_size(record->journey) + string_size(record->user) +
                  string_size(record->key) + string_size(record->result_json) +
                  string_size(record->error) + string_size(record->wait_names);
    run_copy *old = jy_map_get_id(&store->runs, record->id);

    /* What prune needs from the old record, before it may be written
     * over. Only a change between live and ended touches the user. */
    jy_run_record previous = old != NULL ? old->record : (jy_run_record){0};
    int was_live = old != NULL && is_live(&previous);
    user_events *user = NULL;
    trigger_set *spare = NULL;
    if (was_live != is_live(record)) {
        user = user_state(store, record->user, 1);
        if (user == NULL || (!was_live && reserve_live_run(user, &spare) != 0))
            goto nomem;
    }
    if (index_for_prune(store, old != NULL ? &previous : NULL, record) != 0)
        goto nomem;

    run_copy *copy = block_for(old, size);
    if (copy == NULL)
        goto nomem;
    if (copy != old && jy_map_put_id(&store->runs, record->id, copy) != 0) {
        free(copy);
        goto nomem;
    }

    char *cursor = copy->strings;
    copy->record = *record;
    copy->record.journey = copy_string(&cursor, record->journey);
    copy->record.user = copy_string(&cursor, record->user);
    copy->record.key = copy_string(&cursor, record->key);
    copy->record.result_json = copy_string(&cursor, record->result_json);
    copy->record.error = copy_string(&cursor, record->error);
    copy->record.wait_names = copy_string(&cursor, record->wait_names);
    if (copy != old)
        free(old);

    if (record->id > store->max_run_id)
        store->max_run_id = record->id;
    if (user != NULL && was_live)
        remove_live_run(store, user, previous.trigger_seq);
    else if (user != NULL)
        add_live_run(user, record->trigger_seq, spare);
    return 0;

nomem:
    free(spare);
    return jy_error_set(err, JY_ENOMEM, "out of memory storing run %llu",
                        (unsigned long long)record->id);
}


static int memory_journal_append(jy_store *base, const jy_journal_entry *entry,
                                 jy_error *err)
{
    memory_store *store = (memory_store *)base;
    journal *j = jy_map_get_id(&store->journals, entry->run_id);

    if (j == NULL) {
        j = calloc(1, sizeof *j);
        if (j == NULL || jy_map_put_id(&store->journals, entry->run_id, j) != 0) {
            free(j);
            goto nomem;
        }
    }
    if (entry->index != j->count)
        return jy_error_set(err, JY_ESTATE,
                            "journal of run %llu has %u entries, cannot append entry %u",
                            (unsigned long long)entry->run_id, j->count, entry->index);

    if (j->count == j->capacity) {
        uint32_t capacity = j->capacity == 0 ? 8 : j->capacity * 2;
        jy_journal_entry **entries = realloc(j->entries, capacity * sizeof *entries);
        if (entries == NULL)
            goto nomem;
        j->entries = entries;
        j->capacity = capacity;
    }

    /* One block per entry, so the pointers journal_get returns stay
     * valid while the journal grows. */
    const char *name = entry->name != NULL ? entry->name : "";
    const char *result_json = entry->result_json != NULL ? entry->result_json : "null";
    jy_journal_entry *copy = malloc(sizeof *copy + string_size(name) + string_size(result_json));
    if (copy == NULL)
        goto nomem;

    char *cursor = (char *)(copy + 1);
    *copy = *entry;
    copy->name = copy_string(&cursor, name);
    copy->result_json = copy_string(&cursor, result_json);
    j->entries[j->count++] = copy;
    return 0;

nomem:
    return jy_error_set(err, JY_ENOMEM, "out of memory journaling run %llu",
                        (unsigned long long)entry->run_id);
}


static const jy_journal_entry *memory_journal_get(jy_store *base,
                                                  uint64_t run_id,
                                                  uint32_t index)
{
    memory_store *store = (memory_store *)base;
    journal *j = jy_map_get_id(&store->journals, run_id);

    if (j == NULL || index >= j->count)
        return NULL;
    return j->entries[index];
}


typedef struct live_list {
    const jy_run_record **items;
    size_t count;
    size_t capacity;
    int failed;
} live_list;


static void collect_live(const jy_map_entry *entry, void *ctx)
{
    live_list *list = ctx;
    const run_copy *copy = entry->value;

    /* running, waiting and sleeping are the live statuses (run.h) */
    if (copy->record.status > 2 || list->failed)
        return;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 64 : list->capacity * 2;
        const jy_run_record **items = realloc(list->items, capacity * sizeof *items);
        if (items == NULL) {
            list->failed = 1;
            return;
        }
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = &copy->record;
}


static int compare_record_ids(const void *a, const void *b)
{
    const jy_run_record *x = *(const jy_run_record *const *)a;
    const jy_run_record *y = *(const jy_run_record *const *)b;
    return x->id < y->id ? -1 : (x->id > y->id);
}


static int memory_run_scan_live(jy_store *base, jy_run_visit_fn visit, void *ctx)
{
    memory_store *store = (memory_store *)base;
    live_list list = {0};

    jy_map_each(&store->runs, collect_live, &list);
    if (list.failed) {
        free(list.items);
        return JY_ENOMEM;
    }
    if (list.count > 1)
        qsort(list.items, list.count, sizeof *list.items, compare_record_ids);
    for (size_t i = 0; i < list.count; i++)
        if (visit(list.items[i], ctx) != 0)
            break;
    free(list.items);
    return 0;
}


static uint64_t memory_run_max_id(jy_store *base)
{
    return ((memory_store *)base)->max_run_id;
}


/* Replaces the malloc'd string stored under key in map. */
static int put_string(jy_map *map, const char *key, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return JY_ENOMEM;

    char *old = jy_map_get_str(map, key);
    if (jy_map_put_str(map, key, copy) != 0) {
        free(copy);
        return JY_ENOMEM;
    }
    free(old);
    return 0;
}


static int memory_user_put(jy_store *base, const char *user, const char *attributes_json,
                           jy_time at, jy_error *err)
{
    (void)at;
    memory_store *store = (memory_store *)base;

    if (put_string(&store->users, user, attributes_json) != 0)
        return jy_error_set(err, JY_ENOMEM, "out of memory storing user %s", user);
    return 0;
}


static int memory_meta_get(jy_store *base, const char *key, char **value, jy_error *err)
{
    memory_store *store = (memory_store *)base;
    const char *stored = jy_map_get_str(&store->meta, key);

    *value = NULL;
    if (stored == NULL)
        return 0;
    *value = strdup(stored);
    if (*value == NULL)
        return jy_error_set(err, JY_ENOMEM, "out of memory reading %s", key);
    return 0;
}


static int memory_meta_put(jy_store *base, const char *key, const char *value, jy_error *err)
{
    memory_store *store = (memory_store *)base;

    if (put_string(&store->meta, key, value) != 0)
        return jy_error_set(err, JY_ENOMEM, "out of memory storing %s", key);
    return 0;
}


static void free_journal_entries(journal *j)
{
    for (uint32_t i = 0; i < j->count; i++)
        free(j->entries[i]);
    free(j->entries);
    free(j);
}


/* Deletes one event from the seq index and the id index, and frees it.
 * The caller drops it from its user's list. */
static void delete_event(memory_store *store, jy_event *event, jy_store_deleted_fn deleted,
                         void *ctx)
{
    if (event->id != NULL) {
        char *key = NULL;
        size_t key_len = 0;
        if (dedupe_key(event, &key, &key_len) == 0)
            jy_map_remove(&store->by_id, key, key_len);
        free(key);
    }
    store->events.items[event->seq - store->first_seq] = NULL;
    if (deleted != NULL)
        deleted(event->seq, ctx);
    jy_event_free(event);
}


/* Deletes the user's events older than events_before below the
 * retention limit, and queues the user again for the earliest of the
 * rest there. Returns how many it deleted. */
static uint64_t prune_user(memory_store *store, user_events *user, jy_time events_before,
                           jy_store_deleted_fn deleted, void *ctx)
{
    uint64_t limit = retention_limit(user);
    jy_time next_key = JY_TIME_MAX;
    uint64_t count = 0;
    uint32_t kept_count = 0;
    uint32_t i = 0;

    for (; i < user->count && user->items[i]->seq < limit; i++) {
        jy_event *event = user->items[i];
        if (event->ts < events_before) {
            delete_event(store, event, deleted, ctx);
            count++;
            continue;
        }
        if (event->ts < next_key)
            next_key = event->ts;
        user->items[kept_count++] = event;
    }
    if (count > 0) {
        memmove(user->items + kept_count, user->items + i, (user->count - i) * sizeof *user->items);
        user->count = kept_count + (user->count - i);
    }

    /* Out of memory, these events wait for the user's next event. */
    if (next_key != JY_TIME_MAX)
        queue_user(store, user, next_key);
    return count;
}


/* Drops the empty prefix of the seq index, and moves the rest down once
 * the prefix is most of it, so the index does not grow with every
 * event ever stored. */
static void trim_seq_index(memory_store *store)
{
    event_list *events = &store->events;

    while (store->prune_floor < events->count && events->items[store->prune_floor] == NULL)
        store->prune_floor++;
    if (store->prune_floor < 1024 || store->prune_floor < events->count / 2)
        return;
    size_t rest = events->count - store->prune_floor;
    memmove(events->items, events->items + store->prune_floor, rest * sizeof *events->items);
    store->first_seq += store->prune_floor;
    events->count = rest;
    store->prune_floor = 0;
}


int jy_store_memory_prune(jy_store *base, jy_time ended_before, jy_time events_before,
                          jy_store_deleted_fn deleted, void *ctx, uint64_t *runs_deleted,
                          uint64_t *events_deleted)
{
    memory_store *store = (memory_store *)base;

    *runs_deleted = 0;
    *events_deleted = 0;
    const jy_id_heap_entry *top;
    while ((top = jy_id_heap_top(&store->ended_runs)) != NULL && top->key < ended_before) {
        uint64_t id = top->id;
        jy_time ended_at = top->key;
        jy_id_heap_pop(&store->ended_runs);

        run_copy *copy = jy_map_get_id(&store->runs, id);
        if (copy == NULL || is_live(&copy->record) || copy->record.ended_at != ended_at)
            continue; /* an out-of-date entry */
        jy_map_remove_id(&store->runs, id);
        free(copy);
        journal *j = jy_map_remove_id(&store->journals, id);
        if (j != NULL)
            free_journal_entries(j);
        (*runs_deleted)++;
    }

    while ((top = jy_id_heap_top(&store->users_to_prune)) != NULL &&
           top->key < events_before) {
        user_events *user = (user_events *)(uintptr_t)top->id;
        jy_time key = top->key;
        jy_id_heap_pop(&store->users_to_prune);

        if (!user->queued || user->queued_key != key)
            continue; /* an out-of-date entry */
        user->queued = 0;
        *events_deleted += prune_user(store, user, events_before, deleted, ctx);
    }
    if (*events_deleted > 0)
        trim_seq_index(store);
    return 0;
}


static int memory_prune(jy_store *base, jy_time ended_before, jy_time events_before,
                        uint64_t *runs_deleted, uint64_t *events_deleted, jy_error *err)
{
    (void)err;
    return jy_store_memory_prune(base, ended_before, events_before, NULL, NULL, runs_deleted,
                                 events_deleted);
}


int jy_store_memory_load_event(jy_store *base, jy_event *event)
{
    memory_store *store = (memory_store *)base;

    if (event->seq < store->next_seq) {
        jy_event_free(event);
        return JY_EINVAL;
    }
    if (store->events.count == 0)
        store->first_seq = event->seq;

    /* Leave a hole for each pruned seq so lookups stay one index. */
    while (store->first_seq + store->events.count < event->seq)
        if (list_push(&store->events, NULL) != 0) {
            jy_event_free(event);
            return JY_ENOMEM;
        }

    uint64_t seq = event->seq;
    store->next_seq = seq;
    int rc = memory_event_append(base, event, NULL);
    if (rc != 0)
        return rc;
    return event->seq == seq ? 0 : JY_EINVAL;
}


const jy_run_record *jy_store_memory_run_get(jy_store *base, uint64_t id)
{
    const run_copy *copy = jy_map_get_id(&((memory_store *)base)->runs, id);
    return copy != NULL ? &copy->record : NULL;
}


void jy_store_memory_reserve_seq(jy_store *base, uint64_t next_seq)
{
    memory_store *store = (memory_store *)base;

    if (next_seq <= store->next_seq)
        return;
    if (store->events.count == 0)
        store->first_seq = next_seq;
    else
        /* Holes keep event_get's index arithmetic: seq - first_seq. */
        while (store->first_seq + store->events.count < next_seq &&
               list_push(&store->events, NULL) == 0) {
        }
    store->next_seq = next_seq;
}


int jy_store_memory_load_journal(jy_store *store, const jy_journal_entry *entry)
{
    return memory_journal_append(store, entry, NULL);
}


static int memory_commit(jy_store *base, jy_error *err)
{
    (void)base;
    (void)err;
    return 0;
}


static void free_user_list(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    user_events *user = entry->value;
    if (user->live_runs > 1)
        free(user->live.set);
    free(user->items);
    free(user);
}


static void free_journal(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    free_journal_entries(entry->value);
}


static void free_value(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    free(entry->value);
}


static void free_run(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    free(entry->value);
}


static void memory_destroy(jy_store *base)
{
    memory_store *store = (memory_store *)base;

    jy_map_each(&store->by_user, free_user_list, NULL);
    jy_map_each(&store->journals, free_journal, NULL);
    jy_map_each(&store->runs, free_run, NULL);
    jy_map_each(&store->users, free_value, NULL);
    jy_map_each(&store->meta, free_value, NULL);
    jy_map_free(&store->users);
    jy_map_free(&store->meta);
    jy_map_free(&store->by_user);
    jy_map_free(&store->by_id);
    jy_map_free(&store->journals);
    jy_map_free(&store->runs);
    jy_id_heap_free(&store->ended_runs);
    jy_id_heap_free(&store->users_to_prune);
    for (size_t i = 0; i < store->events.count; i++)
        jy_event_free(store->events.items[i]);
    free(store->events.items);
    free(store);
}


static const jy_store_ops memory_ops = {
    .name = "memory",
    .event_append = memory_event_append,
    .event_get = memory_event_get,
    .event_scan = memory_event_scan,
    .run_put = memory_run_put,
    .journal_append = memory_journal_append,
    .journal_get = memory_journal_get,
    .run_scan_live = memory_run_scan_live,
    .run_max_id = memory_run_max_id,
    .user_put = memory_user_put,
    .meta_get = memory_meta_get,
    .meta_put = memory_meta_put,
    .prune = memory_prune,
    .commit = memory_commit,
    .destroy = memory_destroy,
};


jy_store *jy_store_memory_new(void)
{
    memory_store *store = calloc(1, sizeof *store);

    if (store == NULL)
        return NULL;
    store->base.ops = &memory_ops;
    jy_map_init(&store->by_user);
    jy_map_init(&store->by_id);
    jy_map_init(&store->journals);
    jy_map_init(&store->runs);
    jy_map_init(&store->users);
    jy_map_init(&store->meta);
    store->next_seq = 1;
    store->first_seq = 1;
    return &store->base;
}


const char *jy_step_kind_name(jy_step_kind kind)
{
    switch (kind) {
    case JY_STEP_WAIT_FOR: return "wait_for";
    case JY_STEP_EVENTS: return "events";
    case JY_STEP_SLEEP: return "sleep";
    case JY_STEP_SLEEP_UNTIL: return "sleep_until";
    case JY_STEP_EMIT: return "emit";
    case JY_STEP_STEP: return "step";
    case JY_STEP_NOW: return "now";
    case JY_STEP_RANDOM: return "math.random";
    case JY_STEP_OS_TIME: return "os.time";
    case JY_STEP_CALL: return "call";
    }
    return "unknown";
}
