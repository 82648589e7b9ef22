/*
 * Matching event data against a wait's match table: the subset rule,
 * strict types, nested tables by value and dotted paths.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua_host.h"

static lua_State *L;


/* Evaluates two Lua expressions (match, data) and matches them. */
static int match(const char *match_expr, const char *data_expr)
{
    char chunk[512];
    snprintf(chunk, sizeof chunk, "return %s, %s", match_expr, data_expr);
    if (luaL_dostring(L, chunk) != LUA_OK) {
        fprintf(stderr, "bad test chunk %s: %s\n", chunk, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int result = jy_lua_match(L, -2, -1);
    lua_pop(L, 2);
    return result;
}


static void match_empty_matches_anything(void)
{
    CHECK_INT_EQ(match("{}", "{}"), 1);
    CHECK_INT_EQ(match("{}", "{a = 1}"), 1);
    CHECK_INT_EQ(match("nil", "{a = 1}"), 1);
}


static void match_is_a_subset_rule(void)
{
    CHECK_INT_EQ(match("{a = 1}", "{a = 1, b = 2}"), 1);
    CHECK_INT_EQ(match("{a = 1, b = 2}", "{a = 1}"), 0);
    CHECK_INT_EQ(match("{a = 1}", "{a = 2}"), 0);
    CHECK_INT_EQ(match("{email = 'a@example.test'}", "{email = 'a@example.test', n = 1}"), 1);
}


static void match_types_are_strict(void)
{
    CHECK_INT_EQ(match("{a = 1}", "{a = '1'}"), 0);
    CHECK_INT_EQ(match("{a = '1'}", "{a = 1}"), 0);
    CHECK_INT_EQ(match("{a = true}", "{a = 'true'}"), 0);
    CHECK_INT_EQ(match("{a = false}", "{}"), 0);
}


static void match_integer_equals_float(void)
{
    CHECK_INT_EQ(match("{a = 7}", "{a = 7.0}"), 1);
    CHECK_INT_EQ(match("{a = 7.0}", "{a = 7}"), 1);
    CHECK_INT_EQ(match("{a = 7}", "{a = 7.5}"), 0);
}


static void match_nested_tables_by_value(void)
{
    CHECK_INT_EQ(match("{plan = {tier = 'pro'}}", "{plan = {tier = 'pro'}}"), 1);
    CHECK_INT_EQ(match("{plan = {tier = 'pro'}}", "{plan = {tier = 'pro', seats = 3}}"), 0);
    CHECK_INT_EQ(match("{items = {'a', 'b'}}", "{items = {'a', 'b'}}"), 1);
    CHECK_INT_EQ(match("{items = {'a', 'b'}}", "{items = {'b', 'a'}}"), 0);
    CHECK_INT_EQ(match("{plan = {}}", "{plan = {}}"), 1);
}


static void match_dotted_keys_are_paths(void)
{
    CHECK_INT_EQ(match("{['plan.tier'] = 'pro'}", "{plan = {tier = 'pro', seats = 3}}"), 1);
    CHECK_INT_EQ(match("{['plan.tier'] = 'pro'}", "{plan = {tier = 'free'}}"), 0);
    CHECK_INT_EQ(match("{['a.b.c'] = 1}", "{a = {b = {c = 1}}}"), 1);
}


static void match_missing_parent_is_a_non_match(void)
{
    CHECK_INT_EQ(match("{['plan.tier'] = 'pro'}", "{}"), 0);
    CHECK_INT_EQ(match("{['plan.tier'] = 'pro'}", "{plan = 'pro'}"), 0);
    CHECK_INT_EQ(match("{['a.b.c'] = 1}", "{a = {b = 5}}"), 0);
}


static void match_data_that_is_not_a_table_fails(void)
{
    CHECK_INT_EQ(match("{a = 1}", "nil"), 0);
    CHECK_INT_EQ(match("{a = 1}", "'a'"), 0);
}


static void match_cyclic_match_table_terminates(void)
{
    CHECK_INT_EQ(match("(function() local t = {} t.self = t return {x = t} end)()",
                       "(function() local t = {} t.self = t return {x = t} end)()"), 0);
}


int main(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);

    match_empty_matches_anything();
    match_is_a_subset_rule();
    match_types_are_strict();
    match_integer_equals_float();
    match_nested_tables_by_value();
    match_dotted_keys_are_paths();
    match_missing_parent_is_a_non_match();
    match_data_that_is_not_a_table_fails();
    match_cyclic_match_table_terminates();

    CHECK_INT_EQ(lua_gettop(L), 0);
    lua_close(L);
    return check_summary("test_match");
}
