/*
 * The message for a usage error of the journey program: a bad option,
 * argument or command.
 */
#ifndef JOURNEY_CLI_USAGE_ERROR_H
#define JOURNEY_CLI_USAGE_ERROR_H

/* Prints "journey COMMAND: MESSAGE", with MESSAGE formatted as printf
 * does, and then the line 'Run "journey COMMAND --help" for the
 * options.' to standard error. With command NULL, prints "journey:
 * MESSAGE" and names "journey --help" for the commands. It leaves out
 * the help text, so that the error does not scroll off the screen. */
void jy_cli_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
