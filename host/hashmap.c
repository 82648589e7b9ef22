/*
 * The open-addressed hash map behind the host's indexes (see hashmap.h).
 */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "huge_pages.h"

/* Values of a slot's hash that no key gets. REMOVED appears only in the
 * old table, which takes no inserts: lookups probe past it. The current
 * table closes the gap a removal leaves instead. */
#define EMPTY 0
#define REMOVED 1

/* The length tag of a key in a block of its own. */
#define FAR_KEY 15

struct jy_map_far_key {
    size_t len;
    char key[]; /* len bytes, then a NUL */
};

/* Old slots moved per insert or removal. A doubling leaves an old table
 * at most three quarters used, and the new one fills to that point only
 * after as many inserts again, so the old table is empty long before. */
#define MOVE_PER_CHANGE 8


/* FNV-1a, 64-bit, then mixed so that the bits that pick the slot
 * depend on every byte: short keys (user ids, event names) dominate,
 * and it needs no setup. The low 4 bits give way to the key's length
 * tag, so that equal hashes also mean keys of one length class. */
static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    h &= ~(uint64_t)0xF;
    if (h == 0)
        h = 0x10; /* keeps 0 and 1 free for EMPTY and REMOVED */
    return h | (len <= JY_MAP_INLINE_KEY ? len : FAR_KEY);
}


/* The slot a key's probe starts at, from the bits above the tag. */
static size_t home_of(uint64_t hash, size_t mask)
{
    return (size_t)(hash >> 4) & mask;
}


static int set_key(jy_map_slot *slot, const void *key, size_t len)
{
    if (len <= JY_MAP_INLINE_KEY) {
        memcpy(slot->key.bytes, key, len);
        return 0;
    }
    struct jy_map_far_key *far = malloc(sizeof *far + len + 1);
    if (far == NULL)
        return JY_ENOMEM;
    far->len = len;
    memcpy(far->key, key, len);
    far->key[len] = '\0';
    slot->key.far = far;
    return 0;
}


static int is_far(const jy_map_slot *slot)
{
    return (slot->hash & 0xF) == FAR_KEY;
}


static void free_key(jy_map_slot *slot)
{
    if (is_far(slot))
        free(slot->key.far);
}


/* Compares a slot's key with key, once the hashes, and with them the
 * length classes, are equal. */
static int key_is(const jy_map_slot *slot, const void *key, size_t len)
{
    if (!is_far(slot))
        return memcmp(slot->key.bytes, key, len) == 0;
    return slot->key.far->len == len && memcmp(slot->key.far->key, key, len) == 0;
}


void jy_map_init(jy_map *map)
{
    *map = (jy_map){0};
}


static jy_map_slot *table_alloc(size_t capacity)
{
    if (capacity >= JY_MAP_HUGE_SLOTS)
        return jy_huge_calloc(capacity, sizeof(jy_map_slot));
    return calloc(capacity, sizeof(jy_map_slot));
}


static void table_free(jy_map_slot *slots, size_t capacity)
{
    if (capacity >= JY_MAP_HUGE_SLOTS)
        jy_huge_free(slots, capacity, sizeof(jy_map_slot));
    else
        free(slots);
}


static void free_keys(jy_map_slot *slots, size_t capacity)
{
    for (size_t i = 0; i < capacity; i++)
        if (slots[i].hash > REMOVED)
            free_key(&slots[i]);
}


void jy_map_free(jy_map *map)
{
    free_keys(map->slots, map->capacity);
    free_keys(map->old_slots, map->old_capacity);
    table_free(map->slots, map->capacity);
    table_free(map->old_slots, map->old_capacity);
    table_free(map->spare, map->capacity * 2);
    jy_map_init(map);
}


/* Clears the map's spare fields, once the doubling has taken the spare
 * or it has been unmapped. */
static void forget_spare(jy_map *map)
{
    map->spare = NULL;
    map->spare_touched = 0;
    map->spare_failed = 0;
}


/* Maps the spare table once the map is five eighths full and the next
 * doubling goes on huge pages (see JY_MAP_HUGE_SLOTS). Then writes to
 * its pages in step with the inserts, so that every page has faulted
 * in when the table is three quarters full. Each write faults in
 * one huge page, a cost spread over the inserts in between. Without
 * memory for the spare, the doubling allocates as before.
 *
 * NOTE: the kernel may give the spare no huge pages, because
 * transparent huge pages are set to `never` or no free 2 MiB is left.
 * Each write then faults in 4 KiB only, and the doubling's moves fault
 * in the rest as they did without a spare.
 *
 * TODO: each write still costs the loop the zeroing of one huge page,
 * up to 8 ms on a virtual machine (bench/page_zeroing.c). A thread of
 * its own could write to the spare, which the map does not touch
 * before the doubling. */
static void prepare_spare(jy_map *map)
{
    size_t next = map->capacity * 2;
    size_t start = map->capacity / 8 * 5;
    if (next < JY_MAP_HUGE_SLOTS || !jy_huge_pages_mapped() || map->used < start ||
        map->spare_failed)
        return;

    if (map->spare == NULL) {
        map->spare = table_alloc(next);
        map->spare_touched = 0;
        if (map->spare == NULL) {
            map->spare_failed = 1;
            return;
        }
    }

    size_t bytes = next * sizeof(jy_map_slot);
    size_t pages = (bytes + JY_HUGE_PAGE - 1) / JY_HUGE_PAGE;
    size_t span = map->capacity / 4 * 3 - start;
    size_t due = (map->used - start) * pages / span + 1;
    if (due > pages)
        due = pages;
    for (; map->spare_touched < due; map->spare_touched++)
        ((volatile char *)map->spare)[map->spare_touched * JY_HUGE_PAGE] = 0;
}


/* Returns the slot of a table that contains key, or NULL. The table has
 * an empty slot, so the probe ends. */
static jy_map_slot *find_in(jy_map_slot *slots, size_t capacity, const void *key,
                            size_t key_len, uint64_t hash)
{
    size_t mask = capacity - 1;

    for (size_t i = home_of(hash, mask);; i = (i + 1) & mask) {
        jy_map_slot *slot = &slots[i];
        if (slot->hash == EMPTY)
            return NULL;
        if (slot->hash == hash && key_is(slot, key, key_len))
            return slot;
    }
}


/* Returns the old table's slot of key while it is there. The moves
 * empty the old table from the slot after an empty one onwards, whole
 * runs of entries in probe order. A probe that starts in the emptied
 * part continues where the moves stopped. No probe passes the empty
 * slot before old_start, which the moves empty last. */
static jy_map_slot *find_old(const jy_map *map, const void *key, size_t key_len,
                             uint64_t hash)
{
    if (map->old_slots == NULL)
        return NULL;

    size_t mask = map->old_capacity - 1;
    size_t i = home_of(hash, mask);
    if (((i - map->old_start) & mask) < map->moved)
        i = (map->old_start + map->moved) & mask;
    for (;; i = (i + 1) & mask) {
        jy_map_slot *slot = &map->old_slots[i];
        if (slot->hash == EMPTY)
            return NULL;
        if (slot->hash == hash && key_is(slot, key, key_len))
            return slot;
    }
}


void *jy_map_get(const jy_map *map, const void *key, size_t key_len)
{
    if (map->count == 0)
        return NULL;

    uint64_t hash = hash_bytes(key, key_len);
    jy_map_slot *slot = find_old(map, key, key_len, hash);
    if (slot == NULL)
        slot = find_in(map->slots, map->capacity, key, key_len, hash);
    return slot != NULL ? slot->value : NULL;
}


/* Copies an entry of the old table into the first empty slot of its
 * probe in the current one. */
static void place(jy_map *map, const jy_map_slot *entry)
{
    size_t mask = map->capacity - 1;
    size_t i = home_of(entry->hash, mask);

    while (map->slots[i].hash != EMPTY)
        i = (i + 1) & mask;
    map->slots[i] = *entry;
    map->used++;
}


/* Moves the entries of up to n slots of the old table to the current
 * one, in probe order from old_start (see find_old). */
static void move_slots(jy_map *map, size_t n)
{
    if (map->old_slots == NULL)
        return;

    size_t mask = map->old_capacity - 1;
    for (; n > 0 && map->moved < map->old_capacity; n--, map->moved++) {
        jy_map_slot *slot = &map->old_slots[(map->old_start + map->moved) & mask];
        if (slot->hash > REMOVED)
            place(map, slot);
        slot->hash = EMPTY;
    }
    if (map->moved == map->old_capacity) {
        table_free(map->old_slots, map->old_capacity);
        map->old_slots = NULL;
        map->old_capacity = 0;
        map->old_start = 0;
        map->moved = 0;
    }
}


static int grow(jy_map *map)
{
    size_t new_capacity = map->capacity == 0 ? 16 : map->capacity * 2;
    jy_map_slot *slots = map->spare != NULL ? map->spare : table_alloc(new_capacity);

    if (slots == NULL)
        return JY_ENOMEM;

    /* Only one old table at a time: finish the last doubling first. */
    move_slots(map, map->old_capacity);
    if (map->capacity > 0) {
        map->old_slots = map->slots;
        map->old_capacity = map->capacity;
        map->moved = 0;
        /* The table is at most three quarters used, so an empty slot
         * is near. */
        size_t empty = 0;
        while (map->old_slots[empty].hash != EMPTY)
            empty++;
        map->old_start = (empty + 1) & (map->old_capacity - 1);
    }
    map->slots = slots;
    map->capacity = new_capacity;
    map->used = 0;
    forget_spare(map);
    return 0;
}


int jy_map_put(jy_map *map, const void *key, size_t key_len, void *value)
{
    if ((map->used + 1) * 4 > map->capacity * 3) {
        int rc = grow(map);
        /* A fuller table still works, only slower, as long as one slot
         * stays empty to end every probe. */
        if (rc != 0 && map->used + 1 >= map->capacity)
            return rc;
    }
    move_slots(map, MOVE_PER_CHANGE);

    uint64_t hash = hash_bytes(key, key_len);
    jy_map_slot *slot = find_old(map, key, key_len, hash);
    if (slot != NULL) {
        slot->value = value;
        return 0;
    }

    size_t mask = map->capacity - 1;
    size_t i = home_of(hash, mask);
    for (; map->slots[i].hash != EMPTY; i = (i + 1) & mask) {
        slot = &map->slots[i];
        if (slot->hash == hash && key_is(slot, key, key_len)) {
            slot->value = value;
            return 0;
        }
    }

    slot = &map->slots[i];
    if (set_key(slot, key, key_len) != 0)
        return JY_ENOMEM;
    slot->hash = hash;
    slot->value = value;
    map->used++;
    map->count++;
    prepare_spare(map);
    return 0;
}


/* Empties slot i of the current table and moves later entries of its
 * run back into the gap where their probes allow, so that no removed
 * marks build up in a table that keeps changing. */
static void close_gap(jy_map *map, size_t i)
{
    size_t mask = map->capacity - 1;

    for (size_t j = (i + 1) & mask; map->slots[j].hash != EMPTY; j = (j + 1) & mask) {
        size_t home = home_of(map->slots[j].hash, mask);
        /* The entry at j may fill the gap when the gap lies between its
         * home slot and j along the probe. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            map->slots[i] = map->slots[j];
            i = j;
        }
    }
    map->slots[i].hash = EMPTY;
    map->used--;
}


/* Removes key, when any_value is set or its value is value, and returns
 * the value it had, or NULL when it removed nothing. */
static void *take(jy_map *map, const void *key, size_t key_len, const void *value,
                  int any_value)
{
    if (map->count == 0)
        return NULL;
    move_slots(map, MOVE_PER_CHANGE);

    uint64_t hash = hash_bytes(key, key_len);
    jy_map_slot *slot = find_old(map, key, key_len, hash);
    int old = slot != NULL;
    if (slot == NULL)
        slot = find_in(map->slots, map->capacity, key, key_len, hash);
    if (slot == NULL || (!any_value && slot->value != value))
        return NULL;

    void *removed = slot->value;
    free_key(slot);
    if (old)
        slot->hash = REMOVED;
    else
        close_gap(map, (size_t)(slot - map->slots));
    map->count--;

    /* A map that drains well below its doubling point gives the spare
     * back. The gap to five eighths keeps a map that hovers around one
     * point from mapping and unmapping it over and over. */
    if ((map->spare != NULL || map->spare_failed) && map->used < map->capacity / 2) {
        table_free(map->spare, map->capacity * 2);
        forget_spare(map);
    }
    return removed;
}


void *jy_map_remove(jy_map *map, const void *key, size_t key_len)
{
    return take(map, key, key_len, NULL, 1);
}


int jy_map_remove_if(jy_map *map, const void *key, size_t key_len, const void *value)
{
    return value != NULL && take(map, key, key_len, value, 0) != NULL;
}


static void visit_slots(const jy_map_slot *slots, size_t capacity,
                        void (*visit)(const jy_map_entry *entry, void *ctx), void *ctx)
{
    for (size_t i = 0; i < capacity; i++) {
        const jy_map_slot *slot = &slots[i];
        if (slot->hash <= REMOVED)
            continue;

        /* A key in the slot gets a NUL in a copy, so string keys print. */
        char copy[JY_MAP_INLINE_KEY + 1];
        jy_map_entry entry = {.value = slot->value};
        if (is_far(slot)) {
            entry.key = slot->key.far->key;
            entry.key_len = slot->key.far->len;
        } else {
            entry.key_len = slot->hash & 0xF;
            memcpy(copy, slot->key.bytes, entry.key_len);
            copy[entry.key_len] = '\0';
            entry.key = copy;
        }
        visit(&entry, ctx);
    }
}


void jy_map_each(const jy_map *map,
                 void (*visit)(const jy_map_entry *entry, void *ctx),
                 void *ctx)
{
    visit_slots(map->slots, map->capacity, visit, ctx);
    visit_slots(map->old_slots, map->old_capacity, visit, ctx);
}


void *jy_map_get_str(const jy_map *map, const char *key)
{
    return jy_map_get(map, key, strlen(key));
}


int jy_map_put_str(jy_map *map, const char *key, void *value)
{
    return jy_map_put(map, key, strlen(key), value);
}


void *jy_map_remove_str(jy_map *map, const char *key)
{
    return jy_map_remove(map, key, strlen(key));
}


void *jy_map_get_id(const jy_map *map, uint64_t id)
{
    return jy_map_get(map, &id, sizeof id);
}


int jy_map_put_id(jy_map *map, uint64_t id, void *value)
{
    return jy_map_put(map, &id, sizeof id, value);
}


void *jy_map_remove_id(jy_map *map, uint64_t id)
{
    return jy_map_remove(map, &id, sizeof id);
}
