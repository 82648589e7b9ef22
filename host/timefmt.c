/*
 * ISO-8601 instants and proleptic Gregorian calendar arithmetic in UTC.
 *
 * The calendar functions use Howard Hinnant's days_from_civil and
 * civil_from_days algorithms on 64-bit integers, so they need neither
 * time_t nor timegm and work for every year a jy_time can reach. The
 * derivation is at https://howardhinnant.github.io/date_algorithms.html
 */
#include "timefmt.h"
#include "quote.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY INT64_C(86400000)
#define DAYS_PER_ERA INT64_C(146097) /* days in 400 Gregorian years */
/* Days from 0000-03-01, where the algorithms' eras start, to 1970-01-01. */
#define EPOCH_DAY_IN_ERA INT64_C(719468)

/* Most digits an expanded year ("+010000", "-292275055") may have: the
 * years of jy_time have 9 digits at most. */
#define EXPANDED_YEAR_MAX_DIGITS 9

static const char *const MONTH_NAMES[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December",
};


/* Splits a into a * b + *mod with 0 <= *mod < b (b > 0) and returns the
 * quotient, rounded toward negative infinity. */
static int64_t floor_div(int64_t a, int64_t b, int64_t *mod)
{
    int64_t q = a / b;
    int64_t r = a % b;

    if (r < 0) {
        q--;
        r += b;
    }
    *mod = r;
    return q;
}


/* Valid for |year| below about 2.5e16, far past the int range that the
 * header promises. */
int64_t jy_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    /* Count years from March, so the leap day ends the year. */
    int64_t y = year - (month <= 2 ? 1 : 0);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;                   /* [0, 399] */
    int64_t shifted_month = month > 2 ? month - 3 : month + 9; /* March = 0 */
    int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 -
                         year_of_era / 100 + day_of_year;

    return era * DAYS_PER_ERA + day_of_era - EPOCH_DAY_IN_ERA;
}


/* Valid for every int64_t: the era is split off before the epoch offset
 * is added, so nothing overflows near INT64_MIN or INT64_MAX. */
void jy_civil_from_days(int64_t days, int64_t *year, unsigned *month,
                        unsigned *day)
{
    int64_t day_in_era;
    int64_t era = floor_div(days, DAYS_PER_ERA, &day_in_era);
    int64_t from_march = day_in_era + EPOCH_DAY_IN_ERA;

    era += from_march / DAYS_PER_ERA;

    int64_t day_of_era = from_march % DAYS_PER_ERA; /* [0, 146096] */
    int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                           day_of_era / 36524 - day_of_era / 146096) /
                          365; /* [0, 399] */
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 -
                                        year_of_era / 100); /* [0, 365] */
    int64_t shifted_month = (5 * day_of_year + 2) / 153; /* March = 0 */
    unsigned m = (unsigned)(shifted_month < 10 ? shifted_month + 3
                                               : shifted_month - 9);

    *day = (unsigned)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    *month = m;
    *year = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
}


static bool is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}


/* Returns 0 for a month outside 1..12. */
unsigned jy_days_in_month(int64_t year, unsigned month)
{
    static const unsigned lengths[12] = {31, 28, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && is_leap_year(year))
        return 29;
    return lengths[month - 1];
}


/* Computes days * MS_PER_DAY + ms_of_day (0 <= ms_of_day < MS_PER_DAY)
 * into *out. For negative days the product is formed one day closer to
 * zero, so the earliest instant, whose day starts before JY_TIME_MIN,
 * still fits. Returns false, leaving *out alone, on overflow. */
static bool instant_from_days(int64_t days, int64_t ms_of_day, jy_time *out)
{
    int64_t base;
    jy_time result;

    if (days < 0) {
        days += 1;
        ms_of_day -= MS_PER_DAY;
    }
    if (__builtin_mul_overflow(days, MS_PER_DAY, &base) ||
        __builtin_add_overflow(base, ms_of_day, &result))
        return false;
    *out = result;
    return true;
}


size_t jy_time_format(jy_time t, char *buf)
{
    int64_t ms_of_day;
    int64_t days = floor_div(t, MS_PER_DAY, &ms_of_day);
    int64_t year;
    unsigned month, day;
    int n;

    jy_civil_from_days(days, &year, &month, &day);

    /* ISO-8601 expanded years, as JavaScript's toISOString writes them:
     * a sign and 6 digits, or more past year 999999, which JavaScript
     * cannot reach. |year| < 3e8, so negating is safe. */
    if (year >= 0 && year <= 9999)
        n = snprintf(buf, JY_TIME_TEXT_SIZE, "%04" PRId64, year);
    else
        n = snprintf(buf, JY_TIME_TEXT_SIZE, "%c%06" PRId64,
                     year < 0 ? '-' : '+', year < 0 ? -year : year);

    int hour = (int)(ms_of_day / 3600000);
    int minute = (int)(ms_of_day / 60000 % 60);
    int second = (int)(ms_of_day / 1000 % 60);
    int ms = (int)(ms_of_day % 1000);

    n += snprintf(buf + n, JY_TIME_TEXT_SIZE - (size_t)n,
                  "-%02u-%02uT%02d:%02d:%02d", month, day, hour, minute,
                  second);
    if (ms != 0)
        n += snprintf(buf + n, JY_TIME_TEXT_SIZE - (size_t)n, ".%03d", ms);
    n += snprintf(buf + n, JY_TIME_TEXT_SIZE - (size_t)n, "Z");
    return (size_t)n;
}


/* Parser state for one call of jy_time_parse. [pos, end) is the text
 * still to read, without surrounding whitespace. */
typedef struct time_parser {
    const char *text;
    size_t len;  /* the whole text, which messages quote */
    size_t pos;
    size_t end;  /* the end once trailing space is trimmed */
    jy_error *err;
} time_parser;


static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}


static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}




static int fail(time_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(time_parser *p, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);

    /* Quoted here rather than up front, because every input event's ts
     * is parsed and only a bad one needs the quote. */
    char quoted[QUOTE_BUF_SIZE];
    jy_quote_text(p->text, p->len, QUOTE_MAX_BYTES, quoted);
    return jy_error_set(p->err, JY_EINVAL, "invalid time %s: %s", quoted, reason);
}


/* Rejects the text from p->pos on as unexpected. where names the part
 * of the instant that it follows. */
static int fail_unexpected(time_parser *p, const char *where)
{
    char rest[QUOTE_BUF_SIZE];

    jy_quote_text(p->text + p->pos, p->end - p->pos, 20, rest);
    return fail(p, "unexpected text %s %s", rest, where);
}


static bool at_end(const time_parser *p)
{
    return p->pos >= p->end;
}


static bool accept_char(time_parser *p, char c)
{
    if (at_end(p) || p->text[p->pos] != c)
        return false;
    p->pos++;
    return true;
}


static size_t count_digits(const time_parser *p)
{
    size_t n = 0;

    while (p->pos + n < p->end && is_digit(p->text[p->pos + n]))
        n++;
    return n;
}


/* Reads exactly count digits, followed by no further digit. */
static bool read_digits(time_parser *p, size_t count, int64_t *value)
{
    if (count_digits(p) != count)
        return false;

    int64_t result = 0;

    for (size_t i = 0; i < count; i++)
        result = result * 10 + (p->text[p->pos + i] - '0');
    p->pos += count;
    *value = result;
    return true;
}


/* Reads "YYYY" or an expanded year ("+010000", "-000001"). */
static int parse_year(time_parser *p, int64_t *year)
{
    static const char expected[] =
        "expected a date as YYYY-MM-DD, such as \"2011-12-09\"";

    if (!at_end(p) && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) {
        bool negative = p->text[p->pos] == '-';
        size_t digits;

        p->pos++;
        digits = count_digits(p);
        if (digits < 4 || digits > EXPANDED_YEAR_MAX_DIGITS)
            return fail(p, "a year with a sign needs 4 to 9 digits, such as "
                           "\"+010000\"");
        read_digits(p, digits, year);
        if (negative && *year == 0)
            return fail(p, "year -0 is invalid (write year 0 as \"0000\")");
        if (negative)
            *year = -*year;
        return 0;
    }

    size_t digits = count_digits(p);

    if (digits > 4 && digits <= EXPANDED_YEAR_MAX_DIGITS &&
        p->pos + digits < p->end && p->text[p->pos + digits] == '-')
        return fail(p, "years past 9999 need a sign, such as \"+010000\"");
    if (!read_digits(p, 4, year))
        return fail(p, expected);
    return 0;
}


/* Reads "-MM-DD" after the year and checks the month and day. */
static int parse_month_day(time_parser *p, int64_t year, int64_t *month,
                           int64_t *day)
{
    if (!accept_char(p, '-') || !read_digits(p, 2, month) ||
        !accept_char(p, '-') || !read_digits(p, 2, day))
        return fail(p, "expected a date as YYYY-MM-DD, such as "
                       "\"2011-12-09\"");

    if (*month < 1 || *month > 12)
        return fail(p, "month %02" PRId64 " is out of range (01..12)",
                    *month);

    unsigned last_day = jy_days_in_month(year, (unsigned)*month);

    if (*day < 1 || *day > last_day)
        return fail(p,
                    "day %02" PRId64 " is out of range (%s %" PRId64
                    " has %u days)",
                    *day, MONTH_NAMES[*month - 1], year, last_day);
    return 0;
}


/* Reads "HH:MM[:SS[.fraction]]" into milliseconds since midnight. The
 * fraction may have any number of digits and rounds to the nearest
 * millisecond, halves up, so ".9995" carries into the next second. */
static int parse_time_of_day(time_parser *p, int64_t *ms_of_day)
{
    int64_t hour = 0, minute = 0, second = 0, fraction_ms = 0;

    if (!read_digits(p, 2, &hour) || !accept_char(p, ':') ||
        !read_digits(p, 2, &minute))
        return fail(p, "expected a time as HH:MM:SS after the date");
    if (hour > 23)
        return fail(p, "hour %02" PRId64 " is out of range (00..23)", hour);
    if (minute > 59)
        return fail(p, "minute %02" PRId64 " is out of range (00..59)",
                    minute);

    if (accept_char(p, ':')) {
        if (!read_digits(p, 2, &second))
            return fail(p, "expected two digits of seconds after HH:MM:");
        if (second > 59)
            return fail(p,
                        "second %02" PRId64 " is out of range (00..59, "
                        "leap seconds are not supported)",
                        second);

        if (accept_char(p, '.') || accept_char(p, ',')) {
            size_t digits = count_digits(p);

            if (digits == 0)
                return fail(p, "missing digits in the fraction of a second");
            for (size_t i = 0; i < 3; i++) {
                int digit = i < digits ? p->text[p->pos + i] - '0' : 0;

                fraction_ms = fraction_ms * 10 + digit;
            }
            if (digits > 3 && p->text[p->pos + 3] >= '5')
                fraction_ms++;
            p->pos += digits;
        }
    }

    *ms_of_day = hour * 3600000 + minute * 60000 + second * 1000 +
                 fraction_ms;
    return 0;
}


/* Reads "Z", "z", "+HH", "+HHMM" or "+HH:MM" (or with "-") into the
 * offset of local time from UTC, in milliseconds. */
static int parse_zone(time_parser *p, int64_t *offset_ms)
{
    if (at_end(p))
        return fail(p, "missing time zone: add Z for UTC or an offset such "
                       "as +01:00");
    if (accept_char(p, 'Z') || accept_char(p, 'z')) {
        *offset_ms = 0;
        return 0;
    }

    char sign = p->text[p->pos];

    if (sign != '+' && sign != '-')
        return fail_unexpected(p, "after the time (expected Z or an offset "
                                  "such as +01:00)");
    p->pos++;

    int64_t hours = 0, minutes = 0;
    size_t digits = count_digits(p);
    bool valid;

    if (digits == 4) {
        /* "+HHMM" */
        hours = (p->text[p->pos] - '0') * 10 + (p->text[p->pos + 1] - '0');
        p->pos += 2;
        valid = read_digits(p, 2, &minutes);
    } else {
        /* "+HH" or "+HH:MM" */
        valid = read_digits(p, 2, &hours) &&
                (!accept_char(p, ':') || read_digits(p, 2, &minutes));
    }
    if (!valid)
        return fail(p, "expected a time zone offset as +HH:MM");
    if (hours > 23)
        return fail(p, "time zone offset hour %02" PRId64
                       " is out of range (00..23)",
                    hours);
    if (minutes > 59)
        return fail(p, "time zone offset minute %02" PRId64
                       " is out of range (00..59)",
                    minutes);

    *offset_ms = (hours * 60 + minutes) * 60000 * (sign == '-' ? -1 : 1);
    return 0;
}


int jy_time_parse(const char *text, size_t len, jy_time *out, jy_error *err)
{
    time_parser p = {.text = text, .len = len, .pos = 0, .end = len, .err = err};
    int64_t year = 0, month = 0, day = 0;
    int64_t ms_of_day = 0;
    int64_t offset_ms = 0;
    int rc;

    if (text == NULL) {
        p.text = "";
        p.len = 0;
        p.end = 0;
    }

    while (p.pos < p.end && is_space(p.text[p.pos]))
        p.pos++;
    while (p.end > p.pos && is_space(p.text[p.end - 1]))
        p.end--;
    if (at_end(&p))
        return fail(&p, "missing date (expected an ISO-8601 instant such as "
                        "\"2011-12-09T12:50:00Z\")");

    rc = parse_year(&p, &year);
    if (rc == 0)
        rc = parse_month_day(&p, year, &month, &day);
    if (rc != 0)
        return rc;

    /* A bare date is midnight UTC. */
    if (!at_end(&p)) {
        if (!accept_char(&p, 'T') && !accept_char(&p, 't') &&
            !accept_char(&p, ' '))
            return fail_unexpected(&p, "after the date (expected \"T\" and "
                                       "a time)");
        rc = parse_time_of_day(&p, &ms_of_day);
        if (rc == 0)
            rc = parse_zone(&p, &offset_ms);
        if (rc != 0)
            return rc;
        if (!at_end(&p))
            return fail_unexpected(&p, "after the time zone");
    }

    /* The local time minus the offset may leave [0, MS_PER_DAY). */
    int64_t utc_ms_of_day;
    int64_t days = jy_days_from_civil(year, (unsigned)month, (unsigned)day) +
                   floor_div(ms_of_day - offset_ms, MS_PER_DAY,
                             &utc_ms_of_day);

    if (!instant_from_days(days, utc_ms_of_day, out))
        return fail(&p, "outside the supported time range (about 292 "
                        "million years either side of 1970)");
    return 0;
}
