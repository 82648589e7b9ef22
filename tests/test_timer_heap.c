/*
 * Tests of the deadline heap: ordering by deadline and push order,
 * removal from any slot, moves, extreme deadlines, growth, one million
 * timers, and a random run against a sorted reference.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "error.h"
#include "timer_heap.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One year of 365.25 days, in milliseconds. */
#define YEAR_MS INT64_C(31557600000)


/* Returns nonzero when (deadline_a, seq_a) sorts before
 * (deadline_b, seq_b). */
static int key_before(jy_time deadline_a, uint64_t seq_a,
                      jy_time deadline_b, uint64_t seq_b)
{
    if (deadline_a != deadline_b)
        return deadline_a < deadline_b;
    return seq_a < seq_b;
}


/* Returns nonzero when every timer's slot field matches its index, each
 * slot's copy of the key matches its timer's, and no timer sorts before
 * its parent (slot i's parent is (i - 1) / 4). */
static int heap_is_valid(const jy_timer_heap *heap)
{
    if (heap->count > heap->capacity)
        return 0;
    for (size_t i = 0; i < heap->count; i++) {
        const jy_timer *timer = heap->items[i].timer;
        if (timer->slot != i)
            return 0;
        if (heap->items[i].deadline != timer->deadline || heap->items[i].order != timer->order)
            return 0;
        if (i == 0)
            continue;
        const jy_timer *parent = heap->items[(i - 1) / 4].timer;
        if (key_before(timer->deadline, timer->order, parent->deadline,
                       parent->order))
            return 0;
    }
    return 1;
}


/* Pushes timers[i] with deadlines[i] for every i, in index order, and
 * returns the number of pushes that failed. */
static int push_all(jy_timer_heap *heap, jy_timer *timers,
                    const jy_time *deadlines, size_t n)
{
    int failures = 0;

    for (size_t i = 0; i < n; i++) {
        jy_timer_init(&timers[i]);
        if (jy_timer_heap_push(heap, &timers[i], deadlines[i]) != 0)
            failures++;
    }
    return failures;
}


/* Pops every timer and checks that they come out as
 * timers[expected[0]], timers[expected[1]], ..., then that the heap is
 * empty. */
static void check_pop_sequence(jy_timer_heap *heap, jy_timer *timers,
                               const size_t *expected, size_t n)
{
    CHECK_INT_EQ(heap->count, n);
    for (size_t i = 0; i < n; i++) {
        jy_timer *popped = jy_timer_heap_pop(heap);
        CHECK(popped != NULL);
        if (popped == NULL)
            return;
        CHECK_INT_EQ(popped - timers, expected[i]);
        CHECK(!jy_timer_is_queued(popped));
        CHECK(heap_is_valid(heap));
    }
    CHECK(jy_timer_heap_pop(heap) == NULL);
    CHECK_INT_EQ(heap->count, 0);
}


static void heap_empty_returns_null(void)
{
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK(jy_timer_heap_peek(&heap) == NULL);
    CHECK(jy_timer_heap_pop(&heap) == NULL);
    CHECK_INT_EQ(heap.count, 0);

    /* A heap that held timers and was drained behaves the same. */
    jy_timer timer;
    jy_timer_init(&timer);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 5), 0);
    CHECK(jy_timer_heap_pop(&heap) == &timer);
    CHECK(jy_timer_heap_peek(&heap) == NULL);
    CHECK(jy_timer_heap_pop(&heap) == NULL);

    jy_timer_heap_free(&heap);
}


static void heap_free_leaves_empty_reusable_heap(void)
{
    jy_timer_heap heap;
    jy_timer timers[3];
    jy_timer_heap_init(&heap);

    for (size_t i = 0; i < ARRAY_LEN(timers); i++) {
        jy_timer_init(&timers[i]);
        CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[i], 10), 0);
    }
    jy_timer_heap_free(&heap);
    CHECK(heap.items == NULL);
    CHECK_INT_EQ(heap.count, 0);
    CHECK_INT_EQ(heap.capacity, 0);
    CHECK(jy_timer_heap_peek(&heap) == NULL);

    /* The timers are left as they were, so they still read as queued
     * until the caller initializes them again. */
    CHECK(jy_timer_is_queued(&timers[0]));
    jy_timer_init(&timers[0]);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[0], 7), 0);
    CHECK(jy_timer_heap_peek(&heap) == &timers[0]);

    jy_timer_heap_free(&heap);
    jy_timer_heap_free(&heap);
    CHECK_INT_EQ(heap.count, 0);
}


static void timer_init_marks_not_queued(void)
{
    jy_timer timer;
    timer.slot = 3;

    jy_timer_init(&timer);
    CHECK(!jy_timer_is_queued(&timer));
    CHECK(timer.slot == JY_TIMER_NOT_QUEUED);
}


static void timer_queued_until_popped(void)
{
    jy_timer_heap heap;
    jy_timer timer;
    jy_timer_heap_init(&heap);
    jy_timer_init(&timer);

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 1), 0);
    CHECK(jy_timer_is_queued(&timer));
    CHECK_INT_EQ(timer.deadline, 1);
    CHECK(jy_timer_heap_peek(&heap) == &timer);
    CHECK(jy_timer_is_queued(&timer));
    CHECK(jy_timer_heap_pop(&heap) == &timer);
    CHECK(!jy_timer_is_queued(&timer));
    CHECK(timer.slot == JY_TIMER_NOT_QUEUED);

    jy_timer_heap_free(&heap);
}


static void heap_pops_in_deadline_order(void)
{
    static const jy_time deadlines[] = {50, 10, 40, 30, 20, 60, 0, 70, 35, 5};
    static const size_t expected[] = {6, 9, 1, 4, 3, 8, 2, 0, 5, 7};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* Peek always shows the earliest deadline pushed so far. */
    jy_time earliest = INT64_MAX;
    for (size_t i = 0; i < ARRAY_LEN(deadlines); i++) {
        jy_timer_init(&timers[i]);
        CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[i], deadlines[i]), 0);
        if (deadlines[i] < earliest)
            earliest = deadlines[i];
        CHECK(jy_timer_heap_peek(&heap) != NULL);
        CHECK_INT_EQ(jy_timer_heap_peek(&heap)->deadline, earliest);
        CHECK_INT_EQ(heap.count, i + 1);
        CHECK(heap_is_valid(&heap));
    }

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void equal_deadlines_pop_in_push_order(void)
{
    jy_timer timers[30];
    jy_time deadlines[30];
    size_t expected[30];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* All equal: push order is the only key. */
    for (size_t i = 0; i < 20; i++)
        deadlines[i] = 100;
    CHECK_INT_EQ(push_all(&heap, timers, deadlines, 20), 0);
    for (size_t i = 0; i < 20; i++)
        expected[i] = i;
    check_pop_sequence(&heap, timers, expected, 20);

    /* Three deadlines pushed round-robin (2, 1, 0, 2, 1, 0, ...): each
     * group comes out in push order. */
    for (size_t i = 0; i < 30; i++)
        deadlines[i] = (jy_time)(2 - i % 3);
    CHECK_INT_EQ(push_all(&heap, timers, deadlines, 30), 0);
    size_t n = 0;
    for (jy_time d = 0; d <= 2; d++)
        for (size_t i = 0; i < 30; i++)
            if (deadlines[i] == d)
                expected[n++] = i;
    check_pop_sequence(&heap, timers, expected, 30);

    jy_timer_heap_free(&heap);
}


static void equal_deadlines_keep_order_after_removals(void)
{
    enum { N = 60 };
    jy_timer timers[N];
    int removed[N] = {0};
    size_t expected[N];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* Push in three rounds of 20 timers with four deadlines. After round
     * r, remove every queued timer whose index is r plus a multiple of
     * five, so removals move timers of every group through the array
     * between pushes. */
    for (size_t round = 0; round < 3; round++) {
        for (size_t i = round * 20; i < round * 20 + 20; i++) {
            jy_timer_init(&timers[i]);
            jy_time deadline = (jy_time)((i * 7) % 4) * 10;
            CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[i], deadline), 0);
        }
        for (size_t i = round; i < round * 20 + 20; i += 5) {
            if (removed[i])
                continue;
            jy_timer_heap_remove(&heap, &timers[i]);
            removed[i] = 1;
            CHECK(!jy_timer_is_queued(&timers[i]));
            CHECK(heap_is_valid(&heap));
        }
    }

    size_t n = 0;
    for (jy_time d = 0; d <= 30; d += 10)
        for (size_t i = 0; i < N; i++)
            if (!removed[i] && timers[i].deadline == d)
                expected[n++] = i;
    check_pop_sequence(&heap, timers, expected, n);

    jy_timer_heap_free(&heap);
}


static void remove_head_updates_peek(void)
{
    static const jy_time deadlines[] = {30, 10, 20, 40, 10};
    static const size_t expected[] = {4, 2, 0, 3};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    CHECK(jy_timer_heap_peek(&heap) == &timers[1]);

    jy_timer_heap_remove(&heap, &timers[1]);
    CHECK(!jy_timer_is_queued(&timers[1]));
    CHECK(timers[1].slot == JY_TIMER_NOT_QUEUED);
    CHECK_INT_EQ(heap.count, 4);
    CHECK(heap_is_valid(&heap));
    CHECK(jy_timer_heap_peek(&heap) == &timers[4]);

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void remove_middle_moves_last_down(void)
{
    jy_timer timers[15];
    jy_time deadlines[15];
    size_t expected[14];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* Ascending deadlines fill the array in order, so timers[3] sits in
     * slot 3, an inner node with children in slots 13 and 14. Removing
     * it puts the last timer (deadline 140) into slot 3, and it must
     * move down below timers[13] (deadline 130). */
    for (size_t i = 0; i < 15; i++)
        deadlines[i] = (jy_time)i * 10;
    CHECK_INT_EQ(push_all(&heap, timers, deadlines, 15), 0);
    CHECK_INT_EQ(timers[3].slot, 3);

    jy_timer_heap_remove(&heap, &timers[3]);
    CHECK(!jy_timer_is_queued(&timers[3]));
    CHECK_INT_EQ(heap.count, 14);
    CHECK(heap_is_valid(&heap));
    CHECK_INT_EQ(timers[14].slot, 13);

    size_t n = 0;
    for (size_t i = 0; i < 15; i++)
        if (i != 3)
            expected[n++] = i;
    check_pop_sequence(&heap, timers, expected, n);

    jy_timer_heap_free(&heap);
}


static void remove_middle_moves_last_up(void)
{
    /* Each timer lands in the slot of its index without moving: the
     * first subtree (slots 1 and 5-8) contains late deadlines and the
     * others early ones. */
    static const jy_time deadlines[] = {0, 100, 1, 2, 3, 101, 102, 103,
                                        104, 4, 5, 6, 7, 8, 9};
    static const size_t expected[] = {0, 2, 3,  4,  9, 10, 11,
                                      12, 13, 14, 1, 5, 6, 8};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    int misplaced = 0;
    for (size_t i = 0; i < ARRAY_LEN(deadlines); i++)
        if (timers[i].slot != i)
            misplaced++;
    CHECK_INT_EQ(misplaced, 0);

    /* Removing slot 7 puts the last timer (deadline 9) below slot 1
     * (deadline 100), so it must move up to slot 1. */
    jy_timer_heap_remove(&heap, &timers[7]);
    CHECK(!jy_timer_is_queued(&timers[7]));
    CHECK_INT_EQ(heap.count, 14);
    CHECK(heap_is_valid(&heap));
    CHECK_INT_EQ(timers[14].slot, 1);

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void remove_last_slot_keeps_order(void)
{
    static const jy_time deadlines[] = {5, 15, 25, 35, 45, 55, 65};
    static const size_t expected[] = {0, 1, 2, 3, 4, 5};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    jy_timer *last = heap.items[heap.count - 1].timer;
    CHECK(last == &timers[6]);

    jy_timer_heap_remove(&heap, last);
    CHECK(!jy_timer_is_queued(last));
    CHECK_INT_EQ(heap.count, 6);
    CHECK(heap_is_valid(&heap));

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void remove_only_timer_empties_heap(void)
{
    jy_timer_heap heap;
    jy_timer timer;
    jy_timer_heap_init(&heap);
    jy_timer_init(&timer);

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 42), 0);
    jy_timer_heap_remove(&heap, &timer);
    CHECK(!jy_timer_is_queued(&timer));
    CHECK_INT_EQ(heap.count, 0);
    CHECK(jy_timer_heap_peek(&heap) == NULL);

    jy_timer_heap_free(&heap);
}


static void remove_not_queued_does_nothing(void)
{
    static const jy_time deadlines[] = {3, 1, 2};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer fresh;
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);
    jy_timer_init(&fresh);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    jy_timer *popped = jy_timer_heap_pop(&heap);
    CHECK(popped == &timers[1]);
    jy_timer_heap_remove(&heap, &timers[2]);

    /* A fresh timer, a popped one and a removed one are all ignored. */
    CHECK_INT_EQ(heap.count, 1);
    jy_timer_heap_remove(&heap, &fresh);
    jy_timer_heap_remove(&heap, popped);
    jy_timer_heap_remove(&heap, &timers[2]);
    CHECK_INT_EQ(heap.count, 1);
    CHECK(heap.items[0].timer == &timers[0]);
    CHECK(heap_is_valid(&heap));
    CHECK(!jy_timer_is_queued(&fresh));
    CHECK(!jy_timer_is_queued(popped));
    CHECK(!jy_timer_is_queued(&timers[2]));

    CHECK(jy_timer_heap_pop(&heap) == &timers[0]);
    jy_timer_heap_free(&heap);
}


static void remove_other_heap_timer_does_nothing(void)
{
    static const jy_time deadlines[] = {1, 2, 3};
    static const size_t expected[] = {0, 1, 2};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer foreign;
    jy_timer_heap heap;
    jy_timer_heap other;
    jy_timer_heap_init(&heap);
    jy_timer_heap_init(&other);
    jy_timer_init(&foreign);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&other, &foreign, 0), 0);

    /* foreign sits in slot 0 of the other heap, a slot that also exists
     * here. */
    jy_timer_heap_remove(&heap, &foreign);
    CHECK_INT_EQ(heap.count, 3);
    CHECK(heap_is_valid(&heap));
    CHECK(jy_timer_is_queued(&foreign));
    CHECK(jy_timer_heap_peek(&other) == &foreign);

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    CHECK(jy_timer_heap_pop(&other) == &foreign);
    jy_timer_heap_free(&heap);
    jy_timer_heap_free(&other);
}


static void push_other_heap_timer_rejected(void)
{
    jy_timer mine;
    jy_timer foreign;
    jy_timer_heap heap;
    jy_timer_heap other;
    jy_timer_heap_init(&heap);
    jy_timer_heap_init(&other);
    jy_timer_init(&mine);
    jy_timer_init(&foreign);

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &mine, 10), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&other, &foreign, 20), 0);

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &foreign, 5), JY_ESTATE);
    CHECK_INT_EQ(foreign.deadline, 20);
    CHECK_INT_EQ(heap.count, 1);
    CHECK(jy_timer_heap_peek(&heap) == &mine);
    CHECK(jy_timer_heap_peek(&other) == &foreign);
    CHECK(heap_is_valid(&heap));
    CHECK(heap_is_valid(&other));

    /* Once popped from the other heap, the timer can be pushed here. */
    CHECK(jy_timer_heap_pop(&other) == &foreign);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &foreign, 5), 0);
    CHECK(jy_timer_heap_peek(&heap) == &foreign);

    jy_timer_heap_free(&heap);
    jy_timer_heap_free(&other);
}


static void repush_moves_timer(void)
{
    static const jy_time deadlines[] = {10, 20, 30, 40};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);

    /* Earlier: the last timer becomes the head. */
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[3], 5), 0);
    CHECK_INT_EQ(heap.count, 4);
    CHECK_INT_EQ(timers[3].deadline, 5);
    CHECK(jy_timer_heap_peek(&heap) == &timers[3]);
    CHECK(heap_is_valid(&heap));

    /* Later: the head goes to the end. */
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[3], 50), 0);
    CHECK_INT_EQ(heap.count, 4);
    CHECK(jy_timer_heap_peek(&heap) == &timers[0]);
    CHECK(heap_is_valid(&heap));

    /* Same deadline as another timer: the moved timer counts as pushed
     * now, so it comes after timers[2], which was pushed before. */
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[0], 30), 0);
    CHECK_INT_EQ(heap.count, 4);
    CHECK(heap_is_valid(&heap));

    static const size_t expected[] = {1, 2, 0, 3};
    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void repush_same_deadline_goes_last(void)
{
    static const jy_time deadlines[] = {7, 7, 7, 7};
    static const size_t expected[] = {1, 3, 0, 2};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[0], 7), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[2], 7), 0);
    CHECK_INT_EQ(heap.count, 4);

    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));
    jy_timer_heap_free(&heap);
}


static void repush_full_heap_keeps_array(void)
{
    enum { N = 16 };
    jy_timer timers[N];
    jy_time deadlines[N];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* Fill the array to its capacity, so any push of a new timer would
     * have to grow it. A move must not. */
    for (size_t i = 0; i < N; i++)
        deadlines[i] = (jy_time)i;
    CHECK_INT_EQ(push_all(&heap, timers, deadlines, N), 0);
    CHECK_INT_EQ(heap.count, heap.capacity);
    jy_timer_slot *items = heap.items;
    size_t capacity = heap.capacity;

    for (size_t i = 0; i < N; i++)
        CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[i], -(jy_time)i), 0);
    CHECK(heap.items == items);
    CHECK_INT_EQ(heap.capacity, capacity);
    CHECK_INT_EQ(heap.count, N);
    CHECK(heap_is_valid(&heap));

    size_t expected[N];
    for (size_t i = 0; i < N; i++)
        expected[i] = N - 1 - i;
    check_pop_sequence(&heap, timers, expected, N);
    jy_timer_heap_free(&heap);
}


static void repush_popped_timer_queues_again(void)
{
    jy_timer_heap heap;
    jy_timer timer;
    jy_timer_heap_init(&heap);
    jy_timer_init(&timer);

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 1), 0);
    CHECK(jy_timer_heap_pop(&heap) == &timer);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 2), 0);
    CHECK(jy_timer_is_queued(&timer));
    CHECK_INT_EQ(heap.count, 1);
    CHECK(jy_timer_heap_pop(&heap) == &timer);
    CHECK_INT_EQ(timer.deadline, 2);

    jy_timer_heap_free(&heap);
}


static void deadlines_extreme_values_sort(void)
{
    /* A comparison by subtraction would overflow on most pairs here,
     * for example INT64_MAX against INT64_MIN. */
    static const jy_time deadlines[] = {
        INT64_MAX,
        0,
        INT64_MIN,
        -1,
        1,
        INT64_MAX - 1,
        INT64_MIN + 1,
        100 * YEAR_MS,            /* about 2070 */
        -2000 * YEAR_MS,          /* about 30 BC */
        INT64_MAX,                /* ties with the first INT64_MAX */
        INT64_MIN,                /* ties with the first INT64_MIN */
        290000000 * YEAR_MS,      /* 290 million years ahead */
        -290000000 * YEAR_MS,     /* 290 million years back */
        INT64_C(4102444800000),   /* 2100-01-01T00:00:00Z */
    };
    static const size_t expected[] = {2, 10, 6, 12, 8, 3, 1, 4, 7, 13, 11,
                                      5, 0, 9};
    jy_timer timers[ARRAY_LEN(deadlines)];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    CHECK_INT_EQ(push_all(&heap, timers, deadlines, ARRAY_LEN(deadlines)), 0);
    CHECK(heap_is_valid(&heap));
    check_pop_sequence(&heap, timers, expected, ARRAY_LEN(expected));

    /* Moves between the two ends of the range. */
    CHECK_INT_EQ(push_all(&heap, timers, deadlines, 3), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[2], INT64_MAX), 0);
    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[0], INT64_MIN), 0);
    static const size_t moved[] = {0, 1, 2};
    check_pop_sequence(&heap, timers, moved, ARRAY_LEN(moved));

    jy_timer_heap_free(&heap);
}


static void push_grows_array(void)
{
    enum { N = 1000 };
    static jy_timer timers[N];
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);

    /* Doubling from a small start reaches 1000 in under ten steps, while
     * growth by a constant would reallocate hundreds of times. */
    int bad_capacity = 0;
    int reallocations = 0;
    size_t capacity = heap.capacity;
    for (size_t i = 0; i < N; i++) {
        jy_timer_init(&timers[i]);
        CHECK_INT_EQ(jy_timer_heap_push(&heap, &timers[i], (jy_time)(N - i)),
                     0);
        if (heap.capacity < heap.count || heap.capacity > 2 * heap.count + 16)
            bad_capacity++;
        if (heap.capacity != capacity)
            reallocations++;
        capacity = heap.capacity;
    }
    CHECK_INT_EQ(bad_capacity, 0);
    CHECK(reallocations >= 1);
    CHECK(reallocations <= 10);
    CHECK_INT_EQ(heap.count, N);
    CHECK(heap_is_valid(&heap));

    int out_of_order = 0;
    for (size_t i = 0; i < N; i++)
        if (jy_timer_heap_pop(&heap) != &timers[N - 1 - i])
            out_of_order++;
    CHECK_INT_EQ(out_of_order, 0);
    CHECK(jy_timer_heap_pop(&heap) == NULL);

    jy_timer_heap_free(&heap);
}


/* Fakes a heap that is full at the largest capacity the implementation
 * allows, because a test cannot make realloc fail on demand. Growth
 * then fails before it calls realloc.
 * NOTE: the branch where realloc itself returns NULL is not exercised. */
static void push_growth_failure_leaves_heap_intact(void)
{
    jy_timer_slot storage[1] = {{0, 0, NULL}};
    jy_timer timer;
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);
    jy_timer_init(&timer);
    timer.deadline = 77;

    size_t full = (size_t)PTRDIFF_MAX / sizeof(jy_timer_slot);
    heap.items = storage;
    heap.count = full;
    heap.capacity = full;
    heap.next_order = 9;

    CHECK_INT_EQ(jy_timer_heap_push(&heap, &timer, 5), JY_ENOMEM);
    CHECK(!jy_timer_is_queued(&timer));
    CHECK_INT_EQ(timer.deadline, 77);
    CHECK(heap.items == storage);
    CHECK(heap.count == full);
    CHECK(heap.capacity == full);
    CHECK_INT_EQ(heap.next_order, 9);

    /* storage is a local array, so reset the heap instead of freeing
     * it. */
    jy_timer_heap_init(&heap);
}


/* Pushes one million timers with pseudo-random deadlines, removes a
 * random third, and pops the rest. Deadlines mix a narrow band with
 * about twelve timers per value, the two extremes of jy_time, and a
 * wide spread of about +-2^61 ms. */
static void heap_million_timers_pop_in_order(void)
{
    enum { N = 1000000, REMOVED = N / 3 };
    jy_timer *timers = calloc(N, sizeof *timers);
    uint32_t *indexes = calloc(N, sizeof *indexes);
    unsigned char *removed = calloc(N, 1);
    unsigned char *popped = calloc(N, 1);
    CHECK(timers != NULL);
    CHECK(indexes != NULL);
    CHECK(removed != NULL);
    CHECK(popped != NULL);
    if (timers == NULL || indexes == NULL || removed == NULL
        || popped == NULL)
        goto out;

    jy_timer_heap heap;
    jy_timer_heap_init(&heap);
    uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);

    int push_failures = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t r = check_random(&rng);
        jy_time deadline;
        switch (r % 8) {
        case 0:
            deadline = (r >> 3) % 2 ? INT64_MAX : INT64_MIN;
            break;
        case 1:
        case 2:
            deadline = (jy_time)(r >> 2) - (INT64_C(1) << 61);
            break;
        default:
            deadline = (jy_time)((r >> 3) % 50000) - 25000;
            break;
        }
        jy_timer_init(&timers[i]);
        if (jy_timer_heap_push(&heap, &timers[i], deadline) != 0)
            push_failures++;
    }
    CHECK_INT_EQ(push_failures, 0);
    CHECK_INT_EQ(heap.count, N);

    /* A partial Fisher-Yates shuffle picks the timers to remove. */
    for (uint32_t i = 0; i < N; i++)
        indexes[i] = i;
    int still_queued = 0;
    for (size_t i = 0; i < REMOVED; i++) {
        size_t j = i + (size_t)(check_random(&rng) % (N - i));
        uint32_t pick = indexes[j];
        indexes[j] = indexes[i];
        indexes[i] = pick;
        jy_timer_heap_remove(&heap, &timers[pick]);
        removed[pick] = 1;
        if (jy_timer_is_queued(&timers[pick]))
            still_queued++;
    }
    CHECK_INT_EQ(still_queued, 0);
    CHECK_INT_EQ(heap.count, N - REMOVED);
    CHECK(heap_is_valid(&heap));

    /* Timers were pushed in index order, so the index is the expected
     * tie-break and the pop sequence must strictly increase by
     * (deadline, index). */
    int out_of_order = 0;
    int popped_removed = 0;
    int popped_twice = 0;
    int queued_after_pop = 0;
    size_t pop_count = 0;
    const jy_timer *previous = NULL;
    jy_timer *timer;
    while ((timer = jy_timer_heap_pop(&heap)) != NULL) {
        size_t index = (size_t)(timer - timers);
        if (previous != NULL
            && !key_before(previous->deadline, (uint64_t)(previous - timers),
                           timer->deadline, index))
            out_of_order++;
        if (removed[index])
            popped_removed++;
        if (popped[index])
            popped_twice++;
        if (jy_timer_is_queued(timer))
            queued_after_pop++;
        popped[index] = 1;
        previous = timer;
        pop_count++;
    }
    CHECK_INT_EQ(out_of_order, 0);
    CHECK_INT_EQ(popped_removed, 0);
    CHECK_INT_EQ(popped_twice, 0);
    CHECK_INT_EQ(queued_after_pop, 0);
    CHECK_INT_EQ(pop_count, N - REMOVED);
    CHECK_INT_EQ(heap.count, 0);
    CHECK(jy_timer_heap_peek(&heap) == NULL);

    int missing = 0;
    for (size_t i = 0; i < N; i++)
        if (!removed[i] && !popped[i])
            missing++;
    CHECK_INT_EQ(missing, 0);

    jy_timer_heap_free(&heap);
out:
    free(timers);
    free(indexes);
    free(removed);
    free(popped);
}


/* State of the reference model: which timers are queued, with which
 * deadline and push sequence number. */
enum { REF_TIMERS = 64 };

typedef struct reference {
    int queued[REF_TIMERS];
    jy_time deadline[REF_TIMERS];
    uint64_t seq[REF_TIMERS];
    uint64_t next_seq;
    size_t count;
} reference;

static const reference *sort_reference;

static int compare_by_reference_key(const void *a, const void *b)
{
    size_t i = *(const size_t *)a;
    size_t j = *(const size_t *)b;
    const reference *ref = sort_reference;

    if (key_before(ref->deadline[i], ref->seq[i], ref->deadline[j],
                   ref->seq[j]))
        return -1;
    if (key_before(ref->deadline[j], ref->seq[j], ref->deadline[i],
                   ref->seq[i]))
        return 1;
    return 0;
}


/* Returns the queued timer of ref that sorts first, or REF_TIMERS when
 * none is queued. */
static size_t reference_min(const reference *ref)
{
    size_t best = REF_TIMERS;

    for (size_t i = 0; i < REF_TIMERS; i++) {
        if (!ref->queued[i])
            continue;
        if (best == REF_TIMERS
            || key_before(ref->deadline[i], ref->seq[i], ref->deadline[best],
                          ref->seq[best]))
            best = i;
    }
    return best;
}


/* Runs random pushes, moves, removals, peeks and pops against a
 * reference that keeps (deadline, sequence) per timer and finds the
 * minimum by a linear scan. Then drains the heap and compares it with
 * the reference sorted by qsort. */
static void heap_matches_sorted_reference(void)
{
    enum { OPERATIONS = 5000 };
    static jy_timer timers[REF_TIMERS];
    reference ref = {0};
    jy_timer_heap heap;
    jy_timer_heap_init(&heap);
    for (size_t i = 0; i < REF_TIMERS; i++)
        jy_timer_init(&timers[i]);

    uint64_t rng = UINT64_C(88172645463325252);
    int push_failures = 0;
    int wrong_head = 0;
    int wrong_count = 0;
    int wrong_queued = 0;
    int invalid = 0;

    for (int op = 0; op < OPERATIONS; op++) {
        uint64_t r = check_random(&rng);
        size_t pick = (size_t)((r >> 8) % REF_TIMERS);

        switch (r % 10) {
        case 0: case 1: case 2: case 3: case 4: {
            /* A narrow band gives many ties. One push in 16 uses an
             * extreme deadline. */
            jy_time deadline = (jy_time)((r >> 16) % 40) - 20;
            if ((r >> 24) % 16 == 0)
                deadline = (r >> 28) % 2 ? INT64_MAX : INT64_MIN;
            if (jy_timer_heap_push(&heap, &timers[pick], deadline) != 0) {
                push_failures++;
                break;
            }
            if (!ref.queued[pick])
                ref.count++;
            ref.queued[pick] = 1;
            ref.deadline[pick] = deadline;
            ref.seq[pick] = ref.next_seq++;
            break;
        }
        case 5: case 6:
            jy_timer_heap_remove(&heap, &timers[pick]);
            if (ref.queued[pick])
                ref.count--;
            ref.queued[pick] = 0;
            break;
        case 7: case 8: {
            size_t expected = reference_min(&ref);
            jy_timer *got = jy_timer_heap_pop(&heap);
            if (expected == REF_TIMERS ? got != NULL
                                       : got != &timers[expected])
                wrong_head++;
            if (expected != REF_TIMERS) {
                ref.queued[expected] = 0;
                ref.count--;
            }
            break;
        }
        default: {
            size_t expected = reference_min(&ref);
            jy_timer *got = jy_timer_heap_peek(&heap);
            if (expected == REF_TIMERS ? got != NULL
                                       : got != &timers[expected])
                wrong_head++;
            break;
        }
        }

        if (heap.count != ref.count)
            wrong_count++;
        for (size_t i = 0; i < REF_TIMERS; i++)
            if (!jy_timer_is_queued(&timers[i]) != !ref.queued[i])
                wrong_queued++;
        if (!heap_is_valid(&heap))
            invalid++;
    }
    CHECK_INT_EQ(push_failures, 0);
    CHECK_INT_EQ(wrong_head, 0);
    CHECK_INT_EQ(wrong_count, 0);
    CHECK_INT_EQ(wrong_queued, 0);
    CHECK_INT_EQ(invalid, 0);

    size_t expected[REF_TIMERS];
    size_t n = 0;
    for (size_t i = 0; i < REF_TIMERS; i++)
        if (ref.queued[i])
            expected[n++] = i;
    sort_reference = &ref;
    qsort(expected, n, sizeof expected[0], compare_by_reference_key);
    sort_reference = NULL;
    check_pop_sequence(&heap, timers, expected, n);

    jy_timer_heap_free(&heap);
}


int main(void)
{
    heap_empty_returns_null();
    heap_free_leaves_empty_reusable_heap();
    timer_init_marks_not_queued();
    timer_queued_until_popped();
    heap_pops_in_deadline_order();
    equal_deadlines_pop_in_push_order();
    equal_deadlines_keep_order_after_removals();
    remove_head_updates_peek();
    remove_middle_moves_last_down();
    remove_middle_moves_last_up();
    remove_last_slot_keeps_order();
    remove_only_timer_empties_heap();
    remove_not_queued_does_nothing();
    remove_other_heap_timer_does_nothing();
    push_other_heap_timer_rejected();
    repush_moves_timer();
    repush_same_deadline_goes_last();
    repush_full_heap_keeps_array();
    repush_popped_timer_queues_again();
    deadlines_extreme_values_sort();
    push_grows_array();
    push_growth_failure_leaves_heap_intact();
    heap_million_timers_pop_in_order();
    heap_matches_sorted_reference();
    return check_summary("test_timer_heap");
}
