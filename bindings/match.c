/*
 * Matching event data against a wait's `match` table.
 *
 * The rule journey authors rely on: every key of match must be present
 * in data with an equal value. A dotted key ("plan.tier") is a path into
 * nested objects, and a missing or non-object parent is a non-match, not
 * an error. Nested tables compare by value (equal keys, equal values,
 * recursively). Types are strict: 1 is not "1", true is not "true",
 * but 7 equals 7.0 because both are the same number.
 */
#include <string.h>

#include "lua_host.h"


static int values_equal(lua_State *L, int a, int b, int depth);


/* Returns 1 when every key of table a is in table b with an equal value.
 * [-0, +0, -] */
static int table_contains(lua_State *L, int a, int b, int depth)
{
    if (!lua_checkstack(L, 4))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, a) != 0) {            /* stack: ..., k, va */
        lua_pushvalue(L, -2);                /* stack: ..., k, va, k */
        lua_rawget(L, b);                    /* stack: ..., k, va, vb */
        int equal = values_equal(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
        lua_pop(L, 2);                       /* stack: ..., k */
        if (!equal) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}


/* [-0, +0, -] */
static int values_equal(lua_State *L, int a, int b, int depth)
{
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);

    if (lua_type(L, a) != lua_type(L, b))
        return 0;
    if (lua_type(L, a) != LUA_TTABLE)
        return lua_rawequal(L, a, b);

    /* Data decoded from JSON cannot be cyclic, but a match table built
     * in Lua can; a bound on depth keeps a cycle from looping forever. */
    if (depth > 64)
        return 0;
    return table_contains(L, a, b, depth) && table_contains(L, b, a, depth);
}


/* Pushes the value at a dotted path of the table at data_idx, or nil
 * when a part is missing or a parent is not a table. [-0, +1, m] */
static void push_path(lua_State *L, int data_idx, const char *path, size_t len)
{
    lua_pushvalue(L, data_idx);              /* stack: node */
    size_t start = 0;

    while (start <= len) {
        const char *dot = memchr(path + start, '.', len - start);
        size_t end = dot != NULL ? (size_t)(dot - path) : len;

        if (lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return;
        }
        lua_pushlstring(L, path + start, end - start);
        lua_rawget(L, -2);                   /* stack: node, child */
        lua_remove(L, -2);                   /* stack: child */
        start = end + 1;
        if (dot == NULL)
            break;
    }
}


int jy_lua_match(lua_State *L, int match_idx, int data_idx)
{
    match_idx = lua_absindex(L, match_idx);
    data_idx = lua_absindex(L, data_idx);

    if (lua_type(L, match_idx) != LUA_TTABLE)
        return 1;
    if (lua_type(L, data_idx) != LUA_TTABLE)
        return 0;

    lua_pushnil(L);
    while (lua_next(L, match_idx) != 0) {    /* stack: k, expected */
        int equal;

        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t len = 0;
            const char *key = lua_tolstring(L, -2, &len);
            push_path(L, data_idx, key, len); /* stack: k, expected, actual */
        } else {
            lua_pushvalue(L, -2);
            lua_rawget(L, data_idx);
        }
        equal = values_equal(L, -2, -1, 0);
        lua_pop(L, 2);                       /* stack: k */
        if (!equal) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}
