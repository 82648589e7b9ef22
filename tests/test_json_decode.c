/*
 * Decoding JSON text into Lua values: null as nil, integers and floats,
 * strings with escapes, nesting, repeated keys, long arrays and objects,
 * and the errors for invalid text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua_host.h"

static lua_State *L;


static int decode_protected(lua_State *state)
{
    jy_lua_json_decode(state, lua_touserdata(state, 1));
    return 1;
}


/* Decodes json and calls the Lua predicate `check` (the body of a
 * function of v) on the result. Returns 1 when it holds, 0 when not,
 * -1 when the decode raised. */
static int decoded_satisfies(const char *json, const char *check)
{
    char chunk[1024];
    snprintf(chunk, sizeof chunk, "return function(v) %s end", check);
    if (luaL_dostring(L, chunk) != LUA_OK) {
        fprintf(stderr, "bad test chunk %s: %s\n", chunk, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }

    lua_pushcfunction(L, decode_protected);
    lua_pushlightuserdata(L, (void *)json);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "decoding %s failed: %s\n", json, lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "check on %s failed: %s\n", json, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int result = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return result;
}


/* Returns the error message of decoding json (static storage), or NULL
 * when it decodes. */
static const char *decode_error(const char *json)
{
    static char message[512];

    lua_pushcfunction(L, decode_protected);
    lua_pushlightuserdata(L, (void *)json);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        lua_pop(L, 1);
        return NULL;
    }
    snprintf(message, sizeof message, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return message;
}


static void decode_reads_scalars(void)
{
    CHECK_INT_EQ(decoded_satisfies("true", "return v == true"), 1);
    CHECK_INT_EQ(decoded_satisfies("false", "return v == false"), 1);
    CHECK_INT_EQ(decoded_satisfies("null", "return v == nil"), 1);
    CHECK_INT_EQ(decoded_satisfies(" \"x\" ", "return v == 'x'"), 1);
}


static void decode_makes_whole_numbers_integers(void)
{
    CHECK_INT_EQ(decoded_satisfies("40", "return math.type(v) == 'integer' and v == 40"), 1);
    CHECK_INT_EQ(decoded_satisfies("-7", "return math.type(v) == 'integer' and v == -7"), 1);
    CHECK_INT_EQ(decoded_satisfies("-0", "return math.type(v) == 'integer' and v == 0"), 1);
    CHECK_INT_EQ(decoded_satisfies("1.0", "return math.type(v) == 'integer' and v == 1"), 1);
    CHECK_INT_EQ(decoded_satisfies("1e3", "return math.type(v) == 'integer' and v == 1000"), 1);
    CHECK_INT_EQ(decoded_satisfies("999999999999999",
                                   "return math.type(v) == 'integer' and v == 999999999999999"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("9007199254740991",
                                   "return math.type(v) == 'integer' and v == 9007199254740991"),
                 1);
}


/* Integers are read from their digits, so those above 2^53, which a
 * double cannot hold, keep every digit up to 64 bits. */
static void decode_keeps_64_bit_integers_exact(void)
{
    CHECK_INT_EQ(decoded_satisfies("9007199254740992",
                                   "return math.type(v) == 'integer' and v == 9007199254740992"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("9007199254740993",
                                   "return math.type(v) == 'integer' and v == 9007199254740993"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("12345678901234567",
                                   "return math.type(v) == 'integer' and v == 12345678901234567"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("9223372036854775807",
                                   "return v == math.maxinteger"), 1);
    CHECK_INT_EQ(decoded_satisfies("-9223372036854775808",
                                   "return v == math.mininteger"), 1);
    CHECK_INT_EQ(decoded_satisfies("9007199254740993.0",
                                   "return math.type(v) == 'integer' and v == 9007199254740993"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("9.007199254740993e15",
                                   "return math.type(v) == 'integer' and v == 9007199254740993"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("[12345678901234567,12345678901234568]",
                                   "return v[1] ~= v[2] and v[2] - v[1] == 1"), 1);
}


static void decode_keeps_other_numbers_floats(void)
{
    CHECK_INT_EQ(decoded_satisfies("2.55", "return math.type(v) == 'float' and v == 2.55"), 1);
    CHECK_INT_EQ(decoded_satisfies("-0.5e-3", "return v == -0.0005"), 1);
    CHECK_INT_EQ(decoded_satisfies("12345678901234567890",
                                   "return math.type(v) == 'float' and v > 1.2e19"), 1);
    CHECK_INT_EQ(decoded_satisfies("9223372036854775808", "return math.type(v) == 'float'"), 1);
    CHECK_INT_EQ(decoded_satisfies("-9223372036854775809", "return math.type(v) == 'float'"), 1);
    CHECK_INT_EQ(decoded_satisfies("1e19", "return math.type(v) == 'float' and v == 1e19"), 1);
    CHECK_INT_EQ(decoded_satisfies("1e999999999999999999999", "return v == math.huge"), 1);
    CHECK_INT_EQ(decoded_satisfies("1.00000000000000001", "return math.type(v) == 'float'"), 1);
    CHECK_INT_EQ(decoded_satisfies("0.12345678901234567",
                                   "return v == 0.12345678901234567"), 1);
}


static void decode_resolves_string_escapes(void)
{
    CHECK_INT_EQ(decoded_satisfies("\"a\\\"b\\\\c\\/d\\n\"", "return v == 'a\"b\\\\c/d\\n'"), 1);
    CHECK_INT_EQ(decoded_satisfies("\"caf\\u00e9\"", "return v == 'caf\\u{e9}'"), 1);
    CHECK_INT_EQ(decoded_satisfies("\"\\ud83d\\ude00\"", "return v == '\\u{1F600}'"), 1);
    CHECK_INT_EQ(decoded_satisfies("\"nul\\u0000byte\"", "return #v == 8"), 1);
}


static void decode_drops_null_members(void)
{
    CHECK_INT_EQ(decoded_satisfies("{\"a\":null,\"b\":1}",
                                   "return v.a == nil and v.b == 1 and next(v, 'b') == nil"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("[1,null,3]", "return v[1] == 1 and v[2] == nil and v[3] == 3"),
                 1);
}


static void decode_builds_nested_tables(void)
{
    CHECK_INT_EQ(decoded_satisfies("{\"items\":[[\"85123A\",6,2.55],[\"71053\",6,3.39]],"
                                   "\"total\":139.12,\"meta\":{}}",
                                   "return #v.items == 2 and v.items[2][1] == '71053' and "
                                   "math.type(v.items[1][2]) == 'integer' and v.total == 139.12 "
                                   "and next(v.meta) == nil"),
                 1);
    CHECK_INT_EQ(decoded_satisfies("[]", "return type(v) == 'table' and next(v) == nil"), 1);
}


static void decode_takes_last_repeated_key(void)
{
    CHECK_INT_EQ(decoded_satisfies("{\"a\":1,\"b\":2,\"a\":3}", "return v.a == 3 and v.b == 2"),
                 1);
}


/* Arrays and objects longer than the batch that waits on the stack. */
static void decode_reads_long_arrays_and_objects(void)
{
    size_t size = 20 * 1000 + 64;
    char *array = malloc(size);
    char *object = malloc(size);
    size_t a = 0, o = 0;
    array[a++] = '[';
    object[o++] = '{';
    for (int i = 1; i <= 1000; i++) {
        a += (size_t)snprintf(array + a, size - a, "%s%d", i > 1 ? "," : "", i);
        o += (size_t)snprintf(object + o, size - o, "%s\"k%d\":%d", i > 1 ? "," : "", i, i);
    }
    snprintf(array + a, size - a, "]");
    snprintf(object + o, size - o, "}");

    CHECK_INT_EQ(decoded_satisfies(array, "for i = 1, 1000 do if v[i] ~= i then return false end "
                                          "end return #v == 1000"),
                 1);
    CHECK_INT_EQ(decoded_satisfies(object, "local n = 0 for k, x in pairs(v) do "
                                           "if k ~= 'k' .. x then return false end n = n + 1 end "
                                           "return n == 1000"),
                 1);
    free(array);
    free(object);
}


static void decode_rejects_invalid_text(void)
{
    const char *message = decode_error("{\"a\":1,}");
    CHECK(message != NULL);
    if (message != NULL) {
        CHECK_CONTAINS(message, "invalid JSON in stored data");
        CHECK_CONTAINS(message, "found '}' at character 8");
    }
    CHECK(decode_error("[1 2]") != NULL);
    CHECK(decode_error("{\"a\" 1}") != NULL);
    CHECK(decode_error("01") != NULL);
    CHECK(decode_error("\"\\ud800\"") != NULL);
    CHECK(decode_error("nul") != NULL);
    CHECK(decode_error("") != NULL);
    CHECK(decode_error("[1] x") != NULL);
    CHECK_INT_EQ(lua_gettop(L), 0);
}


static void decode_limits_nesting_depth(void)
{
    char deep[2 * 1002 + 1];
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    deep[2002] = '\0';
    const char *message = decode_error(deep);
    CHECK(message != NULL);
    if (message != NULL)
        CHECK_CONTAINS(message, "too many nested");

    char shallow[2 * 999 + 1];
    memset(shallow, '[', 999);
    memset(shallow + 999, ']', 999);
    shallow[1998] = '\0';
    CHECK(decode_error(shallow) == NULL);
}


int main(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);

    decode_reads_scalars();
    decode_makes_whole_numbers_integers();
    decode_keeps_64_bit_integers_exact();
    decode_keeps_other_numbers_floats();
    decode_resolves_string_escapes();
    decode_drops_null_members();
    decode_builds_nested_tables();
    decode_takes_last_repeated_key();
    decode_reads_long_arrays_and_objects();
    decode_rejects_invalid_text();
    decode_limits_nesting_depth();

    CHECK_INT_EQ(lua_gettop(L), 0);
    lua_close(L);
    return check_summary("test_json_decode");
}
