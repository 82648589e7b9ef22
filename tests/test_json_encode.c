/*
 * Encoding Lua values as JSON: the text for each kind of value, the
 * errors, and a comparison with lua-cjson (with the settings the host
 * used it with) over random nested values.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

/* lua-cjson.h needs lua_State declared first. */
#include <lua-cjson.h>

#include "buffer.h"
#include "check.h"
#include "json_scan.h"
#include "lua_host.h"

static lua_State *L;


/* Runs chunk, which returns one value, and encodes that value. Returns
 * the text (malloc'd), or NULL with the message in *error. */
static char *encode_chunk(const char *chunk, char *error, size_t error_size)
{
    if (luaL_dostring(L, chunk) != LUA_OK) {
        fprintf(stderr, "bad test chunk %s: %s\n", chunk, lua_tostring(L, -1));
        lua_settop(L, 0);
        snprintf(error, error_size, "(bad chunk)");
        return NULL;
    }
    char *text = jy_lua_json_encode(L, -1);
    if (text == NULL)
        snprintf(error, error_size, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
    return text;
}


#define CHECK_ENCODES(chunk, expected)                                        \
    do {                                                                      \
        char error_[256] = "";                                                \
        char *text_ = encode_chunk(chunk, error_, sizeof error_);             \
        CHECK_STR_EQ(text_ != NULL ? text_ : error_, expected);               \
        free(text_);                                                          \
    } while (0)

#define CHECK_REJECTS(chunk, message)                                         \
    do {                                                                      \
        char error_[256] = "";                                                \
        char *text_ = encode_chunk(chunk, error_, sizeof error_);             \
        CHECK(text_ == NULL);                                                 \
        CHECK(strstr(error_, message) != NULL);                               \
        free(text_);                                                          \
    } while (0)


static void scalars(void)
{
    CHECK_ENCODES("return nil", "null");
    CHECK_ENCODES("return true", "true");
    CHECK_ENCODES("return false", "false");
    CHECK_ENCODES("return 5", "5");
    CHECK_ENCODES("return -5", "-5");
    CHECK_ENCODES("return 5.0", "5");
    CHECK_ENCODES("return -0.0", "-0");
    CHECK_ENCODES("return 0.1", "0.1");
    CHECK_ENCODES("return 0.1 + 0.2", "0.30000000000000004");
    CHECK_ENCODES("return 1/3", "0.3333333333333333");
    CHECK_ENCODES("return 139.12", "139.12");
    CHECK_ENCODES("return 1733400000.123456", "1733400000.123456");
    CHECK_ENCODES("return 1e300", "1e+300");
    CHECK_ENCODES("return 1e-5", "1e-05");
    CHECK_ENCODES("return 2^53", "9007199254740992");
    CHECK_ENCODES("return 2.0^60", "1152921504606846976");
    CHECK_ENCODES("return -2.0^63", "-9223372036854775808");
    CHECK_ENCODES("return 2.0^63", "9.223372036854776e+18");

    /* Integers keep every digit, where cjson kept 14. */
    CHECK_ENCODES("return 1234567890123456", "1234567890123456");
    CHECK_ENCODES("return math.maxinteger", "9223372036854775807");
    CHECK_ENCODES("return math.mininteger", "-9223372036854775808");
}


static void strings(void)
{
    CHECK_ENCODES("return ''", "\"\"");
    CHECK_ENCODES("return 'app/signed_up'", "\"app/signed_up\"");
    CHECK_ENCODES("return 'a\"b\\\\c'", "\"a\\\"b\\\\c\"");
    CHECK_ENCODES("return '\\b\\f\\n\\r\\t'", "\"\\b\\f\\n\\r\\t\"");
    CHECK_ENCODES("return '\\0\\1\\26\\31\\127'", "\"\\u0000\\u0001\\u001a\\u001f\\u007f\"");
    /* Valid UTF-8 goes out as it is, and each byte that starts no valid
     * sequence becomes U+FFFD. */
    CHECK_ENCODES("return 'caf\\xc3\\xa9 \\xff'", "\"caf\xc3\xa9 \\ufffd\"");
    CHECK_ENCODES("return '\\xf0\\x9f\\x98\\x80'", "\"\xf0\x9f\x98\x80\"");
    CHECK_ENCODES("return 'a\\xc3'", "\"a\\ufffd\"");
    CHECK_ENCODES("return '\\xc0\\x80'", "\"\\ufffd\\ufffd\"");
    CHECK_ENCODES("return '\\xed\\xa0\\x80'", "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_ENCODES("return '\\xf4\\x90\\x80\\x80x'", "\"\\ufffd\\ufffd\\ufffd\\ufffdx\"");
    CHECK_ENCODES("return string.rep('x', 50) .. '\\n' .. string.rep('y', 3)",
                  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\nyyy\"");
}


static void tables(void)
{
    CHECK_ENCODES("return {}", "{}");
    CHECK_ENCODES("return {1, 'two', true}", "[1,\"two\",true]");
    CHECK_ENCODES("return {1, 2, nil, 4}", "[1,2,null,4]");
    CHECK_ENCODES("return {[3] = 'c', [2] = 'b', [1] = 'a'}", "[\"a\",\"b\",\"c\"]");
    CHECK_ENCODES("return {[1.0] = 1, [2] = 3}", "[1,3]");
    CHECK_ENCODES("return {[10] = 1}", "[null,null,null,null,null,null,null,null,null,1]");
    CHECK_ENCODES("return {a = {b = {c = {}}}}", "{\"a\":{\"b\":{\"c\":{}}}}");
    CHECK_ENCODES("return {list = {{1}, {2, {3}}}}", "{\"list\":[[1],[2,[3]]]}");

    /* Too sparse for an array, or keys that are no index: objects with
     * the numbers as keys. */
    CHECK_ENCODES("return {[11] = 1}", "{\"11\":1}");
    CHECK_ENCODES("return {[0] = 1}", "{\"0\":1}");
    CHECK_ENCODES("return {[-1] = 2}", "{\"-1\":2}");
    CHECK_ENCODES("return {[1.5] = 1}", "{\"1.5\":1}");

    /* Metatables are not consulted, as in cjson. */
    CHECK_ENCODES("return setmetatable({}, {__index = function() return 1 end})", "{}");
}


/* The hand-written integer formats against snprintf, at the ends of
 * int64_t and around zero, and the journal's {"KEY":VALUE} form. */
static void integer_formats(void)
{
    static const int64_t values[] = {0, 1, -1, 9, 10, -10, 1234567890123456789LL,
                                     INT64_MAX, INT64_MIN, INT64_MIN + 1};

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char ours[32];
        char expected[32];
        size_t len = jy_json_format_integer(ours, values[i]);
        snprintf(expected, sizeof expected, "%lld", (long long)values[i]);
        CHECK_STR_EQ(ours, expected);
        CHECK_INT_EQ(len, strlen(expected));
    }

    char text[64];
    size_t len = jy_json_format_integer_object(text, "until", 1733000000000LL);
    CHECK_STR_EQ(text, "{\"until\":1733000000000}");
    CHECK_INT_EQ(len, strlen("{\"until\":1733000000000}"));
    jy_json_format_integer_object(text, "event", INT64_MIN);
    CHECK_STR_EQ(text, "{\"event\":-9223372036854775808}");
}


/* Members come out sorted by name, bytewise, at every level, so the
 * same value gives the same text in every process. Of a number and a
 * string with the same text, the number comes first. */
static void sorted_members(void)
{
    CHECK_ENCODES("return {orders = 1, last_invoice = '536385', last_ts = 2}",
                  "{\"last_invoice\":\"536385\",\"last_ts\":2,\"orders\":1}");
    CHECK_ENCODES("return {b = {z = 1, y = {2, 3}, x = {}}, a = true, B = 0, [''] = 5}",
                  "{\"\":5,\"B\":0,\"a\":true,\"b\":{\"x\":{},\"y\":[2,3],\"z\":1}}");
    CHECK_ENCODES("return {[20] = 'n', ['20'] = 's', [3] = 'm', [-1] = 'k'}",
                  "{\"-1\":\"k\",\"20\":\"n\",\"20\":\"s\",\"3\":\"m\"}");
    CHECK_ENCODES("return {ab = 1, a = 2, ['a\\0'] = 3, ['\\195\\169'] = 4, z = 5}",
                  "{\"a\":2,\"a\\u0000\":3,\"ab\":1,\"z\":5,\"\u00e9\":4}");

    /* More members than the encoder sorts on the C stack. */
    char expected[512] = "{";
    char chunk[512] = "local t = {} for i = 1, 40 do t[string.format('k%02d', 41 - i)] = i end "
                      "return t";
    for (int i = 1; i <= 40; i++) {
        char member[32];
        snprintf(member, sizeof member, "%s\"k%02d\":%d", i > 1 ? "," : "", i, 41 - i);
        strcat(expected, member);
    }
    strcat(expected, "}");
    CHECK_ENCODES(chunk, expected);

    /* Deeper than the encoder sorts on the C stack: 40 levels of
     * {z = ..., a = level}. */
    char deep[1024] = "";
    for (int level = 1; level <= 40; level++) {
        char open[32];
        snprintf(open, sizeof open, "{\"a\":%d,\"z\":", level);
        strcat(deep, open);
    }
    strcat(deep, "{}");
    for (int level = 1; level <= 40; level++)
        strcat(deep, "}");
    CHECK_ENCODES("local t = {} for level = 40, 1, -1 do t = {z = t, a = level} end return t",
                  deep);
}


static void rejections(void)
{
    CHECK_REJECTS("return 0/0", "Cannot serialise number: must not be NaN or Inf");
    CHECK_REJECTS("return {x = math.huge}", "Cannot serialise number: must not be NaN or Inf");
    CHECK_REJECTS("return {x = print}", "Cannot serialise function: type not supported");
    CHECK_REJECTS("return {coroutine.create(print)}", "Cannot serialise thread: type not supported");
    CHECK_REJECTS("return {[true] = 1}",
                  "Cannot serialise boolean: table key must be a number or string");
    CHECK_REJECTS("local t = {} t.t = t return t", "Cannot serialise, excessive nesting (1001)");

    /* A rejection leaves the state usable. */
    CHECK_ENCODES("return {ok = 1}", "{\"ok\":1}");
}


/* Removes cjson's "\/" escapes, as the host always wrote "/". */
static void unescape_slashes(char *text)
{
    size_t out = 0;

    for (size_t i = 0; text[i] != '\0'; i++) {
        if (text[i] == '\\' && text[i + 1] != '\0') {
            if (text[i + 1] != '/')
                text[out++] = text[i];
            text[out++] = text[++i];
            continue;
        }
        text[out++] = text[i];
    }
    text[out] = '\0';
}


/* One member of an object in normalize: its decoded name and its value
 * already normalized. */
typedef struct sorted_member {
    char *name;
    size_t name_len;
    char *value;
} sorted_member;


static int compare_sorted(const void *a, const void *b)
{
    const sorted_member *x = a;
    const sorted_member *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);

    if (c != 0)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return strcmp(x->value, y->value);
}


static char *normalize(const char *text, size_t len);


/* Writes the JSON value in span with the members of every object sorted
 * by name, as the encoder sorts them, and equal names by value. It
 * reads cjson's text, whose members come in the table's order. */
static void normalize_span(const jy_json_span *span, jy_buf *out)
{
    const char *text = span->text;
    size_t len = span->len;
    size_t pos = 1;

    if (span->type == JY_JSON_ARRAY) {
        jy_buf_append(out, "[", 1);
        for (int first = 1;; first = 0) {
            jy_json_skip_space(text, len, &pos);
            if (text[pos] == ']')
                break;
            if (text[pos] == ',')
                pos++;
            jy_json_span item;
            jy_json_scan_value(text, len, &pos, &item, NULL);
            if (!first)
                jy_buf_append(out, ",", 1);
            normalize_span(&item, out);
        }
        jy_buf_append(out, "]", 1);
        return;
    }
    if (span->type != JY_JSON_OBJECT) {
        jy_buf_append(out, text, len);
        return;
    }

    sorted_member members[64];
    size_t count = 0;
    for (;;) {
        jy_json_skip_space(text, len, &pos);
        if (text[pos] == '}')
            break;
        if (text[pos] == ',')
            pos++;
        jy_json_span name, value;
        jy_json_scan_value(text, len, &pos, &name, NULL);
        jy_json_skip_space(text, len, &pos);
        pos++; /* the colon */
        jy_json_scan_value(text, len, &pos, &value, NULL);
        if (count == sizeof members / sizeof members[0])
            continue; /* the generator makes at most 8 */
        sorted_member *m = &members[count++];
        m->name = malloc(name.len);
        m->name_len = jy_json_string_decode(&name, m->name);
        jy_buf member_value;
        jy_buf_init(&member_value);
        normalize_span(&value, &member_value);
        m->value = jy_buf_take(&member_value);
        m->value = realloc(m->value, strlen(m->value) + name.len + 2);
        /* The output keeps the member's text as cjson wrote its name. */
        memmove(m->value + name.len + 1, m->value, strlen(m->value) + 1);
        memcpy(m->value, name.text, name.len);
        m->value[name.len] = ':';
    }
    qsort(members, count, sizeof members[0], compare_sorted);

    jy_buf_append(out, "{", 1);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            jy_buf_append(out, ",", 1);
        jy_buf_append(out, members[i].value, strlen(members[i].value));
        free(members[i].name);
        free(members[i].value);
    }
    jy_buf_append(out, "}", 1);
}


/* Returns text (a valid JSON value) normalized, malloc'd. */
static char *normalize(const char *text, size_t len)
{
    jy_json_span span;
    size_t pos = 0;
    jy_buf out;

    jy_buf_init(&out);
    jy_json_scan_value(text, len, &pos, &span, NULL);
    normalize_span(&span, &out);
    return jy_buf_take(&out);
}


/* A table with weak values loses members at any collection, and the
 * encoder allocates while it writes a large object. Each member that
 * is written must come with its value, and the names it sorted must
 * still be there to write (AddressSanitizer checks the reads). The
 * values outlive the chunk only in the weak table, so a collection
 * during the writing clears them. With the collector's default
 * settings that happens in most rounds. */
static void weak_members(void)
{
    static const char chunk[] =
        "local t = setmetatable({}, {__mode = 'v'})\n"
        "local keep = {}\n"
        "for i = 1, 2000 do\n"
        "  local value = {i}\n"
        "  keep[i] = value\n"
        "  t[string.rep('k', 200) .. i] = value\n"
        "end\n"
        "return t\n";
    int nulls = 0;

    for (int round = 0; round < 20; round++) {
        char error[256] = "";
        char *text = encode_chunk(chunk, error, sizeof error);
        CHECK(text != NULL);
        if (text == NULL)
            continue;
        if (strstr(text, "null") != NULL)
            nulls++;
        free(text);
    }
    CHECK_INT_EQ(nulls, 0);
}


/* A finalizer that adds members to the table being written, while the
 * encoder allocates: the object is written with the members it
 * counted, and nothing is written past them. */
static void members_added_while_writing(void)
{
    static const char chunk[] =
        "collectgarbage('incremental', 100, 100)\n"
        "T = {}\n"
        "for i = 1, 50 do T['m' .. i] = i end\n"
        "for i = 1, 2000 do\n"
        "  setmetatable({}, {__gc = function() T['added' .. i] = i end})\n"
        "end\n"
        "return T\n";

    char error[256] = "";
    char *text = encode_chunk(chunk, error, sizeof error);
    CHECK(text != NULL);
    if (text != NULL) {
        CHECK(text[0] == '{');
        CHECK(strstr(text, "\"m50\":50") != NULL);
    }
    free(text);
    luaL_dostring(L, "collectgarbage('incremental', 200, 100)");
    luaL_dostring(L, "T = nil collectgarbage()");
}


/* Builds random nested values in Lua (strings with every ASCII byte and
 * two-byte UTF-8,
 * whole and fractional numbers, booleans, arrays with holes, sparse and
 * mixed tables) and checks that the encoder writes what cjson writes.
 * Floats keep at most 12 significant digits and stay below 10^13, so
 * cjson's 14 digits and the encoder's 15 or more write the same text. */
static void same_as_cjson(void)
{
    static const char generator[] =
        "local seed = ...\n"
        "math.randomseed(seed)\n"
        "local function str()\n"
        "  local parts = {}\n"
        "  for i = 1, math.random(0, 12) do\n"
        "    local r = math.random()\n"
        "    if r < 0.6 then parts[i] = string.char(math.random(97, 122))\n"
        "    elseif r < 0.8 then parts[i] = string.char(math.random(0, 127))\n"
        "    else parts[i] = ({'\"', '\\\\', '/', '\\n', '\\127', 'é'})[math.random(6)] end\n"
        "  end\n"
        "  return table.concat(parts)\n"
        "end\n"
        "local function value(depth)\n"
        "  local r = math.random()\n"
        "  if depth > 4 or r < 0.5 then\n"
        "    local s = math.random(6)\n"
        "    if s == 1 then return str()\n"
        "    elseif s == 2 then return math.random(-99999999999999, 99999999999999)\n"
        "    elseif s == 3 then\n"
        "      return tonumber(string.format('%.12g', (math.random() - 0.5) * 10 ^ math.random(-8, 13)))\n"
        "    elseif s == 4 then return math.random() < 0.5\n"
        "    elseif s == 5 then return math.random(0, 20) + 0.0\n"
        "    else return math.random(-5, 5) end\n"
        "  end\n"
        "  local t = {}\n"
        "  local shape = math.random(4)\n"
        "  for i = 1, math.random(0, 8) do\n"
        "    if shape == 1 then t[i] = value(depth + 1)\n"
        "    elseif shape == 2 then t[math.random(1, 30)] = value(depth + 1)\n"
        "    elseif shape == 3 then t[str()] = value(depth + 1)\n"
        "    else\n"
        "      local k = math.random() < 0.5 and str() or math.random(-3, 15)\n"
        "      t[k] = value(depth + 1)\n"
        "    end\n"
        "  end\n"
        "  return t\n"
        "end\n"
        "return value(0)\n";

    /* The cjson instance the host encoded with. */
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "encode_sparse_array");
    lua_pushboolean(L, 1);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "encode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "encode");
    int encode = lua_gettop(L);

    int mismatches = 0;
    int rejected = 0;
    for (int seed = 1; seed <= 3000; seed++) {
        if (luaL_loadstring(L, generator) != LUA_OK) {
            CHECK(0);
            break;
        }
        lua_pushinteger(L, seed);
        lua_call(L, 1, 1);                          /* stack: ..., value */

        char *ours = jy_lua_json_encode(L, -1);
        if (ours == NULL) {
            rejected++;
            lua_pop(L, 2);
            continue;
        }
        lua_pushvalue(L, encode);
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            rejected++;
        } else {
            char *cjson_text = strdup(lua_tostring(L, -1));
            unescape_slashes(cjson_text);
            char *theirs = normalize(cjson_text, strlen(cjson_text));
            free(cjson_text);
            if (strcmp(ours, theirs) != 0) {
                if (mismatches++ < 3)
                    fprintf(stderr, "seed %d:\n  ours   %s\n  cjson  %s\n", seed, ours, theirs);
            }
            free(theirs);
        }
        free(ours);
        lua_pop(L, 2);
    }
    CHECK_INT_EQ(mismatches, 0);
    CHECK_INT_EQ(rejected, 0);
    lua_settop(L, 0);
}


/* Floats from random bit patterns read back as the same double, with
 * the fewest significant digits from 15 up that do, except that a whole
 * float that fits in 64 bits is written with its exact digits. */
static void floats_read_back(void)
{
    uint64_t state = 0x9e3779b97f4a7c15u;
    int wrong = 0;
    int longer = 0;

    for (int i = 0; i < 200000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double value;
        memcpy(&value, &state, sizeof value);
        if (isnan(value) || isinf(value))
            continue;

        lua_pushnumber(L, value);
        char *text = jy_lua_json_encode(L, -1);
        lua_pop(L, 1);
        if (text == NULL || strtod(text, NULL) != value) {
            if (wrong++ < 3)
                fprintf(stderr, "%.17g written as %s\n", value, text != NULL ? text : "(error)");
            free(text);
            continue;
        }

        char fewest[40];
        if (value == floor(value) && fabs(value) < 9223372036854775808.0 && value != 0) {
            snprintf(fewest, sizeof fewest, "%lld", (long long)value);
        } else {
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(fewest, sizeof fewest, "%.*g", digits, value);
                if (strtod(fewest, NULL) == value)
                    break;
            }
        }
        if (strcmp(fewest, text) != 0)
            longer++;
        free(text);
    }
    CHECK_INT_EQ(wrong, 0);
    CHECK_INT_EQ(longer, 0);
}


/* The host's other JSON writers (journal records, HTTP responses, logs)
 * escape C strings with the same rules as the encoder. */
static void c_strings(void)
{
    jy_buf buf;
    jy_buf_init(&buf);
    jy_buf_append_json_string(&buf, "say \"hi\"\\ \b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9");
    char *text = jy_buf_take(&buf);
    CHECK_STR_EQ(text, "\"say \\\"hi\\\"\\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\\u007f caf\xc3\xa9\"");
    free(text);

    jy_buf_init(&buf);
    jy_buf_append_json_text(&buf, "a\0b", 3);
    text = jy_buf_take(&buf);
    CHECK_STR_EQ(text, "\"a\\u0000b\"");
    free(text);

    jy_buf_init(&buf);
    jy_buf_append_json_string(&buf, "");
    text = jy_buf_take(&buf);
    CHECK_STR_EQ(text, "\"\"");
    free(text);
}


int main(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);

    scalars();
    strings();
    c_strings();
    tables();
    integer_formats();
    sorted_members();
    weak_members();
    members_added_while_writing();
    rejections();
    same_as_cjson();
    floats_read_back();

    lua_close(L);
    return check_summary("test_json_encode");
}
