/*
 * Suggestions for a mistyped option or command (see option_hint.h).
 */
#include "option_hint.h"
#include "usage_error.h"

#include <ctype.h>
#include <string.h>

/* Options longer than this are not compared. */
#define MAX_OPTION 40


/* Returns the edit distance (insertions, deletions, substitutions)
 * between a and b, of at most MAX_OPTION bytes each. */
static size_t edit_distance(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t row[MAX_OPTION + 1];
    for (size_t j = 0; j <= b_len; j++)
        row[j] = j;

    for (size_t i = 1; i <= a_len; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[b_len];
}


/* Copies word (len bytes) into hint (size bytes) as the best so far
 * when it is a different word nearer to arg than best. */
static void keep_nearer(const char *word, size_t len, size_t distance, size_t *best, char *hint,
                        size_t size)
{
    if (distance > 0 && distance < *best && len < size) {
        *best = distance;
        memcpy(hint, word, len);
        hint[len] = '\0';
    }
}


/* Finds in usage the "--" option nearest to arg: within two edits, or
 * one that begins with arg (a name cut off). Copies it into hint and
 * returns 1, or returns 0 when none is near. */
static int nearest_option(const char *arg, const char *usage, char *hint, size_t size)
{
    size_t arg_len = strcspn(arg, "=");
    if (arg_len > MAX_OPTION)
        return 0;

    size_t best = 3;
    for (const char *p = strstr(usage, "--"); p != NULL; p = strstr(p + 2, "--")) {
        size_t len = 2;
        while (islower((unsigned char)p[len]) || isdigit((unsigned char)p[len]) ||
               p[len] == '-')
            len++;
        if (len <= 2 || len > MAX_OPTION)
            continue;

        size_t distance = edit_distance(arg, arg_len, p, len);
        if (arg_len >= 4 && arg_len < len && strncmp(arg, p, arg_len) == 0)
            distance = 1;
        keep_nearer(p, len, distance, &best, hint, size);
    }
    return best < 3;
}


/* Finds among the commands of usage, the words that start its lines
 * after two spaces, the one within two edits of arg. Copies it into
 * hint and returns 1, or returns 0 when none is near. */
static int nearest_command(const char *arg, const char *usage, char *hint, size_t size)
{
    size_t arg_len = strlen(arg);
    if (arg_len > MAX_OPTION)
        return 0;

    size_t best = 3;
    for (const char *p = strstr(usage, "\n  "); p != NULL; p = strstr(p + 1, "\n  ")) {
        const char *word = p + 3;
        size_t len = 0;
        while (islower((unsigned char)word[len]))
            len++;
        if (len == 0 || len > MAX_OPTION)
            continue;

        keep_nearer(word, len, edit_distance(arg, arg_len, word, len), &best, hint, size);
    }
    return best < 3;
}


void jy_cli_unknown_option(const char *command, const char *arg, const char *usage)
{
    char hint[MAX_OPTION + 1];
    if (nearest_option(arg, usage, hint, sizeof hint))
        jy_cli_usage_error(command, "unknown option %s; did you mean %s?", arg, hint);
    else
        jy_cli_usage_error(command, "unknown option %s", arg);
}


void jy_cli_unknown_command(const char *arg, const char *usage)
{
    char hint[MAX_OPTION + 1];
    if (nearest_command(arg, usage, hint, sizeof hint))
        jy_cli_usage_error(NULL, "unknown command \"%s\"; did you mean %s?", arg, hint);
    else
        jy_cli_usage_error(NULL, "unknown command \"%s\"", arg);
}
