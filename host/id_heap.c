/*
 * The (key, id) min-heap (see id_heap.h).
 */
#include "id_heap.h"

#include <stdlib.h>

#include "error.h"


int jy_id_heap_push(jy_id_heap *heap, int64_t key, uint64_t id)
{
    if (heap->count == heap->capacity) {
        size_t capacity = heap->capacity == 0 ? 64 : heap->capacity * 2;
        jy_id_heap_entry *items = realloc(heap->items, capacity * sizeof *items);
        if (items == NULL)
            return JY_ENOMEM;
        heap->items = items;
        heap->capacity = capacity;
    }

    size_t i = heap->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap->items[parent].key <= key)
            break;
        heap->items[i] = heap->items[parent];
        i = parent;
    }
    heap->items[i] = (jy_id_heap_entry){key, id};
    return 0;
}


const jy_id_heap_entry *jy_id_heap_top(const jy_id_heap *heap)
{
    return heap->count > 0 ? &heap->items[0] : NULL;
}


void jy_id_heap_pop(jy_id_heap *heap)
{
    jy_id_heap_entry last = heap->items[--heap->count];
    size_t i = 0;

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count && heap->items[child + 1].key < heap->items[child].key)
            child++;
        if (last.key <= heap->items[child].key)
            break;
        heap->items[i] = heap->items[child];
        i = child;
    }
    if (heap->count > 0)
        heap->items[i] = last;
}


void jy_id_heap_free(jy_id_heap *heap)
{
    free(heap->items);
    *heap = (jy_id_heap){0};
}
