/*
 * The deadline heap: every pending deadline of the host in one
 * min-heap, so the loop needs one timer for the earliest deadline and
 * nothing per run in the OS.
 *
 * Timers are intrusive: the caller embeds a jy_timer in its own record
 * (a wait, a sleep) and the heap stores pointers to them. Each timer
 * remembers its slot, so removing a cancelled wait is O(log n). Timers
 * with equal deadlines come out in the order they were pushed.
 */
#ifndef JOURNEY_HOST_TIMER_HEAP_H
#define JOURNEY_HOST_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "jtime.h"

#define JY_TIMER_NOT_QUEUED SIZE_MAX

typedef struct jy_timer {
    jy_time deadline;
    uint64_t order; /* push sequence, breaks ties between equal deadlines */
    size_t slot;    /* index in the heap, or JY_TIMER_NOT_QUEUED */
} jy_timer;

/* One slot of the heap's array: the timer's key, copied so that sifting
 * compares without reading the timers, and the timer. */
typedef struct jy_timer_slot {
    jy_time deadline;
    uint64_t order;
    jy_timer *timer;
} jy_timer_slot;

typedef struct jy_timer_heap {
    jy_timer_slot *items; /* owned array; the timers are borrowed */
    size_t count;
    size_t capacity;
    uint64_t next_order;
} jy_timer_heap;

/* Initializes an empty heap. */
void jy_timer_heap_init(jy_timer_heap *heap);

/* Frees the heap's array and leaves the heap empty, ready for reuse.
 * The timers themselves belong to the caller and are left as they are:
 * a timer still queued keeps its slot and still reads as queued. */
void jy_timer_heap_free(jy_timer_heap *heap);

/* Initializes a timer as not queued. */
void jy_timer_init(jy_timer *timer);

/* Queues timer (borrowed: it must stay valid until popped or removed)
 * with the given deadline. A timer already queued in this heap is moved
 * to the new deadline and counts as pushed now. This move never
 * allocates, so it cannot fail.
 * Returns 0 on success. Returns JY_ENOMEM when the array cannot grow,
 * and then the heap and the timer are unchanged. Returns JY_ESTATE when
 * the timer is still marked as queued in another heap, or in a heap
 * freed since. jy_timer_init clears that mark. */
int jy_timer_heap_push(jy_timer_heap *heap, jy_timer *timer, jy_time deadline);

/* Removes timer from the heap and marks it as not queued. Does nothing
 * when the timer is not queued in this heap. */
void jy_timer_heap_remove(jy_timer_heap *heap, jy_timer *timer);

/* Returns the timer with the earliest deadline without removing it, or
 * NULL when the heap is empty. */
jy_timer *jy_timer_heap_peek(const jy_timer_heap *heap);

/* Removes and returns the timer with the earliest deadline, or NULL when
 * the heap is empty. */
jy_timer *jy_timer_heap_pop(jy_timer_heap *heap);

/* Returns nonzero when timer is marked as queued: pushed, and not popped
 * or removed since. */
int jy_timer_is_queued(const jy_timer *timer);

#endif
