/*
 * A binary min-heap of (key, id) pairs, for finding the smallest key of
 * a changing set without scanning it. Entries stay when the thing they
 * describe changes, so callers check the top against their own records
 * and pop it when it is out of date.
 */
#ifndef JOURNEY_HOST_ID_HEAP_H
#define JOURNEY_HOST_ID_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct jy_id_heap_entry {
    int64_t key;
    uint64_t id;
} jy_id_heap_entry;

typedef struct jy_id_heap {
    jy_id_heap_entry *items;
    size_t count;
    size_t capacity;
} jy_id_heap;

/* Adds an entry. Returns 0 or JY_ENOMEM. */
int jy_id_heap_push(jy_id_heap *heap, int64_t key, uint64_t id);

/* Returns the entry with the smallest key, or NULL when empty. */
const jy_id_heap_entry *jy_id_heap_top(const jy_id_heap *heap);

/* Removes the entry with the smallest key; the heap must not be empty. */
void jy_id_heap_pop(jy_id_heap *heap);

void jy_id_heap_free(jy_id_heap *heap);

#endif
