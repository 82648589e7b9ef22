/*
 * Reading events in the wire format: every accepted shape and every
 * rejection with its reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lua_fixture.h"

static fixture f;


static jy_event *parse(const char *line, jy_error *err)
{
    jy_error_clear(err);
    return jy_lua_parse_event(f.lh, line, strlen(line), 1, 0, err);
}


static void event_line_reads_all_fields(void)
{
    jy_error err;
    jy_event *e = parse("{\"id\":\"e1\",\"user\":\"42\",\"name\":\"app/signed_up\","
                        "\"ts\":\"2024-03-01T10:00:00Z\",\"data\":{\"plan\":\"pro\"}}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->id, "e1");
    CHECK_STR_EQ(e->user, "42");
    CHECK_STR_EQ(e->name, "app/signed_up");
    CHECK_INT_EQ(e->ts, 1709287200000LL);
    CHECK_STR_EQ(e->data_json, "{\"plan\":\"pro\"}");
    CHECK(e->user_json == NULL);
    jy_event_free(e);
}


static void event_line_accepts_event_alias_and_ms_ts(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":\"7\",\"event\":\"shop/cart_added\",\"ts\":1659304800025}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->name, "shop/cart_added");
    CHECK_INT_EQ(e->ts, 1659304800025LL);
    CHECK_STR_EQ(e->data_json, "{}");
    CHECK(e->id == NULL);
    jy_event_free(e);
}


static void event_line_reads_user_object(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":{\"id\":\"u9\",\"email\":\"a@example.test\"},\"name\":\"x\","
                        "\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "u9");
    CHECK(e->user_json != NULL);
    CHECK_CONTAINS(e->user_json, "\"email\":\"a@example.test\"");
    jy_event_free(e);
}


static void event_line_keeps_integer_ids_exact(void)
{
    jy_error err;
    jy_event *e = parse("{\"id\":12345678901,\"user\":{\"id\":17850},\"name\":\"x\",\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->id, "12345678901");
    CHECK_STR_EQ(e->user, "17850");
    jy_event_free(e);
}


static void event_line_reads_numeric_user_as_text(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":17850,\"name\":\"x\",\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "17850");
    jy_event_free(e);
}


static void event_line_keeps_unicode_and_slashes_in_user(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":\"../a b/\xc3\xa9\",\"name\":\"x\",\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "../a b/\xc3\xa9");
    jy_event_free(e);
}


static void check_rejected(const char *line, const char *reason)
{
    jy_error err;
    jy_event *e = parse(line, &err);
    CHECK(e == NULL);
    CHECK_CONTAINS(err.message, reason);
    jy_event_free(e);
}


static void event_line_rejects_with_reasons(void)
{
    check_rejected("{\"user\":\"1\",\"name\":", "invalid JSON");
    check_rejected("not json", "invalid JSON");
    check_rejected("[1,2]", "must be a JSON object, got an array");
    check_rejected("null", "must be a JSON object, got null");
    check_rejected("\"text\"", "must be a JSON object");
    check_rejected("{\"name\":\"x\",\"ts\":0}", "missing \"user\"");
    check_rejected("{\"user\":\"\",\"name\":\"x\",\"ts\":0}", "\"user\" must be a non-empty string");
    check_rejected("{\"user\":true,\"name\":\"x\",\"ts\":0}", "\"user\" must be");
    check_rejected("{\"user\":1.5,\"name\":\"x\",\"ts\":0}",
                   "invalid \"user\" 1.5: give an integer or a string");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":1709294400}", "multiply it by 1000");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",}", "found '}' at character");
    check_rejected("{\"user\":{\"email\":\"a\"},\"name\":\"x\",\"ts\":0}", "needs a non-empty \"id\"");
    check_rejected("{\"user\":\"1\",\"ts\":0}", "missing \"name\"");
    check_rejected("{\"user\":\"1\",\"name\":7,\"ts\":0}", "\"name\" must be a non-empty string");
    check_rejected("{\"user\":\"1\",\"name\":\"x\"}", "missing \"ts\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":\"yesterday\"}", "invalid \"ts\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":\"2024-02-30T00:00:00Z\"}", "invalid \"ts\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":1.5}", "whole milliseconds");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":true}", "invalid \"ts\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":[1]}", "\"data\" must be a JSON object");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":\"s\"}",
                   "\"data\" must be a JSON object, got a string");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"id\":{}}", "\"id\" must be a string or an integer");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"id\":1.5}",
                   "invalid \"id\" 1.5: give an integer or a string");

    /* A NUL would cut these short and name another user or event. */
    check_rejected("{\"user\":\"u\\u0000v\",\"name\":\"x\",\"ts\":0}",
                   "\"user\" contains a NUL character");
    check_rejected("{\"user\":{\"id\":\"q\\u0000\"},\"name\":\"x\",\"ts\":0}",
                   "\"id\" of \"user\" contains a NUL character");
    check_rejected("{\"user\":\"u\",\"name\":\"x\\u0000y\",\"ts\":0}",
                   "\"name\" contains a NUL character");
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":\"a\\u0000b\"}",
                   "\"id\" contains a NUL character");
}


/* Parses a line with the given id and checks the id text. */
static void check_id_text(const char *id, const char *expected)
{
    char line[256];
    snprintf(line, sizeof line, "{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":%s}", id);

    jy_error err;
    jy_event *e = parse(line, &err);
    CHECK(e != NULL);
    if (e == NULL) {
        fprintf(stderr, "  id %s rejected: %s\n", id, err.message);
        return;
    }
    CHECK_STR_EQ(e->id, expected);
    jy_event_free(e);
}


/* Ids are read from their digits, not through a double, which has 53
 * bits and would give 9007199254740993 as 9007199254740992. */
static void event_line_keeps_big_integer_ids_exact(void)
{
    check_id_text("9007199254740993", "9007199254740993");
    check_id_text("9007199254740994", "9007199254740994");
    check_id_text("12345678901234567", "12345678901234567");
    check_id_text("-9007199254740993", "-9007199254740993");
    check_id_text("9223372036854775807", "9223372036854775807");
    check_id_text("-9223372036854775808", "-9223372036854775808");
    check_id_text("-0", "0");

    /* An integer literal beyond 64 bits keeps its digits as text. */
    check_id_text("100000000000000000000", "100000000000000000000");
    check_id_text("-123456789012345678901234567890", "-123456789012345678901234567890");

    /* A whole number with a fraction or exponent gives its integer text,
     * exact within 64 bits. */
    check_id_text("42.0", "42");
    check_id_text("4.2e1", "42");
    check_id_text("9007199254740993.0", "9007199254740993");
    check_id_text("9.007199254740993e15", "9007199254740993");
    check_id_text("-9.223372036854775808E+18", "-9223372036854775808");
    check_id_text("1500e-2", "15");
    check_id_text("0.0e999999999999999999999", "0");

    jy_error err;
    jy_event *e = parse("{\"user\":9007199254740993,\"name\":\"x\",\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e != NULL)
        CHECK_STR_EQ(e->user, "9007199254740993");
    jy_event_free(e);

    e = parse("{\"user\":{\"id\":12345678901234567,\"tier\":\"gold\"},\"name\":\"x\","
              "\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_STR_EQ(e->user, "12345678901234567");
        CHECK_STR_EQ(e->user_json, "{\"id\":12345678901234567,\"tier\":\"gold\"}");
    }
    jy_event_free(e);
}


static void event_line_rejects_inexact_number_ids(void)
{
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":2.5}",
                   "invalid \"id\" 2.5: give an integer or a string");
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":9007199254740993.5}",
                   "invalid \"id\" 9007199254740993.5: give an integer or a string");
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":1e-999999999999999999}",
                   "invalid \"id\" 1e-999999999999999999: give an integer or a string");
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":1e20}",
                   "invalid \"id\" 1e20: write a number this large in plain digits, without a "
                   "fraction or exponent, or as a string");
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":9223372036854775808.0}",
                   "invalid \"id\" 9223372036854775808.0: write a number this large");
    check_rejected("{\"user\":1e-3,\"name\":\"x\",\"ts\":0}",
                   "invalid \"user\" 1e-3: give an integer or a string");
    check_rejected("{\"user\":{\"id\":2.5},\"name\":\"x\",\"ts\":0}",
                   "invalid \"id\" of \"user\" 2.5: give an integer or a string");

    /* A long number is shown cut to 40 characters. */
    check_rejected("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,"
                   "\"id\":1.00000000000000000000000000000000000000000000000001}",
                   "invalid \"id\" 1.00000000000000000000000000000000000000...: give");
}


/* Parses a line and checks the key text at path, or that there is none
 * when expected is NULL. */
static void check_key_text(const char *line, const char *path, const char *expected)
{
    jy_error err;
    jy_event *e = parse(line, &err);
    CHECK(e != NULL);
    if (e == NULL) {
        fprintf(stderr, "  %s rejected: %s\n", line, err.message);
        return;
    }

    char *key = NULL;
    CHECK_INT_EQ(jy_event_key_text(e, path, &key), 0);
    if (expected == NULL) {
        CHECK(key == NULL);
        if (key != NULL)
            fprintf(stderr, "  %s in %s: got key \"%s\", expected none\n", path, line, key);
    } else {
        CHECK_STR_EQ(key, expected);
    }
    free(key);
    jy_event_free(e);
}


/* Key values are read from the data's text, so integers keep all their
 * digits, also beyond the 53 bits of a double and the 64 of a Lua
 * integer. */
static void event_key_keeps_integer_digits(void)
{
    const char *head = "{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"data\":";
    char line[256];

    static const struct {
        const char *value;
        const char *key;
    } cases[] = {
        {"12345678901234567", "12345678901234567"},
        {"12345678901234568", "12345678901234568"},
        {"-9007199254740993", "-9007199254740993"},
        {"100000000000000000000", "100000000000000000000"},
        {"42", "42"},
        {"42.0", "42"},
        {"4.2e1", "42"},
        {"-0", "0"},
        {"2.5", "2.5"},
        {"1e20", "1e+20"},
        {"1e400", "1e400"},
        {"1e-400", "1e-400"},
        {"-1e-400", "-1e-400"},
        {"12345678901234.5", "12345678901234.5"},
        {"0.1", "0.1"},
        {"\"c-1\"", "c-1"},
        {"\"caf\\u00e9\"", "caf\xc3\xa9"},
        {"true", "true"},
        {"false", "false"},
        {"null", NULL},
        {"[1]", NULL},
        {"{\"id\":1}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(line, sizeof line, "%s{\"cart_id\":%s}}", head, cases[i].value);
        check_key_text(line, "data.cart_id", cases[i].key);
    }

    snprintf(line, sizeof line, "%s{\"cart\":{\"id\":9007199254740993}}}", head);
    check_key_text(line, "data.cart.id", "9007199254740993");
    check_key_text(line, "data.cart.", NULL);
    check_key_text(line, "data.missing", NULL);
    check_key_text(line, "data.cart.id.deeper", NULL);
    check_key_text("{\"user\":12345678901234567,\"name\":\"x\",\"ts\":0,"
                   "\"id\":9007199254740993}", "user", "12345678901234567");
    check_key_text("{\"user\":\"u\",\"name\":\"x\",\"ts\":0,\"id\":9007199254740993}", "id",
                   "9007199254740993");
    check_key_text("{\"user\":\"u\",\"name\":\"x\",\"ts\":0}", "id", NULL);
}


static void event_line_quotes_bad_ts_text(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":\"1\",\"name\":\"x\",\"ts\":\"2024-13-01T00:00:00Z\"}", &err);
    CHECK(e == NULL);
    CHECK_CONTAINS(err.message, "2024-13-01T00:00:00Z");
}


static void event_line_defaults_ts_when_allowed(void)
{
    jy_error err;
    jy_error_clear(&err);
    const char *line = "{\"user\":\"1\",\"name\":\"x\"}";
    jy_event *e = jy_lua_parse_event(f.lh, line, strlen(line), 0, 123000, &err);
    CHECK(e != NULL);
    if (e != NULL)
        CHECK_INT_EQ(e->ts, 123000);
    jy_event_free(e);
}


static void event_line_keeps_data_text_compact(void)
{
    jy_error err;
    jy_event *e = parse("{ \"user\" : \"1\", \"name\" : \"x\", \"ts\" : 0, \"data\" : "
                        "{ \"note\" : \"a b\\\" c\", \"n\" : [ 1 , 2.50 ] } }", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->data_json, "{\"note\":\"a b\\\" c\",\"n\":[1,2.50]}");
    jy_event_free(e);
}


/* Data and user objects are copied as they are when they hold no space
 * between tokens, and compacted otherwise, wherever the space sits. */
static void event_line_compacts_only_spaced_values(void)
{
    static const struct { const char *data; const char *expected; } cases[] = {
        {" {\"a\":\"b c\"}", "{\"a\":\"b c\"}"},
        {"{\"n\":[1, 2]}", "{\"n\":[1,2]}"},
        {"{\"n\":[[1],\n[2]]}", "{\"n\":[[1],[2]]}"},
        {"{\"o\":{\"p\": true}}", "{\"o\":{\"p\":true}}"},
        {"{\"s\":\" \\\" \"}\t", "{\"s\":\" \\\" \"}"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":%s}",
                 cases[i].data);
        jy_error err;
        jy_event *e = parse(line, &err);
        CHECK(e != NULL);
        if (e == NULL)
            continue;
        CHECK_STR_EQ(e->data_json, cases[i].expected);
        jy_event_free(e);
    }

    jy_error err;
    jy_event *e = parse("{\"user\":{\"id\":\"7\", \"plan\":[\"a\", \"b\"]},\"name\":\"x\","
                        "\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user_json, "{\"id\":\"7\",\"plan\":[\"a\",\"b\"]}");
    jy_event_free(e);
}


static void event_line_treats_null_as_absent(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":\"1\",\"name\":null,\"event\":\"x\",\"ts\":0,"
                        "\"id\":null,\"data\":null}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->name, "x");
    CHECK(e->id == NULL);
    CHECK_STR_EQ(e->data_json, "{}");
    jy_event_free(e);

    check_rejected("{\"user\":null,\"name\":\"x\",\"ts\":0}", "missing \"user\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":null}", "missing \"ts\"");
}


static void event_line_reads_escaped_keys_and_values(void)
{
    jy_error err;
    jy_event *e = parse("{\"us\\u0065r\":\"caf\\u00e9\",\"name\":\"app\\/x\",\"ts\":0,"
                        "\"id\":\"\\ud83d\\ude00\"}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "caf\xc3\xa9");
    CHECK_STR_EQ(e->name, "app/x");
    CHECK_STR_EQ(e->id, "\xf0\x9f\x98\x80");
    jy_event_free(e);
}


static void event_line_takes_last_repeated_key(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":\"1\",\"name\":\"a\",\"name\":\"b\",\"ts\":0}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->name, "b");
    jy_event_free(e);
}


static void event_line_reads_numeric_user_object_id(void)
{
    jy_error err;
    jy_event *e = parse("{\"user\":{\"id\":17850, \"tier\":\"gold\"},\"name\":\"x\",\"ts\":0,"
                        "\"data\":[]}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "17850");
    CHECK_STR_EQ(e->user_json, "{\"id\":17850,\"tier\":\"gold\"}");
    CHECK_STR_EQ(e->data_json, "{}");
    jy_event_free(e);
}


static void event_line_rejects_bad_syntax_with_position(void)
{
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0} extra", "invalid JSON: expected the end");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":01}", "at character 30");
    check_rejected("{\"user\":\"1\",\"name\":\"\\ud800\",\"ts\":0}", "high surrogate");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":{\"a\":tru}}", "invalid JSON");
    check_rejected("{\"user\":\"1\",\"name\":\"x", "unterminated string");
    check_rejected("[]", "must be a JSON object, got an array");
    check_rejected("{\"user\":[\"1\"],\"name\":\"x\",\"ts\":0}", "needs a non-empty \"id\"");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":{\"a\":[1,]}}",
                   "expected a JSON value but found ']'");
}


/* JSON text is UTF-8: an event whose strings are not is rejected, so
 * that nothing the host stores or writes back is invalid JSON. */
static void event_line_rejects_invalid_utf8(void)
{
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":{\"s\":\"\xff\xfe\"}}",
                   "invalid UTF-8 at character 44");
    check_rejected("{\"user\":\"a\xc3\",\"name\":\"x\",\"ts\":0}", "invalid UTF-8");
    /* The first bad byte opens and closes the second block of eight. */
    check_rejected("{\"user\":\xff\"1\",\"name\":\"x\",\"ts\":0}",
                   "invalid UTF-8 at character 9");
    check_rejected("{\"user\":\"123456\x80\",\"name\":\"x\",\"ts\":0}",
                   "invalid UTF-8 at character 16");
    check_rejected("{\"user\":\"1\",\"name\":\"\xc0\xafx\",\"ts\":0}", "invalid UTF-8");
    check_rejected("{\"user\":\"\xed\xa0\x80\",\"name\":\"x\",\"ts\":0}", "invalid UTF-8");
    check_rejected("{\"user\":\"1\",\"name\":\"x\",\"ts\":0,\"data\":{\"\xf4\x90\x80\x80\":1}}",
                   "invalid UTF-8");

    jy_error err;
    jy_event *e = parse("{\"user\":\"\xf0\x9f\x98\x80\",\"name\":\"x\",\"ts\":0,"
                        "\"data\":{\"s\":\"\xe2\x82\xac\xef\xbf\xbf\"}}", &err);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    CHECK_STR_EQ(e->user, "\xf0\x9f\x98\x80");
    jy_event_free(e);
}


int main(void)
{
    fixture_open(&f, 0);

    event_line_reads_all_fields();
    event_line_accepts_event_alias_and_ms_ts();
    event_line_reads_user_object();
    event_line_keeps_integer_ids_exact();
    event_line_keeps_big_integer_ids_exact();
    event_line_rejects_inexact_number_ids();
    event_key_keeps_integer_digits();
    event_line_reads_numeric_user_as_text();
    event_line_keeps_unicode_and_slashes_in_user();
    event_line_rejects_invalid_utf8();
    event_line_rejects_with_reasons();
    event_line_quotes_bad_ts_text();
    event_line_defaults_ts_when_allowed();
    event_line_keeps_data_text_compact();
    event_line_compacts_only_spaced_values();
    event_line_treats_null_as_absent();
    event_line_reads_escaped_keys_and_values();
    event_line_takes_last_repeated_key();
    event_line_reads_numeric_user_object_id();
    event_line_rejects_bad_syntax_with_position();

    CHECK_INT_EQ(lua_gettop(f.lh->L), 0);
    fixture_close(&f);
    return check_summary("test_event_line");
}
