/*
 * The --store option shared by the commands: "memory" or
 * "sqlite:PATH".
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

#endif
