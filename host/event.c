/*
 * Allocating, freeing and writing events (see event.h).
 */
#include "event.h"

#include <stdlib.h>
#include <string.h>

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
