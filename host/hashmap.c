/*
 * The chained hash map behind the host's indexes (see hashmap.h).
 */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"


/* FNV-1a, 64-bit: short keys (user ids, event names) dominate, and it
 * needs no setup. */
static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}


void jy_map_init(jy_map *map)
{
    map->buckets = NULL;
    map->bucket_count = 0;
    map->count = 0;
    map->old_buckets = NULL;
    map->old_bucket_count = 0;
    map->moved = 0;
}


static void free_chains(jy_map_entry **buckets, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        jy_map_entry *entry = buckets[i];
        while (entry != NULL) {
            jy_map_entry *next = entry->next;
            free(entry);
            entry = next;
        }
    }
}


void jy_map_free(jy_map *map)
{
    free_chains(map->buckets, 0, map->bucket_count);
    if (map->old_buckets != NULL)
        free_chains(map->old_buckets, map->moved, map->old_bucket_count);
    free(map->buckets);
    free(map->old_buckets);
    jy_map_init(map);
}


static jy_map_entry **find_in(jy_map_entry **buckets, size_t bucket_count, const void *key,
                              size_t key_len, uint64_t hash)
{
    jy_map_entry **slot = &buckets[hash & (bucket_count - 1)];

    while (*slot != NULL) {
        jy_map_entry *entry = *slot;
        if (entry->hash == hash && entry->key_len == key_len &&
            memcmp(entry->key, key, key_len) == 0)
            return slot;
        slot = &entry->next;
    }
    return slot;
}


/* Returns the slot that contains key: in the old table when its bucket has
 * not moved yet, else in the new one. For an absent key it returns the
 * empty slot at the end of its chain in the new table. */
static jy_map_entry **find_slot(const jy_map *map, const void *key, size_t key_len,
                                uint64_t hash)
{
    if (map->old_buckets != NULL) {
        size_t b = hash & (map->old_bucket_count - 1);
        if (b >= map->moved) {
            jy_map_entry **slot = find_in(map->old_buckets, map->old_bucket_count, key,
                                          key_len, hash);
            if (*slot != NULL)
                return slot;
        }
    }
    return find_in(map->buckets, map->bucket_count, key, key_len, hash);
}


void *jy_map_get(const jy_map *map, const void *key, size_t key_len)
{
    if (map->count == 0)
        return NULL;

    jy_map_entry **slot = find_slot(map, key, key_len, hash_bytes(key, key_len));
    return *slot != NULL ? (*slot)->value : NULL;
}


/* Moves the entries of up to n buckets of the old table to the new. */
static void move_buckets(jy_map *map, size_t n)
{
    if (map->old_buckets == NULL)
        return;

    for (; n > 0 && map->moved < map->old_bucket_count; n--, map->moved++) {
        jy_map_entry *entry = map->old_buckets[map->moved];
        while (entry != NULL) {
            jy_map_entry *next = entry->next;
            size_t b = entry->hash & (map->bucket_count - 1);
            entry->next = map->buckets[b];
            map->buckets[b] = entry;
            entry = next;
        }
        map->old_buckets[map->moved] = NULL;
    }
    if (map->moved == map->old_bucket_count) {
        free(map->old_buckets);
        map->old_buckets = NULL;
        map->old_bucket_count = 0;
        map->moved = 0;
    }
}


/* Buckets moved per insert or removal. A doubling leaves as many old
 * buckets as there are entries, and the next doubling comes after as
 * many inserts again, so the old table is empty long before then. */
#define MOVE_PER_CHANGE 4


static int grow(jy_map *map)
{
    size_t new_count = map->bucket_count == 0 ? 16 : map->bucket_count * 2;
    jy_map_entry **buckets = calloc(new_count, sizeof *buckets);

    if (buckets == NULL)
        return JY_ENOMEM;

    /* Only one old table at a time: finish the last doubling first. */
    move_buckets(map, map->old_bucket_count);
    if (map->bucket_count > 0) {
        map->old_buckets = map->buckets;
        map->old_bucket_count = map->bucket_count;
        map->moved = 0;
    }
    map->buckets = buckets;
    map->bucket_count = new_count;
    return 0;
}


int jy_map_put(jy_map *map, const void *key, size_t key_len, void *value)
{
    if (map->count >= map->bucket_count) {
        int rc = grow(map);
        /* A full table still works, only slower, so a failed grow is
         * fatal only when there is no table at all. */
        if (rc != 0 && map->bucket_count == 0)
            return rc;
    }
    move_buckets(map, MOVE_PER_CHANGE);

    uint64_t hash = hash_bytes(key, key_len);
    jy_map_entry **slot = find_slot(map, key, key_len, hash);

    if (*slot != NULL) {
        (*slot)->value = value;
        return 0;
    }

    jy_map_entry *entry = malloc(sizeof *entry + key_len + 1);
    if (entry == NULL)
        return JY_ENOMEM;
    entry->next = NULL;
    entry->value = value;
    entry->hash = hash;
    entry->key_len = key_len;
    memcpy(entry->key, key, key_len);
    entry->key[key_len] = '\0';
    *slot = entry;
    map->count++;
    return 0;
}


/* Unlinks and frees the entry at slot. */
static void *remove_at(jy_map *map, jy_map_entry **slot)
{
    jy_map_entry *entry = *slot;
    void *value = entry->value;

    *slot = entry->next;
    free(entry);
    map->count--;
    return value;
}


void *jy_map_remove(jy_map *map, const void *key, size_t key_len)
{
    if (map->count == 0)
        return NULL;
    move_buckets(map, MOVE_PER_CHANGE);

    jy_map_entry **slot = find_slot(map, key, key_len, hash_bytes(key, key_len));
    return *slot != NULL ? remove_at(map, slot) : NULL;
}


int jy_map_remove_if(jy_map *map, const void *key, size_t key_len, const void *value)
{
    if (map->count == 0)
        return 0;
    move_buckets(map, MOVE_PER_CHANGE);

    jy_map_entry **slot = find_slot(map, key, key_len, hash_bytes(key, key_len));
    if (*slot == NULL || (*slot)->value != value)
        return 0;
    remove_at(map, slot);
    return 1;
}


void jy_map_each(const jy_map *map,
                 void (*visit)(const jy_map_entry *entry, void *ctx),
                 void *ctx)
{
    for (size_t i = 0; i < map->bucket_count; i++)
        for (jy_map_entry *entry = map->buckets[i]; entry != NULL;
             entry = entry->next)
            visit(entry, ctx);
    if (map->old_buckets == NULL)
        return;
    for (size_t i = map->moved; i < map->old_bucket_count; i++)
        for (jy_map_entry *entry = map->old_buckets[i]; entry != NULL;
             entry = entry->next)
            visit(entry, ctx);
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
