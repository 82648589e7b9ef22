/*
 * Decoding JSON text into Lua values, in one pass and without lua-cjson.
 *
 * The host decodes event data for every run that an event starts or
 * wakes, so this is on the hot path of every replay. Compared with
 * cjson.decode followed by a pass that replaced cjson.null and turned
 * whole floats into integers, it builds each table at its final size
 * and reads integers without strtod. The result is the same, except
 * that the old pass went through a double and made integers only below
 * 2^53:
 *
 *   - null is nil: an object drops the key, an array keeps a hole;
 *   - a number that is whole and within 64 bits is an integer, read
 *     from its digits so that none is lost. Any other number is a float;
 *   - objects and arrays are plain tables, an empty one is {};
 *   - of repeated keys the last one wins.
 *
 * Syntax is checked by host/json_scan.c, so what the host accepts on
 * input and what it can decode agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "lua_host.h"

/* jy_json_integer reads into an int64_t, which a Lua integer must hold. */
_Static_assert(LUA_MAXINTEGER >= INT64_MAX && LUA_MININTEGER <= INT64_MIN,
               "Lua integers of 64 bits");

typedef struct decoder {
    lua_State *L;
    const char *text;
    size_t len;
    size_t pos;
} decoder;


static void raise_syntax(decoder *d, const jy_error *err)
{
    luaL_error(d->L, "invalid JSON in stored data: %s", err->message);
}


static void raise_expected(decoder *d, const char *expected)
{
    char found[16];
    luaL_error(d->L, "invalid JSON in stored data: expected %s but found %s at character %d",
               expected, jy_json_describe_at(d->text, d->len, d->pos, found), (int)d->pos + 1);
}


static void push_number(lua_State *L, const jy_json_span *span)
{
    const char *p = span->text;
    size_t n = span->len;
    size_t first = p[0] == '-' ? 1 : 0;

    /* Up to 15 digits without a fraction or exponent is an integer that
     * cannot overflow, the common case, read without the general rule. */
    if (n - first <= 15) {
        lua_Integer value = 0;
        size_t i = first;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            value = value * 10 + (p[i] - '0');
        if (i == n) {
            lua_pushinteger(L, first == 1 ? -value : value);
            return;
        }
    }

    int64_t value = 0;
    if (jy_json_integer(span, &value) == JY_JSON_INTEGER_EXACT)
        lua_pushinteger(L, (lua_Integer)value);
    else
        lua_pushnumber(L, jy_json_number(span));
}


static void push_string(lua_State *L, const jy_json_span *span)
{
    if (memchr(span->text, '\\', span->len) == NULL) {
        lua_pushlstring(L, span->text + 1, span->len - 2);
        return;
    }

    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, span->len);
    luaL_pushresultsize(&b, jy_json_string_decode(span, out));
}


static void decode_value(decoder *d, int depth);


/* Counts the elements of the array or members of the object whose
 * opening bracket is at pos, to size its table. It only matches
 * brackets and quotes and does not check syntax, so on invalid text the
 * count may be wrong; the decoder finds the error itself afterwards. */
static int count_members(const char *text, size_t len, size_t pos)
{
    int depth = 0;
    int count = 0;
    int empty = 1;

    for (size_t i = pos + 1; i < len; i++) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++) {
                if (text[i] == '\\')
                    i++;
            }
            empty = 0;
        } else if (c == '[' || c == '{') {
            depth++;
            empty = 0;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                return empty ? 0 : count + 1;
            depth--;
        } else if (c == ',' && depth == 0) {
            count++;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            empty = 0;
        }
    }
    return count;
}


/* Arrays and objects are built in place: the table is created at the
 * size count_members gives, and each value goes into it as soon as it
 * is decoded. So decoding needs a few stack slots per level of nesting,
 * and does not grow the small stack of a run's coroutine. */
static void decode_array(decoder *d, int depth)
{
    lua_State *L = d->L;
    lua_Integer count = 0;

    lua_createtable(L, count_members(d->text, d->len, d->pos), 0);
    d->pos++;
    jy_json_skip_space(d->text, d->len, &d->pos);
    if (d->pos < d->len && d->text[d->pos] == ']') {
        d->pos++;
        return;
    }

    for (;;) {
        decode_value(d, depth + 1);
        lua_rawseti(L, -2, ++count);

        jy_json_skip_space(d->text, d->len, &d->pos);
        if (d->pos < d->len && d->text[d->pos] == ',') {
            d->pos++;
            continue;
        }
        if (d->pos < d->len && d->text[d->pos] == ']')
            break;
        raise_expected(d, "',' or ']'");
    }
    d->pos++;
}


static void decode_object(decoder *d, int depth)
{
    lua_State *L = d->L;

    lua_createtable(L, 0, count_members(d->text, d->len, d->pos));
    d->pos++;
    jy_json_skip_space(d->text, d->len, &d->pos);
    if (d->pos < d->len && d->text[d->pos] == '}') {
        d->pos++;
        return;
    }

    for (;;) {
        jy_json_span key;
        jy_error err;
        jy_json_skip_space(d->text, d->len, &d->pos);
        if (d->pos >= d->len || d->text[d->pos] != '"')
            raise_expected(d, "an object key string");
        if (jy_json_scan_value(d->text, d->len, &d->pos, &key, &err) != 0)
            raise_syntax(d, &err);
        jy_json_skip_space(d->text, d->len, &d->pos);
        if (d->pos >= d->len || d->text[d->pos] != ':')
            raise_expected(d, "':'");
        d->pos++;

        push_string(L, &key);
        decode_value(d, depth + 1);
        /* null leaves the key absent; a repeated key is overwritten, so
         * the last one wins */
        if (lua_isnil(L, -1))
            lua_pop(L, 2);
        else
            lua_rawset(L, -3);

        jy_json_skip_space(d->text, d->len, &d->pos);
        if (d->pos < d->len && d->text[d->pos] == ',') {
            d->pos++;
            continue;
        }
        if (d->pos < d->len && d->text[d->pos] == '}')
            break;
        raise_expected(d, "',' or '}'");
    }
    d->pos++;
}


static void decode_value(decoder *d, int depth)
{
    jy_json_skip_space(d->text, d->len, &d->pos);
    char c = d->pos < d->len ? d->text[d->pos] : '\0';

    if (c == '{' || c == '[') {
        luaL_checkstack(d->L, 3, "JSON nested too deeply");
        if (depth >= JY_JSON_MAX_DEPTH)
            luaL_error(d->L, "invalid JSON in stored data: too many nested arrays and objects "
                             "at character %d (at most %d levels)", (int)d->pos + 1,
                       JY_JSON_MAX_DEPTH);
        if (c == '{')
            decode_object(d, depth);
        else
            decode_array(d, depth);
        return;
    }

    jy_json_span span;
    jy_error err;
    if (jy_json_scan_value(d->text, d->len, &d->pos, &span, &err) != 0)
        raise_syntax(d, &err);
    switch (span.type) {
    case JY_JSON_NULL: lua_pushnil(d->L); break;
    case JY_JSON_FALSE: lua_pushboolean(d->L, 0); break;
    case JY_JSON_TRUE: lua_pushboolean(d->L, 1); break;
    case JY_JSON_NUMBER: push_number(d->L, &span); break;
    default: push_string(d->L, &span); break;
    }
}


void jy_lua_json_decode(lua_State *L, const char *json)
{
    jy_lua_json_decode_text(L, json, strlen(json));
}


void jy_lua_json_decode_text(lua_State *L, const char *text, size_t len)
{
    decoder d = {L, text, len, 0};

    luaL_checkstack(L, 4, "JSON decode");
    decode_value(&d, 0);
    jy_json_skip_space(d.text, d.len, &d.pos);
    if (d.pos < d.len)
        raise_expected(&d, "the end");
}
