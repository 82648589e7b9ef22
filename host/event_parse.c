/*
 * Reading one wire-format event in C (see event_parse.h).
 */
#include "event_parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "timefmt.h"

/* Scratch buffers up to this size live on the stack. */
#define LOCAL_SCRATCH 8192

/* The top-level fields of an event; type JY_JSON_NULL stands for absent,
 * since a null field counts as absent. */
typedef struct event_fields {
    jy_json_span user;
    jy_json_span name;
    jy_json_span event; /* the alias of name */
    jy_json_span id;
    jy_json_span ts;
    jy_json_span data;
    /* Whether space lies between the tokens of user or data, so that
     * their text must be compacted rather than copied. */
    int user_spaced;
    int data_spaced;
} event_fields;

/* Decoded strings and compacted JSON are written here, one after the
 * other. Each comes from its own part of the line, except that a user
 * object yields both its id and its text, so twice the line's length
 * plus room for the terminators and two integer texts is enough. */
typedef struct scratch {
    char *data;
    size_t used;
} scratch;


static int is_absent(const jy_json_span *span)
{
    return span->type == JY_JSON_NULL;
}


/* Returns whether the key span (quotes included) is the given name. Keys
 * with escapes are decoded first, so "na\u006de" is "name" too. The
 * names are short ASCII words, and each of their characters takes at
 * most six characters escaped, so a longer key cannot be one of them. */
static int key_is(const jy_json_span *key, const char *name)
{
    size_t n = strlen(name);
    char decoded[64];

    if (memchr(key->text, '\\', key->len) == NULL)
        return key->len == n + 2 && memcmp(key->text + 1, name, n) == 0;
    if (key->len > sizeof decoded)
        return 0;
    size_t len = jy_json_string_decode(key, decoded);
    return len == n && memcmp(decoded, name, n) == 0;
}


static int syntax_error(const char *line, size_t len, size_t pos, const char *expected,
                        jy_error *err)
{
    char found[16];
    return jy_error_set(err, JY_EINVAL, "invalid JSON: expected %s but found %s at character %zu",
                        expected, jy_json_describe_at(line, len, pos, found), pos + 1);
}


/* Reads the top-level object into fields, checking the syntax of the
 * whole line in the same pass; the last of repeated keys wins. Returns 0
 * or JY_EINVAL. */
static int read_fields(const char *line, size_t len, event_fields *fields, jy_error *err)
{
    static const struct { const char *name; size_t offset; } known[] = {
        {"user", offsetof(event_fields, user)},   {"name", offsetof(event_fields, name)},
        {"event", offsetof(event_fields, event)}, {"id", offsetof(event_fields, id)},
        {"ts", offsetof(event_fields, ts)},       {"data", offsetof(event_fields, data)},
    };
    size_t pos = 0;
    jy_error syntax;

    memset(fields, 0, sizeof *fields); /* JY_JSON_NULL is 0: every field absent */

    if (jy_json_check_utf8(line, len, &syntax) != 0)
        return jy_error_set(err, JY_EINVAL, "invalid JSON: %s", syntax.message);

    jy_json_skip_space(line, len, &pos);
    if (pos >= len || line[pos] != '{') {
        /* Not an object: report a syntax error first, then the type. */
        jy_json_span top;
        if (jy_json_scan_value(line, len, &pos, &top, &syntax) != 0)
            return jy_error_set(err, JY_EINVAL, "invalid JSON: %s", syntax.message);
        jy_json_skip_space(line, len, &pos);
        if (pos < len)
            return syntax_error(line, len, pos, "the end", err);
        return jy_error_set(err, JY_EINVAL, "an event must be a JSON object, got %s",
                            jy_json_type_name(top.type));
    }

    pos++;
    jy_json_skip_space(line, len, &pos);
    int empty = pos < len && line[pos] == '}';
    while (!empty) {
        jy_json_span key, value;
        jy_json_skip_space(line, len, &pos);
        if (pos >= len || line[pos] != '"')
            return syntax_error(line, len, pos, "an object key string", err);
        if (jy_json_scan_value(line, len, &pos, &key, &syntax) != 0)
            return jy_error_set(err, JY_EINVAL, "invalid JSON: %s", syntax.message);
        jy_json_skip_space(line, len, &pos);
        if (pos >= len || line[pos] != ':')
            return syntax_error(line, len, pos, "':'", err);
        pos++;
        int spaced = 0;
        if (jy_json_scan_value_spaced(line, len, &pos, &value, &spaced, &syntax) != 0)
            return jy_error_set(err, JY_EINVAL, "invalid JSON: %s", syntax.message);

        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            if (key_is(&key, known[i].name)) {
                *(jy_json_span *)((char *)fields + known[i].offset) = value;
                if (known[i].offset == offsetof(event_fields, user))
                    fields->user_spaced = spaced;
                else if (known[i].offset == offsetof(event_fields, data))
                    fields->data_spaced = spaced;
                break;
            }
        }

        jy_json_skip_space(line, len, &pos);
        if (pos < len && line[pos] == ',') {
            pos++;
            continue;
        }
        if (pos < len && line[pos] == '}')
            break;
        return syntax_error(line, len, pos, "',' or '}'", err);
    }
    pos++;

    jy_json_skip_space(line, len, &pos);
    if (pos < len)
        return syntax_error(line, len, pos, "the end", err);
    return 0;
}


/* Copies the decoded string into the scratch, NUL-terminated. */
static const char *take_string(scratch *s, const jy_json_span *span, size_t *len)
{
    char *out = s->data + s->used;
    *len = jy_json_string_decode(span, out);
    out[*len] = '\0';
    s->used += *len + 1;
    return out;
}


/* Rejects a decoded user, id or name with a NUL character (\u0000):
 * these are C strings from here on, so the text would end there and
 * name another user or event. */
static int reject_nul(const char *field, const char *text, size_t len, jy_error *err)
{
    if (strlen(text) == len)
        return 0;
    return jy_error_set(err, JY_EINVAL, "%s contains a NUL character (\\u0000), which ids and "
                        "names cannot hold; remove it", field);
}


/* Writes a whole number as id text into the scratch, as
 * jy_json_integer_text does: "17850" stays "17850" at any length, and
 * 42.0 gives "42". Returns NULL with the reason in *status otherwise. */
static const char *take_id_number(scratch *s, const jy_json_span *span,
                                  jy_json_integer_status *status)
{
    char *out = s->data + s->used;
    size_t len = 0;

    *status = jy_json_integer_text(span, out, &len);
    if (*status != JY_JSON_INTEGER_EXACT)
        return NULL;
    s->used += len + 1;
    return out;
}


/* Fills err for a number that take_id_number rejected as the id named
 * by field, showing at most 40 characters of the number. */
static int reject_id_number(const char *field, const jy_json_span *span,
                            jy_json_integer_status status, jy_error *err)
{
    int shown_len = span->len > 40 ? 40 : (int)span->len;
    const char *cut = span->len > 40 ? "..." : "";

    if (status == JY_JSON_INTEGER_RANGE)
        return jy_error_set(err, JY_EINVAL, "invalid %s %.*s%s: write a number this large in "
                            "plain digits, without a fraction or exponent, or as a string",
                            field, shown_len, span->text, cut);
    return jy_error_set(err, JY_EINVAL, "invalid %s %.*s%s: give an integer or a string", field,
                        shown_len, span->text, cut);
}


/* Copies the JSON value into the scratch without the space between its
 * tokens. Most input has none, and then a copy does. */
static const char *take_compact(scratch *s, const jy_json_span *span, int spaced)
{
    char *out = s->data + s->used;
    size_t len = span->len;

    if (spaced)
        len = jy_json_compact(span, out);
    else
        memcpy(out, span->text, len);
    out[len] = '\0';
    s->used += len + 1;
    return out;
}


/* Finds a field of a checked object; the last of repeated keys wins. */
static jy_json_span object_field(const jy_json_span *object, const char *name)
{
    jy_json_span found = {JY_JSON_NULL, NULL, 0};
    const char *text = object->text;
    size_t len = object->len;
    size_t pos = 1;

    for (;;) {
        jy_json_skip_space(text, len, &pos);
        if (text[pos] == '}')
            return found;
        if (text[pos] == ',') {
            pos++;
            jy_json_skip_space(text, len, &pos);
        }

        jy_json_span key, value;
        jy_json_scan_value(text, len, &pos, &key, NULL);
        jy_json_skip_space(text, len, &pos);
        pos++; /* the colon */
        jy_json_scan_value(text, len, &pos, &value, NULL);
        if (key_is(&key, name))
            found = value;
    }
}


static int read_user(scratch *s, const jy_json_span *span, int spaced, const char **user,
                     const char **user_json, jy_error *err)
{
    size_t len = 0;
    jy_json_integer_status status;

    if (span->type == JY_JSON_STRING) {
        *user = take_string(s, span, &len);
        if (len > 0)
            return reject_nul("\"user\"", *user, len, err);
        return jy_error_set(err, JY_EINVAL, "\"user\" must be a non-empty string or an object "
                            "with an \"id\", got an empty string");
    }
    /* a numeric user id, such as a customer number */
    if (span->type == JY_JSON_NUMBER) {
        if ((*user = take_id_number(s, span, &status)) == NULL)
            return reject_id_number("\"user\"", span, status, err);
        return 0;
    }
    if (span->type == JY_JSON_OBJECT || span->type == JY_JSON_ARRAY) {
        jy_json_span id = {JY_JSON_NULL, NULL, 0};
        if (span->type == JY_JSON_OBJECT)
            id = object_field(span, "id");
        if (id.type == JY_JSON_NUMBER) {
            if ((*user = take_id_number(s, &id, &status)) == NULL)
                return reject_id_number("\"id\" of \"user\"", &id, status, err);
        } else if (id.type == JY_JSON_STRING) {
            *user = take_string(s, &id, &len);
        } else {
            *user = NULL;
        }
        if (*user == NULL || (id.type == JY_JSON_STRING && len == 0))
            return jy_error_set(err, JY_EINVAL, "\"user\" object needs a non-empty \"id\" "
                                "string");
        if (id.type == JY_JSON_STRING && reject_nul("\"id\" of \"user\"", *user, len, err) != 0)
            return JY_EINVAL;
        *user_json = take_compact(s, span, spaced);
        return 0;
    }
    if (is_absent(span))
        return jy_error_set(err, JY_EINVAL, "missing \"user\"");
    return jy_error_set(err, JY_EINVAL, "\"user\" must be a non-empty string or an object with "
                        "an \"id\", got %s", jy_json_type_name(span->type));
}


static int read_name(scratch *s, const event_fields *fields, const char **name, jy_error *err)
{
    const jy_json_span *span = is_absent(&fields->name) ? &fields->event : &fields->name;
    size_t len = 0;

    if (is_absent(span))
        return jy_error_set(err, JY_EINVAL, "missing \"name\"");
    if (span->type == JY_JSON_STRING) {
        *name = take_string(s, span, &len);
        if (len > 0)
            return reject_nul("\"name\"", *name, len, err);
    }
    return jy_error_set(err, JY_EINVAL, "\"name\" must be a non-empty string, got %s",
                        span->type == JY_JSON_STRING ? "an empty string"
                                                     : jy_json_type_name(span->type));
}


static int read_id(scratch *s, const jy_json_span *span, const char **id, jy_error *err)
{
    size_t len = 0;

    *id = NULL;
    if (is_absent(span))
        return 0;
    if (span->type == JY_JSON_NUMBER) {
        jy_json_integer_status status;
        if ((*id = take_id_number(s, span, &status)) == NULL)
            return reject_id_number("\"id\"", span, status, err);
        return 0;
    }
    if (span->type == JY_JSON_STRING) {
        *id = take_string(s, span, &len);
        if (len == 0)
            return jy_error_set(err, JY_EINVAL, "\"id\" must not be empty");
        return reject_nul("\"id\"", *id, len, err);
    }
    return jy_error_set(err, JY_EINVAL, "\"id\" must be a string or an integer, got %s",
                        jy_json_type_name(span->type));
}


static int read_ts(scratch *s, const jy_json_span *span, int require_ts, jy_time *ts,
                   jy_error *err)
{
    size_t len = 0;

    if (span->type == JY_JSON_NUMBER) {
        double ms = jy_json_number(span);
        int shown = span->len > 40 ? 40 : (int)span->len;
        if (!(ms > -8.0e15 && ms < 8.0e15) || ms != floor(ms))
            return jy_error_set(err, JY_EINVAL, "invalid \"ts\" %.*s: give whole milliseconds "
                                "since 1970 or an ISO-8601 string", shown, span->text);
        /* Seconds where milliseconds belong would land in January 1970;
         * no real event stream starts there, so report what went wrong. */
        if (ms > 0 && ms < 1.0e11)
            return jy_error_set(err, JY_EINVAL, "invalid \"ts\" %.*s: it reads as milliseconds "
                                "in 1970; if it counts seconds, multiply it by 1000", shown,
                                span->text);
        *ts = (jy_time)ms;
        return 0;
    }
    if (span->type == JY_JSON_STRING) {
        const char *text = take_string(s, span, &len);
        jy_error time_err;
        if (jy_time_parse(text, len, ts, &time_err) != 0)
            return jy_error_set(err, JY_EINVAL, "invalid \"ts\": %s", time_err.message);
        return 0;
    }
    if (is_absent(span)) {
        if (require_ts)
            return jy_error_set(err, JY_EINVAL, "missing \"ts\" (an ISO-8601 string or "
                                "milliseconds since 1970)");
        return 0;
    }
    return jy_error_set(err, JY_EINVAL, "invalid \"ts\": expected an ISO-8601 string or "
                        "milliseconds since 1970, got %s", jy_json_type_name(span->type));
}


static int read_data(scratch *s, const jy_json_span *span, int spaced,
                     const char **data_json, jy_error *err)
{
    *data_json = "{}";
    if (is_absent(span))
        return 0;
    if (span->type == JY_JSON_OBJECT) {
        *data_json = take_compact(s, span, spaced);
        return 0;
    }
    if (span->type == JY_JSON_ARRAY) {
        /* An empty array is an empty table in Lua, so it stands for {}. */
        size_t pos = 1;
        jy_json_skip_space(span->text, span->len, &pos);
        if (span->text[pos] == ']')
            return 0;
        return jy_error_set(err, JY_EINVAL, "\"data\" must be a JSON object, got an array");
    }
    return jy_error_set(err, JY_EINVAL, "\"data\" must be a JSON object, got %s",
                        jy_json_type_name(span->type));
}


jy_event *jy_event_parse(const char *line, size_t len, int require_ts, jy_time default_ts,
                         jy_error *err)
{
    char local[LOCAL_SCRATCH];
    size_t size = 2 * len + 64;
    scratch s = {size <= sizeof local ? local : malloc(size), 0};
    if (s.data == NULL) {
        jy_error_set(err, JY_ENOMEM, "out of memory");
        return NULL;
    }

    event_fields fields;
    const char *user = NULL, *user_json = NULL, *name = NULL, *id = NULL, *data_json = NULL;
    jy_time ts = default_ts;
    jy_event *event = NULL;
    if (read_fields(line, len, &fields, err) == 0 &&
        read_user(&s, &fields.user, fields.user_spaced, &user, &user_json, err) == 0 &&
        read_name(&s, &fields, &name, err) == 0 && read_id(&s, &fields.id, &id, err) == 0 &&
        read_ts(&s, &fields.ts, require_ts, &ts, err) == 0 &&
        read_data(&s, &fields.data, fields.data_spaced, &data_json, err) == 0) {
        event = jy_event_new(id, user, name, ts, data_json, user_json, 0);
        if (event == NULL)
            jy_error_set(err, JY_ENOMEM, "out of memory");
    }

    if (s.data != local)
        free(s.data);
    return event;
}
