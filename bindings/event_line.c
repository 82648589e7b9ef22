/*
 * Reading one event in the wire format for the Lua side. The parsing
 * itself is host/event_parse.c; this file keeps the entry point that the
 * program, the module and libjourney call, and the rewriting of
 * lua-cjson's error messages for JSON that Lua code decodes.
 */
#include <stdio.h>
#include <string.h>

#include "event_parse.h"
#include "lua_host.h"


/* Rewrites lua-cjson's token names ("found T_OBJ_END at character 76")
 * as the characters a reader sees in the line. */
void jy_lua_plain_json_error(const char *message, char *out, size_t size)
{
    static const char *const tokens[][2] = {
        {"T_OBJ_BEGIN", "'{'"}, {"T_OBJ_END", "'}'"}, {"T_ARR_BEGIN", "'['"},
        {"T_ARR_END", "']'"}, {"T_STRING", "a string"}, {"T_NUMBER", "a number"},
        {"T_BOOLEAN", "true or false"}, {"T_NULL", "null"}, {"T_COLON", "':'"},
        {"T_COMMA", "','"}, {"T_END", "the end of the line"}, {"T_WHITESPACE", "a space"},
        {"T_ERROR", "an invalid token"}, {"T_UNKNOWN", "an unknown token"},
    };
    size_t used = 0;

    while (*message != '\0' && used + 1 < size) {
        size_t i = 0;
        for (; i < sizeof tokens / sizeof tokens[0]; i++) {
            size_t n = strlen(tokens[i][0]);
            /* T_OBJ_BEGIN must not match as T_OBJ_BEGINx: tokens end at a
             * non-name character. */
            if (strncmp(message, tokens[i][0], n) == 0 && message[n] != '_' &&
                !(message[n] >= 'A' && message[n] <= 'Z'))
                break;
        }
        if (i < sizeof tokens / sizeof tokens[0]) {
            int written = snprintf(out + used, size - used, "%s", tokens[i][1]);
            used += written > 0 ? (size_t)written : 0;
            if (used >= size)
                used = size - 1;
            message += strlen(tokens[i][0]);
            continue;
        }
        out[used++] = *message++;
    }
    out[used] = '\0';
}


jy_event *jy_lua_parse_event(jy_lua_host *lh, const char *line, size_t len,
                             int require_ts, jy_time default_ts, jy_error *err)
{
    (void)lh;
    return jy_event_parse(line, len, require_ts, default_ts, err);
}
