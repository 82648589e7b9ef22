/*
 * Options that the subcommands share (see store_option.h).
 */
#include "store_option.h"

#include <errno.h>
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
    if (strcmp(option, "--resident-runs") == 0)
        return "0 (no limit) to 18446744073709551615";
    if (strcmp(option, "--max-journal") == 0)
        return "1 to 4294967295";
    return "1 to 18446744073709551615";
}


int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (text[0] == '-' || end == text || *end != '\0' || errno == ERANGE)
        return -1;
    if (n == 0 && strcmp(option, "--resident-runs") != 0)
        return -1;
    if (strcmp(option, "--max-journal") == 0 && n > UINT32_MAX)
        return -1;

    *value = n;
    return 0;
}


int jy_cli_is_one_of(const char *arg, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(arg, names[i]) == 0)
            return 1;
    return 0;
}
