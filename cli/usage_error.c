/*
 * Usage errors of the journey program (see usage_error.h).
 */
#include "usage_error.h"

#include <stdarg.h>
#include <stdio.h>


void jy_cli_usage_error(const char *command, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    if (command == NULL) {
        fputs("journey: ", stderr);
        vfprintf(stderr, format, args);
        fputs("\nRun \"journey --help\" for the commands.\n", stderr);
    } else {
        fprintf(stderr, "journey %s: ", command);
        vfprintf(stderr, format, args);
        fprintf(stderr, "\nRun \"journey %s --help\" for the options.\n", command);
    }
    va_end(args);
}
