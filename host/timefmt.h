/*
 * ISO-8601 instants: parsing what events and scripts carry, and
 * formatting what the host prints and writes.
 */
#ifndef JOURNEY_HOST_TIMEFMT_H
#define JOURNEY_HOST_TIMEFMT_H

#include <stddef.h>

#include "error.h"
#include "jtime.h"

/* Large enough for any instant jy_time_format writes, NUL included. */
#define JY_TIME_TEXT_SIZE 40

/* Parses an ISO-8601 instant from text[0..len): "2011-12-09T12:50:00Z",
 * fractions of a second ("...:00.025Z", rounded to milliseconds),
 * offsets ("+01:00", "-0500"), a space in place of "T", and a bare
 * date ("2011-12-09", midnight UTC). Also accepts a time without
 * seconds ("12:50Z"), lowercase "t" and "z", surrounding whitespace, and
 * the expanded years that jy_time_format writes ("+010000-01-01").
 * A time without "Z" or an offset is rejected as ambiguous. Rejects
 * invalid fields (month 13, February 30, hour 24, second 60) and
 * instants outside jy_time with a message that quotes the text.
 * Returns 0 or JY_EINVAL. */
int jy_time_parse(const char *text, size_t len, jy_time *out, jy_error *err);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ", or "YYYY-MM-DDTHH:MM:SS.mmmZ" when
 * t has milliseconds, into buf (at least JY_TIME_TEXT_SIZE bytes).
 * Years outside 0000..9999 are written with a sign and at least 6
 * digits ("+010000", "-000001"), as JavaScript's toISOString does.
 * Returns the length written, without the NUL. */
size_t jy_time_format(jy_time t, char *buf);

/* Converts a civil UTC date to days since 1970-01-01, for any year that
 * fits in an int; month is 1..12, day 1..31 (not checked). */
int64_t jy_days_from_civil(int64_t year, unsigned month, unsigned day);

/* Converts days since 1970-01-01 back to a civil UTC date, for any
 * int64_t days. */
void jy_civil_from_days(int64_t days, int64_t *year, unsigned *month,
                        unsigned *day);

/* Returns the number of days in month (1..12) of year, leap years
 * included, or 0 for a month outside 1..12. */
unsigned jy_days_in_month(int64_t year, unsigned month);

#endif
