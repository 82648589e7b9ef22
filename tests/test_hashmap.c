/*
 * The hash map against a plain array of the same keys. Inserts,
 * replacements, removals (also only of a given value) and lookups are
 * mixed at random while the table
 * doubles and its entries move over a few at a time. Every key is
 * checked after each phase, and the visit count is compared.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hashmap.h"

#include "check.h"

#define KEYS 200000

/* What the map should hold: for key k, values[k] or NULL when absent. */
static void *values[KEYS];
static int marks[KEYS];


static void put_key(jy_map *map, uint64_t k, void *value)
{
    char key[32];
    int len = snprintf(key, sizeof key, "user-%llu", (unsigned long long)k);
    CHECK_INT_EQ(jy_map_put(map, key, (size_t)len, value), 0);
    values[k] = value;
}


static void remove_key(jy_map *map, uint64_t k)
{
    char key[32];
    int len = snprintf(key, sizeof key, "user-%llu", (unsigned long long)k);
    void *removed = jy_map_remove(map, key, (size_t)len);
    CHECK(removed == values[k]);
    values[k] = NULL;
}


/* Removes key k only if its value is value, and checks that the map did so
 * exactly when the array says it should. */
static void remove_key_if(jy_map *map, uint64_t k, void *value)
{
    char key[32];
    int len = snprintf(key, sizeof key, "user-%llu", (unsigned long long)k);
    int expected = values[k] != NULL && values[k] == value;
    CHECK_INT_EQ(jy_map_remove_if(map, key, (size_t)len, value), expected);
    if (expected)
        values[k] = NULL;
}


static int lookups_wrong;

static void check_all(const jy_map *map)
{
    size_t expected = 0;
    for (uint64_t k = 0; k < KEYS; k++) {
        char key[32];
        int len = snprintf(key, sizeof key, "user-%llu", (unsigned long long)k);
        if (jy_map_get(map, key, (size_t)len) != values[k])
            lookups_wrong++;
        if (values[k] != NULL)
            expected++;
    }
    CHECK_INT_EQ(lookups_wrong, 0);
    CHECK_INT_EQ(map->count, expected);
}


static size_t visited;

static void count_visit(const jy_map_entry *entry, void *ctx)
{
    (void)ctx;
    visited++;
    uint64_t k = strtoull(entry->key + 5, NULL, 10);
    if (k < KEYS && marks[k] == 0 && entry->value == values[k])
        marks[k] = 1;
    else
        lookups_wrong++;
}


static void check_visits(const jy_map *map)
{
    visited = 0;
    for (size_t k = 0; k < KEYS; k++)
        marks[k] = 0;
    jy_map_each(map, count_visit, NULL);
    CHECK_INT_EQ(visited, map->count);
    CHECK_INT_EQ(lookups_wrong, 0);
}


int main(void)
{
    jy_map map;
    jy_map_init(&map);
    uint64_t state = 0x9E3779B97F4A7C15ULL;

    /* Growing from empty: every doubling happens here, and lookups run
     * in the middle of the moves. */
    for (uint64_t k = 0; k < KEYS; k++) {
        put_key(&map, k, &values[k]);
        if (k % 997 == 0)
            check_visits(&map);

        /* The doubling comes at the insert after a power of two, and the
         * moves after it take a few thousand inserts at these sizes. */
        uint64_t size = k + 1;
        if (size > 16 && ((size - 2) & (size - 3)) == 0) {
            CHECK(map.old_buckets != NULL);
            check_all(&map);
            check_visits(&map);
        }
    }
    check_all(&map);
    check_visits(&map);

    /* Mixed changes at random, with a check in the middle of the moves
     * that follow a doubling. */
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < KEYS; i++) {
            uint64_t k = check_random(&state) % KEYS;
            uint64_t what = check_random(&state) % 4;
            if (what == 0 && values[k] != NULL)
                remove_key(&map, k);
            else if (what == 3)
                remove_key_if(&map, k, check_random(&state) % 2 ? (void *)&marks[k] : (void *)&values[k]);
            else if (what == 1)
                put_key(&map, k, &marks[k]);
            else
                put_key(&map, k, &values[k]);
        }
        check_all(&map);
        check_visits(&map);
    }

    /* Emptying it, then filling it again past the old size. */
    for (uint64_t k = 0; k < KEYS; k++)
        if (values[k] != NULL)
            remove_key(&map, k);
    CHECK_INT_EQ(map.count, 0);
    for (uint64_t k = 0; k < KEYS; k++)
        put_key(&map, k, &values[k]);
    check_all(&map);

    jy_map_free(&map);
    CHECK_INT_EQ(map.count, 0);
    CHECK(map.buckets == NULL);
    CHECK(map.old_buckets == NULL);
    return check_summary("test_hashmap");
}
