/*
 * Durations as journey authors write them.
 *
 * A duration is a number of seconds, or a string in the style of the
 * `ms` package: "500ms", "90s", "15m", "15min", "2h", "7d", "2w", "1y"
 * (365.25 days), long forms ("2 days", "1.5 hours") and compounds
 * ("1h 30m"). Calendar months ("1mo", "3 months") are kept apart from
 * the fixed part because their length depends on the start instant.
 */
#ifndef JOURNEY_HOST_DURATION_H
#define JOURNEY_HOST_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "jtime.h"

typedef struct jy_duration {
    int64_t ms;     /* fixed part, milliseconds, >= 0 */
    int32_t months; /* calendar months, >= 0, added before ms */
} jy_duration;

/* Parses text[0..len) into out. Parts of a compound may be separated by
 * whitespace, one comma or nothing ("1h30m"). Fractions round to the
 * nearest millisecond, halves away from zero ("1.5ms" is 2 ms), and each
 * part rounds on its own. Rejects an empty string, a number with no
 * unit ("90"), an unknown unit ("1 secnd"), a negative or NaN value,
 * "1M" (ambiguous between minutes and months), fractional months, and a
 * total past the range of jy_time (for months, of int32_t). Each
 * message quotes the text.
 * Returns 0, JY_EINVAL or JY_ERANGE. */
int jy_duration_parse(const char *text, size_t len, jy_duration *out,
                      jy_error *err);

/* Converts a number of seconds (a Lua number) into out, rounded to the
 * nearest millisecond. Rejects negative, NaN, infinite and out-of-range
 * values. Returns 0, JY_EINVAL or JY_ERANGE. */
int jy_duration_from_seconds(double seconds, jy_duration *out, jy_error *err);

/* Adds d to t: first the calendar months in UTC, clamping the day to the
 * last day of the target month (January 31 plus one month is the last
 * day of February), then the fixed milliseconds. Returns 0, or
 * JY_ERANGE when the result does not fit in jy_time. */
int jy_time_add(jy_time t, jy_duration d, jy_time *out, jy_error *err);

#endif
