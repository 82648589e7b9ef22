/*
 * The clock the scheduler reads.
 *
 * A real clock follows wall time; a virtual clock stands still until the
 * host moves it, which is how specs and `journey simulate` run a month
 * of deadlines in milliseconds. The scheduler only calls jy_clock_now
 * and, on a virtual clock, jy_clock_set; everything else about time
 * belongs to the driver (a test, the simulator, a server loop).
 */
#ifndef JOURNEY_HOST_CLOCK_H
#define JOURNEY_HOST_CLOCK_H

#include "jtime.h"

typedef enum jy_clock_kind {
    JY_CLOCK_REAL,
    JY_CLOCK_VIRTUAL,
} jy_clock_kind;

typedef struct jy_clock {
    jy_clock_kind kind;
    jy_time virtual_now; /* used when kind is JY_CLOCK_VIRTUAL */
} jy_clock;

/* Initializes a clock that reads CLOCK_REALTIME. */
void jy_clock_init_real(jy_clock *clock);

/* Initializes a virtual clock that starts at start. */
void jy_clock_init_virtual(jy_clock *clock, jy_time start);

/* Returns the current time of the clock in milliseconds. */
jy_time jy_clock_now(const jy_clock *clock);

/* Moves a virtual clock to t; a virtual clock never moves backwards, so
 * an earlier t is ignored. Does nothing on a real clock. */
void jy_clock_set(jy_clock *clock, jy_time t);

#endif
