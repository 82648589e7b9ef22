/*
 * The message for an unknown command-line option or command, with the
 * nearest one that exists as a suggestion.
 */
#ifndef JOURNEY_CLI_OPTION_HINT_H
#define JOURNEY_CLI_OPTION_HINT_H

/* Prints "journey COMMAND: unknown option ARG", then "; did you mean
 * --X?" when one of the options that usage names (words that start with
 * "--") is close to arg, then the line that names COMMAND's --help, to
 * standard error (see jy_cli_usage_error). The usage text is searched
 * but not printed. */
void jy_cli_unknown_option(const char *command, const char *arg, const char *usage);

/* Prints "journey: unknown command \"ARG\"", then "; did you mean X?"
 * when one of the commands that usage lists (the words that start its
 * indented lines) is within two edits of arg, then the line that names
 * journey --help (see jy_cli_usage_error). */
void jy_cli_unknown_command(const char *arg, const char *usage);

#endif
