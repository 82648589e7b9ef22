/*
 * The journey program: picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "option_hint.h"
#include "usage_error.h"

static const char usage[] =
    "usage: journey <command> [options]\n"
    "\n"
    "commands:\n"
    "  simulate SCRIPT... --events FILE   replay past events through journeys on a\n"
    "                                     virtual clock (see `journey simulate --help`)\n"
    "  runs --store sqlite:PATH           list the runs in a store, newest first, with\n"
    "                                     filters (see `journey runs --help`)\n"
    "  show RUN --store sqlite:PATH       explain one run: status, trigger, result or\n"
    "                                     error, journal, emitted events\n"
    "  serve SCRIPTS_DIR                  run journeys on the real clock and take\n"
    "                                     events over HTTP (`journey serve --help`)\n"
    "  send NAME --user USER [--data JSON] post an event to journey serve; --file\n"
    "                                     FILE posts JSON Lines (`journey send --help`)\n"
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
    if (strcmp(command, "serve") == 0)
        return jy_cli_serve(argc - 1, argv + 1);
    if (strcmp(command, "send") == 0)
        return jy_cli_send(argc - 1, argv + 1);
    if (strcmp(command, "runs") == 0)
        return jy_cli_runs(argc - 1, argv + 1);
    if (strcmp(command, "show") == 0)
        return jy_cli_show(argc - 1, argv + 1);
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("journey %s\n", JOURNEY_VERSION);
        return 0;
    }

    jy_cli_unknown_command(command, usage);
    return 2;
}
