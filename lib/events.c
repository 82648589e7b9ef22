/*
 * Parsing events in the wire format before they are ingested: one
 * event, or a batch (an object or an array of objects) that is checked
 * whole, so a caller can take it all or reject it all.
 */
#include "host_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

#define INVALID_JSON_PREFIX "invalid JSON"


int journey_event_parse(journey_host *host, const char *json, size_t len, unsigned flags,
                        journey_event **event)
{
    ON_LOOP_THREAD(host);
    *event = NULL;
    if (json == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "no text; give the event as JSON");
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");

    jy_error err;
    jy_error_clear(&err);
    jy_event *parsed = jy_lua_parse_event(host->lh, json, len,
                                          (flags & JOURNEY_PARSE_REQUIRE_TS) != 0,
                                          jy_host_now(host->lh->host), &err);
    if (parsed == NULL) {
        int status = strncmp(err.message, INVALID_JSON_PREFIX, strlen(INVALID_JSON_PREFIX)) == 0
                         ? JOURNEY_EJSON
                         : JOURNEY_EINVAL;
        return jy_lib_fail(host, status, "%s", err.message);
    }
    *event = (journey_event *)parsed;
    return JOURNEY_OK;
}


/* Finds the events of a batch: the whole text when it is one object,
 * else the elements of an array, each as the span of its own text. Each
 * event is parsed from that text, so its numbers keep every digit, as
 * for a single event. Returns JOURNEY_OK or fails the host with the
 * reason. */
static int split_batch(journey_host *host, const char *text, size_t len, size_t max_events,
                       jy_json_span **spans, size_t *count)
{
    jy_error err;
    jy_error_clear(&err);
    size_t pos = 0;
    jy_json_span whole;
    if (jy_json_scan_value(text, len, &pos, &whole, &err) != 0)
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: %s", err.message);
    jy_json_skip_space(text, len, &pos);
    if (pos != len) {
        char found[16];
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: expected the end of the text but "
                                               "found %s at character %zu",
                           jy_json_describe_at(text, len, pos, found), pos + 1);
    }
    if (whole.type != JY_JSON_OBJECT && whole.type != JY_JSON_ARRAY)
        return jy_lib_fail(host, JOURNEY_EJSON, "the text must be a JSON object or an array of "
                                               "objects, got %s", jy_json_type_name(whole.type));

    size_t capacity = whole.type == JY_JSON_OBJECT ? 1 : 16;
    jy_json_span *found = malloc(capacity * sizeof *found);
    if (found == NULL)
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
    if (whole.type == JY_JSON_OBJECT) {
        found[0] = whole;
        *spans = found;
        *count = 1;
        return JOURNEY_OK;
    }

    /* The array was checked whole above, so its elements are valid JSON
     * separated by commas. */
    size_t n = 0;
    size_t at = 1;
    for (;;) {
        jy_json_skip_space(whole.text, whole.len, &at);
        if (whole.text[at] == ']')
            break;
        if (n == max_events) {
            free(found);
            return jy_lib_fail(host, JOURNEY_ERANGE, "the array holds more than %zu events; "
                                                    "send at most %zu at once",
                               max_events, max_events);
        }
        if (n == capacity) {
            capacity *= 2;
            jy_json_span *grown = realloc(found, capacity * sizeof *grown);
            if (grown == NULL) {
                free(found);
                return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
            }
            found = grown;
        }
        jy_json_scan_value(whole.text, whole.len, &at, &found[n++], NULL);
        jy_json_skip_space(whole.text, whole.len, &at);
        if (whole.text[at] == ',')
            at++;
    }
    if (n == 0) {
        free(found);
        return jy_lib_fail(host, JOURNEY_ERANGE, "the array holds no events; send at least one");
    }
    *spans = found;
    *count = n;
    return JOURNEY_OK;
}


void journey_events_free(journey_event **events, size_t count)
{
    if (events == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        jy_event_free((jy_event *)events[i]);
    free(events);
}


int journey_events_parse(journey_host *host, const char *json, size_t len, unsigned flags,
                         size_t max_events, journey_event ***events, size_t *count)
{
    ON_LOOP_THREAD(host);
    *events = NULL;
    *count = 0;
    if (json == NULL)
        return jy_lib_fail(host, JOURNEY_EINVAL, "no text; give the events as JSON");
    if (host->closing)
        return jy_lib_fail(host, JOURNEY_ESTATE, "the host is closing");
    if (max_events == 0)
        return jy_lib_fail(host, JOURNEY_ERANGE, "max_events is 0; allow at least one event");

    /* The scanner needs no terminated string, but a NUL inside the text
     * would end the parser's reading of it. */
    const char *nul = memchr(json, '\0', len);
    if (nul != NULL)
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: a NUL byte at character %zu",
                           (size_t)(nul - json) + 1);
    jy_error utf8;
    jy_error_clear(&utf8);
    if (jy_json_check_utf8(json, len, &utf8) != 0)
        return jy_lib_fail(host, JOURNEY_EJSON, "invalid JSON: %s", utf8.message);

    jy_json_span *spans = NULL;
    size_t n = 0;
    int rc = split_batch(host, json, len, max_events, &spans, &n);
    if (rc != JOURNEY_OK)
        return rc;

    journey_event **parsed = calloc(n, sizeof *parsed);
    if (parsed == NULL) {
        free(spans);
        return jy_lib_fail(host, JOURNEY_ENOMEM, "out of memory reading the events");
    }
    for (size_t i = 0; i < n; i++) {
        jy_error err;
        jy_error_clear(&err);
        jy_event *event = jy_lua_parse_event(host->lh, spans[i].text, spans[i].len,
                                             (flags & JOURNEY_PARSE_REQUIRE_TS) != 0,
                                             jy_host_now(host->lh->host), &err);
        if (event == NULL) {
            journey_events_free(parsed, i);
            free(spans);
            return jy_lib_fail(host, JOURNEY_EINVAL, "event %zu: %s", i, err.message);
        }
        parsed[i] = (journey_event *)event;
    }
    free(spans);
    *events = parsed;
    *count = n;
    return JOURNEY_OK;
}
