/*
 * Encoding Lua values as JSON text, straight into a C buffer.
 *
 * The output is the text lua-cjson writes with the settings the host
 * always used (sparse arrays become objects, NaN and infinity are
 * rejected), except that "/" is not escaped, numbers keep every digit
 * (floats the fewest that read back as the same double, where cjson
 * kept 14) and a byte that starts no valid UTF-8 sequence becomes
 * \ufffd. The host encoded through cjson
 * before; every j.call, j.emit, j.step
 * result and run result then became a Lua string first, interned in a
 * string table that contains every user id and e-mail of a million waiting
 * runs, only to be copied out and dropped. The error messages are
 * cjson's too, since journeys and their specs see them.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "json_scan.h"
#include "lua_host.h"

/* Tables nested deeper than this are rejected, as cjson rejects them. */
#define MAX_DEPTH 1000

/* A table whose largest index exceeds both SPARSE_SAFE and SPARSE_RATIO
 * times its number of indexes is written as an object, not as an array
 * padded with nulls. */
#define SPARSE_RATIO 2
#define SPARSE_SAFE 10


static void encode_value(lua_State *L, jy_buf *out, int idx, int depth);


/* Raises cjson's message for a value it cannot write. [-0, +1, v] */
static int reject(lua_State *L, int idx, const char *reason)
{
    return luaL_error(L, "Cannot serialise %s: %s", luaL_typename(L, idx), reason);
}


/* Integers keep every digit. A float gets the digits it takes to read
 * back the same double, because a replay decodes j.step values from
 * the journal and must see what the first run saw. */
static size_t number_text(lua_State *L, int idx, char text[32])
{
    int len;

    if (lua_isinteger(L, idx)) {
        len = (int)jy_json_format_integer(text, (int64_t)lua_tointeger(L, idx));
    } else {
        double number = lua_tonumber(L, idx);
        if (isnan(number) || isinf(number))
            reject(L, idx, "must not be NaN or Inf");
        /* The decoder reads a whole number that fits in 64 bits as that
         * integer, from its digits, so such a float is written with its
         * exact digits: the shortest text of 2^60, 1.152921504606847e+18,
         * would read back as another integer. -0.0 keeps its sign. */
        if (number == floor(number) && number >= -9223372036854775808.0 &&
            number < 9223372036854775808.0 && !(number == 0 && signbit(number)))
            len = (int)jy_json_format_integer(text, (int64_t)number);
        else
            len = jy_json_format_double(text, 32, number);
    }
    return (size_t)len;
}


static void encode_number(lua_State *L, jy_buf *out, int idx)
{
    char text[32];
    size_t len = number_text(L, idx, text);
    jy_buf_append(out, text, len);
}


static void encode_string(lua_State *L, jy_buf *out, int idx)
{
    size_t len = 0;
    const char *text = lua_tolstring(L, idx, &len);
    jy_buf_append_json_text(out, text, len);
}


/* Returns the length of the table at idx when it is written as an array
 * (every key a whole number from 1 up, not too sparse), or 0 when it is
 * written as an object. An empty table is an object. [-0, +0, -] */
static size_t array_length(lua_State *L, int idx)
{
    double largest = 0;
    size_t count = 0;

    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        double key = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (key < 1 || floor(key) != key) {
            lua_pop(L, 1);
            return 0;
        }
        if (key > largest)
            largest = key;
        count++;
    }
    if (largest > (double)count * SPARSE_RATIO && largest > SPARSE_SAFE)
        return 0;
    return (size_t)largest;
}


/* A member of an object being written: its name as JSON writes it, and
 * where its value is kept. */
typedef struct member {
    const char *text;   /* a string key's bytes; see member_name */
    size_t name_len;
    lua_Integer slot;   /* the value's stack index, or its pair in the anchor */
    int is_number;
    char number_text[32];
} member;


/* The name's bytes. A number's text lives in the member itself, which
 * the sort moves, so it is looked up rather than kept as a pointer. */
static const char *member_name(const member *m)
{
    return m->is_number ? m->number_text : m->text;
}


static int compare_members(const void *a, const void *b)
{
    const member *x = a;
    const member *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(member_name(x), member_name(y), n);

    if (c != 0)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    /* 1 and "1" both write "1": the number first, so the order is
     * still the same from run to run. */
    return y->is_number - x->is_number;
}


/* Reads the key at key_idx into m. Raises cjson's error for a key that
 * is neither a string nor a number. */
static void read_member(lua_State *L, int key_idx, member *m)
{
    int type = lua_type(L, key_idx);

    if (type != LUA_TSTRING && type != LUA_TNUMBER)
        reject(L, key_idx, "table key must be a number or string");
    m->is_number = type == LUA_TNUMBER;
    if (!m->is_number) {
        /* The caller keeps the key reachable (on the stack or in an
         * anchor table), so its bytes stay put while the object is
         * written. */
        m->text = lua_tolstring(L, key_idx, &m->name_len);
        return;
    }
    m->name_len = number_text(L, key_idx, m->number_text);
}


static void write_name(jy_buf *out, const member *m)
{
    if (m->is_number) {
        jy_buf_append(out, "\"", 1);
        jy_buf_append(out, m->number_text, m->name_len);
        jy_buf_append(out, "\"", 1);
    } else {
        jy_buf_append_json_text(out, m->text, m->name_len);
    }
    jy_buf_append(out, ":", 1);
}


/* Writes the sorted members as an object. Each value is at the stack
 * index in its slot, or with anchor nonzero at 2 * slot + 2 of the
 * anchor table. [-0, +0, v] */
static void write_members(lua_State *L, jy_buf *out, const member *members, size_t n,
                          int anchor, int depth)
{
    jy_buf_append(out, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            jy_buf_append(out, ",", 1);
        write_name(out, &members[i]);
        if (anchor != 0) {
            lua_rawgeti(L, anchor, 2 * members[i].slot + 2);
            encode_value(L, out, lua_gettop(L), depth);
            lua_pop(L, 1);
        } else {
            encode_value(L, out, (int)members[i].slot, depth);
        }
    }
    jy_buf_append(out, "}", 1);
}


/* Objects of up to this many members are sorted on the C stack, with
 * their values on Lua's stack. Most emitted data and results are this
 * small. */
#define SMALL_OBJECT 8
#define SMALL_OBJECT_DEPTH 32


/* Writes an object of at most SMALL_OBJECT members. Returns 0 without
 * writing when it has more. [-0, +0, v] */
static int encode_small_object(lua_State *L, jy_buf *out, int idx, int depth)
{
    member members[SMALL_OBJECT];
    int base = lua_gettop(L);
    size_t n = 0;

    if (!lua_checkstack(L, 2 * SMALL_OBJECT + 2))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {                /* stack: pairs, key, value */
        if (n == SMALL_OBJECT) {
            lua_settop(L, base);
            return 0;
        }
        read_member(L, -2, &members[n]);
        members[n].slot = lua_gettop(L);
        lua_pushvalue(L, -2);                      /* the key, for lua_next */
        n++;
    }

    /* Insertion sort: a handful of members, and no calls through a
     * pointer. */
    for (size_t i = 1; i < n; i++) {
        member m = members[i];
        size_t j = i;
        while (j > 0 && compare_members(&members[j - 1], &m) > 0) {
            members[j] = members[j - 1];
            j--;
        }
        members[j] = m;
    }

    write_members(L, out, members, n, 0, depth);
    lua_settop(L, base);
    return 1;
}


/* Writes the table at idx as an object with its members sorted by
 * name. Lua visits a table's keys in an order that depends on a hash
 * seed chosen at each start. The sort makes emitted events, results
 * and journal entries the same text in every process. [-0, +0, v] */
static void encode_object(lua_State *L, jy_buf *out, int idx, int depth)
{
    /* The small path keeps its members in the C frame; deep nesting
     * takes the other one, so the C stack stays small. */
    if (depth <= SMALL_OBJECT_DEPTH && encode_small_object(L, out, idx, depth))
        return;

    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }

    /* The keys and values go into an anchor table first. A table with
     * weak values may lose entries at any collection, and the keys'
     * bytes must stay put while they are sorted and written. Its array
     * is sized up front, so the copy allocates nothing while lua_next
     * walks the table. The collector pauses while the anchor is made,
     * so that no finalizer changes the table between the count and the
     * copy. */
    if (count > (size_t)INT_MAX / 2)
        luaL_error(L, "Cannot serialise table: too many members (%d)", INT_MAX / 2);
    int collecting = lua_gc(L, LUA_GCISRUNNING) == 1;
    if (collecting)
        lua_gc(L, LUA_GCSTOP);
    lua_createtable(L, (int)(2 * count), 0);
    if (collecting)
        lua_gc(L, LUA_GCRESTART);
    int anchor = lua_gettop(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {                /* stack: anchor, key, value */
        if ((size_t)n == count) {
            lua_pop(L, 2);
            break;
        }
        lua_pushvalue(L, -2);
        lua_rawseti(L, anchor, 2 * n + 1);         /* the key */
        lua_rawseti(L, anchor, 2 * n + 2);         /* the value; stack: anchor, key */
        n++;
    }

    member *members = lua_newuserdatauv(L, (size_t)n * sizeof *members, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, anchor, 2 * i + 1);
        read_member(L, -1, &members[i]);
        members[i].slot = i;
        lua_pop(L, 1);
    }
    qsort(members, (size_t)n, sizeof *members, compare_members);

    write_members(L, out, members, (size_t)n, anchor, depth);
    lua_pop(L, 2);
}


static void encode_table(lua_State *L, jy_buf *out, int idx, int depth)
{
    if (depth > MAX_DEPTH || !lua_checkstack(L, 5))
        luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);

    /* A run's event data may still be partly JSON text (event_table.c),
     * so decode the rest first and write it whole. */
    jy_lua_complete_pending_table(L, idx);

    size_t length = array_length(L, idx);
    if (length > 0) {
        jy_buf_append(out, "[", 1);
        for (size_t i = 1; i <= length; i++) {
            if (i > 1)
                jy_buf_append(out, ",", 1);
            lua_rawgeti(L, idx, (lua_Integer)i);
            encode_value(L, out, lua_gettop(L), depth);
            lua_pop(L, 1);
        }
        jy_buf_append(out, "]", 1);
        return;
    }

    encode_object(L, out, idx, depth);
}


static void encode_value(lua_State *L, jy_buf *out, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        jy_buf_append(out, "null", 4);
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            jy_buf_append(out, "true", 4);
        else
            jy_buf_append(out, "false", 5);
        return;
    case LUA_TNUMBER:
        encode_number(L, out, idx);
        return;
    case LUA_TSTRING:
        encode_string(L, out, idx);
        return;
    case LUA_TTABLE:
        encode_table(L, out, idx, depth + 1);
        return;
    case LUA_TLIGHTUSERDATA:
        /* cjson.null, which journeys may still pass. */
        if (lua_touserdata(L, idx) == NULL) {
            jy_buf_append(out, "null", 4);
            return;
        }
        break;
    default:
        break;
    }
    reject(L, idx, "type not supported");
}


/* Encodes the value at 1 into the buffer at 2. [-0, +0, v] */
static int encode_protected(lua_State *L)
{
    jy_buf *out = lua_touserdata(L, 2);

    encode_value(L, out, 1, 0);
    if (jy_buf_failed(out))
        return luaL_error(L, "out of memory encoding JSON");
    return 0;
}


/* Encodes the value at 1 into the buffer at 2 and pushes the text as a
 * Lua string. A memory error here leaves the buffer for the caller to
 * free. [-0, +1, v] */
static int encode_push_protected(lua_State *L)
{
    jy_buf *out = lua_touserdata(L, 2);

    encode_protected(L);
    lua_pushlstring(L, out->data, out->len);
    return 1;
}


/* Calls fn with the value at idx and the buffer out in protected mode,
 * and returns the status of the call. [-0, +nresults, -] */
static int call_encoder(lua_State *L, int idx, lua_CFunction fn, jy_buf *out, int nresults)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, fn);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, out);
    return lua_pcall(L, 2, nresults, 0);
}


int jy_lua_json_push(lua_State *L, int idx)
{
    jy_buf out;
    jy_buf_init(&out);
    int status = call_encoder(L, idx, encode_push_protected, &out, 1);
    jy_buf_free(&out);
    return status;
}


char *jy_lua_json_encode_status(lua_State *L, int idx, int *status)
{
    jy_buf out;
    jy_buf_init(&out);
    *status = call_encoder(L, idx, encode_protected, &out, 0);
    if (*status != LUA_OK) {
        jy_buf_free(&out);
        return NULL; /* the message stays on the stack */
    }

    char *text = jy_buf_take(&out);
    if (text == NULL) {
        *status = LUA_ERRMEM;
        lua_pushliteral(L, "out of memory encoding JSON");
    }
    return text;
}


char *jy_lua_json_encode(lua_State *L, int idx)
{
    int status = LUA_OK;
    return jy_lua_json_encode_status(L, idx, &status);
}
