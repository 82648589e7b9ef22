/*
 * Tests of ISO-8601 parsing and formatting and of the civil calendar
 * functions (host/timefmt.c).
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "timefmt.h"

#define MS_PER_DAY INT64_C(86400000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_MINUTE INT64_C(60000)

/* 2011-12-09T12:50:00Z */
#define SAMPLE_INSTANT INT64_C(1323435000000)


/* Checks that text parses to the instant expected, and names the text
 * on failure. */
static void check_parses(const char *text, jy_time expected)
{
    jy_time t = -1;
    jy_error err = {0};
    int rc = jy_time_parse(text, strlen(text), &t, &err);

    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(t, expected);
    if (rc != 0 || t != expected)
        fprintf(stderr, "  while parsing \"%s\": %s\n", text, err.message);
}


/* Checks that text is rejected with JY_EINVAL, and that the message
 * quotes the text and contains reason. */
static void check_rejects(const char *text, const char *reason)
{
    jy_time t = 42;
    jy_error err = {0};
    char quoted[600];
    int rc = jy_time_parse(text, strlen(text), &t, &err);

    snprintf(quoted, sizeof quoted, "invalid time \"%s\": ", text);
    CHECK_INT_EQ(rc, JY_EINVAL);
    CHECK_INT_EQ(err.code, JY_EINVAL);
    CHECK_CONTAINS(err.message, quoted);
    CHECK_CONTAINS(err.message, reason);
    CHECK_INT_EQ(t, 42);
    if (rc != JY_EINVAL)
        fprintf(stderr, "  while parsing \"%s\"\n", text);
}


static void check_formats(jy_time t, const char *expected)
{
    char buf[JY_TIME_TEXT_SIZE];
    size_t len = jy_time_format(t, buf);

    CHECK_STR_EQ(buf, expected);
    CHECK_INT_EQ(len, strlen(expected));
}


/* Checks that format(parse(text)) gives text back. */
static void check_canonical(const char *text)
{
    jy_time t = 0;
    char buf[JY_TIME_TEXT_SIZE];

    CHECK_INT_EQ(jy_time_parse(text, strlen(text), &t, NULL), 0);
    jy_time_format(t, buf);
    CHECK_STR_EQ(buf, text);
}


static int64_t instant(int64_t year, unsigned month, unsigned day,
                       int64_t hour, int64_t minute, int64_t second,
                       int64_t ms)
{
    return jy_days_from_civil(year, month, day) * MS_PER_DAY +
           hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * 1000 + ms;
}


/* xorshift64*, for a sweep that is the same on every run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(2685821657736338717);
}


static void civil_converts_known_dates(void)
{
    CHECK_INT_EQ(jy_days_from_civil(1970, 1, 1), 0);
    CHECK_INT_EQ(jy_days_from_civil(1970, 1, 2), 1);
    CHECK_INT_EQ(jy_days_from_civil(1969, 12, 31), -1);
    CHECK_INT_EQ(jy_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT_EQ(jy_days_from_civil(2000, 2, 29), 11016);
    CHECK_INT_EQ(jy_days_from_civil(1, 1, 1), -719162);
    CHECK_INT_EQ(jy_days_from_civil(0, 3, 1), -719468);
    CHECK_INT_EQ(jy_days_from_civil(0, 1, 1), -719528);
    CHECK_INT_EQ(jy_days_from_civil(10000, 1, 1), 2932897);

    int64_t year = 0;
    unsigned month = 0, day = 0;

    jy_civil_from_days(11016, &year, &month, &day);
    CHECK_INT_EQ(year, 2000);
    CHECK_INT_EQ(month, 2);
    CHECK_INT_EQ(day, 29);

    jy_civil_from_days(-1, &year, &month, &day);
    CHECK_INT_EQ(year, 1969);
    CHECK_INT_EQ(month, 12);
    CHECK_INT_EQ(day, 31);

    jy_civil_from_days(-719529, &year, &month, &day);
    CHECK_INT_EQ(year, -1);
    CHECK_INT_EQ(month, 12);
    CHECK_INT_EQ(day, 31);
}


/* Walks day by day from -2000-01-01 to 10000-12-31 with an independent
 * counter of year, month and day, and compares both conversions on
 * every day. */
static void civil_matches_day_by_day_count(void)
{
    int64_t year = -2000;
    unsigned month = 1, day = 1;
    int64_t days = jy_days_from_civil(year, month, day);
    long mismatches = 0;
    long checked = 0;

    while (year <= 10000) {
        int64_t y;
        unsigned m, d;

        jy_civil_from_days(days, &y, &m, &d);
        if (jy_days_from_civil(year, month, day) != days || y != year ||
            m != month || d != day) {
            if (mismatches == 0)
                fprintf(stderr,
                        "  first mismatch on %lld-%02u-%02u (day %lld)\n",
                        (long long)year, month, day, (long long)days);
            mismatches++;
        }
        checked++;

        days++;
        if (++day > jy_days_in_month(year, month)) {
            day = 1;
            if (++month > 12) {
                month = 1;
                year++;
            }
        }
    }

    CHECK_INT_EQ(mismatches, 0);
    CHECK(checked > 4000000);
}


static void civil_round_trips_extreme_days(void)
{
    /* Every day a jy_time can reach, and a little past it. */
    const int64_t limit = INT64_MAX / MS_PER_DAY + 2;
    const int64_t samples[] = {limit, -limit, limit - 1, -limit + 1,
                               INT64_C(1) << 40, -(INT64_C(1) << 40)};

    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int64_t year;
        unsigned month, day;

        jy_civil_from_days(samples[i], &year, &month, &day);
        CHECK(month >= 1);
        CHECK(month <= 12);
        CHECK(day >= 1);
        CHECK(day <= jy_days_in_month(year, month));
        CHECK_INT_EQ(jy_days_from_civil(year, month, day), samples[i]);
    }

    /* The conversion from days is defined for every int64_t. */
    const int64_t ends[] = {INT64_MIN, INT64_MAX};

    for (size_t i = 0; i < 2; i++) {
        int64_t year;
        unsigned month, day;

        jy_civil_from_days(ends[i], &year, &month, &day);
        CHECK(month >= 1);
        CHECK(month <= 12);
        CHECK(day >= 1);
        CHECK(day <= jy_days_in_month(year, month));
    }
}


static void days_in_month_handles_leap_years(void)
{
    CHECK_INT_EQ(jy_days_in_month(2024, 2), 29);
    CHECK_INT_EQ(jy_days_in_month(2023, 2), 28);
    CHECK_INT_EQ(jy_days_in_month(1900, 2), 28);
    CHECK_INT_EQ(jy_days_in_month(2000, 2), 29);
    CHECK_INT_EQ(jy_days_in_month(2100, 2), 28);
    CHECK_INT_EQ(jy_days_in_month(0, 2), 29);
    CHECK_INT_EQ(jy_days_in_month(-4, 2), 29);
    CHECK_INT_EQ(jy_days_in_month(-1, 2), 28);
    CHECK_INT_EQ(jy_days_in_month(-100, 2), 28);
    CHECK_INT_EQ(jy_days_in_month(-400, 2), 29);
}


static void days_in_month_lists_every_month(void)
{
    static const unsigned expected[12] = {31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};

    for (unsigned month = 1; month <= 12; month++)
        CHECK_INT_EQ(jy_days_in_month(2023, month), expected[month - 1]);
    CHECK_INT_EQ(jy_days_in_month(2023, 0), 0);
    CHECK_INT_EQ(jy_days_in_month(2023, 13), 0);
}


static void time_parse_accepts_utc(void)
{
    check_parses("2011-12-09T12:50:00Z", SAMPLE_INSTANT);
    check_parses("1970-01-01T00:00:00Z", 0);
    check_parses("2022-07-31T22:00:00.025Z", INT64_C(1659304800025));
    check_parses("9999-12-31T23:59:59.999Z", INT64_C(253402300799999));
}


static void time_parse_accepts_fractions(void)
{
    check_parses("2011-12-09T12:50:00.1Z", SAMPLE_INSTANT + 100);
    check_parses("2011-12-09T12:50:00.12Z", SAMPLE_INSTANT + 120);
    check_parses("2011-12-09T12:50:00.123Z", SAMPLE_INSTANT + 123);
    check_parses("2011-12-09T12:50:00.000Z", SAMPLE_INSTANT);
    check_parses("2011-12-09T12:50:00.123456789Z", SAMPLE_INSTANT + 123);
    check_parses("2011-12-09T12:50:00,5Z", SAMPLE_INSTANT + 500);
}


static void time_parse_rounds_fractions(void)
{
    check_parses("2011-12-09T12:50:00.0255Z", SAMPLE_INSTANT + 26);
    check_parses("2011-12-09T12:50:00.0254999Z", SAMPLE_INSTANT + 25);
    check_parses("2011-12-09T12:50:00.0005Z", SAMPLE_INSTANT + 1);
    check_parses("2011-12-09T12:50:00.00049999999999Z", SAMPLE_INSTANT);
    check_parses("2011-12-09T12:50:00.9995Z", SAMPLE_INSTANT + 1000);
    check_parses("2011-12-09T12:50:00.99999999999999999999Z",
                 SAMPLE_INSTANT + 1000);
}


static void time_parse_carries_rounding_into_next_year(void)
{
    check_parses("1999-12-31T23:59:59.9995Z", instant(2000, 1, 1, 0, 0, 0, 0));
    check_parses("1969-12-31T23:59:59.9999Z", 0);
}


static void time_parse_accepts_offsets(void)
{
    check_parses("2011-12-09T13:50:00+01:00", SAMPLE_INSTANT);
    check_parses("2011-12-09T13:50:00+0100", SAMPLE_INSTANT);
    check_parses("2011-12-09T13:50:00+01", SAMPLE_INSTANT);
    check_parses("2011-12-09T07:50:00-05:00", SAMPLE_INSTANT);
    check_parses("2011-12-09T07:50:00-0500", SAMPLE_INSTANT);
    check_parses("2011-12-09T07:50:00-05", SAMPLE_INSTANT);
    check_parses("2011-12-09T18:20:00+05:30", SAMPLE_INSTANT);
    check_parses("2011-12-09T12:50:00+00:00", SAMPLE_INSTANT);
    check_parses("2011-12-09T12:50:00-00:00", SAMPLE_INSTANT);
    check_parses("2011-12-09T13:50:00.025+01:00", SAMPLE_INSTANT + 25);
}


static void time_parse_offset_crosses_midnight(void)
{
    check_parses("2011-12-09T00:30:00+01:00",
                 instant(2011, 12, 8, 23, 30, 0, 0));
    check_parses("2011-12-31T23:30:00-01:00", instant(2012, 1, 1, 0, 30, 0, 0));
    check_parses("2024-03-01T00:00:00+23:59", instant(2024, 2, 29, 0, 1, 0, 0));
    check_parses("1970-01-01T00:00:00+00:01", -MS_PER_MINUTE);
}


static void time_parse_accepts_lowercase_and_space(void)
{
    check_parses("2011-12-09t12:50:00z", SAMPLE_INSTANT);
    check_parses("2011-12-09 12:50:00Z", SAMPLE_INSTANT);
    check_parses("2011-12-09 12:50:00.000+00:00", SAMPLE_INSTANT);
}


static void time_parse_accepts_bare_date(void)
{
    check_parses("2011-12-09", instant(2011, 12, 9, 0, 0, 0, 0));
    check_parses("1970-01-01", 0);
    check_parses("1969-12-31", -MS_PER_DAY);
}


static void time_parse_accepts_minutes_without_seconds(void)
{
    check_parses("2011-12-09T12:50Z", SAMPLE_INSTANT);
    check_parses("2011-12-09T13:50+01:00", SAMPLE_INSTANT);
}


static void time_parse_trims_whitespace(void)
{
    check_parses("  2011-12-09T12:50:00Z", SAMPLE_INSTANT);
    check_parses("2011-12-09T12:50:00Z\n", SAMPLE_INSTANT);
    check_parses("\t2011-12-09 \r\n", instant(2011, 12, 9, 0, 0, 0, 0));
}


static void time_parse_handles_years_before_1970(void)
{
    check_parses("1969-12-31T23:59:59.999Z", -1);
    check_parses("1969-12-31T23:59:59Z", -1000);
    check_parses("0001-01-01T00:00:00Z", INT64_C(-62135596800000));
    check_parses("0000-01-01T00:00:00Z", -719528 * MS_PER_DAY);
    check_parses("1900-03-01T00:00:00.5Z", instant(1900, 3, 1, 0, 0, 0, 500));
}


static void time_parse_accepts_expanded_years(void)
{
    check_parses("+010000-01-01T00:00:00Z", 2932897 * MS_PER_DAY);
    check_parses("+10000-01-01T00:00:00Z", 2932897 * MS_PER_DAY);
    check_parses("+2011-12-09T12:50:00Z", SAMPLE_INSTANT);
    check_parses("-000001-12-31T00:00:00Z", -719529 * MS_PER_DAY);
    check_parses("+292278994-08-17T07:12:55.807Z", JY_TIME_MAX);
    check_parses("-292275055-05-16T16:47:04.192Z", JY_TIME_MIN);
}


static void time_parse_checks_leap_days(void)
{
    check_parses("2024-02-29T00:00:00Z", instant(2024, 2, 29, 0, 0, 0, 0));
    check_parses("2000-02-29", instant(2000, 2, 29, 0, 0, 0, 0));
    check_parses("0000-02-29", instant(0, 2, 29, 0, 0, 0, 0));
    check_rejects("2023-02-29T00:00:00Z",
                  "day 29 is out of range (February 2023 has 28 days)");
    check_rejects("1900-02-29", "February 1900 has 28 days");
    check_rejects("2024-02-30", "day 30 is out of range (February 2024 has "
                                "29 days)");
}


static void time_parse_rejects_missing_zone(void)
{
    jy_time t;
    jy_error err = {0};

    CHECK_INT_EQ(jy_time_parse("2011-12-09T12:50:00", 19, &t, &err),
                 JY_EINVAL);
    CHECK_STR_EQ(err.message,
                 "invalid time \"2011-12-09T12:50:00\": missing time zone: "
                 "add Z for UTC or an offset such as +01:00");

    check_rejects("2011-12-09T12:50", "missing time zone");
    check_rejects("2011-12-09 12:50:00.025", "missing time zone");
}


static void time_parse_rejects_out_of_range_fields(void)
{
    check_rejects("2011-00-09", "month 00 is out of range (01..12)");
    check_rejects("2011-13-09", "month 13 is out of range (01..12)");
    check_rejects("2011-12-00", "day 00 is out of range (December 2011 has "
                                "31 days)");
    check_rejects("2011-12-32", "day 32 is out of range");
    check_rejects("2011-04-31", "day 31 is out of range (April 2011 has 30 "
                                "days)");
    check_rejects("2011-12-09T24:00:00Z", "hour 24 is out of range (00..23)");
    check_rejects("2011-12-09T25:00:00Z", "hour 25 is out of range");
    check_rejects("2011-12-09T12:60:00Z", "minute 60 is out of range (00..59)");
    check_rejects("2011-12-09T12:50:60Z", "second 60 is out of range (00..59");
    check_rejects("2011-12-09T12:50:00+24:00",
                  "time zone offset hour 24 is out of range (00..23)");
    check_rejects("2011-12-09T12:50:00+01:60",
                  "time zone offset minute 60 is out of range (00..59)");
    check_rejects("2011-12-09T12:50:00-0160",
                  "time zone offset minute 60 is out of range");
}


static void time_parse_rejects_malformed_text(void)
{
    static const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"hello", "expected a date as YYYY-MM-DD"},
        {"2011", "expected a date as YYYY-MM-DD"},
        {"2011-12", "expected a date as YYYY-MM-DD"},
        {"2011-12-9", "expected a date as YYYY-MM-DD"},
        {"2011-1-09", "expected a date as YYYY-MM-DD"},
        {"2011/12/09", "expected a date as YYYY-MM-DD"},
        {"20111209", "expected a date as YYYY-MM-DD"},
        {"2011-12-090", "expected a date as YYYY-MM-DD"},
        {"211-12-09", "expected a date as YYYY-MM-DD"},
        {"20111-12-09", "years past 9999 need a sign"},
        {"+201-12-09", "a year with a sign needs 4 to 9 digits"},
        {"+0000000001-12-09", "a year with a sign needs 4 to 9 digits"},
        {"-0000-01-01", "year -0 is invalid"},
        {"2011-12-09X12:50:00Z", "unexpected text \"X12:50:00Z\" after the "
                                 "date"},
        {"2011-12-09T", "expected a time as HH:MM:SS after the date"},
        {"2011-12-09T12", "expected a time as HH:MM:SS after the date"},
        {"2011-12-09T1:50:00Z", "expected a time as HH:MM:SS after the date"},
        {"2011-12-09T12:5:00Z", "expected a time as HH:MM:SS after the date"},
        {"2011-12-09T12:50:0Z", "expected two digits of seconds"},
        {"2011-12-09T12:50:00.Z", "missing digits in the fraction"},
        {"2011-12-09T12:50.5Z", "unexpected text \".5Z\" after the time"},
        {"2011-12-09T12:50:00 UTC", "unexpected text \" UTC\" after the time "
                                    "(expected Z or an offset such as "
                                    "+01:00)"},
        {"2011-12-09T12:50:00Zjunk", "unexpected text \"junk\" after the time "
                                     "zone"},
        {"2011-12-09T12:50:00ZZ", "unexpected text \"Z\" after the time zone"},
        {"2011-12-09T12:50:00+1", "expected a time zone offset as +HH:MM"},
        {"2011-12-09T12:50:00+01:", "expected a time zone offset as +HH:MM"},
        {"2011-12-09T12:50:00+01:0", "expected a time zone offset as +HH:MM"},
        {"2011-12-09T12:50:00+010", "expected a time zone offset as +HH:MM"},
        {"2011-12-09T12:50:00+01000", "expected a time zone offset as +HH:MM"},
        {"2011-12-09T12:50:00+01:00:00", "unexpected text \":00\" after the "
                                         "time zone"},
        {"2011-12-09T12:50:00+", "expected a time zone offset as +HH:MM"},
        {"2011-12-09  12:50:00Z", "expected a time as HH:MM:SS"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_rejects(cases[i].text, cases[i].reason);
}


static void time_parse_rejects_empty(void)
{
    check_rejects("", "missing date");
    check_rejects("   ", "missing date");
    check_rejects("", "\"2011-12-09T12:50:00Z\"");

    jy_time t;
    jy_error err = {0};

    CHECK_INT_EQ(jy_time_parse(NULL, 0, &t, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "invalid time \"\": missing date");
}


static void time_parse_rejects_out_of_range_years(void)
{
    check_rejects("+292278994-08-17T07:12:55.808Z",
                  "outside the supported time range");
    check_rejects("-292275055-05-16T16:47:04.191Z",
                  "outside the supported time range");
    check_rejects("+999999999-12-31T00:00:00Z",
                  "outside the supported time range");
    check_rejects("-999999999-01-01", "outside the supported time range");
}


static void time_parse_message_stays_on_one_line(void)
{
    const char text[] = "2011-12-09T12:50:00Z\n\"x\"";
    jy_time t;
    jy_error err = {0};

    CHECK_INT_EQ(jy_time_parse(text, sizeof text - 1, &t, &err), JY_EINVAL);
    CHECK(strchr(err.message, '\n') == NULL);
    CHECK_CONTAINS(err.message,
                   "invalid time \"2011-12-09T12:50:00Z\\x0a\\\"x\\\"\"");
}


static void time_parse_message_truncates_long_text(void)
{
    char text[300];
    jy_time t;
    jy_error err = {0};

    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    memcpy(text, "2011-12-09T12:50:00Z", 20);

    CHECK_INT_EQ(jy_time_parse(text, strlen(text), &t, &err), JY_EINVAL);
    CHECK_CONTAINS(err.message, "\"...");
    CHECK_CONTAINS(err.message, "after the time zone");
    CHECK(strlen(err.message) < 200);
}


static void time_parse_reads_only_given_length(void)
{
    const char *text = "2011-12-09T12:50:00Zjunk";
    jy_time t = 0;

    CHECK_INT_EQ(jy_time_parse(text, 20, &t, NULL), 0);
    CHECK_INT_EQ(t, SAMPLE_INSTANT);
    CHECK_INT_EQ(jy_time_parse(text, 10, &t, NULL), 0);
    CHECK_INT_EQ(t, instant(2011, 12, 9, 0, 0, 0, 0));
    CHECK_INT_EQ(jy_time_parse(text, 19, &t, NULL), JY_EINVAL);
}


static void time_format_writes_utc(void)
{
    check_formats(0, "1970-01-01T00:00:00Z");
    check_formats(SAMPLE_INSTANT, "2011-12-09T12:50:00Z");
    check_formats(INT64_C(253402300799000), "9999-12-31T23:59:59Z");
    check_formats(-719528 * MS_PER_DAY, "0000-01-01T00:00:00Z");
}


static void time_format_writes_milliseconds(void)
{
    check_formats(1, "1970-01-01T00:00:00.001Z");
    check_formats(INT64_C(1659304800025), "2022-07-31T22:00:00.025Z");
    check_formats(SAMPLE_INSTANT + 100, "2011-12-09T12:50:00.100Z");
    check_formats(SAMPLE_INSTANT + 999, "2011-12-09T12:50:00.999Z");
}


static void time_format_handles_negative_instants(void)
{
    check_formats(-1, "1969-12-31T23:59:59.999Z");
    check_formats(-1000, "1969-12-31T23:59:59Z");
    check_formats(-MS_PER_DAY, "1969-12-31T00:00:00Z");
    check_formats(-MS_PER_DAY - 1, "1969-12-30T23:59:59.999Z");
    check_formats(INT64_C(-62135596800000), "0001-01-01T00:00:00Z");
    check_formats(INT64_C(-62135596800001), "0000-12-31T23:59:59.999Z");
}


static void time_format_writes_expanded_years(void)
{
    check_formats(2932897 * MS_PER_DAY, "+010000-01-01T00:00:00Z");
    check_formats(-719528 * MS_PER_DAY - 1, "-000001-12-31T23:59:59.999Z");
    check_formats(JY_TIME_MAX, "+292278994-08-17T07:12:55.807Z");
    check_formats(JY_TIME_MIN, "-292275055-05-16T16:47:04.192Z");
}


static void time_format_fits_buffer(void)
{
    char buf[JY_TIME_TEXT_SIZE];

    CHECK(jy_time_format(JY_TIME_MIN, buf) < JY_TIME_TEXT_SIZE);
    CHECK(jy_time_format(JY_TIME_MAX, buf) < JY_TIME_TEXT_SIZE);
    CHECK(jy_time_format(JY_TIME_MIN + 1, buf) < JY_TIME_TEXT_SIZE);
}


static void time_parse_round_trips_canonical_text(void)
{
    check_canonical("2011-12-09T12:50:00Z");
    check_canonical("2022-07-31T22:00:00.025Z");
    check_canonical("1969-12-31T23:59:59.999Z");
    check_canonical("0000-02-29T12:00:00Z");
    check_canonical("9999-12-31T23:59:59.999Z");
    check_canonical("+010000-01-01T00:00:00Z");
    check_canonical("-000001-01-01T00:00:00.001Z");
    check_canonical("+292278994-08-17T07:12:55.807Z");
    check_canonical("-292275055-05-16T16:47:04.192Z");
}


static void time_round_trips_extreme_instants(void)
{
    const jy_time samples[] = {
        JY_TIME_MIN, JY_TIME_MIN + 1, JY_TIME_MIN + 999, JY_TIME_MAX,
        JY_TIME_MAX - 1, JY_TIME_MAX - 999, -1, 0, 1, -MS_PER_DAY,
    };

    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[JY_TIME_TEXT_SIZE];
        size_t len = jy_time_format(samples[i], buf);
        jy_time parsed = 0;
        jy_error err = {0};

        CHECK_INT_EQ(jy_time_parse(buf, len, &parsed, &err), 0);
        CHECK_INT_EQ(parsed, samples[i]);
    }
}


/* Formats and parses 100,000 pseudo-random instants from 0001-01-01 to
 * 9999-12-31, half of them on whole seconds so both output forms are
 * covered. */
static void time_round_trips_random_instants(void)
{
    const jy_time first = instant(1, 1, 1, 0, 0, 0, 0);
    const jy_time last = instant(10000, 1, 1, 0, 0, 0, 0) - 1;
    const uint64_t span = (uint64_t)(last - first) + 1;
    uint64_t state = UINT64_C(0x9e3779b97f4a7c15);
    long mismatches = 0;
    long with_fraction = 0;

    for (int i = 0; i < 100000; i++) {
        jy_time t = first + (jy_time)(next_random(&state) % span);
        char buf[JY_TIME_TEXT_SIZE];
        jy_time parsed = 0;
        jy_error err = {0};

        if (i % 2 == 0)
            t -= ((t % 1000) + 1000) % 1000;
        size_t len = jy_time_format(t, buf);
        int rc = jy_time_parse(buf, len, &parsed, &err);

        if (strchr(buf, '.') != NULL)
            with_fraction++;
        if (rc != 0 || parsed != t || len != 20 + (t % 1000 != 0 ? 4 : 0)) {
            if (mismatches == 0)
                fprintf(stderr, "  first mismatch: %lld formats as %s, "
                                "parses as %lld (%s)\n",
                        (long long)t, buf, (long long)parsed, err.message);
            mismatches++;
        }
    }

    CHECK_INT_EQ(mismatches, 0);
    CHECK(with_fraction > 40000);
    CHECK(with_fraction < 60000);
}


static void time_parse_accepts_null_error(void)
{
    jy_time t;

    CHECK_INT_EQ(jy_time_parse("2023-02-29", 10, &t, NULL), JY_EINVAL);
    CHECK_INT_EQ(jy_time_parse("2011-12-09T12:50:00", 19, &t, NULL),
                 JY_EINVAL);
}


int main(void)
{
    civil_converts_known_dates();
    civil_matches_day_by_day_count();
    civil_round_trips_extreme_days();
    days_in_month_handles_leap_years();
    days_in_month_lists_every_month();
    time_parse_accepts_utc();
    time_parse_accepts_fractions();
    time_parse_rounds_fractions();
    time_parse_carries_rounding_into_next_year();
    time_parse_accepts_offsets();
    time_parse_offset_crosses_midnight();
    time_parse_accepts_lowercase_and_space();
    time_parse_accepts_bare_date();
    time_parse_accepts_minutes_without_seconds();
    time_parse_trims_whitespace();
    time_parse_handles_years_before_1970();
    time_parse_accepts_expanded_years();
    time_parse_checks_leap_days();
    time_parse_rejects_missing_zone();
    time_parse_rejects_out_of_range_fields();
    time_parse_rejects_malformed_text();
    time_parse_rejects_empty();
    time_parse_rejects_out_of_range_years();
    time_parse_message_stays_on_one_line();
    time_parse_message_truncates_long_text();
    time_parse_reads_only_given_length();
    time_parse_accepts_null_error();
    time_format_writes_utc();
    time_format_writes_milliseconds();
    time_format_handles_negative_instants();
    time_format_writes_expanded_years();
    time_format_fits_buffer();
    time_parse_round_trips_canonical_text();
    time_round_trips_extreme_instants();
    time_round_trips_random_instants();
    return check_summary("test_timefmt");
}
