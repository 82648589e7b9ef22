/*
 * Options that simulate and serve share (see store_option.h).
 */
#include "store_option.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>


int jy_cli_parse_sync(const char *text, int *sync_normal)
{
    if (strcmp(text, "full") == 0 || strcmp(text, "normal") == 0) {
        *sync_normal = strcmp(text, "normal") == 0;
        return 0;
    }
    return -1;
}


const char *jy_cli_limit_range(const char *option)
{
    return strcmp(option, "--resident-runs") == 0 ? "0 (no limit) or more" : "1 or more";
}


int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value)
{
    char *end = NULL;
    unsigned long long n = strtoull(text, &end, 10);
    if (text[0] == '-' || end == text || *end != '\0')
        return -1;
    if (n == 0 && strcmp(option, "--resident-runs") != 0)
        return -1;
    if (strcmp(option, "--max-journal") == 0 && n > UINT32_MAX)
        return -1;

    *value = n;
    return 0;
}
