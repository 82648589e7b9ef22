/*
 * The hash map against a plain array of the same keys. Inserts,
 * replacements, removals (also only of a given value) and lookups are
 * mixed at random while the table doubles and its entries move over a
 * few at a time. Half of the keys are short enough to stay in their
 * slot, half are not. Every key is checked after each phase, and the
 * visit count is compared. A second map of run ids grows past the size
 * at which its table is mapped on huge pages. Others check that the
 * table of that doubling is faulted in before the doubling, and given
 * back when the map is freed or drains first.
 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "hashmap.h"
#include "huge_pages.h"

#include "check.h"

#define KEYS 200000

/* What the map should hold: for key k, values[k] or NULL when absent. */
static void *values[KEYS];
static int marks[KEYS];


/* Writes key k: 8 bytes, which its slot keeps, for even k, and a
 * longer key for odd k. */
static int key_of(uint64_t k, char key[64])
{
    return snprintf(key, 64, k % 2 == 0 ? "k%07llu" : "k%llu/with/a/longer/name",
                    (unsigned long long)k);
}


static void put_key(jy_map *map, uint64_t k, void *value)
{
    char key[64];
    int len = key_of(k, key);
    CHECK_INT_EQ(jy_map_put(map, key, (size_t)len, value), 0);
    values[k] = value;
}


static void remove_key(jy_map *map, uint64_t k)
{
    char key[64];
    int len = key_of(k, key);
    void *removed = jy_map_remove(map, key, (size_t)len);
    CHECK(removed == values[k]);
    values[k] = NULL;
}


/* Removes key k only if its value is value, and checks that the map did so
 * exactly when the array says it should. */
static void remove_key_if(jy_map *map, uint64_t k, void *value)
{
    char key[64];
    int len = key_of(k, key);
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
        char key[64];
        int len = key_of(k, key);
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
    uint64_t k = strtoull(entry->key + 1, NULL, 10);
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


/* Grows a map of run ids past the size at which its table is mapped on
 * huge pages: the entries move from a heap table to a mapped one, which
 * starts zeroed, and all of them stay found. */
static void huge_table_past_threshold(void)
{
    jy_map map;
    jy_map_init(&map);
    uint64_t count = JY_MAP_HUGE_SLOTS / 4 * 3 + 1;

    int stored = 1;
    for (uint64_t id = 1; id <= count; id++)
        if (jy_map_put_id(&map, id, (void *)(uintptr_t)(id * 2)) != 0)
            stored = 0;
    CHECK(stored);
    CHECK(map.capacity >= JY_MAP_HUGE_SLOTS);
    if (jy_huge_pages_mapped())
        CHECK_INT_EQ((uintptr_t)map.slots % JY_HUGE_PAGE, 0);

    int found = 1;
    for (uint64_t id = 1; id <= count; id++)
        if (jy_map_get_id(&map, id) != (void *)(uintptr_t)(id * 2))
            found = 0;
    CHECK(found);
    CHECK(jy_map_get_id(&map, count + 1) == NULL);
    jy_map_free(&map);
}


/* Counts the huge pages of [block, block + bytes) whose first page is
 * in memory. Where the kernel gives the block huge pages, a write to
 * that page brought in all 2 MiB. Where huge pages are off, it brought
 * in that page alone. Either way it was written. */
static size_t huge_pages_written(const char *block, size_t bytes)
{
    size_t written = 0;
    for (size_t offset = 0; offset < bytes; offset += JY_HUGE_PAGE) {
        unsigned char in_core = 0;
        if (mincore((void *)(block + offset), 1, &in_core) == 0)
            written += in_core & 1;
    }
    return written;
}


/* The table that a doubling takes past the huge-page size is mapped and
 * faulted in while the map fills its last eighth before the doubling,
 * a huge page every few inserts, and the doubling takes that table. */
static void spare_faulted_in_before_doubling(void)
{
    if (!jy_huge_pages_mapped())
        return; /* the sanitizer build keeps every table on the heap */

    jy_map map;
    jy_map_init(&map);
    size_t capacity = JY_MAP_HUGE_SLOTS / 2;
    uint64_t id = 1;

    /* Up to five eighths of the last table below the huge-page size no
     * spare exists; one insert more maps it. */
    int stored = 1;
    for (; id < capacity / 8 * 5; id++)
        if (jy_map_put_id(&map, id, (void *)(uintptr_t)id) != 0)
            stored = 0;
    CHECK_INT_EQ(map.capacity, capacity);
    CHECK(map.spare == NULL);
    stored &= jy_map_put_id(&map, id++, (void *)(uintptr_t)1) == 0;
    CHECK(map.spare != NULL);
    size_t pages_early = map.spare_touched;
    CHECK(pages_early >= 1);
    CHECK(pages_early <= 2);

    /* Filled to the doubling point, every page of the spare is in. */
    for (; id <= capacity / 4 * 3; id++)
        if (jy_map_put_id(&map, id, (void *)(uintptr_t)id) != 0)
            stored = 0;
    CHECK(stored);
    CHECK_INT_EQ(map.capacity, capacity);
    size_t bytes = JY_MAP_HUGE_SLOTS * sizeof(jy_map_slot);
    CHECK_INT_EQ(map.spare_touched, bytes / JY_HUGE_PAGE);
    CHECK_INT_EQ(huge_pages_written((const char *)map.spare, bytes), bytes / JY_HUGE_PAGE);

    /* The doubling takes the spare as the new table. */
    jy_map_slot *spare = map.spare;
    CHECK_INT_EQ(jy_map_put_id(&map, id, (void *)(uintptr_t)id), 0);
    CHECK_INT_EQ(map.capacity, JY_MAP_HUGE_SLOTS);
    CHECK(map.slots == spare);
    CHECK(map.spare == NULL);
    CHECK(jy_map_get_id(&map, id) == (void *)(uintptr_t)id);
    CHECK(jy_map_get_id(&map, 2) == (void *)(uintptr_t)2);
    jy_map_free(&map);
}


/* Returns whether no byte of [block, block + bytes) is mapped any more:
 * mincore fails with ENOMEM on an unmapped page. */
static int unmapped(const char *block, size_t bytes)
{
    for (size_t offset = 0; offset < bytes; offset += JY_HUGE_PAGE) {
        unsigned char in_core;
        if (mincore((void *)(block + offset), 1, &in_core) == 0 || errno != ENOMEM)
            return 0;
    }
    return 1;
}


/* Fills a fresh map of run ids to one insert past five eighths of the
 * last table below the huge-page size, where it maps its spare. */
static void fill_to_spare(jy_map *map)
{
    jy_map_init(map);
    for (uint64_t id = 1; id <= JY_MAP_HUGE_SLOTS / 2 / 8 * 5; id++)
        jy_map_put_id(map, id, (void *)(uintptr_t)id);
}


/* A spare goes when its map is freed before the doubling, and when the
 * map drains below half full. */
static void spare_given_back(void)
{
    if (!jy_huge_pages_mapped())
        return;
    size_t bytes = JY_MAP_HUGE_SLOTS * sizeof(jy_map_slot);

    jy_map map;
    fill_to_spare(&map);
    const char *spare = (const char *)map.spare;
    CHECK(spare != NULL);
    jy_map_free(&map);
    CHECK(unmapped(spare, bytes));

    fill_to_spare(&map);
    spare = (const char *)map.spare;
    CHECK(spare != NULL);
    uint64_t id = 1;
    for (; map.used >= JY_MAP_HUGE_SLOTS / 2 / 8 * 5 - 1000; id++)
        jy_map_remove_id(&map, id);
    CHECK((const char *)map.spare == spare); /* kept near its doubling point */
    for (; map.used >= JY_MAP_HUGE_SLOTS / 2 / 2; id++)
        jy_map_remove_id(&map, id);
    CHECK(map.spare == NULL);
    CHECK(unmapped(spare, bytes));
    CHECK(jy_map_get_id(&map, id) == (void *)(uintptr_t)id);
    jy_map_free(&map);
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

        /* The doubling comes at the insert that fills three quarters of
         * the table and one more (13, 25, 49, ...), and the moves after
         * it take a few thousand inserts at these sizes. */
        uint64_t size = k + 1;
        uint64_t quarters = (size - 1) / 3;
        if (size >= 13 && (size - 1) % 3 == 0 && (quarters & (quarters - 1)) == 0) {
            CHECK(map.old_slots != NULL);
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
    CHECK(map.slots == NULL);
    CHECK(map.old_slots == NULL);

    huge_table_past_threshold();
    spare_faulted_in_before_doubling();
    spare_given_back();
    return check_summary("test_hashmap");
}
