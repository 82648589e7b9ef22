/*
 * The journey program: picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: journey <command> [options]\n"
    "\n"
    "commands:\n"
    "  simulate SCRIPT... --events FILE   replay past events through journeys on a\n"
    "                                     virtual clock (see `journey simulate --help`)\n"
    "  help                               show this text\n"
    "  version                            print the version\n";


int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }

    const char *command = argv[1];
    if (strcmp(command, "simulate") == 0)
        return jy_cli_simulate(argc - 1, argv + 1);
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("journey %s\n", JOURNEY_VERSION);
        return 0;
    }

    fprintf(stderr, "journey: unknown command \"%s\"\n\n%s", command, usage);
    return 2;
}
