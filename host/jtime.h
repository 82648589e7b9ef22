/*
 * Time values of the host.
 *
 * Every instant is a signed 64-bit count of milliseconds since the Unix
 * epoch, UTC. 64 bits hold about 292 million years either side of 1970,
 * so sleeps of years never overflow. Lua sees instants as seconds with
 * fractions (a double), which is exact for milliseconds within the
 * range of dates anyone schedules.
 */
#ifndef JOURNEY_HOST_JTIME_H
#define JOURNEY_HOST_JTIME_H

#include <stdint.h>

typedef int64_t jy_time;

#define JY_TIME_MAX INT64_MAX
#define JY_TIME_MIN INT64_MIN

#endif
