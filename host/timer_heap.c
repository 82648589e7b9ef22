/*
 * The deadline heap: a four-ary min-heap stored in an array, ordered by
 * (deadline, order). Each slot contains a copy of its timer's key next to
 * the pointer, so comparisons never leave the array.
 *
 * The children of slot i are at 4i+1 to 4i+4. Every move of a slot
 * inside the array also updates the timer's slot field, so a timer can
 * be found and removed without a search.
 */
#include "timer_heap.h"

#include <stdlib.h>

#include "error.h"

/* Capacity of the first array, in timers. */
#define JY_TIMER_HEAP_INITIAL_CAPACITY 16

/* Largest capacity whose array size in bytes fits in ptrdiff_t, so
 * pointer differences inside the array stay defined. */
#define JY_TIMER_HEAP_MAX_CAPACITY (PTRDIFF_MAX / sizeof(jy_timer_slot))

/* Children per node. Four halve the depth of a binary heap, and the four
 * children's keys share one or two cache lines, so a sift through a
 * heap of a million deadlines reads about ten lines instead of forty
 * scattered timers. */
#define ARITY 4


/* Returns nonzero when a must come out before b. The comparison uses no
 * subtraction, so deadlines near JY_TIME_MIN and JY_TIME_MAX do not
 * overflow. */
static int slot_before(const jy_timer_slot *a, const jy_timer_slot *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->order < b->order;
}


static void place(jy_timer_heap *heap, size_t slot, jy_timer_slot item)
{
    heap->items[slot] = item;
    item.timer->slot = slot;
}


/* Moves the timer at slot towards the root until its parent comes
 * before it. */
static void sift_up(jy_timer_heap *heap, size_t slot)
{
    jy_timer_slot item = heap->items[slot];

    while (slot > 0) {
        size_t parent = (slot - 1) / ARITY;
        if (!slot_before(&item, &heap->items[parent]))
            break;
        place(heap, slot, heap->items[parent]);
        slot = parent;
    }
    place(heap, slot, item);
}


/* Moves the timer at slot towards the leaves until it comes before all
 * its children. */
static void sift_down(jy_timer_heap *heap, size_t slot)
{
    jy_timer_slot item = heap->items[slot];
    size_t count = heap->count;

    /* slot < count <= JY_TIMER_HEAP_MAX_CAPACITY, so ARITY * slot + ARITY
     * does not overflow size_t. */
    for (;;) {
        size_t first = ARITY * slot + 1;
        if (first >= count)
            break;
        size_t last = first + ARITY < count ? first + ARITY : count;
        size_t best = first;
        for (size_t child = first + 1; child < last; child++)
            if (slot_before(&heap->items[child], &heap->items[best]))
                best = child;
        if (!slot_before(&heap->items[best], &item))
            break;
        place(heap, slot, heap->items[best]);
        slot = best;
    }
    place(heap, slot, item);
}


/* Restores the heap order after the timer at slot got a new key or was
 * put there from elsewhere. Only one of the two sifts moves it. */
static void sift(jy_timer_heap *heap, size_t slot)
{
    if (slot > 0 && slot_before(&heap->items[slot], &heap->items[(slot - 1) / ARITY]))
        sift_up(heap, slot);
    else
        sift_down(heap, slot);
}


/* Removes the timer at slot: the last timer fills the hole and is
 * sifted from there. */
static jy_timer *remove_at(jy_timer_heap *heap, size_t slot)
{
    jy_timer *removed = heap->items[slot].timer;
    jy_timer_slot last = heap->items[heap->count - 1];

    heap->count--;
    if (slot < heap->count) {
        place(heap, slot, last);
        sift(heap, slot);
    }
    removed->slot = JY_TIMER_NOT_QUEUED;
    return removed;
}


/* Doubles the capacity of the array. On failure the heap is unchanged. */
static int grow(jy_timer_heap *heap)
{
    size_t capacity = heap->capacity;

    if (capacity == 0)
        capacity = JY_TIMER_HEAP_INITIAL_CAPACITY;
    else if (capacity <= JY_TIMER_HEAP_MAX_CAPACITY / 2)
        capacity *= 2;
    else
        return JY_ENOMEM;

    jy_timer_slot *items = realloc(heap->items, capacity * sizeof *items);
    if (items == NULL)
        return JY_ENOMEM;
    heap->items = items;
    heap->capacity = capacity;
    return 0;
}


/* Returns nonzero when timer is in this heap. Checking the pointer at
 * its slot keeps a timer of another heap from being taken for ours. */
static int heap_contains(const jy_timer_heap *heap, const jy_timer *timer)
{
    return timer->slot < heap->count && heap->items[timer->slot].timer == timer;
}


void jy_timer_heap_init(jy_timer_heap *heap)
{
    heap->items = NULL;
    heap->count = 0;
    heap->capacity = 0;
    heap->next_order = 0;
}


void jy_timer_heap_free(jy_timer_heap *heap)
{
    free(heap->items);
    jy_timer_heap_init(heap);
}


void jy_timer_init(jy_timer *timer)
{
    timer->deadline = 0;
    timer->order = 0;
    timer->slot = JY_TIMER_NOT_QUEUED;
}


int jy_timer_heap_push(jy_timer_heap *heap, jy_timer *timer, jy_time deadline)
{
    if (jy_timer_is_queued(timer)) {
        if (!heap_contains(heap, timer))
            return JY_ESTATE;

        /* A move changes the key in place. The array keeps its size, so
         * this path cannot fail. */
        timer->deadline = deadline;
        timer->order = heap->next_order++;
        heap->items[timer->slot].deadline = deadline;
        heap->items[timer->slot].order = timer->order;
        sift(heap, timer->slot);
        return 0;
    }

    if (heap->count == heap->capacity) {
        int rc = grow(heap);
        if (rc != 0)
            return rc;
    }

    timer->deadline = deadline;
    timer->order = heap->next_order++;
    place(heap, heap->count, (jy_timer_slot){deadline, timer->order, timer});
    heap->count++;
    sift_up(heap, timer->slot);
    return 0;
}


void jy_timer_heap_remove(jy_timer_heap *heap, jy_timer *timer)
{
    if (!heap_contains(heap, timer))
        return;
    remove_at(heap, timer->slot);
}


jy_timer *jy_timer_heap_peek(const jy_timer_heap *heap)
{
    return heap->count > 0 ? heap->items[0].timer : NULL;
}


jy_timer *jy_timer_heap_pop(jy_timer_heap *heap)
{
    if (heap->count == 0)
        return NULL;
    return remove_at(heap, 0);
}


int jy_timer_is_queued(const jy_timer *timer)
{
    return timer->slot != JY_TIMER_NOT_QUEUED;
}
