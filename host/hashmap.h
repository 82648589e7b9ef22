/*
 * A hash map from byte-string keys to borrowed pointers.
 *
 * The host indexes users, waits and live run keys by strings, and runs
 * by 64-bit id; this one map serves all of them. Keys are copied into
 * the map; values are borrowed and never freed by it. Chaining keeps
 * entries at stable addresses, and the table doubles when the load
 * passes 1, so lookups stay O(1) on average. The entries move to the
 * doubled table a few buckets per insert or removal rather than all at
 * once, because moving a million entries in one call stalls the loop
 * for tens of milliseconds.
 */
#ifndef JOURNEY_HOST_HASHMAP_H
#define JOURNEY_HOST_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct jy_map_entry {
    struct jy_map_entry *next;
    void *value;
    uint64_t hash;
    size_t key_len;
    char key[]; /* key_len bytes, then a NUL so string keys print */
} jy_map_entry;

typedef struct jy_map {
    jy_map_entry **buckets;
    size_t bucket_count; /* 0 or a power of two */
    size_t count;
    jy_map_entry **old_buckets; /* the table before the last doubling, while
                                 * its entries move; NULL once they have */
    size_t old_bucket_count;
    size_t moved;               /* old buckets emptied so far */
} jy_map;

/* Initializes an empty map; it allocates on first insert. */
void jy_map_init(jy_map *map);

/* Frees the entries and the table. Values are the caller's. */
void jy_map_free(jy_map *map);

/* Returns the value stored under key, or NULL when absent. */
void *jy_map_get(const jy_map *map, const void *key, size_t key_len);

/* Stores value under key, replacing any previous value. Returns 0 or
 * JY_ENOMEM, in which case the map is unchanged. */
int jy_map_put(jy_map *map, const void *key, size_t key_len, void *value);

/* Removes key and returns its value, or NULL when absent. */
void *jy_map_remove(jy_map *map, const void *key, size_t key_len);

/* Removes key when its value is value, in one lookup. Returns 1 when it
 * did, 0 when key is absent or has another value. */
int jy_map_remove_if(jy_map *map, const void *key, size_t key_len, const void *value);

/* Calls visit for every entry, in no particular order. visit must not
 * insert or remove entries. */
void jy_map_each(const jy_map *map,
                 void (*visit)(const jy_map_entry *entry, void *ctx),
                 void *ctx);

/* Conveniences for NUL-terminated string keys and 64-bit ids. */
void *jy_map_get_str(const jy_map *map, const char *key);
int jy_map_put_str(jy_map *map, const char *key, void *value);
void *jy_map_remove_str(jy_map *map, const char *key);
void *jy_map_get_id(const jy_map *map, uint64_t id);
int jy_map_put_id(jy_map *map, uint64_t id, void *value);
void *jy_map_remove_id(jy_map *map, uint64_t id);

#endif
