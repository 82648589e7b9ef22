/*
 * Options that simulate and serve share (see store_option.h).
 */
#include "store_option.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>


jy_store *jy_cli_open_store(const char *spec, jy_sqlite_sync sync, jy_error *err)
{
    if (strcmp(spec, "memory") == 0) {
        jy_store *store = jy_store_memory_new();
        if (store == NULL)
            jy_error_set(err, JY_ENOMEM, "out of memory creating the memory store");
        return store;
    }
    if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '\0')
        return jy_store_sqlite_open(spec + 7, sync, err);

    jy_error_set(err, JY_EINVAL, "invalid store \"%s\": use memory or sqlite:PATH", spec);
    return NULL;
}


int jy_cli_parse_sync(const char *text, jy_sqlite_sync *sync)
{
    if (strcmp(text, "full") == 0) {
        *sync = JY_SQLITE_SYNC_FULL;
        return 0;
    }
    if (strcmp(text, "normal") == 0) {
        *sync = JY_SQLITE_SYNC_NORMAL;
        return 0;
    }
    return -1;
}


int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value)
{
    char *end = NULL;
    unsigned long long n = strtoull(text, &end, 10);
    if (text[0] == '-' || end == text || *end != '\0' || n == 0)
        return -1;
    if (strcmp(option, "--max-journal") == 0 && n > UINT32_MAX)
        return -1;

    *value = n;
    return 0;
}
