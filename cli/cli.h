/*
 * The subcommands of the journey program. Each returns the process exit
 * status: 0 success, 1 failure, 2 bad usage.
 */
#ifndef JOURNEY_CLI_CLI_H
#define JOURNEY_CLI_CLI_H

int jy_cli_simulate(int argc, char **argv);
int jy_cli_serve(int argc, char **argv);
int jy_cli_send(int argc, char **argv);
int jy_cli_runs(int argc, char **argv);
int jy_cli_show(int argc, char **argv);

#endif
