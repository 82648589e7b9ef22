/*
 * A Lua state with the journey module loaded and a host on a virtual
 * clock, for the C tests that need the real runtime.
 */
#ifndef JOURNEY_TESTS_LUA_FIXTURE_H
#define JOURNEY_TESTS_LUA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_host.h"

typedef struct fixture {
    lua_State *L;
    jy_lua_host *lh;
} fixture;

/* Opens a state and a host whose clock starts at start (ms). */
static inline void fixture_open(fixture *f, jy_time start)
{
    f->L = luaL_newstate();
    luaL_openlibs(f->L);
    luaL_requiref(f->L, "journey", luaopen_journey, 0);
    lua_pop(f->L, 1);
    f->lh = jy_lua_host_new(f->L, 1, start, NULL);
}

/* Runs Lua source that defines journeys with journey.define, through a
 * temporary file so messages name a real path. Returns 0 or the load
 * error code, with the message in err. */
static inline int fixture_define(fixture *f, const char *source, jy_error *err)
{
    char path[] = "/tmp/journey-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return jy_error_set(err, JY_EIO, "cannot create a temporary script");
    FILE *file = fdopen(fd, "w");
    fputs(source, file);
    fclose(file);
    int rc = jy_lua_host_load(f->lh, path, err);
    remove(path);
    return rc;
}

/* Ingests a wire-format JSON line; returns the host's result code. */
static inline int fixture_ingest(fixture *f, const char *line)
{
    jy_error err;
    jy_error_clear(&err);
    jy_event *event = jy_lua_parse_event(f->lh, line, strlen(line), 0,
                                         jy_host_now(f->lh->host), &err);
    if (event == NULL) {
        fprintf(stderr, "invalid test event %s: %s\n", line, err.message);
        return JY_EINVAL;
    }
    return jy_host_ingest(f->lh->host, event, &err);
}

static inline void fixture_close(fixture *f)
{
    jy_lua_host_free(f->lh);
    lua_close(f->L);
}

#endif
