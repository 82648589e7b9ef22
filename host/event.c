/*
 * Allocating, freeing and writing events (see event.h).
 */
#include "event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_scan.h"
#include "timefmt.h"


static size_t size_of(const char *text)
{
    return text != NULL ? strlen(text) + 1 : 0;
}


static const char *copy_into(char **cursor, const char *text)
{
    if (text == NULL)
        return NULL;

    size_t n = strlen(text) + 1;
    char *dst = *cursor;
    memcpy(dst, text, n);
    *cursor += n;
    return dst;
}


jy_event *jy_event_new(const char *id, const char *user, const char *name,
                       jy_time ts, const char *data_json,
                       const char *user_json, uint64_t origin_run)
{
    if (data_json == NULL)
        data_json = "{}";

    size_t strings = size_of(id) + size_of(user) + size_of(name) +
                     size_of(data_json) + size_of(user_json);
    jy_event *event = malloc(sizeof *event + strings);
    if (event == NULL)
        return NULL;

    char *cursor = (char *)(event + 1);
    event->seq = 0;
    event->origin_run = origin_run;
    event->ts = ts;
    event->id = copy_into(&cursor, id);
    event->user = copy_into(&cursor, user);
    event->name = copy_into(&cursor, name);
    event->data_json = copy_into(&cursor, data_json);
    event->user_json = copy_into(&cursor, user_json);
    return event;
}


void jy_event_free(jy_event *event)
{
    free(event);
}


/* Writes the key text of a number span to out, which must hold
 * span->len + 32 bytes. */
static void write_number_key(const jy_json_span *span, char *out)
{
    size_t len = 0;
    if (jy_json_integer_text(span, out, &len) == JY_JSON_INTEGER_EXACT)
        return;

    /* Not a whole number that fits in 64 bits: the float's shortest
     * exact text, which has a fraction or an exponent. A number outside
     * the range of a double (1e400, or 1e-400, which reads as 0) keeps
     * its own text, so that it shares no key with infinity or with 0. */
    double value = jy_json_number(span);
    if (isinf(value) || value == 0) {
        memcpy(out, span->text, span->len);
        out[span->len] = '\0';
        return;
    }
    jy_json_format_double(out, 32, value);
}


/* Copies text, which may be NULL, as the key. Returns 0 or JY_ENOMEM. */
static int copy_key(const char *text, char **key)
{
    if (text == NULL)
        return 0;
    *key = strdup(text);
    return *key != NULL ? 0 : JY_ENOMEM;
}


/* Finds the value at a dotted path ("cart.id") in a data object's text.
 * Returns 1 when found, else 0. */
static int find_data_path(const char *data_json, const char *path, jy_json_span *value)
{
    size_t len = strlen(data_json);
    size_t start = 0;

    jy_json_skip_space(data_json, len, &start);
    if (start >= len || data_json[start] != '{')
        return 0;
    *value = (jy_json_span){JY_JSON_OBJECT, data_json + start, len - start};

    const char *part = path;
    while (*part != '\0') {
        const char *dot = strchr(part, '.');
        size_t part_len = dot != NULL ? (size_t)(dot - part) : strlen(part);
        jy_json_span member;
        if (value->type != JY_JSON_OBJECT ||
            jy_json_object_find(value, part, part_len, &member, NULL) != 1)
            return 0;
        *value = member;
        part += part_len;
        if (*part == '.')
            part++;
    }
    return 1;
}


int jy_event_key_text(const jy_event *event, const char *path, char **key)
{
    *key = NULL;
    if (strcmp(path, "user") == 0)
        return copy_key(event->user, key);
    if (strcmp(path, "name") == 0)
        return copy_key(event->name, key);
    if (strcmp(path, "id") == 0)
        return copy_key(event->id, key);

    /* Data values are read from the text, not from decoded Lua values,
     * so that an integer literal keeps all its digits, also beyond the
     * 64 bits of a Lua integer. */
    jy_json_span value;
    if (strncmp(path, "data.", 5) != 0 || !find_data_path(event->data_json, path + 5, &value))
        return 0;
    switch (value.type) {
    case JY_JSON_TRUE: return copy_key("true", key);
    case JY_JSON_FALSE: return copy_key("false", key);
    case JY_JSON_STRING:
    case JY_JSON_NUMBER: break;
    default: return 0; /* null, an array or an object */
    }

    *key = malloc(value.len + 32);
    if (*key == NULL)
        return JY_ENOMEM;
    if (value.type == JY_JSON_NUMBER) {
        write_number_key(&value, *key);
    } else {
        size_t len = jy_json_string_decode(&value, *key);
        (*key)[len] = '\0';
    }
    return 0;
}


void jy_event_append_json(jy_buf *buf, const jy_event *event)
{
    char when[JY_TIME_TEXT_SIZE];

    jy_buf_append_str(buf, "{");
    if (event->id != NULL) {
        jy_buf_append_str(buf, "\"id\":");
        jy_buf_append_json_string(buf, event->id);
        jy_buf_append_str(buf, ",");
    }
    jy_buf_append_str(buf, "\"user\":");
    jy_buf_append_json_string(buf, event->user);
    jy_buf_append_str(buf, ",\"name\":");
    jy_buf_append_json_string(buf, event->name);
    jy_time_format(event->ts, when);
    jy_buf_append_str(buf, ",\"ts\":");
    jy_buf_append_json_string(buf, when);
    jy_buf_append_str(buf, ",\"data\":");
    jy_buf_append_str(buf, event->data_json);
    jy_buf_append_str(buf, "}");
}
