/*
 * Tests of finding one member of a JSON object (host/json_scan.c), the
 * lookup behind every field a run reads from event data. Of repeated
 * names the last one counts, also when the scan stops early after a
 * match that the rest of the text cannot repeat.
 */
#include <string.h>

#include "check.h"
#include "json_scan.h"


/* Finds key in the object text and checks the member's value text, or
 * that it is absent when expected is NULL. */
static void check_find(const char *text, const char *key, const char *expected)
{
    jy_json_span object = {JY_JSON_OBJECT, text, strlen(text)};
    jy_json_span value = {0};
    jy_error err = {0};
    int found = jy_json_object_find(&object, key, strlen(key), &value, &err);

    CHECK_INT_EQ(found, expected != NULL ? 1 : 0);
    if (found != 1 || expected == NULL)
        return;
    CHECK_INT_EQ(value.len, strlen(expected));
    CHECK(memcmp(value.text, expected, value.len) == 0);
    if (value.len != strlen(expected) || memcmp(value.text, expected, value.len) != 0)
        fprintf(stderr, "  key \"%s\" in %s: got %.*s, expected %s\n", key, text,
                (int)value.len, value.text, expected);
}


int main(void)
{
    /* One member of that name, first, middle or last. */
    check_find("{\"invoice\":\"536365\",\"items\":[[\"85123A\",6,2.55]],\"lines\":7}",
               "invoice", "\"536365\"");
    check_find("{\"a\":1,\"invoice\":2,\"b\":[\"x\"]}", "invoice", "2");
    check_find("{\"a\":1,\"invoice\":{\"n\":[1,2]}}", "invoice", "{\"n\":[1,2]}");
    check_find("{\"a\":1}", "invoice", NULL);
    check_find("{}", "invoice", NULL);

    /* Repeated names: the last one counts, spelled the same or with an
     * escape. */
    check_find("{\"invoice\":1,\"items\":[],\"invoice\":2}", "invoice", "2");
    check_find("{\"invoice\":1,\"items\":[],\"\\u0069nvoice\":3}", "invoice", "3");
    check_find("{\"\\u0069nvoice\":1,\"invoice\":4}", "invoice", "4");

    /* The name later in the text, but not as a member of this object:
     * in a nested object, or inside a string. */
    check_find("{\"invoice\":1,\"nested\":{\"invoice\":2}}", "invoice", "1");
    check_find("{\"invoice\":1,\"note\":\"\\\"invoice\\\"\"}", "invoice", "1");
    check_find("{\"invoice\":1,\"tags\":[\"invoice\"]}", "invoice", "1");

    /* A longer name that starts with the key is another name. */
    check_find("{\"invoice\":1,\"invoice_id\":2}", "invoice", "1");

    /* The search for a repeat looks past names that end with the key,
     * and finds an empty name too. */
    check_find("{\"invoice\":1,\"xinvoice\":2,\"invoice\":3}", "invoice", "3");
    check_find("{\"\":1,\"x\":\"\",\"\":7}", "", "7");

    /* Keys that JSON must escape take the full scan. */
    check_find("{\"a\\\"b\":1,\"x\":2,\"a\\\"b\":5}", "a\"b", "5");
    check_find("{\"a\\\\b\":1,\"a\\\\b\":6}", "a\\b", "6");

    return check_summary("test_json_object_find");
}
