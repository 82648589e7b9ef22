/*
 * journey.define: turning a Lua definition into a host journey, and
 * loading script files that contain definitions.
 */
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"

/* Registry key of the host that is loading a script, so journey.define
 * at a script's top level can find where the journey goes. */
static const char loading_host_key = 'l';

static const char *const known_fields[] = {
    "name", "on", "cancel_on", "key", "run", NULL,
};


/* Checks that field of the table at idx is an event name or a non-empty
 * list of names (or absent, when not required). [-0, +0, v] */
static void validate_names(lua_State *L, int idx, const char *field, int required)
{
    int type = lua_getfield(L, idx, field);            /* stack: value */

    if (type == LUA_TNIL) {
        if (required)
            luaL_error(L, "journey.define: missing \"%s\": give an event name, a list of "
                          "names, a pattern such as \"app/*\", or \"*\"", field);
        lua_pop(L, 1);
        return;
    }

    size_t n = type == LUA_TSTRING ? 1 : (type == LUA_TTABLE ? lua_rawlen(L, -1) : 0);
    if (n == 0)
        luaL_error(L, "journey.define: \"%s\" must be an event name or a non-empty list of "
                      "names, got %s", field, luaL_typename(L, -1));

    for (size_t i = 0; i < n; i++) {
        if (type == LUA_TTABLE)
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
        else
            lua_pushvalue(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            luaL_error(L, "journey.define: entry %d of \"%s\" must be a non-empty event name, "
                          "got %s", (int)i + 1, field, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}


/* Copies the names validate_names accepted into a malloc'd array; sets
 * *count, and returns NULL for an absent field or when out of memory
 * (then *count is SIZE_MAX). Never raises. [-0, +0, -] */
static char **copy_names(lua_State *L, int idx, const char *field, size_t *count)
{
    *count = 0;
    int type = lua_getfield(L, idx, field);            /* stack: value */
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }

    size_t n = type == LUA_TSTRING ? 1 : lua_rawlen(L, -1);
    char **names = calloc(n, sizeof *names);
    int failed = names == NULL;

    for (size_t i = 0; i < n && !failed; i++) {
        if (type == LUA_TTABLE)
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
        else
            lua_pushvalue(L, -1);
        names[i] = strdup(lua_tostring(L, -1));
        failed = names[i] == NULL;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    if (failed) {
        for (size_t i = 0; names != NULL && i < n; i++)
            free(names[i]);
        free(names);
        *count = SIZE_MAX;
        return NULL;
    }
    *count = n;
    return names;
}


/* Rejects fields the definition does not know, so a typo such as
 * "cancel_On" fails loudly instead of being ignored. [-0, +0, v] */
static void check_known_fields(lua_State *L, int idx)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int known = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (const char *const *f = known_fields; *f != NULL; f++)
                if (strcmp(lua_tostring(L, -2), *f) == 0)
                    known = 1;
        if (!known) {
            lua_pop(L, 1);
            luaL_error(L, "journey.define: unknown field \"%s\" (known fields: name, on, "
                          "cancel_on, key, run)", luaL_tolstring(L, -1, NULL));
        }
        lua_pop(L, 1);
    }
}


/* Pushes "path:line" of the nearest Lua code on the call stack. Scripts
 * call journey.define from Lua, but a host API such as the spec
 * module's h:define calls it from C, where luaL_where gives "". */
static void push_definition_place(lua_State *L)
{
    lua_Debug ar;

    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "(no Lua caller)");
}


/* Returns whether path is "data." followed by field names joined by
 * single dots: an empty name matches no JSON field a sender would use. */
static int is_data_path(const char *path)
{
    if (strncmp(path, "data.", 5) != 0)
        return 0;

    const char *name = path + 5;
    for (;;) {
        const char *dot = strchr(name, '.');
        if (dot == name || *name == '\0')
            return 0;
        if (dot == NULL)
            return 1;
        name = dot + 1;
    }
}


void jy_lua_define(lua_State *L, jy_lua_host *lh, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    check_known_fields(L, idx);

    if (lua_getfield(L, idx, "name") != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_error(L, "journey.define: \"name\" must be a non-empty string");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "run") != LUA_TFUNCTION)
        luaL_error(L, "journey.define: \"run\" must be a function(j, event), got %s",
                   luaL_typename(L, -1));
    lua_pop(L, 1);

    int key_type = lua_getfield(L, idx, "key");
    if (key_type != LUA_TNIL && key_type != LUA_TSTRING &&
        !(key_type == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
        luaL_error(L, "journey.define: \"key\" must be a path such as \"data.cart_id\", or "
                      "false for no key, got %s", luaL_typename(L, -1));
    if (key_type == LUA_TSTRING) {
        const char *path = lua_tostring(L, -1);
        if (strcmp(path, "user") != 0 && strcmp(path, "name") != 0 &&
            strcmp(path, "id") != 0 && !is_data_path(path))
            luaL_error(L, "journey.define: invalid key \"%s\": use \"data.<path>\", \"user\", "
                          "\"name\" or \"id\", where <path> is field names joined by dots",
                       path);
    }
    lua_pop(L, 1);

    validate_names(L, idx, "on", 1);
    validate_names(L, idx, "cancel_on", 0);

    /* Everything is checked; from here on nothing raises until the
     * journey is owned by the host or freed. */
    jy_journey *journey = calloc(1, sizeof *journey);
    int nomem = journey == NULL;
    if (!nomem) {
        journey->runtime_ref = -1;
        journey->on = copy_names(L, idx, "on", &journey->on_count);
        journey->cancel_on = copy_names(L, idx, "cancel_on", &journey->cancel_on_count);
        nomem = journey->on == NULL || journey->cancel_on_count == SIZE_MAX;
        if (journey->cancel_on_count == SIZE_MAX)
            journey->cancel_on_count = 0;
        if (journey->on_count == SIZE_MAX)
            journey->on_count = 0;
    }
    if (nomem) {
        jy_journey_free(journey);
        luaL_error(L, "out of memory defining a journey");
    }

    lua_getfield(L, idx, "name");
    journey->name = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);

    push_definition_place(L);
    journey->source = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);

    key_type = lua_getfield(L, idx, "key");
    if (key_type == LUA_TNIL) {
        journey->key_mode = JY_KEY_USER;
    } else if (key_type == LUA_TBOOLEAN) {
        journey->key_mode = JY_KEY_NONE;
    } else {
        journey->key_mode = JY_KEY_PATH;
        journey->key_path = strdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "run");
    journey->runtime_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lh->refs++;

    jy_error err;
    jy_error_clear(&err);
    if (jy_host_add_journey(lh->host, journey, &err) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, journey->runtime_ref);
        lh->refs--;
        jy_journey_free(journey);
        luaL_error(L, "journey.define: %s", err.message);
    }
}


/* journey.define{...} at a script's top level. [-0, +0, v] */
static int ljy_define(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &loading_host_key);
    jy_lua_host *lh = lua_touserdata(L, -1);
    lua_pop(L, 1);

    if (lh == NULL)
        return luaL_error(L, "journey.define called while no host is loading this script: "
                             "run it with `journey simulate`, or load it with host:load(path) "
                             "or define it with host:define{...} in a spec");
    jy_lua_define(L, lh, 1);
    return 0;
}


int jy_lua_host_load(jy_lua_host *lh, const char *path, jy_error *err)
{
    lua_State *L = lh->L;
    int top = lua_gettop(L);

    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        jy_error_set(err, JY_EINVAL, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return JY_EINVAL;
    }

    lua_rawgetp(L, LUA_REGISTRYINDEX, &loading_host_key);  /* stack: chunk, previous */
    lua_insert(L, -2);                                      /* stack: previous, chunk */
    lua_pushlightuserdata(L, lh);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &loading_host_key);

    int status = lua_pcall(L, 0, 0, 0);                     /* stack: previous, err? */
    if (status != LUA_OK)
        jy_error_set(err, JY_EINVAL, "%s", lua_tostring(L, -1));

    lua_pushvalue(L, top + 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &loading_host_key);
    lua_settop(L, top);
    return status == LUA_OK ? 0 : JY_EINVAL;
}


/* Pushes the journey.define function; used by the module table.
 * [-0, +1, -] */
void jy_lua_push_define(lua_State *L);
void jy_lua_push_define(lua_State *L)
{
    lua_pushcfunction(L, ljy_define);
}
