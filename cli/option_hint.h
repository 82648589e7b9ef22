/*
 * The message for an unknown command-line option, with the nearest
 * option of the command's usage text as a suggestion.
 */
#ifndef JOURNEY_CLI_OPTION_HINT_H
#define JOURNEY_CLI_OPTION_HINT_H

/* Prints "journey COMMAND: unknown option ARG", then "; did you mean
 * --X?" when one of the options that usage names (words that start with
 * "--") is close to arg, then the usage text, to standard error. */
void jy_cli_unknown_option(const char *command, const char *arg, const char *usage);

#endif
