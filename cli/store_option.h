/*
 * Options that simulate and serve share: --store ("memory" or
 * "sqlite:PATH"), --sync and the per-run limits.
 */
#ifndef JOURNEY_CLI_STORE_OPTION_H
#define JOURNEY_CLI_STORE_OPTION_H

#include "store.h"
#include "store_sqlite.h"

/* Opens the store that spec names. Returns NULL with a message in err
 * that quotes spec when it is invalid or the store cannot be opened. */
jy_store *jy_cli_open_store(const char *spec, jy_sqlite_sync sync, jy_error *err);

/* Parses "full" or "normal" for --sync. Returns 0 or -1. */
int jy_cli_parse_sync(const char *text, jy_sqlite_sync *sync);

/* Parses the value of a per-run limit (--instruction-budget, --memory-cap
 * or --max-journal): a whole number, 1 or more, and for --max-journal at
 * most UINT32_MAX. Returns 0 or -1. */
int jy_cli_parse_limit(const char *option, const char *text, unsigned long long *value);

#endif
