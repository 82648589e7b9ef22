/*
 * j.emit: a run reports an event of its own (a reminder sent, an offer
 * made). The event is stored and dispatched like any other, at the same
 * instant, once the emitting run has suspended or ended; it never wakes
 * the run that emitted it.
 */
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"


/* j.emit(name, data [, user]): journaled, so a replay does not emit the
 * event again. user defaults to the run's user. [-0, +0, v] */
int ljy_emit(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.emit");
    const char *name = luaL_checkstring(L, 1);
    /* Absent data (LUA_TNONE) counts as nil, like j.emit(name, nil). */
    int data_type = lua_isnoneornil(L, 2) ? LUA_TNIL : lua_type(L, 2);
    const char *user = luaL_optstring(L, 3, run->user);

    if (name[0] == '\0')
        return luaL_error(L, "j.emit: the event name must not be empty");
    if (data_type != LUA_TNIL && data_type != LUA_TTABLE)
        return luaL_error(L, "j.emit(\"%s\"): data must be a table, got %s", name,
                          luaL_typename(L, 2));
    if (user[0] == '\0')
        return luaL_error(L, "j.emit(\"%s\"): the user must not be empty", name);

    if (jy_lua_replay(L, run, JY_STEP_EMIT, name) != NULL)
        return 0;

    /* Checked before the step is journaled, so a replay of a run that
     * caught the error does not find an emit that never happened. */
    jy_error err;
    jy_error_clear(&err);
    if (jy_host_check_emit(run, &err) != 0)
        return luaL_error(L, "j.emit(\"%s\"): %s", name, err.message);

    const char *data_json = "{}";
    if (data_type == LUA_TTABLE) {
        /* An empty table or a table with keys encodes as an object; a
         * list would encode as an array, which is not event data. */
        lua_pushnil(L);
        while (lua_next(L, 2) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "j.emit(\"%s\"): data must be a table with string keys "
                                     "(a JSON object), found a %s key", name,
                                  luaL_typename(L, -2));
            lua_pop(L, 1);
        }
        lua_settop(L, 3);

        if (jy_lua_json_push(L, 2) != LUA_OK)
            return luaL_error(L, "j.emit(\"%s\"): data cannot be written as JSON: %s", name,
                              lua_tostring(L, -1));
        data_json = lua_tostring(L, -1);               /* stack: ..., json */
        if (strcmp(data_json, "[]") == 0)
            data_json = "{}";
    }

    jy_lua_journal(L, run, JY_STEP_EMIT, name, "null");

    jy_event *event = jy_event_new(NULL, user, name, jy_host_now(run->host), data_json,
                                   NULL, run->id);
    if (event == NULL)
        return luaL_error(L, "j.emit(\"%s\"): out of memory", name);
    if (jy_host_emit(run->host, run, event, &err) != 0)
        return jy_lua_raise(L, &err);
    return 0;
}
