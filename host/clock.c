/*
 * Real and virtual clocks (see clock.h).
 */
#include "clock.h"

#include <time.h>


void jy_clock_init_real(jy_clock *clock)
{
    clock->kind = JY_CLOCK_REAL;
    clock->virtual_now = 0;
}


void jy_clock_init_virtual(jy_clock *clock, jy_time start)
{
    clock->kind = JY_CLOCK_VIRTUAL;
    clock->virtual_now = start;
}


jy_time jy_clock_now(const jy_clock *clock)
{
    if (clock->kind == JY_CLOCK_VIRTUAL)
        return clock->virtual_now;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (jy_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void jy_clock_set(jy_clock *clock, jy_time t)
{
    if (clock->kind == JY_CLOCK_VIRTUAL && t > clock->virtual_now)
        clock->virtual_now = t;
}
