/*
 * Events as Lua tables, with their data decoded field by field.
 *
 * A run receives its trigger event and every event that wakes it as a
 * table of its own: {seq, id, user, name, ts, data, user_attributes}.
 * Decoding all of data was most of the cost of handing an event to a
 * run, while journeys typically read a field or two of it (an invoice
 * number, never the order lines). So `data` of more than
 * EAGER_DATA_BYTES starts as an empty table whose metatable keeps the
 * JSON text:
 *
 *   - reading a missing field decodes that member of the text alone and
 *     stores it in the table, so the next read is a plain lookup;
 *   - assigning a field that the table lacks stores it and hides the
 *     member of the text for good, as does assigning nil after a read;
 *   - pairs(), or reading more than MAX_FIELD_READS fields, decodes
 *     every remaining member and removes the metatable. From then on
 *     the table is the plain table it always was.
 *
 * NOTE: until pairs() runs, raw access (next, rawget, rawlen) and a JSON
 * encoder other than the host's see only the fields read so far.
 * jy_lua_json_encode completes each pending table it meets, so emitted
 * data and run results are whole.
 */
#include <string.h>

#include "json_scan.h"
#include "lua_host.h"

/* Reads of distinct fields after which the whole text is decoded, since
 * each read scans the text from its start. */
#define MAX_FIELD_READS 4

/* Data texts up to this length are decoded whole when pushed, not field
 * by field (see jy_lua_push_event). */
#define EAGER_DATA_BYTES 128

/* Slots of a pending table's metatable next to its metamethods: the
 * JSON text, the set of names whose text member no longer counts (read
 * or assigned), and the number of fields read. */
enum { TEXT = 1, SETTLED = 2, READS = 3 };


static int pending_index(lua_State *L);


/* Pushes the metatable of the pending table at idx and returns 1, or
 * returns 0 and pushes nothing when the table is not pending. */
static int push_pending_meta(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_getfield(L, -1, "__index");
    int pending = lua_tocfunction(L, -1) == pending_index;
    lua_pop(L, pending ? 1 : 2);
    return pending;
}


/* Pushes the settled set of the metatable at meta, creating it on first
 * use. */
static void push_settled(lua_State *L, int meta)
{
    if (lua_rawgeti(L, meta, SETTLED) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, meta, SETTLED);
}


static void raise_invalid(lua_State *L, const jy_error *err)
{
    luaL_error(L, "invalid JSON in stored data: %s", err->message);
}


/* Decodes every member of the text that is not settled into the pending
 * table at idx, and removes its metatable. [-0, +0, e] */
static void complete(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!push_pending_meta(L, idx))
        return;
    int meta = lua_gettop(L);

    lua_rawgeti(L, meta, TEXT);                        /* stack: meta, text */
    size_t len = 0;
    const char *text = lua_tolstring(L, -1, &len);
    jy_lua_json_decode_text(L, text, len);             /* stack: meta, text, all */
    push_settled(L, meta);                             /* stack: ..., all, settled */

    lua_pushnil(L);
    while (lua_istable(L, -3) && lua_next(L, -3) != 0) {                     /* stack: ..., key, value */
        lua_pushvalue(L, -2);
        if (lua_rawget(L, -4) == LUA_TNIL) {           /* not settled */
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -3);
            lua_rawset(L, idx);
        }
        lua_pop(L, 2);                                 /* stack: ..., key */
    }
    lua_settop(L, meta - 1);
    lua_pushnil(L);
    lua_setmetatable(L, idx);
}


/* __index(data, key): decodes the member named key, unless it is
 * settled, and stores it in the table. */
static int pending_index(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0; /* JSON member names are strings */

    lua_getmetatable(L, 1);                            /* stack: data, key, meta */
    push_settled(L, 3);                                /* stack: ..., settled */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, 4) != LUA_TNIL)
        return 0; /* read before and then removed, or assigned */
    lua_pop(L, 1);

    lua_rawgeti(L, 3, READS);
    lua_Integer reads = lua_tointeger(L, -1) + 1;
    lua_pop(L, 1);
    if (reads > MAX_FIELD_READS) {
        complete(L, 1);
        lua_pushvalue(L, 2);
        lua_rawget(L, 1);
        return 1;
    }
    lua_pushinteger(L, reads);
    lua_rawseti(L, 3, READS);

    size_t len = 0, key_len = 0;
    lua_rawgeti(L, 3, TEXT);
    const char *text = lua_tolstring(L, -1, &len);
    const char *key = lua_tolstring(L, 2, &key_len);
    jy_json_span object = {JY_JSON_OBJECT, text, len};
    jy_json_span member;
    jy_error err;
    int found = jy_json_object_find(&object, key, key_len, &member, &err);
    if (found < 0)
        raise_invalid(L, &err);

    lua_pushvalue(L, 2);
    lua_pushboolean(L, 1);
    lua_rawset(L, 4);                                  /* settled[key] = true */
    if (found == 0)
        return 0;
    jy_lua_json_decode_text(L, member.text, member.len);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}


/* __newindex(data, key, value): the assignment wins over the text. */
static int pending_newindex(lua_State *L)
{
    lua_settop(L, 3);
    lua_getmetatable(L, 1);
    push_settled(L, 4);
    lua_pushvalue(L, 2);
    lua_pushboolean(L, 1);
    lua_rawset(L, 5);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}


static int raw_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}


/* __pairs(data): completes the table, then iterates as next does. */
static int pending_pairs(lua_State *L)
{
    complete(L, 1);
    lua_pushcfunction(L, raw_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}


/* Address of the registry slot that keeps the last data text pushed. */
static const char last_text_key = 't';


/* Pushes json as a Lua string. An event that starts or wakes several
 * runs is pushed once for each, so the last string is kept and reused
 * when the text is the same: comparing the bytes is cheaper than
 * allocating and copying them again. */
static void push_text(lua_State *L, const char *json)
{
    size_t len = strlen(json);
    size_t last_len = 0;

    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &last_text_key) == LUA_TSTRING) {
        const char *last = lua_tolstring(L, -1, &last_len);
        if (last_len == len && memcmp(last, json, len) == 0)
            return;
    }
    lua_pop(L, 1);
    lua_pushlstring(L, json, len);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &last_text_key);
}


/* Pushes data as a pending table over the JSON text of an object. */
static void push_pending_data(lua_State *L, const char *json)
{
    lua_newtable(L);                               /* stack: data */
    /* Room for the text, the settled set and the read count next to
     * the three metamethods, so that no later store resizes it. */
    lua_createtable(L, 3, 3);                      /* stack: data, meta */
    lua_pushcfunction(L, pending_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, pending_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, pending_pairs);
    lua_setfield(L, -2, "__pairs");
    push_text(L, json);
    lua_rawseti(L, -2, TEXT);
    lua_setmetatable(L, -2);                       /* stack: data */
}


void jy_lua_push_event(lua_State *L, const jy_event *event)
{
    jy_lua_push_event_with_data(L, event, 0);
}


int jy_lua_event_data_is_small(const jy_event *event)
{
    return strlen(event->data_json) <= EAGER_DATA_BYTES;
}


void jy_lua_push_event_with_data(lua_State *L, const jy_event *event, int data_idx)
{
    data_idx = data_idx != 0 ? lua_absindex(L, data_idx) : 0;
    lua_createtable(L, 0, 7);                      /* stack: event */
    lua_pushinteger(L, (lua_Integer)event->seq);
    lua_setfield(L, -2, "seq");
    if (event->id != NULL) {
        lua_pushstring(L, event->id);
        lua_setfield(L, -2, "id");
    }
    lua_pushstring(L, event->user);
    lua_setfield(L, -2, "user");
    lua_pushstring(L, event->name);
    lua_setfield(L, -2, "name");
    jy_lua_push_time(L, event->ts);
    lua_setfield(L, -2, "ts");

    /* Small data is decoded whole at once. A pending table's metatable,
     * its set of read fields and the kept text take more memory than a
     * few decoded fields, and a waiting run keeps its event for as long
     * as it waits. */
    size_t data_len = strlen(event->data_json);
    if (data_idx != 0)
        lua_pushvalue(L, data_idx);
    else if (data_len <= EAGER_DATA_BYTES)
        jy_lua_json_decode_text(L, event->data_json, data_len);
    else
        push_pending_data(L, event->data_json);
    lua_setfield(L, -2, "data");                   /* stack: event */

    if (event->user_json != NULL) {
        jy_lua_json_decode(L, event->user_json);
        lua_setfield(L, -2, "user_attributes");
    }
}


/* Walks the table at idx and completes every pending table in it. The
 * table at seen (nil until the walk meets a nested table) marks the
 * tables visited, so shared and cyclic tables are visited once.
 * [-0, +0, e] */
static void complete_in(lua_State *L, int idx, int seen)
{
    luaL_checkstack(L, 4, "value nested too deeply");
    complete(L, idx);

    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {                /* stack: key, value */
        if (lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 1);
            continue;
        }
        if (lua_isnil(L, seen)) {
            lua_newtable(L);
            lua_replace(L, seen);
        }
        lua_pushvalue(L, -1);                      /* stack: key, value, value */
        if (lua_rawget(L, seen) == LUA_TNIL) {
            lua_pushvalue(L, -2);
            lua_pushboolean(L, 1);
            lua_rawset(L, seen);
            complete_in(L, lua_gettop(L) - 1, seen);
        }
        lua_pop(L, 2);                             /* stack: key */
    }
}


void jy_lua_complete_pending_table(lua_State *L, int idx)
{
    complete(L, idx);
}


void jy_lua_complete_pending_data(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return;

    idx = lua_absindex(L, idx);
    lua_pushnil(L);                                /* stack: seen */
    complete_in(L, idx, lua_gettop(L));
    lua_pop(L, 1);
}
