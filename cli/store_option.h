/*
 * Options that simulate and serve share: --sync and the per-run limits.
 */
#ifndef JOURNEY_CLI_STORE_OPTION_H
#define JOURNEY_CLI_STORE_OPTION_H

/* Parses "full" or "normal" for --sync into *sync_normal (1 for
 * normal). Returns 0 or -1. */
int jy_cli_parse_sync(const char *text, int *sync_normal);

/* Parses the value of a per-run limit (--instruction-budget, --memory-cap
 * or --max-journal): a whole number, 1 or more, and for --max-journal at
 * most UINT32_MAX. Returns 0 or -1. */
int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value);

#endif
