/*
 * Encoding Lua values as JSON through lua-cjson, and pushing events and
 * times into Lua.
 *
 * The host keeps data as JSON text; json_decode.c turns it into Lua
 * values and this file turns them back. Encoding uses a private cjson
 * instance (cjson.new), so a journey that changes cjson's settings
 * cannot change how the host writes events.
 */
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"

/* lua-cjson.h needs lua_State declared first. */
#include <lua-cjson.h>

static const char encode_key = 'e';


/* Loads the private instance on first use. [-0, +0, m] */
static void ensure_cjson(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &encode_key) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);

    luaL_requiref(L, "cjson", luaopen_cjson, 0);   /* stack: cjson */
    lua_getfield(L, -1, "new");                   /* stack: cjson, new */
    lua_call(L, 0, 1);                            /* stack: cjson, inst */

    lua_getfield(L, -1, "encode_sparse_array");
    lua_pushboolean(L, 1);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "encode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);

    lua_getfield(L, -1, "encode");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &encode_key);
    lua_pop(L, 2);                                /* stack: (empty) */
}


/* Copies cjson's output, writing its "\/" escapes as plain "/": both
 * are valid JSON, and event names such as "app/signed_up" read better
 * unescaped. The scan follows escapes, so "\\/" (a backslash, then a
 * slash) keeps its backslash. */
static void copy_unescaping_slashes(char *dst, const char *src, size_t len)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\\' && i + 1 < len) {
            if (src[i + 1] != '/')
                dst[out++] = src[i];
            dst[out++] = src[++i];
            continue;
        }
        dst[out++] = src[i];
    }
    dst[out] = '\0';
}


/* Encodes the value at 1 after decoding the data of the events in it,
 * which cjson would otherwise miss. */
static int encode_protected(lua_State *L)
{
    jy_lua_complete_pending_data(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &encode_key);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}


char *jy_lua_json_encode(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    ensure_cjson(L);

    lua_pushcfunction(L, encode_protected);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return NULL; /* the message stays on the stack */

    size_t len = 0;
    const char *text = lua_tolstring(L, -1, &len);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        copy_unescaping_slashes(copy, text, len);
    lua_pop(L, 1);
    if (copy == NULL)
        lua_pushliteral(L, "out of memory encoding JSON");
    return copy;
}


void jy_lua_push_time(lua_State *L, jy_time t)
{
    /* Whole seconds stay integers so journeys can print and compare them
     * as they would os.time() values. */
    if (t % 1000 == 0)
        lua_pushinteger(L, (lua_Integer)(t / 1000));
    else
        lua_pushnumber(L, (lua_Number)t / 1000.0);
}
