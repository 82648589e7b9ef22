/*
 * A hash map from byte-string keys to borrowed pointers.
 *
 * The host indexes users, waits and live run keys by strings, and runs
 * by 64-bit id; this one map serves all of them. Keys are copied into
 * the map; values are borrowed and never freed by it.
 *
 * The table is open-addressed with linear probing, and each slot keeps
 * the key's hash, the value and, when it is short, the key itself. With
 * a million runs every lookup misses the CPU cache. A slot that has all
 * it needs costs one miss, and a chained entry behind a bucket costs
 * two. Run ids and short user ids fit in the slot's 8 bytes. Longer
 * keys, such as a user and an event name, have a block of their own.
 *
 * The table doubles when three quarters of it are used. The entries
 * move to the doubled table a few slots per insert or removal rather
 * than all at once, because moving a million entries in one call stalls
 * the loop for tens of milliseconds.
 */
#ifndef JOURNEY_HOST_HASHMAP_H
#define JOURNEY_HOST_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

/* Tables of this many slots (24 MiB) and more are mapped on huge pages
 * (host/huge_pages.h); a map reaches that size past 393,216 entries.
 * The second-level TLB of current x86-64 cores covers about 6 to 12 MiB
 * of 4 KiB pages (1,536 to 3,072 entries), so a smaller table would gain
 * little from huge pages. It would still waste part of its last huge
 * page.
 *
 * The first write to each 2 MiB of a fresh table makes the kernel zero
 * a whole huge page. The moves after a doubling write all over the new
 * table within a few loop turns, and on a virtual machine that stalled
 * the loop for 100 to 350 ms at a million runs. So a map that is five
 * eighths full maps the table of its next doubling (the spare) early.
 * It writes to one more of the spare's huge pages every few inserts,
 * and the spare is whole when the doubling takes it. */
#define JY_MAP_HUGE_SLOTS ((size_t)1 << 20)

/* Keys up to this many bytes are kept in the slot. */
#define JY_MAP_INLINE_KEY 8

typedef struct jy_map_slot {
    uint64_t hash; /* 0: never used, 1: removed, else the key's hash
                    * with the key's length, or 15 for a far key, in
                    * the low 4 bits */
    void *value;
    union {
        char bytes[JY_MAP_INLINE_KEY];
        struct jy_map_far_key *far; /* a longer key, in a block of its own */
    } key;
} jy_map_slot;

typedef struct jy_map {
    jy_map_slot *slots;
    size_t capacity;      /* 0 or a power of two */
    size_t used;          /* slots of the table that contain an entry */
    size_t count;         /* entries in both tables */
    jy_map_slot *old_slots; /* the table before the last doubling, while
                             * its entries move; NULL once they have */
    size_t old_capacity;
    size_t old_start;     /* the old slot the moves began with */
    size_t moved;         /* old slots emptied so far */
    jy_map_slot *spare;   /* the zeroed table of the next doubling, on
                           * huge pages, while its pages fault in */
    size_t spare_touched; /* huge pages of the spare written so far */
    int spare_failed;     /* mapping the spare failed at this capacity;
                           * the doubling tries again */
} jy_map;

/* What jy_map_each shows of one entry. */
typedef struct jy_map_entry {
    const char *key; /* key_len bytes, then a NUL so string keys print */
    size_t key_len;
    void *value;
} jy_map_entry;

/* Initializes an empty map; it allocates on first insert. */
void jy_map_init(jy_map *map);

/* Frees the table and the keys. Values are the caller's. */
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
