/*
 * Options that the subcommands share: --sync, the per-run limits, and
 * the check of an option's name.
 */
#ifndef JOURNEY_CLI_STORE_OPTION_H
#define JOURNEY_CLI_STORE_OPTION_H

/* Parses "full" or "normal" for --sync into *sync_normal (1 for
 * normal). Returns 0 or -1. */
int jy_cli_parse_sync(const char *text, int *sync_normal);

/* Parses the value of a limit (--instruction-budget, --memory-cap,
 * --max-journal or --resident-runs): a whole number, 1 or more (0 or
 * more for --resident-runs, where 0 means no limit), and for
 * --max-journal at most UINT32_MAX. Returns 0 or -1. */
int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value);

/* Returns the range that jy_cli_parse_limit accepts for option, in
 * words, for error messages. */
const char *jy_cli_limit_range(const char *option);

/* Returns 1 when arg is one of the NULL-terminated names, else 0. */
int jy_cli_is_one_of(const char *arg, const char *const *names);

#endif
