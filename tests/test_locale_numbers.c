/*
 * Numbers in JSON under a locale whose decimal point is ",". A program
 * that embeds the host may call setlocale, and strtod and printf follow
 * the locale, while JSON, journals and metrics must keep ".". Run by
 * tests/locale_numbers_test.sh, which builds such a locale and names it
 * in JY_TEST_LOCALE.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "json_scan.h"
#include "lua_host.h"


static void check_reads(const char *text, double expected)
{
    jy_json_span span = {JY_JSON_NUMBER, text, strlen(text)};
    double value = jy_json_number(&span);

    CHECK(value == expected);
    if (value != expected)
        fprintf(stderr, "  %s read as %.17g\n", text, value);
}


int main(void)
{
    const char *name = getenv("JY_TEST_LOCALE");
    CHECK(name != NULL);
    if (name == NULL || setlocale(LC_NUMERIC, name) == NULL) {
        fprintf(stderr, "test_locale_numbers: cannot set LC_NUMERIC to %s; run it through "
                        "tests/locale_numbers_test.sh\n", name != NULL ? name : "(unset)");
        return 1;
    }

    /* The locale is what the test needs: printf writes a comma. */
    char plain[32];
    snprintf(plain, sizeof plain, "%.2f", 2.5);
    CHECK_STR_EQ(plain, "2,50");

    check_reads("2.55", 2.55);
    check_reads("-0.125", -0.125);
    check_reads("1.5e3", 1500.0);
    check_reads("7", 7.0);

    char text[32];
    jy_json_format_number(text, sizeof text, 139.12, 14);
    CHECK_STR_EQ(text, "139.12");
    jy_json_format_number(text, sizeof text, 0.005, 6);
    CHECK_STR_EQ(text, "0.005");

    /* Through Lua: event data decoded for a run and encoded back. */
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    jy_lua_json_decode(L, "{\"total\":139.12,\"items\":[[\"85123A\",6,2.55]]}");
    lua_getfield(L, -1, "total");
    CHECK(lua_tonumber(L, -1) == 139.12);
    lua_pop(L, 1);
    char *json = jy_lua_json_encode(L, -1);
    CHECK(json != NULL);
    if (json != NULL) {
        CHECK_CONTAINS(json, "\"total\":139.12");
        CHECK_CONTAINS(json, "2.55");
    }
    free(json);
    lua_close(L);

    return check_summary("test_locale_numbers");
}
