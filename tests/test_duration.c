/*
 * Tests of duration parsing (host/duration.c) and of adding durations
 * to instants.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "duration.h"
#include "timefmt.h"

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)
#define MS_PER_WEEK INT64_C(604800000)
#define MS_PER_YEAR INT64_C(31557600000)


/* Checks that text parses to ms milliseconds and months months, and
 * names the text on failure. */
static void check_parses(const char *text, int64_t ms, int32_t months)
{
    jy_duration d = {.ms = -1, .months = -1};
    jy_error err = {0};
    int rc = jy_duration_parse(text, strlen(text), &d, &err);

    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(d.ms, ms);
    CHECK_INT_EQ(d.months, months);
    if (rc != 0 || d.ms != ms || d.months != months)
        fprintf(stderr, "  while parsing \"%s\": %s\n", text, err.message);
}


/* Checks that text is rejected with code, and that the message quotes
 * the text and contains reason. Returns the message for further checks. */
static const char *check_rejects(const char *text, int code,
                                 const char *reason)
{
    static jy_error err;
    char quoted[600];
    jy_duration d = {.ms = 0, .months = 0};
    int rc;

    memset(&err, 0, sizeof err);
    rc = jy_duration_parse(text, strlen(text), &d, &err);
    snprintf(quoted, sizeof quoted, "invalid duration \"%s\": ", text);

    CHECK_INT_EQ(rc, code);
    CHECK_INT_EQ(err.code, code);
    CHECK_CONTAINS(err.message, quoted);
    CHECK_CONTAINS(err.message, reason);
    if (rc != code)
        fprintf(stderr, "  while parsing \"%s\"\n", text);
    return err.message;
}


/* Parses start, adds months and ms, and checks the formatted result. */
static void check_add(const char *start, int32_t months, int64_t ms,
                      const char *expected)
{
    jy_time t = 0;
    jy_time result = 0;
    jy_duration d = {.ms = ms, .months = months};
    jy_error err = {0};
    char text[JY_TIME_TEXT_SIZE];

    CHECK_INT_EQ(jy_time_parse(start, strlen(start), &t, &err), 0);
    CHECK_INT_EQ(jy_time_add(t, d, &result, &err), 0);
    jy_time_format(result, text);
    CHECK_STR_EQ(text, expected);
    if (strcmp(text, expected) != 0)
        fprintf(stderr, "  while adding %d months and %lld ms to %s: %s\n",
                (int)months, (long long)ms, start, err.message);
}


static void duration_parses_short_units(void)
{
    check_parses("500ms", 500, 0);
    check_parses("90s", 90 * MS_PER_SECOND, 0);
    check_parses("15m", 15 * MS_PER_MINUTE, 0);
    check_parses("2h", 2 * MS_PER_HOUR, 0);
    check_parses("7d", 7 * MS_PER_DAY, 0);
    check_parses("2w", 2 * MS_PER_WEEK, 0);
    check_parses("1y", MS_PER_YEAR, 0);
    check_parses("3mo", 0, 3);
    check_parses("0s", 0, 0);
    check_parses("0mo", 0, 0);
}


static void duration_parses_long_units(void)
{
    static const struct {
        const char *text;
        int64_t ms;
        int32_t months;
    } cases[] = {
        {"2ms", 2, 0},
        {"2msec", 2, 0},
        {"2msecs", 2, 0},
        {"2millisecond", 2, 0},
        {"2milliseconds", 2, 0},
        {"2sec", 2 * MS_PER_SECOND, 0},
        {"2secs", 2 * MS_PER_SECOND, 0},
        {"2second", 2 * MS_PER_SECOND, 0},
        {"2seconds", 2 * MS_PER_SECOND, 0},
        {"2min", 2 * MS_PER_MINUTE, 0},
        {"2mins", 2 * MS_PER_MINUTE, 0},
        {"2minute", 2 * MS_PER_MINUTE, 0},
        {"2minutes", 2 * MS_PER_MINUTE, 0},
        {"2hr", 2 * MS_PER_HOUR, 0},
        {"2hrs", 2 * MS_PER_HOUR, 0},
        {"2hour", 2 * MS_PER_HOUR, 0},
        {"2hours", 2 * MS_PER_HOUR, 0},
        {"2day", 2 * MS_PER_DAY, 0},
        {"2days", 2 * MS_PER_DAY, 0},
        {"2week", 2 * MS_PER_WEEK, 0},
        {"2weeks", 2 * MS_PER_WEEK, 0},
        {"2yr", 2 * MS_PER_YEAR, 0},
        {"2yrs", 2 * MS_PER_YEAR, 0},
        {"2year", 2 * MS_PER_YEAR, 0},
        {"2years", 2 * MS_PER_YEAR, 0},
        {"2month", 0, 2},
        {"2months", 0, 2},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_parses(cases[i].text, cases[i].ms, cases[i].months);
}


static void duration_ignores_unit_case(void)
{
    check_parses("1H", MS_PER_HOUR, 0);
    check_parses("2 Days", 2 * MS_PER_DAY, 0);
    check_parses("5MIN", 5 * MS_PER_MINUTE, 0);
    check_parses("5Min", 5 * MS_PER_MINUTE, 0);
    check_parses("3MS", 3, 0);
    check_parses("3Ms", 3, 0);
    check_parses("1Mo", 0, 1);
    check_parses("1MO", 0, 1);
    check_parses("2 Months", 0, 2);
    check_parses("1S", MS_PER_SECOND, 0);
    check_parses("1W", MS_PER_WEEK, 0);
    check_parses("1Y", MS_PER_YEAR, 0);
}


static void duration_accepts_space_before_unit(void)
{
    check_parses("2 days", 2 * MS_PER_DAY, 0);
    check_parses("1.5 hours", 90 * MS_PER_MINUTE, 0);
    check_parses("10\tminutes", 10 * MS_PER_MINUTE, 0);
    check_parses("3   months", 0, 3);
}


static void duration_parses_decimals(void)
{
    check_parses("1.5h", 90 * MS_PER_MINUTE, 0);
    check_parses(".5h", 30 * MS_PER_MINUTE, 0);
    check_parses("0.25s", 250, 0);
    check_parses("0.1s", 100, 0);
    check_parses("2.5d", 60 * MS_PER_HOUR, 0);
    check_parses("0.5y", MS_PER_YEAR / 2, 0);
    check_parses("1.0mo", 0, 1);
    check_parses("007s", 7 * MS_PER_SECOND, 0);
}


static void duration_rounds_half_away_from_zero(void)
{
    check_parses("1.5ms", 2, 0);
    check_parses("2.5ms", 3, 0);
    check_parses("1.4ms", 1, 0);
    check_parses("1.49999ms", 1, 0);
    check_parses("0.5ms", 1, 0);
    check_parses("0.4ms", 0, 0);
    check_parses("0.0005s", 1, 0);
    check_parses("0.0004999s", 0, 0);
    check_parses("1.0005s", 1001, 0);
}


static void duration_rounds_long_fractions_exactly(void)
{
    /* 1/3 s and 2/3 s written with more digits than an int64 holds. */
    check_parses("0.333333333333333333333333333333s", 333, 0);
    check_parses("0.666666666666666666666666666666s", 667, 0);
    /* Exactly half a millisecond after many zero digits rounds up, and
     * anything below it rounds down. */
    check_parses("0.00050000000000000000000000s", 1, 0);
    check_parses("0.00049999999999999999999999s", 0, 0);
    check_parses("0.000000001y", 32, 0); /* 31.5576 ms */
}


static void duration_rounds_each_part(void)
{
    /* Each part of a compound rounds on its own. */
    check_parses("0.5ms 0.5ms", 2, 0);
    check_parses("0.4ms 0.4ms", 0, 0);
}


static void duration_parses_compounds(void)
{
    check_parses("1h 30m", 90 * MS_PER_MINUTE, 0);
    check_parses("1h30m", 90 * MS_PER_MINUTE, 0);
    check_parses("1d, 2h", MS_PER_DAY + 2 * MS_PER_HOUR, 0);
    check_parses("1d,2h", MS_PER_DAY + 2 * MS_PER_HOUR, 0);
    check_parses("1d ,2h", MS_PER_DAY + 2 * MS_PER_HOUR, 0);
    check_parses("1 day, 2 hours, 3 minutes",
                 MS_PER_DAY + 2 * MS_PER_HOUR + 3 * MS_PER_MINUTE, 0);
    check_parses("1h 1h", 2 * MS_PER_HOUR, 0);
    check_parses("1h.5h", 90 * MS_PER_MINUTE, 0);
    check_parses("1mo 15d", 15 * MS_PER_DAY, 1);
    check_parses("1y 2mo 3d", MS_PER_YEAR + 3 * MS_PER_DAY, 2);
    check_parses("1mo 1mo", 0, 2);
    check_parses("1w2d3h4m5s6ms",
                 MS_PER_WEEK + 2 * MS_PER_DAY + 3 * MS_PER_HOUR +
                     4 * MS_PER_MINUTE + 5 * MS_PER_SECOND + 6,
                 0);
}


static void duration_allows_surrounding_whitespace(void)
{
    check_parses("  5s", 5 * MS_PER_SECOND, 0);
    check_parses("5s  ", 5 * MS_PER_SECOND, 0);
    check_parses("\t\n 1h 30m \r\n", 90 * MS_PER_MINUTE, 0);
}


static void duration_year_is_365_25_days(void)
{
    check_parses("1y", INT64_C(31557600000), 0);
    check_parses("1y", 365 * MS_PER_DAY + 6 * MS_PER_HOUR, 0);
    check_parses("4y", 1461 * MS_PER_DAY, 0);
}


static void duration_week_is_7_days(void)
{
    check_parses("1w", 7 * MS_PER_DAY, 0);
    check_parses("1 week", INT64_C(604800000), 0);
}


static void duration_hundred_years_fits(void)
{
    check_parses("100y", INT64_C(3155760000000), 0);
    check_parses("1000000 years", INT64_C(31557600000000000), 0);
}


static void duration_accepts_maximum_values(void)
{
    check_parses("9223372036854775807ms", INT64_MAX, 0);
    check_parses("9223372036854775806.5ms", INT64_MAX, 0);
    check_parses("292271023y", INT64_C(292271023) * MS_PER_YEAR, 0);
    check_parses("106751991167d", INT64_C(106751991167) * MS_PER_DAY, 0);
    check_parses("2147483647mo", 0, INT32_MAX);
    check_parses("2147483646mo 1mo", 0, INT32_MAX);
}


static void duration_reads_only_given_length(void)
{
    const char *text = "1h30m";
    jy_duration d = {.ms = 0, .months = 0};

    CHECK_INT_EQ(jy_duration_parse(text, 2, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, MS_PER_HOUR);
    CHECK_INT_EQ(d.months, 0);
}


static void duration_rejects_empty(void)
{
    check_rejects("", JY_EINVAL, "missing number and unit");
    check_rejects("   ", JY_EINVAL, "missing number and unit");
    check_rejects("", JY_EINVAL, "\"5s\"");
}


static void duration_rejects_null_text(void)
{
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_parse(NULL, 0, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration \"\": missing number");
}


static void duration_rejects_missing_unit(void)
{
    const char *message = check_rejects("90", JY_EINVAL,
                                        "missing unit after \"90\"");

    CHECK_CONTAINS(message, "\"90s\"");

    message = check_rejects("1.5", JY_EINVAL, "missing unit after \"1.5\"");
    CHECK_CONTAINS(message, "\"1.5s\"");

    check_rejects("1h 30", JY_EINVAL, "missing unit after \"30\"");
    check_rejects("5s5", JY_EINVAL, "missing unit after \"5\"");
    check_rejects("1h, 30 ,2m", JY_EINVAL, "missing unit after \"30\"");
}


static void duration_rejects_unknown_unit(void)
{
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_parse("1 secnd", 7, &d, &err), JY_EINVAL);
    CHECK_STR_EQ(err.message,
                 "invalid duration \"1 secnd\": unknown unit \"secnd\" "
                 "(use ms, s, m, h, d, w, y or mo)");

    check_rejects("5x", JY_EINVAL, "unknown unit \"x\"");
    check_rejects("1h 5sx", JY_EINVAL, "unknown unit \"sx\"");
    check_rejects("3 mths", JY_EINVAL, "unknown unit \"mths\"");
    check_rejects("1e3s", JY_EINVAL, "unknown unit \"e\"");
}


static void duration_rejects_negative(void)
{
    check_rejects("-5s", JY_EINVAL, "durations must not be negative");
    check_rejects("- 5s", JY_EINVAL, "durations must not be negative");
    check_rejects("1h -5m", JY_EINVAL, "durations must not be negative");
    check_rejects("-0s", JY_EINVAL, "durations must not be negative");
}


static void duration_rejects_nan_and_infinity(void)
{
    check_rejects("NaN", JY_EINVAL, "\"NaN\" is not a number");
    check_rejects("nan s", JY_EINVAL, "\"nan\" is not a number");
    check_rejects("inf", JY_EINVAL, "\"inf\" is not a number");
    check_rejects("Infinity", JY_EINVAL, "\"Infinity\" is not a number");
    check_rejects("1h infinity", JY_EINVAL, "\"infinity\" is not a number");
}


static void duration_rejects_ambiguous_capital_m(void)
{
    const char *message = check_rejects("1M", JY_EINVAL,
                                        "unit \"M\" is ambiguous");

    CHECK_CONTAINS(message, "\"m\" or \"min\" for minutes");
    CHECK_CONTAINS(message, "\"mo\" for months");

    check_rejects("5 M", JY_EINVAL, "unit \"M\" is ambiguous");
    check_rejects("1h 5M", JY_EINVAL, "unit \"M\" is ambiguous");
    check_rejects("1.5M", JY_EINVAL, "unit \"M\" is ambiguous");
}


static void duration_rejects_fractional_months(void)
{
    const char *message = check_rejects("1.5mo", JY_EINVAL,
                                        "months must be whole numbers");

    CHECK_CONTAINS(message, "\"1mo 15d\"");

    check_rejects("0.1 months", JY_EINVAL, "months must be whole numbers");
    check_rejects("2mo .5mo", JY_EINVAL, "months must be whole numbers");
}


static void duration_rejects_missing_number(void)
{
    const char *message = check_rejects("h", JY_EINVAL,
                                        "missing number before \"h\"");

    CHECK_CONTAINS(message, "\"1h\"");

    check_rejects("1h min", JY_EINVAL, "missing number before \"min\"");
    check_rejects("hours", JY_EINVAL, "missing number before \"hours\"");
    check_rejects("1h hello", JY_EINVAL, "expected a number at \"hello\"");
    check_rejects("soon", JY_EINVAL, "expected a number at \"soon\"");
    check_rejects("M", JY_EINVAL, "expected a number at \"M\"");
}


static void duration_rejects_stray_characters(void)
{
    check_rejects("1h!", JY_EINVAL, "unexpected \"!\" where a number belongs");
    check_rejects("+5s", JY_EINVAL, "unexpected \"+\" where a number belongs");
    check_rejects("5s;2m", JY_EINVAL,
                  "unexpected \";\" where a number belongs");
    check_rejects("1h,", JY_EINVAL, "missing number and unit after \",\"");
    check_rejects("1h, ", JY_EINVAL, "missing number and unit after \",\"");
    check_rejects("1h,,2m", JY_EINVAL, "missing number and unit after \",\"");
    check_rejects(",1h", JY_EINVAL, "unexpected \",\" where a number belongs");
    check_rejects("1.h", JY_EINVAL, "missing digits after \"1.\"");
    check_rejects(".", JY_EINVAL, "missing digits after \".\"");
    check_rejects("5 s\xc2\xb5", JY_EINVAL,
                  "unexpected \"\xc2\xb5\" where a number belongs");

    /* A run of continuation bytes longer than any character: the
     * message quotes four of them, within its buffer. */
    char stray[301];
    memset(stray, '\xa7', 300);
    stray[300] = '\0';
    jy_error err;
    jy_duration d = {.ms = 0, .months = 0};
    CHECK_INT_EQ(jy_duration_parse(stray, 300, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "unexpected \"\xa7\xa7\xa7\xa7\" where a number belongs");
}


static void duration_rejects_overflow(void)
{
    const char *message = check_rejects("9223372036854775808ms", JY_ERANGE,
                                        "too large");

    CHECK_CONTAINS(message, "292 million years");

    check_rejects("99999999999999999999999s", JY_ERANGE, "too large");
    check_rejects("9223372036854775807ms 1ms", JY_ERANGE, "too large");
    check_rejects("9223372036854775807.5ms", JY_ERANGE, "too large");
    check_rejects("292271024y", JY_ERANGE, "too large");
    check_rejects("106751991168d", JY_ERANGE, "too large");
    check_rejects("9223372036854775807s", JY_ERANGE, "too large");
    check_rejects("2147483648mo", JY_ERANGE, "too many months");
    check_rejects("2147483647mo 1mo", JY_ERANGE, "too many months");
    check_rejects("99999999999999999999mo", JY_ERANGE, "too many months");
}


static void duration_message_stays_on_one_line(void)
{
    const char text[] = "1 x\ny\"z\\";
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_parse(text, sizeof text - 1, &d, &err),
                 JY_EINVAL);
    CHECK(strchr(err.message, '\n') == NULL);
    CHECK_CONTAINS(err.message, "\"1 x\\x0ay\\\"z\\\\\"");
}


static void duration_message_quotes_embedded_nul(void)
{
    const char text[] = "1s\0002s";
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_parse(text, sizeof text - 1, &d, &err),
                 JY_EINVAL);
    CHECK_CONTAINS(err.message, "\"1s\\x002s\"");
    CHECK_CONTAINS(err.message, "unexpected \"\\x00\"");
}


static void duration_message_truncates_long_text(void)
{
    char text[400];
    jy_duration d;
    jy_error err = {0};

    memset(text, '1', sizeof text - 1);
    text[sizeof text - 1] = '\0';

    CHECK_INT_EQ(jy_duration_parse(text, strlen(text), &d, &err),
                 JY_EINVAL);
    CHECK_CONTAINS(err.message, "...");
    CHECK_CONTAINS(err.message, "missing unit");
    CHECK(strlen(err.message) < 300);
}


static void duration_accepts_null_error(void)
{
    jy_duration d;

    CHECK_INT_EQ(jy_duration_parse("1 secnd", 7, &d, NULL), JY_EINVAL);
    CHECK_INT_EQ(jy_duration_parse("1e30y", 5, &d, NULL), JY_EINVAL);
    CHECK_INT_EQ(jy_duration_parse("300000000y", 10, &d, NULL), JY_ERANGE);
}


static void from_seconds_rounds_to_ms(void)
{
    jy_duration d = {.ms = -1, .months = -1};

    CHECK_INT_EQ(jy_duration_from_seconds(1.5, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 1500);
    CHECK_INT_EQ(d.months, 0);

    CHECK_INT_EQ(jy_duration_from_seconds(0, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 0);
    CHECK_INT_EQ(jy_duration_from_seconds(-0.0, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 0);
    CHECK_INT_EQ(jy_duration_from_seconds(0.0004, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 0);
    CHECK_INT_EQ(jy_duration_from_seconds(0.0005, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 1);
    CHECK_INT_EQ(jy_duration_from_seconds(0.0025, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 3);
    CHECK_INT_EQ(jy_duration_from_seconds(1.0005, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 1001);
    CHECK_INT_EQ(jy_duration_from_seconds(3155760000.0, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, 100 * MS_PER_YEAR);
    CHECK_INT_EQ(jy_duration_from_seconds(9.2e15, &d, NULL), 0);
    CHECK_INT_EQ(d.ms, INT64_C(9200000000000000000));
}


static void from_seconds_rejects_negative(void)
{
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_from_seconds(-5, &d, &err), JY_EINVAL);
    CHECK_STR_EQ(err.message,
                 "invalid duration -5: durations must not be negative");
    CHECK_INT_EQ(jy_duration_from_seconds(-0.001, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration -0.001:");
    CHECK_INT_EQ(jy_duration_from_seconds(-1e-300, &d, NULL), JY_EINVAL);
}


static void from_seconds_rejects_nan_and_infinity(void)
{
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_from_seconds(NAN, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration nan:");
    CHECK_INT_EQ(jy_duration_from_seconds(-NAN, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration nan:");
    CHECK_INT_EQ(jy_duration_from_seconds(INFINITY, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration inf: durations must be "
                                "finite");
    CHECK_INT_EQ(jy_duration_from_seconds(-INFINITY, &d, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid duration -inf:");
}


static void from_seconds_rejects_out_of_range(void)
{
    jy_duration d;
    jy_error err = {0};

    CHECK_INT_EQ(jy_duration_from_seconds(1e16, &d, &err), JY_ERANGE);
    CHECK_CONTAINS(err.message, "invalid duration 1e+16: too large");
    CHECK_INT_EQ(jy_duration_from_seconds(1e300, &d, &err), JY_ERANGE);
    CHECK_INT_EQ(jy_duration_from_seconds(9223372036854775808.0 / 1000, &d,
                                          NULL),
                 JY_ERANGE);
}


static void time_add_clamps_to_month_end(void)
{
    check_add("2024-01-31T10:20:30.456Z", 1, 0, "2024-02-29T10:20:30.456Z");
    check_add("2023-01-31T10:20:30.456Z", 1, 0, "2023-02-28T10:20:30.456Z");
    check_add("2024-03-31T00:00:00Z", 1, 0, "2024-04-30T00:00:00Z");
    check_add("2024-05-31T23:59:59.999Z", 1, 0, "2024-06-30T23:59:59.999Z");
    check_add("2024-08-31T12:00:00Z", 1, 0, "2024-09-30T12:00:00Z");
    check_add("2024-01-30T12:00:00Z", 1, 0, "2024-02-29T12:00:00Z");
    check_add("2024-01-29T12:00:00Z", 1, 0, "2024-02-29T12:00:00Z");
    check_add("2024-01-28T12:00:00Z", 1, 0, "2024-02-28T12:00:00Z");
    /* The clamped day does not stick: each call starts from its input. */
    check_add("2024-01-31T00:00:00Z", 2, 0, "2024-03-31T00:00:00Z");
}


static void time_add_handles_leap_years(void)
{
    check_add("1900-01-31T00:00:00Z", 1, 0, "1900-02-28T00:00:00Z");
    check_add("2000-01-31T00:00:00Z", 1, 0, "2000-02-29T00:00:00Z");
    check_add("2100-01-31T00:00:00Z", 1, 0, "2100-02-28T00:00:00Z");
    check_add("2024-02-29T08:00:00Z", 12, 0, "2025-02-28T08:00:00Z");
    check_add("2024-02-29T08:00:00Z", 48, 0, "2028-02-29T08:00:00Z");
    check_add("2023-02-28T08:00:00Z", 12, 0, "2024-02-28T08:00:00Z");
}


static void time_add_rolls_december_into_january(void)
{
    check_add("2024-12-15T09:30:00Z", 1, 0, "2025-01-15T09:30:00Z");
    check_add("2024-12-31T09:30:00Z", 1, 0, "2025-01-31T09:30:00Z");
    check_add("2024-12-31T09:30:00Z", 2, 0, "2025-02-28T09:30:00Z");
    check_add("2023-12-31T09:30:00Z", 2, 0, "2024-02-29T09:30:00Z");
    check_add("2024-11-30T09:30:00Z", 3, 0, "2025-02-28T09:30:00Z");
}


static void time_add_twelve_months_is_one_year(void)
{
    check_add("2024-06-15T01:02:03.004Z", 12, 0, "2025-06-15T01:02:03.004Z");
    check_add("2024-01-01T00:00:00Z", 24, 0, "2026-01-01T00:00:00Z");
    check_add("2024-01-01T00:00:00Z", 1200, 0, "2124-01-01T00:00:00Z");
    check_add("2024-07-31T00:00:00Z", 13, 0, "2025-08-31T00:00:00Z");
}


static void time_add_applies_months_before_ms(void)
{
    /* Months first: Feb 29 plus a day is Mar 1. The other order would
     * give Jan 31 plus a month, Feb 29. */
    check_add("2024-01-30T00:00:00Z", 1, MS_PER_DAY, "2024-03-01T00:00:00Z");
    check_add("2024-01-31T23:00:00Z", 1, 2 * MS_PER_HOUR,
              "2024-03-01T01:00:00Z");
}


static void time_add_adds_fixed_ms(void)
{
    check_add("2024-01-01T00:00:00Z", 0, 1, "2024-01-01T00:00:00.001Z");
    check_add("2024-01-01T00:00:00Z", 0, MS_PER_DAY, "2024-01-02T00:00:00Z");
    check_add("2024-01-01T00:00:00Z", 0, MS_PER_YEAR, "2024-12-31T06:00:00Z");
    check_add("2000-01-01T00:00:00Z", 0, 100 * MS_PER_YEAR,
              "2100-01-01T00:00:00Z");
    check_add("2024-01-01T00:00:00Z", 0, 0, "2024-01-01T00:00:00Z");
}


static void time_add_works_before_1970(void)
{
    check_add("1969-12-31T23:59:59.999Z", 1, 0, "1970-01-31T23:59:59.999Z");
    check_add("1960-01-31T06:00:00Z", 1, 0, "1960-02-29T06:00:00Z");
    check_add("1969-12-31T23:59:59.999Z", 0, 1, "1970-01-01T00:00:00Z");
    check_add("1000-01-31T00:00:00Z", 1, 0, "1000-02-28T00:00:00Z");
    check_add("0000-01-31T00:00:00Z", 1, 0, "0000-02-29T00:00:00Z");
    check_add("-000001-12-31T12:00:00Z", 2, 0, "0000-02-29T12:00:00Z");
    check_add("-001000-11-15T00:00:00Z", 2, 0, "-000999-01-15T00:00:00Z");
}


static void time_add_reaches_far_future(void)
{
    check_add("1970-01-01T00:00:00Z", INT32_MAX, 0,
              "+178958940-08-01T00:00:00Z");
    check_add("1970-01-01T00:00:00Z", 0, INT64_C(292271023) * MS_PER_YEAR,
              "+292278994-07-31T18:00:00Z");
}


static void time_add_handles_extreme_instants(void)
{
    jy_duration none = {.ms = 0, .months = 0};
    jy_duration one_month = {.ms = 0, .months = 1};
    jy_time result = 0;
    char text[JY_TIME_TEXT_SIZE];

    CHECK_INT_EQ(jy_time_add(JY_TIME_MIN, none, &result, NULL), 0);
    CHECK_INT_EQ(result, JY_TIME_MIN);
    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX, none, &result, NULL), 0);
    CHECK_INT_EQ(result, JY_TIME_MAX);

    CHECK_INT_EQ(jy_time_add(JY_TIME_MIN, one_month, &result, NULL), 0);
    jy_time_format(result, text);
    CHECK_STR_EQ(text, "-292275055-06-16T16:47:04.192Z");
}


static void time_add_rejects_overflow(void)
{
    jy_duration one_ms = {.ms = 1, .months = 0};
    jy_duration one_month = {.ms = 0, .months = 1};
    jy_duration both = {.ms = 5, .months = 2};
    jy_duration max_months = {.ms = 0, .months = INT32_MAX};
    jy_time result = 42;
    jy_error err = {0};

    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX, one_ms, &result, &err), JY_ERANGE);
    CHECK_INT_EQ(err.code, JY_ERANGE);
    CHECK_CONTAINS(err.message, "cannot add 1 ms to "
                                "+292278994-08-17T07:12:55.807Z");
    CHECK_CONTAINS(err.message, "outside the supported time range");
    CHECK_INT_EQ(result, 42);

    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX, one_month, &result, &err),
                 JY_ERANGE);
    CHECK_CONTAINS(err.message, "cannot add 1 months to");

    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX - 10 * MS_PER_DAY, both, &result,
                             &err),
                 JY_ERANGE);
    CHECK_CONTAINS(err.message, "cannot add 2 months and 5 ms to");

    /* The month step fits, but the ms step after it does not. */
    jy_duration months_then_ms = {.ms = JY_TIME_MAX, .months = 1};

    CHECK_INT_EQ(jy_time_add(0, months_then_ms, &result, &err), JY_ERANGE);

    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX / 2, max_months, &result, &err),
                 JY_ERANGE);
    CHECK_INT_EQ(jy_time_add(JY_TIME_MAX, one_ms, &result, NULL), JY_ERANGE);
}


int main(void)
{
    duration_parses_short_units();
    duration_parses_long_units();
    duration_ignores_unit_case();
    duration_accepts_space_before_unit();
    duration_parses_decimals();
    duration_rounds_half_away_from_zero();
    duration_rounds_long_fractions_exactly();
    duration_rounds_each_part();
    duration_parses_compounds();
    duration_allows_surrounding_whitespace();
    duration_year_is_365_25_days();
    duration_week_is_7_days();
    duration_hundred_years_fits();
    duration_accepts_maximum_values();
    duration_reads_only_given_length();
    duration_rejects_empty();
    duration_rejects_null_text();
    duration_rejects_missing_unit();
    duration_rejects_unknown_unit();
    duration_rejects_negative();
    duration_rejects_nan_and_infinity();
    duration_rejects_ambiguous_capital_m();
    duration_rejects_fractional_months();
    duration_rejects_missing_number();
    duration_rejects_stray_characters();
    duration_rejects_overflow();
    duration_message_stays_on_one_line();
    duration_message_quotes_embedded_nul();
    duration_message_truncates_long_text();
    duration_accepts_null_error();
    from_seconds_rounds_to_ms();
    from_seconds_rejects_negative();
    from_seconds_rejects_nan_and_infinity();
    from_seconds_rejects_out_of_range();
    time_add_clamps_to_month_end();
    time_add_handles_leap_years();
    time_add_rolls_december_into_january();
    time_add_twelve_months_is_one_year();
    time_add_applies_months_before_ms();
    time_add_adds_fixed_ms();
    time_add_works_before_1970();
    time_add_reaches_far_future();
    time_add_handles_extreme_instants();
    time_add_rejects_overflow();
    return check_summary("test_duration");
}
