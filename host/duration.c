/*
 * Parsing durations and adding them to instants.
 *
 * The parser works on the decimal digits directly, with 64-bit integers
 * only, so "0.1s" is exactly 100 ms and no binary rounding leaks in.
 */
#include "duration.h"
#include "quote.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

#define MS_PER_DAY INT64_C(86400000)

typedef struct duration_unit {
    const char *name;
    int64_t ms;  /* length in ms, or 0 for calendar months */
    bool months; /* counts calendar months instead of ms */
} duration_unit;

/* Unit spellings of version 2 of the `ms` npm package, plus "mo" for
 * months. A year is 365.25 days, as in `ms`. Unlike `ms`, a number with
 * no unit is rejected instead of read as milliseconds. Matching ignores
 * case, but a unit written as "M" alone is rejected before this table
 * is consulted. */
static const duration_unit UNITS[] = {
    {"ms", 1, false},
    {"msec", 1, false},
    {"msecs", 1, false},
    {"millisecond", 1, false},
    {"milliseconds", 1, false},
    {"s", 1000, false},
    {"sec", 1000, false},
    {"secs", 1000, false},
    {"second", 1000, false},
    {"seconds", 1000, false},
    {"m", 60000, false},
    {"min", 60000, false},
    {"mins", 60000, false},
    {"minute", 60000, false},
    {"minutes", 60000, false},
    {"h", 3600000, false},
    {"hr", 3600000, false},
    {"hrs", 3600000, false},
    {"hour", 3600000, false},
    {"hours", 3600000, false},
    {"d", MS_PER_DAY, false},
    {"day", MS_PER_DAY, false},
    {"days", MS_PER_DAY, false},
    {"w", 7 * MS_PER_DAY, false},
    {"week", 7 * MS_PER_DAY, false},
    {"weeks", 7 * MS_PER_DAY, false},
    {"y", INT64_C(31557600000), false},
    {"yr", INT64_C(31557600000), false},
    {"yrs", INT64_C(31557600000), false},
    {"year", INT64_C(31557600000), false},
    {"years", INT64_C(31557600000), false},
    {"mo", 0, true},
    {"month", 0, true},
    {"months", 0, true},
};

#define UNIT_LIST "ms, s, m, h, d, w, y or mo"

/* Parser state for one call of jy_duration_parse. */
typedef struct duration_parser {
    const char *text;
    size_t len;
    size_t pos;
    jy_error *err;
} duration_parser;

/* One "<number> <unit>" part, as offsets into the text. */
typedef struct duration_part {
    size_t int_start, int_end;   /* integer digits, possibly none */
    size_t frac_start, frac_end; /* digits after '.', possibly none */
    const duration_unit *unit;
} duration_part;


static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}


static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}


static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}


static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}




static int fail(duration_parser *p, int code, const char *reason)
{
    /* Quoted here rather than up front, because runs parse a duration
     * at every sleep and wait, and only a bad one needs the quote. */
    char quoted[QUOTE_BUF_SIZE];
    jy_quote_text(p->text, p->len, QUOTE_MAX_BYTES, quoted);
    return jy_error_set(p->err, code, "invalid duration %s: %s", quoted, reason);
}


static int fail_too_large(duration_parser *p)
{
    return fail(p, JY_ERANGE,
                "too large (the maximum is 9223372036854775807 ms, "
                "about 292 million years)");
}


static void skip_spaces(duration_parser *p)
{
    while (p->pos < p->len && is_space(p->text[p->pos]))
        p->pos++;
}


static bool at_end(const duration_parser *p)
{
    return p->pos >= p->len;
}


static size_t scan_letters(const duration_parser *p, size_t from)
{
    size_t end = from;

    while (end < p->len && is_letter(p->text[end]))
        end++;
    return end;
}


static bool word_equals(const char *word, size_t len, const char *lower)
{
    if (strlen(lower) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (to_lower(word[i]) != lower[i])
            return false;
    }
    return true;
}


static const duration_unit *find_unit(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
        if (word_equals(word, len, UNITS[i].name))
            return &UNITS[i];
    }
    return NULL;
}


/* Explains why no number starts at p->pos, which is not the end. */
static int fail_no_number(duration_parser *p)
{
    char c = p->text[p->pos];
    char quoted[QUOTE_BUF_SIZE];
    char reason[QUOTE_BUF_SIZE + 128];

    if (c == '-')
        return fail(p, JY_EINVAL, "durations must not be negative");

    if (is_letter(c)) {
        size_t end = scan_letters(p, p->pos);
        const char *word = p->text + p->pos;
        size_t word_len = end - p->pos;

        jy_quote_text(word, word_len, 32, quoted);
        if (word_equals(word, word_len, "nan") ||
            word_equals(word, word_len, "inf") ||
            word_equals(word, word_len, "infinity")) {
            snprintf(reason, sizeof reason,
                     "%s is not a number (write a number and a unit, "
                     "such as \"5s\")",
                     quoted);
        } else if (find_unit(word, word_len) != NULL &&
                   !(word_len == 1 && word[0] == 'M')) {
            snprintf(reason, sizeof reason,
                     "missing number before %s (for example \"1%.*s\")",
                     quoted, (int)word_len, word);
        } else {
            snprintf(reason, sizeof reason,
                     "expected a number at %s (write a number and a unit, "
                     "such as \"5s\")",
                     quoted);
        }
        return fail(p, JY_EINVAL, reason);
    }

    /* Quote the whole character, which may span several UTF-8 bytes.
     * A character takes at most four, so a longer run of continuation
     * bytes is cut there, which also keeps it within the quote buffer. */
    size_t char_len = 1;

    while (char_len < 4 && p->pos + char_len < p->len &&
           ((unsigned char)p->text[p->pos + char_len] & 0xc0) == 0x80)
        char_len++;
    jy_quote_text(&p->text[p->pos], char_len, char_len, quoted);
    snprintf(reason, sizeof reason, "unexpected %s where a number belongs",
             quoted);
    return fail(p, JY_EINVAL, reason);
}


/* Reads "<digits>[.<digits>]", optional spaces and a unit word into
 * part. p->pos is at a non-space character when this is called. */
static int scan_part(duration_parser *p, duration_part *part)
{
    char quoted[QUOTE_BUF_SIZE];
    char reason[QUOTE_BUF_SIZE * 2 + 128];
    size_t number_start = p->pos;

    part->int_start = p->pos;
    while (!at_end(p) && is_digit(p->text[p->pos]))
        p->pos++;
    part->int_end = p->pos;
    part->frac_start = part->frac_end = p->pos;

    if (!at_end(p) && p->text[p->pos] == '.') {
        p->pos++;
        part->frac_start = p->pos;
        while (!at_end(p) && is_digit(p->text[p->pos]))
            p->pos++;
        part->frac_end = p->pos;
        if (part->frac_start == part->frac_end) {
            jy_quote_text(p->text + number_start, p->pos - number_start, 32,
                       quoted);
            snprintf(reason, sizeof reason, "missing digits after %s",
                     quoted);
            return fail(p, JY_EINVAL, reason);
        }
    } else if (part->int_start == part->int_end) {
        return fail_no_number(p);
    }

    size_t number_end = p->pos;
    skip_spaces(p);

    size_t unit_start = p->pos;
    size_t unit_end = scan_letters(p, unit_start);
    const char *unit = p->text + unit_start;
    size_t unit_len = unit_end - unit_start;

    if (unit_len == 0) {
        jy_quote_text(p->text + number_start, number_end - number_start, 32,
                   quoted);
        snprintf(reason, sizeof reason,
                 "missing unit after %s (write \"%.*ss\" for seconds, "
                 "or use ms, m, h, d, w, y or mo)",
                 quoted, (int)(number_end - number_start > 32
                                   ? 32
                                   : number_end - number_start),
                 p->text + number_start);
        return fail(p, JY_EINVAL, reason);
    }

    if (unit_len == 1 && unit[0] == 'M') {
        return fail(p, JY_EINVAL,
                    "unit \"M\" is ambiguous (use \"m\" or \"min\" for "
                    "minutes, \"mo\" for months)");
    }

    part->unit = find_unit(unit, unit_len);
    if (part->unit == NULL) {
        jy_quote_text(unit, unit_len, 32, quoted);
        snprintf(reason, sizeof reason,
                 "unknown unit %s (use " UNIT_LIST ")", quoted);
        return fail(p, JY_EINVAL, reason);
    }

    p->pos = unit_end;
    return 0;
}


/* Reads the decimal digits text[start..end) into *value. Returns false
 * when the number does not fit in int64_t. */
static bool digits_to_int64(const char *text, size_t start, size_t end,
                            int64_t *value)
{
    int64_t result = 0;

    for (size_t i = start; i < end; i++) {
        if (__builtin_mul_overflow(result, 10, &result) ||
            __builtin_add_overflow(result, text[i] - '0', &result))
            return false;
    }
    *value = result;
    return true;
}


/* Returns 0.<digits> * unit_ms rounded to the nearest integer, halves
 * up, computed exactly for any number of digits.
 *
 * Going from the last digit to the first, S_j = (d_j * unit + S_{j+1}) / 10
 * is the value of the digits from j on, times unit. Only its integer
 * part A is carried: floor(S_j) is floor((d_j * unit + A) / 10) because
 * the dropped fraction of S_{j+1} is below 1. For the same reason, the
 * final fraction is at least one half exactly when the last remainder
 * is 5 or more. Every step stays below 10 * unit_ms, so nothing
 * overflows. */
static int64_t round_fraction(const char *text, size_t start, size_t end,
                              int64_t unit_ms)
{
    int64_t carried = 0;
    int64_t remainder = 0;

    for (size_t i = end; i > start; i--) {
        int64_t n = (text[i - 1] - '0') * unit_ms + carried;

        carried = n / 10;
        remainder = n % 10;
    }
    return carried + (remainder >= 5 ? 1 : 0);
}


static bool fraction_is_zero(const char *text, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++) {
        if (text[i] != '0')
            return false;
    }
    return true;
}


/* Adds one parsed part to out, checking every step for overflow. */
static int add_part(duration_parser *p, const duration_part *part,
                    jy_duration *out)
{
    int64_t whole;

    if (!digits_to_int64(p->text, part->int_start, part->int_end, &whole))
        return part->unit->months
                   ? fail(p, JY_ERANGE,
                          "too many months (the maximum is 2147483647)")
                   : fail_too_large(p);

    if (part->unit->months) {
        int32_t months;

        if (!fraction_is_zero(p->text, part->frac_start, part->frac_end))
            return fail(p, JY_EINVAL,
                        "months must be whole numbers (combine whole "
                        "months with days, such as \"1mo 15d\")");
        if (whole > INT32_MAX ||
            __builtin_add_overflow(out->months, (int32_t)whole, &months))
            return fail(p, JY_ERANGE,
                        "too many months (the maximum is 2147483647)");
        out->months = months;
        return 0;
    }

    int64_t ms;
    int64_t fraction_ms = round_fraction(p->text, part->frac_start,
                                         part->frac_end, part->unit->ms);

    if (__builtin_mul_overflow(whole, part->unit->ms, &ms) ||
        __builtin_add_overflow(ms, fraction_ms, &ms) ||
        __builtin_add_overflow(out->ms, ms, &ms))
        return fail_too_large(p);
    out->ms = ms;
    return 0;
}


/* Skips the spaces and the one optional comma between two parts.
 * Returns 0 when a part or the end follows, or an error. */
static int skip_separator(duration_parser *p)
{
    skip_spaces(p);
    if (at_end(p) || p->text[p->pos] != ',')
        return 0;

    p->pos++;
    skip_spaces(p);
    if (at_end(p) || p->text[p->pos] == ',')
        return fail(p, JY_EINVAL, "missing number and unit after \",\"");
    return 0;
}


int jy_duration_parse(const char *text, size_t len, jy_duration *out,
                      jy_error *err)
{
    duration_parser p = {.text = text, .len = len, .pos = 0, .err = err};
    jy_duration total = {.ms = 0, .months = 0};

    if (text == NULL) {
        p.text = "";
        p.len = 0;
    }
    skip_spaces(&p);
    if (at_end(&p))
        return fail(&p, JY_EINVAL,
                    "missing number and unit (for example \"5s\" or "
                    "\"1h 30m\")");

    while (!at_end(&p)) {
        duration_part part = {0};
        int rc = scan_part(&p, &part);

        if (rc == 0)
            rc = add_part(&p, &part, &total);
        if (rc == 0)
            rc = skip_separator(&p);
        if (rc != 0)
            return rc;
    }

    *out = total;
    return 0;
}


int jy_duration_from_seconds(double seconds, jy_duration *out, jy_error *err)
{
    /* 2^63, the first double past INT64_MAX. */
    const double limit = 9223372036854775808.0;

    if (isnan(seconds))
        return jy_error_set(err, JY_EINVAL,
                            "invalid duration nan: durations must be numbers");
    if (isinf(seconds))
        return jy_error_set(err, JY_EINVAL,
                            "invalid duration %s: durations must be finite",
                            seconds > 0 ? "inf" : "-inf");
    if (seconds < 0)
        return jy_error_set(err, JY_EINVAL,
                            "invalid duration %g: durations must not be "
                            "negative",
                            seconds);

    /* The product is rounded to a double first, so a Lua literal such as
     * 1.0005 becomes 1000.5 ms and then 1001 ms, as its author expects,
     * although the nearest double to 1.0005 is slightly below it. */
    double ms = round(seconds * 1000.0);

    if (ms >= limit)
        return jy_error_set(err, JY_ERANGE,
                            "invalid duration %g: too large (the maximum is "
                            "9223372036854775 seconds, about 292 million "
                            "years)",
                            seconds);

    out->ms = (int64_t)ms;
    out->months = 0;
    return 0;
}


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


/* Moves t by months calendar months in UTC, keeping the time of day and
 * clamping the day to the length of the target month. */
static bool add_months(jy_time t, int32_t months, jy_time *out)
{
    int64_t ms_of_day;
    int64_t days = floor_div(t, MS_PER_DAY, &ms_of_day);
    int64_t year;
    unsigned month, day;

    jy_civil_from_days(days, &year, &month, &day);

    /* |year| stays below 3e8 for any jy_time and |months| below 2.2e9,
     * so the month index cannot overflow. */
    int64_t index = year * 12 + (int64_t)(month - 1) + months;
    int64_t month_index;
    int64_t new_year = floor_div(index, 12, &month_index);
    unsigned new_month = (unsigned)month_index + 1;
    unsigned last_day = jy_days_in_month(new_year, new_month);

    if (day > last_day)
        day = last_day;
    return instant_from_days(jy_days_from_civil(new_year, new_month, day),
                             ms_of_day, out);
}


int jy_time_add(jy_time t, jy_duration d, jy_time *out, jy_error *err)
{
    jy_time shifted = t;
    jy_time result;

    if ((d.months == 0 || add_months(t, d.months, &shifted)) &&
        !__builtin_add_overflow(shifted, d.ms, &result)) {
        *out = result;
        return 0;
    }

    char when[JY_TIME_TEXT_SIZE];
    char amount[64];

    jy_time_format(t, when);
    if (d.months == 0)
        snprintf(amount, sizeof amount, "%" PRId64 " ms", d.ms);
    else if (d.ms == 0)
        snprintf(amount, sizeof amount, "%" PRId32 " months", d.months);
    else
        snprintf(amount, sizeof amount, "%" PRId32 " months and %" PRId64
                 " ms", d.months, d.ms);
    return jy_error_set(err, JY_ERANGE,
                        "cannot add %s to %s: the result is outside the "
                        "supported time range (about 292 million years "
                        "either side of 1970)",
                        amount, when);
}
